"""HTTP error statuses as one line each: what a proxy or a server's front refuses is said in words."""

from __future__ import annotations

import aiohttp
import pytest
from yarl import URL

from g4f_magic.errors import ConnectionFailed, ResponseStatusError
from g4f_magic.http.deadline import _translated
from g4f_magic.http.status import status_error

SQUID_407 = b"<!DOCTYPE html><html><head><title>ERROR: Cache Access Denied</title></head><body>squid</body></html>"
NGINX_413 = b"<html><head><title>413 Request Entity Too Large</title></head><body><center>nginx</center></body></html>"


@pytest.mark.parametrize(("status", "body", "ctype", "line"), [
    (407, SQUID_407, "text/html", "the proxy wants credentials (407 Proxy Authentication Required): put "
                                  "user:password in the proxy URL"),
    (413, NGINX_413, "text/html", "the request is larger than the server, or a proxy in front of it, accepts "
                                  "(413 Payload Too Large)"),
    (413, b'{"detail": "upload too big"}', "application/json",
     "the request is larger than the server, or a proxy in front of it, accepts (413 Payload Too Large); "
     "it says: upload too big"),
    (404, NGINX_413.replace(b"413", b"404"), "text/html", "Response 404: HTML content"),
    (401, NGINX_413.replace(b"413 Request Entity Too Large", b"401 Authorization Required"), "text/html",
     "the server, or a proxy in front of it, wants a login (401 Unauthorized): put user:password in its URL, "
     "https://user:password@host"),
    (401, b'{"detail": "Not authenticated"}', "application/json", "Response 401: Not authenticated"),  # Gradio's
])
def test_a_proxy_refusal_and_the_body_limit_are_said_in_words(status: int, body: bytes, ctype: str, line: str) -> None:
    error = status_error(status, None, ctype, body)
    assert type(error) is ResponseStatusError and str(error) == line and error.status == status


def test_a_refused_connect_through_the_proxy_says_so_too() -> None:
    info = aiohttp.RequestInfo(URL("https://space.example/x"), "GET", {}, URL("https://space.example/x"))  # type: ignore[arg-type]
    refused = aiohttp.ClientHttpProxyError(info, (), status=407, message="Proxy Authentication Required")
    error = _translated(refused, "https://space.example/x")
    assert isinstance(error, ConnectionFailed) and str(error).startswith("the proxy wants credentials (407")
    other = aiohttp.ClientHttpProxyError(info, (), status=403, message="Forbidden")
    assert str(_translated(other, "https://space.example/x")) == "the proxy refused the request (403)"


async def test_a_capped_deadline_keeps_the_sooner_end_and_the_runs_own_timeout() -> None:
    """A preview's wait: at most its cap, and never past the run's deadline (whose timeout it reports)."""
    import asyncio

    from g4f_magic.errors import G4FTimeout
    from g4f_magic.http.deadline import Deadline

    run = Deadline(0.05)
    preview = run.capped(30.0)
    assert preview.timeout == 0.05  # the run ends first: its deadline, its number in the message
    with pytest.raises(G4FTimeout, match=r"^no result within 0\.05 s \(timeout=0\.05\)$"):
        async with preview.guard("http://space/file"):
            await asyncio.sleep(1)
    long_run = Deadline(300.0).capped(0.01)
    assert long_run.timeout == 0.01
    assert Deadline(None).capped(2.0).timeout == 2.0  # no run limit: the cap alone


def test_a_reason_phrase_is_network_text_too() -> None:
    """Found by the fuzz tier: a status line whose reason phrase is a newline made a two-line error."""
    exc = status_error(100, "\n", "application/json", b"")
    assert str(exc) == "Response 100: no details"
    assert str(status_error(418, "I'm a\x1b[31m teapot\n", "text/plain", b"")) == "Response 418: I'm a teapot"
