"""Hypothesis strategies for whole directory trees, and builders for disk and pyfakefs.

A tree is drawn as a :class:`TreeSpec`: plain data (paths as tuples of names) that can
be built on real disk with :func:`build_on_disk` or in a fresh pyfakefs file system
with :func:`build_in_fake_fs`.  Drawn trees contain nested directories, empty files,
FIFOs (disk only), and symbolic links of every kind a walk must classify::

    link to a directory           -> listed in dirnames, entered only with followlinks
    link to a file                -> a file
    broken link                   -> a file
    link through a file (f/x)     -> a file (the target fails with ENOTDIR)
    link to an ancestor or itself -> a cycle when links are followed

Names are drawn from an alphabet with spaces, newlines, tabs, escape characters,
non-ASCII letters, an emoji and (on disk) undecodable bytes, which ``str`` paths carry
as surrogate escapes exactly as ``os.listdir`` returns them.
"""

from __future__ import annotations

import contextlib
import enum
import os
import random
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

Path = tuple[str, ...]
"""A path relative to the tree's root, as a tuple of names (the root is ``()``)."""

TOP_KINDS = st.sampled_from(["str", "bytes", "pathlike"])
# pyfakefs's scandir cannot list a bytes path (its DirEntry.path joins bytes to a str
# separator and raises TypeError), so bytes tops are covered on real disk only.
FAKE_FS_TOP_KINDS = st.sampled_from(["str", "pathlike"])
SEEDS = st.integers(0, 2**32 - 1)
"""Seeds of the editing policy (:func:`pruner`)."""
FOLLOW_DEPTH = 3
"""Bound for top-down walks that follow links on cyclic trees (links to ancestors loop)."""


class LinkKind(enum.Enum):
    TO_DIRECTORY = "to a directory"
    TO_FILE = "to a file"
    BROKEN = "broken"
    THROUGH_FILE = "through a file"
    TO_ANCESTOR = "to an ancestor or itself"


@dataclass(frozen=True)
class Link:
    path: Path
    kind: LinkKind
    target: str  # relative to the link's own directory, '/'-separated


@dataclass(frozen=True)
class TreeSpec:
    """A directory tree as data; every parent is listed before its children."""

    directories: tuple[Path, ...] = ()
    files: tuple[Path, ...] = ()
    fifos: tuple[Path, ...] = ()
    links: tuple[Link, ...] = field(default=())
    # Directories without read permission: built in pyfakefs only, where the walk runs
    # as a normal user (on disk, the tests run as root, which reads everything).
    unreadable: tuple[Path, ...] = ()

    @property
    def links_to_directories(self) -> int:
        """How many links resolve to a directory (and so are entered with followlinks)."""
        return sum(
            link.kind in (LinkKind.TO_DIRECTORY, LinkKind.TO_ANCESTOR) for link in self.links
        )


_PRINTABLE = "abcxyzABC019_-. "
_AWKWARD = "\n\t\x1b\x7fé日🙂\u202e"
_UNDECODABLE = "\udcff\udc80"  # the bytes 0xff and 0x80, surrogate-escaped


def names(undecodable: bool = True) -> st.SearchStrategy[str]:
    """One file name: 1-6 characters, never '.', '..', or containing '/' or NUL."""
    alphabet = _PRINTABLE + _AWKWARD + (_UNDECODABLE if undecodable else "")
    return st.text(alphabet, min_size=1, max_size=6).filter(lambda name: name not in (".", ".."))


def _relative(from_directory: Path, to: Path) -> str:
    """The relative link target that reaches ``to`` from inside ``from_directory``."""
    common = 0
    while common < min(len(from_directory), len(to)) and from_directory[common] == to[common]:
        common += 1
    parts = [".."] * (len(from_directory) - common) + list(to[common:])
    return "/".join(parts) or "."


