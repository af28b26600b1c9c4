"""The scale a benchmark run measures, where its results go, and how its goals scale.

`run.py --times 10` runs the benchmarks on ten times the DESIGN.md scale (`BENCH_TIMES=10` in
each benchmark's environment). Issue 32 asks that every page and API figure there stay within
twice its budget: a time goal doubles, a throughput goal halves (twice the time per request).
Those results go to `benchmarks/results/x10/`, beside the DESIGN.md scale's, so the two runs
can be compared (the query counts must not grow with the data).

No Django here: `run.py` imports it without setting Django up.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE_RESULTS = ROOT / "benchmarks" / "results"
TIMES = int(os.environ.get("BENCH_TIMES", "1"))


def results_folder(times: int = TIMES) -> Path:
    return BASE_RESULTS if times == 1 else BASE_RESULTS / f"x{times}"


def budget(goal: float | None, times: int = TIMES) -> float | None:
    """A time (or latency) goal at this scale: twice it beyond the DESIGN.md scale."""
    return None if goal is None else goal * (1 if times == 1 else 2)


def rate(goal: float | None, times: int = TIMES) -> float | None:
    """A throughput goal at this scale: half of it beyond the DESIGN.md scale."""
    return None if goal is None else goal / (1 if times == 1 else 2)


# Issue 32: the rollup job's one new day for every stream, at ten times the scale too (not doubled).
ROLLUP_DAY_GOAL_S = 60
VERDICT_GOAL_MS = 500  # Issue 32: one experiment's verdict on the largest stream (maps_bench.py).

RESULTS = results_folder()
