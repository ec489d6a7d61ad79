"""``--gitignore``: ``.gitignore`` files read as git reads them (gitignore(5)).

Pure functions and small immutable values; the only file-system access is reading a
``.gitignore`` (:meth:`IgnoreChain.enter`).  The rules implemented:

* a blank line matches nothing; a line starting with ``#`` is a comment (``\\#`` is a
  literal ``#``); trailing spaces are dropped unless escaped with a backslash;
* ``!`` negates a pattern (``\\!`` is a literal ``!``): a path a later negated
  pattern matches is included again, unless a directory above it is excluded (the
  listing never enters an excluded directory, so nothing below it is listed);
* a trailing ``/`` makes a pattern match directories only (a symbolic link is never a
  directory to git);
* a ``/`` at the start or in the middle anchors the pattern to the directory of its
  ``.gitignore``; without one the pattern matches a name at any depth below it;
* ``*`` matches any run of characters but ``/``, ``?`` one character but ``/``,
  ``[...]`` a set (``[!...]`` or ``[^...]`` its complement, never ``/``), ``\\x`` the
  character ``x``; ``**/`` at the start matches in all directories, ``/**`` at the end
  everything inside, ``/**/`` zero or more directories; other ``**`` are ``*``;
* within a file the last matching pattern decides; a ``.gitignore`` deeper in the tree
  takes precedence over those above it.

Not read: ``$GIT_DIR/info/exclude``, ``core.excludesFile``, and ``.gitignore`` files
above the listed root (``docs/cli.md``).
"""

from __future__ import annotations

import os
import re
from typing import NamedTuple

__all__ = ("IgnoreChain", "Rule", "compile_pattern", "parse_gitignore")


class Rule(NamedTuple):
    """One pattern line of a ``.gitignore``."""

    regex: re.Pattern[str]
    """Matches the whole path relative to the ``.gitignore``'s directory (anchored
    patterns) or the whole name (others)."""
    anchored: bool
    negated: bool
    directories_only: bool


def compile_pattern(line: str) -> Rule | None:
    """The rule of one ``.gitignore`` line, or ``None`` for a blank line or comment."""
    line = _strip_trailing_spaces(line)
    if not line or line.startswith("#"):
        return None
    negated = line.startswith("!")
    if negated:
        line = line[1:]
    directories_only = line.endswith("/") and not line.endswith("\\/")
    if directories_only:
        line = line.rstrip("/")
    if not line:
        return None
    anchored = "/" in line
    if line.startswith("/"):
        line = line[1:]
    return Rule(re.compile(_translate(line), re.DOTALL), anchored, negated, directories_only)


def _strip_trailing_spaces(line: str) -> str:
    stripped = line.rstrip(" ")
    # "a\ " keeps its escaped space (and the one backslash before it escapes it).
    if len(stripped) < len(line) and _ends_with_escape(stripped):
        return stripped + " "
    return stripped


def _ends_with_escape(text: str) -> bool:
    backslashes = len(text) - len(text.rstrip("\\"))
    return backslashes % 2 == 1


def _translate(pattern: str) -> str:
    """A regex for the whole of a path (or name) that ``pattern`` matches."""
    pieces: list[str] = []
    index = 0
    length = len(pattern)
    while index < length:
        char = pattern[index]
        if char == "*":
            run_end = index
            while run_end < length and pattern[run_end] == "*":
                run_end += 1
            at_start = index == 0 or pattern[index - 1] == "/"
            at_end = run_end == length or pattern[run_end] == "/"
            if run_end - index >= 2 and at_start and at_end:
                if run_end == length:
                    # "/**" at the end (or "**" alone): everything below.
                    pieces.append(".*")
                else:
                    # "**/" at the start or "/**/" inside: zero or more directories.
                    pieces.append("(?:.*/)?")
                    run_end += 1  # the "/" is part of the optional directories
            else:
                pieces.append("[^/]*")
            index = run_end
            continue
        if char == "?":
            pieces.append("[^/]")
        elif char == "[":
            end = _set_end(pattern, index)
            if end is None:
                pieces.append(re.escape(char))
            else:
                pieces.append(_translate_set(pattern[index + 1 : end]))
                index = end
        elif char == "\\" and index + 1 < length:
            index += 1
            pieces.append(re.escape(pattern[index]))
        else:
            pieces.append(re.escape(char))
        index += 1
    return "".join(pieces) + r"\Z"


def _set_end(pattern: str, start: int) -> int | None:
    """The index of the ``]`` closing the set that opens at ``start``, if any."""
    index = start + 1
    if index < len(pattern) and pattern[index] in "!^":
        index += 1
    if index < len(pattern) and pattern[index] == "]":
        index += 1  # a leading "]" is a member
    while index < len(pattern):
        if pattern[index] == "\\":
            index += 2
            continue
        if pattern[index] == "]":
            return index
        index += 1
    return None


def _translate_set(body: str) -> str:
    negated = body[:1] in ("!", "^")
    if negated:
        body = body[1:]
    members: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            index += 1
            members.append(re.escape(body[index]))
        elif char == "-" and members and index + 1 < len(body):
            members.append("-")  # a range, between two members
        else:
            members.append(re.escape(char))
        index += 1
    inside = "".join(members)
    # A set never matches "/" (git matches paths with WM_PATHNAME).
    return f"[^{inside}/]" if negated else f"(?!/)[{inside}]"


def parse_gitignore(text: str) -> tuple[Rule, ...]:
    """The rules of a ``.gitignore``'s text, in order."""
    rules = (compile_pattern(line) for line in text.splitlines())
    return tuple(rule for rule in rules if rule is not None)


def _matches(rule: Rule, relative: str, name: str, is_dir: bool) -> bool:
    if rule.directories_only and not is_dir:
        return False
    return rule.regex.match(relative if rule.anchored else name) is not None


class IgnoreChain:
    """The ``.gitignore`` files that apply in one directory, outermost first."""

    __slots__ = ("_files",)

    def __init__(self, files: tuple[tuple[bytes, tuple[Rule, ...]], ...] = ()) -> None:
        # (the directory holding a .gitignore, with a trailing "/"; its rules)
        self._files = files

    def enter(self, directory: bytes) -> IgnoreChain:
        """The chain for ``directory``: this one plus its own ``.gitignore``, if any."""
        try:
            with open(os.path.join(directory, b".gitignore"), "rb") as file:
                text = file.read().decode("utf-8", "surrogateescape")
        except OSError:
            return self
        rules = parse_gitignore(text)
        if not rules:
            return self
        prefix = directory if directory.endswith(b"/") else directory + b"/"
        return IgnoreChain((*self._files, (prefix, rules)))

    def ignores(self, path: bytes, is_dir: bool) -> bool:
        """Whether git ignores ``path``, an entry of the directory this chain is for.

        :param is_dir: the entry is a directory (not a link to one).
        """
        name = os.fsdecode(os.path.basename(path))
        for prefix, rules in reversed(self._files):
            relative = os.fsdecode(path[len(prefix) :])
            for rule in reversed(rules):
                if _matches(rule, relative, name, is_dir):
                    return not rule.negated
        return False
