"""The options beyond ``os.walk``'s four, defined once for ``walk`` and ``awalk``.

Every option is keyword-only and its default keeps exact ``os.walk`` behaviour.  They
are checked here, when the walk is called and before any I/O, so that a bad value fails
at the call with a message that names the argument.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ("WalkOptions", "check_walk_arguments", "loop_error", "make_options")

SortKey = Callable[[Any], Any]


@dataclass(frozen=True)
class WalkOptions:
    """What a walk does beyond ``os.walk`` (all off: exactly ``os.walk``).

    :ivar max_depth: do not enter directories deeper than this (``top`` is depth 0); a
        directory at ``max_depth`` is still yielded, with its full listing.
    :ivar detect_loops: do not enter a directory whose ``(st_dev, st_ino)`` is already
        on the path from ``top`` (a link or bind mount leading back to an ancestor);
        report it to ``onerror`` as ``ELOOP``.
    :ivar one_filesystem: do not enter a directory on another device than ``top``.
    :ivar sort_key: sort ``dirnames`` and ``filenames`` with this key before yielding
        (``None``: directory order).
    :ivar entries: yield ``os.DirEntry`` objects instead of names.
    """

    max_depth: int | None = None
    detect_loops: bool = False
    one_filesystem: bool = False
    sort_key: SortKey | None = None
    entries: bool = False

    @property
    def needs_device_and_inode(self) -> bool:
        """Whether entering a directory needs its ``stat()``."""
        return self.detect_loops or self.one_filesystem

    @property
    def is_plain(self) -> bool:
        """All options off: the walk may take the plain ``os.walk`` path."""
        return self == _PLAIN


_PLAIN = WalkOptions()


def check_walk_arguments(top: Any, onerror: object) -> Any:
    """The call-time checks every walk shares: ``top`` as ``os.fspath`` gives it.

    Done before the first ``next()``, so that a bad argument fails where it is passed.
    (``os.walk`` raises the same ``TypeError`` for ``top`` on its first iteration, and
    for a non-callable ``onerror`` only when the first error occurs.)

    :raises TypeError: ``top`` is not a path, or ``onerror`` is neither callable nor
        ``None``.
    """
    root = os.fspath(top)
    if onerror is not None and not callable(onerror):
        raise TypeError(f"onerror must be callable or None, not {type(onerror).__name__}")
    return root


def _identity(value: Any) -> Any:
    return value


def make_options(
    *,
    max_depth: int | None = None,
    detect_loops: bool = False,
    one_filesystem: bool = False,
    sort: bool | SortKey = False,
    entries: bool = False,
) -> WalkOptions:
    """Check the options and build a :class:`WalkOptions`.

    :raises TypeError: an option of the wrong type (the message names it).
    :raises ValueError: a negative ``max_depth``.
    """
    if max_depth is not None:
        if isinstance(max_depth, bool) or not isinstance(max_depth, int):
            raise TypeError(f"max_depth must be an int or None, not {type(max_depth).__name__}")
        if max_depth < 0:
            raise ValueError(f"max_depth must be 0 or more, not {max_depth}")
    for name, value in (("detect_loops", detect_loops), ("one_filesystem", one_filesystem)):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, not {type(value).__name__}")
    sort_key: SortKey | None
    if sort is False:
        sort_key = None
    elif sort is True:
        # Names compare in code-point (str) or byte (bytes) order; entries by name.
        sort_key = _entry_name if entries else _identity
    elif callable(sort):
        sort_key = sort
    else:
        raise TypeError(f"sort must be True, False or a key function, not {type(sort).__name__}")
    return WalkOptions(max_depth, detect_loops, one_filesystem, sort_key, entries)


def _entry_name(entry: os.DirEntry[Any]) -> Any:
    return entry.name


def loop_error(path: Any, ancestor: Any) -> OSError:
    """The error ``onerror`` receives for a directory that leads back to an ancestor."""
    return OSError(
        errno.ELOOP,
        f"{os.strerror(errno.ELOOP)}: not entered, it is the same directory as its "
        f"ancestor {os.fsdecode(ancestor)!r}",
        path,
    )
