"""A server's run slots learn what it runs at once (issue #36, item 1): two in flight at first; twice as many each
time every run in flight is seen running; once runs wait at the server, what it runs plus what keeps it fed, up to
the space_concurrency ceiling."""

from __future__ import annotations

import asyncio

import pytest

from g4f_magic.gradio.calls import FIRST_SLOTS, RunSlots


async def holders(slots: RunSlots, n: int) -> tuple[list[asyncio.Task[None]], asyncio.Event, list[int]]:
    """``n`` runs that each take a slot and hold it until ``release`` is set; ``inside``: who got in, in order."""
    release, inside = asyncio.Event(), []

    async def run(i: int) -> None:
        async with slots:
            inside.append(i)
            await release.wait()

    tasks = [asyncio.ensure_future(run(i)) for i in range(n)]
    for _ in range(3):
        await asyncio.sleep(0)  # every task has tried its slot (no timer: a turn of the loop each)
    return tasks, release, inside


async def test_two_at_first_then_twice_as_many_until_runs_wait_at_the_server() -> None:
    slots = RunSlots(16)
    tasks, release, inside = await holders(slots, 12)
    assert inside == [0, 1] and slots.limit == FIRST_SLOTS == 2
    slots.saw_running(1, waiting=1)  # a server that runs one at a time: one running, one queued, no more
    await asyncio.sleep(0)
    assert inside == [0, 1] and slots.limit == 2
    slots.saw_running(2)  # both run at once: it may take more than it was given, twice as many are sent
    await asyncio.sleep(0)
    assert inside == [0, 1, 2, 3] and slots.limit == 4
    slots.saw_running(2)  # the new ones' joins are on their way: nothing is known yet
    slots.saw_running(3)
    assert slots.limit == 4
    slots.saw_running(4)  # all four run: eight
    await asyncio.sleep(0)
    assert inside == list(range(8)) and slots.limit == 8 and slots.held == 8
    slots.saw_running(4, waiting=4)  # four run, the rest wait at the server: it runs four, and four queued
    assert slots.limit == 8 and slots.held == 8
    slots.saw_join(0.1)
    slots.saw_run(0.05)  # every run ends before a freed slot's join arrives: more queued
    assert slots.limit == 4 + 8
    slots.saw_run(30.0)
    slots.saw_running(4, waiting=9)  # slow runs again: back to four queued, what was sent keeps its slots
    assert slots.limit == 8 and slots.held == 12
    slots.saw_running(3, waiting=9)  # fewer than seen before: what it was seen running is kept
    assert slots.limit == 8
    release.set()
    await asyncio.gather(*tasks)
    assert inside == list(range(12)) and slots.held == 0


@pytest.mark.parametrize("ceiling, first, most", [(1, 1, 1), (3, 2, 3)])
async def test_the_setting_is_the_ceiling(ceiling: int, first: int, most: int) -> None:
    slots = RunSlots(ceiling)
    tasks, release, inside = await holders(slots, 6)
    assert len(inside) == first
    slots.saw_running(len(inside))
    await asyncio.sleep(0)
    assert len(inside) == most == slots.limit
    release.set()
    await asyncio.gather(*tasks)


async def test_a_run_stopped_while_waiting_takes_no_slot_and_hands_its_turn_on() -> None:
    slots = RunSlots(16)
    tasks, release, inside = await holders(slots, 4)
    tasks[2].cancel()  # waiting: it leaves the line
    await asyncio.sleep(0)
    slots.saw_running(2)
    await asyncio.sleep(0)
    assert inside == [0, 1, 3] and slots.held == 3
    release.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert slots.held == 0 and tasks[2].cancelled()


async def test_a_run_stopped_just_as_its_turn_came_gives_the_slot_to_the_next() -> None:
    slots = RunSlots(16)
    tasks, release, inside = await holders(slots, 4)
    slots.saw_running(2)  # run 2's turn is resolved; it has not run yet
    tasks[2].cancel()  # and is stopped before it does
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert inside == [0, 1, 3] and slots.held == 3
    release.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert slots.held == 0


def test_runs_that_end_faster_than_a_join_comes_keep_more_queued_on_a_server_that_runs_several() -> None:
    slots = RunSlots(32)
    slots.saw_join(0.1)
    slots.saw_running(4, waiting=2)
    assert slots.limit == 4 + 4  # runs that started together end together: four queued behind the four
    slots.saw_run(0.05)  # four at once, each over in 50 ms; a freed slot's next join takes 100 ms to come
    assert slots.limit == 4 + 8
    slots.saw_run(30.0)  # slow runs: four queued are enough (what was given stays)
    assert slots.limit == 12


def test_a_server_that_runs_one_at_a_time_keeps_one_queued_however_fast() -> None:
    slots = RunSlots(16)
    slots.saw_join(0.5)
    slots.saw_running(1, waiting=1)
    slots.saw_running(1)
    slots.saw_run(0.01)  # runs far shorter than a join's round trip: still one running and one queued
    assert slots.limit == FIRST_SLOTS


def test_a_server_found_on_zerogpu_is_held_to_two_whatever_was_learned() -> None:
    slots = RunSlots(16)
    slots.saw_running(4, waiting=1)
    assert slots.limit == 8
    slots.pin()  # a ZeroGPU toast or refusal: runs seen "at once" may be waiting for the one GPU
    assert slots.limit == FIRST_SLOTS
    slots.saw_running(6)
    slots.saw_running(6, waiting=2)
    slots.saw_join(1.0)
    slots.saw_run(0.1)
    assert slots.limit == FIRST_SLOTS
