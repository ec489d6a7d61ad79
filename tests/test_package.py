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


def test_import_needs_only_the_standard_library_and_no_cli_or_asyncio() -> None:
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
