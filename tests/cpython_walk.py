"""CPython 3.13's ``os.walk``, vendored as the reference that rwalk must match.

The body of :func:`make_walk`'s inner ``walk`` is ``Lib/os.py`` of CPython v3.13.0
(Python Software Foundation License), with only these changes:

- the file system is reached through the ``os_module`` argument, so that the same code
  runs against the real ``os`` module or a pyfakefs ``FakeOsModule``;
- ``sys.audit`` is left out;
- pathlib's private ``os._walk_symlinks_as_files`` marker is read from the real ``os``
  module (it exists from 3.13 on), and ``DirEntry.is_junction`` (3.12+) is treated as
  ``False`` where it is missing.

Under Python 3.10 and 3.11 ``os.walk`` is still the recursive version, and under
pyfakefs ``os.walk`` is pyfakefs's own; this copy is the 3.13 behaviour everywhere.
The property tests in ``test_walk_properties.py`` compare rwalk with this copy *and*
with the running interpreter's ``os.walk``, so the copy is itself checked on every
example.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

_walk_symlinks_as_files = getattr(os, "_walk_symlinks_as_files", object())


def make_walk(os_module: Any) -> Callable[..., Iterator[tuple[Any, list[Any], list[Any]]]]:
    """CPython 3.13's ``os.walk``, bound to ``os_module``."""
    scandir = os_module.scandir
    fspath = os_module.fspath
    path = os_module.path

    def walk(
        top: Any, topdown: bool = True, onerror: Any = None, followlinks: bool = False
    ) -> Iterator[tuple[Any, list[Any], list[Any]]]:
        stack = [fspath(top)]
        islink, join = path.islink, path.join
        while stack:
            top = stack.pop()
            if isinstance(top, tuple):
                yield top
                continue

            dirs = []
            nondirs = []
            walk_dirs = []

            # We may not have read permission for top, in which case we can't
            # get a list of the files the directory contains.
            # We suppress the exception here, rather than blow up for a
            # minor reason when (say) a thousand readable directories are still
            # left to visit.
            try:
                scandir_it = scandir(top)
            except OSError as error:
                if onerror is not None:
                    onerror(error)
                continue

            cont = False
            with scandir_it:
                while True:
                    try:
                        try:
                            entry = next(scandir_it)
                        except StopIteration:
                            break
                    except OSError as error:
                        if onerror is not None:
                            onerror(error)
                        cont = True
                        break

                    try:
                        if followlinks is _walk_symlinks_as_files:
                            is_junction = getattr(entry, "is_junction", lambda: False)
                            is_dir = entry.is_dir(follow_symlinks=False) and not is_junction()
                        else:
                            is_dir = entry.is_dir()
                    except OSError:
                        # If is_dir() raises an OSError, consider the entry not to
                        # be a directory, same behaviour as os.path.isdir().
                        is_dir = False

                    if is_dir:
                        dirs.append(entry.name)
                    else:
                        nondirs.append(entry.name)

                    if not topdown and is_dir:
                        # Bottom-up: traverse into sub-directory, but exclude
                        # symlinks to directories if followlinks is False
                        if followlinks:
                            walk_into = True
                        else:
                            try:
                                is_symlink = entry.is_symlink()
                            except OSError:
                                # If is_symlink() raises an OSError, consider the
                                # entry not to be a symbolic link, same behaviour
                                # as os.path.islink().
                                is_symlink = False
                            walk_into = not is_symlink

                        if walk_into:
                            walk_dirs.append(entry.path)
            if cont:
                continue

            if topdown:
                # Yield before sub-directory traversal if going top down
                yield top, dirs, nondirs
                # Traverse into sub-directories
                for dirname in reversed(dirs):
                    new_path = join(top, dirname)
                    # bpo-23605: os.path.islink() is used instead of caching
                    # entry.is_symlink() result during the loop on os.scandir() because
                    # the caller can replace the directory entry during the "yield"
                    # above.
                    if followlinks or not islink(new_path):
                        stack.append(new_path)
            else:
                # Yield after sub-directory traversal if going bottom up
                stack.append((top, dirs, nondirs))
                # Traverse into sub-directories
                for new_path in reversed(walk_dirs):
                    stack.append(new_path)

    return walk
