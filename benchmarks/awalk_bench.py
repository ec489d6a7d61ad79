"""rwalk.awalk against os.walk, in one process: warm local tree, slow file system, loop gaps.

Three measurements, each printed as a markdown table:

``wide``
    the warm 111k-entry tree of :mod:`trees`: ``os.walk``, ``rwalk.walk`` and
    ``rwalk.awalk`` (top-down and bottom-up), ratio of medians to ``os.walk``.
``latency``
    a tree of ``LATENCY_FANOUT ** 0 + ... + LATENCY_FANOUT ** LATENCY_DEPTH`` = 1,885
    directories, with ``LATENCY_SECONDS`` (1 ms) slept before every ``os.scandir``, for
    every walker alike (an NFS-like round trip); ratio ``os.walk`` / walker.
``fast latency``
    the same tree with ``FAST_LATENCY_SECONDS`` (0.2 ms) slept instead: ``os.walk`` and
    awalk only, no bar.
``reference``
    a row in both tables that is not a walk: ``POOL_THREADS`` threads list the tree in
    no order, with no event loop and no link checks; what Python threads reach on this
    machine at that moment, so that a run in which thread hand-offs are slow shows it.
``heartbeat``
    while awalk walks each tree, a task that sleeps 1 ms at a time records the longest
    gap between its wake-ups: how long the event loop was kept from other work.
    ``os.walk`` called directly in a coroutine is shown for contrast.
``busy``
    the warm and latency trees again, with ``os.walk`` and awalk only, while one
    process per CPU does nothing but compute (``--busy``): a machine whose CPUs are all
    wanted by other programs, where hand-offs between threads wait for CPU time.

Method, as in ``walk_bench.py``: trees built once (cached), one untimed priming run per
walker that also cross-checks its entry count against an independent count (a walker
that disagrees is reported and not timed), then interleaved rounds whose order
alternates, reporting the median, min-max, and ratios of medians from the same run.

Run ``python benchmarks/awalk_bench.py --help`` (or ``make bench-awalk``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import rwalk
import trees  # benchmarks/ is on sys.path when this file is run as a script

LATENCY_FANOUT = 12
LATENCY_DEPTH = 3
LATENCY_FILES = 3
LATENCY_SECONDS = 0.001
# A faster round trip (a LAN file system, a cold SSD): no bar, but a parallel limit
# judged by an absolute "slow listing" threshold of 0.5 ms once lost all its gain there.
FAST_LATENCY_SECONDS = 0.0002
HEARTBEAT_SECONDS = 0.001

Counter = Callable[[str], int]


def count_sync(
    walk: Callable[..., Iterator[tuple[Any, list[Any], list[Any]]]], **options: Any
) -> Counter:
    def count(top: str) -> int:
        return sum(len(dirs) + len(files) for _, dirs, files in walk(top, **options))

    return count


def count_async(**options: Any) -> Counter:
    async def walk(top: str) -> int:
        total = 0
        async for _, dirs, files in rwalk.awalk(top, **options):
            total += len(dirs) + len(files)
        return total

    return lambda top: asyncio.run(walk(top))


def count_with_thread_pool(threads: int) -> Counter:
    """Not a walk: ``threads`` threads list the tree in no particular order.

    The ceiling that Python threads reach on this machine at this moment, for the
    latency tree above all (no ordering, no event loop, no link checks): a reference
    row, so that a run in which thread hand-offs are slow shows it.
    """

    def count(top: str) -> int:
        pending = [top]
        condition = threading.Condition()
        busy = 0
        total = 0

        def work() -> None:
            nonlocal busy, total
            while True:
                with condition:
                    while not pending and busy:
                        condition.wait()
                    if not pending:
                        condition.notify_all()
                        return
                    path = pending.pop()
                    busy += 1
                entries = 0
                below = []
                try:
                    with os.scandir(path) as listing:
                        for entry in listing:
                            entries += 1
                            if entry.is_dir() and not entry.is_symlink():
                                below.append(entry.path)
                except OSError:
                    pass  # as os.walk without onerror: the count then disagrees
                with condition:
                    busy -= 1
                    total += entries
                    pending.extend(below)
                    condition.notify_all()

        workers = [threading.Thread(target=work) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return total

    return count


# awalk's default concurrency: as many threads as it lists with.
POOL_THREADS = 16

WALKERS: dict[str, Counter] = {
    "os.walk": count_sync(os.walk),
    "rwalk.walk": count_sync(rwalk.walk),
    "rwalk.awalk": count_async(),
    "os.walk bottom-up": count_sync(os.walk, topdown=False),
    "rwalk.awalk bottom-up": count_async(topdown=False),
    f"reference: {POOL_THREADS} threads, no order": count_with_thread_pool(POOL_THREADS),
}
REFERENCE = {name: "os.walk bottom-up" if "bottom-up" in name else "os.walk" for name in WALKERS}


def build_latency_tree(cache: Path) -> Path:
    """``LATENCY_FANOUT`` subdirectories per level, ``LATENCY_FILES`` files everywhere."""
    return trees.build_wide(cache, LATENCY_FANOUT, LATENCY_DEPTH, LATENCY_FILES)


def slow_scandir(seconds: float) -> Any:
    """``os.scandir`` that first sleeps ``seconds``: a network round trip per directory."""
    real_scandir = os.scandir

    def scandir(path: Any) -> Any:
        time.sleep(seconds)
        return real_scandir(path)

    return mock.patch("os.scandir", scandir)


# The walkers timed beside busy processes.
BUSY_WALKERS = ("os.walk", "rwalk.awalk", "os.walk bottom-up", "rwalk.awalk bottom-up")


# A process that only computes, until killed or until its parent is gone (so that a
# benchmark killed outright leaves none behind).
BUSY_PROGRAM = """
import os
parent = os.getppid()
while os.getppid() == parent:
    for _ in range(100_000):
        pass