@st.composite
def trees(
    draw: st.DrawFn,
    *,
    max_directories: int = 7,
    max_files: int = 8,
    max_links: int = 4,
    max_links_to_directories: int | None = None,
    fifos: bool = True,
    undecodable: bool = True,
) -> TreeSpec:
    """Draw a whole tree.

    :param max_links_to_directories: cap on links that resolve to directories; 1 keeps a
        ``followlinks=True`` bottom-up walk finite (one cycle repeats until the kernel's
        40-link limit gives ``ELOOP``; two can branch exponentially).
    :param fifos: include FIFOs (pyfakefs cannot make them).
    :param undecodable: include names that are not valid UTF-8.
    """
    name_strategy = names(undecodable)
    taken: dict[Path, set[str]] = {(): set()}

    def fresh_name(parent: Path) -> str:
        name = draw(name_strategy.filter(lambda name: name not in taken[parent]))
        taken[parent].add(name)
        return name

    directories: list[Path] = []
    for _ in range(draw(st.integers(0, max_directories))):
        parent = draw(st.sampled_from([(), *directories]))
        path = (*parent, fresh_name(parent))
        taken[path] = set()
        directories.append(path)
    all_directories: list[Path] = [(), *directories]

    files: list[Path] = []
    for _ in range(draw(st.integers(0, max_files))):
        parent = draw(st.sampled_from(all_directories))
        files.append((*parent, fresh_name(parent)))

    fifo_paths: list[Path] = []
    if fifos:
        for _ in range(draw(st.integers(0, 2))):
            parent = draw(st.sampled_from(all_directories))
            fifo_paths.append((*parent, fresh_name(parent)))

    kinds = list(LinkKind)
    if not files:
        kinds.remove(LinkKind.TO_FILE)
        kinds.remove(LinkKind.THROUGH_FILE)
    links: list[Link] = []
    directory_links = 0
    for _ in range(draw(st.integers(0, max_links))):
        kind = draw(st.sampled_from(kinds))
        to_directory = kind in (LinkKind.TO_DIRECTORY, LinkKind.TO_ANCESTOR)
        if (
            to_directory
            and max_links_to_directories is not None
            and directory_links >= max_links_to_directories
        ):
            kind = LinkKind.BROKEN
            to_directory = False
        parent = draw(st.sampled_from(all_directories))
        if kind is LinkKind.TO_DIRECTORY:
            target = _relative(parent, draw(st.sampled_from(all_directories)))
        elif kind is LinkKind.TO_ANCESTOR:
            ancestor = parent[: draw(st.integers(0, len(parent)))]
            target = _relative(parent, ancestor)
        elif kind is LinkKind.TO_FILE:
            target = _relative(parent, draw(st.sampled_from(files)))
        elif kind is LinkKind.THROUGH_FILE:
            target = _relative(parent, draw(st.sampled_from(files))) + "/inside"
        else:
            target = "missing-" + draw(st.text("xyz", min_size=1, max_size=3))
        directory_links += to_directory
        links.append(Link((*parent, fresh_name(parent)), kind, target))

    unreadable = (
        draw(st.lists(st.sampled_from(directories), unique=True, max_size=2))
        if (directories)
        else []
    )
    return TreeSpec(
        tuple(directories), tuple(files), tuple(fifo_paths), tuple(links), tuple(unreadable)
    )


def _on(root: str, path: Path) -> str:
    return os.path.join(root, *path)


def build_on_disk(root: str, spec: TreeSpec) -> None:
    """Create ``spec`` under the existing, empty directory ``root``."""
    for directory in spec.directories:
        os.mkdir(_on(root, directory))
    for file in spec.files:
        with open(_on(root, file), "wb"):
            pass
    for fifo in spec.fifos:
        os.mkfifo(_on(root, fifo))
    for link in spec.links:
        os.symlink(link.target, _on(root, link.path))


@contextlib.contextmanager
def tree_on_disk(spec: TreeSpec) -> Iterator[str]:
    """``spec`` built in a fresh temporary directory; yields the tree's root path."""
    with tempfile.TemporaryDirectory() as temporary:
        root = os.path.join(temporary, "root")
        os.mkdir(root)
        build_on_disk(root, spec)
        yield root


@contextlib.contextmanager
def as_normal_user() -> Iterator[None]:
    """pyfakefs acting as uid 1000, so that unreadable directories fail to list."""
    from pyfakefs import helpers as pyfakefs_helpers

    user = pyfakefs_helpers.get_uid()
    pyfakefs_helpers.set_uid(1000)
    try:
        yield
    finally:
        pyfakefs_helpers.set_uid(user)


def build_in_fake_fs(filesystem: Any, root: str, spec: TreeSpec) -> None:
    """Create ``spec`` under ``root`` in a pyfakefs ``FakeFilesystem``."""
    filesystem.create_dir(root)
    for directory in spec.directories:
        filesystem.create_dir(_on(root, directory))
    for file in spec.files:
        filesystem.create_file(_on(root, file))
    for link in spec.links:
        filesystem.create_symlink(_on(root, link.path), link.target)
    for directory in spec.unreadable:
        # Search but no read permission.  (pyfakefs, unlike Linux, also stops
        # reporting a mode-000 directory as a directory in its parent's listing.)
        filesystem.chmod(_on(root, directory), 0o333)


# -- Running a walk the same way for every implementation ------------------------------

