"""``make guards`` removes each hostile-input guard and checks that its tests notice. It can only do so while it
still finds each guard's code: a refactor that moves a guard must move its entry too, or the check goes stale."""

from __future__ import annotations

import pytest
from support.guards import GUARDS, ROOT


@pytest.mark.parametrize("name, rel, guarded, unguarded, tests", GUARDS, ids=[g[0] for g in GUARDS])
def test_each_guard_is_where_its_entry_says(name: str, rel: str, guarded: str, unguarded: str, tests: str) -> None:
    assert (ROOT / rel).read_text().count(guarded) == 1, f"{name}: its code is not in {rel} exactly once"
    assert guarded != unguarded
    for test in tests.split():
        assert (ROOT / test.split("::")[0]).is_file(), f"{name}: no test file {test}"
