"""``python tests/support/guards.py`` (``make guards``): remove each hostile-input guard in turn and check that
its tests fail. Every guard is put back (also on error or Ctrl+C); exit 1 if a removal went unnoticed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# (guard, file, the guarding code, the code without the guard, the tests that must notice)
GUARDS = [
    ("image bytes sniffed, whatever the content type says", "g4f_magic/http/session.py",
     "        if mime is None:\n", "        if False:\n", "tests/unit/spaces/test_hostile.py tests/integration/test_hostile.py"),
    ("image size limit while reading", "g4f_magic/http/session.py",
     "        if len(raw) > max_bytes:\n", "        if False:\n", "tests/unit/spaces/test_hostile.py tests/integration/test_hostile.py"),
    ("declared size checked before an image is shown as served", "g4f_magic/spaces/fetched.py",
     "        checked(data, (ev.width", "        (data, (ev.width",
     "tests/unit/spaces/test_hostile.py tests/integration/test_hostile.py"),
    ("image URL on the Space's own host (and not another host's folder of a gateway)", "g4f_magic/gradio/messages.py",
     "    if _origin(parts) == _origin(urlsplit(base)):\n", "    return url\n    if True:\n",
     "tests/unit/spaces/test_hostile.py tests/integration/test_hostile.py tests/integration/test_wire.py "
     "tests/unit/gradio/test_messages.py"),
    ("replay entries: media types from a fixed list", "g4f_magic/engine/replay.py",
     "        if mime not in EXTENSIONS:\n", "        if False:\n",
     "tests/unit/engine/test_replay.py tests/integration/test_replay.py"),
    ("replay store of another user refused", "g4f_magic/engine/replay.py",
     "    if me is not None and st.st_uid != me:\n", "    if False:\n", "tests/unit/engine/test_replay.py"),
    ("JSON from outside within the nesting budget", "g4f_magic/untrusted_json.py",
     "    if isinstance(value, (dict, list)) and too_deep(value):\n", "    if False:\n",
     "tests/unit/test_untrusted_json.py tests/fuzz/test_fuzz.py"),
    ("image URL http(s) only", "g4f_magic/gradio/messages.py",
     '    if parts.scheme not in ("http", "https"):\n', "    if False:\n", "tests/unit/spaces/test_hostile.py tests/integration/test_hostile.py"),
    ("entity-encoded tags stripped from messages", "g4f_magic/errors.py",
     's = _TAG.sub(" ", html.unescape(_TAG.sub(" ", s)))', 's = html.unescape(_TAG.sub(" ", s))',
     "tests/unit/spaces/test_hostile.py tests/integration/test_hostile.py"),
    ("raw HTML off in Markdown answers", "g4f_magic/notebook/html.py", '{"html": False', '{"html": True',
     "tests/unit/notebook/test_views.py"),
    ("network and user text escaped", "g4f_magic/notebook/html.py",
     "    return html.escape(str(text), quote=True)\n", "    return str(text)\n", "tests/unit/notebook/test_views.py"),
    ("control characters dropped from prompts", "g4f_magic/spaces/prompts.py",
     '    return _CONTROL.sub("", text)\n', "    return text\n", "tests/unit/spaces/test_hostile.py tests/integration/test_hostile.py"),
    ("results carry the cleaned prompt", "g4f_magic/engine/job.py",
     '        object.__setattr__(self, "prompt", drop_controls(self.prompt))\n', "        pass\n",
     "tests/integration/test_hostile.py::test_each_hostile_payload_in_a_real_kernel"),
    ("api_key out of a call's repr", "g4f_magic/spaces/flows.py",
     "    api_key: str | None = field(default=None, repr=False)\n", "    api_key: str | None = None\n",
     "tests/integration/test_faults.py"),
    ("api_key out of a request's access repr", "g4f_magic/spaces/request.py",
     "    api_key: str | None = field(default=None, repr=False)\n", "    api_key: str | None = None\n",
     "tests/integration/test_faults.py"),
    ("the Hugging Face token out of its repr", "g4f_magic/spaces/identity.py",
     "        return f\"HFToken(value='***', source={self.source!r})\"\n",
     "        return f\"HFToken(value={self.value!r}, source={self.source!r})\"\n", "tests/integration/test_faults.py"),
    ("the Hugging Face token never on a redirect", "g4f_magic/http/session.py",
     "            if hop and \"headers\" in kwargs:\n", "            if False:\n", "tests/unit/spaces/test_account.py tests/integration/test_account.py"),
    ("a kept-alive connection with a reply nobody asked for is not reused", "g4f_magic/http/session.py",
     "            if protocol is None or not protocol.should_close:\n", "            if True:\n",
     "tests/integration/test_stale_replies.py"),
    ("one event id, one request", "g4f_magic/gradio/stream.py",
     "        if event_id in self.claimed:", "        if False:", "tests/integration/test_stale_replies.py"),
    ("a Space that keeps saying 'session not found' is not reopened for ever", "g4f_magic/gradio/stream.py",
     '            idle = 0 if got and end != "forgotten" else idle + 1', "            idle = 0 if got else idle + 1",
     "tests/unit/gradio/test_stream.py"),
]


def main() -> int:
    missed = 0
    for name, rel, guarded, unguarded, tests in GUARDS:
        path = ROOT / rel
        source = path.read_text()
        if source.count(guarded) != 1:
            print(f"STALE   {name}: the guarding code is no longer in {rel} exactly once")
            missed += 1
            continue
        path.write_text(source.replace(guarded, unguarded))
        try:
            run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                                  *tests.split()], capture_output=True, text=True, timeout=600, cwd=ROOT)
        finally:
            path.write_text(source)
        summary = next((line for line in reversed(run.stdout.splitlines()) if " in " in line), "?")
        caught = run.returncode != 0
        missed += not caught
        print(f"{'caught' if caught else 'MISSED'}  {name}: {summary}")
    print(f"{len(GUARDS) - missed} of {len(GUARDS)} guards are each noticed by their tests when removed")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
