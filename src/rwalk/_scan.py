"""One directory in, its classified entries (or its error) out.

This module is the single place that knows about ``os.scandir``, ``DirEntry.is_dir``,
symbolic links and listing errors.  The synchronous walk (``_walk.py``) and the
asynchronous walk (``_aio.py``) both call it, so the per-directory semantics of
``os.walk`` are written down exactly once.

Errors are *returned*, not raised: a listing error is a value that the walk hands to
``onerror`` ("rather than blow up for a minor reason", as ``os.walk`` puts it), and
returning it lets ``awalk`` scan on a worker thread and report on the event loop.

The file system is reached through the module attribute ``os.scandir`` /
``os.path.islink`` at call time (not through names bound at import), so that pyfakefs
and tests that patch ``os`` see every call.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Iterator
from typing import AnyStr, TypeAlias

from ._options import loop_error

# CPython 3.13's private "followlinks" marker (absent before 3.13: then nothing is it).
_WALK_SYMLINKS_AS_FILES: object = getattr(os, "_walk_symlinks_as_files", object())

__all__ = (
    "DirectoryId",
    "EntryListing",
    "Listing",
    "TypedEntry",
    "choose_directories",
    "directory_id",
    "is_symlink",
    "scan_directory",
    "scan_entries",
    "scan_typed_entries",
    "subdirectories_to_enter",
    "subdirectories_to_enter_listed",
    "without_links",
)


Listing: TypeAlias = tuple[list[AnyStr], list[AnyStr], list[AnyStr]]
"""``(dirnames, filenames, enter_paths)``: one directory, classified as ``os.walk`` does.

