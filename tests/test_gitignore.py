"""``--gitignore``: the matcher (``rwalk._gitignore``) and the listing, against git.

Expected matches are written by hand from gitignore(5); the listing is compared with
what git itself reports (``git ls-files --others --exclude-standard``: the files git
does not ignore) and, where installed, with GNU tree's ``--gitignore`` byte for byte.

The repository of the comparisons (``repo``)::

    repo/
    ├── .gitignore    *.log, !a/x.log, build/, /docs, keep/*.tmp, !keep/important.tmp,
    │                 # comment, \\#hash, \\!bang, logs/**/*.log, trail\\ , deep/**/z,
    │                 [!n]ame, lnk/
    ├── #hash  !bang  sp  trail   x.log  name  same
    ├── a/  .gitignore (foo)  x.log  foo  b/ (.gitignore: c, !keep.log)  b/c/y  b/keep.log
    ├── build/o       (build/ matches the directory)
    ├── sub/build     (a file: build/ matches directories only)
    ├── docs/d.md     (/docs: anchored, ignored)
    ├── sub/docs/d.md (/docs does not match below the top)
    ├── keep/k.tmp  keep/important.tmp
    ├── logs/l.txt  logs/deep/z.log  logs/z.log
    ├── deep/z  deep/1/2/z  deep/1/y
    └── lnk -> a      (lnk/ matches directories only; to git a link is a file)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rwalk._gitignore import IgnoreChain, compile_pattern, parse_gitignore

GIT = shutil.which("git")
TREE = shutil.which("tree")


def matches(pattern: str, path: str, is_dir: bool = False) -> bool | None:
    """Whether ``pattern`` alone decides ``path`` (True: ignored, False: re-included)."""
    rule = compile_pattern(pattern)
    assert rule is not None
    name = path.rsplit("/", 1)[-1]
    if rule.directories_only and not is_dir:
        return None
    if rule.regex.match(path if rule.anchored else name) is None:
        return None
    return not rule.negated


@pytest.mark.parametrize(
    ("pattern", "path", "is_dir", "expected"),
    [
        ("*.log", "x.log", False, True),
        ("*.log", "a/b/x.log", False, True),
        ("*.log", "x.logs", False, None),
        ("!*.log", "x.log", False, False),
        ("build/", "build", True, True),
        ("build/", "build", False, None),
        ("build/", "sub/build", True, True),
        ("/docs", "docs", True, True),
        ("/docs", "sub/docs", True, None),
        ("doc/frotz", "doc/frotz", False, True),
        ("doc/frotz", "a/doc/frotz", False, None),
        ("a/*.c", "a/x.c", False, True),
        ("a/*.c", "a/b/x.c", False, None),
        ("**/foo", "foo", False, True),
        ("**/foo", "x/y/foo", False, True),
        ("**/foo/bar", "x/foo/bar", False, True),
        ("abc/**", "abc/x", False, True),
        ("abc/**", "abc/x/y", False, True),
        ("abc/**", "abc", True, None),
        ("a/**/b", "a/b", False, True),
        ("a/**/b", "a/x/y/b", False, True),
        ("a/**/b", "a/xb", False, None),
        ("x**y", "xaay", False, True),
        ("x**y", "xa/y", False, None),
        ("?.c", "a.c", False, True),
        ("?.c", "ab.c", False, None),
        ("[abc].c", "b.c", False, True),
        ("[!abc].c", "b.c", False, None),
        ("[^abc].c", "d.c", False, True),
        ("[a-c].c", "b.c", False, True),
        ("[a-c].c", "d.c", False, None),
        ("a[/]b", "a/b", False, None),
        ("\\#hash", "#hash", False, True),
        ("\\!bang", "!bang", False, True),
        ("\\*", "*", False, True),
        ("\\*", "x", False, None),
        ("trail\\ ", "trail ", False, True),
        ("trail   ", "trail", False, True),
        ("trail   ", "trail ", False, None),
    ],
)
def test_a_pattern_matches_as_gitignore_5_says(
    pattern: str, path: str, is_dir: bool, expected: bool | None
) -> None:
    assert matches(pattern, path, is_dir) is expected


def test_blank_lines_and_comments_are_not_rules() -> None:
    assert parse_gitignore("\n# a comment\n   \n*.o\n") == (compile_pattern("*.o"),)
    assert compile_pattern("#x") is None
    assert compile_pattern("/") is None


def test_deeper_files_and_later_lines_take_precedence(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".gitignore").write_text("*.log\n!keep.log\nkeep.log\n")
    (tmp_path / "a" / ".gitignore").write_text("!*.log\n")
    root = os.fsencode(tmp_path)
    top = IgnoreChain().enter(root)
    assert top.ignores(root + b"/x.log", False)
    assert top.ignores(root + b"/keep.log", False)  # the last matching line wins
    inner = top.enter(root + b"/a").enter(root + b"/a/b")
    assert not inner.ignores(root + b"/a/b/x.log", False)  # a/.gitignore is closer


def test_a_directory_without_a_gitignore_shares_its_parents_chain(tmp_path: Path) -> None:
    chain = IgnoreChain()
    assert chain.enter(os.fsencode(tmp_path)) is chain


# ---------------------------------------------------------------- the listing vs git


def build_repo(parent: Path, tree_disagrees: bool = True) -> Path:
    """The repository pictured above; without ``lnk``, ``name`` and ``same`` if not
    ``tree_disagrees`` (the entries where tree 2.1.0 and git disagree)."""
    root = parent / "repo"
    files = [
        "#hash", "!bang", "sp", "trail ", "x.log", "name", "same",
        "a/x.log", "a/foo", "a/b/c/y", "a/b/keep.log", "a/b/other.log",
        "build/o", "sub/build", "docs/d.md", "sub/docs/d.md",
        "keep/k.tmp", "keep/important.tmp",
        "logs/l.txt", "logs/deep/z.log", "logs/z.log",
        "deep/z", "deep/1/2/z", "deep/1/y",
    ]  # fmt: skip
    if not tree_disagrees:
        files = [name for name in files if name not in ("name", "same")]
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    (root / ".gitignore").write_text(
        "*.log\n!a/x.log\nbuild/\n/docs\nkeep/*.tmp\n!keep/important.tmp\n# comment\n"
        "\\#hash\n\\!bang\nlogs/**/*.log\ntrail\\ \ndeep/**/z\n[!n]ame\nlnk/\n"
    )
    (root / "a" / ".gitignore").write_text("foo\n")
    (root / "a" / "b" / ".gitignore").write_text("c\n!keep.log\n")
    if tree_disagrees:
        (root / "lnk").symlink_to("a")
    return root


def git_environment() -> dict[str, str]:
    # No user or system configuration (a core.excludesFile would change the answer).
    return {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


@pytest.mark.skipif(GIT is None, reason="git is not installed")
def test_the_files_listed_are_those_git_does_not_ignore(tmp_path: Path) -> None:
    root = build_repo(tmp_path)
    assert GIT is not None
    subprocess.run([GIT, "init", "-q", "."], cwd=root, check=True, env=git_environment())
    untracked = subprocess.run(
        [GIT, "ls-files", "-z", "--others", "--exclude-standard"],
        cwd=root,
        check=True,
        capture_output=True,
        env=git_environment(),
    ).stdout
    git_files = sorted(path for path in untracked.split(b"\0") if path)
    listed = subprocess.run(
        [sys.executable, "-m", "rwalk", "-a", "-J", "--gitignore", "-I", ".git", "."],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout
    import json

    ours: list[bytes] = []

    def collect(items: list[dict[str, object]], prefix: str) -> None:
        for item in items:
            path = prefix + str(item["name"])
            if item["type"] == "directory":
                collect(item.get("contents", []), path + "/")  # type: ignore[arg-type]
            elif item["type"] in ("file", "link"):
                ours.append(os.fsencode(path))

    collect(json.loads(listed)[0]["contents"], "")
    assert sorted(ours) == git_files


@pytest.mark.skipif(TREE is None, reason="GNU tree is not installed")
@pytest.mark.parametrize("options", [[], ["-a"], ["-d"], ["-L", "2"]], ids=" ".join)
def test_same_bytes_as_gnu_tree(options: list[str], tmp_path: Path) -> None:
    build_repo(tmp_path, tree_disagrees=False)
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    env.pop("NO_COLOR", None)
    args = [*options, "--gitignore", "repo"]
    assert TREE is not None
    theirs = subprocess.run(
        [TREE, *args], cwd=tmp_path, env=env, capture_output=True, check=True
    ).stdout
    ours = subprocess.run(
        [sys.executable, "-m", "rwalk", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        check=True,
    ).stdout
    assert ours == theirs


def test_where_tree_disagrees_with_git_rwalk_follows_git(tmp_path: Path) -> None:
    # tree 2.1.0 reads "[!n]ame" as the set {!, n} and so lists "same" and hides "name";
    # it also applies "lnk/" to a link to a directory.  git (and the test above that
    # asks git) hides "same", lists "name", and lists the link.
    root = tmp_path / "repo"
    root.mkdir()
    (root / ".gitignore").write_text("[!n]ame\nlnk/\n")
    (root / "name").write_bytes(b"")
    (root / "same").write_bytes(b"")
    (root / "dir").mkdir()
    (root / "lnk").symlink_to("dir")
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    ours = subprocess.run(
        [sys.executable, "-m", "rwalk", "--gitignore", "-n", "repo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        check=True,
    ).stdout
    assert ours == "repo\n├── dir\n├── lnk -> dir\n└── name\n\n3 directories, 1 file\n".encode()
