"""rwalk: a recursive, depth-unlimited drop-in for :func:`os.walk`.

``import rwalk`` loads only the standard library modules the synchronous walk needs:
``rwalk.awalk`` (and with it asyncio and concurrent.futures) is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._walk import EntryTuple as EntryTuple
from ._walk import OnError as OnError
from ._walk import WalkTuple as WalkTuple
from ._walk import walk as walk
from ._walk import walk_entries as walk_entries

if TYPE_CHECKING:
    from ._aio import awalk as awalk
    from ._aio import awalk_entries as awalk_entries

__all__ = (
    "EntryTuple",
    "OnError",
    "WalkTuple",
    "awalk",
    "awalk_entries",
    "walk",
    "walk_entries",
)
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # PEP 562: load the asyncio walk only when it is asked for.
    if name in ("awalk", "awalk_entries"):
        from . import _aio

        value = getattr(_aio, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
