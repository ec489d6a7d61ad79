"""``rwalk``: list a directory tree as GNU ``tree`` does, streamed.

This module parses the options, chooses where listings come from and how they are
written, and turns failures into exit statuses.  The listing itself is
:func:`rwalk._tree.tree_events`; the text and JSON are :mod:`rwalk._output` and
:mod:`rwalk._render`, which know nothing of typer.

Exit status: 0 when everything was listed; 2 when a path does not exist or something
could not be read (the entry is still shown, and a message goes to stderr), when the
listing could not be written (a full disk, a closed stdout), or on a usage error; 130
on Ctrl-C; 141 when the reader of the output goes away (as a process killed by
SIGPIPE, but quietly and with no traceback).
"""

# No ``from __future__ import annotations`` here: typer would then evaluate the
# command's string annotations with get_type_hints on every run, twice (3 ms of the
# startup budget; docs/design.md, "Startup").
import contextlib
import enum
import locale
import os
import select
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Annotated, BinaryIO, Optional

import typer

import rwalk

from ._output import BatchedWriter, TextStyle, write_json, write_text
from ._render import ASCII_GUIDES, UNICODE_GUIDES, ColourScheme, escape_name
from ._tree import (
    Lister,
    ListingOptions,
    ScanLister,
    Tally,
    WalkEntriesLister,
    WalkEntryTuple,
    ctrl_c_is_pythons,
    drive_async_iterator,
    tree_events,
    walk_options,
)

__all__ = ("app", "main")

EXIT_TROUBLE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
# Output to a pipe or a file leaves in blocks of this size (a Linux pipe holds 64 KiB).
OUTPUT_BLOCK_SIZE = 64 * 1024

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    # -h is tree's human-readable sizes, so help is --help only.
    context_settings={"help_option_names": ["--help"]},
)


class SortOrder(str, enum.Enum):
    """``--sort`` keys."""

    name = "name"
    size = "size"
    mtime = "mtime"
    none = "none"


_CHARSETS = {"ascii": False, "us-ascii": False, "utf-8": True, "utf8": True}


# What PEP 538 sets LC_CTYPE to, the first that the C library accepts.
_COERCED_CTYPES = frozenset({"C.UTF-8", "C.utf8", "UTF-8"})


def locale_is_utf8() -> bool:
    """Whether the locale's character set is UTF-8 (tree's multibyte mode).

    Python forces its own streams to UTF-8 in the ``C`` locale (PEP 540), so the
    stream's encoding does not say what tree would see; the locale's codeset does.
    But started in the ``C`` or ``POSIX`` locale with no ``LC_ALL`` (``env -i``, a bare
    container, ``LANG=C``), Python also switches ``LC_CTYPE`` to ``C.UTF-8`` (PEP 538)
    before any of rwalk runs, where tree stays in ``C``: that start is known by the
    UTF-8 mode it turns on (PEP 540) without ``PYTHONUTF8`` or ``-X utf8`` asking,
    with ``LC_CTYPE`` set to the coercion's target and no ``LC_ALL``.  (Up to Python
    3.14: from 3.15 the UTF-8 mode is on in every locale, PEP 686.)
    """
    if (
        sys.version_info < (3, 15)
        and sys.flags.utf8_mode
        and "utf8" not in sys._xoptions
        and not os.environ.get("PYTHONUTF8")
        and not os.environ.get("LC_ALL")
        and os.environ.get("LC_CTYPE") in _COERCED_CTYPES
    ):
        return False
    codeset = locale.nl_langinfo(locale.CODESET)
    return codeset.replace("-", "").lower() == "utf8"


def colour_wanted(force_on: bool, force_off: bool, stream_is_tty: bool) -> bool:
    """``-n`` wins, then ``-C``; otherwise colour only on a terminal without ``NO_COLOR``."""
    if force_off:
        return False
    if force_on:
        return True
    return stream_is_tty and not os.environ.get("NO_COLOR")


