"""The comparison script itself (benchmarks/compare.py), on tiny trees with one round.

These check that the script runs and reports honestly; they time nothing.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

import compare
import trees


def run_compare(tmp_path: Path, *arguments: str, **keywords: Any) -> int:
    return compare.main(
        ["--cache", str(tmp_path / "cache"), "--rounds", "1", *arguments], **keywords
    )


def test_script_runs_and_writes_a_table_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = tmp_path / "results.json"
    assert run_compare(tmp_path, "--tree", "wide", "--scale", "0.2", "--json", str(result)) == 0
    output = capsys.readouterr().out
    assert "| os.walk | in-process | 310 |" in output
    assert "| rwalk.walk | in-process | 310 |" in output
    data = json.loads(result.read_text())
    rows = {row["implementation"]: row for row in data["results"]["wide"]}
    assert rows["os.walk"]["status"] == "ok"
    assert rows["os.walk"]["ratio_to_os_walk"] == 1.0
    assert rows["rwalk.walk"]["entries"] == 310
    assert len(rows["rwalk.walk"]["times_s"]) == 1
    assert data["rounds"] == 1


def test_a_walker_that_miscounts_is_reported_wrong_and_never_timed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def off_by_one(top: str) -> int:
        return trees.count_entries(top) + 1

    liar = compare.Implementation("liar", "in-process", off_by_one)
    result = tmp_path / "results.json"
    code = run_compare(
        tmp_path,
        "--tree",
        "wide",
        "--scale",
        "0.2",
        "--only",
        "liar",
        "--json",
        str(result),
        extra_implementations=[liar],
    )
    assert code == 0
    assert "| liar | in-process | 311 | **WRONG**: counted 311, expected 310 |" in (
        capsys.readouterr().out
    )
    rows = {row["implementation"]: row for row in json.loads(result.read_text())["results"]["wide"]}
    assert rows["liar"]["status"] == "WRONG"
    assert rows["liar"]["times_s"] == []
    assert rows["liar"]["median_s"] is None


def test_a_walker_that_raises_is_reported_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(top: str) -> int:
        raise RuntimeError("no such luck")

    crash = compare.Implementation("crash", "in-process", broken)
    run_compare(
        tmp_path, "--tree", "wide", "--scale", "0.2", "--only", "crash",
        extra_implementations=[crash],
    )  # fmt: skip
    assert "| crash | in-process |  | **failed**: RuntimeError: no such luck |" in (
        capsys.readouterr().out
    )


def test_missing_tools_are_reported_as_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_which = shutil.which

    def which(name: str, *args: Any, **keywords: Any) -> str | None:
        if name in ("tree", "fd", "fdfind", "find"):
            return None
        return real_which(name, *args, **keywords)

    monkeypatch.setattr(shutil, "which", which)
    run_compare(tmp_path, "--tree", "wide", "--scale", "0.2", "--only", "tree", "--only", "fd")
    output = capsys.readouterr().out
    assert "| tree -a | process |  | **skipped**: not installed |" in output
    assert "| fd | process |  | **skipped**: not installed |" in output


def test_latency_mode_slows_in_process_walkers_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_compare(tmp_path, "--tree", "wide", "--scale", "0.2", "--latency", "0.1")
    output = capsys.readouterr().out
    assert "+0.1 ms per directory listing" in output
    assert "| find | process |  | **skipped**: cannot add latency to it |" in output
    assert "| rwalk.walk | in-process | 310 |" in output


def test_added_latency_wraps_scandir_and_restores_it() -> None:
    real = os.scandir
    with compare.added_latency(0.01):
        assert os.scandir is not real
        with os.scandir(".") as entries:
            assert isinstance(list(entries), list)
    assert os.scandir is real


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--rounds", "0"], "--rounds must be at least 1"),
        (["--scale", "0"], "--scale must be positive"),
        (["--latency", "-1"], "--latency must not be negative"),
        (["--path", "/nonexistent/dir"], "is not a directory"),
    ],
)
def test_bad_arguments_are_usage_errors(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        compare.parse_arguments(arguments)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_user_directory_is_measured_and_cross_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "mine" / "a").mkdir(parents=True)
    (tmp_path / "mine" / "a" / "file").write_text("")
    (tmp_path / "mine" / "link").symlink_to("a")
    run_compare(tmp_path, "--path", str(tmp_path / "mine"), "--only", "rwalk.walk")
    output = capsys.readouterr().out
    assert "(3 entries)" in output
    assert "| rwalk.walk | in-process | 3 |" in output
