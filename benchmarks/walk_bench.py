"""rwalk.walk against os.walk, in one process, on the three benchmark trees.

Method: build each tree once (cached), prime the cache with one untimed walk per
walker, cross-check that every walker counts the same entries as ``os.walk``, then
time interleaved rounds (os.walk, rwalk.walk, os.walk, rwalk.walk, ...; the order
alternates each round) and report the median, min-max and the ratio of medians to
``os.walk`` measured in the same run.  A second ratio pairs each round's time with the
``os.walk`` time of the *same* round and takes the median of those per-round ratios:
it is less sensitive to the machine's load drifting during the run.  A walker that
fails or disagrees is reported as such and gets no timing.

Run ``python benchmarks/walk_bench.py --help`` (or ``make bench-walk``).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import rwalk
import trees  # benchmarks/ is on sys.path when this file is run as a script

Walker = Callable[[str], Iterator[tuple[str, list[str], list[str]]]]


def _count(walker: Walker, top: str) -> int:
    return sum(len(dirs) + len(files) for _, dirs, files in walker(top))


def _time_once(walker: Walker, top: str) -> tuple[float, int]:
    gc.collect()
    start = time.perf_counter()
    entries = _count(walker, top)
    return time.perf_counter() - start, entries


def _bottom_up(walker: Callable[..., Iterator[tuple[str, list[str], list[str]]]]) -> Walker:
    return lambda top: walker(top, topdown=False)


WALKERS: dict[str, Walker] = {
    "os.walk": os.walk,
    "rwalk.walk": rwalk.walk,
    "os.walk bottom-up": _bottom_up(os.walk),
    "rwalk.walk bottom-up": _bottom_up(rwalk.walk),
}
# Ratios are taken against the os.walk row of the same direction.
REFERENCE = {
    "os.walk": "os.walk",
    "rwalk.walk": "os.walk",
    "os.walk bottom-up": "os.walk bottom-up",
    "rwalk.walk bottom-up": "os.walk bottom-up",
}


def measure(top: str, rounds: int) -> list[dict[str, object]]:
    """Time every walker on ``top``; return one result row per walker."""
    expected = trees.count_entries(top)
    problems: dict[str, str] = {}
    for name, walker in WALKERS.items():
        try:
            counted = _count(walker, top)  # also the untimed priming run
        except RecursionError:
            problems[name] = "RecursionError (this Python's os.walk is recursive)"
            continue
        if counted != expected:
            problems[name] = f"WRONG: counted {counted}, expected {expected}"
    timings: dict[str, list[float]] = {name: [] for name in WALKERS if name not in problems}
    names = list(timings)
    for round_index in range(rounds):
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            seconds, counted = _time_once(WALKERS[name], top)
            if counted != expected:  # the tree changed under us: refuse to report
                raise SystemExit(f"{name} counted {counted} entries, expected {expected}")
            timings[name].append(seconds)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    rows: list[dict[str, object]] = []
    for name in WALKERS:
        if name in problems:
            rows.append({"walker": name, "entries": expected, "problem": problems[name]})
            continue
        values = timings[name]
        reference = medians.get(REFERENCE[name])
        rows.append(
            {
                "walker": name,
                "entries": expected,
                "median_s": medians[name],
                "min_s": min(values),
                "max_s": max(values),
                "entries_per_s": expected / medians[name],
                "ratio": medians[name] / reference if reference else None,
                "paired_ratio": (
                    statistics.median(
                        mine / theirs
                        for mine, theirs in zip(values, timings[REFERENCE[name]], strict=True)
                    )
                    if REFERENCE[name] in timings
                    else None
                ),
            }
        )
    return rows


def render(tree_name: str, top: str, rows: list[dict[str, object]], rounds: int) -> str:
    lines = [
        f"### {tree_name}: `{top}` ({rounds} rounds)",
        "",
        "| walker | entries | median ms | min-max ms | entries/s | ratio to os.walk "
        "| paired ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        if "problem" in row:
            lines.append(f"| {row['walker']} | {row['entries']} | {row['problem']} | | | | |")
            continue
        median = float(row["median_s"])  # type: ignore[arg-type]
        low = float(row["min_s"])  # type: ignore[arg-type]
        high = float(row["max_s"])  # type: ignore[arg-type]
        rate = float(row["entries_per_s"])  # type: ignore[arg-type]
        ratio = row["ratio"]
        ratio_text = f"{ratio:.3f}" if isinstance(ratio, float) else "n/a"
        paired = row["paired_ratio"]
        paired_text = f"{paired:.3f}" if isinstance(paired, float) else "n/a"
        lines.append(
            f"| {row['walker']} | {row['entries']} | {median * 1000:.1f} | "
            f"{low * 1000:.1f}-{high * 1000:.1f} | {rate:,.0f} | {ratio_text} | {paired_text} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tree",
        action="append",
        choices=["wide", "deep", "realistic"],
        help="tree(s) to measure (default: all three)",
    )
    parser.add_argument("--path", action="append", default=[], help="also measure this directory")
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds per walker")
    parser.add_argument("--cache", type=Path, default=None, help="where trees are built")
    args = parser.parse_args(argv)
    cache = args.cache or trees.default_cache()
    builders: dict[str, Callable[[Path], Path]] = {
        "wide": trees.build_wide,
        "deep": trees.build_deep,
        "realistic": trees.build_realistic,
    }
    chosen = args.tree or list(builders)
    print(
        f"Python {platform.python_version()} ({sys.executable}), {platform.platform()}, "
        f"{os.cpu_count()} CPUs; warm cache, medians of interleaved rounds\n"
    )
    for name in chosen:
        top = os.fspath(builders[name](cache))
        print(render(name, top, measure(top, args.rounds), args.rounds), end="\n\n")
    for top in args.path:
        print(render("path", top, measure(top, args.rounds), args.rounds), end="\n\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
