"""Server-sent events framing, incremental and free of I/O.

Lines may end in LF, CRLF or CR, an event may span many network reads, a read may hold many
events, and a data line may be far longer than aiohttp's 64 KiB ``readline`` limit (the upstream
provider's failure on big payloads). Per the SSE standard an event without its closing blank
line at end of stream is not dispatched.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import StreamError

__all__ = ["SSEEvent", "SSEDecoder", "MAX_EVENT_BYTES"]

MAX_EVENT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class SSEEvent:
    data: str
    event: str = "message"
    id: str | None = None


class SSEDecoder:
    """Feed bytes as they arrive; get complete events back."""

    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._max = max_event_bytes
        self._buf = bytearray()
        self._data: list[str] = []
        self._size = 0
        self._event = ""
        self._id: str | None = None
        self._skip_lf = False  # the previous chunk ended in CR; a leading LF belongs to it

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._skip_lf and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self._skip_lf = False
        if not chunk:
            return []
        if len(self._buf) + len(chunk) + self._size > self._max:
            raise StreamError(f"an event is larger than {self._max} bytes")
        # Keep an unfinished line (and a trailing CR that may be half of CRLF) for the next read. What
        # is buffered already holds no line end, so only the new bytes are searched: a line spread over
        # many reads costs each read its own length, not the whole line's again.
        end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        if end < 0:
            self._buf += chunk
            return []
        if self._buf:
            complete = bytes(self._buf) + chunk[: end + 1]
            self._buf.clear()
        else:
            complete = chunk[: end + 1]
        self._buf += chunk[end + 1:]
        if complete.endswith(b"\r"):
            self._skip_lf = True
        events: list[SSEEvent] = []
        for raw in complete.splitlines():
            ev = self._line(raw.decode("utf-8", errors="replace"))
            if ev is not None:
                events.append(ev)
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._size += len(value) + 1
            if self._size > self._max:
                raise StreamError(f"an event is larger than {self._max} bytes")
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        return None  # "retry" and unknown fields are ignored, as the standard says

    def _dispatch(self) -> SSEEvent | None:
        if not self._data:
            self._event = ""
            return None
        ev = SSEEvent("\n".join(self._data), self._event or "message", self._id)
        self._data, self._size, self._event = [], 0, ""
        return ev
