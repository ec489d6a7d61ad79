"""Formatters: events of :func:`rwalk._tree.tree_events` in, tree lines or JSON out.

Each formatter calls ``write`` with finished pieces of output as soon as they are known,
so output streams: nothing waits for the walk to end except the closing report.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from ._render import (
    ColourScheme,
    Guides,
    escape_name,
    format_size,
    json_string,
    report_line,
)
from ._tree import Event, Node, PlainRun, Tally

__all__ = ("BatchedWriter", "TextStyle", "write_json", "write_text")

Write = Callable[[bytes], object]


class BatchedWriter:
    """Gathers the formatters' pieces and passes them on in blocks of ``block_size`` bytes.

    The formatters write one piece per run of entries, tens of thousands on a big tree.
    Passed straight to ``sys.stdout.buffer``, each is a system call whenever Python's
    own buffering is off (``python -u``, ``PYTHONUNBUFFERED``): to a pipe that was
    22,224 writes and 30 % of the time on the 100k-entry benchmark tree
    (``docs/design.md``).  Output still streams: a block leaves as soon as it is full,
    and :meth:`flush` sends the rest.
    """

    __slots__ = ("_block_size", "_pieces", "_size", "_write")

    def __init__(self, write: Write, block_size: int) -> None:
        self._write = write
        self._block_size = block_size
        self._pieces: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        """Add ``data``; pass everything gathered on once a block is full."""
        self._pieces.append(data)
        self._size += len(data)
        if self._size >= self._block_size:
            self.flush()

    def flush(self) -> None:
        """Pass on whatever was gathered (nothing happens if nothing was)."""
        if self._pieces:
            data = b"".join(self._pieces)
            self._pieces.clear()
            self._size = 0
            self._write(data)


@dataclass(frozen=True)
class TextStyle:
    """How each line looks (the options of ``tree`` that do not change the tree)."""

    guides: Guides
    utf8: bool
    """The locale's character set is UTF-8: escape as tree does there."""
    full_path: bool = False
    """``-f``: each entry shows its path from the root."""
    sizes: str | None = None
    """``"bytes"`` (``-s``), ``"human"`` (``-h``) or ``None``."""
    colours: ColourScheme | None = None
    report: bool = True
    """``--noreport`` turns this off."""
    directories_only: bool = False
    """The report counts directories only (``-d``)."""
    post_order: bool = False
    """``--bottom-up``: each directory's line after its contents."""
    disk_usage: bool = False
    """``--du``: sizes are totals, and the report says how much is used."""


_SPECIAL_FILE_KINDS = (
    (stat.S_ISFIFO, "pi"),
    (stat.S_ISSOCK, "so"),
    (stat.S_ISBLK, "bd"),
    (stat.S_ISCHR, "cd"),
)
_ANY_EXECUTE = stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH


def _colour_kind(node: Node) -> str:
    """The ``LS_COLORS`` key for ``node``."""
    if node.is_symlink:
        return "ln" if os.path.exists(node.path) else "or"
    if node.is_dir:
        return "di"
    mode = node.stat.st_mode if node.stat is not None else stat.S_IFREG
    for test, kind in _SPECIAL_FILE_KINDS:
        if test(mode):
            return kind
    return "ex" if mode & _ANY_EXECUTE else "fi"


def _target_kind(node: Node) -> str:
    try:
        mode = os.stat(node.path).st_mode
    except OSError:
        return "mi"
    if stat.S_ISDIR(mode):
        return "di"
    return "ex" if mode & _ANY_EXECUTE else "fi"


def _label(node: Node, style: TextStyle) -> bytes:
    """Everything on a node's line after the guides."""
    shown = node.path if style.full_path else node.name
    text = escape_name(shown, style.utf8)
    colours = style.colours
    if colours is not None:
        kind = "di" if node.depth == 0 and node.is_dir else _colour_kind(node)
        text = colours.paint(text, kind, node.name)
    if node.target is not None:
        target = escape_name(node.target, style.utf8)
        if colours is not None:
            target = colours.paint(target, _target_kind(node), node.target)
        text += b" -> " + target
    if style.sizes is not None:
        size = _shown_size(node)
        if size is not None:
            text = format_size(size, style.sizes == "human") + b"  " + text
    return text + node.note


def _shown_size(node: Node) -> int | None:
    """The size on a node's line: its ``--du`` total, else its own size, if known."""
    if node.total_size is not None:
        return node.total_size
    return node.stat.st_size if node.stat is not None else None


