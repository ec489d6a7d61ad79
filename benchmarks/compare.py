"""Compare directory walkers on the same trees: one honest table.

In-process walkers (os.walk, rwalk.walk, rwalk.awalk, pathlib.Path.walk, os.fwalk,
scandir_rs) and whole-process listers (the rwalk command, GNU find, fd, tree) each count
the entries (directories + files) below the root of the same trees.  Every count is
cross-checked against an independent scandir count before anything is timed: a row that
disagrees is printed as WRONG, never as fast.  Anything not installed is reported as
skipped, with the reason.

Method: trees are built once, deterministically, and cached; one untimed priming run per
implementation warms the cache (or, with --cold, the page cache is dropped before every
timed run); rounds are interleaved (A B C ... then ... C B A), and each row reports the
median, min-max, entries per second and the ratio of its median to os.walk's median from
the same run.  With --latency MS, every directory listing by an in-process walker first
waits MS milliseconds (os.scandir is wrapped), as a network file system would; the
processes and scandir_rs cannot be slowed the same way and are skipped in that mode.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import rwalk
import trees

Counter = Callable[[str], int]


@dataclass
class Implementation:
    """One way of listing a tree, and how to count what it lists."""

    name: str
    kind: str  # "in-process" or "process"
    count: Counter | None  # None when skipped
    skipped: str = ""  # why it is skipped, if it is
    slowed_by_latency: bool = True  # does --latency apply to it?


@dataclass
class Row:
    implementation: str
    kind: str
    tree: str
    entries: int | None = None
    status: str = "ok"  # ok, WRONG, failed, skipped
    note: str = ""
    times_s: list[float] = field(default_factory=list)
    median_s: float | None = None
    min_s: float | None = None
    max_s: float | None = None
    entries_per_s: float | None = None
    ratio_to_os_walk: float | None = None


# -- In-process walkers ----------------------------------------------------------------


def _count_walk(walk: Callable[..., Iterator[tuple[Any, list[Any], list[Any]]]]) -> Counter:
    def count(top: str) -> int:
        return sum(len(dirnames) + len(filenames) for _, dirnames, filenames in walk(top))

    return count


def _count_fwalk(top: str) -> int:
    return sum(len(dirnames) + len(filenames) for _, dirnames, filenames, _ in os.fwalk(top))


def _count_path_walk(top: str) -> int:
    walk = Path(top).walk  # type: ignore[attr-defined, unused-ignore]
    return sum(len(dirnames) + len(filenames) for _, dirnames, filenames in walk())


class _AsyncCounter:
    """Counts with rwalk.awalk on one event loop kept for the whole run."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.loop: asyncio.AbstractEventLoop | None = None

    async def _count(self, top: str) -> int:
        total = 0
        async for _, dirnames, filenames in rwalk.awalk(top, **self.options):  # type: ignore[attr-defined, unused-ignore]
            total += len(dirnames) + len(filenames)
        return total

    def __call__(self, top: str) -> int:
        if self.loop is None:
            self.loop = asyncio.new_event_loop()
        return self.loop.run_until_complete(self._count(top))

    def close(self) -> None:
        if self.loop is not None:
            self.loop.close()


def _count_scandir_rs(top: str) -> int:
    import scandir_rs

    return sum(len(dirnames) + len(filenames) for _, dirnames, filenames in scandir_rs.Walk(top))


def in_process_implementations() -> list[Implementation]:
    found = [
        Implementation("os.walk", "in-process", _count_walk(os.walk)),
        Implementation("rwalk.walk", "in-process", _count_walk(rwalk.walk)),
    ]
    if hasattr(rwalk, "awalk"):
        found.append(Implementation("rwalk.awalk", "in-process", _AsyncCounter()))
    else:
        found.append(Implementation("rwalk.awalk", "in-process", None, "not in this rwalk"))
    if sys.version_info >= (3, 12):
        found.append(Implementation("pathlib.Path.walk", "in-process", _count_path_walk))
    else:
        found.append(Implementation("pathlib.Path.walk", "in-process", None, "needs Python 3.12+"))
    found.append(Implementation("os.fwalk", "in-process", _count_fwalk))
    try:
        import scandir_rs  # noqa: F401
    except ImportError:
        found.append(
            Implementation(
                "scandir_rs.Walk", "in-process", None, "not installed (pip install scandir-rs)"
            )
        )
    else:
        found.append(
            Implementation(
                "scandir_rs.Walk", "in-process", _count_scandir_rs, slowed_by_latency=False
            )
        )
    return found


# -- Whole-process listers -------------------------------------------------------------

