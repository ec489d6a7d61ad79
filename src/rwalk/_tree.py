"""The tree listing: directories listed in print order, one event per entry.

:func:`tree_events` turns a path into the sequence of entries a tree listing prints,
depth first, each directory's entries filtered and sorted.  It holds one listing per
*open* directory (the chain from the root to the current directory), never the tree, so
memory stays flat however many entries the tree has.  The formatters in
:mod:`rwalk._output` turn events into text or JSON; this module writes nothing.

Where the listings come from is a :class:`Lister`: :class:`ScanLister` reads each
directory with :func:`rwalk._scan.scan_typed_entries` (the fast default), and
:class:`WalkTupleLister` consumes the tuples of a top-down ``rwalk.walk`` or
``rwalk.awalk`` whose ``dirnames`` it sets in place to the directories the listing
enters, in print order, so that the walk runs in exactly the order the lines print.
"""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, TypeVar

from ._render import ERROR_OPENING_DIR, RECURSIVE_NOT_FOLLOWED
from ._scan import TypedEntry, scan_typed_entries

__all__ = (
    "LEAVE",
    "Lister",
    "ListingOptions",
    "Node",
    "PlainRun",
    "ScanLister",
    "Tally",
    "WalkTuple",
    "WalkTupleLister",
    "drive_async_iterator",
    "tree_events",
)

NameMatcher = Callable[[bytes], bool]


@dataclass(frozen=True)
class ListingOptions:
    """What to list and in which order (the options of ``tree`` that shape the tree)."""

    show_hidden: bool = False
    """``-a``: include names that start with a dot."""
    directories_only: bool = False
    """``-d``: list directories (and links to directories) only."""
    max_depth: int | None = None
    """``-L``: the root's entries are depth 1; directories at ``max_depth`` are not entered."""
    include: NameMatcher | None = None
    """``-P``: list only the files (non-directories) whose name matches."""
    exclude: NameMatcher | None = None
    """``-I``: leave out every entry whose name matches."""
    follow_links: bool = False
    """``-l``: enter symbolic links to directories, except links back to an ancestor."""
    dirs_first: bool = False
    """``--dirsfirst``: directories (and links to them) before other entries."""
    sort: str = "name"
    """``name`` (code-point order), ``size`` (largest first), ``mtime`` (oldest first)
    or ``none`` (directory order)."""
    want_stat: bool = False
    """Give each node its ``lstat`` result (sizes, colours, JSON types)."""


class Node(NamedTuple):
    """One entry of the listing, with what its line needs."""

    name: bytes
    """The entry's name; for a root, the path as given."""
    path: bytes
    """The path to the entry: the root's path, joined with the names leading here."""
    depth: int
    """0 for a root, 1 for its entries, and so on."""
    is_last: bool
    """The last entry of its directory (a root: the last root)."""
    is_dir: bool
    """A directory or a link to one: counted as a directory, as tree counts."""
    is_symlink: bool
    target: bytes | None
    """Where a symbolic link points (``os.readlink``); ``None`` for other entries."""
    stat: os.stat_result | None
    """``os.lstat`` of the entry (``os.stat`` for a root), when options asked for it."""
    note: bytes
    """``b""``, or the marker tree appends: ``[error opening dir]``,
    ``[recursive, not followed]``."""
    has_children: bool
    """Events for the entries inside follow, closed by a :data:`LEAVE`."""


class PlainRun(NamedTuple):
    """Consecutive entries of one directory that need nothing but their names.

    Files and directories that are not entered, none a symbolic link, when no option
    asks for ``lstat`` data.  Most entries of most trees are such runs, and handing
    them over as one event (not one :class:`Node` each) is what keeps the listing
    faster than tree (``docs/design-cli.md``).
    """

    dirpath: bytes
    depth: int
    entries: list[TypedEntry[bytes]]
    ends_directory: bool
    """The run's last entry is the last entry of its directory."""


LEAVE = None
"""The event that closes the directory of the last node with ``has_children``."""

Event = Node | PlainRun | None


@dataclass
class Tally:
    """What the closing report counts, and whether anything could not be read."""

    directories: int = 0
    files: int = 0
    errors: list[tuple[bytes, OSError]] = field(default_factory=list)


class Lister(Protocol):
    """Where directory listings come from."""

    def list_directory(self, path: bytes) -> list[TypedEntry[bytes]] | OSError:
        """The entries of ``path``, or the error that kept it from being listed."""

    def will_enter(self, path: bytes, names: list[bytes]) -> None:
        """After listing ``path``: these subdirectories will be listed next, in order."""


