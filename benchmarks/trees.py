"""Deterministic benchmark trees, built once and reused.

Each tree is built under a cache directory in a folder whose name encodes its shape,
and is marked complete only when a ``.complete`` file has been written last, so an
interrupted build is rebuilt instead of measured half-made.

Shapes:

``wide``
    ``WIDE_FANOUT`` subdirectories per directory down to ``WIDE_DEPTH`` levels, and
    ``WIDE_FILES`` files in every directory: 11,110 directories and 99,999 files,
    about 111k entries with the defaults.
``deep``
    a chain of ``DEEP_LEVELS`` one-letter directories (the deepest Linux paths allow
    under ``PATH_MAX``), each holding ``DEEP_FILES`` files.
``realistic``
    ``REALISTIC_COPIES`` copies of the running interpreter's own standard library
    (``Lib/``), without ``site-packages`` and caches: real names, real fan-out.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

__all__ = (
    "DEEP_FILES",
    "DEEP_LEVELS",
    "REALISTIC_COPIES",
    "WIDE_DEPTH",
    "WIDE_FANOUT",
    "WIDE_FILES",
    "build_deep",
    "build_realistic",
    "build_wide",
    "count_entries",
    "default_cache",
)

WIDE_FANOUT = 10
WIDE_DEPTH = 4
WIDE_FILES = 9
DEEP_LEVELS = 2000
DEEP_FILES = 4
REALISTIC_COPIES = 10
_COMPLETE = ".complete"


def default_cache() -> Path:
    """Where trees are kept between runs (``RWALK_BENCH_CACHE`` overrides)."""
    return Path(os.environ.get("RWALK_BENCH_CACHE", Path(tempfile.gettempdir()) / "rwalk-bench"))


def _fresh(path: Path) -> bool:
    """True if ``path`` holds a complete tree; otherwise clear it for a rebuild."""
    if (path / _COMPLETE).exists():
        return False
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return True


def _mark_complete(path: Path) -> None:
    # The marker is a hidden file at the top: walkers count it, and so does the
    # os.walk reference, so every row still agrees.
    (path / _COMPLETE).write_text("")


def build_wide(
    cache: Path, fanout: int = WIDE_FANOUT, depth: int = WIDE_DEPTH, files: int = WIDE_FILES
) -> Path:
    """A balanced tree: ``fanout`` subdirectories per level, ``files`` files everywhere."""
    root = cache / f"wide-f{fanout}-d{depth}-n{files}"
    if not _fresh(root):
        return root
    level = [root]
    for current_depth in range(depth + 1):
        next_level = []
        for directory in level:
            for index in range(files):
                (directory / f"file{index:02d}.txt").write_bytes(b"")
            if current_depth < depth:
                for index in range(fanout):
                    child = directory / f"dir{index:02d}"
                    child.mkdir()
                    next_level.append(child)
        level = next_level
    _mark_complete(root)
    return root


def build_deep(cache: Path, levels: int = DEEP_LEVELS, files: int = DEEP_FILES) -> Path:
    """A chain of ``levels`` one-letter directories, ``files`` files at each level.

    Each level is created by its full path, which stays under ``PATH_MAX`` for the
    default 2,000 levels below a short cache path (such as ``/tmp/rwalk-bench``).
    """
    root = cache / f"deep-l{levels}-n{files}"
    if not _fresh(root):
        return root
    current = os.fspath(root)
    for _ in range(levels):
        for index in range(files):
            with open(os.path.join(current, f"f{index}"), "wb"):
                pass
        current = os.path.join(current, "d")
        os.mkdir(current)
    _mark_complete(root)
    return root


def build_realistic(cache: Path, copies: int = REALISTIC_COPIES) -> Path:
    """``copies`` copies of this interpreter's ``Lib/`` (no ``site-packages``, no caches)."""
    version = "".join(map(str, sys.version_info[:2]))
    root = cache / f"realistic-py{version}-c{copies}"
    if not _fresh(root):
        return root
    source = sysconfig.get_paths()["stdlib"]
    for index in range(copies):
        shutil.copytree(
            source,
            root / f"Lib{index}",
            symlinks=True,
            ignore=shutil.ignore_patterns("site-packages", "__pycache__"),
        )
    _mark_complete(root)
    return root


def count_entries(top: str) -> int:
    """Directories plus files below ``top``, as ``os.walk`` would count them.

    An explicit-stack scandir loop, independent of both walkers under test (and of the
    recursion limit of Python 3.10/3.11's ``os.walk``): every entry of every listable
    directory counts once; symbolic links to directories count but are not entered.
    """
    total = 0
    stack = [top]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    total += 1
                    try:
                        enter = entry.is_dir() and not entry.is_symlink()
                    except OSError:
                        enter = False
                    if enter:
                        stack.append(entry.path)
        except OSError:
            continue
    return total
