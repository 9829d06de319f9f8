"""The replay store: a finished result is kept on disk, keyed by the whole request as sent, so that
running the same seeded cell again (Run All, a reader's rerun) costs no request and no GPU quota.

One file per request, named by the SHA-256 of the request's canonical JSON::

    {"v": 1, "created": …, "result": {…}, "parts": [{"mime": …, "size": …, "sha256": …}]}\\n<bytes…>

It is written to a temporary file in the same folder and renamed into place (``os.replace`` is atomic),
so another kernel reading or writing the same key sees the old entry or the new one, never half of
one. Each part's hash is checked on reading: a damaged entry is deleted with one warning line and the
request goes to the Space. The folder is kept under ``max_bytes`` by deleting the least recently used
entries (a replay touches its file's mtime). Pure: no network, no IPython.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

__all__ = ["ReplayStore", "Entry", "request_key", "replay_note", "default_dir", "CACHE_ENV", "MAX_BYTES", "VERSION"]

CACHE_ENV = "G4F_MAGIC_CACHE"
MAX_BYTES = 1 << 30  # 1 GiB: about 20,000 FLUX WebP images at ~50 KB
VERSION = 1
SUFFIX = ".g4f"
_STALE_TEMP = 3600.0  # seconds: a temporary file this old belongs to a writer that died


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

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}{SUFFIX}"

    # -- reading -------------------------------------------------------------------------------
    def get(self, key: str) -> Entry | None:
        """The entry, or None when there is none or it was damaged (then it is deleted, with a warning)."""
        path = self._path(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.warn(f"cannot read the replay entry {path.name} ({exc.strerror or exc}); generating anew")
            return None
        try:
            entry = _decode(raw)
        except (ValueError, KeyError, TypeError) as exc:
            self.warn(f"the replay entry {path.name} is damaged ({exc}); deleted, generating anew")
            _unlink(path)
            return None
        try:
            os.utime(path)  # least recently used goes first: a replay counts as a use
        except OSError:
            pass
        return entry

    # -- writing -------------------------------------------------------------------------------
    def put(self, key: str, result: dict[str, Any], parts: list[tuple[str, bytes]],
            created: float | None = None) -> Path | None:
        """Store atomically, then evict down to ``max_bytes``. A full disk loses the entry, not the run."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            data = _encode(result, parts, time.time() if created is None else created)
            import tempfile

            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=SUFFIX, dir=self.folder)
            try:
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
        self.evict()
        return self._path(key)

    def evict(self) -> int:
        """Delete the least recently used entries until the folder holds at most ``max_bytes``; the count."""
        entries = sorted(self._entries(), key=lambda e: e[1])
        total = sum(size for _, _, size in entries)
        gone = 0
        for path, _, size in entries:
            if total <= self.max_bytes:
                break
            if _unlink(path):
                gone += 1
            total -= size
        return gone

    def clear(self) -> int:
        """Delete every entry; the count."""
        return sum(_unlink(path) for path, _, _ in self._entries())

    def stats(self) -> tuple[int, int]:
        """(entries, bytes)."""
        sizes = [size for _, _, size in self._entries()]
        return len(sizes), sum(sizes)

    def _entries(self) -> Iterator[tuple[Path, float, int]]:
        """(path, mtime, size) of every entry; stale temporary files of dead writers are removed."""
        try:
            it = list(os.scandir(self.folder))
        except OSError:
            return
        now = time.time()
        for item in it:
            try:
                st = item.stat()
            except OSError:
                continue  # deleted meanwhile by another kernel
            if item.name.startswith(".tmp-"):
                if now - st.st_mtime > _STALE_TEMP:
                    _unlink(Path(item.path))
                continue
            if item.name.endswith(SUFFIX):
                yield Path(item.path), st.st_mtime, st.st_size


def _encode(result: dict[str, Any], parts: list[tuple[str, bytes]], created: float) -> bytes:
    header = {"v": VERSION, "created": created, "result": result,
              "parts": [{"mime": m, "size": len(b), "sha256": _sha256(b)} for m, b in parts]}
    return json.dumps(header, separators=(",", ":")).encode("utf-8") + b"\n" + b"".join(b for _, b in parts)


def _decode(raw: bytes) -> Entry:
    head, sep, body = raw.partition(b"\n")
    if not sep:
        raise ValueError("no header")
    header = json.loads(head)
    if header.get("v") != VERSION:
        raise ValueError(f"version {header.get('v')!r}")
    parts, at = [], 0
    for p in header["parts"]:
        chunk = body[at:at + int(p["size"])]
        at += len(chunk)
        if len(chunk) != p["size"] or _sha256(chunk) != p["sha256"]:
            raise ValueError("its bytes do not match their hash")
        parts.append((str(p["mime"]), chunk))
    if at != len(body):
        raise ValueError("trailing bytes")
    if not isinstance(header["result"], dict):
        raise TypeError("no result")
    return Entry(header["result"], parts, float(header["created"]))


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except OSError:
        return False
    return True


def replay_note(created: float) -> str:
    """``replayed (generated 2026-11-25 18:20)``: the status line says it is not new, and from when."""
    return f"replayed (generated {time.strftime('%Y-%m-%d %H:%M', time.localtime(created))})"