def root_argument(path: str) -> bytes:
    """A PATH argument as bytes, without trailing slashes: the path the listing reads,
    and the root's name with ``-f`` (as tree shows it; without ``-f`` tree shows the
    argument as given, ``src/`` for ``src/``)."""
    root = os.fsencode(path)
    stripped = root.rstrip(b"/")
    return stripped or root[:1]


EntryWalker = Callable[
    [bytes, Callable[[OSError], object], ListingOptions], Iterator[WalkEntryTuple]
]
"""Starts a top-down entry walk of a root with an ``onerror`` and the listing's options."""


def walk_entries_lister_factory(
    walker: EntryWalker, options: ListingOptions
) -> Callable[[bytes], Lister]:
    """Listers that read a fresh top-down walk of each root (``--async``)."""

    def lister_for(root: bytes) -> Lister:
        lister = WalkEntriesLister(options)
        lister.attach(walker(root, lister.record_error, options))
        return lister

    return lister_for


def _awalk_entries(
    root: bytes, onerror: Callable[[OSError], object], options: ListingOptions
) -> Iterator[WalkEntryTuple]:
    """``rwalk.awalk_entries`` with the listing's depth, loop and device options."""
    return drive_async_iterator(
        rwalk.awalk_entries(root, True, onerror, options.follow_links, **walk_options(options))
    )