"""


@contextlib.contextmanager
def busy_processes(count: int) -> Iterator[None]:
    """``count`` processes that only compute, for as long as the block runs."""
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            processes.append(subprocess.Popen([sys.executable, "-c", BUSY_PROGRAM]))
        yield
    finally:
        for process in processes:
            process.kill()
        for process in processes:
            process.wait()


def measure(
    top: str, rounds: int, expected: int, names: tuple[str, ...] = tuple(WALKERS)
) -> dict[str, list[float] | str]:
    """Seconds per round for each walker named, or why it was not timed."""
    results: dict[str, list[float] | str] = {}
    for name in names:
        counted = WALKERS[name](top)  # the untimed priming run, and the cross-check
        results[name] = [] if counted == expected else f"WRONG: {counted} != {expected}"
    timed = [name for name, result in results.items() if isinstance(result, list)]
    for round_index in range(rounds):
        for name in timed if round_index % 2 == 0 else timed[::-1]:
            gc.collect()
            start = time.perf_counter()
            counted = WALKERS[name](top)
            elapsed = time.perf_counter() - start
            if counted != expected:
                raise SystemExit(f"{name} counted {counted} entries, expected {expected}")
            timing = results[name]
            assert isinstance(timing, list)
            timing.append(elapsed)
    return results


def render(title: str, results: dict[str, list[float] | str], expected: int, slow: bool) -> str:
    ratio_title = "os.walk / walker (higher is better)" if slow else "walker / os.walk"
    lines = [
        f"### {title}",
        "",
        f"| walker | entries | median ms | min-max ms | {ratio_title} |",
        "|---|---:|---:|---:|---:|",
    ]
    medians = {
        name: statistics.median(timing)
        for name, timing in results.items()
        if isinstance(timing, list)
    }
    for name, timing in results.items():
        if isinstance(timing, str):
            lines.append(f"| {name} | {expected} | {timing} | | |")
            continue
        median = medians[name]
        reference = medians.get(REFERENCE[name])
        if reference is None:
            ratio = "n/a"
        else:
            ratio = f"{(reference / median if slow else median / reference):.2f}"
        lines.append(
            f"| {name} | {expected} | {median * 1000:.1f} | "
            f"{min(timing) * 1000:.1f}-{max(timing) * 1000:.1f} | {ratio} |"
        )
    return "\n".join(lines)


async def heartbeat_gaps(walk: Callable[[], Any]) -> tuple[float, float, int]:
    """Run ``walk()`` beside a 1 ms heartbeat; return (longest gap, median gap, beats)."""
    gaps: list[float] = []
    done = False

    async def beat() -> None:
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    beating = asyncio.create_task(beat())
    await asyncio.sleep(0)  # the heartbeat is running before the walk starts
    try:
        await walk()
    finally:
        done = True
        await beating
    return max(gaps), statistics.median(gaps), len(gaps)


def heartbeat_row(name: str, walk: Callable[[], Any], rounds: int) -> str:
    samples = [asyncio.run(heartbeat_gaps(walk)) for _ in range(rounds)]
    longest = [sample[0] for sample in samples]
    medians = [sample[1] for sample in samples]
    return (
        f"| {name} | {statistics.median(longest) * 1000:.1f} | "
        f"{min(longest) * 1000:.1f}-{max(longest) * 1000:.1f} | "
        f"{statistics.median(medians) * 1000:.2f} |"
    )


def heartbeat_table(wide: str, latency: str, rounds: int) -> str:
    async def awalk_all(top: str, **options: Any) -> None:
        async for _ in rwalk.awalk(top, **options):
            pass

    async def os_walk_in_loop(top: str) -> None:
        for _ in os.walk(top):
            pass

    lines = [
        f"### heartbeat: longest gap of a {HEARTBEAT_SECONDS * 1000:.0f} ms sleeper "
        f"during a walk ({rounds} rounds)",
        "",
        "| walk | longest gap ms (median) | min-max ms | median gap ms |",
        "|---|---:|---:|---:|",
        heartbeat_row("rwalk.awalk, wide", lambda: awalk_all(wide), rounds),
        heartbeat_row(
            "rwalk.awalk bottom-up, wide", lambda: awalk_all(wide, topdown=False), rounds
        ),
        heartbeat_row("os.walk inside a coroutine, wide", lambda: os_walk_in_loop(wide), rounds),
    ]
    with slow_scandir(LATENCY_SECONDS):
        lines.append(heartbeat_row("rwalk.awalk, latency", lambda: awalk_all(latency), rounds))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=11, help="timed rounds, warm tree")
    parser.add_argument(
        "--latency-rounds", type=int, default=5, help="timed rounds, slow tree (os.walk ~2.2 s)"
    )
    parser.add_argument(
        "--busy",
        type=int,
        default=os.cpu_count() or 1,
        help="busy processes beside the last tables (default: one per CPU; 0: skip them)",
    )
    parser.add_argument(
        "--busy-rounds", type=int, default=5, help="timed rounds beside busy processes"
    )
    parser.add_argument("--cache", type=Path, default=None, help="where trees are built")
    args = parser.parse_args(argv)
    if args.busy < 0:
        parser.error(f"--busy must be 0 or more, not {args.busy}")
    if args.busy_rounds < 1:
        parser.error(f"--busy-rounds must be 1 or more, not {args.busy_rounds}")
    cache = args.cache or trees.default_cache()
    wide = os.fspath(trees.build_wide(cache))
    latency = os.fspath(build_latency_tree(cache))
    print(
        f"Python {platform.python_version()} ({sys.executable}), {platform.platform()}, "
        f"{os.cpu_count()} CPUs; medians of interleaved rounds\n"
    )
    expected = trees.count_entries(wide)
    results = measure(wide, args.rounds, expected)
    print(render(f"wide, warm: `{wide}` ({args.rounds} rounds)", results, expected, False))
    print()
    expected = trees.count_entries(latency)
    with slow_scandir(LATENCY_SECONDS):
        results = measure(latency, args.latency_rounds, expected)
    title = (
        f"latency: `{latency}`, +{LATENCY_SECONDS * 1000:.0f} ms per scandir "
        f"({args.latency_rounds} rounds)"
    )
    print(render(title, results, expected, True))
    print()
    with slow_scandir(FAST_LATENCY_SECONDS):
        results = measure(latency, args.latency_rounds, expected, BUSY_WALKERS)
    title = (
        f"fast latency: +{FAST_LATENCY_SECONDS * 1000:.1f} ms per scandir "
        f"({args.latency_rounds} rounds)"
    )
    print(render(title, results, expected, True))
    print()
    print(heartbeat_table(wide, latency, max(3, args.latency_rounds)))
    if args.busy:
        print()
        print(busy_tables(wide, latency, args.busy, args.busy_rounds))
    return 0


def busy_tables(wide: str, latency: str, busy: int, rounds: int) -> str:
    """The warm and latency tables for os.walk and awalk, beside ``busy`` processes."""
    where = f"beside {busy} busy process{'es' if busy != 1 else ''}"
    slow_rounds = max(1, rounds // 2)
    tables = []
    with busy_processes(busy):
        expected = trees.count_entries(wide)
        results = measure(wide, rounds, expected, BUSY_WALKERS)
        title = f"wide, warm, {where} ({_rounds(rounds)})"
        tables.append(render(title, results, expected, False))
        expected = trees.count_entries(latency)
        with slow_scandir(LATENCY_SECONDS):
            results = measure(latency, slow_rounds, expected, BUSY_WALKERS)
        title = (
            f"latency, +{LATENCY_SECONDS * 1000:.0f} ms per scandir, {where} "
            f"({_rounds(slow_rounds)})"
        )
        tables.append(render(title, results, expected, True))
    return "\n\n".join(tables)


def _rounds(count: int) -> str:
    return f"{count} round{'s' if count != 1 else ''}"


if __name__ == "__main__":
    raise SystemExit(main())
