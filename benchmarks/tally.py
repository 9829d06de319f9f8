"""Counting soak runs, shared by the provider soak and the kernel soak: one place for outcomes,
table rows and the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

HEADER = ["| phase | runs | completed | failed as expected | unexpected | hung | wall |",
          "|---|---|---|---|---|---|---|"]
RSS_BOUND_MIB = 32  # allowed RSS growth over a soak (allocator slack, Pillow and markdown caches)


@dataclass
class Tally:
    completed: int = 0
    expected: int = 0  # failed with the fault's own error class
    unexpected: int = 0
    hung: int = 0
    odd: list[str] = field(default_factory=list)

    def outcome(self, label: str, expected: type[BaseException] | None, got: str) -> None:
        """Count one run: ``got`` is "ok" or the class name of what it raised."""
        if got == "ok" and expected is None:
            self.completed += 1
        elif expected is not None and got == expected.__name__:
            self.expected += 1
        else:
            self.unexpected += 1
            self.odd.append(f"{label}: {got}, expected {expected.__name__ if expected else 'ok'}")

    def hang(self, label: str) -> None:
        self.hung += 1
        self.odd.append(f"{label}: hung")

    def row(self, phase: str, seconds: float) -> str:
        runs = self.completed + self.expected + self.unexpected + self.hung
        return (f"| {phase} | {runs} | {self.completed} | {self.expected} | {self.unexpected} | {self.hung} "
                f"| {seconds:.1f} s |")


def verdict(tallies: list[Tally], base: dict[str, float], after: dict[str, float], counts: list[str]) -> str:
    """One line: every run accounted for, the named counts back to the baseline, RSS within the bound."""
    problems = [f"{t.hung} hung" for t in tallies if t.hung] + [f"{t.unexpected} unexpected" for t in tallies
                                                                if t.unexpected]
    problems += [f"{k} {base[k]:g} → {after[k]:g}" for k in counts if after[k] > base[k]]
    growth = after["rss"] - base["rss"]
    if growth > RSS_BOUND_MIB:
        problems.append(f"RSS +{growth:.0f} MiB")
    state = "FAIL: " + ", ".join(problems) if problems else "pass"
    return (f"Verdict: {state} (hung 0, unexpected 0, {', '.join(counts)} back to the baseline, "
            f"RSS growth {growth:+.0f} MiB within {RSS_BOUND_MIB} MiB).")
