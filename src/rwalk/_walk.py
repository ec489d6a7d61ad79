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
from typing import Any, AnyStr, Generic, TypeAlias, Union

from ._options import WalkOptions, check_walk_arguments, make_options
from ._scan import (
    DirectoryId,
    choose_directories,
    directory_id,
    is_symlink,
    scan_directory,
    scan_entries,
    subdirectories_to_enter,
    without_links,
)

__all__ = ("EntryTuple", "OnError", "WalkTuple", "walk", "walk_entries")

OnError: TypeAlias = Callable[[OSError], object]
"""The ``onerror`` callback: called with each ``OSError``; its return value is ignored."""


def report_error(onerror: OnError, error: OSError) -> object:
    """``onerror(error)``, called as ``os.walk`` calls it: while ``error`` is handled.

    ``os.walk`` calls ``onerror`` inside ``except OSError``, so that there
    ``sys.exc_info()`` is the error, a bare ``raise`` re-raises it, ``logging.exception``
    logs it with its traceback, and an exception ``onerror`` raises has it as its
    ``__context__`` (found by an audit: rwalk called it after the listing had returned
    the error).
    """
    try:
        raise error
    except OSError as handled:
        # The traceback keeps this frame alive: it must not keep the error alive too.
        error = None  # type: ignore[assignment]
        return onerror(handled)


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
    *,
    max_depth: int | None = None,
    detect_loops: bool = False,
    one_filesystem: bool = False,
    sort: bool | Callable[[AnyStr], Any] = False,
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

    Keyword-only options beyond ``os.walk`` (each default keeps ``os.walk``'s behaviour;
    ``docs/api.md`` has examples):

    :param max_depth: enter no directory deeper than this; ``top`` is depth 0, and a
        directory at ``max_depth`` is still yielded with its full listing.  Composes
        with pruning, top-down and bottom-up.
    :param detect_loops: do not enter a directory that is the same directory
        (``st_dev``, ``st_ino``) as one on the path from ``top`` to it -- a link or bind
        mount leading back to an ancestor.  It stays in ``dirnames``; ``onerror`` gets an
        ``OSError`` with ``errno.ELOOP``, its ``filename`` the path, its message naming
        the ancestor; the walk goes on.  Two links to one directory from different
        branches are both entered: only cycles are cut.
    :param one_filesystem: do not enter a directory on another device than ``top`` (it
        is still listed), as ``find -xdev``.
    :param sort: ``True`` sorts ``dirnames`` and ``filenames`` by name (code-point
        order; byte order for ``bytes``) before each tuple is yielded, so the whole
        walk, bottom-up too, has one deterministic order; a function sorts by that key.
    :raises TypeError: at call time, if ``top`` is not a path, ``onerror`` is neither
        callable nor ``None``, or an option has the wrong type (the message names it).
    :raises ValueError: at call time, for a negative ``max_depth``.
    """
    root: AnyStr = check_walk_arguments(top, onerror)
    options = make_options(
        max_depth=max_depth, detect_loops=detect_loops, one_filesystem=one_filesystem, sort=sort
    )
    sys.audit("rwalk.walk", top, topdown, onerror, followlinks)
    if not options.is_plain:
        return _walk_with_options(root, topdown, onerror, followlinks, options)
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
            report_error(onerror, listing)
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
            report_error(onerror, listing)
        return
    dirnames, filenames, enter_paths = listing
    del listing
    # Pop each path as it is handed on, so that it is freed with its subtree (the
    # parent must keep its own path: its tuple comes last).
    enter_paths.reverse()
    while enter_paths:
        yield _walk_bottom_up(enter_paths.pop(), onerror, followlinks)
    yield top, dirnames, filenames


# -- The walk with options beyond os.walk ----------------------------------------------
#
# The same recursion and trampoline, with per-directory decisions taken from
# _options.WalkOptions.  It is a second pair of generators rather than branches in the
# plain ones because the plain path is measured against os.walk to the percent: every
# option off costs nothing there.


EntryTuple: TypeAlias = tuple[AnyStr, list["os.DirEntry[AnyStr]"], list["os.DirEntry[AnyStr]"]]
"""``(dirpath, directory_entries, file_entries)``, as yielded by :func:`walk_entries`."""


def walk_entries(
    top: AnyStr | os.PathLike[AnyStr],
    topdown: bool = True,
    onerror: OnError | None = None,
    followlinks: bool = False,
    *,
    max_depth: int | None = None,
    detect_loops: bool = False,
    one_filesystem: bool = False,
    sort: bool | Callable[[os.DirEntry[AnyStr]], Any] = False,
) -> Iterator[EntryTuple[AnyStr]]:
    """:func:`walk`, yielding ``os.DirEntry`` objects instead of names.

    Yields ``(dirpath, directory_entries, file_entries)``: the entries ``os.scandir``
    returned, classified as :func:`walk` classifies names, so that types, sizes
    (``entry.stat()``), inodes and link targets come from the scan's cached data without
    another lookup by path.  Top-down, the caller prunes or reorders
    ``directory_entries`` in place, exactly as ``dirnames``; each remaining entry's
    ``path`` is entered.  ``sort=True`` sorts by ``entry.name``; a key function receives
    the entries.  Every other argument is :func:`walk`'s.
    """
    root: AnyStr = check_walk_arguments(top, onerror)
    options = make_options(
        max_depth=max_depth,
        detect_loops=detect_loops,
        one_filesystem=one_filesystem,
        sort=sort,
        entries=True,
    )
    sys.audit("rwalk.walk_entries", top, topdown, onerror, followlinks)
    return _walk_with_options(root, topdown, onerror, followlinks, options)


class _Context(Generic[AnyStr]):
    """What every directory of one walk with options shares."""

    __slots__ = ("ancestors", "followlinks", "onerror", "options", "top_device")

    def __init__(self, onerror: OnError | None, followlinks: bool, options: WalkOptions) -> None:
        self.onerror = onerror
        self.followlinks = followlinks
        self.options = options
        # The (st_dev, st_ino) of each directory from top to the current one.
        self.ancestors: dict[DirectoryId, AnyStr] = {}
        self.top_device: int | None = None


def _walk_with_options(
    root: AnyStr,
    topdown: bool,
    onerror: OnError | None,
    followlinks: bool,
    options: WalkOptions,
) -> Iterator[tuple[AnyStr, list[Any], list[Any]]]:
    context: _Context[AnyStr] = _Context(onerror, followlinks, options)

    def start() -> _DirectoryWalk[AnyStr]:
        # The root's identity is read when the walk starts, not at the call.
        identity = directory_id(root) if options.needs_device_and_inode else None
        if identity is not None:
            context.top_device = identity[0]
        walker = _walk_top_down_with if topdown else _walk_bottom_up_with
        yield walker(root, 0, identity, context)

    return _drive(start())


OptionsListing: TypeAlias = tuple[list[Any], list[Any], list[AnyStr]]
"""``(directories, files, enter_paths)`` of one directory of a walk with options.