@app.command()
def list_tree(
    paths: Annotated[
        Optional[list[str]],  # noqa: UP045 (typer reads this annotation at run time on 3.10)
        typer.Argument(
            help="Directories to list (default: the current directory).", show_default=False
        ),
    ] = None,
    *,
    all_entries: Annotated[bool, typer.Option("-a", help="Include hidden (dot) entries.")] = False,
    directories_only: Annotated[bool, typer.Option("-d", help="List directories only.")] = False,
    level: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("-L", min=1, metavar="N", help="Descend at most N levels."),
    ] = None,
    full_path: Annotated[bool, typer.Option("-f", help="Show each entry's full path.")] = False,
    include: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "-P", metavar="PATTERN", help="List only files matching PATTERN (a|b: either)."
        ),
    ] = None,
    exclude: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("-I", metavar="PATTERN", help="Leave out entries matching PATTERN."),
    ] = None,
    gitignore: Annotated[
        bool,
        typer.Option("--gitignore", help="Leave out what .gitignore files ignore, as git does."),
    ] = False,
    follow_links: Annotated[
        bool, typer.Option("-l", help="Follow links to directories (not back to an ancestor).")
    ] = False,
    one_filesystem: Annotated[
        bool,
        typer.Option(
            "-x", "--one-file-system", help="Stay on each root's file system (as find -xdev)."
        ),
    ] = False,
    no_report: Annotated[bool, typer.Option("--noreport", help="Omit the closing report.")] = False,
    dirs_first: Annotated[
        bool, typer.Option("--dirsfirst", help="List directories before files.")
    ] = False,
    sort: Annotated[SortOrder, typer.Option("--sort", help="Order of entries.")] = SortOrder.name,
    sizes: Annotated[bool, typer.Option("-s", help="Show sizes in bytes.")] = False,
    human: Annotated[bool, typer.Option("-h", help="Show sizes as 4.0K, 1.5M, ...")] = False,
    disk_usage: Annotated[
        bool,
        typer.Option("--du", help="Show each directory's size as the total of its contents."),
    ] = False,
    json_output: Annotated[
        bool, typer.Option("-J", help="Write JSON, in tree -J's shape.")
    ] = False,
    charset: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--charset", metavar="ascii|utf-8", help="Guides to draw with."),
    ] = None,
    colour_on: Annotated[bool, typer.Option("-C", help="Colour always.")] = False,
    colour_off: Annotated[bool, typer.Option("-n", help="Colour never.")] = False,
    use_async: Annotated[
        bool, typer.Option("--async", help="List through rwalk.awalk (same output).")
    ] = False,
    bottom_up: Annotated[
        bool, typer.Option("--bottom-up", help="Post-order: each directory after its contents.")
    ] = False,
) -> None:
    """List directories as a tree, like GNU tree, streamed and safe for any file name."""
    utf8 = locale_is_utf8()
    if charset is not None:
        wanted = _CHARSETS.get(charset.lower())
        if wanted is None:
            raise typer.BadParameter(
                f"unknown charset {charset!r}; use ascii or utf-8", param_hint="--charset"
            )
        box_guides = wanted
    else:
        box_guides = utf8
    if bottom_up and json_output:
        raise typer.BadParameter("--bottom-up draws a tree; it has no JSON form", param_hint="-J")
    include_matcher = exclude_matcher = None
    if include or exclude:
        from ._patterns import compile_patterns

        try:
            include_matcher = compile_patterns(include) if include else None
            exclude_matcher = compile_patterns(exclude) if exclude else None
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="-P/-I") from None

    if sys.stdout is None:
        # Started with stdout closed (rwalk >&-): nowhere to list to.
        _complain([b"rwalk: standard output is closed"])
        raise typer.Exit(EXIT_TROUBLE)
    stdout = sys.stdout.buffer
    on_terminal = stdout.isatty()
    colours = None
    if not json_output and colour_wanted(colour_on, colour_off, on_terminal):
        colours = ColourScheme.from_ls_colors(os.environ.get("LS_COLORS"))
    show_sizes = "human" if human else "bytes" if sizes or disk_usage else None
    options = ListingOptions(
        show_hidden=all_entries,
        directories_only=directories_only,
        max_depth=level,
        include=include_matcher,
        exclude=exclude_matcher,
        follow_links=follow_links,
        dirs_first=dirs_first,
        sort=sort.value,
        want_stat=bool(show_sizes or colours or json_output),
        disk_usage=disk_usage,
        gitignore=gitignore,
        one_filesystem=one_filesystem,
    )
    roots = [root_argument(path) for path in paths or ["."]]
    if use_async:
        lister_for = walk_entries_lister_factory(_awalk_entries, options)
    else:
        scan_lister = ScanLister()

        def lister_for(root: bytes) -> Lister:
            return scan_lister

    tally = Tally()
    # The root's line shows the argument as given (src/ for src/), as tree does; -f
    # shows the path the listing reads.
    root_names = [os.fsencode(path) for path in paths or ["."]]
    events = tree_events(roots, lister_for, options, tally, root_names)
    # On a terminal every piece (a run of lines) shows at once; elsewhere in blocks.
    output = BatchedWriter(
        _write_and_flush(stdout) if on_terminal else _write_all(stdout),
        1 if on_terminal else OUTPUT_BLOCK_SIZE,
    )
    try:
        if json_output:
            write_json(
                events,
                show_sizes is not None,
                not no_report,
                tally,
                output.write,
                disk_usage=disk_usage,
                full_path=full_path,
                directories_only=directories_only,
            )
        else:
            style = TextStyle(
                guides=UNICODE_GUIDES if box_guides else ASCII_GUIDES,
                utf8=utf8,
                full_path=full_path,
                sizes=show_sizes,
                colours=colours,
                report=not no_report,
                directories_only=directories_only,
                post_order=bottom_up,
                disk_usage=disk_usage,
            )
            write_text(events, style, tally, output.write)
        output.flush()
        _flush(stdout)
    except BrokenPipeError:
        _silence_stdout()
        raise typer.Exit(EXIT_BROKEN_PIPE) from None
    except KeyboardInterrupt:
        if colours is not None:
            # The interrupted write may have stopped inside a coloured name: leave the
            # terminal in its default colours (tree, killed by the signal, does not).
            _end_colour(stdout)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except _OutputError as failure:
        # The listing could not be written (a full disk, an I/O error): say so once, and
        # leave nothing buffered for the interpreter's final flush to fail on again.
        _silence_stdout()
        _complain([b"rwalk: write error: " + _reason(failure.error)])
        raise typer.Exit(EXIT_TROUBLE) from None
    finally:
        # Ends any walk still open (--async: its event loop and scans) now, not at exit.
        events.close()
    if tally.errors:
        _complain(
            [
                b"rwalk: " + escape_name(path, utf8) + b": " + _reason(listing_error)
                for path, listing_error in tally.errors
            ]
        )
        raise typer.Exit(EXIT_TROUBLE)


