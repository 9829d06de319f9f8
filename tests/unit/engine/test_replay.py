"""The replay store on disk: entries come back byte for byte, damaged and half-written ones are
discarded, eviction keeps the bound."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from g4f_magic.engine.replay import ReplayStore, request_key

PNGISH = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


# -- the store on its own ------------------------------------------------------------------------
def test_an_entry_comes_back_byte_for_byte(tmp_path: Path) -> None:
    store = ReplayStore(tmp_path)
    key = request_key({"prompt": "a fox", "seed": 1})
    assert store.get(key) is None
    store.put(key, {"prompt": "a fox"}, [("image/webp", PNGISH), ("image/png", b"second")], created=1000.0)
    entry = store.get(key)
    assert entry is not None and entry.result == {"prompt": "a fox"} and entry.created == 1000.0
    assert entry.parts == [("image/webp", PNGISH), ("image/png", b"second")]
    assert store.stats() == (1, (tmp_path / f"{key}.g4f").stat().st_size)
    # the key is the whole request: any field changes it, the order of fields does not
    assert request_key({"seed": 1, "prompt": "a fox"}) == key != request_key({"prompt": "a fox", "seed": 2})


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_a_damaged_entry_is_discarded_with_one_warning(tmp_path: Path, damage: str) -> None:
    warnings: list[str] = []
    store = ReplayStore(tmp_path, warn=warnings.append)
    store.put("k", {"prompt": "p"}, [("image/webp", PNGISH)])
    path = tmp_path / "k.g4f"
    raw = path.read_bytes()
    path.write_bytes({"truncate": raw[:-100], "flip": raw[:-1] + bytes([raw[-1] ^ 1]),
                      "garbage": b"\x00\xff" * 50, "empty": b""}[damage])
    assert store.get("k") is None  # never an exception
    assert len(warnings) == 1 and "damaged" in warnings[0] and "\n" not in warnings[0]
    assert not path.exists()  # gone, so the next run stores a good one
    assert store.get("k") is None and len(warnings) == 1


def test_a_half_written_entry_is_never_replayed(tmp_path: Path) -> None:
    store = ReplayStore(tmp_path)
    store.put("k", {"prompt": "p"}, [("image/webp", PNGISH)])
    good = (tmp_path / "k.g4f").read_bytes()
    # a writer that died mid-way leaves its temporary file, never a file under the key's name
    (tmp_path / ".tmp-dead.g4f").write_bytes(good[: len(good) // 2])
    entry = store.get("k")
    assert entry is not None and entry.parts[0][1] == PNGISH
    assert store.stats() == (1, len(good))  # temporaries are not entries
    old = time.time() - 7200
    os.utime(tmp_path / ".tmp-dead.g4f", (old, old))
    store.evict()
    assert not (tmp_path / ".tmp-dead.g4f").exists()  # a dead writer's leftovers go in time


def test_eviction_keeps_the_bound_and_the_recently_used(tmp_path: Path) -> None:
    one = len(PNGISH) + 200  # an entry with its header, about
    store = ReplayStore(tmp_path, max_bytes=5 * one)
    for i in range(4):
        store.put(f"k{i}", {"i": i}, [("image/webp", PNGISH)])
        past = time.time() - 100 + i
        os.utime(tmp_path / f"k{i}.g4f", (past, past))
    assert store.get("k0") is not None  # used now: the newest, though written first
    for i in range(4, 12):
        store.put(f"k{i}", {"i": i}, [("image/webp", PNGISH)])
        entries, size = store.stats()
        assert size <= store.max_bytes, (entries, size)
    names = {p.stem for p in tmp_path.glob("*.g4f")}
    assert "k11" in names and "k1" not in names and "k2" not in names
    assert store.clear() == len(names) and store.stats() == (0, 0)
