"""The one error hierarchy of g4f_magic.

Every message is one line of plain text: no HTML, no ``<a`` link tails, no secrets.
Leaf classes also inherit the matching built-in so callers can catch either::

    G4FError
    ├── InvalidOption (ValueError)        bad option, detected before any request
    │   └── ModelNotFound (LookupError)   unknown model; names the known ones and the closest
    ├── ConnectionFailed (ConnectionError) host unreachable, proxy refused, connection dropped
    ├── ResponseStatusError               an HTTP error status from the hub or a Space
    │   └── SpaceUnavailable              502/503/504: queue full, sleeping, paused, building
    ├── GenerationError                   the Space ran the job and reported a failure
    │   ├── QuotaExceeded                 a ZeroGPU quota refusal; ``reason``, ``tier``, ``retry_after``
    │   ├── GPUBusy                       ZeroGPU had no GPU free (in time); ``retry_after``
    │   └── TokenExpired                  ZeroGPU's proxy token expired: a fresh one is fetched once
    ├── StreamError                       malformed or truncated event stream, missing result
    │   └── ResultShapeError              a result not of the shape the route expects
    └── G4FTimeout (TimeoutError)         the call's time limit ran out

    RunCancelled (KeyboardInterrupt)      a run the user stopped: not a failure of ours, and IPython
                                          treats an interrupted cell as a KeyboardInterrupt

IPython shows each of them as one line, ``ClassName: message`` (``_render_traceback_``): they are
expected outcomes, so a traceback would only show the cell rewritten by the magic.
"""

from __future__ import annotations

import html
import re

__all__ = [
    "G4FError",
    "InvalidOption",
    "ModelNotFound",
    "ConnectionFailed",
    "ResponseStatusError",
    "SpaceUnavailable",
    "GenerationError",
    "QuotaExceeded",
    "GPUBusy",
    "TokenExpired",
    "StreamError",
    "ResultShapeError",
    "G4FTimeout",
    "RunCancelled",
    "one_line",
    "printable",
]

_TAG = re.compile(r"<[^>]*>")
# terminal control: CSI (colours, clear screen), OSC (window title, hyperlinks, clipboard: ESC ] … BEL or ST),
# other ESC sequences, and every C0/C1 control but tab and newline
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?"
                      r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACE = re.compile(r"\s+")
MAX_MESSAGE = 300


def printable(text: str) -> str:
    """Text from the network made safe wherever it goes: no terminal control sequences (a terminal obeys
    them), and valid Unicode (a lone surrogate cannot be sent in a kernel message). Newlines and tabs stay."""
    text = _CONTROL.sub("", text)
    return text.encode("utf-8", "replace").decode("utf-8") if not text.isascii() else text


def one_line(text: object, limit: int = MAX_MESSAGE) -> str:
    """Make remote text safe for a one-line error: cut link tails, drop tags and control sequences, fold
    whitespace."""
    s = printable(str(text)).split(" <a ", 1)[0]
    # tags out, entities decoded, and tags out again: "&lt;img onerror=…&gt;" must not become a tag
    s = _TAG.sub(" ", html.unescape(_TAG.sub(" ", s)))
    s = _SPACE.sub(" ", s).strip()
    if len(s) > limit:
        s = s[: limit - 1].rstrip() + "…"
    return s


class _OneLine:
    def _render_traceback_(self) -> list[str]:  # IPython's hook: these lines instead of a traceback
        return [f"{type(self).__name__}: {self}"]


class G4FError(_OneLine, Exception):
    """Root of every error this package raises on purpose.

    ``said`` and ``title``: the server's own words, whole, when the message came from it, for a layer
    above to read further (ZeroGPU's refusals are recognised in ``spaces/``, not where they arrive)."""

    said: str | None = None
    title: str | None = None
    spaces: tuple[str, ...] = ()  # the Spaces that tried the run it ended, in order (the last one raised it)

    def saying(self, said: str | None, title: str | None = None) -> G4FError:
        self.said, self.title = said, title
        return self


class RunCancelled(_OneLine, KeyboardInterrupt):
    """The user stopped a run (Stop, interrupt, Ctrl-C); its connections are closed."""


class InvalidOption(G4FError, ValueError):
    """An option or input that cannot work; raised before any request is sent."""


class ModelNotFound(InvalidOption, LookupError):
    """The model name is not one the provider knows."""


class ConnectionFailed(G4FError, ConnectionError):
    """The network failed below HTTP: refused, unreachable, reset, proxy error."""


class ResponseStatusError(G4FError):
    """An HTTP error status; ``status`` keeps the code for callers that branch on it."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SpaceUnavailable(ResponseStatusError):
    """The Space cannot take work now (queue full, sleeping, paused, building, gateway errors)."""

    @property
    def state(self) -> str:
        """``sleeping``, ``starting`` or ``building`` (it wakes by itself), ``paused``, ``full``, else
        ``unavailable``: what the engine waits out and what it falls back from."""
        text = str(self).lower()
        for word in ("sleeping", "starting", "building", "paused"):
            if word in text:
                return word
        return "full" if "queue is full" in text else "unavailable"

    @property
    def waking(self) -> bool:
        return self.state in ("sleeping", "starting", "building")


class GenerationError(G4FError):
    """The Space accepted the job and then reported that it failed."""


class QuotaExceeded(GenerationError):
    """ZeroGPU refused for quota (:mod:`g4f_magic.spaces.refusals` reads its wordings).

    ``reason``: ``quota`` (GPU time used up; ``retry_after`` when the Space says when), ``runs`` (the runs
    limit), ``space`` (no identity reached the Space: it charged the Space's own limit), ``pending`` (too
    much reserved by running tasks). ``tier``: ``anonymous``, ``free``, ``pro`` when the wording says."""

    def __init__(self, message: str, retry_after: float | None = None, *, reason: str = "quota",
                 tier: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.reason = reason
        self.tier = tier


class GPUBusy(GenerationError):
    """ZeroGPU found no GPU free in time: another try may queue again, another model may answer."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TokenExpired(GenerationError):
    """ZeroGPU's proxy token expired between the hub and the Space: a fresh one is fetched once."""


class StreamError(G4FError):
    """The event stream broke the protocol: bad JSON, cut short, or no result."""


class ResultShapeError(StreamError):
    """The Space answered with a result of another shape (no image, no text): often a moved function."""


class G4FTimeout(G4FError, TimeoutError):
    """The time limit given by ``timeout=`` ran out."""
