"""rwalk.walk, case by case: the behaviours of os.walk that a drop-in must keep.

Most tests run on this fixture tree, built fresh under ``tmp_path``::

    tmp_path/
    ├── tree/
    │   ├── file0
    │   ├── fifo                          a FIFO: a file, never opened
    │   ├── sub1/
    │   │   ├── file1
    │   │   └── sub11/                    empty
    │   └── sub2/
    │       ├── file2
    │       ├── link_to_outside -> ../../outside
    │       ├── link_to_file -> ../file0
    │       ├── broken -> missing
    │       └── through_file -> ../file0/x
    └── outside/
        └── file3

As in CPython's ``WalkTests``, assertions never depend on the order of siblings within
a directory (``os.scandir`` order is the file system's), only on parent/child order.
"""

from __future__ import annotations

import ast
import errno
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import cpython_walk
import rwalk
from forking import report_from_child
from strategies import error_recorder

WalkTuple = tuple[Any, list[Any], list[Any]]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    top = tmp_path / "tree"
    (top / "sub1" / "sub11").mkdir(parents=True)
    (top / "sub2").mkdir()
    (tmp_path / "outside").mkdir()
    for file in (top / "file0", top / "sub1" / "file1", top / "sub2" / "file2"):
        file.write_text("x")
    (tmp_path / "outside" / "file3").write_text("x")
    os.mkfifo(top / "fifo")
    (top / "sub2" / "link_to_outside").symlink_to("../../outside")
    (top / "sub2" / "link_to_file").symlink_to("../file0")
    (top / "sub2" / "broken").symlink_to("missing")
    (top / "sub2" / "through_file").symlink_to("../file0/x")
    return top


def as_sets(walk: Iterator[WalkTuple]) -> dict[Any, tuple[set[Any], set[Any]]]:
    """Each directory's lists as sets (sibling order is the file system's)."""
    result = {}
    for dirpath, dirnames, filenames in walk:
        assert dirpath not in result, f"{dirpath!r} yielded twice"
        result[dirpath] = (set(dirnames), set(filenames))
    return result


