"""The replay store: a finished result is kept on disk, keyed by the whole request as sent, so that
running the same seeded cell again (Run All, a reader's rerun) costs no request and no GPU quota.

One file per request, named by the SHA-256 of the request's canonical JSON::

    {"v": 1, "created": …, "result": {…}, "parts": [{"mime": …, "size": …, "sha256": …}]}\\n<bytes…>

It is written to a temporary file in the same folder and renamed into place (``os.replace`` is atomic),
so another kernel reading or writing the same key sees the old entry or the new one, never half of
one. An entry is read as untrusted input (another process, or another person, may have written it):
each part's hash, its media type (from a fixed list) and its magic number are checked here, and the
caller's ``read`` checks the rest (field types, pixel limits); anything else is deleted with one warning
line and the request goes to the Space. The folder is created 0700; one owned by another user, or reached
through another user's symlink, is refused (no replay, one warning). The folder is kept under
``max_bytes`` by deleting the least recently used entries (a replay touches its file's mtime), counting
the temporary files of writers still at work; a dead writer's temporary file (its lock is free) is
deleted at the next open. A write costs O(1) amortised: the store keeps the folder's size from its last
scan plus what it wrote since, scans only when that passes ``max_bytes`` or after ``RESCAN_EVERY`` writes
(other kernels write too), and then evicts down to ``LOW_WATER`` of the bound, so the next scan is
thousands of writes away. Pure: no network, no IPython.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar, cast

from ..errors import G4FError, one_line
from ..media import EXTENSIONS, image_mime
from ..untrusted_json import read_json

try:  # a writer holds a lock on its temporary file while it writes: a free lock means a dead writer
    import fcntl
except ImportError:  # Windows: dead writers are told by age alone
    fcntl = None  # type: ignore[assignment]

__all__ = ["ReplayStore", "Entry", "request_key", "replay_note", "default_dir", "CACHE_ENV", "MAX_BYTES", "VERSION"]

T = TypeVar("T")

CACHE_ENV = "G4F_MAGIC_CACHE"
MAX_BYTES = 1 << 30  # 1 GiB: about 20,000 FLUX WebP images at ~50 KB
VERSION = 1
SUFFIX = ".g4f"
_STALE_TEMP = 3600.0  # seconds: without locks, a temporary file this old belongs to a writer that died
_FRESH_TEMP = 2.0  # seconds: a temporary file younger than this may be between its creation and its lock
_TEMP = ".tmp-"
RESCAN_EVERY = 256  # writes between scans when under the bound: what other kernels wrote is seen by then
LOW_WATER = 0.9  # an eviction goes down to this fraction of max_bytes


def default_dir() -> Path:
    """``$G4F_MAGIC_CACHE``, else the platform's user cache folder (``~/.cache/g4f_magic/replay`` on Linux)."""
    override = os.environ.get(CACHE_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("g4f_magic", appauthor=False)) / "replay"


def _sha256(data: bytes) -> str:
    import hashlib  # here, not at import: %load_ext loads this module and should stay cheap

    return hashlib.sha256(data).hexdigest()


def request_key(request: dict[str, Any]) -> str:
    """The key of a request: its fields as canonical JSON (sorted keys), hashed."""
    text = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return _sha256(text.encode("utf-8"))


def _warn(line: str) -> None:
    print(f"g4f: warning: {line}", file=sys.stderr, flush=True)


class Entry:
    """A stored result: what the engine needs to rebuild it, its bytes (mime, bytes) per image, and when
    it was generated (epoch seconds)."""

    __slots__ = ("result", "parts", "created")

    def __init__(self, result: dict[str, Any], parts: list[tuple[str, bytes]], created: float) -> None:
        self.result, self.parts, self.created = result, parts, created


