"""The benchmark's latency proxy forwards faithfully (what it adds is measured, never asserted here)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support.helpers import ROOT, collect

sys.path.insert(0, str(ROOT))


from benchmarks.netem import latency_proxy  # noqa: E402
from g4f_magic import ImageResponse  # noqa: E402
from g4f_magic.localspace import LocalSpace  # noqa: E402


@pytest.mark.parametrize("rtt", [0.0, 0.02])
async def test_latency_proxy_carries_a_whole_generation(space: LocalSpace, rtt: float) -> None:
    port = int(space.url.rsplit(":", 1)[1])  # type: ignore[attr-defined]
    async with latency_proxy(port, rtt) as gateway:
        direct = await collect("flux", "x", seed=3, endpoint=space.url)  # type: ignore[attr-defined]
        via = await collect("flux", "x", seed=3, endpoint=gateway)
    assert isinstance(via[-1], ImageResponse) and via[-1].seed == direct[-1].seed == 3
    def texts(events: list) -> list[str]:  # heartbeats are throttled by the clock: left out
        return [str(e) for e in events if getattr(e, "kind", None) in ("queue", "start", "progress", "log")]

    assert texts(via) == texts(direct)
    assert via[-1].urls[0].startswith(gateway)


@pytest.mark.timeout(240)
def test_a_small_soak_runs_end_to_end_with_a_real_kernel(tmp_path: Path) -> None:
    """The soak itself (provider, then --bg and panel runs in a kernel): every run accounted for."""
    import re
    import subprocess

    out = tmp_path / "SOAK.md"
    args = ["--sequential", "6", "--concurrent", "4", "--kernel-sequential", "6", "--kernel-concurrent", "4",
            "--seed", "3", "--out", str(out)]
    run = subprocess.run([sys.executable, "-m", "benchmarks.soak", *args], capture_output=True, text=True,
                         timeout=230, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = re.findall(r"^\| (.+?) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| [\d.]+ s \|$", out.read_text(), re.M)
    assert [r[0] for r in rows] == ["sequential", "concurrent", "kernel: --bg and panel, one at a time",
                                    "kernel: --bg and panel, all at once"]
    for phase, runs, completed, expected, unexpected, hung in rows:
        assert int(completed) + int(expected) == int(runs) and (unexpected, hung) == ("0", "0"), phase
    assert "| loop error reports (Unclosed…, Task was destroyed) | 0 | 0 |" in out.read_text()
    assert re.findall(r"^Verdict: (\w+)", out.read_text(), re.M) == ["pass", "pass"]  # provider, kernel


def test_the_store_benchmark_writes_its_section(tmp_path: Path) -> None:
    """benchmarks.store at a small size: its table lands in its own section of the results file."""
    from benchmarks.store import SECTION, main

    out = tmp_path / "RESULTS.md"
    out.write_text("# Benchmark results\n\n## 1. Something else\nkept\n")
    assert main(["--count", "300", "--writes", "20", "--out", str(out)]) == 0
    text = out.read_text()
    assert "## 1. Something else\nkept\n" in text and SECTION in text
    assert "300 entries of 2 KB in the folder, then 20 writes" in text and "| a write, median |" in text


def test_the_pool_benchmark_spreads_a_batch_over_its_servers(tmp_path: Path) -> None:
    """benchmarks.pool at a small size: two servers, each item made by one of them (counted by the engine)."""
    from benchmarks.pool import SECTION, main

    out = tmp_path / "RESULTS.md"
    assert main(["--ks", "1,2", "--per-server", "2", "--out", str(out)]) == 0
    text = out.read_text()
    assert SECTION in text and "| 1 | 2 | " in text and "| 2 | 4 | " in text
