"""One rule for what a model cannot take (issue #24, item 2): refused before anything is sent, with what it
takes; a setting that does not apply to the model is not held against it."""

from __future__ import annotations

from typing import Any

import pytest

from g4f_magic.engine.plan import build_job
from g4f_magic.errors import InvalidOption
from g4f_magic.spaces.sizes import rounding

SETTINGS: dict[str, Any] = {"default_model": "flux", "aspect_ratio": "16:9", "fallback": "janus-pro-7b-image",
                            "timeout": 300.0, "replay": False}


@pytest.mark.parametrize("count", [0, -1, 17])
def test_a_count_out_of_range_is_refused_not_changed(count: int) -> None:
    with pytest.raises(InvalidOption, match=f"^count must be from 1 to 16; got {count}$"):
        build_job(SETTINGS, prompt="a fox", count=count)


@pytest.mark.parametrize("run", [{"aspect_ratio": "16:9"}, {"width": 512}, {"height": 512, "width": 512}])
@pytest.mark.parametrize("model", ["janus-pro-7b-image", "janus-pro-7b"])
def test_a_size_for_a_model_that_takes_none_is_refused(model: str, run: dict[str, Any]) -> None:
    with pytest.raises(InvalidOption) as refused:
        build_job(SETTINGS, model=model, prompt="a fox", **run)
    assert str(refused.value) == (f"{model} takes no size or aspect ratio (it chooses its own); "
                                  "those are for the flux models")


def test_the_settings_ratio_applies_to_the_models_that_take_one() -> None:
    janus = build_job(SETTINGS, model="janus-pro-7b-image", prompt="a fox", seed=1000)
    assert janus.request_for("janus-pro-7b-image", 1000).width is None  # its own size; no refusal
    flux = build_job(SETTINGS, prompt="a fox", seed=1000)  # the fallback stands in at its own size
    assert (flux.request_for("flux", 1000).width, flux.request_for("flux", 1000).height) == (1360, 760)
    assert flux.policy.fallback == ("janus-pro-7b-image",) and flux.request_for("janus-pro-7b-image", 1000).width is None


def test_a_rounded_side_is_said() -> None:
    assert rounding(1001, 1001, (1000, 1000)) == "1001x1001 rounded to 1000x1000 (sides are multiples of 8)"
    assert rounding(1001, None, (1000, 560)) == "width 1001 rounded to 1000 (sides are multiples of 8)"
    assert rounding(None, 999, (1776, 992)) == "height 999 rounded to 992 (sides are multiples of 8)"
    assert rounding(1024, 1024, (1024, 1024)) == "" and rounding(None, None, (1360, 760)) == ""


@pytest.mark.parametrize("kind", ["job", "sweep", "batch"])
def test_an_image_for_a_run_that_reads_none_is_refused_not_ignored(kind: str) -> None:
    """A question's image given to a run of image models (one job, a sweep, a batch) is refused before any request,
    in the words of the front end that made the run; it was silently dropped by a sweep and a batch."""
    import asyncio

    from g4f_magic.engine.plan import build_batch, build_run
    from g4f_magic.engine.run import run_job

    words = {"image": "--image"}
    if kind == "batch":
        run: Any = build_batch(SETTINGS, template="{item}", rows=[{"item": "fox"}, {"item": "owl"}], words=words)
        expected = "--image: a batch reads each item's own image"
    else:
        seeds = [1, 2] if kind == "sweep" else [1]
        run = build_run(SETTINGS, prompt="a fox", words=words, choices={"model": ["flux"], "seed": seeds})
        expected = f"--image is read by janus-pro-7b only; {'a sweep' if kind == 'sweep' else 'flux'} makes images from text"
    with pytest.raises(InvalidOption) as refused:
        asyncio.run(run_job(run, view=None, image=b"\x89PNG"))  # type: ignore[arg-type]  # refused before any view
    assert str(refused.value) == expected