def write_text(events: Iterable[Event], style: TextStyle, tally: Tally, write: Write) -> None:
    """Write the listing as tree draws it, then (unless disabled) the report."""
    guides = style.guides
    branch, last = guides.branch, guides.last
    # The prefix of the entries of each open directory, innermost last.
    prefixes: list[bytes] = []
    # --bottom-up: the lines of open directories, written when they close.
    held_lines: list[bytes] = []
    post_order = style.post_order
    plain = not (style.full_path or style.sizes or style.colours)
    utf8 = style.utf8
    full_path = style.full_path
    for node in events:
        if node is None:
            prefixes.pop()
            if post_order:
                write(held_lines.pop())
            continue
        if isinstance(node, PlainRun):
            write(_plain_run_lines(node, prefixes[-1], guides, utf8, full_path))
            continue
        if plain and node.target is None:
            label = escape_name(node.name, utf8) + node.note
        else:
            label = _label(node, style)
        if node.depth == 0:
            line = label + b"\n"
            prefix = b""
        else:
            prefix = prefixes[-1]
            line = prefix + (last if node.is_last else branch) + label + b"\n"
        if node.has_children:
            if node.depth:
                prefixes.append(prefix + (guides.space if node.is_last else guides.vertical))
            else:
                prefixes.append(b"")
            if post_order:
                held_lines.append(line)
                continue
        write(line)
    if style.report:
        counts = report_line(tally.directories, tally.files, style.directories_only)
        if style.disk_usage:
            # tree's report: its size column's text without the brackets, after a space.
            human = style.sizes == "human"
            used = format_size(tally.total_size, human)[1:-1]
            counts = b" " + used + (b"" if human else b" bytes") + b" used in " + counts
        write(b"\n" + counts + b"\n")


def _plain_run_lines(
    run: PlainRun, prefix: bytes, guides: Guides, utf8: bool, full_path: bool
) -> bytes:
    """The lines of a :class:`PlainRun`, built in one piece."""
    names = [entry[0] for entry in run.entries]
    if full_path:
        dirprefix = run.dirpath if run.dirpath.endswith(b"/") else run.dirpath + b"/"
        names = [dirprefix + name for name in names]
    # One escaping check for the whole run: almost every run needs none.
    if escape_name(b"/".join(names), utf8) != b"/".join(names):
        names = [escape_name(name, utf8) for name in names]
    lead = prefix + guides.branch
    if not run.ends_directory:
        return lead + (b"\n" + lead).join(names) + b"\n"
    final = prefix + guides.last + names.pop() + b"\n"
    if not names:
        return final
    return lead + (b"\n" + lead).join(names) + b"\n" + final


_JSON_TYPES = (
    (stat.S_ISFIFO, b"fifo"),
    (stat.S_ISSOCK, b"socket"),
    (stat.S_ISCHR, b"char"),
    (stat.S_ISBLK, b"block"),
)


def _json_type(node: Node) -> bytes:
    if node.is_symlink:
        return b"link"
    if node.is_dir:
        return b"directory"
    if node.stat is not None:
        for test, name in _JSON_TYPES:
            if test(node.stat.st_mode):
                return name
    return b"file"


def _json_object(node: Node, sizes: bool, full_path: bool = False) -> bytes:
    """A node's JSON object, left open before its ``contents`` or closing brace.

    With ``full_path`` (``-f``) the name is the path from the root, as ``tree -J -f``.
    """
    name = node.path if full_path else node.name
    text = b'{"type":"' + _json_type(node) + b'","name":' + json_string(name)
    if node.target is not None:
        text += b',"target":' + json_string(node.target)
    if sizes:
        size = _shown_size(node)
        if size is not None:
            text += b',"size":%d' % size
    return text


def _expand_runs(events: Iterable[Event]) -> Iterator[Node | None]:
    """The events with each :class:`PlainRun` replaced by one :class:`Node` per entry."""
    for event in events:
        if not isinstance(event, PlainRun):
            yield event
            continue
        dirprefix = event.dirpath if event.dirpath.endswith(b"/") else event.dirpath + b"/"
        last_index = len(event.entries) - 1
        for index, (name, is_dir, is_symlink) in enumerate(event.entries):
            is_last = event.ends_directory and index == last_index
            yield Node(
                name, dirprefix + name, event.depth, is_last, is_dir, is_symlink, None,
                None, b"", False,
            )  # fmt: skip


def write_json(
    events: Iterable[Event],
    sizes: bool,
    report: bool,
    tally: Tally,
    write: Write,
    *,
    disk_usage: bool = False,
    full_path: bool = False,
    directories_only: bool = False,
) -> None:
    """Write the listing in ``tree -J``'s shape, valid JSON for any name.

    With ``directories_only`` (``-d``) the report has no ``"files"``, as tree's.

    One line per entry, as tree writes it; an entry that could not be opened or is a
    recursive link gets ``"contents":[{"error":"..."}]`` (tree 2.1.0 means this shape
    but prints it with misplaced commas).
    """
    write(b"[")
    # For each open directory: whether it is the last of its own directory.
    open_is_last: list[bool] = []
    for node in _expand_runs(events):
        if node is None:
            indent = b"  " * len(open_is_last)
            is_last = open_is_last.pop()
            write(b"\n" + indent + (b"]}" if is_last else b"]},"))
            continue
        indent = b"  " * (node.depth + 1)
        text = _json_object(node, sizes, full_path)
        if node.note:
            message = node.note.strip().strip(b"[]")
            text += b',"contents":[{"error":' + json_string(message) + b"}]}"
        elif node.has_children:
            write(b"\n" + indent + text + b',"contents":[')
            open_is_last.append(node.is_last)
            continue
        else:
            text += b"}"
        write(b"\n" + indent + text + (b"" if node.is_last else b","))
    if report:
        used = b'"size":%d,' % tally.total_size if disk_usage else b""
        files = b"" if directories_only else b',"files":%d' % tally.files
        write(
            b'\n,\n  {"type":"report",%s"directories":%d%s}\n]\n' % (used, tally.directories, files)
        )
    else:
        write(b"\n\n]\n")
