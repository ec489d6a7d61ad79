"""The per-directory scan on its own: classification and the join fast path."""

from __future__ import annotations

import dataclasses
import os
import posixpath
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyfakefs import fake_filesystem, fake_os

from rwalk import _scan
from rwalk._scan import (
    SETTLED_NS,
    DirectoryStamp,
    _fast_join,
    scan_directory,
    settled_stamp,
    subdirectories_to_enter,
    subdirectories_to_enter_listed,
    subdirectories_to_enter_unchanged,
)

PARTS = st.text("ab/é\udcff", max_size=4)


@given(top=PARTS, name=PARTS)
def test_fast_join_equals_posixpath_join_for_str(top: str, name: str) -> None:
    assert _fast_join(top, name) == posixpath.join(top, name)


@given(top=PARTS.map(lambda s: s.encode("utf-8", "surrogateescape")), name=st.binary(max_size=4))
def test_fast_join_equals_posixpath_join_for_bytes(top: bytes, name: bytes) -> None:
    assert _fast_join(top, name) == posixpath.join(top, name)


def test_fast_join_raises_like_posixpath_join_for_mixed_types() -> None:
    with pytest.raises(TypeError, match="Can't mix strings and bytes"):
        _fast_join("top", b"name")  # type: ignore[type-var]


def test_scan_classifies_entries_and_closes_before_returning(tmp_path: Path) -> None:
    (tmp_path / "directory").mkdir()
    (tmp_path / "file").write_text("")
    (tmp_path / "link").symlink_to("directory")
    listing = scan_directory(str(tmp_path), True, False)
    assert not isinstance(listing, OSError)
    dirnames, filenames, enter_paths = listing
    assert sorted(dirnames) == ["directory", "link"]
    assert filenames == ["file"]
    assert enter_paths == [f"{tmp_path}/directory"]  # the link is listed, not entered


def test_scan_returns_the_error_instead_of_raising(tmp_path: Path) -> None:
    error = scan_directory(str(tmp_path / "missing"), False, False)
    assert isinstance(error, FileNotFoundError)
    assert error.filename == str(tmp_path / "missing")


