"""Where a warm ``rwalk.awalk`` walk spends its time, round by round, beside ``os.walk``.

A diagnostic, not a benchmark: it wraps three of awalk's private functions to time
them, which costs a little, so its walk times run a few percent above
``awalk_bench.py``'s.  For each top-down walk of the warm 111k-entry tree it reports:

``checks``
    time the loop spent on post-yield link checks (hand-off and check), and how many
    answers came too late to be waited for in place;
``awaiting``
    time the walk awaited listings from the scan job (the job's turns, plus the
    wake-ups at their ends);
``job CPU``
    the scan jobs' own CPU time (``time.thread_time``), and how many turns they took;
``rest``
    the walk's own loop: the walk time minus the two above.

Rounds alternate with ``os.walk`` rounds (each after a ``gc.collect()``, each awalk walk
in its own ``asyncio.run``, as in ``awalk_bench.py``), so that a slow phase of the
machine shows up in both.  Built to tell, in such a phase, which part grew (design.md,
"Open").  Run ``PYTHONPATH=src python benchmarks/awalk_parts.py --help``.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trees  # benchmarks/ is on sys.path when this file is run as a script
from awalk_bench import count_async, count_sync
from rwalk import _aio

PARTS = ("checks", "late", "awaiting", "job", "turns")


def instrument(parts: dict[str, float]) -> Callable[[], None]:
    """Wrap awalk's private functions to add into ``parts``; returns the undo."""
    real_wait = _aio._CheckHandoff.wait
    real_listing = _aio._Scheduler.listing
    real_job = _aio._Scheduler._run_job

    def wait(self: Any, seconds: float, spin: bool = False) -> Any:
        start = time.perf_counter()
        answer = real_wait(self, seconds, spin)
        parts["checks"] += time.perf_counter() - start
        parts["late"] += answer is None
        return answer

    async def listing(self: Any, node: Any) -> Any:
        start = time.perf_counter()
        result = await real_listing(self, node)
        parts["awaiting"] += time.perf_counter() - start
        return result

    def run_job(self: Any, on_the_loops_cpu: bool = False) -> None:
        start = time.thread_time()
        try:
            real_job(self, on_the_loops_cpu)
        finally:
            parts["job"] += time.thread_time() - start
            parts["turns"] += 1

    # Plain assignments (not mock.patch): the wrappers must be exactly these functions.
    _aio._CheckHandoff.wait = wait  # type: ignore[method-assign]
    _aio._Scheduler.listing = listing  # type: ignore[method-assign]
    _aio._Scheduler._run_job = run_job  # type: ignore[method-assign]

    def undo() -> None:
        _aio._CheckHandoff.wait = real_wait  # type: ignore[method-assign]
        _aio._Scheduler.listing = real_listing  # type: ignore[method-assign]
        _aio._Scheduler._run_job = real_job  # type: ignore[method-assign]

    return undo


def timed(count: Callable[[str], int], top: str, expected: int) -> float:
    gc.collect()
    start = time.perf_counter()
    counted = count(top)
    elapsed = time.perf_counter() - start
    if counted != expected:
        raise SystemExit(f"counted {counted} entries, expected {expected}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=11, help="awalk walks (and os.walk ones)")
    parser.add_argument("--cache", type=Path, default=None, help="where trees are built")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    count_os_walk, count_awalk = count_sync(os.walk), count_async()
    wide = os.fspath(trees.build_wide(args.cache or trees.default_cache()))
    expected = trees.count_entries(wide)
    parts = dict.fromkeys(PARTS, 0.0)
    undo = instrument(parts)
    try:
        for count in (count_os_walk, count_awalk):  # untimed priming runs
            timed(count, wide, expected)
        rows: list[tuple[float, float, dict[str, float]]] = []
        for _ in range(args.rounds):
            os_walk = timed(count_os_walk, wide, expected)
            parts.update(dict.fromkeys(PARTS, 0.0))
            awalk = timed(count_awalk, wide, expected)
            rows.append((os_walk, awalk, dict(parts)))
    finally:
        undo()
    print(
        f"Python {platform.python_version()} ({sys.executable}), {platform.platform()}, "
        f"{os.cpu_count()} CPUs; `{wide}`, {args.rounds} rounds, awalk top-down\n"
    )
    print(
        "| os.walk ms | awalk ms | ratio | checks ms (late) | awaiting ms "
        "| job CPU ms (turns) | rest ms |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for os_walk, awalk, got in rows:
        rest = awalk - got["checks"] - got["awaiting"]
        print(
            f"| {os_walk * 1e3:.1f} | {awalk * 1e3:.1f} | {awalk / os_walk:.2f} "
            f"| {got['checks'] * 1e3:.1f} ({got['late']:.0f}) | {got['awaiting'] * 1e3:.1f} "
            f"| {got['job'] * 1e3:.1f} ({got['turns']:.0f}) | {rest * 1e3:.1f} |"
        )
    os_median = statistics.median(row[0] for row in rows)
    awalk_median = statistics.median(row[1] for row in rows)
    print(
        f"\nmedians: os.walk {os_median * 1e3:.1f} ms, awalk {awalk_median * 1e3:.1f} ms, "
        f"ratio {awalk_median / os_median:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