_ENVIRONMENT = {**os.environ, "LC_ALL": "C.UTF-8", "NO_COLOR": "1"}


def _command_counter(
    make_argv: Callable[[str], list[str]], separator: bytes, subtract: int
) -> Counter:
    """Run the command for ``top``; count ``separator``-ended records, minus ``subtract``."""

    def count(top: str) -> int:
        argv = make_argv(top)
        completed = subprocess.run(
            argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_ENVIRONMENT, check=False
        )
        if completed.returncode != 0:
            raise RuntimeError(f"{Path(argv[0]).name} exited with {completed.returncode}")
        return completed.stdout.count(separator) - subtract

    return count


def _rwalk_command() -> str | None:
    beside_python = Path(sys.executable).with_name("rwalk")
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("rwalk")


_PYTHON_OS_WALK = (
    "import os, sys\n"
    "n = sum(len(d) + len(f) for _, d, f in os.walk(sys.argv[1]))\n"
    "sys.stdout.write('\\n' * n)"
)


def process_implementations() -> list[Implementation]:
    """The whole-process listers; each prints one record per entry (tree and rwalk also
    print the root's line, hence ``subtract``).  tree and rwalk escape control characters,
    so a newline in a name cannot split a record."""
    specifications: list[tuple[str, str | None, Callable[[str, str], list[str]], bytes, int]] = [
        (
            "rwalk -a (command)",
            _rwalk_command(),
            lambda exe, top: [exe, "-a", "--noreport", top],
            b"\n",
            1,
        ),
        (
            "python os.walk (process)",
            sys.executable,
            lambda exe, top: [exe, "-c", _PYTHON_OS_WALK, top],
            b"\n",
            0,
        ),
        (
            "find",
            shutil.which("find"),
            lambda exe, top: [exe, top, "-mindepth", "1", "-print0"],
            b"\0",
            0,
        ),
        (
            "fd",
            shutil.which("fd") or shutil.which("fdfind"),
            lambda exe, top: [exe, "--hidden", "--no-ignore", "--print0", ".", top],
            b"\0",
            0,
        ),
        (
            "tree -a",
            shutil.which("tree"),
            lambda exe, top: [exe, "-a", "--noreport", top],
            b"\n",
            1,
        ),
    ]
    found = []
    for name, executable, make_argv, separator, subtract in specifications:
        if executable is None:
            found.append(Implementation(name, "process", None, "not installed"))
            continue
        counter = _command_counter(functools.partial(make_argv, executable), separator, subtract)
        found.append(Implementation(name, "process", counter, slowed_by_latency=False))
    return found


def tool_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "rwalk": rwalk.__version__}
    for name, command in (
        ("find", ["find", "--version"]),
        ("fd", [shutil.which("fd") or shutil.which("fdfind") or "fd", "--version"]),
        ("tree", ["tree", "--version"]),
    ):
        try:
            output = subprocess.run(command, capture_output=True, text=True, check=False).stdout
            versions[name] = output.splitlines()[0].strip() if output else "unknown"
        except OSError:
            versions[name] = "not installed"
    try:
        versions["scandir_rs"] = importlib.metadata.version("scandir-rs")
    except importlib.metadata.PackageNotFoundError:
        versions["scandir_rs"] = "not installed"
    return versions


def machine_description() -> str:
    model = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{platform.platform()}, {os.cpu_count()} CPUs ({model})"


# -- Conditions ------------------------------------------------------------------------


@contextlib.contextmanager
def added_latency(milliseconds: float) -> Iterator[None]:
    """Make every ``os.scandir`` call wait ``milliseconds`` first (all threads)."""
    if milliseconds <= 0:
        yield
        return
    real_scandir = os.scandir
    delay = milliseconds / 1000

    def slow_scandir(path: Any = ".") -> Any:
        time.sleep(delay)
        return real_scandir(path)

    os.scandir = slow_scandir
    try:
        yield
    finally:
        os.scandir = real_scandir


def cold_cache_problem() -> str | None:
    """Why the page cache cannot be dropped here, or None if it can."""
    if not sys.platform.startswith("linux"):
        return "dropping caches is only implemented for Linux"
    if not os.access("/proc/sys/vm/drop_caches", os.W_OK):
        return "/proc/sys/vm/drop_caches is not writable (needs root)"
    return None


def drop_caches() -> None:
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


# -- Measuring -------------------------------------------------------------------------