def test_subdirectories_to_enter_checks_for_links_now(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to("real")
    top = str(tmp_path)
    assert subdirectories_to_enter(top, ["link", "real"], False) == [f"{top}/real"]
    assert subdirectories_to_enter(top, ["link", "real"], True) == [f"{top}/link", f"{top}/real"]


# ---------------------------------------------------------------- the check by listing

KINDS = ("directory", "file", "link to directory", "link to file", "broken link")
ENTRY_NAMES = st.sampled_from(["a", "b", "c", "d", "e", "é", "f\udcff"])
# Names a caller may put in dirnames besides the directory's own: absent ones, paths.
OTHER_NAMES = st.sampled_from(["missing", "a/b", "..", ".", "", "/abs", "a\0b"])


class Name(str):
    """A str subclass: never looked up in the listing, checked by islink."""


@dataclasses.dataclass
class RelativePath:
    """An unhashable os.PathLike name (os.walk joins it, and checks it with islink)."""

    name: str

    def __fspath__(self) -> str:
        return self.name


def as_caller_name(name: str, kind: int, as_bytes: bool) -> Any:
    """``name`` as the caller put it in dirnames: plain, a str subclass, or a PathLike."""
    if as_bytes:
        return os.fsencode(name)
    return (name, Name(name), RelativePath(name))[kind]


def make_entry(top: str, name: str, kind: str) -> None:
    path = os.path.join(top, name)
    if kind == "directory":
        os.mkdir(path)
    elif kind == "file":
        Path(path).write_bytes(b"")
    else:
        target = {"link to directory": ".", "link to file": "/dev/null"}.get(kind, "missing")
        os.symlink(target, path)


@given(
    entries=st.dictionaries(ENTRY_NAMES, st.sampled_from(KINDS), max_size=7),
    picks=st.lists(
        st.tuples(st.one_of(ENTRY_NAMES, OTHER_NAMES), st.sampled_from([0, 0, 0, 1, 2])),
        max_size=9,
    ),
    as_bytes=st.booleans(),
)
def test_the_check_by_listing_answers_as_one_islink_per_name(
    entries: dict[str, str], picks: list[tuple[str, int]], as_bytes: bool
) -> None:
    # Any directory, any dirnames a caller can leave (pruned, reordered, repeated,
    # names added that are files, links, absent, paths, str subclasses, unhashable
    # path-like objects): the same paths.
    with tempfile.TemporaryDirectory() as temporary:
        for name, kind in entries.items():
            make_entry(temporary, name, kind)
        top: Any = os.fsencode(temporary) if as_bytes else temporary
        dirnames = [as_caller_name(name, kind, as_bytes) for name, kind in picks]
        expected = subdirectories_to_enter(top, list(dirnames), False)
        assert subdirectories_to_enter_listed(top, dirnames) == expected


def test_the_check_by_listing_asks_islink_about_links_only(tmp_path: Path) -> None:
    # A name the fresh listing types as a directory is not a link without an lstat; a
    # name it types as a link is decided by islink itself (which says "not a link"
    # when it cannot tell, in a directory that cannot be searched, for one).
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to("real")
    top = str(tmp_path)
    asked: list[str] = []

    def islink_that_cannot_tell(path: str) -> bool:
        asked.append(path)
        return False

    with mock.patch("os.path.islink", islink_that_cannot_tell):
        paths = subdirectories_to_enter_listed(top, ["real", "link", "missing"])
    assert paths == [f"{top}/real", f"{top}/link", f"{top}/missing"]
    assert sorted(asked) == [f"{top}/link", f"{top}/missing"]


def test_the_check_by_listing_falls_back_where_the_listing_fails(tmp_path: Path) -> None:
    top = str(tmp_path / "gone")
    assert subdirectories_to_enter_listed(top, ["a", "b"]) == [f"{top}/a", f"{top}/b"]

    # An entry whose type cannot be read (lstat fails where d_type is unknown).
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to("real")
    real_scandir = os.scandir

    class UntypedEntry:
        def __init__(self, entry: os.DirEntry[str]) -> None:
            self.name = entry.name

        def is_symlink(self) -> bool:
            raise PermissionError("no type")

    class UntypedScandir:
        def __init__(self, path: str) -> None:
            self._entries = real_scandir(path)

        def __enter__(self) -> Iterator[UntypedEntry]:
            return (UntypedEntry(entry) for entry in self._entries)

        def __exit__(self, *exc_info: object) -> None:
            self._entries.close()

    with mock.patch("os.scandir", UntypedScandir):
        paths = subdirectories_to_enter_listed(str(tmp_path), ["link", "real"])
    assert paths == [f"{tmp_path}/real"]


def test_the_check_by_listing_raises_for_bad_names_as_islink_per_name(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    top = str(tmp_path)
    bad: list[Any] = ["real", b"bytes", 3]
    with pytest.raises(TypeError) as per_name:
        subdirectories_to_enter(top, bad, False)
    with pytest.raises(TypeError) as listed:
        subdirectories_to_enter_listed(top, bad)
    assert str(listed.value) == str(per_name.value)


@pytest.mark.parametrize("top", ["bad\0top", "\ud800", b"bad\0top"])
def test_the_check_by_listing_answers_for_a_top_it_cannot_list(top: Any) -> None:
    # os.scandir refuses these with ValueError (islink says "not a link" to each).
    names = ["a", "b"] if isinstance(top, str) else [b"a", b"b"]
    expected = subdirectories_to_enter(top, list(names), False)
    assert subdirectories_to_enter_listed(top, names) == expected


# ---------------------------------------------------------------- the check by stamp


def stamp_now(top: Any) -> DirectoryStamp:
    """The stamp a job would read for ``top`` listed now, every change so far settled."""
    stamp = settled_stamp(top, time.time_ns() + 2 * SETTLED_NS)
    assert stamp is not None
    return stamp


def entered_by_scan(top: Any) -> list[Any]:
    """The paths a job's listing of ``top`` types as directories, not links."""
    listing = scan_directory(top, True, False)
    assert not isinstance(listing, OSError)
    return listing[2]


def until_later_changes_show(top: Any) -> None:
    """Return once any later change to ``top`` will carry a later time than its last.

    Changes a scratch directory beside it until the file system's clock shows a time
    past ``top``'s last change: on a kernel whose timestamps tick (1-10 ms), a change
    within the tick of the last one would keep its time; it is what the age guard of
    settled_stamp, set aside by stamp_now, is there for.
    """
    last = os.stat(top).st_ctime_ns
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(top))) as probe:
        while os.stat(probe).st_ctime_ns <= last:
            os.mkdir(os.path.join(probe, "tick"))
            os.rmdir(os.path.join(probe, "tick"))


