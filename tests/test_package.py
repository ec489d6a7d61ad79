"""The package as a whole: its public surface and what importing it costs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import rwalk

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_all_is_a_tuple_of_public_names() -> None:
    assert isinstance(rwalk.__all__, tuple)
    for name in rwalk.__all__:
        assert not name.startswith("_")
        assert hasattr(rwalk, name), name


def test_the_api_page_documents_exactly_the_public_names() -> None:
    # Each public name has a section headed "## `rwalk.NAME...`", and nothing else does.
    api = (DOCS / "api.md").read_text(encoding="utf-8")
    headed = set(re.findall(r"^## `rwalk\.(\w+)", api, flags=re.MULTILINE))
    assert headed == set(rwalk.__all__)


def test_py_typed_marker_ships_with_the_package() -> None:
    assert (Path(rwalk.__file__).parent / "py.typed").is_file()


def test_import_loads_no_cli_nor_asyncio() -> None:
    # A fresh interpreter, so that modules imported by pytest or other tests don't count.
    code = (
        "import sys, rwalk\n"
        "heavy = {'asyncio', 'typer', 'click', 'rich', 'concurrent.futures'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_library_and_awalk_load_only_the_standard_library() -> None:
    # Every module that importing rwalk, then reaching awalk and awalk_entries, loads
    # must belong to the standard library (typer is the command's alone), and awalk
    # must not pull in multiprocessing: it is imported on the event loop's thread.
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import rwalk\n"
        "rwalk.awalk, rwalk.awalk_entries\n"
        "new = set(sys.modules) - before\n"
        "assert 'rwalk._aio' in new, sorted(new)\n"
        "ours = sys.stdlib_module_names | {'rwalk'}\n"
        "print(sorted(m for m in new if m.split('.')[0] not in ours))\n"
        "heavy = ('multiprocessing', 'concurrent.futures.process')\n"
        "print(sorted(m for m in new if m.startswith(heavy)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split("\n")[:2] == ["[]", "[]"]
