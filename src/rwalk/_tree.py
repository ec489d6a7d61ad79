"""The tree listing: directories listed in print order, one event per entry.

:func:`tree_events` turns a path into the sequence of entries a tree listing prints,
depth first, each directory's entries filtered and sorted.  It holds one listing per
*open* directory (the chain from the root to the current directory), never the tree, so
memory stays flat however many entries the tree has (``--du`` adds its remembered
totals, in a fixed amount of memory: :class:`_KnownTotals`).  The formatters in
:mod:`rwalk._output` turn events into text or JSON; this module writes nothing.

Where the listings come from is a :class:`Lister`: :class:`ScanLister` reads each
directory with :func:`rwalk._scan.scan_typed_entries` (the fast default);
:class:`WalkEntriesLister` consumes the tuples of a top-down ``rwalk.walk_entries`` or
``rwalk.awalk_entries`` started with the listing's depth, loop and device options
(:func:`walk_options`), which then decide what is entered.  It sets each tuple's
directory list in place to the directories the listing enters, in print order, so that
the walk runs in exactly the order the lines print.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar

from ._render import ERROR_OPENING_DIR, RECURSIVE_NOT_FOLLOWED
from ._scan import TypedEntry, scan_typed_entries
from ._scan import is_symlink as entry_is_symlink

if TYPE_CHECKING:
    from ._gitignore import IgnoreChain

__all__ = (
    "LEAVE",
    "Lister",
    "ListingOptions",
    "Node",
    "NotEntered",
    "PlainRun",
    "ScanLister",
    "Tally",
    "WalkEntriesLister",
    "WalkEntryTuple",
    "drive_async_iterator",
    "tree_events",
    "walk_options",
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
    disk_usage: bool = False
    """``--du``: give each node its :attr:`Node.total_size`."""
    gitignore: bool = False
    """``--gitignore``: leave out what the ``.gitignore`` files in the tree ignore."""
    one_filesystem: bool = False
    """``-x``: do not enter a directory on another device than its root (it is listed)."""


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
    total_size: int | None = None
    """``--du``: the entry's own size plus, for a directory the listing enters, the
    total sizes of the entries listed inside it (what tree's ``--du`` shows)."""


class PlainRun(NamedTuple):
    """Consecutive entries of one directory that need nothing but their names.

    Files and directories that are not entered, none a symbolic link, when no option
    asks for ``lstat`` data.  Most entries of most trees are such runs, and handing
    them over as one event (not one :class:`Node` each) is what keeps the listing
    faster than tree (``docs/design.md``).
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
    total_size: int = 0
    """``--du``: the sum of the roots' total sizes (what ``du -c`` reports)."""
    errors: list[tuple[bytes, OSError]] = field(default_factory=list)


class NotEntered(NamedTuple):
    """A lister's answer for a directory its walk decided not to enter."""

    note: bytes
    """What the directory's line says: ``b""`` (``-x``: on another device) or
    ``[recursive, not followed]`` (``-l``: it leads back to an ancestor)."""


class Lister(Protocol):
    """Where directory listings come from."""

    decides_entering: bool
    """The lister's walk decides which directories ``-l`` and ``-x`` enter, and
    answers :class:`NotEntered` for the others; otherwise the listing decides, with
    one ``stat`` per subdirectory."""

    def list_directory(self, path: bytes) -> list[TypedEntry[bytes]] | OSError | NotEntered:
        """The entries of ``path``, or the error that kept it from being listed."""

    def will_enter(self, path: bytes, names: list[bytes]) -> None:
        """After listing ``path``: these subdirectories will be listed next, in order."""


class ScanLister:
    """Lists each directory with one ``os.scandir``: the default, fastest source."""

    decides_entering = False

    def list_directory(self, path: bytes) -> list[TypedEntry[bytes]] | OSError:
        return scan_typed_entries(path)

    def will_enter(self, path: bytes, names: list[bytes]) -> None:
        pass


WalkEntryTuple = tuple[bytes, list["os.DirEntry[bytes]"], list["os.DirEntry[bytes]"]]


def walk_options(options: ListingOptions) -> dict[str, Any]:
    """The keyword options of ``rwalk.walk_entries`` that make its walk the listing's.

    ``-L N`` lists the root's entries at depth 1 and enters no directory at depth N;
    the walk counts the root as depth 0, so it goes to ``max_depth=N - 1``.  ``-l``
    stops at links back to an ancestor (``detect_loops``, the same rule: the (device,
    inode) of the directories on the current path); ``-x`` is ``one_filesystem``.  The
    listing's order (``--sort``, ``--dirsfirst``) is the listing's own: it tells the
    walk which directories come next, in print order.
    """
    return {
        "max_depth": None if options.max_depth is None else options.max_depth - 1,
        "detect_loops": options.follow_links,
        "one_filesystem": options.one_filesystem,
    }


class WalkEntriesLister:
    """Listings taken from a top-down ``rwalk.walk_entries`` or ``rwalk.awalk_entries``.

    The walk must have been started on the listing's root, top-down, with
    :meth:`record_error` as its ``onerror``, ``followlinks`` equal to the listing's
    ``follow_links`` and the keyword options of :func:`walk_options`: then it decides
    what ``-L``, ``-l`` and ``-x`` enter.  After each listing, :meth:`will_enter` sets
    that tuple's directory entries in place to the directories the listing enters, in
    print order: the walk then yields exactly the directories the listing asks for, in
    order.  A directory the walk could not list arrives as an error instead of a tuple;
    one it does not enter because it leads back to an ancestor arrives as its ``ELOOP``
    error and is answered ``[recursive, not followed]``; one on another device is
    skipped silently by the walk and answered as listed but not entered.  Types come
    from the ``os.DirEntry`` objects (the directory read's ``d_type``), so no entry is
    stat'ed.
    """

    decides_entering = True

    def __init__(self, options: ListingOptions) -> None:
        self._follow_links = options.follow_links
        self._one_filesystem = options.one_filesystem
        self._walk: Iterator[WalkEntryTuple] | None = None
        self._errors: list[OSError] = []
        self._lookahead: WalkEntryTuple | None = None
        self._current: WalkEntryTuple | None = None

    def attach(self, walk: Iterator[WalkEntryTuple]) -> None:
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

    def list_directory(self, path: bytes) -> list[TypedEntry[bytes]] | OSError | NotEntered:
        assert self._walk is not None, "attach() a walk first"
        if self._lookahead is None:
            self._lookahead = next(self._walk, None)
        error = self._pending_error_for(path)
        if error is not None:
            # With detect_loops, ELOOP is the walk's "not entered, same directory as an
            # ancestor".  (Listing a directory whose link was just checked could fail
            # with ELOOP only if the link chain changed in between; that, too, is a
            # loop.)
            if self._follow_links and error.errno == errno.ELOOP:
                return NotEntered(RECURSIVE_NOT_FOLLOWED)
            return error
        step = self._lookahead
        if step is None or step[0] != path:
            # The walk skipped this directory without an error; the tuple read ahead
            # is kept for the directory the listing asks for next.
            if self._one_filesystem:
                # one_filesystem skips a directory on another device without a word.
                return NotEntered(b"")
            # Replaced by a symbolic link (bpo-23605) or removed after its parent was
            # listed.
            return FileNotFoundError(2, "No such directory", os.fsdecode(path))
        self._lookahead = None
        self._current = step
        _, directory_entries, file_entries = step
        return [(entry.name, True, entry_is_symlink(entry)) for entry in directory_entries] + [
            (entry.name, False, entry_is_symlink(entry)) for entry in file_entries
        ]

    def will_enter(self, path: bytes, names: list[bytes]) -> None:
        if self._current is None:
            return
        directory_entries = self._current[1]
        if names:
            by_name = {entry.name: entry for entry in directory_entries}
            directory_entries[:] = [by_name[name] for name in names]
        else:
            directory_entries.clear()
        self._current = None

    def close(self) -> None:
        """End the walk (and, for ``awalk_entries``, its event loop and scans)."""
        close = getattr(self._walk, "close", None)
        if close is not None:
            close()


_Item = TypeVar("_Item")


def drive_async_iterator(iterator: AsyncIterator[_Item]) -> Iterator[_Item]:
    """The items of an async iterator, for a synchronous caller (``--async``).

    One event loop runs for the whole iteration and is closed at the end, and so is the
    async iterator (if it has ``aclose``), also when the caller stops early.  asyncio is
    imported here, so only ``--async`` pays for it.

    Ctrl-C while the loop runs does what ``asyncio.run`` does: the step in progress is
    cancelled, and ``KeyboardInterrupt`` is raised once it has ended.  Raised at any
    point inside the loop's own code instead, it could drop a callback the loop had
    just taken off its queue, leaving the step waiting forever (seen: a hang after
    Ctrl-C in about one run of 50), or leave the iterator running, so that ``aclose``
    raised "asynchronous generator is already running".  While the caller handles an
    item, Ctrl-C raises ``KeyboardInterrupt`` there, as usual (a write blocked on a
    full pipe must stay interruptible).
    """
    import asyncio
    import signal

    loop = asyncio.new_event_loop()
    step: asyncio.Task[_Item] | None = None
    in_loop = False
    interrupted = False

    def on_interrupt(signum: int, frame: object) -> None:
        nonlocal interrupted
        if not in_loop or interrupted:
            # The caller's own code is running, or a second Ctrl-C: as usual.
            raise KeyboardInterrupt
        interrupted = True
        if step is not None and not step.done():
            step.cancel()
        # Wake the loop if it waits in select().
        loop.call_soon_threadsafe(_nothing)

    handles_ctrl_c = ctrl_c_is_pythons()
    if handles_ctrl_c:
        signal.signal(signal.SIGINT, on_interrupt)
    try:
        while True:
            # In the loop from before the step exists: a Ctrl-C that came between
            # making the task and binding it to step would leave it running unseen.
            in_loop = True
            step = loop.create_task(_next_item(iterator))
            if interrupted:
                step.cancel()
            try:
                item = loop.run_until_complete(step)
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                if interrupted:
                    raise KeyboardInterrupt from None
                raise
            finally:
                in_loop = False
            if interrupted:
                raise KeyboardInterrupt  # the step had ended when Ctrl-C came
            yield item
    finally:
        interrupted_before = interrupted
        try:
            in_loop = True
            if step is not None and not step.done():
                # The caller stopped (or Ctrl-C came) mid-step: end the step first, or
                # aclose() would find the iterator still running.
                step.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    loop.run_until_complete(step)
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                loop.run_until_complete(aclose())
        finally:
            in_loop = False
            try:
                # Only our own handler is taken back (a handler set meanwhile stays); from
                # another thread it cannot be, and then stays, raising as usual.
                if handles_ctrl_c and signal.getsignal(signal.SIGINT) is on_interrupt:
                    with contextlib.suppress(ValueError):
                        signal.signal(signal.SIGINT, signal.default_int_handler)
            finally:
                loop.close()
        if interrupted and not interrupted_before:
            # Ctrl-C while the walk was being closed: raised now, not lost.
            raise KeyboardInterrupt


def _nothing() -> None:
    pass


def ctrl_c_is_pythons() -> bool:
    """Whether this is the main thread and Ctrl-C has Python's own handler (it raises
    ``KeyboardInterrupt``): only then may rwalk take SIGINT over.  A process started
    with Ctrl-C ignored keeps ignoring it, and a handler the program set stays."""
    import signal
    import threading

    return (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )


async def _next_item(iterator: AsyncIterator[_Item]) -> _Item:
    return await iterator.__anext__()


def _sort_entries(
    entries: list[TypedEntry[bytes]],
    path: bytes,
    options: ListingOptions,
    totals: dict[bytes, int] | None = None,
) -> None:
    """Sort one directory's entries in place, as tree orders them.

    ``totals`` (``--du``): each entry's total, by which ``--sort=size`` orders, as tree
    does (each entry's own size would put a file before a larger directory).
    """
    if options.sort == "name":
        # Names in one directory are unique, so the tuples compare by name alone:
        # byte order, which for UTF-8 is code-point order (tree under C.UTF-8).
        entries.sort()
    elif options.sort == "size" and totals:
        by_total = totals
        # Largest total first; equal totals by name.
        entries.sort(key=lambda entry: (-by_total[entry[0]], entry[0]))
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


def _keep(
    entries: list[TypedEntry[bytes]],
    options: ListingOptions,
    path: bytes,
    ignore: IgnoreChain | None,
) -> list[TypedEntry[bytes]]:
    """The entries of directory ``path`` the listing shows, in directory order.

    ``ignore`` is the ``.gitignore`` chain of ``path`` (``--gitignore``), else ``None``.
    """
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
    if ignore is not None:
        dirprefix = path if path.endswith(b"/") else path + b"/"
        # To git a symbolic link is never a directory.
        entries = [
            entry
            for entry in entries
            if not ignore.ignores(dirprefix + entry[0], entry[1] and not entry[2])
        ]
    return entries


class _OpenDirectory:
    """A directory whose entries are being emitted, on the stack of open directories."""

    __slots__ = (
        "depth",
        "entries",
        "identities",
        "identity",
        "ignore",
        "next_index",
        "path",
        "totals",
    )

    def __init__(
        self,
        path: bytes,
        depth: int,
        prepared: _Prepared,
        identity: tuple[int, int] | None,
        ignore: IgnoreChain | None,
    ) -> None:
        self.ignore = ignore
        self.path = path
        self.depth = depth
        self.entries, self.identities, self.totals = prepared
        self.next_index = 0
        self.identity = identity


_Identity = tuple[int, int]
# In a directory's identities: "on another device, not entered" (-x).
_OTHER_DEVICE: _Identity = (-1, -1)
# With -l, a subdirectory that could not be stat'ed (a parent that cannot be searched, a
# path too long): entered all the same, so that listing it reports why, as without -l.
_UNKNOWN: _Identity = (-2, -2)
# A directory's entries, filtered and sorted; (with -l) the (device, inode) of each
# subdirectory to enter, or None for one that leads back to an ancestor; and (with
# --du) each entry's total size.
_Prepared = tuple[list[TypedEntry[bytes]], dict[bytes, _Identity | None], dict[bytes, int]]


def tree_events(
    roots: list[bytes],
    lister_for: Callable[[bytes], Lister],
    options: ListingOptions,
    tally: Tally,
    root_names: list[bytes] | None = None,
) -> Generator[Event, None, None]:
    """The listing of ``roots``, as a stream of :class:`Node` and :data:`LEAVE` events.

    ``lister_for(root)`` gives the :class:`Lister` of each root in turn (a walk-based
    lister walks one root).  Counts go to ``tally`` as nodes are produced; directories
    that cannot be listed are marked on their node and recorded in ``tally.errors``.
    ``root_names``: each root's name on its line (tree shows the argument as given,
    ``src/`` for ``src/``), where ``roots`` are the paths the listing reads.
    """
    for index, root in enumerate(roots):
        lister = lister_for(root)
        shown = root_names[index] if root_names is not None else root
        try:
            yield from _root_events(
                root, index == len(roots) - 1, lister, options, tally, shown=shown
            )
        finally:
            # A walk-based lister may hold a walk the listing never read to its end
            # (it knows when it is done): close it now, while the interpreter is whole,
            # not when the garbage collector finds it at exit.
            close = getattr(lister, "close", None)
            if close is not None:
                close()


def _root_events(
    root: bytes,
    is_last_root: bool,
    lister: Lister,
    options: ListingOptions,
    tally: Tally,
    *,
    shown: bytes,
) -> Iterator[Event]:
    try:
        root_stat: os.stat_result | None = os.stat(root)
    except OSError:
        root_stat = None
    listing = lister.list_directory(root)
    if isinstance(listing, NotEntered):
        # A walk enters its root whatever its options; only a bug gets here.
        listing = OSError(f"the walk did not list its root {os.fsdecode(root)!r}")
    if isinstance(listing, OSError):
        tally.errors.append((root, listing))
        is_dir = root_stat is not None and stat.S_ISDIR(root_stat.st_mode)
        root_total = None
        if root_stat is not None:
            # As tree: a root that cannot be opened counts only if it exists.
            if is_dir:
                tally.directories += 1
            else:
                tally.files += 1
            if options.disk_usage:
                root_total = root_stat.st_size
                tally.total_size += root_total
        yield Node(
            shown, root, 0, is_last_root, is_dir, False, None,
            root_stat if options.want_stat else None, ERROR_OPENING_DIR, False, root_total,
        )  # fmt: skip
        return
    tally.directories += 1
    identity = _identity(root_stat) if options.follow_links else None
    root_device = root_stat.st_dev if options.one_filesystem and root_stat is not None else None
    # The (device, inode) of every directory from the root to the one being listed.
    ancestors = {identity} if identity is not None else set()
    root_ignore = None
    if options.gitignore:
        from ._gitignore import IgnoreChain

        root_ignore = IgnoreChain().enter(root)
    # --du: the contents sizes of directories summed and not yet shown (see _total_sizes).
    known = _KnownTotals()
    prepared = _prepare(
        root,
        1,
        listing=listing,
        lister=lister,
        options=options,
        ancestors=ancestors,
        ignore=root_ignore,
        root_device=root_device,
        known=known,
    )
    root_total = None
    if options.disk_usage:
        root_total = (root_stat.st_size if root_stat is not None else 0) + sum(prepared[2].values())
        tally.total_size += root_total
    yield Node(
        shown, root, 0, is_last_root, True, False, None,
        root_stat if options.want_stat else None, b"", bool(prepared[0]), root_total,
    )  # fmt: skip
    if not prepared[0]:
        return
    stack = [_OpenDirectory(root, 1, prepared, identity, root_ignore)]
    max_depth = options.max_depth
    follow = options.follow_links
    want_stat = options.want_stat
    disk_usage = options.disk_usage
    # The listing checks -l's loops itself unless the lister's walk does; --du's sums
    # still need the (device, inode) of the directories on the path (_contents_size).
    checks_loops = follow and not lister.decides_entering
    tracks_ancestors = follow and disk_usage and lister.decides_entering
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
            total = directory.totals[name] if disk_usage else None
            if is_dir:
                tally.directories += 1
            else:
                tally.files += 1
            if (
                not is_dir
                or (is_symlink and not follow)
                or depth == max_depth
                or directory.identities.get(name) == _OTHER_DEVICE
            ):
                yield Node(
                    name, path, depth, index == count, is_dir, is_symlink, target,
                    entry_stat, b"", False, total,
                )  # fmt: skip
                continue
            child_identity = directory.identities.get(name) if checks_loops else None
            if tracks_ancestors:
                child_identity = _identity(_stat_or_none(path))
            elif checks_loops and child_identity is None:
                yield Node(
                    name, path, depth, index == count, is_dir, is_symlink, target,
                    entry_stat, RECURSIVE_NOT_FOLLOWED, False, total,
                )  # fmt: skip
                continue
            if child_identity == _UNKNOWN:
                child_identity = None  # not on the path of ancestors
            listing = lister.list_directory(path)
            if isinstance(listing, NotEntered):
                yield Node(
                    name, path, depth, index == count, is_dir, is_symlink, target,
                    entry_stat, listing.note, False, total,
                )  # fmt: skip
                continue
            if isinstance(listing, OSError):
                tally.errors.append((path, listing))
                yield Node(
                    name, path, depth, index == count, is_dir, is_symlink, target,
                    entry_stat, ERROR_OPENING_DIR, False, total,
                )  # fmt: skip
                continue
            if child_identity is not None:
                ancestors.add(child_identity)
            child_ignore = directory.ignore.enter(path) if directory.ignore is not None else None
            prepared = _prepare(
                path,
                depth + 1,
                listing=listing,
                lister=lister,
                options=options,
                ancestors=ancestors,
                ignore=child_ignore,
                root_device=root_device,
                known=known,
            )
            yield Node(
                name, path, depth, index == count, is_dir, is_symlink, target,
                entry_stat, b"", bool(prepared[0]), total,
            )  # fmt: skip
            if prepared[0]:
                directory.next_index = index
                stack.append(
                    _OpenDirectory(path, depth + 1, prepared, child_identity, child_ignore)
                )
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
    ignore: IgnoreChain | None,
    root_device: int | None = None,
    known: _KnownTotals,
) -> _Prepared:
    """Filter and sort a fresh listing; tell the lister which subdirectories come next.

    ``root_device`` (with ``-x``) is the root's ``st_dev``: a subdirectory on another
    device is marked :data:`_OTHER_DEVICE` and not entered.  ``known`` (``--du``):
    the contents sizes of directories already summed (see :func:`_total_sizes`).
    """
    entries = _keep(listing, options, path, ignore)
    identities: dict[bytes, _Identity | None] = {}
    # With --du the totals come first: --sort=size orders by them, as tree does.
    totals = (
        _total_sizes(
            path,
            depth,
            entries,
            options=options,
            ancestors=ancestors,
            ignore=ignore,
            root_device=root_device,
            known=known,
        )
        if options.disk_usage
        else {}
    )
    if options.sort != "none" or options.dirs_first:
        _sort_entries(entries, path, options, totals)
    if depth == options.max_depth:
        lister.will_enter(path, [])
        return entries, identities, totals
    follow = options.follow_links
    if lister.decides_entering:
        # The lister's walk takes the -l and -x decisions (one stat per directory
        # entered, in rwalk.walk_entries) and answers NotEntered where it says no.
        lister.will_enter(
            path,
            [name for name, is_dir, is_symlink in entries if is_dir and (follow or not is_symlink)],
        )
        return entries, identities, totals
    to_enter = []
    for name, is_dir, is_symlink in entries:
        if not is_dir or (is_symlink and not follow):
            continue
        # One stat serves -x and -l alike.
        status = _stat_for_entering(os.path.join(path, name), follow, root_device)
        if _on_other_device(status, root_device):
            identities[name] = _OTHER_DEVICE
            continue
        if follow:
            # Loops are found as walkdir and fd find them: a directory whose (device,
            # inode) is already on the path from the root is not entered.
            identity = _identity(status)
            if identity is None:
                identities[name] = _UNKNOWN
            elif identity in ancestors:
                identities[name] = None
                continue
            else:
                identities[name] = identity
        to_enter.append(name)
    lister.will_enter(path, to_enter)
    return entries, identities, totals