class ReplayStore:
    """The folder of entries. Every method is safe to call from several processes at once."""

    def __init__(self, folder: str | Path | None = None, max_bytes: int = MAX_BYTES,
                 warn: Callable[[str], None] = _warn) -> None:
        self.folder = Path(folder).expanduser() if folder else default_dir()
        self.max_bytes = max_bytes
        self.warn = warn
        self._usable: bool | None = None  # not yet opened
        self._size: int | None = None  # the folder's bytes at the last scan, plus this store's writes since
        self._writes = 0  # since that scan
        self._lock = threading.Lock()  # runs store from worker threads (asyncio.to_thread)

    @classmethod
    def shared(cls, folder: str | Path | None = None, max_bytes: int = MAX_BYTES) -> ReplayStore:
        """The process's store for ``folder``: one per kernel, so its size is scanned once, not per run."""
        path = Path(folder).expanduser() if folder else default_dir()
        with _SHARED_LOCK:
            store = _SHARED.get((str(path), max_bytes))
            if store is None:
                store = _SHARED[(str(path), max_bytes)] = cls(path, max_bytes)
            return store

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}{SUFFIX}"

    # -- the folder ------------------------------------------------------------------------------
    def _open(self, create: bool = False) -> bool:
        """Whether the folder may be used: once per store (again if it was deleted meanwhile), it is checked
        (and made, 0700, when ``create``), and the temporary files of dead writers are deleted. A refusal is
        said once."""
        if self._usable and create and not self.folder.is_dir():  # `rm -r` of the cache under a live kernel
            self._usable = None
        if self._usable is None:
            problem = _unsafe(self.folder, create)
            if problem == "":
                return False  # nothing there yet: nothing to replay
            self._usable = problem is None
            if problem:
                self.warn(f"the replay store {self.folder} is not used: {problem}")
            else:  # dead writers' temporaries go now, not an hour later
                self._size = sum(size for _, _, size in self._scan())
        return self._usable

    # -- reading -------------------------------------------------------------------------------
    def get(self, key: str, read: Callable[[Entry], T] = lambda entry: entry) -> T | None:  # type: ignore[assignment,return-value]
        """``read(entry)``, or None when there is no entry, or it is damaged or refused by ``read``
        (``ValueError``, ``TypeError``, ``G4FError``: then it is deleted, with one warning)."""
        if not self._open():
            return None
        path = self._path(key)
        try:
            raw = _read(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.warn(f"cannot read the replay entry {path.name} ({exc.strerror or exc}); generating anew")
            return None
        try:
            value = read(_decode(raw))
        except (ValueError, KeyError, TypeError, G4FError) as exc:
            self.warn(f"the replay entry {path.name} is damaged ({exc}); deleted, generating anew")
            _unlink(path)
            return None
        try:
            os.utime(path)  # least recently used goes first: a replay counts as a use
        except OSError:
            pass
        return value

    # -- writing -------------------------------------------------------------------------------
    def put(self, key: str, result: dict[str, Any], parts: list[tuple[str, bytes]],
            created: float | None = None) -> Path | None:
        """Store atomically, then evict down to ``max_bytes``. A full disk loses the entry, not the run."""
        if not self._open(create=True):
            return None
        try:
            data = _encode(result, parts, time.time() if created is None else created)
            import tempfile

            fd, tmp = tempfile.mkstemp(prefix=_TEMP, suffix=SUFFIX, dir=self.folder)
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX)  # released by the kernel when this process dies
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self._path(key))
            except BaseException:
                _unlink(Path(tmp))
                raise
        except OSError as exc:
            self.warn(f"cannot store the result for replay in {self.folder} ({exc.strerror or exc})")
            return None
        # an entry replaced is counted twice: the estimate errs high, which only brings the next scan closer
        with self._lock:
            self._size = (self._size or 0) + len(data)
            self._writes += 1
            due = self._size > self.max_bytes or self._writes >= RESCAN_EVERY
        if due:
            self.evict()
        return self._path(key)

    def evict(self) -> int:
        """Scan the folder; past ``max_bytes`` (live writers' temporary files counted), delete the least
        recently used entries down to ``LOW_WATER`` of it (the newest only if the bound needs it). The count
        deleted."""
        with self._lock:
            return self._evict()

    def _evict(self) -> int:
        found = list(self._scan())
        total = sum(size for _, _, size in found)
        gone = 0
        if total > self.max_bytes:
            entries = sorted((e for e in found if not e[0].name.startswith(_TEMP)), key=lambda e: e[1])
            for i, (path, _, size) in enumerate(entries):
                # the newest (most likely the entry just written) goes only when the bound itself needs it
                if total <= self.max_bytes * (1.0 if i == len(entries) - 1 else LOW_WATER):
                    break
                if _unlink(path):
                    gone += 1
                total -= size
        self._size, self._writes = total, 0
        return gone

    def clear(self) -> int:
        """Delete every entry; the count."""
        return sum(_unlink(path) for path, _, _ in self._entries())

    def stats(self) -> tuple[int, int]:
        """(entries, bytes), the bytes of live writers' temporary files included."""
        found = list(self._scan())
        return sum(not p.name.startswith(_TEMP) for p, _, _ in found), sum(size for _, _, size in found)

    def _entries(self) -> Iterator[tuple[Path, float, int]]:
        """(path, mtime, size) of every entry."""
        return (e for e in self._scan() if not e[0].name.startswith(_TEMP))

    def _scan(self) -> Iterator[tuple[Path, float, int]]:
        """(path, mtime, size) of every entry and of every live writer's temporary file; a dead writer's
        temporary file is deleted on the way."""
        if not self._open():
            return
        try:
            it = list(os.scandir(self.folder))
        except OSError:
            return
        now = time.time()
        for item in it:
            try:
                st = item.stat(follow_symlinks=False)
            except OSError:
                continue  # deleted meanwhile by another kernel
            if item.name.startswith(_TEMP):
                if _dead_writer(item.path, now - st.st_mtime):
                    _unlink(Path(item.path))
                    continue
                yield Path(item.path), st.st_mtime, st.st_size
            elif item.name.endswith(SUFFIX):
                yield Path(item.path), st.st_mtime, st.st_size


