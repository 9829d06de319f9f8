"""The one place for HTTP error statuses: a one-line message from a JSON, text or HTML error body.

The server's own words stay on the error (``said``): ZeroGPU's refusals are read from them a layer up."""

from __future__ import annotations

import aiohttp

from ..errors import G4FError, ResponseStatusError, SpaceUnavailable, StreamError, one_line
from ..untrusted_json import read_json
from .body import read_body

__all__ = ["status_error", "raise_for_status", "MAX_ERROR_BODY", "IN_WORDS"]

MAX_ERROR_BODY = 64 * 1024
# statuses that a proxy or a server's front sends with a page of its own: said in words, not "HTML content"
IN_WORDS = {
    407: "the proxy wants credentials (407 Proxy Authentication Required): put user:password in the proxy URL",
    413: "the request is larger than the server, or a proxy in front of it, accepts (413 Payload Too Large)",
}
# statuses said in words when they come with a page rather than the server's JSON (Gradio's own 401 says
# "Not authenticated"; a reverse proxy's basic auth answers with its HTML page)
IN_WORDS_FOR_A_PAGE = {
    401: "the server, or a proxy in front of it, wants a login (401 Unauthorized): put user:password in its "
         "URL, https://user:password@host",
}


def _last_line_of_traceback(text: str) -> str:
    """A server that answers with its Python traceback (Gradio 5 on a bad fn_index): its last line."""
    if not text.lstrip().startswith("Traceback (most recent call last)"):
        return text
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return f"{lines[-1].strip()} (the server's traceback)"


def _describe_html(text: str) -> str:
    low = text.lower()
    for word in ("sleeping", "paused", "building", "starting", "runtime error"):
        if word in low:
            return f"the Space is {word} (HTML page)"
    return "HTML content"


async def raise_for_status(resp: aiohttp.ClientResponse) -> None:
    if resp.status >= 400:
        raise status_error(resp.status, resp.reason, resp.headers.get("content-type", ""),
                           await read_body(resp, MAX_ERROR_BODY))


def status_error(status: int, reason: str | None, ctype: str, raw: bytes) -> G4FError:
    """A one-line error from the status and the body's message (JSON, text or HTML)."""
    text = raw[:MAX_ERROR_BODY].decode("utf-8", errors="replace")
    ctype = ctype.lower()
    is_html = "html" in ctype or text.lstrip()[:15].lower().startswith(("<!doctype", "<html"))
    message: str | None = None
    if not is_html:
        try:
            body = read_json(text)
        except StreamError:  # not JSON, or JSON too deep to trust: the text itself is the message
            body = None
        if isinstance(body, dict):
            if isinstance(body.get("detail"), dict):  # Gradio's auth: {"detail": {"error": "Not authenticated"}}
                body = {**body, **body["detail"]}
            for key in ("error", "message", "detail"):
                value = body.get(key)
                if isinstance(value, list):  # FastAPI validation errors
                    value = "; ".join(str(v.get("msg", v)) if isinstance(v, dict) else str(v) for v in value)
                if isinstance(value, str) and value.strip():
                    message = value
                    break
    said = message or text
    if status in IN_WORDS:
        words = IN_WORDS[status] + (f"; it says: {one_line(message, 120)}" if message else "")
        return ResponseStatusError(words, status).saying(said)
    if message is None and is_html and status in IN_WORDS_FOR_A_PAGE:
        return ResponseStatusError(IN_WORDS_FOR_A_PAGE[status], status).saying(said)
    if message is None:
        message = _describe_html(text) if is_html else _last_line_of_traceback(text)
    message = one_line(message) or one_line(reason or "") or "no details"  # a reason phrase is the network's text too
    if status in (502, 503, 504):
        return SpaceUnavailable(f"Space unavailable ({status}): {message}", status).saying(said)
    return ResponseStatusError(f"Response {status}: {message}", status).saying(said)
