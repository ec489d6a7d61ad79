"""``--async`` ends its walk while the interpreter is whole.

Regression: the listing knows when it is done without reading the walk to its end, so
the walk (for ``--async``: an event loop and scan threads) was left suspended and closed
by the garbage collector at interpreter exit, where starting a scan thread hangs on
Python 3.10/3.11.  One run in six of ``rwalk --async -l -L 3`` hung that way.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rwalk import _aio
from rwalk._tree import ListingOptions, Tally, WalkEntriesLister, WalkEntryTuple, tree_events


def test_the_walk_behind_a_listing_is_closed_when_the_listing_ends(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    closed = []

    def walk() -> Iterator[WalkEntryTuple]:
        try:
            top = bytes(tmp_path)
            with os.scandir(top) as listing:
                directory_entries = list(listing)  # a/
            yield top, directory_entries, []
            if directory_entries:
                yield top + b"/a", [], []
            yield b"/never/asked/for", [], []  # more than the listing reads
        finally:
            closed.append(True)

    lister = WalkEntriesLister(ListingOptions())
    lister.attach(walk())
    events = list(tree_events([bytes(tmp_path)], lambda root: lister, ListingOptions(), Tally()))
    assert events  # the listing ran
    assert closed == [True]


def test_no_scan_thread_is_started_while_the_interpreter_exits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads = _aio._ScanThreads(2)
    monkeypatch.setattr(sys, "is_finalizing", lambda: True)
    with pytest.raises(RuntimeError, match="interpreter exits"):
        threads.run(lambda: None)