class ScanLister:
    """Lists each directory with one ``os.scandir``: the default, fastest source."""

    def list_directory(self, path: bytes) -> list[TypedEntry[bytes]] | OSError:
        return scan_typed_entries(path)

    def will_enter(self, path: bytes, names: list[bytes]) -> None:
        pass


WalkTuple = tuple[bytes, list[bytes], list[bytes]]


class WalkTupleLister:
    """Listings taken from a top-down walk's tuples (``rwalk.walk``, ``rwalk.awalk``).

    The walk must have been started on the listing's root, top-down, with
    :meth:`record_error` as its ``onerror`` and ``followlinks`` equal to the listing's
    ``follow_links``.  After each listing, :meth:`will_enter` sets that tuple's
    ``dirnames`` in place to the directories the listing enters, in print order: the
    walk then yields exactly the directories the listing asks for, in order.  A
    directory the walk could not list arrives as an error instead of a tuple.

    Walk tuples carry names only, so each entry is checked with ``os.lstat`` to tell
    symbolic links apart: correct, but slower than :class:`ScanLister`.
    """

    def __init__(self) -> None:
        self._walk: Iterator[WalkTuple] | None = None
        self._errors: list[OSError] = []
        self._lookahead: WalkTuple | None = None
        self._current_dirnames: list[bytes] | None = None

    def attach(self, walk: Iterator[WalkTuple]) -> None:
        """The walk to read tuples from (its ``onerror`` must be :meth:`record_error`)."""
        self._walk = walk

    def record_error(self, error: OSError) -> None:
        """The walk's ``onerror``."""
        self._errors.append(error)

    def _pending_error_for(self, path: bytes) -> OSError | None:
        for index, error in enumerate(self._errors):
            if os.fsencode(error.filename) == path:
                del self._errors[: index + 1]
                return error
        return None

    def list_directory(self, path: bytes) -> list[TypedEntry[bytes]] | OSError:
        assert self._walk is not None, "attach() a walk first"
        if self._lookahead is None:
            self._lookahead = next(self._walk, None)
        error = self._pending_error_for(path)
        if error is not None:
            return error
        step = self._lookahead
        if step is None or step[0] != path:
            # The walk skipped this directory without an error: it was replaced by a
            # symbolic link (bpo-23605) or removed after its parent was listed.  Keep
            # the tuple read ahead for the directory the listing asks for next.
            return FileNotFoundError(2, "No such directory", os.fsdecode(path))
        self._lookahead = None
        _, dirnames, filenames = step
        self._current_dirnames = dirnames
        return _typed_entries(path, dirnames, filenames)

    def will_enter(self, path: bytes, names: list[bytes]) -> None:
        if self._current_dirnames is not None:
            self._current_dirnames[:] = names
            self._current_dirnames = None


_Item = TypeVar("_Item")


def drive_async_iterator(iterator: AsyncIterator[_Item]) -> Iterator[_Item]:
    """The items of an async iterator, for a synchronous caller (``--async``).

    One event loop runs for the whole iteration and is closed at the end, and so is the
    async iterator (if it has ``aclose``), also when the caller stops early.  asyncio is
    imported here, so only ``--async`` pays for it.
    """
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                item = loop.run_until_complete(_next_item(iterator))
            except StopAsyncIteration:
                return
            yield item
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            loop.run_until_complete(aclose())
        loop.close()


async def _next_item(iterator: AsyncIterator[_Item]) -> _Item:
    return await iterator.__anext__()


def _typed_entries(
    path: bytes, dirnames: list[bytes], filenames: list[bytes]
) -> list[TypedEntry[bytes]]:
    entries: list[TypedEntry[bytes]] = []
    for names, is_dir in ((dirnames, True), (filenames, False)):
        for name in names:
            try:
                is_symlink = stat.S_ISLNK(os.lstat(os.path.join(path, name)).st_mode)
            except OSError:
                is_symlink = False
            entries.append((name, is_dir, is_symlink))
    return entries