``dirnames`` holds the names of subdirectories *and* of symbolic links to directories;
``filenames`` holds everything else (files, broken links, links to files, FIFOs,
sockets, devices).  ``enter_paths`` is filled only by a bottom-up scan: the full paths
of the subdirectories to descend into, decided during the scan from each entry's cached
type, exactly as CPython 3.13 decides it.  (A plain tuple, not a class: it is made once
per directory and a class instance measurably slowed the walk.)
"""


def scan_directory(top: AnyStr, bottom_up: bool, followlinks: bool) -> Listing[AnyStr] | OSError:
    """List ``top`` once and classify each entry as ``os.walk`` does.

    The directory is read to the end and closed before this returns, so no file
    descriptor outlives the call (and none is held while a walk is suspended at a
    ``yield``).

    :param top: the directory to list, as ``str`` or ``bytes``.
    :param bottom_up: also compute ``enter_paths`` (bottom-up walks decide
        which subdirectories to enter while the entries' cached types are at hand).
    :param followlinks: whether symbolic links to directories are entered (bottom-up).
        CPython's private marker ``os._walk_symlinks_as_files`` (passed by 3.13's
        ``pathlib.Path.walk``) classifies links to directories, and junctions, as files.
    :returns: the :data:`Listing`, or the ``OSError`` raised by ``os.scandir`` or by
        reading the directory part-way through.  In the error case the directory
        produces no tuple at all, as in ``os.walk``.
    """
    try:
        scandir_it = os.scandir(top)
    except OSError as error:
        return error

    if followlinks is _WALK_SYMLINKS_AS_FILES:
        with scandir_it:
            return _scan_symlinks_as_files(scandir_it, bottom_up)
    dirnames: list[AnyStr] = []
    filenames: list[AnyStr] = []
    enter_paths: list[AnyStr] = []
    # Bound once per directory rather than looked up once per entry: about 1 % of a
    # warm walk's time.
    add_directory = dirnames.append
    add_file = filenames.append
    with scandir_it:
        # One try around the whole loop: the only call in it that can raise OSError
        # outside the inner handlers is next() on the iterator (a directory that
        # fails part-way through listing), and the for statement is cheaper per
        # entry than CPython's explicit next()/StopIteration loop.
        try:
            if not bottom_up:
                for entry in scandir_it:
                    try:
                        is_dir = entry.is_dir()
                    except OSError:
                        # As os.path.isdir(): an entry whose type cannot be read is
                        # not a directory.
                        is_dir = False
                    if is_dir:
                        add_directory(entry.name)
                    else:
                        add_file(entry.name)
            else:
                for entry in scandir_it:
                    try:
                        is_dir = entry.is_dir()
                    except OSError:
                        is_dir = False
                    if not is_dir:
                        add_file(entry.name)
                        continue
                    add_directory(entry.name)
                    # Bottom-up: enter the subdirectory unless it is a symbolic link
                    # and links are not followed.
                    if followlinks:
                        enter_paths.append(entry.path)
                        continue
                    try:
                        is_symlink = entry.is_symlink()
                    except OSError:
                        # As os.path.islink(): unreadable means "not a link".
                        is_symlink = False
                    if not is_symlink:
                        enter_paths.append(entry.path)
        except OSError as error:
            return error
    return dirnames, filenames, enter_paths


def _scan_symlinks_as_files(
    scandir_it: Iterator[os.DirEntry[AnyStr]], bottom_up: bool
) -> Listing[AnyStr] | OSError:
    """The scan for ``os._walk_symlinks_as_files``: only real directories are dirnames.

    As CPython 3.13's ``os.walk``: a link (to anything) and a junction are files, and
    every directory is entered.
    """
    dirnames: list[AnyStr] = []
    filenames: list[AnyStr] = []
    enter_paths: list[AnyStr] = []
    try:
        for entry in scandir_it:
            try:
                is_dir = entry.is_dir(follow_symlinks=False) and not _is_junction(entry)
            except OSError:
                is_dir = False
            if is_dir:
                dirnames.append(entry.name)
                if bottom_up:
                    enter_paths.append(entry.path)
            else:
                filenames.append(entry.name)
    except OSError as error:
        return error
    return dirnames, filenames, enter_paths


def _is_junction(entry: os.DirEntry[AnyStr]) -> bool:
    # DirEntry.is_junction() exists from 3.12 (and is always False off Windows).
    is_junction = getattr(entry, "is_junction", None)
    return bool(is_junction()) if is_junction is not None else False


def subdirectories_to_enter(
    top: AnyStr,
    dirnames: list[AnyStr],
    followlinks: bool,
    islink: Callable[[AnyStr], bool] | None = None,
) -> list[AnyStr]:
    """The paths a top-down walk descends into, read right after ``top`` was yielded.

    ``dirnames`` is the caller's list, possibly pruned or reordered in place.  Each
    name is checked with ``os.path.islink`` *now*, not with the type cached during the
    scan (bpo-23605): while the walk was suspended the caller may have replaced a
    directory with a symbolic link, and following that link would walk outside the
    tree without ``followlinks``.  All names are checked at once, before any of them
    is entered, which is when CPython 3.13's ``os.walk`` checks them.

    :param islink: what answers for each path instead of ``os.path.islink`` (which
        :func:`subdirectories_to_enter_listed` consults only where it must).
    """
    join = _fast_join if os.path is posixpath else os.path.join
    if islink is None:
        islink = os.path.islink
    # Last name first, as CPython 3.13 does: with several bad names in dirnames, the
    # same one raises first.
    paths = []
    for name in reversed(dirnames):
        path = join(top, name)
        if followlinks or not islink(path):
            paths.append(path)
    paths.reverse()
    return paths


def subdirectories_to_enter_listed(top: AnyStr, dirnames: list[AnyStr]) -> list[AnyStr]:
    """:func:`subdirectories_to_enter` without ``followlinks``, from one new listing.

    The same answer as ``os.path.islink`` on each name, with fewer system calls when
    ``top`` lists quickly and most of its entries are in ``dirnames``: ``top`` is listed
    again now (after the yield), and a name whose fresh entry has a type other than a
    link (read from ``d_type``, or by ``lstat`` where the file system gives none) is
    not a link, as ``islink`` would say.  Every other name, the ones the fresh listing
    calls links, cannot type, or does not hold (a name the caller added, an entry
    removed meanwhile), is checked with ``os.path.islink`` itself, which decides
    exactly as before (a link in a directory that cannot be searched, for example, is
    "not a link" to ``islink``).  If ``top`` cannot be listed now, every name is.

    Worth it only where listing costs CPU time and no more (awalk uses it while
    directories list at CPU speed): on a warm directory of 10 subdirectories among 19
    entries, 19.5 us against 23.5 us with one ``lstat`` per name (one thread).  On a
    network file system a listing is a round trip where an ``lstat`` is usually
    answered from the attribute cache.
    """
    # Only names of exactly top's type can be in its listing (and are hashable: an
    # os.PathLike name may not be); the others are left to islink.  What the listing
    # answers for is the exact path islink would be asked about: the entry's own.
    kind = type(top)
    wanted = {name for name in dirnames if type(name) is kind}
    not_links: set[AnyStr] = set()
    if wanted:
        try:
            with os.scandir(top) as entries:
                for entry in entries:
                    if entry.name in wanted:
                        try:
                            if not entry.is_symlink():
                                not_links.add(entry.path)
                        except OSError:
                            pass  # islink decides
        except (OSError, ValueError, TypeError):
            # Not listable now (or a top that islink, which swallows these, would turn
            # away): every name is checked one by one, as without the listing.
            not_links.clear()
    islink = os.path.islink
    return subdirectories_to_enter(
        top, dirnames, False, lambda path: path not in not_links and islink(path)
    )


def _fast_join(top: AnyStr, name: AnyStr) -> AnyStr:
    """``posixpath.join(top, name)`` for the common case, in a third of its time.

    A name read from the directory never contains a separator, so joining is one
    concatenation.  Anything else the caller may have put in ``dirnames`` (an absolute
    path, a name of another type) goes to ``posixpath.join`` for its exact result or
    error.  Saves about 2 % of a walk of a wide tree.
    """
    # ``top + ("/" + name)``: the long string is copied once, not twice.
    if type(name) is type(top) and name and top:
        if isinstance(top, str):
            if name[0] != "/":
                return top + name if top[-1] == "/" else top + ("/" + name)
        elif name[0] != 47:  # b"/"[0]
            return top + name if top[-1] == 47 else top + (b"/" + name)
    return posixpath.join(top, name)


TypedEntry: TypeAlias = tuple[AnyStr, bool, bool]
"""``(name, is_dir, is_symlink)``: one entry with the types its scan already knows.

