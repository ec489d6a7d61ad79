"""The pure pieces of the listing: escaping, guides, sizes, report, JSON strings, colours.

Expected values are GNU tree 2.1.0's output for the same names and sizes, observed by
hand (``LC_ALL=C.UTF-8 tree -a`` and ``LC_ALL=C tree -a`` on a directory holding each
name; ``docs/design-cli.md`` keeps the session), except where a test says it checks a
deliberate difference.
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rwalk._render import (
    ASCII_GUIDES,
    UNICODE_GUIDES,
    ColourScheme,
    escape_name,
    format_size,
    json_string,
    report_line,
)

# (name, as tree prints it under C.UTF-8, as tree prints it under C)
ESCAPES = [
    (b"plain.txt", b"plain.txt", b"plain.txt"),
    (b"\x01ctl", b"\\001ctl", b"\\001ctl"),
    (b"tab\there", b"tab\\011here", b"tab\\there"),
    (b"nl\nline", b"nl\\012line", b"nl\\nline"),
    (b"cr\rx", b"cr\\015x", b"cr\\rx"),
    (b"esc\x1b[31mred", b"esc\\033[31mred", b"esc\\033[31mred"),
    (b"del\x7fx", b"del\\177x", b"del\\177x"),
    (b"back\\slash", b"back\\slash", b"back\\\\slash"),
    (b"sp ace", b"sp ace", b"sp\\ ace"),
    (b'q"uote', b'q"uote', b'q"uote'),
    (b"latin\xe9", b"latin\\351", b"latin\\351"),
    (b"uni\xc3\xa9", b"uni\xc3\xa9", b"uni\\303\\251"),
    (b"cjk\xe4\xb8\xad", b"cjk\xe4\xb8\xad", b"cjk\\344\\270\\255"),
    (b"emoji\xf0\x9f\x98\x80", b"emoji\xf0\x9f\x98\x80", b"emoji\\360\\237\\230\\200"),
    (b"c1\xc2\x85x", b"c1\\205x", b"c1\\302\\205x"),
    (b"lsep\xe2\x80\xa8x", b"lsep\\20050x", b"lsep\\342\\200\\250x"),
    (b"zw\xe2\x80\x8bsp", b"zw\xe2\x80\x8bsp", b"zw\\342\\200\\213sp"),
    (b"bom\xef\xbb\xbfx", b"bom\xef\xbb\xbfx", b"bom\\357\\273\\277x"),
    # Not valid UTF-8, so tree's byte path even in a UTF-8 locale: space escaped too.
    (b"a b\xe9", b"a\\ b\\351", b"a\\ b\\351"),
]


@pytest.mark.parametrize(("name", "utf8_form", "c_form"), ESCAPES)
def test_escape_name_matches_tree_in_a_utf8_locale(
    name: bytes, utf8_form: bytes, c_form: bytes
) -> None:
    assert escape_name(name, utf8=True) == utf8_form


@pytest.mark.parametrize(("name", "utf8_form", "c_form"), ESCAPES)
def test_escape_name_matches_tree_in_the_c_locale(
    name: bytes, utf8_form: bytes, c_form: bytes
) -> None:
    assert escape_name(name, utf8=False) == c_form


@pytest.mark.parametrize(
    ("name", "escaped"),
    [
        # tree 2.1.0 prints these raw under C.UTF-8 (glibc calls them printable);
        # rwalk escapes every bidirectional control (a deliberate difference).
        (b"bidi\xe2\x80\xaeevil", b"bidi\\20056evil"),
        (b"\xe2\x81\xa6iso", b"\\20146iso"),
        (b"rlm\xe2\x80\x8f", b"rlm\\20017"),
        (b"alm\xd8\x9c", b"alm\\3034"),  # U+061C = 0o3034
    ],
)
def test_escape_name_escapes_bidi_controls_unlike_tree(name: bytes, escaped: bytes) -> None:
    assert escape_name(name, utf8=True) == escaped


_UNSAFE_CODE_POINTS = {*range(0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029}
_BIDI = {0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}


@given(st.binary(max_size=40), st.booleans())
def test_escaped_names_cannot_drive_a_terminal(name: bytes, utf8: bool) -> None:
    escaped = escape_name(name, utf8)
    text = escaped.decode("utf-8")  # always valid UTF-8
    assert not {ord(char) for char in text} & (_UNSAFE_CODE_POINTS | _BIDI)
    if not utf8:
        assert escaped.isascii()


@given(st.binary(max_size=40), st.booleans())
def test_printable_ascii_is_kept_and_control_bytes_never_are(name: bytes, utf8: bool) -> None:
    if all(0x20 < byte < 0x7F and byte != 0x5C for byte in name):
        assert escape_name(name, utf8) == name
    if any(byte < 0x20 or byte == 0x7F for byte in name):
        assert escape_name(name, utf8) != name


def test_guides_are_trees_bytes() -> None:
    # tree 2.x draws the vertical guide as U+2502 and two no-break spaces, then a space.
    assert UNICODE_GUIDES.vertical == b"\xe2\x94\x82\xc2\xa0\xc2\xa0 "
    assert UNICODE_GUIDES.branch == "├── ".encode()
    assert UNICODE_GUIDES.last == "└── ".encode()
    assert UNICODE_GUIDES.space == b"    "
    assert tuple(ASCII_GUIDES) == (b"    ", b"|   ", b"|-- ", b"`-- ")


@pytest.mark.parametrize(
    ("directories", "files", "directories_only", "line"),
    [
        (1, 1, False, b"1 directory, 1 file"),
        (0, 0, False, b"0 directories, 0 files"),
        (10, 11, False, b"10 directories, 11 files"),
        (1, 5, True, b"1 directory"),
        (9, 0, True, b"9 directories"),
    ],
)
def test_report_line(directories: int, files: int, directories_only: bool, line: bytes) -> None:
    assert report_line(directories, files, directories_only) == line


@pytest.mark.parametrize(
    ("size", "human", "column"),
    [
        (0, False, b"[          0]"),
        (4096, False, b"[       4096]"),
        (5000, False, b"[       5000]"),
        (0, True, b"[   0]"),
        (2, True, b"[   2]"),
        (1023, True, b"[1023]"),
        (1024, True, b"[1.0K]"),
        (4096, True, b"[4.0K]"),
        (5000, True, b"[4.9K]"),
        (10188, True, b"[9.9K]"),  # 9.949 K
        (10189, True, b"[10.0K]"),  # 9.950 K rounds up to 10.0, still one decimal
        (10240, True, b"[ 10K]"),  # 10 K: no decimal from here
        (13194, True, b"[ 13K]"),
        (1572864, True, b"[1.5M]"),
        (10 * 1024**3, True, b"[ 10G]"),
    ],
)
def test_format_size(size: int, human: bool, column: bytes) -> None:
    assert format_size(size, human) == column


@given(st.binary(max_size=40))
def test_json_string_is_valid_json_and_round_trips_through_fsencode(name: bytes) -> None:
    literal = json_string(name)
    literal.decode("utf-8")  # strict: the bytes written are UTF-8
    decoded = json.loads(literal)
    assert os.fsencode(decoded) == name


@given(st.binary(max_size=40))
def test_json_string_holds_no_raw_control_or_bidi_character(name: bytes) -> None:
    text = json_string(name).decode("utf-8")
    assert not {ord(char) for char in text} & (_UNSAFE_CODE_POINTS | _BIDI)


def test_json_string_escapes_like_tree_for_control_characters() -> None:
    # tree -J: "\u0001ctl", "esc\u001b[31mred", "nl\nline", "q\"uote", "back\\slash"
    assert json_string(b"\x01ctl") == b'"\\u0001ctl"'
    assert json_string(b"esc\x1b[31mred") == b'"esc\\u001b[31mred"'
    assert json_string(b"nl\nline") == b'"nl\\nline"'
    assert json_string(b'q"uote') == b'"q\\"uote"'
    assert json_string(b"back\\slash") == b'"back\\\\slash"'
    assert json_string(b"uni\xc3\xa9") == b'"uni\xc3\xa9"'


def test_colour_scheme_defaults_are_trees() -> None:
    scheme = ColourScheme.from_ls_colors(None)
    assert scheme.paint(b"src", "di", b"src") == b"\x1b[01;34msrc\x1b[0m"
    assert scheme.paint(b"up", "ln", b"up") == b"\x1b[01;36mup\x1b[0m"
    assert scheme.paint(b"a.py", "fi", b"a.py") == b"\x1b[00ma.py\x1b[0m"


def test_colour_scheme_reads_ls_colors_kinds_and_suffixes() -> None:
    scheme = ColourScheme.from_ls_colors("di=01;35:*.py=00;33:ln=target")
    assert scheme.paint(b"d", "di", b"d") == b"\x1b[01;35md\x1b[0m"
    assert scheme.paint(b"m.py", "fi", b"m.py") == b"\x1b[00;33mm.py\x1b[0m"
    # ln=target is not SGR parameters: ignored, and ln was not otherwise set.
    assert scheme.paint(b"l", "ln", b"l") == b"l"


def test_colour_scheme_refuses_escape_sequences_from_the_environment() -> None:
    scheme = ColourScheme.from_ls_colors("di=01;34m\x1b]0;pwned\x07")
    assert scheme.paint(b"d", "di", b"d") == b"d"