def measure(
    tree_name: str,
    top: str,
    implementations: list[Implementation],
    *,
    rounds: int,
    latency_ms: float = 0,
    cold: bool = False,
) -> tuple[int, list[Row]]:
    """Cross-check, then time every implementation on ``top`` in interleaved rounds.

    Returns the reference count of entries and one row per implementation.
    """
    expected = trees.count_entries(top)
    rows: dict[str, Row] = {}
    runnable: list[Implementation] = []
    for implementation in implementations:
        row = Row(implementation.name, implementation.kind, tree_name, entries=None)
        rows[implementation.name] = row
        if implementation.count is None:
            row.status, row.note = "skipped", implementation.skipped
            continue
        if latency_ms and not implementation.slowed_by_latency:
            row.status, row.note = "skipped", "cannot add latency to it"
            continue
        try:
            with added_latency(latency_ms):
                counted = implementation.count(top)  # also the untimed priming run
        except Exception as error:  # a broken tool must not end the whole comparison
            row.status, row.note = "failed", f"{type(error).__name__}: {error}"
            continue
        row.entries = counted
        if counted != expected:
            row.status, row.note = "WRONG", f"counted {counted}, expected {expected}"
            continue
        runnable.append(implementation)

    for round_index in range(rounds):
        order = runnable if round_index % 2 == 0 else runnable[::-1]
        for implementation in order:
            assert implementation.count is not None
            if cold:
                drop_caches()
            gc.collect()
            with added_latency(latency_ms):
                start = time.perf_counter()
                counted = implementation.count(top)
                elapsed = time.perf_counter() - start
            row = rows[implementation.name]
            if counted != expected:  # changed between rounds: refuse to time it
                row.status, row.note = "WRONG", f"counted {counted} in a timed round"
                continue
            row.times_s.append(elapsed)

    reference = rows.get("os.walk")
    reference_median = (
        statistics.median(reference.times_s) if reference and reference.times_s else None
    )
    for row in rows.values():
        if row.status != "ok" or not row.times_s:
            continue
        row.median_s = statistics.median(row.times_s)
        row.min_s, row.max_s = min(row.times_s), max(row.times_s)
        row.entries_per_s = expected / row.median_s if row.median_s else None
        if reference_median:
            row.ratio_to_os_walk = row.median_s / reference_median
    return expected, list(rows.values())


# -- Reporting -------------------------------------------------------------------------