def _total_sizes(
    path: bytes,
    depth: int,
    entries: list[TypedEntry[bytes]],
    *,
    options: ListingOptions,
    ancestors: set[_Identity],
    ignore: IgnoreChain | None,
    root_device: int | None = None,
    known: _KnownTotals,
) -> dict[bytes, int]:
    """``--du``: the total size of each of ``path``'s listed ``entries`` (at ``depth``).

    An entry's total is its own ``lstat`` size, plus, for a directory the listing
    enters, the sizes of everything listed below it: the same filters, depth limit and
    link rules as the listing.  A subtree is summed depth first with a fresh scan,
    holding one filtered listing per level; each directory summed on the way leaves its
    contents size in ``known``, where the listing takes it when it reaches that
    directory's parent, so that every directory is read twice in all (once summed, once
    listed) as long as ``known`` has room (:class:`_KnownTotals`: a fixed amount of
    memory, whatever the size of the tree); beyond that, a directory is summed again
    for each ancestor, as before.  (Always summed afresh, a directory at depth k was
    read k times: 60 s against tree's 0.08 s on a 900-level chain, found by an audit;
    ``docs/design.md``, "--du".)
    """
    follow = options.follow_links
    max_depth = options.max_depth
    totals: dict[bytes, int] = {}
    for name, is_dir, is_symlink in entries:
        child = os.path.join(path, name)
        own = _lstat_or_none(child)
        total = own.st_size if own is not None else 0
        if (
            is_dir
            and (follow or not is_symlink)
            and depth != max_depth
            and not _on_other_device(_stat_for_entering(child, False, root_device), root_device)
        ):
            contents = known.take(child)
            if contents is None:
                child_ignore = ignore.enter(child) if ignore is not None else None
                contents = _contents_size(
                    child,
                    depth + 1,
                    options,
                    ancestors,
                    child_ignore,
                    root_device=root_device,
                    known=known,
                )
            total += contents
        totals[name] = total
    return totals


