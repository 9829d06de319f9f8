"""%%g4f and %g4f in a real InteractiveShell against the local Space."""

from __future__ import annotations

import base64
import io
import re
import time
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from leakscan import MARK, secret
from support.helpers import shown

from g4f_magic.engine.result import Result, ResultSet
from g4f_magic.errors import ConnectionFailed, G4FTimeout, QuotaExceeded, RunCancelled
from g4f_magic.localspace import LocalSpace

LOGIN, CONFIG, ENV, LITERAL = (secret(n) for n in ("login", "config", "env", "literal"))


def cell(ip: Any, line: str, body: str) -> tuple[Any, Any]:
    with capture_output() as cap:
        value = ip.run_cell_magic("g4f", line, body)
    return value, cap


def test_image_cell_prints_status_saves_and_returns_a_result(ip: Any, thread_space: LocalSpace) -> None:
    result, cap = cell(ip, "-m flux -a 16:9 -s 42", "a lighthouse in a storm")
    assert isinstance(result, Result)
    assert (result.model, result.seed, result.width, result.height) == ("flux", 42, 1360, 760)
    assert result.image is not None and result.image.mime == "image/webp"
    lines = [x for x in cap.stdout.splitlines() if not x.startswith("saved ")]
    # one line per stage (queue, start, progress), not per step; the last says how it ended
    assert "flux · In queue: position 2 of 2, ETA 1.5s" in lines[1]
    assert any("flux · Sampling 0/28" in line for line in lines) and not any("Sampling 1/28" in x for x in lines)
    [done] = [line for line in lines if " · done" in line]
    assert re.fullmatch(r"flux · done · seed 42 · 1360x760 · \d+\.\ds", done)
    assert len(lines) == 5, lines  # token, queue, start, sampling, done
    saved = Path("imgs") / "flux-42-a-lighthouse-in-a-storm.png"
    assert f"saved {saved}" in cap.stdout and saved.exists()  # no widgets here: saved and path printed
    from PIL import Image

    with Image.open(saved) as im:
        assert im.size == (1360, 760)
        assert im.text["prompt"] == "a lighthouse in a storm" and im.text["seed"] == "42"
        assert im.text["model"] == "flux" and im.text["size"] == "1360x760"
    assert ip.user_ns["_g4f"] is result
    # displayed later (``_g4f`` in a cell): the Space's own WebP bytes at 512 px, and the line as text
    bundle = shown(ip, result)
    [src] = re.findall(r'<img class="g4f-image" src="data:image/webp;base64,([^"]+)" width="512"', bundle["text/html"])
    assert base64.b64decode(src) == result.image.data
    assert bundle["text/plain"].startswith("flux · done · seed 42 · 1360x760 · ")


def test_a_cell_shows_its_result_once(ip: Any) -> None:
    with capture_output() as cap:
        res = ip.run_cell("%%g4f -s 7 -o pic\na red bicycle", store_history=True)
    assert res.success, res.error_in_exec
    # the run's output is the result; the cell does not repeat it as Out[n] (-o and _g4f keep it)
    assert res.result is None and res.execution_count not in ip.user_ns["Out"]
    assert isinstance(ip.user_ns["pic"], Result) and ip.user_ns["_g4f"] is ip.user_ns["pic"]
    assert "<Result" not in cap.stdout
    with capture_output():
        res = ip.run_cell("pic2 = %g4f -s 8 a blue bicycle", store_history=True)
    assert isinstance(ip.user_ns["pic2"], Result) and ip.user_ns["pic2"].seed == 8  # assignment still works


def test_interpolation_and_its_errors(ip: Any) -> None:
    ip.user_ns["style"] = "oil painting"
    result, _ = cell(ip, "-m flux-schnell -s 10000", "a ship, {style} {{literal}}")
    assert result.prompt == "a ship, oil painting {literal}"
    result, _ = cell(ip, "-m flux-schnell -s 10000 --no-interpolate", "keep {style}")
    assert result.prompt == "keep {style}"
    with pytest.raises(UsageError, match=r"\{nope\} is not defined"):
        cell(ip, "", "a {nope}")


