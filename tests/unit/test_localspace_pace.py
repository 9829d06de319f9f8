"""The local Space's pace (issue #24, item 3): by default it looks like a real Space; the tests ask for the fast
one. What it sends in that pace is checked over HTTP in tests/integration/test_wire.py."""

from __future__ import annotations

from g4f_magic.localspace import LocalSpace, Pace
from g4f_magic.localspace.__main__ import parse, space_for


def test_make_space_serves_a_real_spaces_pace_and_fast_is_asked_for() -> None:
    real = space_for(parse([])).pace
    assert real == Pace() == LocalSpace().pace
    assert real.queue >= 1.0 and real.ahead >= 2  # a queue the user sees count down
    assert 2.0 <= 28 * real.step <= 8.0 and real.stride == 1  # a few seconds of sampling, every step shown
    assert real.preview_steps(28) == set(range(1, 29))  # FLUX.1-dev yields a preview at every step
    fast = space_for(parse(["--fast"])).pace
    assert fast == Pace.fast() and fast.queue == 0 and fast.preview_steps(28) == {9, 19}
    tuned = space_for(parse(["--step-delay-ms", "3000", "--queue-ms", "0"])).pace
    assert (tuned.step, tuned.queue, tuned.stride) == (3.0, 0.0, 1)


def test_previews_are_spread_over_the_steps() -> None:
    assert Pace(previews=3).preview_steps(28) == {7, 14, 21}
    assert Pace(previews=2).preview_steps(1) == {1}  # never before the first step, never twice
