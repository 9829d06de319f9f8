"""The quickstart notebook in JupyterLab, driven by Debian's Chromium through Playwright.

A user's path: Run All, the panel (image, chat, error), an interrupted cell, then save, shut the
kernel down and reopen: every result image must still be there, and no "Error displaying widget".
Screenshots at 1280×800 (light, then dark) go to build/screenshots; docs/screenshots holds the copies
the README shows. Every wait is bounded and fails with what it was waiting for, plus a screenshot.
``make test`` installs Chromium; a missing browser is a failure here, not a skip.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

import nbformat
import pytest
from leakscan import SCANNER, TOKEN
from support.helpers import ROOT, free_port

from g4f_magic.localspace import LocalSpace, Pace

CHROMIUM = "/usr/bin/chromium"


ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]




SHOTS = ROOT / "build" / "screenshots"


LAB_TOKEN = "g4f-browser-test"  # JupyterLab's own login token


XSS = "<img src=x onerror=alert(1)>"


# Appended to the quickstart: a run in the background, then a compromised Space's answer, log line and
# error (the error last: it stops Run All).
EXTRA_CELLS = ["dozen = [f'harbour scene {i}' for i in range(12)]",
               "%%g4f -m flux-schnell --each dozen -o twelve\n{item}, ink drawing",
               "%%g4f --bg -m flux -s 7 -o dawn\na lighthouse at dawn, watercolor",
               "%%g4f -m janus-pro-7b --new\nhostile answer [fault:answer_html]",
               "%%g4f -m flux -s 3\nhostile log [fault:log_html]",
               "%%g4f -m flux -s 4\nhostile error [fault:error_html]"]


CELL_WITH = "(src) => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')].find(c => " \
            "(c.querySelector('.cm-content') || {}).textContent?.includes(src))"


SWEEP = "-s 10001,10002,10003"  # the quickstart's 2×3 sweep


# the grid's labels in the outputs of the cell whose source includes src: [row labels, column labels]
LABELS = f"(src) => {{ const c = ({CELL_WITH})(src); return ['th.g4f-row', 'th.g4f-col'].map(s => " \
         "[...c.querySelectorAll('.jp-OutputArea-output ' + s)].filter(e => e.offsetParent !== null)" \
         ".map(e => e.textContent)); }"


# a batch's thumbnails shown (decoded) in the outputs of the cell whose source includes src
THUMBS = f"(src) => {{ const c = ({CELL_WITH})(src); return c ? [...c.querySelectorAll('.jp-OutputArea-output " \
         "img.g4f-thumb')].filter(i => i.naturalWidth > 0).length : -1; }"


# images shown (decoded) in the outputs of the cell whose source includes src
SHOWN = f"(src) => {{ const c = ({CELL_WITH})(src); return c ? [...c.querySelectorAll('.jp-OutputArea-output img')]" \
        ".filter(i => i.naturalWidth > 0 && i.offsetParent !== null).length : -1; }"


@pytest.fixture(scope="module")
def lab(thread_space: LocalSpace, tmp_path_factory: pytest.TempPathFactory) -> Any:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)")
    home = tmp_path_factory.mktemp("lab")
    root = home / "root"
    root.mkdir()
    nb = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
    nb.cells += [nbformat.v4.new_code_cell(src) for src in EXTRA_CELLS]
    nbformat.write(nb, root / "quickstart.ipynb")
    env = {**os.environ, "G4F_MAGIC_ENDPOINT": thread_space.url,  # type: ignore[attr-defined]
           "G4F_MAGIC_TOKEN": TOKEN}
    for var in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR",
                "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        env[var] = str(home / var.lower())
    settings = Path(env["JUPYTER_CONFIG_DIR"]) / "lab/user-settings/@jupyterlab/apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    notebook = settings.parent / "notebook-extension"
    notebook.mkdir()  # every cell in the page, so the checks see cells scrolled out of view
    (notebook / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    port = free_port()
    log = open(home / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--allow-root", "--no-browser",
         f"--IdentityProvider.token={LAB_TOKEN}", "--ServerApp.ip=127.0.0.1", f"--port={port}",
         "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={LAB_TOKEN}", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("JupyterLab did not start within 90 s:\n" + (home / "lab.log").read_text()[-3000:])
        time.sleep(0.3)
    yield url, root / "quickstart.ipynb"
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


class Browser:
    def __init__(self, page: Any) -> None:
        self.page = page
        self.dialogs: list[str] = []
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def wait(self, what: str, js: str, timeout: float = 60) -> Any:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            return self.page.wait_for_function(js, timeout=timeout * 1000)
        except PlaywrightTimeout:
            SHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SHOTS / "failure.png"), full_page=True)
            pytest.fail(f"timed out after {timeout:g} s waiting for {what} (screenshot: build/screenshots/failure.png)")

    def shot(self, name: str, locator: Any = None) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        (locator or self.page).screenshot(path=str(SHOTS / name))

    def shot_cell(self, name: str, src: str) -> None:
        """The page at 1280×800 with the cell whose source includes ``src`` at the top."""
        self.page.evaluate(f"(src) => ({CELL_WITH})(src).scrollIntoView({{block: 'start'}})", src)
        self.page.wait_for_timeout(400)
        self.shot(name)

    def shown(self, src: str) -> int:
        return int(self.page.evaluate(SHOWN, src))

    def save(self, path: Path, holding: str) -> None:
        """Ctrl+S in the notebook, and wait until the file on disk holds ``holding``."""
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("Control+s")
        deadline = time.monotonic() + 30
        while holding not in path.read_text():
            assert time.monotonic() < deadline, "JupyterLab did not save the notebook"
            time.sleep(0.3)

    def shut_down_kernel(self) -> None:
        self.page.locator(".lm-MenuBar-item", has_text="Kernel").first.click()
        self.page.locator(".lm-Menu-item[data-command='kernelmenu:shutdown']").click()
        accept = self.page.locator(".jp-Dialog button.jp-mod-accept")
        if accept.count():
            accept.click()

    def theme(self, name: str) -> None:
        self.page.locator(".lm-MenuBar-item", has_text="Settings").first.click()
        self.page.locator(".lm-Menu-item", has_text="Theme").first.hover()
        self.page.locator(".lm-Menu-item", has_text=name).first.click()
        self.page.wait_for_timeout(1500)


def with_browser(test: Callable[[Browser], None], space: LocalSpace | None = None, pace: Pace | None = None) -> None:
    """Chromium at 1280×800 for ``test``; the local Space at ``pace`` meanwhile, the tests' own pace after."""
    from playwright.sync_api import sync_playwright

    if space is not None and pace is not None:
        space.pace = pace
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                test(Browser(page))
            finally:
                browser.close()
    finally:
        if space is not None:
            space.pace = Pace.fast(0.001)