def _sort_entries(entries: list[TypedEntry[bytes]], path: bytes, options: ListingOptions) -> None:
    """Sort one directory's entries in place, as tree orders them."""
    if options.sort == "name":
        # Names in one directory are unique, so the tuples compare by name alone:
        # byte order, which for UTF-8 is code-point order (tree under C.UTF-8).
        entries.sort()
    elif options.sort in ("size", "mtime"):
        stats = {name: _lstat_or_none(os.path.join(path, name)) for name, _, _ in entries}
        if options.sort == "size":
            # Largest first; equal sizes by name (tree's fsizesort).
            entries.sort(key=lambda entry: (-_size_of(stats[entry[0]]), entry[0]))
        else:
            # Oldest first, whole seconds; equal times by name (tree's mtimesort).
            entries.sort(key=lambda entry: (_mtime_of(stats[entry[0]]), entry[0]))
    if options.dirs_first:
        # A stable sort keeps the chosen order within each group.
        entries.sort(key=lambda entry: not entry[1])


def _lstat_or_none(path: bytes) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


def _size_of(result: os.stat_result | None) -> int:
    return result.st_size if result is not None else 0


def _mtime_of(result: os.stat_result | None) -> int:
    return int(result.st_mtime) if result is not None else 0


def _keep(entries: list[TypedEntry[bytes]], options: ListingOptions) -> list[TypedEntry[bytes]]:
    """The entries the listing shows, in directory order."""
    if not options.show_hidden:
        entries = [entry for entry in entries if entry[0][:1] != b"."]
    if options.directories_only:
        entries = [entry for entry in entries if entry[1]]
    exclude = options.exclude
    if exclude is not None:
        entries = [entry for entry in entries if not exclude(entry[0])]
    include = options.include
    if include is not None:
        follow = options.follow_links
        # -P filters files only; a link to a directory is a file here unless followed.
        entries = [
            entry
            for entry in entries
            if (entry[1] and (follow or not entry[2])) or include(entry[0])
        ]
    return entries


class _OpenDirectory:
    """A directory whose entries are being emitted, on the stack of open directories."""

    __slots__ = ("depth", "entries", "identities", "identity", "next_index", "path")

    def __init__(
        self,
        path: bytes,
        depth: int,
        prepared: _Prepared,
        identity: tuple[int, int] | None,
    ) -> None:
        self.path = path
        self.depth = depth
        self.entries, self.identities = prepared
        self.next_index = 0
        self.identity = identity


_Identity = tuple[int, int]
# A directory's entries, filtered and sorted, and (with -l) the (device, inode) of each
# subdirectory to enter, or None for one that leads back to an ancestor.
_Prepared = tuple[list[TypedEntry[bytes]], dict[bytes, _Identity | None]]


def tree_events(
    roots: list[bytes],
    lister_for: Callable[[bytes], Lister],
    options: ListingOptions,
    tally: Tally,
) -> Iterator[Event]:
    """The listing of ``roots``, as a stream of :class:`Node` and :data:`LEAVE` events.

    ``lister_for(root)`` gives the :class:`Lister` of each root in turn (a walk-based
    lister walks one root).  Counts go to ``tally`` as nodes are produced; directories
    that cannot be listed are marked on their node and recorded in ``tally.errors``.
    """
    for index, root in enumerate(roots):
        lister = lister_for(root)
        yield from _root_events(root, index == len(roots) - 1, lister, options, tally)


