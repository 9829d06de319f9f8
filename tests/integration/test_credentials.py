"""Credentials go only to the host they belong to, checked twice: as the local Space received each
request, and as raw bytes at a loopback proxy in front of it.

- the hub cookie: to the hub only (the Space page and the jwt endpoint);
- a ZeroGPU token the hub issued for a Space: to that Space only;
- a ZeroGPU token given as ``api_key``: to the Space being called only, never to the hub or a file download;
- a Hugging Face token (``api_key="hf_…"``, ``HF_TOKEN``): as ``Authorization: Bearer`` to the hub's jwt
  route and to the Spaces being called (their files too), never elsewhere, never on a redirect, and to
  one's own server only when the user names it.
"""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import urlsplit

import pytest
from leakscan import COOKIE, TOKEN, secret
from support.helpers import HUB, LoopbackProxy, collect

from g4f_magic import ImageResponse, fetch_image
from g4f_magic.localspace import LocalSpace
from g4f_magic.localspace.app import SPACE_HOSTS
from g4f_magic.localspace.images import placeholder

MODELS = ["flux", "flux-dev", "flux-schnell", "janus-pro-7b-image", "janus-pro-7b"]


ZEROGPU = secret("zerogpu_jwt")[3:]  # a ZeroGPU token given by hand: not of the hf_ kind


def host_of_space(token: str) -> str:
    """The host of the Space a local-Space token was issued for (its ``sub``: owner/name)."""
    sub = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["sub"].split("#")[0]
    label = re.sub(r"[._/]", "-", sub.lower())  # owner/Name.x → owner-name-x, the Space's subdomain
    [host] = [h for h in SPACE_HOSTS if h.split(".", 1)[0] == label]
    return host


def check(host: str, path: str, text: str, issued: list[str], called: set[str]) -> list[str]:
    """Every credential in one request's bytes that has no business at ``host``."""
    wrong = []
    if COOKIE in text and host != HUB:
        wrong.append(f"cookie → {host}{path}")
    if ZEROGPU in text and (host not in called or "file=" in path):
        wrong.append(f"api_key → {host}{path}")
    if TOKEN in text:
        jwt = host == HUB and re.search(r"/api/spaces/[^/]+/[^/]+/jwt$", path) is not None
        if not (jwt or host in called) or f"Bearer {TOKEN}" not in text:
            wrong.append(f"HF token → {host}{path}")
    for t in issued:
        if t.rsplit(".", 1)[-1] in text and host != host_of_space(t):
            wrong.append(f"token for {host_of_space(t)} → {host}{path}")
    return wrong


async def run_everything(proxy: str | None) -> tuple[set[str], int]:
    """Each model once with the cookie (the hub issues tokens), once with api_key; fetch each image."""
    called: set[str] = set()
    images = 0
    png = placeholder("vision", 1, 64, 64)
    for kw in ({"cookies": {"token": COOKIE}}, {"api_key": ZEROGPU}, {"api_key": TOKEN}):
        for model in MODELS:
            extra = {"media": png} if model == "janus-pro-7b" else {}
            events = await collect(model, f"{model} credentials", proxy=proxy, **kw, **extra)
            for ev in events:
                if isinstance(ev, ImageResponse):
                    for url in ev.urls:
                        called.add(urlsplit(url).path.split("/")[1])
                        await fetch_image(url, proxy=proxy)
                        images += 1
    return called, images


@pytest.fixture
def endpoint(space: LocalSpace, monkeypatch: pytest.MonkeyPatch) -> str:
    """Plain HTTP here (not the TLS front): the raw bytes at the forward proxy must be readable."""
    monkeypatch.setenv("G4F_MAGIC_ENDPOINT", space.url)  # type: ignore[attr-defined]
    return space.url  # type: ignore[attr-defined]


@pytest.mark.parametrize("through_proxy", [False, True])
async def test_credentials_reach_only_their_own_host(space: LocalSpace, endpoint: str, through_proxy: bool) -> None:
    proxy = LoopbackProxy()
    async with proxy as proxy_url:
        called, images = await run_everything(proxy_url if through_proxy else None)
    called |= {r.host for r in space.received if r.path.endswith(("/queue/join", "/run/predict", "/upload"))}
    assert images >= 8 and len(space.tokens_issued) >= 4 and HUB not in called

    wrong: list[str] = []
    for r in space.received:
        text = json.dumps([r.headers, r.query, r.body], default=str)
        wrong += check(r.host, r.path, text, space.tokens_issued, called)
    assert wrong == []
    # the credentials did travel, each to its own host
    assert any(COOKIE in r.headers.get("cookie", "") for r in space.requests(HUB))
    assert {r.host for r in space.received if r.headers.get("x-zerogpu-token") == ZEROGPU} == called
    assert {r.host for r in space.received if r.headers.get("authorization") == f"Bearer {TOKEN}"} == called | {HUB}
    assert any(r.headers.get("x-zerogpu-token") in space.tokens_issued for r in space.received)

    if through_proxy:  # the same rules over the raw bytes that crossed the proxy
        assert len(proxy.seen) == len(space.received)
        for line, head, body in zip(proxy.seen, proxy.headers, proxy.bodies):
            path = urlsplit(line.split(" ", 1)[1]).path
            host = path.split("/")[1]
            wrong += check(host, path, head + body.decode("latin-1"), space.tokens_issued, called)
        assert wrong == []
