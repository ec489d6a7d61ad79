"""Static types of the public API, checked by ``mypy --strict`` over this file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import rwalk

if TYPE_CHECKING:
    from typing_extensions import assert_type


def test_walk_is_generic_over_str_and_bytes(tmp_path: Path) -> None:
    for dirpath, dirnames, filenames in rwalk.walk(str(tmp_path)):
        if TYPE_CHECKING:
            assert_type(dirpath, str)
            assert_type(dirnames, list[str])
            assert_type(filenames, list[str])
        assert isinstance(dirpath, str)
    for dirpath_b, dirnames_b, _ in rwalk.walk(os.fsencode(tmp_path)):
        if TYPE_CHECKING:
            assert_type(dirpath_b, bytes)
            assert_type(dirnames_b, list[bytes])
        assert isinstance(dirpath_b, bytes)
    for dirpath_p, _, _ in rwalk.walk(tmp_path):
        if TYPE_CHECKING:
            assert_type(dirpath_p, str)
        assert isinstance(dirpath_p, str)


def test_onerror_accepts_any_callable_taking_an_oserror(tmp_path: Path) -> None:
    seen: list[OSError] = []
    assert list(rwalk.walk(str(tmp_path / "missing"), onerror=seen.append)) == []
    assert len(seen) == 1
