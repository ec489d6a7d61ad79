"""The per-directory scan on its own: classification and the join fast path."""

from __future__ import annotations

import posixpath
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rwalk._scan import _fast_join, scan_directory, subdirectories_to_enter

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