def _root_events(
    root: bytes, is_last_root: bool, lister: Lister, options: ListingOptions, tally: Tally
) -> Iterator[Event]:
    try:
        root_stat: os.stat_result | None = os.stat(root)
    except OSError:
        root_stat = None
    listing = lister.list_directory(root)
    if isinstance(listing, OSError):
        tally.errors.append((root, listing))
        is_dir = root_stat is not None and stat.S_ISDIR(root_stat.st_mode)
        if root_stat is not None:
            # As tree: a root that cannot be opened counts only if it exists.
            if is_dir:
                tally.directories += 1
            else:
                tally.files += 1
        yield Node(
            root, root, 0, is_last_root, is_dir, False, None,
            root_stat if options.want_stat else None, ERROR_OPENING_DIR, False,
        )  # fmt: skip
        return
    tally.directories += 1
    identity = _identity(root_stat) if options.follow_links else None
    # The (device, inode) of every directory from the root to the one being listed.
    ancestors = {identity} if identity is not None else set()
    prepared = _prepare(
        root, 1, listing=listing, lister=lister, options=options, ancestors=ancestors
    )
    yield Node(
        root, root, 0, is_last_root, True, False, None,
        root_stat if options.want_stat else None, b"", bool(prepared[0]),
    )  # fmt: skip
    if not prepared[0]:
        return
    stack = [_OpenDirectory(root, 1, prepared, identity)]
    max_depth = options.max_depth
    follow = options.follow_links
    want_stat = options.want_stat
    while stack:
        directory = stack[-1]
        entries = directory.entries
        count = len(entries)
        index = directory.next_index
        depth = directory.depth
        dirpath = directory.path
        # os.path.join's rule for a relative name, without its cost per entry.
        dirprefix = dirpath if dirpath.endswith(b"/") else dirpath + b"/"
        enters_plain_dirs = depth != max_depth
        descended = False
        while index < count:
            name, is_dir, is_symlink = entries[index]
            if not (want_stat or is_symlink or (is_dir and enters_plain_dirs)):
                start = index
                index += 1
                while index < count:
                    name, is_dir, is_symlink = entries[index]
                    if is_symlink or (is_dir and enters_plain_dirs):
                        break
                    index += 1
                run = entries[start:index]
                run_directories = sum([entry[1] for entry in run])
                tally.directories += run_directories
                tally.files += len(run) - run_directories
                yield PlainRun(dirpath, depth, run, index == count)
                continue
            index += 1
            path = dirprefix + name
            target = _readlink(path) if is_symlink else None
            entry_stat = _lstat_or_none(path) if want_stat else None
            if is_dir:
                tally.directories += 1
            else:
                tally.files += 1
            if not is_dir or (is_symlink and not follow) or depth == max_depth:
                yield Node(
                    name, path, depth, index == count, is_dir, is_symlink, target,
                    entry_stat, b"", False,
                )  # fmt: skip
                continue
            child_identity = directory.identities.get(name) if follow else None
            if follow and child_identity is None:
                yield Node(
                    name, path, depth, index == count, is_dir, is_symlink, target,
                    entry_stat, RECURSIVE_NOT_FOLLOWED, False,
                )  # fmt: skip
                continue
            listing = lister.list_directory(path)
            if isinstance(listing, OSError):
                tally.errors.append((path, listing))
                yield Node(
                    name, path, depth, index == count, is_dir, is_symlink, target,
                    entry_stat, ERROR_OPENING_DIR, False,
                )  # fmt: skip
                continue
            if child_identity is not None:
                ancestors.add(child_identity)
            prepared = _prepare(
                path,
                depth + 1,
                listing=listing,
                lister=lister,
                options=options,
                ancestors=ancestors,
            )
            yield Node(
                name, path, depth, index == count, is_dir, is_symlink, target,
                entry_stat, b"", bool(prepared[0]),
            )  # fmt: skip
            if prepared[0]:
                directory.next_index = index
                stack.append(_OpenDirectory(path, depth + 1, prepared, child_identity))
                descended = True
                break
            if child_identity is not None:
                ancestors.discard(child_identity)
        if not descended:
            stack.pop()
            if stack and directory.identity is not None:
                ancestors.discard(directory.identity)
            yield LEAVE


def _prepare(
    path: bytes,
    depth: int,
    *,
    listing: list[TypedEntry[bytes]],
    lister: Lister,
    options: ListingOptions,
    ancestors: set[_Identity],
) -> _Prepared:
    """Filter and sort a fresh listing; tell the lister which subdirectories come next."""
    entries = _keep(listing, options)
    if options.sort != "none" or options.dirs_first:
        _sort_entries(entries, path, options)
    identities: dict[bytes, _Identity | None] = {}
    if depth == options.max_depth:
        lister.will_enter(path, [])
        return entries, identities
    follow = options.follow_links
    to_enter = []
    for name, is_dir, is_symlink in entries:
        if not is_dir or (is_symlink and not follow):
            continue
        if follow:
            # Loops are found as walkdir and fd find them: a directory whose (device,
            # inode) is already on the path from the root is not entered.
            identity = _identity(_stat_or_none(os.path.join(path, name)))
            if identity is None or identity in ancestors:
                identities[name] = None
                continue
            identities[name] = identity
        to_enter.append(name)
    lister.will_enter(path, to_enter)
    return entries, identities


def _identity(result: os.stat_result | None) -> tuple[int, int] | None:
    return (result.st_dev, result.st_ino) if result is not None else None


def _stat_or_none(path: bytes) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _readlink(path: bytes) -> bytes:
    try:
        return os.readlink(path)
    except OSError:
        return b""
