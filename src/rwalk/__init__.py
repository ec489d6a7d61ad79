"""rwalk: a recursive, depth-unlimited drop-in for :func:`os.walk`.

``import rwalk`` loads only the standard library modules the synchronous walk needs.
"""

from __future__ import annotations

from ._walk import EntryTuple as EntryTuple
from ._walk import OnError as OnError
from ._walk import WalkTuple as WalkTuple
from ._walk import walk as walk
from ._walk import walk_entries as walk_entries

__all__ = ("EntryTuple", "OnError", "WalkTuple", "walk", "walk_entries")
__version__ = "0.1.0"