def markdown_table(rows: list[Row]) -> str:
    lines = [
        "| implementation | kind | entries | median ms | min-max ms | entries/s "
        "| ratio to os.walk |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        if row.status != "ok" or row.median_s is None:
            entries = "" if row.entries is None else str(row.entries)
            lines.append(
                f"| {row.implementation} | {row.kind} | {entries} | "
                f"**{row.status}**: {row.note} | | | |"
            )
            continue
        assert row.min_s is not None
        assert row.max_s is not None
        ratio = "" if row.ratio_to_os_walk is None else f"{row.ratio_to_os_walk:.2f}"
        lines.append(
            f"| {row.implementation} | {row.kind} | {row.entries} | {row.median_s * 1000:.1f} | "
            f"{row.min_s * 1000:.1f}-{row.max_s * 1000:.1f} | {row.entries_per_s:,.0f} | {ratio} |"
        )
    return "\n".join(lines)


def write_chart(results: dict[str, list[Row]], path: Path) -> str | None:
    """A bar chart of ratios to os.walk; returns why not, if it cannot be drawn."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib)"
    names = sorted({row.implementation for rows in results.values() for row in rows})
    figure, axis = plt.subplots(figsize=(10, 0.5 + 0.35 * len(names) * len(results)))
    height = 0.8 / max(1, len(results))
    for index, (tree_name, rows) in enumerate(results.items()):
        by_name = {row.implementation: row.ratio_to_os_walk for row in rows}
        positions = [position + index * height for position in range(len(names))]
        values = [by_name.get(name) or 0.0 for name in names]
        axis.barh(positions, values, height=height, label=tree_name)
    axis.set_yticks([position + 0.4 - height / 2 for position in range(len(names))])
    axis.set_yticklabels(names)
    axis.axvline(1.0, color="black", linewidth=0.8)
    axis.set_xlabel("median time / os.walk median time (lower is faster; 0 = not measured)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return None


def build_trees(names: list[str], cache: Path, scale: float) -> dict[str, str]:
    """Build (or reuse) the named trees, shrunk by ``scale`` when it is below 1."""
    scale = min(scale, 1.0)
    built: dict[str, str] = {}
    for name in names:
        if name == "wide":
            fanout = max(2, round(trees.WIDE_FANOUT * scale))
            built[name] = os.fspath(trees.build_wide(cache, fanout=fanout))
        elif name == "deep":
            levels = max(2, round(trees.DEEP_LEVELS * scale))
            built[name] = os.fspath(trees.build_deep(cache, levels=levels))
        elif name == "realistic":
            copies = max(1, round(trees.REALISTIC_COPIES * scale))
            built[name] = os.fspath(trees.build_realistic(cache, copies=copies))
        elif name == "latency":
            # About 2,000 directories: fan-out 12, 3 levels, 4 files in each.
            built[name] = os.fspath(trees.build_wide(cache, fanout=12, depth=3, files=4))
    return built


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Example: python benchmarks/compare.py --rounds 9 --json results.json",
    )
    parser.add_argument(
        "--tree",
        action="append",
        choices=["wide", "deep", "realistic", "latency"],
        help="generated tree(s) to measure; repeat for several (default: wide, deep and "
        "realistic; with --latency: the ~2,000-directory 'latency' tree)",
    )
    parser.add_argument(
        "--path", action="append", default=[], help="also measure this existing directory"
    )
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default: 5)")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="shrink the generated trees (e.g. 0.2 for a quick run; default: 1)",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="MS",
        help="add MS milliseconds to every directory listing of the in-process walkers",
    )
    parser.add_argument(
        "--cold", action="store_true", help="drop the page cache before every timed run"
    )
    parser.add_argument("--cache", type=Path, default=None, help="where generated trees are kept")
    parser.add_argument("--json", type=Path, default=None, help="write raw results here")
    parser.add_argument(
        "--chart", type=Path, default=None, help="write a PNG bar chart here (needs matplotlib)"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="measure only implementations whose name contains this text (os.walk is "
        "always kept as the reference)",
    )
    arguments = parser.parse_args(argv)
    if arguments.rounds < 1:
        parser.error("--rounds must be at least 1")
    if arguments.scale <= 0:
        parser.error("--scale must be positive")
    if arguments.latency < 0:
        parser.error("--latency must not be negative")
    for path in arguments.path:
        if not os.path.isdir(path):
            parser.error(f"--path {path!r} is not a directory")
    return arguments


def main(
    argv: list[str] | None = None, extra_implementations: list[Implementation] | None = None
) -> int:
    arguments = parse_arguments(argv)
    if arguments.cold and (problem := cold_cache_problem()):
        print(f"Cold cache: not possible here: {problem}.", file=sys.stderr)
        return 2
    cache = arguments.cache or trees.default_cache()
    default_trees = ["latency"] if arguments.latency else ["wide", "deep", "realistic"]
    tree_names = arguments.tree or ([] if arguments.path else default_trees)
    tops = build_trees(tree_names, cache, arguments.scale)
    tops.update({f"path {path}": os.path.abspath(path) for path in arguments.path})

    implementations = in_process_implementations() + process_implementations()
    implementations += extra_implementations or []
    if arguments.only:
        implementations = [
            implementation
            for implementation in implementations
            if implementation.name == "os.walk"
            or any(text in implementation.name for text in arguments.only)
        ]

    versions = tool_versions()
    condition = "cold cache" if arguments.cold else "warm cache"
    if arguments.latency:
        condition += f", +{arguments.latency:g} ms per directory listing (in-process walkers)"
    print(f"Machine: {machine_description()}")
    print("Versions: " + ", ".join(f"{name} {version}" for name, version in versions.items()))
    print(f"Method: {condition}; {arguments.rounds} interleaved rounds; medians\n")

    results: dict[str, list[Row]] = {}
    try:
        for tree_name, top in tops.items():
            expected, rows = measure(
                tree_name,
                top,
                implementations,
                rounds=arguments.rounds,
                latency_ms=arguments.latency,
                cold=arguments.cold,
            )
            results[tree_name] = rows
            print(f"### {tree_name}: `{top}` ({expected:,} entries)\n")
            print(markdown_table(rows), end="\n\n", flush=True)
    finally:
        for implementation in implementations:
            if isinstance(implementation.count, _AsyncCounter):
                implementation.count.close()

    if arguments.json:
        arguments.json.write_text(
            json.dumps(
                {
                    "machine": machine_description(),
                    "versions": versions,
                    "condition": condition,
                    "rounds": arguments.rounds,
                    "trees": {name: tops[name] for name in results},
                    "results": {
                        name: [asdict(row) for row in rows] for name, rows in results.items()
                    },
                },
                indent=2,
            )
        )
        print(f"Raw results: {arguments.json}")
    if arguments.chart:
        problem = write_chart(results, arguments.chart)
        print(f"Chart: {problem}" if problem else f"Chart: {arguments.chart}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