def one_by_one(top: Any, dirnames: list[Any]) -> list[Any]:
    return subdirectories_to_enter(top, dirnames, False)


def test_a_stamp_vouches_only_for_a_directory_that_changed_long_enough_before(
    tmp_path: Path,
) -> None:
    top = str(tmp_path)
    status = os.stat(top)
    assert stamp_now(top) == (status.st_dev, status.st_ino, status.st_ctime_ns, status.st_mtime_ns)
    # Changed within SETTLED_NS before the listing began: no stamp.
    last = max(status.st_ctime_ns, status.st_mtime_ns)
    assert settled_stamp(top, time.time_ns()) is None
    assert settled_stamp(top, last + SETTLED_NS) is None
    assert settled_stamp(top, last + SETTLED_NS + 1) is not None
    # A modification time set in the future (by hand) counts as a late change.
    os.utime(top, ns=(status.st_atime_ns, last + 5 * SETTLED_NS))
    assert settled_stamp(top, last + 2 * SETTLED_NS) is None
    assert settled_stamp(str(tmp_path / "missing"), time.time_ns() + 2 * SETTLED_NS) is None


def test_no_stamp_where_times_have_no_sub_second_digits(tmp_path: Path) -> None:
    # Whole seconds: a file system that keeps no finer times (FAT, ext3, HFS+), or a
    # time set by hand; two changes a second apart could then show the same time.
    top = str(tmp_path)
    status = os.stat(top)
    later = time.time_ns() + 2 * SETTLED_NS
    os.utime(top, ns=(status.st_atime_ns, 1_700_000_000 * 1_000_000_000))
    assert settled_stamp(top, later) is None
    os.utime(top, ns=(status.st_atime_ns, 1_700_000_000 * 1_000_000_000 + 1))
    assert settled_stamp(top, later) is not None
    # A whole-second change time (cannot be set by hand: a stat result stands in).
    fields = list(os.stat(top))
    hidden = [getattr(status, name) for name in ("st_atime", "st_mtime", "st_ctime")]
    times_ns = [status.st_atime_ns, status.st_mtime_ns, 1_600_000_000 * 1_000_000_000]
    whole_second_change = os.stat_result(fields + hidden + times_ns)
    with mock.patch("os.stat", return_value=whole_second_change):
        assert settled_stamp(top, later) is None


def test_no_stamp_from_a_stand_in_file_system() -> None:
    # pyfakefs never marks a directory's times when its entries change: its stat
    # results (not the system's) give no stamp, however old the directory.
    filesystem = fake_filesystem.FakeFilesystem()
    filesystem.create_dir("/top/a")
    with mock.patch.object(_scan, "os", fake_os.FakeOsModule(filesystem)):
        assert settled_stamp("/top", time.time_ns() + 2 * SETTLED_NS) is None


def test_the_check_by_stamp_lists_nothing_and_asks_islink_only_about_the_rest(
    tmp_path: Path,
) -> None:
    for name in ("real", "other"):
        (tmp_path / name).mkdir()
    (tmp_path / "link").symlink_to("real")
    top = str(tmp_path)
    stamp, entered = stamp_now(top), entered_by_scan(top)
    asked: list[str] = []
    real_islink = os.path.islink

    def recording_islink(path: str) -> bool:
        asked.append(path)
        return real_islink(path)

    def refuse(*args: Any) -> Any:
        raise AssertionError(f"called {args}")

    names = ["other", "link", "added", "real"]
    with mock.patch("os.path.islink", recording_islink), mock.patch("os.scandir", refuse):
        paths = subdirectories_to_enter_unchanged(top, names, stamp, entered, refuse)
    assert paths == [f"{top}/other", f"{top}/added", f"{top}/real"]
    # The link and the name the caller added; never the two directories.
    assert sorted(asked) == [f"{top}/added", f"{top}/link"]


