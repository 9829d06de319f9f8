// The panel's prompt: a textarea that sends "submit" on Ctrl+Enter (Cmd+Enter on a Mac); Enter and
// Shift+Enter are newlines in it, never JupyterLab's.
function render({ model, el }) {
  const ta = document.createElement("textarea");
  ta.className = "g4f-prompt";
  ta.rows = 3;
  ta.style.width = "100%";
  ta.style.boxSizing = "border-box";
  ta.placeholder = model.get("placeholder");
  ta.value = model.get("value");
  const push = () => { model.set("value", ta.value); model.save_changes(); };
  const onKey = (e) => {
    if (e.key !== "Enter") return;
    // JupyterLab's own Enter and Shift+Enter (edit the cell, run it) must not see a key meant for the box:
    // the cell's re-run would replace the panel with an empty one
    e.stopPropagation();
    if (e.ctrlKey || e.metaKey) {
      e.preventDefault();
      push();
      // the text rides along: while the kernel is busy, ipywidgets holds back state updates
      // but not custom messages, so "submit" could arrive before the prompt it is for
      model.send({ event: "submit", value: ta.value });
    }
  };
  const onValue = () => { if (ta.value !== model.get("value")) ta.value = model.get("value"); };
  const onPlaceholder = () => { ta.placeholder = model.get("placeholder"); };
  ta.addEventListener("input", push);
  ta.addEventListener("keydown", onKey);
  model.on("change:value", onValue);
  model.on("change:placeholder", onPlaceholder);
  el.appendChild(ta);
  // anywidget calls this when the view goes away: the model outlives it, so its listeners must go
  return () => {
    model.off("change:value", onValue);
    model.off("change:placeholder", onPlaceholder);
    ta.removeEventListener("input", push);
    ta.removeEventListener("keydown", onKey);
  };
}
export default { render };
