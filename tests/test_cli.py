"""The ``rwalk`` command: golden listings, GNU tree comparisons, exit codes, signals, tty.

The fixture tree (``project``), built fresh for each test::

    project/
    ├── .env                  (hidden file)
    ├── .hidden/
    │   └── h
    ├── README.md             "hello\\n"
    ├── a b                   (a space in the name)
    ├── broken -> nowhere     (broken link)
    ├── docs/
    │   └── index.md
    ├── empty/
    ├── link-to-dir -> src
    ├── link-to-file -> README.md
    └── src/
        ├── big.py            5,000 bytes
        └── pkg/
            ├── __init__.py
            ├── mod.py
            └── up -> ..      (a link back to an ancestor)

Expected listings are written by hand from the issue's spec and tree's rules.  In the
pictures below the vertical guide is drawn ``│   ``; tree (and rwalk) print it as
``│`` followed by two no-break spaces and a space, and :func:`picture` substitutes that.
"""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rwalk import cli
from rwalk._render import format_size
from rwalk._tree import (
    ListingOptions,
    PlainRun,
    ScanLister,
    Tally,
    tree_events,
)

TREE = shutil.which("tree")
needs_tree = pytest.mark.skipif(TREE is None, reason="GNU tree is not installed")
UTF8_ENV = {"LC_ALL": "C.UTF-8"}


def picture(text: str) -> bytes:
    """A hand-drawn listing as the bytes tree prints (NBSPs in the vertical guide)."""
    return text.replace("│   ", "│\u00a0\u00a0 ").encode("utf-8")


def build_project(parent: Path) -> Path:
    root = parent / "project"
    (root / ".hidden").mkdir(parents=True)
    (root / ".hidden" / "h").write_bytes(b"")
    (root / ".env").write_bytes(b"")
    (root / "README.md").write_bytes(b"hello\n")
    (root / "a b").write_bytes(b"")
    (root / "broken").symlink_to("nowhere")
    (root / "docs").mkdir()
    (root / "docs" / "index.md").write_bytes(b"")
    (root / "empty").mkdir()
    (root / "link-to-dir").symlink_to("src")
    (root / "link-to-file").symlink_to("README.md")
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "big.py").write_bytes(b"x" * 5000)
    (root / "src" / "pkg" / "__init__.py").write_bytes(b"")
    (root / "src" / "pkg" / "mod.py").write_bytes(b"")
    (root / "src" / "pkg" / "up").symlink_to("..")
    return root


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return build_project(tmp_path)