def test_the_check_by_stamp_leaves_it_to_the_other_check_once_top_changed(
    tmp_path: Path,
) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    top = str(tmp_path)
    stamp, entered = stamp_now(top), entered_by_scan(top)
    until_later_changes_show(top)
    os.rename(tmp_path / "b", tmp_path / "b-moved")
    (tmp_path / "b").symlink_to("a")
    deferred: list[list[str]] = []

    def otherwise(top: str, dirnames: list[str]) -> list[str]:
        deferred.append(list(dirnames))
        return one_by_one(top, dirnames)

    assert subdirectories_to_enter_unchanged(top, ["a", "b"], stamp, entered, otherwise) == [
        f"{top}/a"
    ]
    assert deferred == [["a", "b"]]
    # Gone, or another directory in its place: the other check decides too.
    shutil.rmtree(tmp_path / "b-moved")
    os.unlink(tmp_path / "b")
    os.rename(tmp_path, str(tmp_path) + "-moved")
    os.mkdir(tmp_path)
    assert subdirectories_to_enter_unchanged(top, ["a"], stamp, entered, otherwise) == [f"{top}/a"]
    os.rmdir(tmp_path)
    assert subdirectories_to_enter_unchanged(top, ["a"], stamp, entered, otherwise) == [f"{top}/a"]
    assert deferred == [["a", "b"], ["a"], ["a"]]
    os.rename(str(tmp_path) + "-moved", tmp_path)


def test_the_check_by_stamp_trusts_only_paths_of_tops_own_type(tmp_path: Path) -> None:
    # A path of another type (a str subclass made by a name's own __radd__) could
    # compare equal to a listed path and name another file: islink decides.
    (tmp_path / "real").mkdir()
    top = str(tmp_path)
    stamp, entered = stamp_now(top), entered_by_scan(top)

    class EqualToAll(str):
        __hash__ = str.__hash__

        def __eq__(self, other: object) -> bool:
            return True

        def __radd__(self, other: str) -> str:
            return EqualToAll(other + str(self))

    class Sneaky(str):
        def __radd__(self, other: str) -> str:
            return EqualToAll(other + str(self))

    asked: list[str] = []

    def recording_islink(path: str) -> bool:
        asked.append(path)
        return True

    with mock.patch("os.path.islink", recording_islink):
        names: list[str] = ["real", Sneaky("real")]
        paths = subdirectories_to_enter_unchanged(top, names, stamp, entered, one_by_one)
    assert paths == [f"{top}/real"]
    assert asked == [f"{top}/real"]
    assert type(asked[0]) is EqualToAll


@given(
    entries=st.dictionaries(ENTRY_NAMES, st.sampled_from(KINDS), max_size=7),
    changes=st.dictionaries(ENTRY_NAMES, st.sampled_from((*KINDS, "removed")), max_size=3),
    picks=st.lists(
        st.tuples(st.one_of(ENTRY_NAMES, OTHER_NAMES), st.sampled_from([0, 0, 0, 1, 2])),
        max_size=9,
    ),
    as_bytes=st.booleans(),
)
def test_the_check_by_stamp_answers_as_one_islink_per_name(
    entries: dict[str, str], changes: dict[str, str], picks: list[tuple[str, int]], as_bytes: bool
) -> None:
    # Any directory, stamped and listed; any changes to its entries after that; any
    # dirnames a caller can leave: the same paths as islink per name, after the changes.
    with tempfile.TemporaryDirectory() as temporary:
        for name, kind in entries.items():
            make_entry(temporary, name, kind)
        top: Any = os.fsencode(temporary) if as_bytes else temporary
        stamp, entered = stamp_now(top), entered_by_scan(top)
        if changes:
            until_later_changes_show(temporary)
        for name, kind in changes.items():
            path = os.path.join(temporary, name)
            if os.path.isdir(path) and not os.path.islink(path):
                os.rmdir(path)
            elif os.path.lexists(path):
                os.unlink(path)
            if kind != "removed":
                make_entry(temporary, name, kind)
        dirnames = [as_caller_name(name, kind, as_bytes) for name, kind in picks]
        expected = subdirectories_to_enter(top, list(dirnames), False)
        actual = subdirectories_to_enter_unchanged(top, dirnames, stamp, entered, one_by_one)
        assert actual == expected