def test_count_gives_distinct_seeds_and_one_grid(ip: Any) -> None:
    result, cap = cell(ip, "-n 3 -s 100 -m flux", "a fox")
    assert isinstance(result, ResultSet) and [r.seed for r in result] == [100, 101, 102]
    html = shown(ip, result)["text/html"]
    # one table row of three 200 px tiles, each captioned with its recipe; no list of reprs
    assert html.count("<tr>") == 1 and html.count('width="200"') == 3
    assert all(f"seed {seed} · 1024x1024" in html for seed in (100, 101, 102))
    assert shown(ip, result)["text/plain"].startswith("flux · done · 3 images · 1024x1024 · ")
    assert "<Result" not in cap.stdout
    result, _ = cell(ip, "-n 2 -m flux-schnell", "a fox")
    assert len({r.seed for r in result}) == 2


def test_janus_chat_keeps_context_until_new(ip: Any) -> None:
    first, cap = cell(ip, "-m janus-pro-7b", "hello")
    assert first.text == "Local stand-in reply (not a model). You asked: hello"
    assert first.text in cap.stdout  # streamed as it came
    second, _ = cell(ip, "-m janus-pro-7b", "and again?")
    assert second.text.endswith("You asked: and again? (this conversation has 2 user turns)")
    third, _ = cell(ip, "-m janus-pro-7b --new", "fresh")
    assert third.text == "Local stand-in reply (not a model). You asked: fresh"


def test_vision_question_about_a_generated_image(ip: Any) -> None:
    cell(ip, "-m flux -s 3 -W 256 -H 128 -o pic", "a cat")
    answer, _ = cell(ip, "-m janus-pro-7b --new --image pic", "what is this?")
    assert "I see a 256x128 WEBP image" in answer.text
    # the answer shows the image it is about (#36 item 6): small, whole, above the answer
    from PIL import Image

    with Image.open(io.BytesIO(answer.asked_about)) as small:
        assert small.size == (160, 80) and small.format == "WEBP"
    ip.run_line_magic("config", "G4FMagics.widgets = 'on'")
    try:
        _, cap = cell(ip, "-m janus-pro-7b --new --image pic", "and now?")
    finally:
        ip.run_line_magic("config", "G4FMagics.widgets = 'auto'")
    [settled] = [o for o in cap.outputs if o.update]
    html = settled.data["text/html"]
    assert html.index('class="g4f-asked"') < html.index('class="g4f-answer"')


