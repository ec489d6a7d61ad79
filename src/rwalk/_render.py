"""Pure rendering for the ``rwalk`` command: names, guides, sizes, reports, colours, JSON.

Everything here is a function of its arguments: no file system, no terminal, no typer.
Text comes in and goes out as ``bytes``, because file names are bytes on POSIX and the
command writes them to ``sys.stdout.buffer`` unchanged when they are safe to show.

Escaping follows GNU tree 2.x's ``printit()``, checked by experiment against tree 2.1.0
(``docs/design-cli.md``):

* In a UTF-8 locale, a name that decodes as UTF-8 is printed character by character;
  a character glibc's ``iswprint`` rejects is printed as ``\\`` and its code point in
  (at least three) octal digits: ESC is ``\\033``, newline ``\\012``, DEL ``\\177``,
  U+0085 ``\\205``, U+2028 ``\\20050``.  glibc's ``iswprint`` in ``C.UTF-8`` is
  Python's ``str.isprintable`` plus the categories Cf, Co and Zs.
* A name that is not valid UTF-8, and every name in a single-byte locale (``C``,
  ``POSIX``), is printed byte by byte: bytes 7 to 13 as ``\\a \\b \\t \\n \\v \\f \\r``,
  backslash as ``\\\\``, space as ``\\ ``, printable ASCII as itself, any other byte as
  three octal digits (``\\351``).

One deliberate difference: tree prints the Unicode bidirectional controls (U+202A-202E,
U+2066-2069, U+200E, U+200F, U+061C) raw, because glibc calls them printable; they
reorder the text shown around them, so a name could make a listing read differently
from what it is ("Trojan Source", CVE-2021-42574).  ``rwalk`` escapes them.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = (
    "ASCII_GUIDES",
    "ERROR_OPENING_DIR",
    "RECURSIVE_NOT_FOLLOWED",
    "UNICODE_GUIDES",
    "ColourScheme",
    "Guides",
    "escape_name",
    "format_size",
    "json_string",
    "report_line",
)


class Guides(NamedTuple):
    """The four pieces a tree line's prefix is made of (as in ``rich.tree``)."""

    space: bytes
    """Continues the prefix below an entry that was the last of its directory."""
    vertical: bytes
    """Continues the prefix below an entry that has siblings after it."""
    branch: bytes
    """Leads an entry that has siblings after it."""
    last: bytes
    """Leads the last entry of a directory."""


# tree 2.x draws the vertical guide with two no-break spaces after the bar (checked
# byte by byte against tree 2.1.0); the other guides use plain spaces.
UNICODE_GUIDES = Guides(
    *(guide.encode() for guide in ("    ", "\u2502\u00a0\u00a0 ", "├── ", "└── "))
)
ASCII_GUIDES = Guides(b"    ", b"|   ", b"|-- ", b"`-- ")

ERROR_OPENING_DIR = b"  [error opening dir]"
RECURSIVE_NOT_FOLLOWED = b"  [recursive, not followed]"

# Names made only of these bytes print as they are, in either mode.  In a UTF-8 locale
# that is all printable ASCII; in a single-byte locale tree also escapes space and
# backslash, so those two send a name to the slow path there.
_NOT_PLAIN_UTF8_MODE = re.compile(rb"[^\x20-\x7e]")
_NOT_PLAIN_BYTE_MODE = re.compile(rb"[^\x21-\x5b\x5d-\x7e]")

_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Categories glibc's iswprint accepts but str.isprintable rejects (see module docstring).
_GLIBC_PRINTABLE_CATEGORIES = frozenset({"Cf", "Co", "Zs"})


def _byte_escape_table() -> tuple[bytes, ...]:
    table = []
    for byte in range(256):
        if 7 <= byte <= 13:
            table.append(b"\\" + b"abtnvfr"[byte - 7 : byte - 6])
        elif byte in (0x5C, 0x20):  # backslash and space
            table.append(b"\\" + bytes([byte]))
        elif 0x20 < byte < 0x7F:
            table.append(bytes([byte]))
        else:
            table.append(b"\\%03o" % byte)
    return tuple(table)


