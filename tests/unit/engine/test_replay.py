"""The replay store on disk: entries come back byte for byte, damaged and half-written ones are
discarded, eviction keeps the bound."""

from __future__ import annotations

import fcntl  # POSIX: the store's dead-writer test and its owners are POSIX's
import os
import time
from pathlib import Path

import pytest

from g4f_magic.engine.replay import ReplayStore, _unsafe, request_key

PNGISH = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40  # what the store checks: the magic number, not more
WEBPISH = b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(range(256)) * 4


# -- the store on its own ------------------------------------------------------------------------
def test_an_entry_comes_back_byte_for_byte(tmp_path: Path) -> None:
    store = ReplayStore(tmp_path)
    key = request_key({"prompt": "a fox", "seed": 1})
    assert store.get(key) is None
    store.put(key, {"prompt": "a fox"}, [("image/webp", WEBPISH), ("image/png", PNGISH)], created=1000.0)
    entry = store.get(key)
    assert entry is not None and entry.result == {"prompt": "a fox"} and entry.created == 1000.0
    assert entry.parts == [("image/webp", WEBPISH), ("image/png", PNGISH)]
    assert store.stats() == (1, (tmp_path / f"{key}.g4f").stat().st_size)
    # the key is the whole request: any field changes it, the order of fields does not
    assert request_key({"seed": 1, "prompt": "a fox"}) == key != request_key({"prompt": "a fox", "seed": 2})


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_a_damaged_entry_is_discarded_with_one_warning(tmp_path: Path, damage: str) -> None:
    warnings: list[str] = []
    store = ReplayStore(tmp_path, warn=warnings.append)
    store.put("k", {"prompt": "p"}, [("image/png", PNGISH)])
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
    store.put("k", {"prompt": "p"}, [("image/png", PNGISH)])
    good = (tmp_path / "k.g4f").read_bytes()
    # a writer that died mid-way leaves its temporary file, never a file under the key's name
    (tmp_path / ".tmp-dead.g4f").write_bytes(good[: len(good) // 2])
    entry = store.get("k")
    assert entry is not None and entry.parts[0][1] == PNGISH
    assert store.stats()[0] == 1  # temporaries are not entries


def _aged(path: Path, seconds: float = 10.0) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_a_dead_writers_temporary_file_goes_at_the_next_open_and_a_live_ones_counts(tmp_path: Path) -> None:
    store = ReplayStore(tmp_path, max_bytes=310_000)
    store.put("k", {"prompt": "p"}, [("image/png", PNGISH)])
    dead, live = tmp_path / ".tmp-dead.g4f", tmp_path / ".tmp-live.g4f"
    dead.write_bytes(b"x" * 200_000)  # kill -9 mid-write: nobody holds its lock
    live.write_bytes(b"y" * 200_000)
    holder = os.open(live, os.O_RDONLY)  # another kernel still writing holds its lock
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        _aged(dead), _aged(live)
        reopened = ReplayStore(tmp_path, max_bytes=310_000)
        entries, size = reopened.stats()
        assert not dead.exists() and live.exists()  # gone at the open, not an hour later
        assert entries == 1 and size == 200_000 + (tmp_path / "k.g4f").stat().st_size  # the live one counts
        reopened.put("k2", {"prompt": "q"}, [("image/png", PNGISH * 10)])
        # over the bound with the live writer's bytes counted: the least recently used entry went
        assert reopened.stats()[1] <= 310_000 and not (tmp_path / "k.g4f").exists() and live.exists()
    finally:
        os.close(holder)  # the writer dies
    assert ReplayStore(tmp_path).stats() == (1, (tmp_path / "k2.g4f").stat().st_size) and not live.exists()


def test_a_write_does_not_scan_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #25: a write cost a scan of the whole folder (about 230 ms at 20,000 entries). Now the store keeps
    the folder's size from its last scan plus its own writes: it scans when that passes the bound, or every
    RESCAN_EVERY writes for what other kernels wrote, and an eviction goes down to LOW_WATER of the bound."""
    from g4f_magic.engine import replay

    scans = []
    real = os.scandir
    monkeypatch.setattr(replay.os, "scandir", lambda path: scans.append(path) or real(path))
    one = len(PNGISH) + 200
    store = ReplayStore(tmp_path, max_bytes=1000 * one)
    for i in range(600):
        store.put(f"k{i}", {"i": i}, [("image/png", PNGISH)])
    assert len(scans) == 1 + 600 // replay.RESCAN_EVERY  # the open, then one per RESCAN_EVERY writes
    small = ReplayStore(tmp_path / "small", max_bytes=50 * one)
    scans.clear()
    for i in range(200):
        small.put(f"k{i}", {"i": i}, [("image/png", PNGISH)])
        assert small.stats()[1] <= small.max_bytes
    evictions = len(scans) - 1 - 200  # stats() scans each time; the open once
    assert 1 <= evictions <= 200 // (50 * (1 - replay.LOW_WATER)) + 1, evictions  # every ~5 writes, not every one
    assert ReplayStore.shared(tmp_path) is ReplayStore.shared(str(tmp_path)) is not ReplayStore.shared(tmp_path / "x")


def test_eviction_keeps_the_bound_and_the_recently_used(tmp_path: Path) -> None:
    one = len(PNGISH) + 200  # an entry with its header, about
    store = ReplayStore(tmp_path, max_bytes=5 * one)
    for i in range(4):
        store.put(f"k{i}", {"i": i}, [("image/png", PNGISH)])
        past = time.time() - 100 + i
        os.utime(tmp_path / f"k{i}.g4f", (past, past))
    assert store.get("k0") is not None  # used now: the newest, though written first
    for i in range(4, 12):
        store.put(f"k{i}", {"i": i}, [("image/png", PNGISH)])
        entries, size = store.stats()
        assert size <= store.max_bytes, (entries, size)
    names = {p.stem for p in tmp_path.glob("*.g4f")}
    assert "k11" in names and "k1" not in names and "k2" not in names
    assert store.clear() == len(names) and store.stats() == (0, 0)


# -- an entry is untrusted input -----------------------------------------------------------------
def _forged(path: Path, header: dict, body: bytes) -> None:
    import json

    path.write_bytes(json.dumps(header).encode() + b"\n" + body)


def _part(mime: str, data: bytes) -> dict:
    import hashlib

    return {"mime": mime, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


@pytest.mark.parametrize("header, body, why", [
    ({"v": 1, "created": 1.0, "result": {}, "parts": [_part('image/png" onerror="alert(1)', PNGISH)]}, PNGISH,
     "not an image type"),
    ({"v": 1, "created": 1.0, "result": {}, "parts": [_part("text/html", b"<script>")]}, b"<script>", "not an image"),
    ({"v": 1, "created": 1.0, "result": {}, "parts": [_part("image/png", b"<svg onload=x>")]}, b"<svg onload=x>",
     "is not"),
    ({"v": 1, "created": 1.0, "result": {}, "parts": [{"mime": "image/png", "size": "12", "sha256": "x"}]}, b"",
     "size"),
    ({"v": 1, "created": "yesterday", "result": {}, "parts": []}, b"", "date"),
    ({"v": 1, "created": 1.0, "result": [], "parts": []}, b"", "result"),
    ({"v": 1, "created": 1.0, "result": {}, "parts": {"a": 1}}, b"", "parts"),
])
def test_a_forged_entry_is_discarded_with_one_warning(tmp_path: Path, header: dict, body: bytes, why: str) -> None:
    warnings: list[str] = []
    store = ReplayStore(tmp_path, warn=warnings.append)
    _forged(tmp_path / "k.g4f", header, body)
    assert store.get("k") is None
    assert len(warnings) == 1 and why in warnings[0] and "\n" not in warnings[0] and "onerror" not in warnings[0]
    assert not (tmp_path / "k.g4f").exists()


def test_what_the_reader_refuses_is_discarded_too(tmp_path: Path) -> None:
    warnings: list[str] = []
    store = ReplayStore(tmp_path, warn=warnings.append)
    store.put("k", {"seed": "12"}, [])

    def read(entry):  # the engine's own check of the fields
        if type(entry.result["seed"]) is not int:
            raise TypeError("seed is a str")
        return entry

    assert store.get("k", read) is None and len(warnings) == 1 and "seed is a str" in warnings[0]
    assert not (tmp_path / "k.g4f").exists()


def test_a_symlink_planted_as_an_entry_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "elsewhere"
    secret.write_bytes(b"not yours")
    store = ReplayStore(tmp_path / "store", warn=lambda line: None)
    store.put("other", {}, [])
    (tmp_path / "store" / "k.g4f").symlink_to(secret)
    assert store.get("k") is None and secret.read_bytes() == b"not yours"


def test_the_folder_is_made_0700_with_the_parents_it_needs(tmp_path: Path) -> None:
    folder = tmp_path / "cache" / "g4f_magic" / "replay"
    ReplayStore(folder).put("k", {}, [])
    for made in (folder, folder.parent, folder.parent.parent):
        assert made.stat().st_mode & 0o777 == 0o700, made
    assert ReplayStore(tmp_path / "none").get("k") is None and not (tmp_path / "none").exists()  # reading makes nothing


def _another_user() -> int:
    return 65534 if os.getuid() != 65534 else 65533


def test_a_folder_of_another_user_is_refused_with_one_warning(tmp_path: Path) -> None:
    if os.getuid() == 0:
        folder = tmp_path / "theirs"
        folder.mkdir()
        os.chown(folder, _another_user(), _another_user())
    else:
        folder = Path("/")  # root's
    warnings: list[str] = []
    store = ReplayStore(folder, warn=warnings.append)
    assert store.put("k", {}, []) is None and store.get("k") is None and store.stats() == (0, 0)
    assert warnings == [f"the replay store {folder} is not used: it belongs to another user"]
    assert not (folder / "k.g4f").exists()


def test_a_folder_reached_through_another_users_symlink_is_refused(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    link = tmp_path / "link"
    link.symlink_to(mine)
    me = os.getuid()
    if me == 0:
        os.chown(link, _another_user(), _another_user(), follow_symlinks=False)
    else:
        me = _another_user()  # the link is this user's: seen by another user, it is another user's
    assert _unsafe(link / "replay", True, me) == f"{link} is a symlink of another user"
    assert not (mine / "replay").exists()
    assert _unsafe(mine / "replay", True, os.getuid()) is None  # the same folder by its own path


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o757])
def test_a_folder_that_others_can_write_is_refused_with_one_warning(tmp_path: Path, mode: int) -> None:
    """Issue #35, item 4: a cache folder of one's own that the group or anyone may write (a shared /tmp cache)
    would replay what another user planted there: said once, not used; made private, it is used again."""
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(mode)
    warnings: list[str] = []
    store = ReplayStore(folder, warn=warnings.append)
    assert store.put("k", {}, []) is None and store.get("k") is None
    assert warnings == [f"the replay store {folder} is not used: others can write to it (mode {mode:o}; chmod "
                        "go-w makes it yours alone)"]
    assert not list(folder.iterdir())
    folder.chmod(0o755)
    assert ReplayStore(folder, warn=warnings.append).put("k", {}, []) is not None and len(warnings) == 1