_SHARED: dict[tuple[str, int], ReplayStore] = {}
_SHARED_LOCK = threading.Lock()


def _uid() -> int | None:
    getuid = getattr(os, "getuid", None)
    return getuid() if getuid is not None else None  # Windows: no owners to compare


def _unsafe(folder: Path, create: bool, me: int | None = _uid()) -> str | None:
    """Why ``folder`` must not hold replay entries (as user ``me``); ``""`` when it does not exist (and is
    not to be made), None when it may be used. Entries replayed from a folder another user can write are
    that user's words in this user's notebook."""
    folder = Path(os.path.abspath(folder))
    at = Path(folder.anchor)
    for part in folder.parts[1:]:
        at = at / part
        try:
            st = os.lstat(at)
        except FileNotFoundError:
            if not create:
                return ""
            try:
                os.mkdir(at, 0o700)
            except FileExistsError:  # another kernel made it meanwhile
                pass
            except OSError as exc:
                return f"it cannot be made ({exc.strerror or exc})"
            st = os.lstat(at)
        except OSError as exc:
            return f"it cannot be read ({exc.strerror or exc})"
        if me is not None and _is_link(st) and st.st_uid not in (me, 0):
            return f"{at} is a symlink of another user"
    try:
        st = os.stat(folder)
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"
    if not os.path.isdir(folder):
        return "it is not a folder"
    if me is not None and st.st_uid != me:
        return "it belongs to another user"
    if me is not None and st.st_mode & 0o022:  # a shared /tmp cache: the group or anyone may plant entries
        return f"others can write to it (mode {st.st_mode & 0o777:o}; chmod go-w makes it yours alone)"
    return None


def _is_link(st: os.stat_result) -> bool:
    import stat

    return stat.S_ISLNK(st.st_mode)


def _dead_writer(path: str, age: float) -> bool:
    """Whether the temporary file at ``path`` was left by a writer that died (``kill -9``, a full disk)."""
    if fcntl is None:
        return age > _STALE_TEMP
    if age < _FRESH_TEMP:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # a live writer holds it
    finally:
        os.close(fd)  # closing releases the lock taken
    return True


def _read(path: Path) -> bytes:
    """The file's bytes; a symlink planted in the folder is not followed."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _encode(result: dict[str, Any], parts: list[tuple[str, bytes]], created: float) -> bytes:
    header = {"v": VERSION, "created": created, "result": result,
              "parts": [{"mime": m, "size": len(b), "sha256": _sha256(b)} for m, b in parts]}
    return json.dumps(header, separators=(",", ":")).encode("utf-8") + b"\n" + b"".join(b for _, b in parts)


def _decode(raw: bytes) -> Entry:
    head, sep, body = raw.partition(b"\n")
    if not sep:
        raise ValueError("no header")
    header = read_json(head, "its header")
    if not isinstance(header, dict):
        raise TypeError("its header is not an object")
    if header.get("v") != VERSION:
        raise ValueError(f"version {one_line(header.get('v'), 20)}")
    if not isinstance(header.get("parts"), list):
        raise TypeError("no parts")
    parts, at = [], 0
    for p in header["parts"]:
        size = p.get("size") if isinstance(p, dict) else None
        if type(size) is not int or size < 0:
            raise TypeError("a part without a size")
        chunk = body[at:at + size]
        at += len(chunk)
        if len(chunk) != size or _sha256(chunk) != p.get("sha256"):
            raise ValueError("its bytes do not match their hash")
        mime = p.get("mime")
        if mime not in EXTENSIONS:
            raise ValueError("a part that is not an image type this package shows")
        if image_mime(chunk) != mime:
            raise ValueError(f"a part said to be {mime} is not")
        parts.append((mime, chunk))
    if at != len(body):
        raise ValueError("trailing bytes")
    if not isinstance(header.get("result"), dict):
        raise TypeError("no result")
    created = header.get("created")
    if type(created) not in (int, float):
        raise TypeError("no date")
    return Entry(header["result"], parts, float(cast(float, created)))


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except OSError:
        return False
    return True


def replay_note(created: float) -> str:
    """``replayed (generated 2026-11-25 18:20)``: the status line says it is not new, and from when."""
    return f"replayed (generated {time.strftime('%Y-%m-%d %H:%M', time.localtime(created))})"