``is_dir`` follows symbolic links, as ``os.walk`` classifies (a link to a directory is
a directory); ``is_symlink`` says whether the entry itself is a link.
"""


def scan_typed_entries(top: AnyStr) -> list[TypedEntry[AnyStr]] | OSError:
    """List ``top`` once; give each entry's name and the two types a tree listing needs.

    The ``rwalk`` command lists with this instead of ``walk``, because it must tell
    symbolic links from other entries: ``walk`` keeps only names, and asking again with
    ``os.lstat`` per file took 0.41 s on the 100k-entry benchmark tree against 0.12 s
    for a walk over this scan (``docs/design.md``).
    The types come from the directory read itself (``d_type``), so no entry is
    stat'ed except those the file system reports without a type.  Errors follow
    :func:`scan_directory`: an entry whose type cannot be read is not a directory and
    not a link, and a listing error is returned, never raised.
    """
    try:
        with os.scandir(top) as scandir_it:
            dir_entries = list(scandir_it)
    except OSError as error:
        return error
    try:
        # The fast form: types come from d_type and cannot fail.
        return [(entry.name, entry.is_dir(), entry.is_symlink()) for entry in dir_entries]
    except OSError:
        pass
    # A type needed a stat() call and it failed: classify entry by entry.
    entries: list[TypedEntry[AnyStr]] = []
    for entry in dir_entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        try:
            is_symlink = entry.is_symlink()
        except OSError:
            is_symlink = False
        entries.append((entry.name, is_dir, is_symlink))
    return entries


# -- The options beyond os.walk (see _options.py) ---------------------------------------

EntryListing: TypeAlias = tuple[list["os.DirEntry[AnyStr]"], list["os.DirEntry[AnyStr]"]]
"""``(directory_entries, file_entries)``: one directory's ``os.DirEntry`` objects,
classified exactly as :func:`scan_directory` classifies names."""

DirectoryId: TypeAlias = tuple[int, int]
"""``(st_dev, st_ino)``: what makes two paths the same directory."""


def scan_entries(top: AnyStr) -> EntryListing[AnyStr] | OSError:
    """List ``top`` once, keeping the ``os.DirEntry`` objects ``os.walk`` throws away.

    The walks with options use this: the entries carry the types (and, after a first
    ``stat()``, the sizes) that the scan already read.  Closed before returning; errors
    are returned, as by :func:`scan_directory`.
    """
    try:
        scandir_it = os.scandir(top)
    except OSError as error:
        return error
    directories: list[os.DirEntry[AnyStr]] = []
    files: list[os.DirEntry[AnyStr]] = []
    with scandir_it:
        try:
            for entry in scandir_it:
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                (directories if is_dir else files).append(entry)
        except OSError as error:
            return error
    return directories, files


def is_symlink(entry: os.DirEntry[AnyStr]) -> bool:
    """``entry.is_symlink()``; as ``os.path.islink``, unreadable means "not a link"."""
    try:
        return entry.is_symlink()
    except OSError:
        return False


def directory_id(path: AnyStr) -> DirectoryId | None:
    """``(st_dev, st_ino)`` of the directory at ``path`` (links followed), if readable."""
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return None
    return status.st_dev, status.st_ino


def without_links(paths: list[AnyStr]) -> list[AnyStr]:
    """``paths`` less the symbolic links, checked now (the bpo-23605 re-check).

    Checked last-first, as :func:`subdirectories_to_enter` does.
    """
    islink = os.path.islink
    kept = [path for path in reversed(paths) if not islink(path)]
    kept.reverse()
    return kept


def choose_directories(
    paths: list[AnyStr],
    ancestors: dict[DirectoryId, AnyStr],
    top_device: int | None,
    detect_loops: bool,
    one_filesystem: bool,
) -> list[tuple[AnyStr, DirectoryId | None] | OSError]:
    """Which of ``paths`` to enter, in order, with the id each is entered with.

    ``ancestors`` maps the id of each directory on the path from ``top`` to the current
    one.  A path that is one of them is not entered: it becomes an ``ELOOP`` error in
    its place.  With ``one_filesystem``, a path on another device than ``top`` is
    silently not entered.  A path whose ``stat()`` fails is entered anyway: listing it
    will fail and report why.
    """
    if not (detect_loops or one_filesystem):
        return [(path, None) for path in paths]
    chosen: list[tuple[AnyStr, DirectoryId | None] | OSError] = []
    for path in paths:
        identity = directory_id(path)
        if identity is not None:
            if one_filesystem and top_device is not None and identity[0] != top_device:
                continue
            if detect_loops and identity in ancestors:
                chosen.append(loop_error(path, ancestors[identity]))
                continue
        chosen.append((path, identity))
    return chosen
