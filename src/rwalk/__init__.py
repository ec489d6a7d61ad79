"""rwalk: a recursive, depth-unlimited drop-in for :func:`os.walk`.

``import rwalk`` loads only the standard library modules the synchronous walk needs.
"""

from __future__ import annotations

from ._walk import OnError as OnError
from ._walk import WalkTuple as WalkTuple
from ._walk import walk as walk

__all__ = ("OnError", "WalkTuple", "walk")
__version__ = "0.1.0"
