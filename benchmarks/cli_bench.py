"""The ``rwalk`` command against GNU ``tree``, whole processes, output to a pipe.

Two comparisons, each a ratio of medians measured in the same run:

``rwalk -a`` / ``tree -a``
    on the wide benchmark tree (``trees.build_wide``: 111,110 entries), both under
    ``LC_ALL=C.UTF-8``.  Bar (issue 4): at most 0.8.  ``--options=-s`` (repeatable)
    adds ``rwalk -a -s`` / ``tree -a -s`` to the same interleaved rounds; ``--async``
    in an option set is given to rwalk only (tree prints the same bytes without it).
``rwalk`` on a 10-entry directory / ``python -c "import typer"``
    process startup.  Bar (issue 4): at most 1.5.

Method: build the trees once (cached); compile rwalk's modules to bytecode, as ``pip
install`` does (typer's already are; with ``PYTHONDONTWRITEBYTECODE`` set, an editable
install would otherwise compile rwalk's source on every run, a cost no installed copy
pays); run every command once untimed (warms the page
cache and checks it succeeds); check that ``rwalk -a`` and ``tree -a`` print the same
bytes, and refuse to time them if not; then time interleaved rounds (the order is
reversed every other round) and report median, min-max and the ratio of medians.

Run ``python benchmarks/cli_bench.py --help`` (or ``make bench-cli``).
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import trees  # benchmarks/ is on sys.path when this file is run as a script

ENV = {**os.environ, "LC_ALL": "C.UTF-8"}
ENV.pop("NO_COLOR", None)
SMALL_ENTRIES = 10


def rwalk_command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m rwalk``."""
    script = Path(sys.executable).parent / "rwalk"
    return [str(script)] if script.exists() else [sys.executable, "-m", "rwalk"]


def build_small(cache: Path) -> Path:
    """A directory of ``SMALL_ENTRIES`` empty files."""
    root = cache / f"small-{SMALL_ENTRIES}"
    root.mkdir(parents=True, exist_ok=True)
    for index in range(SMALL_ENTRIES):
        (root / f"file{index}").touch()
    return root


def run(command: list[str]) -> tuple[float, bytes]:
    """Seconds for one whole process whose stdout is a pipe read to its end."""
    start = time.perf_counter()
    result = subprocess.run(command, env=ENV, stdout=subprocess.PIPE, check=True)
    return time.perf_counter() - start, result.stdout


def measure(commands: dict[str, list[str]], rounds: int) -> dict[str, list[float]]:
    """Interleaved rounds of every command; the order reverses every other round."""
    timings: dict[str, list[float]] = {name: [] for name in commands}
    names = list(commands)
    for round_index in range(rounds):
        for name in names if round_index % 2 == 0 else names[::-1]:
            timings[name].append(run(commands[name])[0])
    return timings


def table(
    title: str, timings: dict[str, list[float]], reference: str, paired: dict[str, str]
) -> str:
    """A Markdown table; each command's ratio is to ``paired[command]``, else to
    ``reference`` (the column's heading)."""
    medians = {name: statistics.median(values) for name, values in timings.items()}
    lines = [
        f"### {title}",
        "",
        f"| command | median ms | min-max ms | ratio to {reference} |",
        "|---|---:|---:|---:|",
    ]
    for name, values in timings.items():
        base = paired.get(name, reference)
        lines.append(
            f"| `{name}` | {medians[name] * 1000:.1f} | "
            f"{min(values) * 1000:.1f}-{max(values) * 1000:.1f} | "
            f"{medians[name] / medians[base]:.2f} |"
        )
    return "\n".join(lines)


def versions(tree: str) -> str:
    tree_version = subprocess.run(
        [tree, "--version"], capture_output=True, text=True, check=False
    ).stdout.split(" ©")[0]
    import typer

    return (
        f"{platform.platform()}, {os.cpu_count()} CPUs; Python {platform.python_version()}; "
        f"typer {typer.__version__}; {tree_version.strip()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds (default 15)")
    parser.add_argument("--cache", type=Path, default=trees.default_cache())
    parser.add_argument(
        "--options",
        action="append",
        default=[],
        metavar="OPTIONS",
        help="more listings to time, e.g. --options=-s or '--options=--async -L 2' (repeatable)",
    )
    arguments = parser.parse_args()
    tree = shutil.which("tree")
    if tree is None:
        raise SystemExit("GNU tree is not installed (apt-get install tree)")
    wide = os.fspath(trees.build_wide(arguments.cache))
    small = os.fspath(build_small(arguments.cache))
    rwalk = rwalk_command()
    import rwalk as rwalk_package

    compileall.compile_dir(Path(rwalk_package.__file__).parent, quiet=1)

    listing = {"rwalk -a": [*rwalk, "-a", wide], "tree -a": [tree, "-a", wide]}
    pairs = [("rwalk -a", "tree -a")]
    for option_set in arguments.options:
        ours = ["-a", *option_set.split()]
        theirs = [option for option in ours if option != "--async"]
        pair = ("rwalk " + " ".join(ours), "tree " + " ".join(theirs))
        listing[pair[0]] = [*rwalk, *ours, wide]
        listing[pair[1]] = [tree, *theirs, wide]
        pairs.append(pair)
    outputs = {name: run(command)[1] for name, command in listing.items()}
    for ours_name, theirs_name in pairs:
        if outputs[ours_name] != outputs[theirs_name]:
            raise SystemExit(
                f"{ours_name} and {theirs_name} disagree on the wide tree: not timing them"
            )
    entries = trees.count_entries(wide)
    startup = {
        f"rwalk ({SMALL_ENTRIES} entries)": [*rwalk, small],
        'python -c "import typer"': [sys.executable, "-c", "import typer"],
    }
    for command in startup.values():
        run(command)

    print(f"Machine: {versions(tree)}\n")
    print(
        table(
            f"Wide tree, {entries:,} entries, output to a pipe ({arguments.rounds} rounds)",
            measure(listing, arguments.rounds),
            "tree (same options)",
            dict(pairs) | {theirs_name: theirs_name for _, theirs_name in pairs},
        )
    )
    print()
    print(
        table(
            f"Startup ({arguments.rounds} rounds)",
            measure(startup, arguments.rounds),
            'python -c "import typer"',
            {},
        )
    )


if __name__ == "__main__":
    main()