def _contents_size(
    path: bytes,
    depth: int,
    options: ListingOptions,
    ancestors: set[_Identity],
    ignore: IgnoreChain | None,
    *,
    root_device: int | None = None,
    known: _KnownTotals,
) -> int:
    """The summed sizes of what the listing shows inside ``path`` (its entries at
    ``depth``, and theirs), or 0 if ``path`` cannot be listed or leads to an ancestor.

    ``ancestors`` is the listing's set of (device, inode) on the current path (with
    ``-l``); it is extended and restored as the sum goes down and up.  ``ignore`` is
    ``path``'s ``.gitignore`` chain (``--gitignore``).  The contents size of every
    directory summed below ``path`` is left in ``known`` (by path), while it has room.
    """
    follow = options.follow_links
    max_depth = options.max_depth
    identity = None
    if follow:
        identity = _identity(_stat_or_none(path))
        if identity is None or identity in ancestors:
            return 0
    listing = scan_typed_entries(path)
    if isinstance(listing, OSError):
        return 0
    if identity is not None:
        ancestors.add(identity)
    # Each level: its path, its entries' depth, what is left of its filtered listing,
    # its identity (to leave the ancestors as they were), its .gitignore chain, and the
    # sizes summed in it so far.
    stack: list[_SumLevel] = [
        _SumLevel(path, depth, iter(_keep(listing, options, path, ignore)), identity, ignore)
    ]
    total = 0
    while stack:
        level = stack[-1]
        dirpath, entries_depth = level.path, level.depth
        level_ignore = level.ignore
        for name, is_dir, is_symlink in level.remaining:
            child = os.path.join(dirpath, name)
            own = _lstat_or_none(child)
            if own is not None:
                level.total += own.st_size
            if not is_dir or (is_symlink and not follow) or entries_depth == max_depth:
                continue
            status = _stat_for_entering(child, follow, root_device)
            if _on_other_device(status, root_device):
                continue
            child_identity = None
            if follow:
                child_identity = _identity(status)
                if child_identity is None or child_identity in ancestors:
                    continue
            child_listing = scan_typed_entries(child)
            if isinstance(child_listing, OSError):
                continue
            if child_identity is not None:
                ancestors.add(child_identity)
            child_ignore = level_ignore.enter(child) if level_ignore is not None else None
            kept = _keep(child_listing, options, child, child_ignore)
            stack.append(
                _SumLevel(child, entries_depth + 1, iter(kept), child_identity, child_ignore)
            )
            break
        else:
            stack.pop()
            if level.identity is not None:
                ancestors.discard(level.identity)
            if stack:
                stack[-1].total += level.total
                known.remember(dirpath, level.total)
            else:
                total = level.total
    return total