def panel_notebook(path: Path) -> Path:
    """A notebook of two cells: the extension loaded, and the panel."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%load_ext g4f_magic"),
                                         nbformat.v4.new_code_cell("%g4f panel")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, path)
    return path


def run_panel(b: Browser, lab_url: str, name: str) -> None:
    """Open the notebook ``name`` in a fresh workspace, Run All, and wait for the panel at the top of the page."""
    page = b.page
    page.goto(f"{lab_url}/lab/tree/{name}?token={LAB_TOKEN}&reset")
    b.wait("the notebook to open", "() => document.querySelector('.jp-Notebook .jp-Cell')", 90)
    b.wait("the notebook's kernel to be idle",
           "() => document.querySelector(\".jp-Notebook-ExecutionIndicator[data-status='idle']\")", 90)
    page.wait_for_timeout(2000)
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
    b.wait("the panel to render", "() => document.querySelector('.g4f-panel .g4f-prompt')", 60)
    page.evaluate("() => document.querySelector('.g4f-panel').scrollIntoView({block: 'start'})")


# outputs that show "Error displaying widget" (a dead widget's output that was not hidden)
BROKEN = "() => [...document.querySelectorAll('.jp-OutputArea-output')].filter(e => e.offsetParent !== null && " \
         "e.textContent.includes('Error displaying widget')).length"


def reopen_in_both_themes(b: Browser, lab_url: str, name: str, shown: str, shots: tuple[str, str]) -> None:
    """Shut the kernel down, reopen ``name`` until the JS expression ``shown`` holds, check that no widget
    output is broken, and take the page in the dark theme (the current one) and then the light one."""
    page = b.page
    b.shut_down_kernel()
    page.wait_for_timeout(1000)
    page.goto(f"{lab_url}/lab/tree/{name}?token={LAB_TOKEN}")
    b.wait(f"{name} to reopen", shown, 90)
    page.wait_for_timeout(4000)  # the widget manager gives up on the old models after ~2 s
    assert page.evaluate(BROKEN) == 0
    b.shot(shots[0])
    b.theme("JupyterLab Light")
    b.shot(shots[1])


@pytest.mark.timeout(300)
def test_quickstart_in_jupyterlab(lab: tuple[str, Path], thread_space: LocalSpace) -> None:
    lab_url, saved = lab

    def run(b: Browser) -> None:
        page = b.page
        page.goto(f"{lab_url}/lab/tree/quickstart.ipynb?token={LAB_TOKEN}&reset")
        b.wait("the notebook to open", "() => document.querySelector('.jp-Notebook .jp-Cell')", 90)
        b.wait("the notebook's kernel to be idle",
               "() => document.querySelector(\".jp-Notebook-ExecutionIndicator[data-status='idle']\")", 90)
        b.wait("the status bar to show an idle kernel",
               "() => [...document.querySelectorAll('.jp-StatusBar-Widget')].some(e => e.textContent.includes('| Idle'))")
        page.wait_for_timeout(2000)  # Lab finishes connecting the session after it first shows idle
        # Record every text the status lines show, to see them stream.
        page.evaluate("""() => {
            window.__g4f = new Set();
            window.__g4fPreviews = 0;  // previews decoded in a live view
            new MutationObserver(() => document.querySelectorAll('.g4f-status')
                .forEach(e => window.__g4f.add(e.textContent))).observe(document.body,
                {subtree: true, childList: true, characterData: true});
            document.addEventListener('load', e => { if (e.target.closest && e.target.closest('.g4f-run'))
                window.__g4fPreviews++; }, true);
        }""")
        page.locator(".lm-MenuBar-item", has_text="Run").first.click()
        page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
        b.wait("a rendered image from the %%g4f cell",
               "() => [...document.querySelectorAll('.jp-OutputArea-output img')].some(i => i.naturalWidth > 0)")
        b.wait("a status line that says done", "() => [...window.__g4f].some(t => t.includes('done · seed 42'))")
        def seen_now() -> list[str]:
            return page.evaluate("() => [...window.__g4f]")

        seen = seen_now()
        # it streamed as a real Space streams (issue #24, item 3): a queue position, steps, previews
        assert any("flux · In queue: position" in t for t in seen), seen
        assert any(re.search(r"flux · Sampling ([1-9]|1[0-9]|2[0-7])/28", t) for t in seen), seen
        assert page.evaluate("() => window.__g4fPreviews") >= 1
        streamed = page.evaluate(f"() => ({CELL_WITH})('a lighthouse in a storm').querySelector('details')?.textContent")
        assert streamed and "what streamed" in streamed and "In queue: position" in streamed, streamed
        assert re.search(r"Sampling 28/28 +\(\d+ more before\)", streamed), streamed
        b.wait("the panel to render", "() => document.querySelector('.g4f-panel .g4f-prompt')", 120)
        b.shot("notebook.png")

        # What a hostile Space sent, rendered by JupyterLab: text, never elements, links or script.
        b.wait("the hostile error line (the last cell)", "() => [...document.querySelectorAll('.jp-OutputArea-output')]"
               ".some(e => e.textContent.includes('GenerationError: GPU exploded'))", 60)
        outputs = page.locator(".jp-OutputArea-output")
        text = "\n".join(outputs.all_text_contents())
        assert "<script>alert('answer')</script>" in text and "[click me](javascript:alert('answer'))" in text
        assert "alert('log') model loaded" in text
        for selector in ("script", "img[src='x']", "a[href^='javascript']", "b:has-text('exploded')"):
            assert page.locator(f".jp-OutputArea-output {selector}").count() == 0, selector
        assert b.dialogs == []
        b.shot("hostile-outputs.png", outputs.last)

        panel = page.locator(".g4f-panel").first
        panel.scroll_into_view_if_needed()
        page.locator(".g4f-panel .g4f-prompt").fill("a red bicycle, studio photo")
        panel.get_by_role("button", name="Generate").click()
        b.wait("the panel's large image",
               "() => [...document.querySelectorAll('.g4f-panel img')].some(i => i.naturalWidth > 0)", 60)
        b.wait("the panel's caption", "() => (document.querySelector('.g4f-caption') || {}).textContent"
               "?.includes('a red bicycle')")
        b.wait("one gallery entry", "() => document.querySelectorAll('.g4f-panel button[title]').length >= 1")
        b.wait("a one-click download link", "() => document.querySelector('.g4f-panel a.g4f-download[download]')")
        b.shot_cell("panel-image.png", "%g4f panel")

        page.locator(".g4f-panel .g4f-prompt").fill(XSS)
        page.locator(".g4f-panel .g4f-prompt").press("Control+Enter")
        b.wait("the injected prompt shown as text",
               f"() => (document.querySelector('.g4f-caption') || {{}}).textContent?.includes({json.dumps(XSS)})")
        assert page.locator(".g4f-panel img[src='x']").count() == 0
        assert b.dialogs == []
        b.shot("panel-injection.png", panel)

        page.locator(".g4f-panel .g4f-prompt").fill("a broken run [fault:error_string]")
        page.locator(".g4f-panel .g4f-prompt").press("Control+Enter")
        b.wait("the failed run's red line", "() => [...document.querySelectorAll('.g4f-panel .g4f-status')]"
               ".some(e => e.dataset.state === 'error' && e.textContent.includes('GenerationError: CUDA out of memory'))")
        b.shot_cell("panel-error.png", "%g4f panel")

        # ZeroGPU's refusal for a caller it knows only by IP, although this kernel's token went with the call: one
        # line that says the token did not count (and where it came from), wrapped in place
        page.locator(".g4f-panel .g4f-prompt").fill("one more [fault:quota_anonymous]")
        page.locator(".g4f-panel .g4f-prompt").press("Control+Enter")
        b.wait("the quota line saying the token did not count",
               "() => [...document.querySelectorAll('.g4f-panel .g4f-status')].some(e => e.dataset.state === 'error' "
               "&& e.textContent.includes('a Hugging Face token went with the call'))")
        wide = page.evaluate("() => [...document.querySelectorAll('.g4f-panel .g4f-status')]"
                             ".some(e => e.scrollWidth > e.clientWidth + 1)")
        assert not wide, "a status line runs past its box"
        b.shot_cell("panel-quota.png", "%g4f panel")

        # compare: one option over a list of values, as a labelled grid under both columns
        page.locator(".g4f-panel .g4f-compare input").check()
        page.locator(".g4f-panel input[placeholder='values: 1, 2, 3']").fill("11, 12")
        page.locator(".g4f-panel .g4f-prompt").fill("a lighthouse, two seeds")
        panel.get_by_role("button", name="Generate").click()
        b.wait("the panel's comparison grid", "() => [...document.querySelectorAll('.g4f-panel table.g4f-sweep img')]"
               ".filter(i => i.naturalWidth > 0).length === 2", 60)
        heads = page.evaluate("() => [...document.querySelectorAll('.g4f-panel th.g4f-col')].map(e => e.textContent)")
        assert heads == ["seed 11", "seed 12"], heads
        page.locator(".g4f-panel table.g4f-sweep").first.scroll_into_view_if_needed()
        b.shot("panel-compare.png")
        page.locator(".g4f-panel .g4f-compare input").uncheck()

        panel.locator("select").first.select_option(label="janus-pro-7b (text+vision)")
        b.wait("the panel in chat mode", "() => [...document.querySelectorAll('.g4f-panel button')]"
               ".some(e => e.textContent.trim() === 'Ask')")
        page.locator(".g4f-panel .g4f-prompt").fill("what is a lighthouse?")
        page.locator(".g4f-panel .g4f-prompt").press("Control+Enter")
        b.wait("the answer in the transcript", "() => [...document.querySelectorAll('.g4f-panel .g4f-turn')]"
               ".some(e => e.textContent.includes('You asked: what is a lighthouse?'))")
        b.shot_cell("panel-chat.png", "%g4f panel")

        # the magic's outputs, as a user sees them
        assert b.shown("a lighthouse in a storm") == 1 and b.shown("-n 4") == 4
        assert b.shown(SWEEP) == 6
        assert page.evaluate(LABELS, SWEEP) == [["flux", "flux-schnell"], ["seed 10001", "seed 10002", "seed 10003"]]
        replayed = "() => [...document.querySelectorAll('.jp-OutputArea-output')].some(e => " \
                   "/flux · replayed \\(generated [0-9-]+ [0-9:]+\\) · seed 42 · 1360x760/.test(e.textContent))"
        assert page.evaluate(replayed), "the repeated first cell was not replayed"
        b.shot_cell("magic-sweep.png", SWEEP)
        # a 12-item batch (issue #25): its progress line streamed, then twelve thumbnails and the folder's link
        assert any(re.search(r"flux-schnell · \d+/12 done · ETA ", t) for t in seen_now()), seen_now()
        b.wait("the batch's thumbnails", f"() => ({THUMBS})('--each dozen') === 12", 60)
        b.shot_cell("magic-batch.png", "--each dozen")
        b.wait("the background run's image", f"() => ({SHOWN})('--bg') === 1", 60)
        b.shot_cell("magic-single.png", "a lighthouse in a storm")
        b.shot_cell("magic-grid.png", "-n 4")
        b.shot_cell("magic-chat.png", "What makes a lighthouse painting dramatic?")
        b.shot_cell("magic-error.png", "hostile log")

        # Tab after "-m ": the models, typed "model", the first one selected; no Python keyword (issue #24)
        page.locator(".jp-Notebook .jp-CodeCell").last.locator(".jp-InputPrompt").click()
        for key in ("Escape", "b", "Enter"):
            page.keyboard.press(key)
        page.keyboard.type("%%g4f -m ")
        page.keyboard.press("Tab")
        b.wait("the completer's list", "() => document.querySelectorAll('.jp-Completer-item').length > 0")
        items = page.evaluate("() => [...document.querySelectorAll('.jp-Completer-item')].map(e => ["
                              "e.querySelector('.jp-Completer-match')?.textContent,"
                              "e.querySelector('.jp-Completer-typeExtended')?.textContent])")
        from g4f_magic import G4F

        items = [tuple(item) for item in items]
        kernels = [(m, t) for m, t in items if t]  # the kernel's, typed; JupyterLab's own context provider
        assert kernels == [(m, "model") for m in G4F.models] and items[: len(kernels)] == kernels, items
        others = {m for m, t in items if not t}  # adds the cell's own words after them, typeless
        assert not others & {"and", "if", "in", "is", "not", "or", "print"}, items
        active = page.evaluate("() => document.querySelector('.jp-Completer-item.jp-mod-active .jp-Completer-match')"
                               "?.textContent")
        assert active == G4F.models[0], active
        b.shot("completion.png")
        page.keyboard.press("Enter")  # Tab then Enter takes the selected model, never "and"
        typed = page.evaluate("() => document.querySelector('.jp-Notebook .jp-mod-active .cm-content').textContent")
        assert typed == f"%%g4f -m {G4F.models[0]}", typed
        for key in ("Escape", "Escape", "d", "d"):  # the cell goes again
            page.keyboard.press(key)

        # an interrupted cell ends in one line that says so
        page.locator(".jp-Notebook .jp-CodeCell").last.locator(".jp-InputPrompt").click()
        for key in ("Escape", "b", "Enter"):
            page.keyboard.press(key)
        page.keyboard.type("%%g4f -m flux -s 5")
        page.keyboard.press("Enter")
        page.keyboard.type("a slow one [fault:slow]")
        page.keyboard.press("Shift+Enter")
        b.wait("the slow run to stream", "() => [...window.__g4f].some(t => t.includes('/400'))", 60)
        page.locator(".lm-MenuBar-item", has_text="Kernel").first.click()
        page.locator(".lm-Menu-item[data-command='kernelmenu:interrupt']").click()
        b.wait("the cancelled line", "() => [...document.querySelectorAll('.jp-OutputArea-output')]"
               ".some(e => /RunCancelled: flux · cancelled · [0-9.]+s/.test(e.textContent))", 60)
        cancelled = page.evaluate(f"() => ({CELL_WITH})('a slow one').querySelector('.jp-OutputArea').textContent")
        assert "Traceback" not in cancelled and "run_async" not in cancelled, cancelled
        b.shot_cell("magic-cancelled.png", "hostile error")

        # Saved from the browser, the notebook holds every output and no secret.
        b.save(saved, "RunCancelled")
        SCANNER.scan("notebook", saved.read_text(), "saved from JupyterLab")
        assert TOKEN not in saved.read_text()
        b.theme("JupyterLab Dark")
        b.shot_cell("dark-magic-grid.png", "-n 4")
        b.shot_cell("dark-panel.png", "%g4f panel")

        # Shut the kernel down and reopen: the results are plain outputs, so they are all still there.
        b.shut_down_kernel()
        b.wait("the kernel to shut down", "() => [...document.querySelectorAll('.jp-StatusBar-Widget')]"
               ".some(e => /No Kernel|Unknown|Idle|Starting/.test(e.textContent))")
        page.wait_for_timeout(1000)
        page.goto(f"{lab_url}/lab/tree/quickstart.ipynb?token={LAB_TOKEN}")
        b.wait("the notebook to reopen", f"() => ({SHOWN})('-n 4') === 4", 90)
        page.wait_for_timeout(4000)  # the widget manager gives up on the old models after ~2 s
        for src, count in (("a lighthouse in a storm", 1), ("-n 4", 4), ("--bg", 1), ("hostile log", 1), (SWEEP, 6)):
            assert b.shown(src) == count, src
        assert page.evaluate(THUMBS, "--each dozen") == 12  # the batch's thumbnails, from the saved file
        streamed = page.evaluate(f"() => ({CELL_WITH})('a lighthouse in a storm').querySelector('details')?.textContent")
        assert streamed and "In queue: position" in streamed and "preview" in streamed, streamed  # kept in the file
        assert page.evaluate(LABELS, SWEEP) == [["flux", "flux-schnell"], ["seed 10001", "seed 10002", "seed 10003"]]
        assert b.shown("%g4f panel") >= 2  # the panel's results, from its plain copy
        assert page.evaluate(BROKEN) == 0
        b.shot_cell("reopened-dark-grid.png", "-n 4")
        b.shot_cell("reopened-dark-sweep.png", SWEEP)
        b.shot_cell("reopened-dark-panel.png", "%g4f panel")
        b.theme("JupyterLab Light")
        b.shot_cell("reopened-light-panel.png", "%g4f panel")

    # a real Space's stream, its waits shortened: a second in the queue, then 28 steps with a preview each
    with_browser(run, thread_space, Pace(step=0.08, queue=1.0))


# Elements of the panel (and the output area around it) that show a horizontal scrollbar or run past it
OVERFLOWS = """() => {
    const panel = document.querySelector('.g4f-panel');
    const area = panel.closest('.jp-OutputArea-output');
    const right = area.getBoundingClientRect().right + 1;
    return [area, ...panel.querySelectorAll('*'), panel].filter(e => {
        const s = getComputedStyle(e);
        const bar = ['auto', 'scroll'].includes(s.overflowX) && e.scrollWidth > e.clientWidth + 1;
        return bar || (e.offsetParent !== null && e.getBoundingClientRect().right > right);
    }).map(e => `${e.className || e.tagName}: right ${Math.round(e.getBoundingClientRect().right)} of ${right - 1}, `
               + `scroll ${e.scrollWidth}/${e.clientWidth} (${getComputedStyle(e).overflowX})`);
}"""
# the live status lines in the panel whose time is not on their first line
WRAPPED_TIMES = """() => [...document.querySelectorAll('.g4f-panel .g4f-status')].filter(e => {
    const t = e.querySelector('.g4f-time');
    return t && t.getBoundingClientRect().top - e.getBoundingClientRect().top > 4;
}).map(e => e.textContent)"""
# live lines of the panel that take more than one line of text (issue #36, item 8): their text
WRAPPED_LINES = """() => [...document.querySelectorAll('.g4f-panel .g4f-status')].filter(e => {
    const lines = e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight || '16');
    return e.offsetParent !== null && lines > 1.5;
}).map(e => e.textContent)"""
# where the running comparison's line is, against the Generate button and the gallery
LIVE_LINE = """() => {
    const line = [...document.querySelectorAll('.g4f-panel .g4f-status')].find(e => e.textContent.includes('cells'));
    const go = [...document.querySelectorAll('.g4f-panel button')].find(b => b.textContent.trim() === 'Generate');
    if (!line || !go) return null;
    return [line.getBoundingClientRect().top - go.getBoundingClientRect().bottom,
            line.getBoundingClientRect().right - go.closest('.widget-vbox').getBoundingClientRect().right];
}"""


@pytest.mark.timeout(300)
def test_the_panel_fits_beside_the_file_browser(lab: tuple[str, Path], thread_space: LocalSpace) -> None:
    """Issue #24, item 4: at 1280×800 with JupyterLab's file browser open, light and dark, the panel fits the
    notebook's width (no horizontal scrollbar), a live line keeps its time on its first line, and a comparison's
    live line sits under the buttons, not below the gallery. The runs go at a real Space's pace (item 3)."""
    lab_url, saved = lab
    path = panel_notebook(saved.parent / "panel.ipynb")

    def run(b: Browser) -> None:
        page = b.page

        def check(where: str) -> None:
            overflows = page.evaluate(OVERFLOWS)
            assert overflows == [], f"{where}: " + "; ".join(overflows)
            assert page.evaluate(WRAPPED_TIMES) == [], where
            assert page.evaluate(WRAPPED_LINES) == [], where

        def live(prompt: str, name: str, compare: bool = False) -> None:
            page.locator(".g4f-panel .g4f-prompt").fill(prompt)
            page.get_by_role("button", name="Generate").click()
            b.wait("a queue position in the panel", "() => [...document.querySelectorAll('.g4f-panel .g4f-status')]"
                   ".some(e => /In queue \\d+\\/\\d+/.test(e.textContent))")
            check(f"{name}, queued")
            b.wait("sampling in the panel", "() => [...document.querySelectorAll('.g4f-panel .g4f-status')]"
                   ".some(e => /Sampling ([1-9]|1[0-9])\\/28/.test(e.textContent))", 30)
            b.wait("a preview in the panel", "() => [...document.querySelectorAll('.g4f-panel .g4f-run img')]"
                   ".some(i => i.naturalWidth > 0)" if not compare else "() => true")
            check(f"{name}, sampling")
            if compare:
                where = page.evaluate(LIVE_LINE)
                assert where is not None and 0 <= where[0] < 150 and where[1] <= 1, where
            b.shot(name)
            b.wait("the run to end", "() => [...document.querySelectorAll('.g4f-panel button')]"
                   ".find(e => e.textContent.trim() === 'Stop')?.disabled", 60)
            check(f"{name}, done")

        run_panel(b, lab_url, path.name)
        browser_width = page.evaluate("() => document.querySelector('.jp-FileBrowser')?.getBoundingClientRect().width")
        assert browser_width and browser_width > 200, "JupyterLab's file browser is not open"
        check("the empty panel")
        live("a lighthouse in a storm, oil painting", "sidebar-light-live.png")
        b.wait("the gallery entry", "() => document.querySelectorAll('.g4f-panel button[title]').length >= 1")
        check("an image in the panel")
        b.shot("sidebar-light-image.png")
        page.locator(".g4f-panel .g4f-compare input").check()
        page.locator(".g4f-panel input[placeholder='values: 1, 2, 3']").fill("13, 14")
        live("a harbour at night, two seeds", "sidebar-light-compare-live.png", compare=True)
        page.locator(".g4f-panel .g4f-compare input").uncheck()
        b.theme("JupyterLab Dark")
        page.evaluate("() => document.querySelector('.g4f-panel').scrollIntoView({block: 'start'})")
        live("a red bicycle, studio photo", "sidebar-dark-live.png")
        check("dark, with results")
        b.shot("sidebar-dark-image.png")

        # saved, the kernel shut down, reopened: the plain copy at the same width, nothing runs past it
        b.save(path, "a red bicycle")
        # the plain copy at the same width: nothing runs past it
        reopen_in_both_themes(b, lab_url, path.name, "() => [...document.querySelectorAll('.jp-OutputArea-output "
                              "img')].filter(i => i.naturalWidth > 0).length >= 3 && [...document.querySelectorAll("
                              "'.jp-OutputArea-output')].every(e => e.scrollWidth <= e.clientWidth + 1)",
                              ("sidebar-reopened-dark.png", "sidebar-reopened-light.png"))

    with_browser(run, thread_space, Pace())  # the default: queued a few seconds, then ~4 s of sampling with previews