ErrorRecord = tuple[str, int | None, Any]
"""What a test compares of an error: its type name, errno and filename."""

WalkRecord = tuple[Any, list[Any], list[Any]]


@dataclass
class WalkResult:
    tuples: list[WalkRecord]
    errors: list[ErrorRecord]


def pruner(
    seed: int, probability: float = 0.3, *, add_names: bool = True
) -> Callable[[Any, list[Any], list[Any]], None]:
    """A deterministic editing policy: shuffles ``dirnames``, drops some, adds some.

    Added names are a file of the same directory (entering it fails with
    ``NotADirectoryError``), a name that does not exist (``FileNotFoundError``), so
    that ``onerror`` is exercised, or a name already there (walked twice).  The
    decisions depend only on ``seed`` and the directory's path, so two walkers that
    yield the same directories receive exactly the same edits.
    """

    def prune(dirpath: Any, dirnames: list[Any], filenames: list[Any]) -> None:
        rng = random.Random(f"{seed}:{os.fsencode(dirpath)!r}")
        rng.shuffle(dirnames)
        dirnames[:] = [name for name in dirnames if rng.random() >= probability]
        if not add_names:
            return
        if rng.random() < 2 * probability:
            missing = "missing" if isinstance(dirpath, str) else b"missing"
            dirnames.insert(rng.randrange(len(dirnames) + 1), missing)
        if filenames and rng.random() < 2 * probability:
            dirnames.insert(rng.randrange(len(dirnames) + 1), rng.choice(sorted(filenames)))
        if dirnames and rng.random() < probability / 2:
            # A name given twice: os.walk walks it twice.
            dirnames.insert(rng.randrange(len(dirnames) + 1), rng.choice(dirnames))

    return prune


def depth_below(top: Any, dirpath: Any) -> int:
    """How many levels ``dirpath`` is below ``top`` (names never contain a separator)."""
    rest = dirpath[len(top) :]
    separator = b"/" if isinstance(rest, bytes) else "/"
    return int(rest.count(separator))


def record_walk(
    walk_tuples: Iterable[WalkRecord],
    errors: list[ErrorRecord],
    *,
    top: Any,
    prune: Callable[[Any, list[Any], list[Any]], None] | None = None,
    max_depth: int | None = None,
) -> WalkResult:
    """Consume a walk, recording each tuple as yielded, then applying the edits.

    ``errors`` is the list that the walk's ``onerror`` appends to (see
    :func:`error_recorder`).  With ``max_depth``, directories at that depth have their
    ``dirnames`` cleared, which bounds a top-down walk on cyclic trees.
    """
    top = os.fspath(top)
    tuples: list[WalkRecord] = []
    for dirpath, dirnames, filenames in walk_tuples:
        tuples.append((dirpath, list(dirnames), list(filenames)))
        if prune is not None:
            prune(dirpath, dirnames, filenames)
        if max_depth is not None and depth_below(top, dirpath) >= max_depth:
            dirnames.clear()
    return WalkResult(tuples, errors)


@dataclass(frozen=True)
class Options:
    """How a property test runs a walk."""

    topdown: bool
    followlinks: bool
    seed: int | None  # of the editing policy; None: no edits
    max_depth: int | None = None  # clear dirnames at this depth (cyclic trees)


def run_walk(walk: Callable[..., Any], top: Any, options: Options) -> WalkResult:
    """Run ``walk`` (any function with ``os.walk``'s signature) as ``options`` say."""
    errors, onerror = error_recorder()
    return record_walk(
        walk(top, topdown=options.topdown, onerror=onerror, followlinks=options.followlinks),
        errors,
        top=top,
        prune=None if options.seed is None else pruner(options.seed),
        max_depth=options.max_depth,
    )


def error_recorder() -> tuple[list[ErrorRecord], Callable[[OSError], None]]:
    """A list and an ``onerror`` callback that appends each error's identity to it."""
    errors: list[ErrorRecord] = []

    def onerror(error: OSError) -> None:
        errors.append((type(error).__name__, error.errno, error.filename))

    return errors, onerror


def top_as(kind: str, top: str) -> Any:
    """``top`` as a ``str``, ``bytes`` or path-like object."""
    if kind == "bytes":
        return os.fsencode(top)
    if kind == "pathlike":
        import pathlib

        return pathlib.Path(top)
    return top


def iter_paths(spec: TreeSpec) -> Iterator[Path]:
    """Every path the spec creates, parents first."""
    yield from spec.directories
    yield from spec.files
    yield from spec.fifos
    for link in spec.links:
        yield link.path
