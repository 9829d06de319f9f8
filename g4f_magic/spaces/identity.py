"""Who pays for the GPU: the user's Hugging Face token, found where the Hugging Face tools keep it.

Every ZeroGPU call is charged to an identity. Without one, ZeroGPU charges the caller's IP address (2 min
of GPU a day); a free account gets 5 min, PRO 40 (hub-docs ``spaces-zerogpu.md``). Hugging Face documents
the programmatic way to be charged as the account (hub-docs ``spaces-api-endpoints.md``): the HF token goes
to the Space's own host as ``Authorization: Bearer hf_…``, and the edge turns it into the ``X-IP-Token``
the Space's ZeroGPU reads. The hub's jwt, whoami and quota routes take the same header.

An HF token is an account credential: it goes to the hub and to the Spaces the hub serves (their own hosts,
or a ``G4F_MAGIC_ENDPOINT`` gateway standing for them), never to another host, never on a redirect, and to
one's own server only when the user names that server (``send_hf_token_to``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, cast

__all__ = ["HFToken", "find_hf_token", "is_hf_token", "Account", "parse_whoami", "Quota", "parse_quota",
           "TIERS", "REQUESTED_GPU_SECONDS", "login_hint"]

# GPU minutes a day by identity (hub-docs spaces-zerogpu.md, "Usage Tiers")
TIERS = {"anonymous": 2, "free": 5, "pro": 40}
# What one call reserves of the quota: the @spaces.GPU duration (60 s when a Space names none) times the
# hardware's duration_factor (1.5 on the RTX PRO 6000 ZeroGPU runs today), as spaces 0.51.3 computes it
# (zero/client.py get_duration_seconds, zero/configs.json)
REQUESTED_GPU_SECONDS = 60 * 1.5


def is_hf_token(value: str) -> bool:
    """``hf_…`` (user access and OAuth tokens), as opposed to the ZeroGPU JWT a Space's page carries."""
    return value.startswith("hf_")


@dataclass(frozen=True)
class HFToken:
    """An HF token and where it was found; its value never shows in a repr or a message."""

    value: str = field(repr=False)
    source: str

    def __repr__(self) -> str:
        return f"HFToken(value='***', source={self.source!r})"

    def bearer(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.value}"}


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _hf_home() -> Path:
    home = os.environ.get("HF_HOME")
    if home:
        return Path(os.path.expanduser(os.path.expandvars(home)))
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "huggingface"


def _stored_path() -> Path:
    path = os.environ.get("HF_TOKEN_PATH")
    return Path(os.path.expanduser(os.path.expandvars(path))) if path else _hf_home() / "token"


def find_hf_token() -> HFToken | None:
    """The token the Hugging Face tools would use: ``huggingface_hub.get_token()`` where it is installed
    (it also knows OIDC, refreshed OAuth logins and Colab secrets), else ``HF_TOKEN`` (or the older
    ``HUGGING_FACE_HUB_TOKEN``), else the file ``hf auth login`` wrote (``$HF_TOKEN_PATH``, else
    ``$HF_HOME/token``). ``HF_HUB_DISABLE_IMPLICIT_TOKEN`` turns the lookup off, as it does for them."""
    if os.environ.get("HF_HUB_DISABLE_IMPLICIT_TOKEN", "").strip().lower() in ("1", "true", "yes", "on"):
        return None
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        value = _clean(os.environ.get(name))
        if value:
            return HFToken(value, f"${name}")
    try:
        from huggingface_hub import get_token as hub_token
    except ImportError:
        hub_token = None  # type: ignore[assignment]
    if hub_token is not None:
        try:
            value = _clean(hub_token())
        except Exception:  # noqa: BLE001 - an OIDC exchange that failed: the user sees "anonymous"
            value = None
        if value:
            return HFToken(value, "huggingface_hub (the token hf auth login stored)")
        return None
    try:
        value = _clean(_stored_path().read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        value = None
    return HFToken(value, f"the token hf auth login stored ({_stored_path()})") if value else None


@dataclass(frozen=True)
class Account:
    """The hub's ``/api/whoami-v2`` answer, the parts that decide the quota."""

    name: str
    pro: bool
    role: str | None  # "read", "write", "fineGrained"

    @property
    def tier(self) -> str:
        return "pro" if self.pro else "free"


def parse_whoami(body: Any) -> Account | None:
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        return None
    auth: dict[str, Any] = body["auth"] if isinstance(body.get("auth"), dict) else {}
    access: dict[str, Any] = auth["accessToken"] if isinstance(auth.get("accessToken"), dict) else {}
    role = access.get("role")
    return Account(body["name"], body.get("isPro") is True, role if isinstance(role, str) else None)


@dataclass(frozen=True)
class Quota:
    """``GET /api/spaces/zero-gpu/quota`` (``huggingface_hub.get_zero_gpu_quota``): GPU-seconds."""

    base: float
    remaining: float
    resets_at: datetime | None
    overquota_used: float | None

    def images(self, seconds: float = REQUESTED_GPU_SECONDS) -> int:
        """How many calls of ``seconds`` each what is left admits: ZeroGPU refuses a call it cannot cover."""
        return max(0, int(self.remaining // seconds))

    def resets_in(self, now: datetime | None = None) -> float | None:
        """Seconds until the quota is back; None when the hub did not say."""
        if self.resets_at is None:
            return None
        return max(0.0, (self.resets_at - (now or datetime.now(timezone.utc))).total_seconds())

    def line(self, now: datetime | None = None) -> str:
        text = f"ZeroGPU quota: {self.remaining / 60:.1f} of {self.base / 60:.1f} min left"
        left = self.resets_in(now)
        if self.resets_at is not None and left is not None:
            text += f" · resets {self.resets_at:%Y-%m-%d %H:%M} UTC"
            if left > 0:
                h, rest = divmod(int(left), 3600)
                text += f" (in {h}:{rest // 60:02d}:{rest % 60:02d})"
        if self.overquota_used:
            text += f" · {self.overquota_used / 60:.1f} min of credits used"
        n = self.images()
        return text + f" · about {n} image{'s' * (n != 1)} at {REQUESTED_GPU_SECONDS:g} s of GPU each"


def parse_quota(body: Any) -> Quota | None:
    if not isinstance(body, dict):
        return None
    base, current = body.get("base"), body.get("current")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (base, current)):
        return None
    resets = body.get("resetsAt")
    when = None
    if isinstance(resets, str):
        try:
            when = datetime.fromisoformat(resets.replace("Z", "+00:00"))
        except ValueError:
            when = None
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
    over = body.get("overquotaUsed")
    return Quota(float(cast(float, base)), float(cast(float, current)), when,
                 float(over) if isinstance(over, (int, float)) else None)


def login_hint() -> str:
    """What an anonymous user is told with their first quota refusal."""
    return (f"anonymous calls share this machine's IP quota ({TIERS['anonymous']} min of GPU a day): set HF_TOKEN "
            f"or run %g4f login to use your account's quota ({TIERS['free']} min a day free, {TIERS['pro']} with PRO)")