_BYTE_ESCAPES = _byte_escape_table()


def escape_name(name: bytes, utf8: bool) -> bytes:
    """``name`` as tree prints it: safe to write to a terminal in any locale.

    :param name: a file name or path, as bytes.
    :param utf8: the locale's character set is UTF-8 (otherwise single-byte, as ``C``).
    :returns: bytes that contain no control character, no escape sequence, no newline,
        no bidirectional control and nothing that is not UTF-8.
    """
    if utf8:
        if _NOT_PLAIN_UTF8_MODE.search(name) is None:
            return name
        try:
            text = name.decode("utf-8")
        except UnicodeDecodeError:
            return _escape_bytes(name)
        return _escape_text(text)
    if _NOT_PLAIN_BYTE_MODE.search(name) is None:
        return name
    return _escape_bytes(name)


def _escape_bytes(name: bytes) -> bytes:
    escapes = _BYTE_ESCAPES
    return b"".join([escapes[byte] for byte in name])


def _escape_text(text: str) -> bytes:
    # unicodedata is loaded only for names with a character str.isprintable rejects.
    import unicodedata

    pieces = []
    for char in text:
        if char.isprintable() or (
            char not in _BIDI_CONTROLS and unicodedata.category(char) in _GLIBC_PRINTABLE_CATEGORIES
        ):
            pieces.append(char)
        else:
            pieces.append(f"\\{ord(char):03o}")
    return "".join(pieces).encode("utf-8")


def report_line(directories: int, files: int, directories_only: bool) -> bytes:
    """Tree's closing report: ``3 directories, 1 file`` (``-d``: ``3 directories``)."""
    text = f"{directories} director{'y' if directories == 1 else 'ies'}"
    if not directories_only:
        text += f", {files} file{'' if files == 1 else 's'}"
    return text.encode("ascii")


_HUMAN_UNITS = "BKMGTPEZY"


def format_size(size: int, human: bool) -> bytes:
    """The size column of ``-s`` (``[       4096]``) or ``-h`` (``[4.0K]``), as tree.

    ``-h`` is tree's ``psize``: powers of 1024, one decimal below 10 of a unit and none
    from there, the number rounded to nearest (tree's man page notes it does not round
    up as ``ls`` does), so 10,189 bytes (9.95 K) print as ``10.0K``, wider than the
    column, exactly as tree 2.1.0 prints them.
    """
    if not human:
        return b"[%11d]" % size
    if size < 1024:
        return b"[%4d]" % size
    unit = 1
    # Whole-number division per step, as tree's loop over an integer off_t does.
    while size >= 1024 * 1024:
        unit += 1
        size //= 1024
    value = size / 1024
    number = f"{value:3.0f}" if value >= 10 else f"{value:3.1f}"
    return f"[{number}{_HUMAN_UNITS[unit]}]".encode("ascii")


_JSON_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
_JSON_PLAIN = re.compile(rb"[^\x20-\x21\x23-\x5b\x5d-\x7e]")