# the panel's batch output: its thumbnails decoded, and the rows of its answers' table
PANEL_THUMBS = "() => [...document.querySelectorAll('.g4f-panel table.g4f-batch img.g4f-thumb')]" \
               ".filter(i => i.naturalWidth > 0).length"
PANEL_ANSWERS = "() => [...document.querySelectorAll('.g4f-panel table.g4f-answers tr')].map(r => r.textContent)"
# where the running batch's line is, against the Generate button: [gap under it, past its column's right edge]
BATCH_LINE = LIVE_LINE.replace("e.textContent.includes('cells')", "/\\d+\\/12 done · ETA /.test(e.textContent)")


@pytest.mark.timeout(300)
def test_a_batch_in_the_panel(lab: tuple[str, Path], thread_space: LocalSpace, tmp_path: Path) -> None:
    """Issue #25: twelve prompts, one per line, as a batch in the panel beside the file browser: its progress line
    under the buttons and thumbnails filling in, then its output of twelve thumbnails; then Janus asked one
    question about three uploaded images, with a table of image and answer. Saved, shut down and reopened, in
    light and dark, the notebook still shows both."""
    from PIL import Image

    lab_url, saved = lab
    path = panel_notebook(saved.parent / "batch.ipynb")
    photos = []
    for colour, size in (("red", (120, 80)), ("teal", (64, 96)), ("gold", (90, 90))):
        photos.append(tmp_path / f"{colour}.png")
        Image.new("RGB", size, colour).save(photos[-1])

    def run(b: Browser) -> None:
        page = b.page

        def check(where: str) -> None:
            overflows = page.evaluate(OVERFLOWS)
            assert overflows == [], f"{where}: " + "; ".join(overflows)

        run_panel(b, lab_url, path.name)
        page.locator(".g4f-panel .g4f-batch-mode input").check()
        page.locator(".g4f-panel .g4f-prompt").fill("\n".join(f"harbour scene {i}, ink drawing" for i in range(12)))
        page.get_by_role("button", name="Generate").click()
        b.wait("the batch's progress line", "() => [...document.querySelectorAll('.g4f-panel .g4f-status')]"
               ".some(e => /[1-9]\\d*\\/12 done · ETA /.test(e.textContent))", 60)
        b.wait("thumbnails filling in", "() => [...document.querySelectorAll('.g4f-panel .g4f-strip img')]"
               ".filter(i => i.naturalWidth > 0).length >= 1", 30)
        where = page.evaluate(BATCH_LINE)
        assert where is not None and 0 <= where[0] < 150 and where[1] <= 1, where  # under the buttons, in the column
        assert page.evaluate(WRAPPED_LINES) == []  # the running batch's line on one line
        check("a running batch")
        b.shot("panel-batch-live.png")
        b.wait("the batch's twelve thumbnails", f"() => ({PANEL_THUMBS})() === 12", 90)
        line = page.evaluate("() => document.querySelector('.g4f-panel table.g4f-batch').parentElement.textContent")
        assert "batch of 12 · 12 done" in line, line
        check("a finished batch")
        page.locator(".g4f-panel table.g4f-batch").first.scroll_into_view_if_needed()
        b.shot("panel-batch.png")

        # Janus: one question about three uploaded images; Ask stays on the page in chat mode
        page.locator(".g4f-panel select").first.select_option(label="janus-pro-7b (text+vision)")
        b.wait("the Ask button", "() => [...document.querySelectorAll('.g4f-panel button')]"
               ".some(e => e.textContent.trim() === 'Ask' && e.offsetParent !== null)")
        with page.expect_file_chooser() as chooser:  # the widget's file input is never in the page: its button opens it
            page.locator(".g4f-panel .widget-upload").click()
        chooser.value.set_files([str(p) for p in photos])
        b.wait("the three uploads", "() => document.querySelector('.g4f-panel .widget-upload')?.textContent.includes('3')")
        page.locator(".g4f-panel .g4f-prompt").fill("what size is this?")
        page.get_by_role("button", name="Ask").click()
        b.wait("three answers", f"() => ({PANEL_ANSWERS})().length === 3", 90)
        answers = page.evaluate(PANEL_ANSWERS)
        for (name, size), answer in zip((("red", "120x80"), ("teal", "64x96"), ("gold", "90x90")), answers):
            assert f"{name}.png" in answer and f"I see a {size}" in answer, answers
        check("a question batch")
        page.locator(".g4f-panel table.g4f-answers").first.scroll_into_view_if_needed()
        b.shot("panel-batch-answers.png")
        b.theme("JupyterLab Dark")
        b.shot("panel-batch-answers-dark.png")

        b.save(path, "g4f-answers")
        # the batch's twelve thumbnails and the three images asked about, from the saved file, and the answers
        reopen_in_both_themes(b, lab_url, path.name, "() => [...document.querySelectorAll('.jp-OutputArea-output "
                              "table.g4f-batch img.g4f-thumb')].filter(i => i.naturalWidth > 0).length === 12 + 3 && "
                              "[...document.querySelectorAll('.jp-OutputArea-output table.g4f-answers tr')]"
                              ".filter(r => r.textContent.includes('I see a')).length === 3",
                              ("panel-batch-reopened-dark.png", "panel-batch-reopened-light.png"))

    with_browser(run, thread_space, Pace(step=0.04, queue=0.6))  # a queue and 28 steps, quicker than a real Space


