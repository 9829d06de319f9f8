"""Planning: one Job, or a Sweep of them, from the settings and one run's choices.

The magic and the panel both build their generation requests here, with the same rules (a timeout of 0
means "no limit" in both). ``settings`` is a plain mapping of the setting names to values.
"""

from __future__ import annotations

from typing import Any

from ..errors import G4FError, InvalidOption
from ..inference import REPOS, SPACES, ProvidersClient
from ..media import MAX_IMAGE_BYTES
from ..spaces.client import SpacesClient, Target
from ..spaces.endpoints import SPACE_CONCURRENCY
from ..spaces.providers import G4F
from .backend import Backend
from .batch import Batch, make_batch, make_question_batch
from .job import Handover, Job, Policy
from .replay import MAX_BYTES as REPLAY_MAX_BYTES
from .sweep import Sweep, make_sweep
from .words import PLAIN, said

__all__ = ["build_client", "build_job", "build_run", "build_batch", "build_question_batch"]


def _pick(settings: dict[str, Any], run: dict[str, Any], name: str) -> Any:
    value = run.get(name)
    return settings.get(name) if value is None else value


def build_client(settings: dict[str, Any], models: tuple[str, ...] = (), **run: Any) -> Backend:
    """Where a run's requests go and as whom, from the settings (and this run's proxy, timeout, key and
    provider): made once per run, shared by every job of a sweep or a batch. A timeout of 0 means no limit.
    The Spaces unless the user chose Inference Providers (they spend the account's credits): for this run
    (``provider``, whatever the ``models``), or in the ``provider`` setting, which a run of a model that no
    provider serves leaves aside."""
    target = Target(
        proxy=_pick(settings, run, "proxy") or None, timeout=_pick(settings, run, "timeout") or None,
        endpoint=settings.get("endpoint") or None, api_url=settings.get("api_url") or None,
        flux_dev_url=settings.get("flux_dev_url") or None, url_flux=settings.get("url_flux") or None,
        api_key=run.get("api_key") or settings.get("api_key"), hf_token=settings.get("hf_token"),
        mirrors={k: tuple(v) for k, v in (settings.get("mirrors") or {}).items()},
        send_hf_token_to=tuple(u.strip() for u in (settings.get("send_hf_token_to") or "").split(",") if u.strip()),
        max_image_bytes=settings.get("max_image_bytes") or MAX_IMAGE_BYTES,
        space_concurrency=settings.get("space_concurrency") or SPACE_CONCURRENCY,
    )
    provider = (_pick(settings, run, "provider") or SPACES).strip()
    if run.get("provider") is None and any(m not in REPOS for m in models):
        provider = SPACES  # the setting is for FLUX: Janus stays on the Spaces without a word
    if provider == SPACES:
        return SpacesClient(target)
    return ProvidersClient(target, provider)


def build_handover(settings: dict[str, Any], client: Backend) -> Handover | None:
    """The user's opt-in for a run past the ZeroGPU quota (the ``quota_handover`` setting): one per run, so that
    a batch's items follow the first one handed over. None on Inference Providers already, or when not set."""
    name = (settings.get("quota_handover") or "").strip()
    if not name or name == SPACES or not isinstance(client, SpacesClient):
        return None
    return Handover(ProvidersClient(client.target, name), f"Inference Providers ({name})")


def build_job(settings: dict[str, Any], *, model: str | None = None, prompt: str,
              client: Backend | None = None, **run: Any) -> Job:
    """The one place a generation request is made: per-run choices (``run``, None for "not given")
    over the settings, sent through ``client`` (made from the settings when not given); ``run["words"]``: the
    front end's words for the options its messages name."""
    model = model or settings["default_model"]
    client = client or build_client(settings, (model,), **run)
    handover = run["handover"] if "handover" in run else build_handover(settings, client)
    fallback = run.get("fallback")
    if fallback is None:  # the setting: only the models that can stand in for this one, for this seed
        fallback = _standing_in(model, settings.get("fallback") or "", run.get("seed"), run.get("count") or 1)
    return Job(
        model=model, prompt=prompt,
        # the setting's ratio is for the models that take one; a ratio given for this run is checked
        aspect_ratio=run.get("aspect_ratio") or (settings.get("aspect_ratio") if _sized(model) else None) or "1:1",
        width=run.get("width"), height=run.get("height"), seed=run.get("seed"),
        count=1 if run.get("count") is None else run["count"],  # -n 0 is refused, not one image
        steps=run.get("steps"), guidance=run.get("guidance"),
        policy=Policy(fallback=tuple(fallback), wait=bool(_pick(settings, run, "wait")),
                      max_wait=settings.get("max_wait", 900.0), refresh=bool(run.get("refresh")),
                      replay=settings.get("replay", True), replay_dir=settings.get("replay_dir") or None,
                      replay_max_bytes=settings.get("replay_max_bytes", REPLAY_MAX_BYTES),
                      words=run.get("words") or PLAIN, handover=handover),
        client=client,
    )


