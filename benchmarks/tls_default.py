"""The default path over TLS (issue #15): no token given, so the ZeroGPU token is fetched from the hub
page; every request through one ``G4F_MAGIC_ENDPOINT`` gateway on https, the TLS handshake crossing
the slow link. The first call in a fresh session (handshake, token, join, stream) and warm calls
(token cached, connection kept alive), against upstream g4f 0.5.4.5 on the same path.

    python -m benchmarks.tls_default          # prints the figures and updates benchmarks/RESULTS.md
"""

from __future__ import annotations

import os
import ssl
import tempfile

import trustme  # a test certificate authority; the client trusts it through SSL_CERT_FILE

_CA = trustme.CA()
_CERT = _CA.issue_cert("127.0.0.1")
_CA_FILE = os.path.join(tempfile.mkdtemp(prefix="g4f-bench-ca-"), "ca.pem")
_CA.cert_pem.write_to_path(_CA_FILE)
os.environ["SSL_CERT_FILE"] = _CA_FILE  # before aiohttp is imported: it reads the CA list then

import asyncio  # noqa: E402
import statistics  # noqa: E402
from typing import Any  # noqa: E402

from benchmarks.clients import ours, upstream, upstream_provider  # noqa: E402
from benchmarks.netem import latency_proxy, tls_terminator  # noqa: E402
from benchmarks.run import ms, timed  # noqa: E402
from benchmarks.sections import cli  # noqa: E402
from g4f_magic import aclose  # noqa: E402
from g4f_magic.localspace import LocalSpace, Pace, in_thread  # noqa: E402

SECTION = "## 14. The default path over TLS, the token fetched from the hub"
MODEL = "janus-pro-7b-image"


class _BehindTLS(LocalSpace):
    """Reached only through the https gateway, its public URLs are https, as a Space's behind Hugging Face's
    edge (the client refuses an image on another scheme or port than the Space's)."""

    def _base(self, request: Any, host: str) -> str:
        return f"https://{request.host}/{host}"


async def rows_at(port: int, rtt: float, n: int) -> list[str]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    _CERT.configure_cert(context)
    async with tls_terminator(port, context) as tls_port, latency_proxy(tls_port, rtt) as gateway:
        gw = gateway.replace("http://", "https://")
        up = upstream_provider(gw)
        try:
            await aclose()
            first = (await timed(ours(gw, MODEL, token=None), 1))[0]  # a fresh session: handshake, token
            warm = statistics.median(await timed(ours(gw, MODEL, token=None), n))
            await timed(upstream(up, MODEL, token=None), 2)
            theirs = statistics.median(await timed(upstream(up, MODEL, token=None), n))
        finally:
            await aclose()
    return [f"| {rtt * 1000:.0f} ms | {ms(first)} ms | **{ms(warm)} ms** | {ms(theirs)} ms | {theirs / warm:.2f}× |"]


def figures(n: int) -> list[str]:
    rows = ["| RTT | g4f_magic first call (TLS handshake, token fetched) | g4f_magic warm (token cached, "
            "kept alive) | upstream g4f 0.5.4.5 (token fetched every call) | upstream / ours |",
            "|---|---|---|---|---|"]
    with in_thread(_BehindTLS(pace=Pace.fast(0.0))) as url:
        port = int(url.rsplit(":", 1)[1])
        for rtt in (0.0, 0.05):
            rows += asyncio.run(rows_at(port, rtt, n))
    return [f"Median of {n} warm calls (`{MODEL}`, no `api_key`); every request through one https gateway with a "
            "test certificate, behind the latency proxy; local Space, no step delay.", "", *rows]


def main(argv: list[str] | None = None) -> int:
    return cli("tls_default", __doc__, SECTION, figures, [("n", 15, "timed calls per client")], argv)


if __name__ == "__main__":
    raise SystemExit(main())
