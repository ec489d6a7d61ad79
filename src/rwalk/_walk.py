"""The recursive walk and the loop that drives it.

The walk is written as a recursion: :func:`_walk_top_down` lists one directory, yields
its tuple, and then *calls itself* once for every subdirectory.  Each such call only
creates a generator; instead of running it with ``yield from`` (which would nest one
Python frame per level, die near the recursion limit, and pass every item up through
every level, an O(depth) cost per item), the generator is handed back to
:func:`_drive`, a small loop that keeps the active generators on a list and always
advances the innermost one.  This is a trampoline: the code reads like recursion, the
machine runs it like a loop, and neither the depth of the Python stack nor the cost per
item grows with the depth of the tree.  ``docs/design.md`` has the measurements behind
this choice.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Generator, Iterator
from typing import AnyStr, TypeAlias, Union

from ._scan import scan_directory, subdirectories_to_enter

__all__ = ("OnError", "WalkTuple", "walk")

OnError: TypeAlias = Callable[[OSError], object]
"""The ``onerror`` callback: called with each ``OSError``; its return value is ignored."""

WalkTuple: TypeAlias = tuple[AnyStr, list[AnyStr], list[AnyStr]]
"""``(dirpath, dirnames, filenames)``, as yielded by ``os.walk``."""

# A per-directory generator yields either a finished tuple (to be passed to the
# caller) or the generator of a sub-walk (to be run to completion first).
_Step: TypeAlias = Union[WalkTuple[AnyStr], "_DirectoryWalk[AnyStr]"]
_DirectoryWalk: TypeAlias = Generator[_Step[AnyStr], None, None]


def walk(
    top: AnyStr | os.PathLike[AnyStr],
    topdown: bool = True,
    onerror: OnError | None = None,
    followlinks: bool = False,
) -> Iterator[WalkTuple[AnyStr]]:
    """Directory tree generator: a drop-in replacement for :func:`os.walk`.

    For each directory in the tree rooted at ``top`` (including ``top`` itself, but
    excluding ``'.'`` and ``'..'``), yields a 3-tuple ``(dirpath, dirnames, filenames)``.

    ``dirpath`` is the path to the directory.  ``dirnames`` lists the names of its
    subdirectories, including symbolic links to directories.  ``filenames`` lists the
    names of everything else: files, broken links, links to files, FIFOs, sockets and
    devices.  Names have no path components; ``os.path.join(dirpath, name)`` gives a
    path that begins with ``top``.  A ``bytes`` top gives ``bytes`` paths and names; a
    ``str`` or path-like top gives ``str`` (undecodable bytes are kept as surrogate
    escapes, exactly as ``os.listdir`` returns them).

    If ``topdown`` is true (the default), a directory's tuple is generated before the
    tuples of its subdirectories.  The caller may then modify ``dirnames`` in place
    (``del``, slice assignment, ``remove``, ``sort``) and the walk recurses only into
    the names that remain, in their new order: this prunes the search or imposes an
    order.  If ``topdown`` is false, a directory's tuple comes after those of all its
    subdirectories, and modifying ``dirnames`` has no effect.  Either way, a
    directory's listing is read completely (and the directory closed) before its tuple
    is generated, so no file descriptor is held while the walk is suspended.

    Errors from listing a directory are ignored by default, and that directory produces
    no tuple.  If ``onerror`` is given, it is called with the ``OSError`` (its
    ``filename`` attribute names the directory); it can report the error and return, to
    go on with the rest of the tree, or raise, to end the walk with that exception.

    Symbolic links to directories are listed in ``dirnames`` but not entered unless
    ``followlinks`` is true.  Following links can walk a directory twice, or loop
    forever on a link to an ancestor: ``walk`` does not track visited directories.
    Before entering a subdirectory, a top-down walk checks again that it is not a
    symbolic link, because the caller may have replaced it while the walk was
    suspended.

    Unlike the recursive ``os.walk`` of Python 3.10 and 3.11, there is no depth limit:
    trees of any depth walk in constant Python stack, at a cost per entry that does not
    grow with depth.

    Caution: if ``top`` is relative, do not change the working directory between
    resumptions of the walk.

    Example::

        import os
        import rwalk

        for root, dirs, files in rwalk.walk("python/Lib/email"):
            size = sum(os.path.getsize(os.path.join(root, name)) for name in files)
            print(root, "consumes", size, "bytes in", len(files), "non-directory files")
            if "CVS" in dirs:
                dirs.remove("CVS")  # don't visit CVS directories

    :param top: the root of the tree: ``str``, ``bytes`` or an ``os.PathLike``.
    :param topdown: generate each directory before (true) or after (false) its
        subdirectories.
    :param onerror: called with each ``OSError`` met while listing a directory.
    :param followlinks: enter symbolic links to directories.
    :raises TypeError: at call time, if ``top`` is not a path or ``onerror`` is neither
        callable nor ``None``.
    """
    # Validate before the first next(), so that a bad argument fails where it is
    # passed.  (os.walk raises the same TypeError for ``top`` on the first iteration,
    # and for a non-callable onerror only when the first error occurs.)
    root: AnyStr = os.fspath(top)
    if onerror is not None and not callable(onerror):
        raise TypeError(f"onerror must be callable or None, not {type(onerror).__name__}")
    sys.audit("rwalk.walk", top, topdown, onerror, followlinks)
    # followlinks is passed on as given, not as bool(followlinks): CPython 3.13's
    # pathlib.Path.walk passes the private marker os._walk_symlinks_as_files, which
    # _scan.py honours as os.walk does.
    if topdown:
        return _drive(_walk_top_down(root, onerror, followlinks))
    return _drive(_walk_bottom_up(root, onerror, followlinks))


def _drive(root_walk: _DirectoryWalk[AnyStr]) -> Iterator[WalkTuple[AnyStr]]:
    """Run a recursive walk as a loop: the trampoline.

    ``stack`` holds the chain of directory walks from ``top`` to the current directory.
    Advancing the innermost one either produces a tuple, which goes to the caller, or a
    sub-walk, which goes on the stack and runs to its end before its parent resumes.
    Only this frame is ever on the Python stack, at any depth of tree.
    """
    stack = [root_walk]
    push = stack.append
    pop = stack.pop
    while stack:
        # A ``for`` over the innermost walk (not next() with StopIteration) is the
        # cheapest way to advance it; ``break`` leaves it suspended, not closed.
        for step in stack[-1]:
            if isinstance(step, tuple):
                yield step
            else:
                push(step)
                break
        else:
            pop()


def _walk_top_down(
    top: AnyStr, onerror: OnError | None, followlinks: bool
) -> _DirectoryWalk[AnyStr]:
    """Walk the tree under ``top``, parent before children."""
    listing = scan_directory(top, False, followlinks)
    if isinstance(listing, OSError):
        if onerror is not None:
            onerror(listing)
        return
    dirnames, filenames, _ = listing
    yield top, dirnames, filenames
    # The caller has had its chance to prune or reorder dirnames.
    if not dirnames:
        return
    paths = subdirectories_to_enter(top, dirnames, followlinks)
    # Hold no path while the subtrees are walked: on a deep chain, every level keeping
    # its own path alive would keep O(depth**2) bytes of strings (4 MB at 2,000 levels),
    # and allocating fresh memory for each level measurably slowed the walk.
    del top, dirnames, filenames, listing
    paths.reverse()
    while paths:
        yield _walk_top_down(paths.pop(), onerror, followlinks)


def _walk_bottom_up(
    top: AnyStr, onerror: OnError | None, followlinks: bool
) -> _DirectoryWalk[AnyStr]:
    """Walk the tree under ``top``, children before parent."""
    listing = scan_directory(top, True, followlinks)
    if isinstance(listing, OSError):
        if onerror is not None:
            onerror(listing)
        return
    dirnames, filenames, enter_paths = listing
    del listing
    # Pop each path as it is handed on, so that it is freed with its subtree (the
    # parent must keep its own path: its tuple comes last).
    enter_paths.reverse()
    while enter_paths:
        yield _walk_bottom_up(enter_paths.pop(), onerror, followlinks)
    yield top, dirnames, filenames