def _reason(error: OSError) -> bytes:
    """What went wrong, without the path (the caller writes it, escaped)."""
    reason = error.strerror or str(error)
    return reason.encode("utf-8", "backslashreplace")


def _complain(lines: list[bytes]) -> None:
    """Write ``lines`` to stderr, each ended by a newline, as far as stderr lets us.

    Paths in them are already escaped as in the listing: a file name may hold escape
    sequences or newlines, and stderr is usually the same terminal.  A stderr that is
    closed, full or gone (a broken pipe) loses the lines and nothing else: the exit
    status still tells.
    """
    stream = sys.stderr
    if stream is None:
        return
    try:
        stream.flush()
        binary: BinaryIO | None = getattr(stream, "buffer", None)
        for line in lines:
            if binary is not None:
                binary.write(line + b"\n")
            else:
                stream.write(line.decode("utf-8", "backslashreplace") + "\n")
        if binary is not None:
            binary.flush()
    except (OSError, ValueError):
        # ValueError: stderr was closed from Python.
        pass


class _OutputError(Exception):
    """Writing the listing to stdout failed with ``error`` (not a broken pipe)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error)
        self.error = error


def _flush(stream: BinaryIO) -> None:
    while True:
        try:
            stream.flush()
        except BrokenPipeError:
            raise
        except BlockingIOError:
            _wait_until_writable(stream)  # a non-blocking stdout, full: wait, not spin
        except OSError as error:
            raise _OutputError(error) from error
        else:
            return


def _wait_until_writable(stream: BinaryIO) -> None:
    """Block until ``stream``'s file can take more: a stdout that the caller made
    non-blocking (``O_NONBLOCK`` on a shared pipe or terminal), with a slow reader,
    made every write fail at once, and the listing spun on the CPU (found in session
    9's audit: 1.76 s of CPU in 2 s behind a reader that slept)."""
    try:
        descriptor = stream.fileno()
    except (OSError, ValueError):
        return  # no file to wait on: try again
    select.select([], [descriptor], [])


def _write_all(stream: BinaryIO) -> Callable[[bytes], object]:
    """``stream.write`` that writes everything, also where ``stream`` is unbuffered.

    With ``python -u`` or ``PYTHONUNBUFFERED``, ``sys.stdout.buffer`` is a raw file,
    whose ``write`` may write only part of a block to a pipe (when a signal interrupts
    it) and says so only in its return value.
    """

    def write(data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                try:
                    written = stream.write(view)
                except BlockingIOError as blocked:  # buffered, non-blocking, full
                    written = blocked.characters_written
                if not written:
                    # None or 0: a non-blocking stream took nothing this time.
                    _wait_until_writable(stream)
                view = view[written or 0 :]
        except BrokenPipeError:
            raise
        except OSError as error:
            raise _OutputError(error) from error

    return write


def _write_and_flush(stream: BinaryIO) -> Callable[[bytes], object]:
    write_all = _write_all(stream)

    def write(data: bytes) -> None:
        write_all(data)
        _flush(stream)

    return write


def _end_colour(stream: BinaryIO) -> None:
    """Write the reset of ``ls``'s colours (SGR 0), if ``stream`` still takes output."""
    with contextlib.suppress(OSError, ValueError):
        stream.write(b"\x1b[0m")
        stream.flush()


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail.

    This is the recipe of the Python documentation (``signal`` module, "Note on
    SIGPIPE"): the reader is gone, so whatever is still buffered has nowhere to go.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main() -> None:
    """Run the app; Ctrl-C anywhere exits 130 without a traceback.

    Once the command has finished, a Ctrl-C during the interpreter's exit (rwalk's
    threads are given a moment to close their directories) ends the process at once,
    as the signal's default does, instead of printing a traceback from an exit handler.
    """
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    finally:
        # Only over Python's own handler: a process started with Ctrl-C ignored keeps
        # ignoring it.
        if ctrl_c_is_pythons():
            signal.signal(signal.SIGINT, signal.SIG_DFL)