@pytest.mark.timeout(240)
def test_enter_and_shift_enter_in_the_panels_prompt(lab: tuple[str, Path], thread_space: LocalSpace) -> None:
    """Issue #36, item 3: in the panel's prompt box, Enter is a newline (a batch is one prompt per line), Ctrl+Enter
    generates, and Shift+Enter, JupyterLab's "run this cell", never costs the user the panel and its images."""
    lab_url, saved = lab
    path = panel_notebook(saved.parent / "keys.ipynb")
    prompt_of_cell = ("() => [...document.querySelectorAll('.jp-CodeCell')].find(c => c.querySelector('.g4f-panel'))"
                      "?.querySelector('.jp-InputPrompt')?.textContent")

    def run(b: Browser) -> None:
        page = b.page
        run_panel(b, lab_url, path.name)
        box = page.locator(".g4f-panel .g4f-prompt")
        box.fill("a red bicycle, studio photo")
        box.press("Control+Enter")
        tiles = ".g4f-panel button[title^='seed ']"  # the gallery's: "seed 42 · a red bicycle…"
        b.wait("the gallery entry", f"() => document.querySelectorAll({tiles!r}).length === 1", 60)
        ran = page.evaluate(prompt_of_cell)

        box.fill("")
        box.click()
        page.keyboard.type("line one")
        page.keyboard.press("Enter")
        page.keyboard.type("line two")
        assert box.input_value() == "line one\nline two"

        page.keyboard.press("Shift+Enter")
        page.wait_for_timeout(3000)  # a re-run of the cell would have replaced the panel by now
        assert page.evaluate(prompt_of_cell) == ran, "Shift+Enter in the prompt box ran the panel's cell again"
        assert page.locator(tiles).count() == 1  # its image is still in the gallery
        b.shot("panel-keys.png")
        assert box.input_value().startswith("line one\nline two")
        assert page.locator(".g4f-panel").count() == 1

    with_browser(run, thread_space)
