"""The suite-wide secrets scan.

Every credential the tests use contains ``MARK``; the ZeroGPU tokens a local Space issues are added as
they are issued. ``conftest`` feeds the scanner every log record, every project exception message,
every captured stdout/stderr/display, every widget state sent to a front end and, after each test, the
reprs of the package's live objects; ``kernels`` feeds it everything a kernel sends and every saved
notebook. A hit fails the test it happened in; the run ends with a one-line summary.
"""

from __future__ import annotations

import enum
import functools
import gc
import itertools
import json
import re
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

MARK = "TESTSECRET"
TOKEN = f"hf_{MARK}_token_5b1e9c"  # the HF token / api_key most tests use
COOKIE = f"{MARK}_cookie_8d04aa"  # the hub cookie value


def secret(name: str) -> str:
    """Another test credential, for tests that must tell several apart."""
    return f"hf_{MARK}_{name}"


def _ours(kind: type) -> bool:
    module = kind.__dict__.get("__module__")  # not getattr: a metaclass answers with a descriptor
    # (the local Space keeps what it received, by design)
    return isinstance(module, str) and module.startswith("g4f_magic") and ".localspace" not in module


@dataclass
class Hit:
    channel: str
    where: str
    context: str  # the text around the hit, with the secret itself masked


@dataclass
class Scanner:
    texts: int = 0
    chars: int = 0
    channels: Counter = field(default_factory=Counter)
    found: int = 0
    planted: int = 0  # hits the scanner's own tests planted and caught
    # what it looks for stays out of its repr (a failing test prints it)
    hits: list[Hit] = field(default_factory=list, repr=False)
    spaces: list[Any] = field(default_factory=list, repr=False)  # live LocalSpaces: their tokens are secrets
    retired: set[str] = field(default_factory=set, repr=False)  # tokens issued by Spaces that have stopped
    _known: frozenset[str] = field(default=frozenset(), repr=False)
    _live: dict[int, Any] = field(default_factory=dict, repr=False)  # id → weak reference
    _pattern: re.Pattern[str] = field(default=re.compile(rf"[\w-]*{MARK}[\w-]*"), repr=False)

    def _secrets(self) -> re.Pattern[str]:
        issued = self.retired.union(*(s.tokens_issued for s in self.spaces))
        if issued != self._known:
            self._known = frozenset(issued)
            # a JWT's signature is what makes it a credential; its header/payload are public-ish
            parts = [rf"[\w-]*{MARK}[\w-]*"] + [re.escape(t.rsplit(".", 1)[-1]) for t in issued if "." in t]
            self._pattern = re.compile("|".join(parts))
        return self._pattern

    def scan(self, channel: str, text: Any, where: str = "") -> None:
        text = text if isinstance(text, str) else str(text)
        self.texts += 1
        self.chars += len(text)
        self.channels[channel] += 1
        pattern = self._secrets()
        for m in pattern.finditer(text):
            around = text[max(0, m.start() - 40): m.end() + 40]
            self.hits.append(Hit(channel, where, pattern.sub("<SECRET>", around)))

    def track_classes(self, modules: Iterable[Any]) -> None:
        """Make every instance of the package's classes known to the scan as it is made.

        The per-test scan then looks at the package's live objects only, not at the few hundred
        thousand objects of a test process (that walk cost about 100 ms a test). Instances made without
        ``__init__`` (copy, pickle) are caught by :meth:`scan_all` at the end of the session.
        """
        for module in modules:
            for kind in list(vars(module).values()):
                if (isinstance(kind, type) and kind.__module__ == module.__name__ and _ours(kind)
                        and not issubclass(kind, enum.Enum) and not getattr(kind, "_is_protocol", False)
                        and kind.__dict__.get("__total__") is None):  # not a TypedDict
                    kind.__init__ = self._tracking(kind.__init__)  # type: ignore[misc]

    def _tracking(self, init: Any) -> Any:
        if init is object.__init__:  # a str subclass: its arguments went to __new__
            def __init__(obj: Any, *args: Any, **kwargs: Any) -> None:
                self.track(obj)
            return __init__

        @functools.wraps(init)
        def __init__(obj: Any, *args: Any, **kwargs: Any) -> None:  # noqa: F811
            init(obj, *args, **kwargs)
            self.track(obj)
        return __init__

    def track(self, obj: Any) -> None:
        key = id(obj)
        try:
            self._live[key] = weakref.ref(obj, lambda _ref: self._live.pop(key, None))
        except TypeError:  # no weak references: a str subclass, immutable, so one look now is enough
            self._scan_object(obj)

    def scan_objects(self) -> None:
        """The repr and str of every live object of the package (after each test)."""
        for ref in list(self._live.values()):
            obj = ref()
            if obj is not None:
                self._scan_object(obj)

    def scan_all(self) -> None:
        """The same over every object the garbage collector knows (the session's end, the self-test)."""
        objects = gc.get_objects()
        ours = {kind for kind in set(map(type, objects)) if _ours(kind)}
        for obj in itertools.compress(objects, map(ours.__contains__, map(type, objects))):
            self._scan_object(obj)

    def _scan_object(self, obj: Any) -> None:
        # str() of a str subclass (the magic's Secret) is the value itself, by design: repr only
        for render in (repr,) if isinstance(obj, str) else (repr, str):
            try:
                text = render(obj)
            except Exception:  # a half-built object; its repr is not what a user sees
                continue
            self.scan("repr", text, type(obj).__qualname__)

    def scan_widget(self, widget: Any, state: Any) -> None:
        self.scan("widget state", json.dumps(state, default=lambda _: "<bytes>"), type(widget).__name__)

    def watch(self, space: Any) -> None:
        self.spaces.append(space)

    def unwatch(self, space: Any) -> None:
        self.retired.update(space.tokens_issued)
        self.spaces.remove(space)

    def take(self, planted: bool = False) -> list[Hit]:
        hits, self.hits = self.hits, []
        if planted:
            self.planted += len(hits)
        else:
            self.found += len(hits)
        return hits

    def report(self, hits: Iterable[Hit]) -> str:
        unique = dict.fromkeys((h.channel, h.where, h.context) for h in hits)
        return "; ".join(f"a secret leaked via {c} ({w}): …{t}…" for c, w, t in unique)

    def summary(self) -> str:
        per = ", ".join(f"{k} {v}" for k, v in sorted(self.channels.items()))
        return (f"secrets scan: {self.found} hits in {self.texts} texts ({self.chars / 1e6:.1f} MB) checked for "
                f"the test credentials and {len(self._known)} issued ZeroGPU tokens ({per}); "
                f"{self.planted} planted by its self-test caught")


SCANNER = Scanner()
