"""The hub's account routes, asked as the user: who the token belongs to, and what is left of its GPU quota.

Both go to the hub only (``huggingface.co``, or the gateway standing for it) with the token as
``Authorization: Bearer``, on the loop's one session (:mod:`g4f_magic.http.session`); the hub's address is the provider's
(``G4F.endpoints().hub``).
"""

from __future__ import annotations

from ..errors import G4FError, ResponseStatusError, StreamError
from ..http.session import Deadline, get_session
from .identity import Account, HFToken, Quota, parse_quota, parse_whoami

__all__ = ["whoami", "zero_gpu_quota"]

TIMEOUT = 30.0
# what huggingface_hub's get_zero_gpu_quota documents a token needs to read the quota
_PERMISSION = ("the token may not read billing usage: a fine-grained token needs 'Billing > Read billing usage "
               "and payment method status' (an OAuth token the read-billing scope)")


async def _get(hub: str, path: str, token: HFToken) -> object:
    """The hub's JSON answer to the account; a token the hub refuses is one line naming where it came from."""
    session = await get_session()
    try:
        return await session.json("GET", f"{hub}{path}", deadline=Deadline(TIMEOUT), headers=token.bearer())
    except ResponseStatusError as exc:
        if exc.status == 401:
            raise ResponseStatusError(f"the hub did not accept the Hugging Face token from {token.source} (401)",
                                      401) from None
        raise


async def whoami(token: HFToken, hub: str) -> Account:
    """The account the token belongs to (``/api/whoami-v2``)."""
    account = parse_whoami(await _get(hub, "/api/whoami-v2", token))
    if account is None:
        raise StreamError("the hub's whoami reply names no account")
    return account


async def zero_gpu_quota(token: HFToken, hub: str) -> Quota:
    """What is left of the account's ZeroGPU quota (``/api/spaces/zero-gpu/quota``)."""
    try:
        body = await _get(hub, "/api/spaces/zero-gpu/quota", token)
    except ResponseStatusError as exc:
        if exc.status == 403:
            raise ResponseStatusError(f"cannot read the ZeroGPU quota: {_PERMISSION}", 403) from None
        raise
    quota = parse_quota(body)
    if quota is None:
        raise G4FError("the hub's quota reply has no base and current GPU seconds")
    return quota