def build_run(settings: dict[str, Any], *, prompt: str, choices: dict[str, list[Any]], **run: Any) -> Job | Sweep:
    """One Job, or a Sweep when an option of ``choices`` (model, aspect_ratio, seed, steps, guidance →
    its values) holds several: every cell is a ``build_job`` with the same ``run`` options."""
    client = build_client(settings, tuple(m or settings["default_model"] for m in choices.get("model", [None])),
                          **run)  # one for every cell
    run = {**run, "handover": build_handover(settings, client)}  # one per run: its jobs follow each other

    def job_for(chosen: dict[str, Any]) -> Job:
        return build_job(settings, model=chosen.get("model"), prompt=prompt, client=client,
                         **{k: v for k, v in chosen.items() if k != "model"}, **run)

    sweep = make_sweep(job_for, choices)
    return sweep if sweep is not None else job_for({k: v[0] for k, v in choices.items()})


def build_batch(settings: dict[str, Any], *, template: str, rows: list[dict[str, Any]], model: str | None = None,
                seed: int | None = None, **run: Any) -> Batch:
    """A Batch: ``template`` over the items (``batch.items_of``), one ``build_job`` per item with the item's
    own seed (derived from ``seed``, 0 when not given, so that a rerun asks for the same images)."""
    model = model or settings["default_model"]
    client = build_client(settings, (model,), **run)  # one for every item: the Spaces and the identity resolved once
    run = {**run, "handover": build_handover(settings, client)}  # one per run: its jobs follow each other
    first = build_job(settings, model=model, prompt="x", client=client, **run)  # the model and options checked once
    if first.spec.chats:
        raise InvalidOption(f"{said(first.policy.words, 'each')} makes images; {model} answers questions")
    return make_batch(lambda prompt, s: build_job(settings, model=model, prompt=prompt, seed=s, client=client, **run),
                      template, rows, seed, first.spec.seeds, first.policy.words)


def build_question_batch(settings: dict[str, Any], *, question: str, sources: list[Any], model: str | None = None,
                         seed: int | None = None, **run: Any) -> Batch:
    """One question over many images (``sources``: name and loader of each), one conversation per image."""
    model = model or settings["default_model"]
    client = build_client(settings, (model,), **run)
    run = {**run, "handover": build_handover(settings, client)}  # one per run: its jobs follow each other
    first = build_job(settings, model=model, prompt=question or "x", client=client, **run)
    if not first.spec.chats:
        raise InvalidOption(f"{said(first.policy.words, 'image')} is read by janus-pro-7b only; {model} makes images "
                            "from text")
    return make_question_batch(lambda s: build_job(settings, model=model, prompt=question, seed=s, client=client,
                                                   **run), question, sources, seed, first.spec.seeds,
                               first.policy.words)


def _sized(model: str) -> bool:
    try:
        return G4F.model(model).sized
    except G4FError:
        return True  # the Job says what is wrong with the model


def _standing_in(model: str, names: str, seed: int | None, count: int) -> tuple[str, ...]:
    """The ``fallback`` setting's models that make what ``model`` makes and take its seeds. The setting
    holds for every run; ``--fallback`` is checked strictly (a wrong one is an error)."""
    try:
        chats = G4F.model(model).chats
    except G4FError:
        return ()  # the Job says what is wrong with the model
    kept = []
    for name in (m.strip() for m in names.split(",")):
        if not name or name == model or name not in G4F.routes:
            continue
        other = G4F.model(name)
        if other.chats != chats or (seed is not None and seed + count - 1 > other.seeds[1]):
            continue
        kept.append(name)
    return tuple(kept)
