"""The per-directory scan on its own: classification and the join fast path."""

from __future__ import annotations

import dataclasses
import os
import posixpath
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rwalk._scan import (
    _fast_join,
    scan_directory,
    subdirectories_to_enter,
    subdirectories_to_enter_listed,
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