def open_descriptors() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def run_python(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (for limits that can't be undone in-process)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# -- What is yielded -------------------------------------------------------------------


def test_top_down_yields_every_directory_with_its_entries(tree: Path) -> None:
    top = str(tree)
    assert as_sets(rwalk.walk(top)) == {
        top: ({"sub1", "sub2"}, {"file0", "fifo"}),
        f"{top}/sub1": ({"sub11"}, {"file1"}),
        f"{top}/sub1/sub11": (set(), set()),
        f"{top}/sub2": (
            {"link_to_outside"},
            {"file2", "link_to_file", "broken", "through_file"},
        ),
    }


def test_top_down_yields_each_directory_before_its_children(tree: Path) -> None:
    order = [dirpath for dirpath, _, _ in rwalk.walk(str(tree))]
    assert order[0] == str(tree)
    assert order.index(f"{tree}/sub1") < order.index(f"{tree}/sub1/sub11")


def test_bottom_up_yields_the_same_tuples_children_first(tree: Path) -> None:
    top = str(tree)
    tuples = list(rwalk.walk(top, topdown=False))
    order = [dirpath for dirpath, _, _ in tuples]
    assert order[-1] == top
    assert order.index(f"{top}/sub1/sub11") < order.index(f"{top}/sub1")
    assert as_sets(iter(tuples)) == as_sets(rwalk.walk(top))


def test_subtrees_are_walked_one_after_the_other(tree: Path) -> None:
    # Depth first: once the walk leaves sub1 it never comes back to it.
    order = [dirpath for dirpath, _, _ in rwalk.walk(str(tree))]
    in_sub1 = [dirpath.startswith(f"{tree}/sub1") for dirpath in order]
    first, last = in_sub1.index(True), len(in_sub1) - 1 - in_sub1[::-1].index(True)
    assert all(in_sub1[first : last + 1])


def test_bytes_top_gives_bytes_paths_and_names(tree: Path) -> None:
    top = os.fsencode(tree)
    walked = as_sets(rwalk.walk(top))
    assert walked[top] == ({b"sub1", b"sub2"}, {b"file0", b"fifo"})
    assert b"/".join([top, b"sub1", b"sub11"]) in walked


def test_pathlike_top_gives_str_paths(tree: Path) -> None:
    walked = as_sets(rwalk.walk(tree))
    assert set(walked) == set(as_sets(rwalk.walk(str(tree))))
    assert all(type(dirpath) is str for dirpath in walked)


def test_undecodable_names_round_trip_as_surrogate_escapes(tmp_path: Path) -> None:
    raw = b"caf\xe9-\xff"  # Latin-1 bytes: not valid UTF-8
    os.mkdir(os.path.join(os.fsencode(tmp_path), raw))
    (_, dirnames, _), _ = rwalk.walk(str(tmp_path))
    assert dirnames == [os.fsdecode(raw)]
    assert os.fsencode(dirnames[0]) == raw
    (_, byte_dirnames, _), _ = rwalk.walk(os.fsencode(tmp_path))
    assert byte_dirnames == [raw]


def test_trailing_separator_in_top_is_kept_as_given(tree: Path) -> None:
    top = f"{tree}/"
    dirpaths = [dirpath for dirpath, _, _ in rwalk.walk(top)]
    assert dirpaths[0] == top
    assert f"{tree}/sub1" in dirpaths  # joined without a doubled separator


def test_relative_top_gives_relative_paths(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree.parent)
    dirpaths = {dirpath for dirpath, _, _ in rwalk.walk("tree")}
    assert dirpaths == {"tree", "tree/sub1", "tree/sub1/sub11", "tree/sub2"}


# -- Links and special files -----------------------------------------------------------


def test_links_to_directories_are_listed_but_not_entered(tree: Path) -> None:
    walked = as_sets(rwalk.walk(str(tree)))
    assert "link_to_outside" in walked[f"{tree}/sub2"][0]
    assert f"{tree}/sub2/link_to_outside" not in walked


def test_bottom_up_does_not_enter_links_either(tree: Path) -> None:
    walked = as_sets(rwalk.walk(str(tree), topdown=False))
    assert f"{tree}/sub2/link_to_outside" not in walked


@pytest.mark.parametrize("topdown", [True, False])
def test_followlinks_enters_links_to_directories(tree: Path, topdown: bool) -> None:
    walked = as_sets(rwalk.walk(str(tree), topdown=topdown, followlinks=True))
    assert walked[f"{tree}/sub2/link_to_outside"] == (set(), {"file3"})


def test_broken_links_and_links_to_or_through_files_are_files(tree: Path) -> None:
    _, filenames = as_sets(rwalk.walk(str(tree)))[f"{tree}/sub2"]
    assert {"link_to_file", "broken", "through_file"} <= filenames


def test_a_fifo_is_a_file_and_is_never_opened(tree: Path) -> None:
    # Opening a FIFO for reading blocks until a writer comes: a walk that opened it would
    # hang, so the walk runs in a child with a deadline, which turns a hang into a failure.
    for topdown in ("True", "False"):
        result = run_python(
            f"""
            import sys, rwalk
            for dirpath, dirnames, filenames in rwalk.walk(sys.argv[1], topdown={topdown}):
                if dirpath == sys.argv[1]:
                    print(sorted(filenames))
            """,
            str(tree),
            timeout=30,
        )
        assert result.stdout.strip() == "['fifo', 'file0']", result.stderr


@pytest.mark.parametrize("kind", ["missing", "file", "fifo", "broken link"])
@pytest.mark.parametrize("topdown", [True, False])
def test_a_top_that_is_not_a_directory_yields_nothing(tree: Path, kind: str, topdown: bool) -> None:
    top = {
        "missing": tree / "nonexistent",
        "file": tree / "file0",
        "fifo": tree / "fifo",
        "broken link": tree / "sub2" / "broken",
    }[kind]
    errors, onerror = error_recorder()
    assert list(rwalk.walk(str(top), topdown=topdown, onerror=onerror)) == []
    expected_errno = errno.ENOENT if kind in ("missing", "broken link") else errno.ENOTDIR
    assert [(number, filename) for _, number, filename in errors] == [(expected_errno, str(top))]


# -- The caller's edits ---------------------------------------------------------------


def test_top_down_pruning_skips_the_removed_subtree(tree: Path) -> None:
    dirpaths = []
    for dirpath, dirnames, _ in rwalk.walk(str(tree)):
        dirpaths.append(dirpath)
        if "sub1" in dirnames:
            dirnames.remove("sub1")
    assert dirpaths == [str(tree), f"{tree}/sub2"]


def test_top_down_follows_the_callers_order(tree: Path) -> None:
    for wanted in (["sub1", "sub2"], ["sub2", "sub1"]):
        dirpaths = []
        for dirpath, dirnames, _ in rwalk.walk(str(tree)):
            dirpaths.append(dirpath)
            if dirpath == str(tree):
                dirnames[:] = wanted
        assert [path for path in dirpaths if path.count("/") == str(tree).count("/") + 1] == [
            f"{tree}/{name}" for name in wanted
        ]


def test_top_down_enters_a_name_the_caller_added(tree: Path) -> None:
    # os.walk joins whatever names are in dirnames after the yield.
    dirpaths = []
    for dirpath, dirnames, _ in rwalk.walk(str(tree)):
        dirpaths.append(dirpath)
        if dirpath == str(tree):
            dirnames[:] = ["sub1/sub11"]
    assert dirpaths == [str(tree), f"{tree}/sub1/sub11"]


def test_directory_replaced_by_a_link_after_its_parent_was_yielded_is_not_entered(
    tree: Path,
) -> None:
    # bpo-23605: the walk checks for a link again after the yield, so a caller (or
    # anyone) swapping a directory for a link does not lead the walk out of the tree.
    outside = tree.parent / "outside"
    expected = None
    for reference in (rwalk.walk, cpython_walk.make_walk(os)):
        dirpaths = []
        for dirpath, _, _ in reference(str(tree)):
            dirpaths.append(dirpath)
            if dirpath == str(tree):
                (tree / "sub1").rename(tree.parent / "moved")
                (tree / "sub1").symlink_to(outside)
        assert f"{tree}/sub1" not in dirpaths
        expected = expected or dirpaths
        assert dirpaths == expected
        (tree / "sub1").unlink()
        (tree.parent / "moved").rename(tree / "sub1")


def test_directory_replaced_by_a_link_is_entered_with_followlinks(tree: Path) -> None:
    dirpaths = []
    for dirpath, _, _ in rwalk.walk(str(tree), followlinks=True):
        dirpaths.append(dirpath)
        if dirpath == str(tree):
            (tree / "sub1").rename(tree.parent / "moved")
            (tree / "sub1").symlink_to(tree.parent / "outside")
    assert f"{tree}/sub1" in dirpaths
    assert f"{tree}/sub1/sub11" not in dirpaths


def test_directory_removed_after_yield_is_reported_and_siblings_are_walked(
    tree: Path,
) -> None:
    errors, onerror = error_recorder()
    dirpaths = []
    for dirpath, dirnames, _ in rwalk.walk(str(tree), onerror=onerror):
        dirpaths.append(dirpath)
        if dirpath == str(tree):
            dirnames[:] = ["sub1", "sub2"]
            (tree / "sub1").rename(tree.parent / "moved")
    assert errors == [("FileNotFoundError", errno.ENOENT, f"{tree}/sub1")]
    assert dirpaths == [str(tree), f"{tree}/sub2"]


# -- Errors ----------------------------------------------------------------------------


def test_errors_are_ignored_without_onerror(tree: Path) -> None:
    assert list(rwalk.walk(str(tree / "nonexistent"))) == []


def _handling_report(seen: list[bool]) -> Any:
    """An onerror that records whether the error is being handled when it is called,
    and then re-raises it with a bare ``raise`` (which needs an active exception)."""

    def onerror(error: OSError) -> None:
        seen.append(sys.exc_info()[1] is error)
        raise  # noqa: PLE0704 - os.walk calls onerror while the error is handled

    return onerror


@pytest.mark.parametrize("walker", [os.walk, rwalk.walk], ids=["os.walk", "rwalk.walk"])
@pytest.mark.parametrize("topdown", [True, False])
@pytest.mark.parametrize("options", [{}, {"max_depth": 5}], ids=["plain", "with-options"])
def test_onerror_is_called_while_the_error_is_being_handled(
    tree: Path, walker: Any, topdown: bool, options: dict[str, Any]
) -> None:
    # os.walk calls onerror inside "except OSError": there sys.exc_info() is the error,
    # a bare raise re-raises it, and logging.exception logs it (found by an audit).
    if walker is os.walk and options:
        pytest.skip("os.walk has no options")
    seen: list[bool] = []
    missing = str(tree / "missing")
    with pytest.raises(FileNotFoundError) as raised:
        list(walker(missing, topdown=topdown, onerror=_handling_report(seen), **options))
    assert seen == [True]
    assert raised.value.filename == missing


def test_an_exception_raised_by_onerror_has_the_error_as_its_context(tree: Path) -> None:
    class Stop(Exception):
        pass

    def onerror(error: OSError) -> None:
        raise Stop

    for walker in (os.walk, rwalk.walk):
        with pytest.raises(Stop) as raised:
            list(walker(str(tree / "missing"), onerror=onerror))
        assert isinstance(raised.value.__context__, FileNotFoundError)


def test_onerror_that_raises_ends_the_walk_with_its_exception(tree: Path) -> None:
    class Stop(Exception):
        pass

    def onerror(error: OSError) -> None:
        raise Stop(error.filename)

    walk = rwalk.walk(str(tree), onerror=onerror)
    dirpath, dirnames, _ = next(walk)
    dirpaths = [dirpath]
    dirnames[:] = ["missing", "sub1"]
    with pytest.raises(Stop, match=r"missing$"):
        dirpaths.append(next(walk)[0])
    assert dirpaths == [str(tree)]  # sub1, after the error, was never reached
    assert next(walk, None) is None  # and the walk is over


def test_scandir_failing_part_way_reports_and_skips_that_directory(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A directory whose listing fails after the first entry (an NFS server gone, an
    # I/O error) produces no tuple, its error goes to onerror, and the walk goes on.
    failing = f"{tree}/sub1"
    real_scandir = os.scandir

    class FailingScandir:
        def __init__(self, path: Any) -> None:
            self._iterator = real_scandir(path)
            self._path = path
            self._seen = 0

        def __enter__(self) -> FailingScandir:
            return self

        def __exit__(self, *exc: object) -> None:
            self._iterator.close()

        def __iter__(self) -> FailingScandir:
            return self

        def __next__(self) -> os.DirEntry[str]:
            if os.fspath(self._path) == failing and self._seen == 1:
                raise OSError(errno.EIO, "Input/output error", self._path)
            self._seen += 1
            return next(self._iterator)

        def close(self) -> None:
            self._iterator.close()

    monkeypatch.setattr(os, "scandir", FailingScandir)
    results = []
    for walk in (rwalk.walk, cpython_walk.make_walk(os)):
        errors, onerror = error_recorder()
        dirpaths = [dirpath for dirpath, _, _ in walk(str(tree), onerror=onerror)]
        assert errors == [("OSError", errno.EIO, failing)]
        assert failing not in dirpaths
        assert f"{tree}/sub1/sub11" not in dirpaths
        assert f"{tree}/sub2" in dirpaths
        results.append(dirpaths)
    assert results[0] == results[1]


def test_unreadable_directory_is_reported_when_not_root(world_reachable_tmp: Path) -> None:
    # Root reads any directory whatever its mode, and CI runs as root: a forked child
    # drops to an unprivileged user first (a subprocess could not run this Python, which
    # lives under /root with mode 0700).  The tree sits in a directory that user can
    # reach (world_reachable_tmp), not under pytest's private tmp_path.
    top = world_reachable_tmp / "tree"
    (top / "locked" / "inner").mkdir(parents=True)
    (top / "open").mkdir()
    for directory in (top, top / "open"):
        os.chmod(directory, 0o755)
    os.chmod(top / "locked", 0o000)

    def child() -> bytes:
        if os.getuid() == 0:
            try:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            except OSError as error:
                return f"SKIP cannot drop privileges: {error}".encode()
        errors, onerror = error_recorder()
        dirpaths = [dirpath for dirpath, _, _ in rwalk.walk(str(top), onerror=onerror)]
        return repr((dirpaths, errors)).encode()

    report = report_from_child(child).decode()
    os.chmod(top / "locked", 0o755)
    if report.startswith("SKIP "):
        pytest.skip(report[5:])
    assert report, "the unprivileged child reported nothing"
    dirpaths, errors = ast.literal_eval(report)
    assert errors == [("PermissionError", errno.EACCES, f"{top}/locked")]
    assert sorted(dirpaths) == [str(top), f"{top}/open"]


def test_unreadable_directory_in_pyfakefs_as_a_normal_user() -> None:
    from pyfakefs.fake_filesystem_unittest import Patcher

    with Patcher(allow_root_user=False) as patcher:
        assert patcher.fs is not None
        patcher.fs.create_dir("/data/open/inner")
        patcher.fs.create_dir("/data/locked")
        # No read permission, search kept: pyfakefs (unlike Linux) also stops reporting
        # a mode-000 directory as a directory in its parent's listing.
        os.chmod("/data/locked", 0o333)
        errors, onerror = error_recorder()
        dirpaths = [dirpath for dirpath, _, _ in rwalk.walk("/data", onerror=onerror)]
    assert errors == [("PermissionError", errno.EACCES, "/data/locked")]
    assert dirpaths == ["/data", "/data/open", "/data/open/inner"]


def test_running_out_of_file_descriptors_is_reported_through_onerror(tree: Path) -> None:
    result = run_python(
        """
        import errno, os, resource, sys
        import rwalk
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        hoard = []
        try:
            while True:
                hoard.append(os.open(os.devnull, os.O_RDONLY))
        except OSError as error:
            assert error.errno == errno.EMFILE
        errors = []
        tuples = list(rwalk.walk(sys.argv[1], onerror=errors.append))
        print(tuples, [(e.errno, e.filename) for e in errors])
        """,
        str(tree),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"[] [({errno.EMFILE}, {str(tree)!r})]"


def test_a_path_longer_than_path_max_is_reported_not_cut(tmp_path: Path) -> None:
    # 200-character names: the 21st level's path passes PATH_MAX (4096).  Built with
    # directory descriptors, since the path itself cannot be used.
    name = "n" * 200
    levels = 25
    descriptors = [os.open(tmp_path, os.O_RDONLY)]
    try:
        for _ in range(levels):
            os.mkdir(name, dir_fd=descriptors[-1])
            descriptors.append(os.open(name, os.O_RDONLY, dir_fd=descriptors[-1]))
        errors, onerror = error_recorder()
        dirpaths = [dirpath for dirpath, _, _ in rwalk.walk(str(tmp_path), onerror=onerror)]
    finally:
        # Remove the chain through the same descriptors: no path reaches its bottom.
        os.close(descriptors.pop())
        while descriptors:
            parent = descriptors.pop()
            os.rmdir(name, dir_fd=parent)
            os.close(parent)
    assert len(errors) == 1
    kind, number, filename = errors[0]
    assert (kind, number) == ("OSError", errno.ENAMETOOLONG)
    assert filename == dirpaths[-1] + "/" + name  # the full path, never shortened
    assert len(os.fsencode(filename)) >= 4096
    assert all(len(os.fsencode(path)) < 4096 for path in dirpaths)


def test_onerror_must_be_callable_and_top_a_path_checked_at_call_time() -> None:
    with pytest.raises(TypeError, match=r"^onerror must be callable or None, not int$"):
        rwalk.walk(".", onerror=42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"expected str, bytes or os\.PathLike object, not int"):
        rwalk.walk(3)  # type: ignore[type-var]


def test_walk_raises_an_audit_event_with_the_arguments_as_given() -> None:
    result = run_python(
        """
        import pathlib, sys, rwalk
        events = []
        def hook(event, args):
            if event == "rwalk.walk":
                events.append((event, args))
        sys.addaudithook(hook)
        rwalk.walk(pathlib.PurePosixPath("."), False, None, True)
        print(events)
        """
    )
    assert result.stdout.strip() == ("[('rwalk.walk', (PurePosixPath('.'), False, None, True))]"), (
        result.stderr
    )


@pytest.mark.skipif(
    not hasattr(os, "_walk_symlinks_as_files"), reason="a private marker of CPython 3.13+"
)
@pytest.mark.parametrize("topdown", [True, False])
def test_pathlibs_symlinks_as_files_marker_is_honoured_as_os_walk_does(
    tree: Path, topdown: bool
) -> None:
    # 3.13's pathlib.Path.walk passes this marker as followlinks: links (to directories
    # too) are files, and are not entered.  A drop-in must not read it as "true".
    marker = os._walk_symlinks_as_files  # type: ignore[attr-defined]
    ours = list(rwalk.walk(str(tree), topdown=topdown, followlinks=marker))
    assert ours == list(os.walk(str(tree), topdown=topdown, followlinks=marker))
    assert "link_to_outside" in as_sets(iter(ours))[f"{tree}/sub2"][1]


# -- Depth, descriptors and resources --------------------------------------------------


def build_chain(top: Path, levels: int) -> str:
    """A chain of one-letter directories ``top/d/d/.../d``; returns the deepest path."""
    path = os.fspath(top)
    for _ in range(levels):
        path = os.path.join(path, "d")
        os.mkdir(path)
    return path


def test_the_deepest_chain_linux_allows_walks_under_a_recursion_limit_of_50(
    tmp_path: Path,
) -> None:
    top = tmp_path / "c"  # short, so that 2,000 levels stay under PATH_MAX
    top.mkdir()
    levels = (4096 - len(os.fsencode(top)) - 2) // 2
    if levels < 1900:
        pytest.skip(f"the temporary directory's path is too long for a 2,000-level chain: {top}")
    deepest = build_chain(top, levels)
    result = run_python(
        """
        import sys, rwalk
        sys.setrecursionlimit(50)
        for topdown in (True, False):
            walked = [dirpath for dirpath, _, _ in rwalk.walk(sys.argv[1], topdown=topdown)]
            print(len(walked), walked[-1 if topdown else 0])
        """,
        str(top),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{levels + 1} {deepest}"] * 2
    # Clean up with the walk under test (shutil.rmtree of Python 3.10/3.11 recurses).
    for dirpath, _, _ in rwalk.walk(str(top), topdown=False):
        os.rmdir(dirpath)
    assert not top.exists()


def test_20000_levels_walk_under_a_recursion_limit_of_50_with_scandir_faked() -> None:
    result = run_python(
        """
        import os, sys
        LEVELS = 20_000

        class Entry:
            name = "d"
            def __init__(self, parent): self.path = parent + "/d"
            def is_dir(self): return True
            def is_symlink(self): return False

        class Listing:
            def __init__(self, path):
                depth = path.count("/")
                self._entries = [Entry(path)] if depth < LEVELS else []
            def __enter__(self): return self
            def __exit__(self, *exc): pass
            def __iter__(self): return iter(self._entries)

        os.scandir = Listing
        import rwalk
        sys.setrecursionlimit(50)
        for topdown in (True, False):
            count = deepest = 0
            for dirpath, dirnames, filenames in rwalk.walk("r", topdown=topdown):
                count += 1
                deepest = max(deepest, dirpath.count("/"))
            print(count, deepest)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["20001 20000"] * 2


@pytest.mark.parametrize("topdown", [True, False])
def test_no_descriptor_is_held_while_the_walk_is_suspended(tmp_path: Path, topdown: bool) -> None:
    build_chain(tmp_path, 30)
    before = open_descriptors()
    for _ in rwalk.walk(str(tmp_path), topdown=topdown):
        assert open_descriptors() == before


def test_closing_a_walk_early_leaves_no_descriptor_open(tmp_path: Path) -> None:
    build_chain(tmp_path, 30)
    before = open_descriptors()
    walk = rwalk.walk(str(tmp_path))
    for _ in range(10):
        next(walk)
    walk.close()  # type: ignore[attr-defined]
    del walk
    assert open_descriptors() == before


def test_100_interleaved_walks_run_within_64_descriptors(tmp_path: Path) -> None:
    build_chain(tmp_path, 30)
    result = run_python(
        """
        import resource, sys, rwalk
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        for topdown in (True, False):
            walks = [rwalk.walk(sys.argv[1], topdown=topdown) for _ in range(100)]
            counts = [0] * 100
            active = True
            while active:
                active = False
                for index, walk in enumerate(walks):
                    if next(walk, None) is not None:
                        counts[index] += 1
                        active = True
            print(set(counts))
        """,
        str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["{31}", "{31}"]


def test_walk_works_under_pyfakefs_patching() -> None:
    from pyfakefs.fake_filesystem_unittest import Patcher

    with Patcher() as patcher:
        assert patcher.fs is not None
        patcher.fs.create_file("/data/a/file")
        patcher.fs.create_symlink("/data/link", "/data/a")
        walked = as_sets(rwalk.walk("/data"))
    assert walked == {"/data": ({"a", "link"}, set()), "/data/a": (set(), {"file"})}