def run_in_process(args: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, bytes]:
    """Run the typer app with CliRunner in a UTF-8 locale, no colour."""
    monkeypatch.setattr(cli, "locale_is_utf8", lambda: True)
    monkeypatch.delenv("LS_COLORS", raising=False)
    result = CliRunner().invoke(cli.app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout_bytes


def run_rwalk(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    environment = {**os.environ, **(env or UTF8_ENV)}
    environment.pop("NO_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "rwalk", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        check=False,
    )


def run_tree(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    assert TREE is not None
    return subprocess.run(
        [TREE, *args],
        cwd=cwd,
        env={**os.environ, **(env or UTF8_ENV)},
        capture_output=True,
        check=False,
    )


# ---------------------------------------------------------------- golden listings

GOLDEN = {
    "default": (
        ["project"],
        """\
project
├── README.md
├── a b
├── broken -> nowhere
├── docs
│   └── index.md
├── empty
├── link-to-dir -> src
├── link-to-file -> README.md
└── src
    ├── big.py
    └── pkg
        ├── __init__.py
        ├── mod.py
        └── up -> ..

7 directories, 8 files
""",
    ),
    "-a": (
        ["-a", "project"],
        """\
project
├── .env
├── .hidden
│   └── h
├── README.md
├── a b
├── broken -> nowhere
├── docs
│   └── index.md
├── empty
├── link-to-dir -> src
├── link-to-file -> README.md
└── src
    ├── big.py
    └── pkg
        ├── __init__.py
        ├── mod.py
        └── up -> ..

8 directories, 10 files
""",
    ),
    "-d": (
        ["-d", "project"],
        """\
project
├── docs
├── empty
├── link-to-dir -> src
└── src
    └── pkg
        └── up -> ..

7 directories
""",
    ),
    "-L 1": (
        ["-L", "1", "project"],
        """\
project
├── README.md
├── a b
├── broken -> nowhere
├── docs
├── empty
├── link-to-dir -> src
├── link-to-file -> README.md
└── src

5 directories, 4 files
""",
    ),
    "-f -L 1 --noreport": (
        ["-f", "-L", "1", "--noreport", "project"],
        """\
project
├── project/README.md
├── project/a b
├── project/broken -> nowhere
├── project/docs
├── project/empty
├── project/link-to-dir -> src
├── project/link-to-file -> README.md
└── project/src
""",
    ),
    "--dirsfirst": (
        ["--dirsfirst", "project/src"],
        """\
project/src
├── pkg
│   ├── up -> ..
│   ├── __init__.py
│   └── mod.py
└── big.py

3 directories, 3 files
""",
    ),
    "-P alternatives": (
        ["-P", "*.py|*.md", "project"],
        """\
project
├── README.md
├── docs
│   └── index.md
├── empty
└── src
    ├── big.py
    └── pkg
        ├── __init__.py
        └── mod.py

5 directories, 5 files
""",
    ),
    "-I alternatives": (
        ["-I", "src|docs", "project"],
        """\
project
├── README.md
├── a b
├── broken -> nowhere
├── empty
├── link-to-dir -> src
└── link-to-file -> README.md

3 directories, 4 files
""",
    ),
    "-I set and ?": (
        ["-I", "[^s]*|?rc", "project"],
        """\
project

1 directory, 0 files
""",
    ),
    "--charset ascii": (
        ["--charset", "ascii", "--dirsfirst", "project/src"],
        """\
project/src
|-- pkg
|   |-- up -> ..
|   |-- __init__.py
|   `-- mod.py
`-- big.py

3 directories, 3 files
""",
    ),
    "-l": (
        ["-l", "project"],
        """\
project
├── README.md
├── a b
├── broken -> nowhere
├── docs
│   └── index.md
├── empty
├── link-to-dir -> src
│   ├── big.py
│   └── pkg
│       ├── __init__.py
│       ├── mod.py
│       └── up -> ..  [recursive, not followed]
├── link-to-file -> README.md
└── src
    ├── big.py
    └── pkg
        ├── __init__.py
        ├── mod.py
        └── up -> ..  [recursive, not followed]

9 directories, 11 files
""",
    ),
    "--bottom-up": (
        ["--bottom-up", "project/src"],
        """\
├── big.py
    ├── __init__.py
    ├── mod.py
    └── up -> ..
└── pkg
project/src

3 directories, 3 files
""",
    ),
    "-J": (
        ["-J", "project/src"],
        """\
[
  {"type":"directory","name":"project/src","contents":[
    {"type":"file","name":"big.py"},
    {"type":"directory","name":"pkg","contents":[
      {"type":"file","name":"__init__.py"},
      {"type":"file","name":"mod.py"},
      {"type":"link","name":"up","target":".."}
    ]}
  ]}
,
  {"type":"report","directories":3,"files":3}
]
""",
    ),
    "two roots": (
        ["project/docs", "project/empty"],
        """\
project/docs
└── index.md
project/empty

2 directories, 1 file
""",
    ),
}


@pytest.mark.parametrize("case", list(GOLDEN))
def test_golden_listing(case: str, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args, expected = GOLDEN[case]
    status, output = run_in_process(args, monkeypatch)
    assert output == picture(expected)
    assert status == 0


def test_default_path_is_the_current_directory(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project / "docs")
    status, output = run_in_process([], monkeypatch)
    assert output == picture(".\n└── index.md\n\n1 directory, 1 file\n")
    assert status == 0


@pytest.fixture
def sized(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``sized/``: a (1 byte, mtime 100), b (3, 300), c (2, 200), d (3, 100)."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "sized"
    root.mkdir()
    for name, size, mtime in (("a", 1, 100), ("b", 3, 300), ("c", 2, 200), ("d", 3, 100)):
        (root / name).write_bytes(b"x" * size)
        os.utime(root / name, (mtime, mtime))
    return root


def test_sort_by_size_is_largest_first_then_by_name(
    sized: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, output = run_in_process(["--sort=size", "--noreport", "sized"], monkeypatch)
    assert output == picture("sized\n├── b\n├── d\n├── c\n└── a\n")


def test_sort_by_mtime_is_oldest_first_then_by_name(
    sized: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, output = run_in_process(["--sort=mtime", "--noreport", "sized"], monkeypatch)
    assert output == picture("sized\n├── a\n├── d\n├── c\n└── b\n")


def test_sort_none_keeps_directory_order(sized: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, output = run_in_process(["--sort=none", "--noreport", "sized"], monkeypatch)
    names = os.listdir(sized)
    lines = [f"├── {name}" for name in names[:-1]] + [f"└── {names[-1]}"]
    assert output == picture("sized\n" + "\n".join(lines) + "\n")


def test_sizes_in_bytes_and_human(sized: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (sized / "big").write_bytes(b"x" * 5000)
    _, output = run_in_process(["-s", "-P", "b*", "--noreport", "sized"], monkeypatch)
    root_size = os.stat(sized).st_size
    assert output == picture(
        f"[{root_size:11d}]  sized\n├── [       3]  b\n└── [       5000]  big\n".replace(
            "[       3]", "[          3]"
        )
    )
    _, output = run_in_process(["-h", "-P", "big", "--noreport", "sized"], monkeypatch)
    assert output.endswith(picture("└── [4.9K]  big\n"))


# ---------------------------------------------------------------- async wiring


def test_drive_async_iterator_yields_every_item_and_closes_the_iterator() -> None:
    from rwalk._tree import drive_async_iterator

    closed = []

    async def numbers() -> AsyncIterator[int]:
        try:
            for number in range(3):
                yield number
        finally:
            closed.append(True)

    driven = drive_async_iterator(numbers())
    assert isinstance(driven, Generator)
    assert next(driven) == 0
    driven.close()  # the caller stops early
    assert closed == [True]
    assert list(drive_async_iterator(numbers())) == [0, 1, 2]


@pytest.fixture
def python_ctrl_c() -> Iterator[None]:
    """Python's own Ctrl-C handler, which a suite run in the background lacks (SIGINT
    is ignored there), for the duration of a test."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("python_ctrl_c")
def test_ctrl_c_in_the_event_loops_code_cancels_the_step_then_raises() -> None:
    # Ctrl-C that lands in the event loop's own code (here a callback), not in the
    # iterator: the step in progress is cancelled and ends (its cleanup runs), then
    # KeyboardInterrupt comes, as with asyncio.run.  Raised in the loop instead, it
    # left the iterator running, and aclose() raised "asynchronous generator is
    # already running" (rwalk --async with Ctrl-C, found by an audit).
    import asyncio

    from rwalk._tree import drive_async_iterator

    cleaned = []

    async def items() -> AsyncIterator[int]:
        try:
            yield 1
            loop = asyncio.get_running_loop()
            loop.call_soon(signal.raise_signal, signal.SIGINT)
            await loop.create_future()  # never done: only the cancellation ends it
            yield 2
        finally:
            cleaned.append(True)

    driven = drive_async_iterator(items())
    assert next(driven) == 1
    with pytest.raises(KeyboardInterrupt) as raised:
        next(driven)
    assert cleaned == [True]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    # Raised by the driver once the step had ended, not inside asyncio's code.
    assert traceback.extract_tb(raised.value.__traceback__)[-1].filename.endswith("_tree.py")


@pytest.mark.usefixtures("python_ctrl_c")
def test_ctrl_c_while_the_driver_closes_the_walk_is_not_lost() -> None:
    from rwalk._tree import drive_async_iterator

    async def items() -> AsyncIterator[int]:
        try:
            yield 1
            yield 2
        finally:
            signal.raise_signal(signal.SIGINT)  # Ctrl-C as the walk is being closed

    driven = drive_async_iterator(items())
    assert isinstance(driven, Generator)
    assert next(driven) == 1
    with pytest.raises(KeyboardInterrupt):
        driven.close()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_async_listing_is_identical(project: Path) -> None:
    for args in (["-a", "project"], ["-l", "-L", "3", "project"]):
        assert run_rwalk(["--async", *args], project.parent).stdout == (
            run_rwalk(args, project.parent).stdout
        )


# ---------------------------------------------------------------- streaming


def test_listing_reads_each_directory_only_when_it_is_reached(tmp_path: Path) -> None:
    """Output can start before the walk ends: a directory is listed when it is due."""
    (tmp_path / "a").mkdir()
    (tmp_path / "z").mkdir()
    top = os.fsencode(tmp_path)
    lister = ScanLister()
    events = tree_events([top], lambda root: lister, ListingOptions(), Tally())
    root_node = next(events)
    assert root_node is not None
    (tmp_path / "z" / "created-after-the-listing-began").write_bytes(b"")
    names: list[bytes] = []
    for event in events:
        if isinstance(event, PlainRun):
            names.extend(name for name, _, _ in event.entries)
        elif event is not None:
            names.append(event.name)
    assert names == [b"a", b"z", b"created-after-the-listing-began"]


# ---------------------------------------------------------------- GNU tree, byte for byte

TREE_OPTIONS = [
    ["-a"],
    [],
    ["-d"],
    ["-L", "1"],
    ["-L", "2", "-a"],
    ["-f"],
    ["-f", "-a"],
    ["--noreport"],
    ["--dirsfirst"],
    ["--dirsfirst", "-a", "-L", "2"],
    ["-P", "*.py|*.md"],
    ["-I", "src|docs"],
    ["-I", "[^s]*"],
    ["--charset", "ascii", "-a"],
    ["-l"],
    ["-l", "-a", "-d"],
    ["-s"],
    ["-h"],
    ["--sort=size"],
    ["--sort=mtime"],
    ["-J"],
    ["-J", "-a", "-s"],
    ["-J", "-f", "-a"],
    ["-J", "-d"],
    ["-J", "-d", "-a"],
]


@needs_tree
@pytest.mark.parametrize("options", TREE_OPTIONS, ids=" ".join)
def test_same_bytes_as_gnu_tree(options: list[str], project: Path) -> None:
    ours = run_rwalk([*options, "project"], project.parent)
    theirs = run_tree([*options, "project"], project.parent)
    assert ours.stdout == theirs.stdout
    assert ours.returncode == theirs.returncode == 0


ODD_NAMES = [
    b"tab\there",
    b"nl\nline",
    b"esc\x1b[31mred",
    b"del\x7fx",
    b"latin\xe9",
    b"a b\xe9",
    b"back\\slash",
    b"uni\xc3\xa9",
    b"cr\rx",
    b"zw\xe2\x80\x8bsp",
    b"c1\xc2\x85x",
    b"sp ace",
    b"emoji\xf0\x9f\x98\x80",
    b"lsep\xe2\x80\xa8x",
    b"\x01ctl",
    b"Zed",
    b"_under",
    b"\xff\xfe",
]


@pytest.fixture
def odd(tmp_path: Path) -> Path:
    root = tmp_path / "odd"
    root.mkdir()
    for name in ODD_NAMES:
        with open(os.path.join(os.fsencode(root), name), "wb"):
            pass
    os.mkdir(os.path.join(os.fsencode(root), b"dir\nwith\x1b[2Jnewline"))
    os.symlink(b"target\x1b[0m\n", os.path.join(os.fsencode(root), b"link"))
    return root


def _locales() -> list[str]:
    available = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=False)
    names = {name.lower().replace("-", "") for name in available.stdout.split()}
    wanted = ["C", "POSIX", "C.UTF-8"]
    if "en_us.utf8" in names:
        wanted.append("en_US.UTF-8")
    return wanted


@needs_tree
@pytest.mark.parametrize("locale_name", _locales())
@pytest.mark.parametrize("options", [["-a"], ["-a", "-f"]], ids=" ".join)
def test_odd_names_as_gnu_tree_in_every_locale(
    locale_name: str, options: list[str], odd: Path
) -> None:
    env = {"LC_ALL": locale_name}
    ours = run_rwalk([*options, "odd"], odd.parent, env)
    theirs = run_tree([*options, "odd"], odd.parent, env)
    assert ours.stdout == theirs.stdout


def _without_locale(**extra: str) -> dict[str, str]:
    """This process's environment with no locale variable (``env -i``, a bare container)."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("LC_") and name not in {"LANG", "LANGUAGE", "PYTHONUTF8"}
    }
    environment.pop("NO_COLOR", None)
    return {**environment, **extra}


@pytest.mark.parametrize("setting", [{}, {"LANG": "C"}, {"LANG": "POSIX"}], ids=repr)
def test_no_locale_draws_and_escapes_as_the_c_locale(
    tmp_path: Path, setting: dict[str, str]
) -> None:
    # Found in session 9's audit: with no LC_ALL and a C locale, Python switches itself
    # to C.UTF-8 (PEP 538), so rwalk drew UTF-8 guides and wrote UTF-8 names raw, where
    # tree, in the C locale, draws ASCII and escapes every byte above 0x7f.
    root = tmp_path / "dir"
    (root / "sub").mkdir(parents=True)
    (root / "caf\u00e9").write_bytes(b"")
    (root / "sub" / "\u2603").write_bytes(b"")
    environment = _without_locale(**setting)
    ours = subprocess.run(
        [sys.executable, "-m", "rwalk", "dir"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        check=False,
    )
    assert ours.stdout == (
        b"dir\n|-- caf\\303\\251\n`-- sub\n    `-- \\342\\230\\203\n\n2 directories, 2 files\n"
    )
    if TREE is not None:
        theirs = subprocess.run(
            [TREE, "dir"], cwd=tmp_path, env=environment, capture_output=True, check=False
        )
        assert ours.stdout == theirs.stdout


@needs_tree
def test_sizes_as_gnu_tree_on_sparse_files(tmp_path: Path) -> None:
    root = tmp_path / "sizes"
    root.mkdir()
    for size in (0, 1, 1023, 1024, 5000, 10188, 10189, 10240, 13194, 1572864, 10 * 1024**3):
        with open(root / f"f{size:012d}", "wb") as sparse:
            sparse.truncate(size)
    for options in (["-s"], ["-h"], ["--sort=size", "-h"]):
        ours = run_rwalk([*options, "sizes"], tmp_path)
        assert ours.stdout == run_tree([*options, "sizes"], tmp_path).stdout


# ---------------------------------------------------------------- exit status and errors


def test_missing_path_is_shown_and_exits_2(project: Path) -> None:
    result = run_rwalk(["nonexistent", "project/docs"], project.parent)
    assert result.stdout == picture(
        "nonexistent  [error opening dir]\nproject/docs\n└── index.md\n\n1 directory, 1 file\n"
    )
    assert result.stderr == b"rwalk: nonexistent: No such file or directory\n"
    assert result.returncode == 2


@needs_tree
def test_missing_path_as_gnu_tree(project: Path) -> None:
    ours = run_rwalk(["nonexistent"], project.parent)
    theirs = run_tree(["nonexistent"], project.parent)
    assert ours.stdout == theirs.stdout
    assert ours.returncode == theirs.returncode == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bogus"], b"No such option"),
        (["-L", "0"], b"-L"),
        (["-L", "many"], b"-L"),
        (["--sort=largest"], b"--sort"),
        (["--charset", "klingon"], b"unknown charset"),
        (["-P", "a||b"], b"empty alternative"),
        (["-J", "--bottom-up"], b"no JSON form"),
    ],
)
def test_bad_arguments_are_usage_errors_without_traceback(
    args: list[str], message: bytes, project: Path
) -> None:
    result = run_rwalk([*args, "project"], project.parent)
    assert result.returncode == 2
    assert message in result.stderr
    assert b"Usage:" in result.stderr
    assert b"Traceback" not in result.stderr
    assert result.stdout == b""


def _run_forked_as_nobody(args: list[str], cwd: Path) -> tuple[int, bytes, bytes]:
    """Run the app in a forked child that dropped root privileges (uid/gid 65534).

    A forked child keeps the already-imported interpreter: exec'ing the pyenv python
    as nobody would fail, since it lives under /root (mode 700).
    """
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        status = 70
        try:
            os.dup2(out_write, 1)
            os.dup2(err_write, 2)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            os.chdir(cwd)
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
            sys.argv = ["rwalk", *args]
            # As run_rwalk's LC_ALL=C.UTF-8: a test process started in the C locale has
            # Python's UTF-8 mode, which rwalk reads as tree's C locale (ASCII guides).
            cli.locale_is_utf8 = lambda: True
            try:
                cli.main()
                status = 0
            except SystemExit as exit_:
                status = exit_.code if isinstance(exit_.code, int) else 1
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(status)
    os.close(out_write)
    os.close(err_write)
    with open(out_read, "rb") as out, open(err_read, "rb") as err:
        stdout, stderr = out.read(), err.read()
    _, wait_status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(wait_status), stdout, stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_unreadable_directory_is_marked_and_exits_2(world_reachable_tmp: Path) -> None:
    root = world_reachable_tmp / "t"
    (root / "secret").mkdir(parents=True)
    (root / "secret" / "hidden-content").write_bytes(b"")
    (root / "zz").write_bytes(b"")
    (root / "secret").chmod(0o000)
    args = ["-n", "t"]
    if os.geteuid() == 0:
        status, stdout, stderr = _run_forked_as_nobody(args, world_reachable_tmp)
    else:
        result = run_rwalk(args, world_reachable_tmp)
        status, stdout, stderr = result.returncode, result.stdout, result.stderr
    assert stdout.decode() == (
        "t\n├── secret  [error opening dir]\n└── zz\n\n2 directories, 1 file\n"
    )
    assert stderr == b"rwalk: t/secret: Permission denied\n"
    assert status == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize(
    "options", [[], ["-l"], ["--async", "-l"]], ids=["plain", "follow", "async-follow"]
)
def test_a_directory_that_cannot_be_searched_is_an_error_with_or_without_l(
    world_reachable_tmp: Path, options: list[str]
) -> None:
    # "noexec" can be read but not searched: its subdirectory cannot be stat'ed, nor
    # listed.  With -l the failed stat was taken for a loop ("[recursive, not
    # followed]", exit 0, nothing on stderr; found by an audit): it is an error as
    # without -l.
    root = world_reachable_tmp / "noexec"
    (root / "x").mkdir(parents=True)
    root.chmod(0o644)
    args = ["-n", *options, "noexec"]
    if os.geteuid() == 0:
        status, stdout, stderr = _run_forked_as_nobody(args, world_reachable_tmp)
    else:
        result = run_rwalk(args, world_reachable_tmp)
        status, stdout, stderr = result.returncode, result.stdout, result.stderr
    root.chmod(0o755)
    assert stdout.decode() == "noexec\n└── x  [error opening dir]\n\n2 directories, 0 files\n"
    assert stderr == b"rwalk: noexec/x: Permission denied\n"
    assert status == 2


@pytest.mark.skipif(
    TREE is None or os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs GNU tree, root and setpriv to compare as an unprivileged user",
)
def test_unreadable_directory_as_gnu_tree(world_reachable_tmp: Path) -> None:
    build_project(world_reachable_tmp)
    (world_reachable_tmp / "project" / "docs").chmod(0o000)
    assert TREE is not None
    theirs = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", TREE, "-a", "project"],
        cwd=world_reachable_tmp,
        env={**os.environ, **UTF8_ENV},
        capture_output=True,
        check=False,
    )
    status, ours, _ = _run_forked_as_nobody(["-a", "-n", "project"], world_reachable_tmp)
    if b"\xe2\x94" not in ours:  # the forked child inherited a non-UTF-8 locale
        pytest.skip("the test process's locale is not UTF-8")
    assert b"docs  [error opening dir]" in ours
    assert ours == theirs.stdout
    assert status == theirs.returncode == 2


# ---------------------------------------------------------------- pipes and signals


@pytest.fixture
def many_files(tmp_path: Path) -> Path:
    """Enough entries that the listing (about 250 kB) overfills a pipe's buffer."""
    root = tmp_path / "many"
    root.mkdir()
    for index in range(4000):
        (root / f"file-with-a-fairly-long-name-{index:06d}.txt").write_bytes(b"")
    return root


def test_closed_pipe_ends_quietly(many_files: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "rwalk", "many"],
        cwd=many_files.parent,
        env={**os.environ, **UTF8_ENV},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None
    assert child.stderr is not None
    assert child.stdout.readline() == b"many\n"
    child.stdout.close()  # as `head -1` does
    with child.stderr:
        stderr = child.stderr.read()
    assert child.wait(timeout=60) == 141
    assert stderr == b""


def test_head_in_a_shell_pipeline_sees_no_traceback(many_files: Path) -> None:
    result = subprocess.run(
        f"'{sys.executable}' -m rwalk many | head -1",
        shell=True,
        cwd=many_files.parent,
        env={**os.environ, **UTF8_ENV},
        capture_output=True,
        check=False,
    )
    assert result.stdout == b"many\n"
    assert result.stderr == b""


def test_a_name_in_an_error_message_is_escaped_as_in_the_listing(tmp_path: Path) -> None:
    # stderr is usually the same terminal: a name's escape sequence or newline must not
    # reach it raw there either.  tree escapes such bytes as \ooo (octal), in both.
    name = "miss\x1b[31mX\nY"
    result = run_rwalk(["-n", name], tmp_path)
    assert result.returncode == 2
    assert result.stdout.startswith(b"miss\\033[31mX\\012Y  [error opening dir]\n")
    assert result.stderr == b"rwalk: miss\\033[31mX\\012Y: No such file or directory\n"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_is_one_message_and_exit_2(project: Path) -> None:
    with open("/dev/full", "wb") as full:
        result = subprocess.run(
            [sys.executable, "-m", "rwalk", "project"],
            cwd=project.parent,
            env={**os.environ, **UTF8_ENV},
            stdout=full,
            stderr=subprocess.PIPE,
            check=False,
        )
    assert result.stderr == b"rwalk: write error: No space left on device\n"
    assert result.returncode == 2


@pytest.mark.parametrize(
    ("redirection", "status", "message"),
    [
        pytest.param(">&-", 2, b"rwalk: standard output is closed\n", id="stdout-closed"),
        # The listing is written; the message about the missing path has nowhere to go.
        pytest.param("2>&-", 2, None, id="stderr-closed"),
        pytest.param("2>/dev/full", 2, None, id="stderr-full"),
    ],
)
def test_a_closed_or_full_stream_is_no_traceback(
    project: Path, redirection: str, status: int, message: bytes | None
) -> None:
    if "/dev/full" in redirection and not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    result = subprocess.run(
        f"'{sys.executable}' -m rwalk project missing {redirection}",
        shell=True,
        cwd=project.parent,
        env={**os.environ, **UTF8_ENV},
        capture_output=redirection.startswith("2"),
        stderr=None if redirection.startswith("2") else subprocess.PIPE,
        check=False,
    )
    assert result.returncode == status
    if message is not None:
        assert result.stderr == message
    else:
        assert result.stdout.startswith(b"project\n")
        assert b"missing  [error opening dir]" in result.stdout


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("args", [["many"], ["--async", "many"]], ids=["scan", "async"])
def test_ctrl_c_exits_130_without_traceback(many_files: Path, args: list[str]) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "rwalk", *args],
        cwd=many_files.parent,
        env={**os.environ, **UTF8_ENV},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # A suite started in the background by a non-interactive shell runs with
        # SIGINT ignored, which the child would inherit (and then never see Ctrl-C).
        preexec_fn=_default_sigint,  # noqa: PLW1509
    )
    assert child.stdout is not None
    # The listing has begun; it then blocks on the full pipe until we read more.
    assert child.stdout.readline() == b"many\n"
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 130
    assert b"Traceback" not in stderr


@pytest.mark.parametrize("args", [["-C", "many"], ["-C", "--async", "many"]], ids=["scan", "async"])
def test_ctrl_c_with_colour_ends_the_output_in_the_default_colours(
    many_files: Path, args: list[str]
) -> None:
    # The interrupted write may stop inside a coloured name; the last bytes written are
    # the reset (SGR 0), so that the terminal is not left coloured.
    child = subprocess.Popen(
        [sys.executable, "-m", "rwalk", *args],
        cwd=many_files.parent,
        env={**os.environ, **UTF8_ENV, "LS_COLORS": "di=01;34:fi=32"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_default_sigint,  # noqa: PLW1509
    )
    assert child.stdout is not None
    assert child.stdout.readline() == b"\x1b[01;34mmany\x1b[0m\n"  # the listing has begun
    child.send_signal(signal.SIGINT)
    stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == 130
    assert b"Traceback" not in stderr
    assert stdout.endswith(b"\x1b[0m")
    assert b"directories" not in stdout  # interrupted: no report


@pytest.mark.parametrize("buffered", [False, True], ids=["raw", "buffered"])
def test_a_full_non_blocking_stdout_is_waited_for_not_spun_on(
    buffered: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found in session 9's audit: a stdout made non-blocking by someone else (a shared
    # pipe or terminal), behind a slow reader, made every write return at once, and
    # the listing spun on the CPU.  Here the pipe is full before the first write; the
    # reader drains it only once the writer waits for it (or has spun 10,000 times).
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    filled = 0
    with contextlib.suppress(BlockingIOError):
        while True:
            filled += os.write(write_end, b"f" * 65536)
    waiting, spun = threading.Event(), threading.Event()
    real_select = select.select

    def recording_select(*args: Any) -> Any:
        waiting.set()
        return real_select(*args)

    monkeypatch.setattr(select, "select", recording_select)
    stream = open(write_end, "wb", buffering=-1 if buffered else 0)  # noqa: SIM115

    class Counting:
        calls = 0

        def write(self, data: Any) -> Any:
            Counting.calls += 1
            if Counting.calls > 10_000:
                spun.set()
                raise BrokenPipeError  # stop the spinning writer
            return stream.write(data)

        def flush(self) -> None:
            cli._flush(stream)

        def fileno(self) -> int:
            return stream.fileno()

    data = b"x" * 200_000
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            cli._write_all(Counting())(data)  # type: ignore[arg-type]
            cli._flush(stream)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            stream.close()

    thread = threading.Thread(target=writer)
    thread.start()
    while not (waiting.is_set() or spun.is_set()):
        threading.Event().wait(0.001)
    received = 0
    with open(read_end, "rb", buffering=0) as reader:
        while chunk := reader.read(65536):
            received += len(chunk)
    thread.join(60)
    assert not spun.is_set()
    assert errors == []
    assert received == filled + len(data)


# ---------------------------------------------------------------- on a terminal


def _run_on_a_pty(args: list[str], cwd: Path, env: dict[str, str]) -> bytes:
    controller, terminal = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "rwalk", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=subprocess.DEVNULL,
    )
    os.close(terminal)
    output = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    child.wait(timeout=60)
    # The terminal turns "\n" into "\r\n" on output.
    return output.replace(b"\r\n", b"\n")


def _clean_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("NO_COLOR", "LS_COLORS")}
    return {**env, **UTF8_ENV, **extra}


def test_colour_by_default_on_a_terminal_and_escaping_too(odd: Path) -> None:
    output = _run_on_a_pty(["-a", "odd"], odd.parent, _clean_env())
    assert output.startswith(b"\x1b[01;34modd\x1b[0m\n")
    assert b"\x1b[01;34mdir\\012with\\033[2Jnewline\x1b[0m" in output
    # A broken link is an orphan ("or"); its missing target is painted as a file.
    assert b"\x1b[40;31;01mlink\x1b[0m -> \x1b[00mtarget\\033[0m\\012\x1b[0m" in output
    # Every ESC on the terminal starts one of rwalk's own colour sequences.
    assert b"\x1b" not in re.sub(rb"\x1b\[[0-9;]*m", b"", output)


def test_no_color_and_n_turn_colour_off_on_a_terminal(project: Path) -> None:
    for env, args in ((_clean_env(NO_COLOR="1"), []), (_clean_env(), ["-n"])):
        output = _run_on_a_pty([*args, "project/docs"], project.parent, env)
        assert output == picture("project/docs\n└── index.md\n\n1 directory, 1 file\n")


def test_ls_colors_and_forced_colour_in_a_pipe(project: Path) -> None:
    env = {**UTF8_ENV, "LS_COLORS": "di=01;35:*.md=00;33"}
    result = run_rwalk(["-C", "project/docs"], project.parent, env)
    assert result.stdout == picture(
        "\x1b[01;35mproject/docs\x1b[0m\n└── \x1b[00;33mindex.md\x1b[0m\n\n1 directory, 1 file\n"
    )


def test_no_colour_in_a_pipe_by_default(project: Path) -> None:
    result = run_rwalk(["project/docs"], project.parent)
    assert b"\x1b" not in result.stdout


def test_python_dash_m_and_the_console_script_agree(project: Path) -> None:
    script = Path(sys.executable).parent / "rwalk"
    if not script.exists():
        pytest.skip("the rwalk console script is not installed next to this python")
    by_script = subprocess.run(
        [script, "project"],
        cwd=project.parent,
        env={**os.environ, **UTF8_ENV},
        capture_output=True,
        check=True,
    )
    assert by_script.stdout == run_rwalk(["project"], project.parent).stdout


# Imported only by the options or names that need them (docs/design.md, "Startup"):
# pydantic would add about 110 ms to every run (typer 0.29 imports it for any option
# that is not a plain flag), the others a few ms each.
STARTUP_ONLY_WHEN_NEEDED = ("pydantic", "rich", "json", "asyncio", "unicodedata", "rwalk._patterns")


def test_a_listing_with_valued_options_imports_nothing_it_does_not_need(project: Path) -> None:
    script = (
        "import sys\n"
        "from rwalk import cli\n"
        "sys.argv = ['rwalk', '-L', '2', '--sort', 'size', '--charset', 'utf-8', 'project']\n"
        "try:\n"
        "    cli.main()\n"
        "except SystemExit:\n"
        "    pass\n"
        f"loaded = [name for name in {STARTUP_ONLY_WHEN_NEEDED!r} if name in sys.modules]\n"
        "sys.stderr.write(repr(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=project.parent,
        env={**os.environ, **UTF8_ENV},
        capture_output=True,
        check=True,
    )
    assert result.stdout.startswith(b"project\n")
    assert result.stderr == b"[]"


# ---------------------------------------------------------------- --du


def _own(path: Path) -> int:
    return os.lstat(path).st_size


def test_du_shows_each_directory_as_its_own_size_plus_its_listed_contents(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = project / "src"
    # big.py 5,000 bytes; __init__.py and mod.py empty; the link "up -> .." is 2 bytes
    # (its target's length) and is not followed.
    pkg_total = _own(src / "pkg") + 0 + 0 + 2
    src_total = _own(src) + 5000 + pkg_total
    status, output = run_in_process(["--du", "project/src"], monkeypatch)
    assert output == picture(
        f"[{src_total:11d}]  project/src\n"
        "├── [       5000]  big.py\n"
        f"└── [{pkg_total:11d}]  pkg\n"
        "    ├── [          0]  __init__.py\n"
        "    ├── [          0]  mod.py\n"
        "    └── [          2]  up -> ..\n"
        "\n"
        f" {src_total:11d} bytes used in 3 directories, 3 files\n"
    )
    assert status == 0


def test_du_sums_only_what_is_listed(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without -a the hidden entries are not listed and not summed; at -L 1 the
    # subdirectories are not entered, so each counts its own size only.
    hidden_free = (
        _own(project)
        + 6  # README.md
        + 0  # a b
        + 7  # broken -> nowhere
        + _own(project / "docs")
        + _own(project / "empty")
        + 3  # link-to-dir -> src
        + 9  # link-to-file -> README.md
        + _own(project / "src")
    )
    _, output = run_in_process(["--du", "-L", "1", "--noreport", "project"], monkeypatch)
    assert output.startswith(f"[{hidden_free:11d}]  project\n".encode())
    with_hidden = hidden_free + 0 + _own(project / ".hidden")  # .env, .hidden (not entered)
    _, output = run_in_process(["--du", "-a", "-L", "1", "--noreport", "project"], monkeypatch)
    assert output.startswith(f"[{with_hidden:11d}]  project\n".encode())


def test_du_human_sizes_and_report(sized: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (sized / "big").write_bytes(b"x" * 5000)
    # -P big lists only big (5,000 bytes, "4.9K"); the directory's own size depends on
    # the file system, so its -h text comes from format_size (checked against tree in
    # test_render.py).
    shown = format_size(_own(sized) + 5000, human=True).decode()
    _, output = run_in_process(["--du", "-h", "-P", "big", "sized"], monkeypatch)
    assert output == picture(
        f"{shown}  sized\n└── [4.9K]  big\n\n {shown[1:-1]} used in 1 directory, 1 file\n"
    )


def test_du_json_report_has_the_total(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs_total = _own(project / "docs") + 0
    _, output = run_in_process(["--du", "-J", "project/docs"], monkeypatch)
    assert output == (
        b"[\n"
        b'  {"type":"directory","name":"project/docs","size":%d,"contents":[\n'
        b'    {"type":"file","name":"index.md","size":0}\n'
        b"  ]}\n"
        b",\n"
        b'  {"type":"report","size":%d,"directories":1,"files":1}\n'
        b"]\n"
    ) % (docs_total, docs_total)


@pytest.mark.parametrize("options", [[], ["-l"], ["--async"]], ids=["plain", "follow", "async"])
def test_du_reads_each_directory_at_most_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: list[str]
) -> None:
    # Summed afresh for each ancestor, a directory at depth k was read k times (a
    # 900-level chain took 60 s against tree's 0.08 s; found by an audit).  Each one is
    # now summed once and listed once.
    from rwalk import _scan, _tree

    monkeypatch.chdir(tmp_path)
    chain = Path("chain")
    level = chain
    for _ in range(40):
        level = level / "d"
    level.mkdir(parents=True)
    (level / "f").write_bytes(b"12345")
    reads: list[bytes] = []
    real_scan = _scan.scan_typed_entries
    real_scandir = os.scandir

    def counted_scan(path: bytes) -> Any:
        reads.append(os.fsencode(path))
        return real_scan(path)

    def counted_scandir(path: Any) -> Any:
        if os.fsencode(path).startswith(b"chain"):
            reads.append(os.fsencode(path))
        return real_scandir(path)

    monkeypatch.setattr(_tree, "scan_typed_entries", counted_scan)
    if options == ["--async"]:
        monkeypatch.setattr(os, "scandir", counted_scandir)
    status, output = run_in_process(["--du", *options, "chain"], monkeypatch)
    assert status == 0
    assert output.endswith(b" used in 41 directories, 1 file\n")
    counts = {path: reads.count(path) for path in set(reads)}
    assert len(counts) == 41
    # Once summed, once listed; with --async, once more for the link check after a
    # directory's yield (awalk lists a directory again instead of one lstat per name).
    assert max(counts.values()) <= (3 if "--async" in options else 2)


@pytest.mark.parametrize("room", [0, 400, 10**9], ids=["no-room", "some-room", "room"])
def test_du_totals_do_not_depend_on_the_room_to_remember_them(
    project: Path, monkeypatch: pytest.MonkeyPatch, room: int
) -> None:
    # Totals that do not fit are summed again; the listing must not change.
    from rwalk import _tree

    args = ["--du", "-a", "-l", "project"]
    _, expected = run_in_process(args, monkeypatch)
    monkeypatch.setattr(_tree, "_KNOWN_TOTALS_BYTES", room)
    _, output = run_in_process(args, monkeypatch)
    assert output == expected


def test_known_totals_are_given_once_and_free_their_room(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rwalk import _tree

    # Room for two entries of 5-byte paths, not three.
    entry = 5 + _tree._KNOWN_TOTAL_ENTRY_BYTES
    monkeypatch.setattr(_tree, "_KNOWN_TOTALS_BYTES", 2 * entry + entry // 2)
    known = _tree._KnownTotals()
    known.remember(b"a/b/1", 10)
    known.remember(b"a/b/2", 20)
    known.remember(b"a/b/3", 30)  # no room: it will be summed again
    assert known.size == 2 * entry
    known.remember(b"a/b/1", 11)  # summed again: no more room taken
    assert known.size == 2 * entry
    assert known.take(b"a/b/3") is None
    assert known.take(b"a/b/1") == 11
    assert known.take(b"a/b/1") is None  # shown once, then forgotten
    assert known.size == entry
    known.remember(b"a/b/3", 30)  # the room freed is used again
    assert known.take(b"a/b/3") == 30
    assert known.take(b"a/b/2") == 20
    assert known.size == 0


def test_du_sort_by_size_orders_by_the_totals_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As tree: a directory holding 200,000 bytes comes before a file of 123,456,
    # though the directory's own size is smaller (found by an audit).
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sz" / "b").mkdir(parents=True)
    (tmp_path / "sz" / "b" / "huge").write_bytes(bytes(200_000))
    (tmp_path / "sz" / "big.bin").write_bytes(bytes(123_456))
    (tmp_path / "sz" / "small").write_bytes(bytes(10))
    _, output = run_in_process(["--du", "--sort=size", "--noreport", "sz"], monkeypatch)
    names = [line.split(b"]  ")[1] for line in output.splitlines()[1:]]
    assert names == [b"b", b"huge", b"big.bin", b"small"]


def test_a_root_with_a_trailing_slash_is_shown_as_given(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As tree: the argument as typed (the usual tab-completed form), and with -f the
    # path the listing reads (found by an audit: rwalk showed "project" for both).
    _, output = run_in_process(["--noreport", "-L", "1", "project/"], monkeypatch)
    assert output.splitlines()[0] == b"project/"
    _, output = run_in_process(["--noreport", "-L", "1", "-f", "project/"], monkeypatch)
    assert output.splitlines()[0] == b"project"
    assert output.splitlines()[1].split(b" ", 1)[1].startswith(b"project/")


@needs_tree
@pytest.mark.parametrize(
    "args",
    [["project/"], ["project//"], ["-f", "project/"], ["-J", "project/"], ["-s", "project/src/"]],
    ids=" ".join,
)
def test_a_root_with_a_trailing_slash_as_gnu_tree(project: Path, args: list[str]) -> None:
    ours = run_rwalk(args, project.parent)
    theirs = run_tree(args, project.parent)
    assert ours.stdout == theirs.stdout


def test_a_link_whose_target_cannot_be_read_says_so_as_tree_does(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # tree prints "[Error reading symbolic link information]" (as nobody on /proc/1's
    # cwd, exe and root links); rwalk printed "up -> " (found by an audit).
    real_readlink = os.readlink

    def readlink(path: Any, *args: Any, **kwargs: Any) -> Any:
        if os.fsencode(path).endswith(b"/up"):
            raise PermissionError(13, "Permission denied", path)
        return real_readlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "readlink", readlink)
    _, output = run_in_process(["--noreport", "project/src/pkg"], monkeypatch)
    assert b"up -> [Error reading symbolic link information]\n" in output
    _, output = run_in_process(["-J", "--noreport", "project/src/pkg"], monkeypatch)
    assert b'"target":"[Error reading symbolic link information]"' in output


DU_TREE_OPTIONS = [
    ["--du"],
    ["--du", "-a"],
    ["--du", "-h"],
    ["--du", "-d"],
    ["--du", "-L", "1"],
    ["--du", "-L", "2", "-a"],
    ["--du", "-P", "*.py"],
    ["--du", "-I", "src"],
    ["--du", "-f", "--dirsfirst"],
    ["--du", "--sort=size"],
    ["--du", "--sort=size", "-a", "--dirsfirst"],
]
_DU_REPORT = re.compile(rb"\n\n *(\S+)( bytes)? used in ([^\n]*)\n\Z")


@needs_tree
@pytest.mark.parametrize("options", DU_TREE_OPTIONS, ids=" ".join)
def test_du_as_gnu_tree_except_the_total_used(options: list[str], project: Path) -> None:
    ours = run_rwalk([*options, "project"], project.parent).stdout
    theirs = run_tree([*options, "project"], project.parent).stdout
    our_report, their_report = _DU_REPORT.search(ours), _DU_REPORT.search(theirs)
    assert our_report is not None
    assert their_report is not None
    # Every line up to the report is tree's, byte for byte.
    assert ours[: our_report.start()] == theirs[: their_report.start()]
    # The report has tree's shape and counts; its total is the root's total, as
    # `du -c` reports it (tree adds every listed line's size, counting each file once
    # per directory above it: docs/cli.md).
    assert our_report.group(2, 3) == their_report.group(2, 3)
    root_size = ours.split(b"]", 1)[0].lstrip(b"[").strip()
    assert our_report.group(1) == root_size


def test_du_with_l_sums_followed_links_but_not_links_to_ancestors(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg_total = _own(project / "src" / "pkg") + 0 + 0 + 2  # up -> .. is not followed
    # link-to-dir -> src is followed: the link's own 3 bytes plus src's contents.
    link_total = 3 + 5000 + pkg_total
    _, output = run_in_process(["--du", "-l", "-L", "1", "--noreport", "project"], monkeypatch)
    assert f"├── [{3:11d}]  link-to-dir -> src\n".encode() in output  # -L 1: not entered
    _, output = run_in_process(["--du", "-l", "--noreport", "project"], monkeypatch)
    assert f"├── [{link_total:11d}]  link-to-dir -> src\n".encode() in output
    assert picture(f"│       └── [{2:11d}]  up -> ..  [recursive, not followed]\n") in output
