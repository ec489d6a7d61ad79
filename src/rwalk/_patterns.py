"""Name patterns for ``-P`` and ``-I``: tree's wildcards, compiled once to a regex.

tree's syntax: ``*`` any run of characters, ``?`` one character, ``[...]`` a set
(``[^...]`` or ``[!...]`` its complement), ``|`` between alternatives; a pattern
matches a whole name.  This module is imported only when a pattern is given.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable

__all__ = ("compile_patterns",)


def compile_patterns(patterns: list[str]) -> Callable[[bytes], bool]:
    """One matcher for all ``patterns`` (each may hold ``|`` alternatives).

    :raises ValueError: if a pattern or an alternative is empty.
    """
    alternatives: list[str] = []
    for pattern in patterns:
        for alternative in pattern.split("|"):
            if not alternative:
                raise ValueError(f"empty alternative in pattern {pattern!r}")
            # fnmatch spells a complemented set [!...]; tree also accepts [^...].
            alternatives.append(fnmatch.translate(alternative.replace("[^", "[!")))
    regex = re.compile("|".join(alternatives))
    match = regex.match
    fsdecode = os.fsdecode

    def matches(name: bytes) -> bool:
        return match(fsdecode(name)) is not None

    return matches
