"""``rwalk --async``: the listing's walk is ``rwalk.awalk_entries`` with the walk options.

``-L``, ``-l`` and ``-x`` are handed to the walk (``max_depth``, ``detect_loops``,
``one_filesystem``), which then decides what is entered; the output must stay what
the default listing (and GNU ``tree``) prints.  The trees are ``project`` (drawn in
``test_cli.py``) and ``cyclic``::

    cyclic/
    ├── a/
    │   └── sub/
    │       └── up -> ../../a     (back to an ancestor: a loop)
    ├── b/
    │   ├── l1 -> ../a            (a second way into a: not a loop)
    │   └── toc -> ../c
    └── c/
        └── l2 -> ../a

Expected listings are written by hand; in the pictures the vertical guide is drawn
``│   `` and :func:`test_cli.picture` turns it into the bytes tree prints.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import rwalk
from rwalk._render import RECURSIVE_NOT_FOLLOWED
from rwalk._tree import (
    ListingOptions,
    Node,
    ScanLister,
    Tally,
    WalkEntriesLister,
    tree_events,
    walk_options,
)
from test_cli import (
    TREE_OPTIONS,
    build_project,
    needs_tree,
    picture,
    run_in_process,
    run_rwalk,
    run_tree,
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return build_project(tmp_path)


def build_cyclic(parent: Path) -> Path:
    root = parent / "cyclic"
    (root / "a" / "sub").mkdir(parents=True)
    (root / "b").mkdir()
    (root / "c").mkdir()
    (root / "a" / "sub" / "up").symlink_to("../../a")
    (root / "b" / "l1").symlink_to("../a")
    (root / "b" / "toc").symlink_to("../c")
    (root / "c" / "l2").symlink_to("../a")
    return root


@pytest.fixture
def cyclic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return build_cyclic(tmp_path)


# ---------------------------------------------------------------- the options handed on


def test_walk_options_count_the_root_as_depth_zero() -> None:
    assert walk_options(ListingOptions()) == {
        "max_depth": None,
        "detect_loops": False,
        "one_filesystem": False,
    }
    # -L 1 lists the root's entries and enters none of them: the walk's depth 0.
    assert walk_options(ListingOptions(max_depth=1, follow_links=True, one_filesystem=True)) == {
        "max_depth": 0,
        "detect_loops": True,
        "one_filesystem": True,
    }


def test_async_hands_l_L_and_x_to_awalk_entries(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, ...]] = []
    real_awalk_entries = rwalk.awalk_entries

    def recording_awalk_entries(*args: Any, **kwargs: Any) -> Any:
        calls.append((args[1:], kwargs))
        return real_awalk_entries(*args, **kwargs)

    monkeypatch.setattr(rwalk, "awalk_entries", recording_awalk_entries)
    status, _ = run_in_process(["--async", "-L", "2", "-l", "-x", "project"], monkeypatch)
    assert status == 0
    # (topdown, onerror, followlinks) and the options.
    assert len(calls) == 1
    (topdown, _, followlinks), kwargs = calls[0]
    assert (topdown, followlinks) == (True, True)
    assert kwargs == {"max_depth": 1, "detect_loops": True, "one_filesystem": True}


def test_async_lists_through_awalk_entries_with_or_without_walk_options(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One source for --async: the entries give the types (no lstat per entry)."""
    calls: list[str] = []
    real_awalk, real_awalk_entries = rwalk.awalk, rwalk.awalk_entries

    def recording_awalk(*args: Any, **kwargs: Any) -> Any:
        calls.append("awalk")
        return real_awalk(*args, **kwargs)

    def recording_awalk_entries(*args: Any, **kwargs: Any) -> Any:
        calls.append("awalk_entries")
        return real_awalk_entries(*args, **kwargs)

    monkeypatch.setattr(rwalk, "awalk", recording_awalk)
    monkeypatch.setattr(rwalk, "awalk_entries", recording_awalk_entries)
    for args in (["-a", "-s"], ["-L", "1"], ["-l"], ["-x"]):
        status, _ = run_in_process(["--async", *args, "project"], monkeypatch)
        assert status == 0
    assert calls == ["awalk_entries", "awalk_entries", "awalk_entries", "awalk_entries"]


# ---------------------------------------------------------------- outputs unchanged

PROJECT_L2 = """\
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

6 directories, 6 files
"""


