"""``rwalk -x``: stay on each root's file system, as ``tree -x`` and ``find -xdev``.

A second file system is a tmpfs mounted in a private mount namespace (``unshare -m``,
root only): the test is skipped with a message where that is not permitted.  The tree::

    t/
    ├── local/
    │   └── file
    └── mnt/          <- a tmpfs mount point, holding "inside"
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    shutil.which("unshare") is None or os.geteuid() != 0,
    reason="needs root and unshare to mount a tmpfs in a private mount namespace",
)

SCRIPT = """
mount -t tmpfs rwalk-test t/mnt || exit 77
touch t/mnt/inside
for command in "$@"; do
    echo "=="
    sh -c "$command"
done
"""


def run_in_namespace(tmp_path: Path, *commands: str) -> str:
    (tmp_path / "t" / "local").mkdir(parents=True)
    (tmp_path / "t" / "local" / "file").write_text("")
    (tmp_path / "t" / "mnt").mkdir()
    rwalk_command = f"{sys.executable} -m rwalk"
    commands = tuple(command.replace("rwalk", rwalk_command, 1) for command in commands)
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", SCRIPT, "sh", *commands],
        cwd=tmp_path,
        env={**os.environ, "LC_ALL": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode == 77:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_x_lists_the_mount_point_but_does_not_enter_it(tmp_path: Path) -> None:
    # tree's vertical guide is "│", two no-break spaces and a space.
    output = run_in_namespace(tmp_path, "rwalk -n -x t", "rwalk -n t")
    assert output == (
        "==\n"
        "t\n├── local\n│\u00a0\u00a0 └── file\n└── mnt\n\n3 directories, 1 file\n"
        "==\n"
        "t\n├── local\n│\u00a0\u00a0 └── file\n└── mnt\n    └── inside\n\n3 directories, 2 files\n"
    )


@pytest.mark.skipif(shutil.which("tree") is None, reason="GNU tree is not installed")
@pytest.mark.parametrize("options", ["-x", "-x -a", "-x -d", "-x -s", "--one-file-system -J"])
def test_x_matches_gnu_tree_byte_for_byte(tmp_path: Path, options: str) -> None:
    tree_options = options.replace("--one-file-system", "-x")
    output = run_in_namespace(tmp_path, f"tree -n {tree_options} t", f"rwalk -n {options} t")
    _, theirs, ours = output.split("==\n")
    assert ours == theirs


def test_async_x_is_the_default_listing(tmp_path: Path) -> None:
    """``--async -x``: the walk's ``one_filesystem`` decides, and the output is unchanged."""
    output = run_in_namespace(tmp_path, "rwalk -n --async -x t", "rwalk -n --async -x -l -a t")
    expected = "t\n├── local\n│\u00a0\u00a0 └── file\n└── mnt\n\n3 directories, 1 file\n"
    assert output == f"=={expected}=={expected}".replace("==", "==\n")


@pytest.mark.skipif(shutil.which("tree") is None, reason="GNU tree is not installed")
@pytest.mark.parametrize("options", ["-x", "-x -s", "-x -l -L 2", "--one-file-system -J"])
def test_async_x_matches_gnu_tree_byte_for_byte(tmp_path: Path, options: str) -> None:
    tree_options = options.replace("--one-file-system", "-x")
    output = run_in_namespace(
        tmp_path, f"tree -n {tree_options} t", f"rwalk -n --async {options} t"
    )
    _, theirs, ours = output.split("==\n")
    assert ours == theirs