# The most memory _KnownTotals holds, counted as each path's length plus
# _KNOWN_TOTAL_ENTRY_BYTES for the bytes object, the int and the dictionary's slot
# (measured on 3.11: 36-113 MiB for 8 MiB of paths of 30 down to 8 bytes, that is
# ~110 bytes an entry beyond the path): about 32 MB, reached only on trees of over
# ~150,000 directories.
_KNOWN_TOTALS_BYTES = 32 * 1024 * 1024
_KNOWN_TOTAL_ENTRY_BYTES = 120


class _KnownTotals:
    """``--du``: contents sizes of directories already summed, until the listing shows
    them; in a fixed amount of memory (what does not fit is summed again later)."""

    __slots__ = ("_totals", "size")

    def __init__(self) -> None:
        self._totals: dict[bytes, int] = {}
        # The memory held, as counted against _KNOWN_TOTALS_BYTES.
        self.size = 0

    def remember(self, path: bytes, total: int) -> None:
        cost = len(path) + _KNOWN_TOTAL_ENTRY_BYTES
        if path in self._totals:  # summed again: it did not fit before, or a repeat
            self._totals[path] = total
        elif self.size + cost <= _KNOWN_TOTALS_BYTES:
            self._totals[path] = total
            self.size += cost

    def take(self, path: bytes) -> int | None:
        """``path``'s total, which is forgotten (each is shown once), or None."""
        total = self._totals.pop(path, None)
        if total is not None:
            self.size -= len(path) + _KNOWN_TOTAL_ENTRY_BYTES
        return total