@pytest.mark.parametrize("extra", [[], ["--async"]], ids=["default", "--async"])
def test_L_2(extra: list[str], project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    status, output = run_in_process([*extra, "-L", "2", "project"], monkeypatch)
    assert output == picture(PROJECT_L2)
    assert status == 0


CYCLIC_L = """\
cyclic
├── a
│   └── sub
│       └── up -> ../../a  [recursive, not followed]
├── b
│   ├── l1 -> ../a
│   │   └── sub
│   │       └── up -> ../../a  [recursive, not followed]
│   └── toc -> ../c
│       └── l2 -> ../a
│           └── sub
│               └── up -> ../../a  [recursive, not followed]
└── c
    └── l2 -> ../a
        └── sub
            └── up -> ../../a  [recursive, not followed]

16 directories, 0 files
"""


@pytest.mark.parametrize("extra", [[], ["--async"]], ids=["default", "--async"])
def test_l_marks_links_to_an_ancestor_and_enters_other_repeats(
    extra: list[str], cyclic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only links back to an ancestor are cut, as rwalk.walk's detect_loops cuts them.

    GNU tree 2.1.0 also refuses ``b/l1``, ``b/toc/l2`` and ``c/l2`` (it remembers every
    directory it has entered): a documented difference (docs/cli.md).
    """
    status, output = run_in_process([*extra, "-l", "cyclic"], monkeypatch)
    assert output == picture(CYCLIC_L)
    assert status == 0


def test_async_l_with_L_stops_at_the_depth_before_the_loop(
    cyclic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(cyclic)
    status, output = run_in_process(["--async", "-l", "-L", "3", "--noreport", "b"], monkeypatch)
    assert output == picture(
        "b\n├── l1 -> ../a\n│   └── sub\n│       └── up -> ../../a\n"
        "└── toc -> ../c\n    └── l2 -> ../a\n        └── sub\n"
    )
    assert status == 0


@needs_tree
@pytest.mark.parametrize("options", TREE_OPTIONS, ids=" ".join)
def test_async_same_bytes_as_gnu_tree(options: list[str], project: Path) -> None:
    ours = run_rwalk(["--async", *options, "project"], project.parent)
    theirs = run_tree([*options, "project"], project.parent)
    assert ours.stdout == theirs.stdout
    assert ours.returncode == theirs.returncode == 0


# ---------------------------------------------------------------- the lister, in process


def entry_walk_lister(options: ListingOptions) -> Any:
    def lister_for(root: bytes) -> WalkEntriesLister:
        lister = WalkEntriesLister(options)
        lister.attach(
            rwalk.walk_entries(
                root, True, lister.record_error, options.follow_links, **walk_options(options)
            )
        )
        return lister

    return lister_for


LISTER_OPTIONS = [
    ListingOptions(show_hidden=True),
    ListingOptions(max_depth=1),
    ListingOptions(max_depth=4, follow_links=True),
    ListingOptions(follow_links=True, dirs_first=True),
    ListingOptions(follow_links=True, want_stat=True, sort="size"),
    ListingOptions(follow_links=True, disk_usage=True, want_stat=True),
    ListingOptions(exclude=lambda name: name == b"src"),
    ListingOptions(one_filesystem=True, show_hidden=True),
]


@pytest.mark.parametrize("options", LISTER_OPTIONS)
@pytest.mark.parametrize("tree", ["project", "cyclic"])
def test_walk_entries_lister_gives_the_same_events_as_the_scan(
    tree: str, options: ListingOptions, tmp_path: Path
) -> None:
    root = os.fsencode(build_project(tmp_path) if tree == "project" else build_cyclic(tmp_path))
    scan_tally, walk_tally = Tally(), Tally()
    scan_lister = ScanLister()
    # A first read of each directory may update its atime (relatime), which the
    # events' stat results include: read them all once before comparing.
    list(tree_events([root], lambda _: scan_lister, options, Tally()))
    by_scan = list(tree_events([root], lambda _: scan_lister, options, scan_tally))
    by_walk = list(tree_events([root], entry_walk_lister(options), options, walk_tally))
    assert by_walk == by_scan
    assert (walk_tally.directories, walk_tally.files, walk_tally.total_size) == (
        scan_tally.directories,
        scan_tally.files,
        scan_tally.total_size,
    )
    if options.follow_links:
        assert any(
            isinstance(event, Node) and event.note == RECURSIVE_NOT_FOLLOWED for event in by_walk
        )


def test_x_with_a_faked_device_is_the_same_for_the_walk_and_the_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``src`` (and ``link-to-dir``, which leads there) reports another ``st_dev``."""
    root = build_project(tmp_path)
    src_inode = os.stat(root / "src").st_ino
    real_stat = os.stat

    def stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        result = real_stat(path, *args, **kwargs)
        if result.st_ino != src_inode:
            return result
        fields = list(result)
        fields[2] = result.st_dev + 1  # st_dev
        return os.stat_result(fields)

    monkeypatch.setattr(os, "stat", stat)
    options = ListingOptions(one_filesystem=True, follow_links=True)
    scan_lister = ScanLister()
    by_scan = list(tree_events([bytes(root)], lambda _: scan_lister, options, Tally()))
    by_walk = list(tree_events([bytes(root)], entry_walk_lister(options), options, Tally()))
    assert by_walk == by_scan
    not_entered = {
        event.name: (event.has_children, event.note)
        for event in by_walk
        if isinstance(event, Node) and event.name in (b"src", b"link-to-dir")
    }
    assert not_entered == {b"src": (False, b""), b"link-to-dir": (False, b"")}


def test_a_directory_the_walk_skips_without_a_word_is_not_found_without_x(
    tmp_path: Path,
) -> None:
    """Replaced by a link after its parent was listed (bpo-23605): not found."""
    (tmp_path / "d").mkdir()

    def walk() -> Iterator[Any]:
        yield bytes(tmp_path), [], []

    lister = WalkEntriesLister(ListingOptions())
    lister.attach(walk())
    lister.list_directory(bytes(tmp_path))
    answer = lister.list_directory(bytes(tmp_path / "d"))
    assert isinstance(answer, FileNotFoundError)