``directories`` and ``files`` are what the caller gets (names, or ``os.DirEntry``
objects for ``walk_entries``), sorted when asked; ``enter_paths`` are the paths a
bottom-up walk descends into, decided from the scan's cached types (as ``os.walk``
decides bottom-up), none below ``max_depth``.
"""


def scan_with_options(
    top: AnyStr, depth: int, followlinks: bool, options: WalkOptions
) -> OptionsListing[AnyStr] | OSError:
    """List ``top`` (at ``depth`` below the walk's top) as a walk with options sees it.

    Shared by ``walk`` and ``awalk`` (whose scan jobs call it on worker threads).
    """
    listing = scan_entries(top)
    if isinstance(listing, OSError):
        return listing
    directory_entries, file_entries = listing
    key = options.sort_key
    if key is not None:
        # The entries themselves are sorted, so that the names given to the caller and
        # the entries a bottom-up walk enters are in the same order.
        entry_key = key if options.entries else (lambda entry: key(entry.name))
        directory_entries.sort(key=entry_key)
        file_entries.sort(key=entry_key)
    if directory_entries and enters_below(depth, options):
        enter_paths = [
            entry.path for entry in directory_entries if followlinks or not is_symlink(entry)
        ]
    else:
        enter_paths = []
    if options.entries:
        return directory_entries, file_entries, enter_paths
    names = [entry.name for entry in directory_entries]
    return names, [entry.name for entry in file_entries], enter_paths


def paths_after_yield(
    top: AnyStr, directories: list[Any], followlinks: bool, options: WalkOptions
) -> list[AnyStr]:
    """The paths a top-down walk with options descends into, read after ``top``'s yield.

    ``directories`` is the caller's list, as edited (names, or entries for
    ``walk_entries``); links are re-checked now, as ``os.walk`` re-checks them.
    """
    if options.entries:
        paths = [entry.path for entry in directories]
        return paths if followlinks else without_links(paths)
    return subdirectories_to_enter(top, directories, followlinks)


def enters_below(depth: int, options: WalkOptions) -> bool:
    """Whether a directory at ``depth`` has subdirectories to enter (``max_depth``)."""
    return options.max_depth is None or depth < options.max_depth


def _enter(
    paths: list[AnyStr], depth: int, context: _Context[AnyStr], walker: Any
) -> _DirectoryWalk[AnyStr]:
    """Descend into ``paths`` (or report why not): the recursive calls of one directory."""
    options = context.options
    for choice in choose_directories(
        paths, context.ancestors, context.top_device, options.detect_loops, options.one_filesystem
    ):
        if isinstance(choice, OSError):
            if context.onerror is not None:
                report_error(context.onerror, choice)
            continue
        path, identity = choice
        yield walker(path, depth + 1, identity, context)


def _scan_reporting(
    top: AnyStr, depth: int, context: _Context[AnyStr]
) -> OptionsListing[AnyStr] | None:
    listing = scan_with_options(top, depth, context.followlinks, context.options)
    if isinstance(listing, OSError):
        if context.onerror is not None:
            report_error(context.onerror, listing)
        return None
    return listing


def _walk_top_down_with(
    top: AnyStr, depth: int, identity: DirectoryId | None, context: _Context[AnyStr]
) -> _DirectoryWalk[AnyStr]:
    """Walk the tree under ``top`` (at ``depth``), parent first, with options."""
    listing = _scan_reporting(top, depth, context)
    if listing is None:
        return
    directories, files, _ = listing
    yield top, directories, files
    if not directories or not enters_below(depth, context.options):
        return
    # The caller has edited ``directories`` (names, or entries for walk_entries).
    paths = paths_after_yield(top, directories, context.followlinks, context.options)
    # Ancestors matter only to detect_loops (without it, a directory may be entered
    # below itself, as os.walk enters it).
    tracked = identity if context.options.detect_loops else None
    if tracked is not None:
        context.ancestors[tracked] = top
    yield _enter(paths, depth, context, _walk_top_down_with)
    if tracked is not None:
        del context.ancestors[tracked]


def _walk_bottom_up_with(
    top: AnyStr, depth: int, identity: DirectoryId | None, context: _Context[AnyStr]
) -> _DirectoryWalk[AnyStr]:
    """Walk the tree under ``top`` (at ``depth``), children first, with options."""
    listing = _scan_reporting(top, depth, context)
    if listing is None:
        return
    directories, files, paths = listing
    if paths:
        tracked = identity if context.options.detect_loops else None
        if tracked is not None:
            context.ancestors[tracked] = top
        yield _enter(paths, depth, context, _walk_bottom_up_with)
        if tracked is not None:
            del context.ancestors[tracked]
    yield top, directories, files