def test_line_magic_prompt(ip: Any) -> None:
    with capture_output():
        result = ip.run_line_magic("g4f", "-m flux-schnell -s 12345 a red bicycle, studio photo")
    assert result.prompt == "a red bicycle, studio photo" and result.seed == 12345


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("-m flux-pro", "unknown model 'flux-pro'; did you mean 'flux'?"),
        ("--aspect 16:9", "unknown option --aspect; did you mean --aspect-ratio?"),
        ("-s abc", "-s abc: 'abc' is not a whole number"),
        ("-a 16-9", "aspect ratio must be W:H"),
        ("-n 99", "-n must be from 1 to 16"),
        ("--image nothing_here -m janus-pro-7b", "--image nothing_here: not a variable"),
        ("--bg", "--bg needs a Jupyter kernel"),
        ("-m janus-pro-7b -n 2", "answers once per question"),
    ],
)
def test_bad_input_is_one_usage_error_line(ip: Any, line: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        cell(ip, line, "a cat")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_generation_errors_keep_their_class_in_one_line(ip: Any, thread_space: LocalSpace) -> None:
    thread_space.arm("quota_new")
    with pytest.raises(QuotaExceeded) as info:
        cell(ip, "-m flux", "a cat")
    # what IPython prints instead of a traceback: the real class, not UsageError
    assert info.value._render_traceback_() == [
        "QuotaExceeded: You have exceeded your GPU quota (60s requested vs. 56s left)."]
    result, _ = cell(ip, "-m flux -s 1", "works again")  # the magic stays usable
    assert result.seed == 1


def test_empty_prompt(ip: Any) -> None:
    with pytest.raises(UsageError, match="the prompt is empty"):
        cell(ip, "", "   ")


def test_save_option_and_result_save(ip: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    saved_in: list[threading.Thread] = []
    save = Result.save

    def recording(self: Result, *args: Any, **kwargs: Any) -> Path:
        saved_in.append(threading.current_thread())
        return save(self, *args, **kwargs)

    monkeypatch.setattr(Result, "save", recording)
    result, cap = cell(ip, f"-m flux -s 5 --save {tmp_path / 'out.png'}", "a boat")
    assert (tmp_path / "out.png").read_bytes().startswith(b"\x89PNG")
    assert saved_in and threading.main_thread() not in saved_in  # decoded and encoded off the kernel's loop
    webp = result.save(tmp_path / "orig.webp")
    assert webp.read_bytes() == result.image.data  # the Space's own bytes, untouched


def test_subcommands(ip: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with capture_output() as cap:
        ip.run_line_magic("g4f", "models")

    assert re.search(r"^flux-schnell\s+image\s+roxky/g4f-flux\s+run_predict$", cap.stdout, re.M)
    assert re.search(r"^janus-pro-7b\s+text\+vision\s+roxky/Janus-Pro-7B\s+janus_chat$", cap.stdout, re.M)
    with capture_output() as cap:
        ip.run_line_magic("g4f", "help")
    assert cap.stdout.startswith("  %g4f [-m MODEL]") and "::" not in cap.stdout
    assert "--aspect-ratio" in cap.stdout and "Examples:\n" in cap.stdout
    with capture_output() as cap:
        ip.run_line_magic("g4f", "history")
    assert "no generations yet" in cap.stdout
    cell(ip, "-m flux -s 9", "a tree")
    with capture_output() as cap:
        ip.run_line_magic("g4f", "history")
    assert "a tree" in cap.stdout and "9" in cap.stdout
    cell(ip, "-m janus-pro-7b --new", "a question")
    with capture_output() as cap:
        ip.run_line_magic("g4f", "history")
    assert "None" not in cap.stdout and re.search(r"^2\s+janus-pro-7b\s+-\s+-\s", cap.stdout, re.M)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": LOGIN)
    with capture_output() as cap:
        ip.run_line_magic("g4f", "login")
        ip.run_line_magic("g4f", "config")
        ip.run_line_magic("config", "G4FMagics")
    assert "Hugging Face account (token from %g4f login" in cap.stdout
    assert "not set (%g4f login took a Hugging Face token)" in cap.stdout
    assert re.search(r"^max_image_bytes\s+32 MiB$", cap.stdout, re.M)
    assert LOGIN not in cap.stdout
    cell(ip, "-m flux", "with login")
    with capture_output() as cap:
        ip.run_line_magic("g4f", "history")
    assert MARK not in cap.stdout


def test_login_token_is_sent_and_never_shown(ip: Any, thread_space: LocalSpace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("getpass.getpass", lambda prompt="": LOGIN)
    with capture_output():
        ip.run_line_magic("g4f", "login")
    result, cap = cell(ip, "-m flux", "a cat")
    join = thread_space.requests(path="/gradio_api/queue/join")[-1]
    assert join.headers["authorization"] == f"Bearer {LOGIN}"  # an HF token: the account pays
    [jwt] = [r for r in thread_space.received if r.path.endswith("/jwt")]
    assert jwt.headers["authorization"] == f"Bearer {LOGIN}" and join.headers["x-zerogpu-token"] != LOGIN
    text = cap.stdout + cap.stderr + repr(result) + repr(shown(ip, result)["text/plain"])
    assert MARK not in text
    zerogpu = LOGIN[3:]  # a ZeroGPU token (not hf_…) is sent as one, to the Space only
    monkeypatch.setattr("getpass.getpass", lambda prompt="": zerogpu)
    with capture_output() as cap:
        ip.run_line_magic("g4f", "login")
    assert "ZeroGPU token kept in memory" in cap.stdout
    cell(ip, "-m flux", "a cat again")
    join = thread_space.requests(path="/gradio_api/queue/join")[-1]
    assert join.headers["x-zerogpu-token"] == zerogpu and "authorization" not in join.headers


def test_config_token_is_masked_and_env_token_used(ip: Any, thread_space: LocalSpace, monkeypatch: pytest.MonkeyPatch) -> None:
    ip.run_line_magic("config", f"G4FMagics.token = {CONFIG!r}")
    with capture_output() as cap:
        ip.run_line_magic("config", "G4FMagics")
        ip.run_line_magic("g4f", "config")
    assert CONFIG not in cap.stdout and "set (from config)" in cap.stdout
    assert "Hugging Face account (token from the token setting" in cap.stdout  # an hf_ token: the account's
    monkeypatch.setenv("G4F_MAGIC_TOKEN", ENV)
    cell(ip, "-m flux", "a cat")
    assert thread_space.requests(path="/gradio_api/queue/join")[-1].headers["authorization"] == f"Bearer {ENV}"
    ip.run_line_magic("config", "G4FMagics.token = ''")


def test_literal_token_on_the_line_warns(ip: Any) -> None:
    _, cap = cell(ip, f"-m flux --api-key {LITERAL}", "a cat")
    assert "a token written in a cell is saved with the notebook" in cap.stderr
    assert LITERAL not in cap.stderr + cap.stdout


def test_config_defaults_apply(ip: Any) -> None:
    ip.run_line_magic("config", "G4FMagics.default_model = 'flux-dev'")
    ip.run_line_magic("config", "G4FMagics.aspect_ratio = '9:16'")
    result, _ = cell(ip, "", "a cat")
    assert (result.model, result.width, result.height) == ("flux-dev", 760, 1360)
    ip.run_line_magic("config", "G4FMagics.default_model = 'flux'")
    ip.run_line_magic("config", "G4FMagics.aspect_ratio = '1:1'")


def test_html_in_prompt_and_answer_is_text_not_markup(ip: Any) -> None:
    result, _ = cell(ip, "-m janus-pro-7b --new", "<img src=x onerror=alert(1)>")
    html = shown(ip, result)["text/html"]
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_unload_leaves_nothing(ip: Any) -> None:
    from g4f_magic.engine.result import Result
    from g4f_magic.notebook.settings import extensions

    ip.run_line_magic("unload_ext", "g4f_magic")
    assert "g4f" not in ip.magics_manager.magics["line"] and "g4f" not in ip.magics_manager.magics["cell"]
    assert not any(type(c).__name__ == "G4FMagics" for c in ip.configurables)
    assert extensions == {}
    assert Result not in ip.display_formatter.mimebundle_formatter.type_printers  # its formatter too
    ip.run_line_magic("load_ext", "g4f_magic")  # the fixture unloads again
    ip.run_line_magic("config", "G4FMagics.endpoint = 'http://127.0.0.1:1'")


def test_load_ext_defers_heavy_imports_to_a_background_warm_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from support.helpers import fresh_python

    code = (
        "import os, sys, threading\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "ip.run_line_magic('load_ext', 'g4f_magic')\n"
        "heavy = ('aiohttp', 'ipywidgets', 'PIL', 'markdown_it')\n"
        "[warm] = [t for t in threading.enumerate() if t.name == 'g4f-warmup'] or [None]\n"
        "if warm: warm.join(30)\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    # %load_ext itself imports none of them (the warm-up turned off)…
    monkeypatch.setenv("G4F_MAGIC_WARMUP", "0")
    assert fresh_python(code) == "[]"
    monkeypatch.delenv("G4F_MAGIC_WARMUP")
    # …and the warm-up thread loads what the first run needs (no widgets outside a kernel)
    assert fresh_python(code) == "['PIL', 'aiohttp', 'markdown_it']"


def test_timeout_option_names_the_limit(ip: Any, thread_space: LocalSpace) -> None:
    thread_space.arm("heartbeats_only")
    with pytest.raises(G4FTimeout) as info:
        cell(ip, "-m flux --timeout 0.5", "a cat")
    assert info.value._render_traceback_() == ["G4FTimeout: no result within 0.5 s (timeout=0.5)"]


def test_verbose_shows_heartbeats(ip: Any) -> None:
    _, quiet = cell(ip, "-m flux", "a cat")
    _, loud = cell(ip, "-m flux -v", "a cat")
    assert "Generating…" not in quiet.stdout and "flux · Generating…" in loud.stdout


def test_proxy_option_is_used(ip: Any, thread_space: LocalSpace) -> None:
    # nothing listens on this loopback port, so only a run that really used the proxy fails so
    with pytest.raises(ConnectionFailed, match="^cannot reach the proxy: connection refused$"):
        cell(ip, "-m flux --proxy http://127.0.0.1:9", "a cat")


def test_image_from_a_path_and_a_url(ip: Any, tmp_path: Path) -> None:
    from g4f_magic.localspace.images import placeholder

    path = tmp_path / "in.png"
    path.write_bytes(placeholder("x", 1, 40, 24, "PNG"))
    answer, _ = cell(ip, f"-m janus-pro-7b --new --image {path}", "what is it?")
    assert "I see a 40x24 PNG image named" in answer.text
    pic, _ = cell(ip, "-m flux -s 4 -W 64 -H 32", "a dog")
    answer, _ = cell(ip, f"-m janus-pro-7b --new --image {pic.url}", "and this?")
    assert "I see a 64x32 WEBP image" in answer.text


def test_logout_forgets_the_token(ip: Any, thread_space: LocalSpace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("getpass.getpass", lambda prompt="": LOGIN)
    with capture_output() as cap:
        ip.run_line_magic("g4f", "login")
        ip.run_line_magic("g4f", "logout")
        ip.run_line_magic("g4f", "config")
    assert "token forgotten" in cap.stdout and "not set" in cap.stdout
    cell(ip, "-m flux", "a cat")
    join = thread_space.requests(path="/gradio_api/queue/join")[-1]
    assert LOGIN not in str(join.headers) and "authorization" not in join.headers


def test_widgets_on_displays_the_live_view_and_no_widgets_wins(ip: Any) -> None:
    ip.run_line_magic("config", "G4FMagics.widgets = 'on'")
    try:
        from ipywidgets.widgets.widget import _instances

        before = set(_instances)
        _, cap = cell(ip, "-m flux -s 2", "a cat")
        views = [o for o in cap.outputs if "application/vnd.jupyter.widget-view+json" in o.data]
        assert len(views) == 1 and "saved" not in cap.stdout  # widgets: nothing written to disk
        # when the run ends, the same display becomes the final lines as HTML and the widgets close
        [settled] = [o for o in cap.outputs if o.update]
        assert settled.transient["display_id"] == views[0].transient["display_id"]
        assert "flux · done · seed 2" in settled.data["text/html"]
        assert set(_instances) == before
        _, cap = cell(ip, "-m flux -s 2 --no-widgets --refresh", "a cat")
        assert not any("application/vnd.jupyter.widget-view+json" in o.data for o in cap.outputs)
        assert "flux · done · seed 2" in cap.stdout and "saved imgs" in cap.stdout
    finally:
        ip.run_line_magic("config", "G4FMagics.widgets = 'auto'")


@pytest.mark.parametrize(("code", "shown"), [
    ("%%g4f?", "%g4f [-m MODEL] [-a ASPECT_RATIO]"), ("%g4f?", "%g4f [-m MODEL] [-a ASPECT_RATIO]"),
    ("%%g4f??", "def g4f(self, line: str, cell: str | None = None)"),  # ?? shows the source, as for any magic
])
def test_help_syntax_shows_the_help_in_a_shell(ip: Any, thread_space: LocalSpace, code: str, shown: str) -> None:
    import re

    with capture_output() as cap:
        ip.run_cell(code)
    text = re.sub(r"\x1b\[[0-9;]*m", "", cap.stdout)  # the pager's colours
    assert "Generate images or chat on Hugging Face Spaces" in text and shown in text
    assert thread_space.requests() == []


def test_a_question_mark_asks_in_a_shell_and_the_answer_shows_once(ip: Any, thread_space: LocalSpace) -> None:
    with capture_output() as cap:
        res = ip.run_cell("%g4f -m janus-pro-7b --new what is a lighthouse?", store_history=True)
    assert res.success, res.error_in_exec
    [join] = thread_space.requests(path="/gradio_api/queue/join")
    assert join.body["data"][1] == "what is a lighthouse?"  # a question, not IPython's `lighthouse?` help
    answer = "You asked: what is a lighthouse?"
    assert cap.stdout.count(answer) == 1 and "not found" not in cap.stdout  # streamed once, not again as Out
    assert cap.stdout.rstrip().splitlines()[-1].startswith("janus-pro-7b · done · ")


@pytest.mark.slow  # a terminal IPython in a subprocess
def test_ctrl_c_in_terminal_ipython_cancels_and_closes(ip: Any, thread_space: LocalSpace) -> None:
    from support.helpers import ctrl_c_when

    thread_space.arm("slow")
    with ctrl_c_when(lambda: True, settle=0.8), pytest.raises(KeyboardInterrupt) as info:
        cell(ip, "-m flux", "interrupt me")
    # the run's own account of the interrupt: one line, not a traceback through the event loop
    assert isinstance(info.value, RunCancelled)
    assert re.fullmatch(r"RunCancelled: flux · cancelled · \d+\.\ds", info.value._render_traceback_()[0])
    deadline = time.monotonic() + 5
    while not thread_space.disconnects and time.monotonic() < deadline:
        time.sleep(0.02)
    assert thread_space.disconnects, "the connection stayed open after Ctrl-C"
    result, cap = cell(ip, "-m flux -s 8", "after ctrl-c")  # the next run works
    assert result.seed == 8


def test_config_shows_every_setting(ip: Any) -> None:
    """``%g4f config`` is the effective settings: every one of them (issue #24, item 5)."""
    from g4f_magic.notebook.settings import Settings

    with capture_output() as cap:
        ip.run_line_magic("g4f", "config")
    names = {row.split()[0] for row in cap.stdout.splitlines()[2:] if row.strip()}
    assert set(Settings.class_trait_names(config=True)) <= names, set(Settings.class_trait_names(config=True)) - names


def test_an_unknown_model_is_one_sentence_with_the_known_ones() -> None:
    from g4f_magic import G4F
    from g4f_magic.errors import ModelNotFound

    with pytest.raises(ModelNotFound) as info:
        G4F.model("dalle-3")
    assert str(info.value) == "unknown model 'dalle-3'; known models: " + ", ".join(G4F.models)


def test_a_saved_png_carries_automatic1111s_parameters_and_runs_again_from_it(ip: Any, thread_space: LocalSpace,
                                                                                tmp_path: Path) -> None:
    """Issue #36, item 7: the de facto recipe chunk beside ours, read back by Result.from_png and --from; an
    AUTOMATIC1111 image's own parameters are read the same way."""
    from PIL import Image, PngImagePlugin

    result, _ = cell(ip, "-m flux -a 16:9 -s 42 --steps 20 --guidance 4 --save saved.png", "a lighthouse, storm")
    with Image.open("saved.png") as im:
        assert im.text["parameters"] == ("a lighthouse, storm\nSteps: 20, Sampler: Euler, CFG scale: 4, Seed: 42, "
                                         "Size: 1360x760, Model: flux")
    back = Result.from_png("saved.png")
    assert (back.prompt, back.model, back.seed, back.width, back.height, back.steps, back.guidance) == \
        ("a lighthouse, storm", "flux", 42, 1360, 760, 20, 4.0)
    with capture_output():
        again = ip.run_line_magic("g4f", "--from saved.png")  # the line magic: nothing but the recipe
    assert (again.prompt, again.seed, again.width, again.height, again.steps) == ("a lighthouse, storm", 42, 1360,
                                                                                   760, 20)
    other, _ = cell(ip, "--from saved.png -s 7", "a lighthouse at dawn")  # the line and the cell win
    assert (other.prompt, other.seed, other.width) == ("a lighthouse at dawn", 7, 1360)
    info = PngImagePlugin.PngInfo()  # an AUTOMATIC1111 image: its prompt, a negative one, its fields
    info.add_text("parameters", 'a red fox in snow\nNegative prompt: blurry\nSteps: 30, Sampler: DPM++ 2M, '
                                'Schedule type: Karras, CFG scale: 7, Seed: 1234, Size: 832x480, Model hash: ab12, '
                                'Model: sdxl_base, Version: v1.9.4')
    Image.new("RGB", (832, 480)).save(tmp_path / "a1111.png", pnginfo=info)
    theirs = Result.from_png(tmp_path / "a1111.png")
    assert (theirs.prompt, theirs.seed, theirs.width, theirs.height, theirs.steps, theirs.guidance, theirs.model) == \
        ("a red fox in snow", 1234, 832, 480, 30, 7.0, "sdxl_base")
    with pytest.raises(UsageError, match=r"^unknown model 'sdxl_base'; known models: "):  # not one here: -m picks one
        ip.run_line_magic("g4f", f"--from {tmp_path / 'a1111.png'}")