def json_string(name: bytes) -> bytes:
    """``name`` as a JSON string literal, valid for any name.

    Printable characters are kept (as UTF-8); quotes, backslashes and control
    characters get JSON escapes, and so does every character ``escape_name`` would
    escape (so a JSON listing printed on a terminal is as safe as the text one).  Bytes
    that are not UTF-8 become lone surrogate escapes ``\\udc80``-``\\udcff``, which
    Python's ``json.loads`` turns back into the ``str`` that ``os.fsencode`` maps to
    the original bytes: no name is lost or confused with another.
    """
    if _JSON_PLAIN.search(name) is None:
        return b'"' + name + b'"'
    import unicodedata

    pieces = ['"']
    for char in name.decode("utf-8", "surrogateescape"):
        short = _JSON_SHORT_ESCAPES.get(char)
        if short is not None:
            pieces.append(short)
        elif char.isprintable() or (
            char not in _BIDI_CONTROLS
            and not "\ud800" <= char <= "\udfff"
            and unicodedata.category(char) in _GLIBC_PRINTABLE_CATEGORIES
        ):
            pieces.append(char)
        elif ord(char) > 0xFFFF:
            # Outside the BMP: JSON spells it as a UTF-16 surrogate pair.
            offset = ord(char) - 0x10000
            pieces.append(f"\\u{0xD800 + (offset >> 10):04x}\\u{0xDC00 + (offset & 0x3FF):04x}")
        else:
            pieces.append(f"\\u{ord(char):04x}")
    pieces.append('"')
    return "".join(pieces).encode("utf-8")


# LS_COLORS keys rwalk uses, and the colours GNU tree 2.1.0 uses when LS_COLORS is unset
# (observed: directories 01;34, links 01;36, regular files 00).
_DEFAULT_COLOURS = {
    "fi": b"00",
    "di": b"01;34",
    "ln": b"01;36",
    "pi": b"40;33",
    "so": b"01;35",
    "bd": b"40;33;01",
    "cd": b"40;33;01",
    "or": b"40;31;01",
    "ex": b"01;32",
}
# Keys that LS_COLORS may set beyond the defaults; "mi" (the target of a broken link)
# falls back to "fi", which is what tree shows when it is unset.
_OPTIONAL_KINDS = frozenset({"mi"})
# Only digits and semicolons may reach the terminal from LS_COLORS: a value such as
# "01;34m\x1b]0;title" would otherwise let the environment inject escape sequences.
_SGR_PARAMETERS = re.compile(r"[0-9;]*")


class ColourScheme:
    """``LS_COLORS`` parsed once: which SGR colour to paint each kind of entry."""

    def __init__(self, by_kind: dict[str, bytes], by_suffix: dict[bytes, bytes]) -> None:
        self.by_kind = by_kind
        self.by_suffix = by_suffix

    @classmethod
    def from_ls_colors(cls, ls_colors: str | None) -> ColourScheme:
        """Parse an ``LS_COLORS`` value (``None``: tree's defaults).

        Entries that are malformed or carry anything but SGR parameters are ignored.
        """
        if ls_colors is None:
            return cls(dict(_DEFAULT_COLOURS), {})
        by_kind: dict[str, bytes] = {}
        by_suffix: dict[bytes, bytes] = {}
        for item in ls_colors.split(":"):
            key, sep, value = item.partition("=")
            if not sep or not _SGR_PARAMETERS.fullmatch(value):
                continue
            if key.startswith("*"):
                suffix = key[1:].encode("utf-8", "surrogateescape")
                if suffix:
                    by_suffix[suffix] = value.encode("ascii")
            elif key in _DEFAULT_COLOURS or key in _OPTIONAL_KINDS:
                by_kind[key] = value.encode("ascii")
        return cls(by_kind, by_suffix)

    def paint(self, text: bytes, kind: str, name: bytes) -> bytes:
        """``text`` wrapped in the colour for an entry of ``kind`` named ``name``.

        ``kind`` is an ``LS_COLORS`` key: ``di``, ``ln``, ``or``, ``mi``, ``pi``,
        ``so``, ``bd``, ``cd``, ``ex`` or ``fi``.  Suffix rules (``*.py``) apply to regular,
        non-executable files.
        """
        code = None
        if kind == "fi":
            for suffix, suffix_code in self.by_suffix.items():
                if name.endswith(suffix):
                    code = suffix_code
                    break
        if code is None:
            code = self.by_kind.get(kind)
        if code is None and kind == "mi":
            code = self.by_kind.get("fi")
        if code is None:
            return text
        return b"\x1b[" + code + b"m" + text + b"\x1b[0m"