class _SumLevel:
    """One directory being summed by :func:`_contents_size`."""

    __slots__ = ("depth", "identity", "ignore", "path", "remaining", "total")

    def __init__(
        self,
        path: bytes,
        depth: int,
        remaining: Iterator[TypedEntry[bytes]],
        identity: _Identity | None,
        ignore: IgnoreChain | None,
    ) -> None:
        self.path = path
        self.depth = depth
        self.remaining = remaining
        self.identity = identity
        self.ignore = ignore
        self.total = 0


def _identity(result: os.stat_result | None) -> tuple[int, int] | None:
    return (result.st_dev, result.st_ino) if result is not None else None


def _stat_for_entering(path: bytes, follow: bool, root_device: int | None) -> os.stat_result | None:
    """The one ``stat`` (links followed) of a directory about to be entered, when ``-l``
    (its identity) or ``-x`` (its device) needs it; None otherwise or if unreadable."""
    return _stat_or_none(path) if follow or root_device is not None else None


def _on_other_device(status: os.stat_result | None, root_device: int | None) -> bool:
    """``-x``: the directory is on another device than its root (unknown: it is not)."""
    return root_device is not None and status is not None and status.st_dev != root_device


def _stat_or_none(path: bytes) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


# What tree shows, in text and in JSON, as the target of a link it cannot read (a
# process's cwd or exe link in /proc, to another user).
READLINK_FAILED = b"[Error reading symbolic link information]"


def _readlink(path: bytes) -> bytes:
    try:
        return os.readlink(path)
    except OSError:
        return READLINK_FAILED
