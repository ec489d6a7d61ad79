"""The options beyond os.walk, checked against models on hypothesis-generated trees.

Each property states what an option must mean in terms of the plain walk (which the
other suites prove equal to CPython 3.13's os.walk):

- ``max_depth=k`` is the unlimited walk with everything below depth k removed;
- ``sort=True`` is the walk whose caller sorts each listing (post-order, bottom-up);
- ``detect_loops=True`` with ``followlinks=True`` is a following walk that prunes every
  directory already on its own path, reporting each such place once; on trees without
  cycles it is exactly the following walk;
- ``one_filesystem=True`` enters nothing on another device;
- ``walk_entries`` is ``walk`` with entries in place of names.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import os
import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rwalk
from rwalk._tree import drive_async_iterator
from strategies import (
    ErrorRecord,
    TreeSpec,
    WalkRecord,
    depth_below,
    error_recorder,
    pruner,
    record_walk,
    tree_on_disk,
    trees,
)

SEEDS = st.none() | st.integers(0, 2**32 - 1)


def awalk_as_iterator(top: Any, **options: Any) -> Iterator[Any]:
    """rwalk.awalk, driven step by step so that the caller's edits land between steps."""
    return drive_async_iterator(rwalk.awalk(top, **options))


def awalk_entries_as_iterator(top: Any, *args: Any, **options: Any) -> Iterator[Any]:
    return drive_async_iterator(rwalk.awalk_entries(top, *args, **options))


# Every property runs for the synchronous and the asynchronous walk.
WALKERS = pytest.mark.parametrize("walker", [rwalk.walk, awalk_as_iterator], ids=["walk", "awalk"])


def walked(
    top: str,
    *,
    walker: Callable[..., Iterator[Any]] = rwalk.walk,
    seed: int | None = None,
    edit: Callable[[Any, list[Any]], None] | None = None,
    **options: Any,
) -> tuple[list[WalkRecord], list[ErrorRecord]]:
    """Run rwalk.walk with ``options``; apply ``edit`` (before pruning) at each step."""
    errors, onerror = error_recorder()
    prune = pruner(seed) if seed is not None else None

    def edit_and_prune(dirpath: Any, dirnames: list[Any], filenames: list[Any]) -> None:
        if edit is not None:
            edit(dirpath, dirnames)
        if prune is not None:
            prune(dirpath, dirnames, filenames)

    result = record_walk(
        rwalk.walk(top, onerror=onerror, **options), errors, top=top, prune=edit_and_prune
    )
    return result.tuples, result.errors


# -- max_depth -------------------------------------------------------------------------


@WALKERS
@given(spec=trees(), topdown=st.booleans(), max_depth=st.integers(0, 3), seed=SEEDS)
def test_max_depth_is_the_unlimited_walk_cut_below_that_depth(
    walker: Callable[..., Iterator[Any]],
    spec: TreeSpec,
    topdown: bool,
    max_depth: int,
    seed: int | None,
) -> None:
    with tree_on_disk(spec) as top:
        tuples, errors = walked(top, walker=walker, topdown=topdown, seed=seed, max_depth=max_depth)
        all_tuples, all_errors = walked(top, walker=walker, topdown=topdown, seed=seed)
        assert tuples == [t for t in all_tuples if depth_below(top, t[0]) <= max_depth]
        assert errors == [e for e in all_errors if depth_below(top, e[2]) <= max_depth]


def test_max_depth_zero_yields_only_top_with_its_full_listing(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "file").write_text("")
    for topdown in (True, False):
        assert list(rwalk.walk(str(tmp_path), topdown=topdown, max_depth=0)) == [
            (str(tmp_path), ["a"], ["file"])
        ]


# -- sort ------------------------------------------------------------------------------


def post_order(tuples: list[WalkRecord], top: str) -> list[WalkRecord]:
    """The bottom-up order of a sorted top-down walk: children (in order), then parent."""
    by_path = {dirpath: (dirnames, filenames) for dirpath, dirnames, filenames in tuples}
    order: list[WalkRecord] = []

    def visit(path: str) -> None:
        dirnames, filenames = by_path[path]
        for name in dirnames:
            child = os.path.join(path, name)
            if child in by_path:
                visit(child)
        order.append((path, dirnames, filenames))

    visit(top)
    return order


def sort_in_place(dirpath: Any, dirnames: list[Any]) -> None:
    dirnames.sort()


@WALKERS
@given(spec=trees(), seed=SEEDS)
def test_sort_is_the_walk_whose_caller_sorts_each_listing(
    walker: Callable[..., Iterator[Any]], spec: TreeSpec, seed: int | None
) -> None:
    with tree_on_disk(spec) as top:
        tuples, errors = walked(top, walker=walker, seed=seed, sort=True)
        reference, reference_errors = walked(top, walker=walker, seed=seed, edit=sort_in_place)
        # The reference recorded each listing before its caller sorted it.
        assert tuples == [(path, sorted(dirs), sorted(files)) for path, dirs, files in reference]
        assert errors == reference_errors


@WALKERS
@given(spec=trees())
def test_sort_bottom_up_is_the_sorted_tree_in_post_order(
    walker: Callable[..., Iterator[Any]], spec: TreeSpec
) -> None:
    with tree_on_disk(spec) as top:
        tuples, _ = walked(top, walker=walker, topdown=False, sort=True)
        sorted_top_down, _ = walked(top, walker=walker, sort=True)
        assert tuples == post_order(sorted_top_down, top)


def test_sort_takes_a_key_and_sorts_bytes_by_byte_value(tmp_path: Path) -> None:
    for name in ("b", "A", "a", "\udcff"):
        (tmp_path / name).mkdir()
    (_, dirnames, _), *_ = rwalk.walk(str(tmp_path), sort=str.lower, max_depth=0)
    assert dirnames[:2] in (["A", "a"], ["a", "A"])  # a stable sort keeps scan order
    assert dirnames[2:] == ["b", "\udcff"]
    (_, byte_names, _), *_ = rwalk.walk(os.fsencode(tmp_path), sort=True, max_depth=0)
    assert byte_names == [b"A", b"a", b"b", b"\xff"]


# -- detect_loops ----------------------------------------------------------------------


def following_walk_that_prunes_its_ancestors(
    top: str,
) -> tuple[list[WalkRecord], list[tuple[str, str]]]:
    """The model: os.walk(followlinks=True), its caller pruning every directory that is
    one of its own ancestors (by device and inode), noting (path, ancestor) for each."""
    chains: dict[str, list[tuple[tuple[int, int], str]]] = {}
    tuples: list[WalkRecord] = []
    loops: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(top, followlinks=True):
        tuples.append((dirpath, list(dirnames), list(filenames)))
        status = os.stat(dirpath)
        parent_chain = chains.get(os.path.dirname(dirpath), []) if dirpath != top else []
        chain = [*parent_chain, ((status.st_dev, status.st_ino), dirpath)]
        chains[dirpath] = chain
        ancestors = dict(chain)
        keep = []
        for name in dirnames:
            child = os.path.join(dirpath, name)
            child_status = os.stat(child)
            identity = (child_status.st_dev, child_status.st_ino)
            if identity in ancestors:
                loops.append((child, ancestors[identity]))
            else:
                keep.append(name)
        dirnames[:] = keep
    return tuples, loops


@WALKERS
@given(spec=trees(max_links=5))
def test_detect_loops_enters_each_path_that_does_not_revisit_an_ancestor(
    walker: Callable[..., Iterator[Any]],
    spec: TreeSpec,
) -> None:
    with tree_on_disk(spec) as top:
        expected_tuples, expected_loops = following_walk_that_prunes_its_ancestors(top)
        tuples, errors = walked(top, walker=walker, followlinks=True, detect_loops=True)
        assert tuples == expected_tuples
        assert sorted(errors) == sorted(
            ("OSError", errno.ELOOP, path) for path, _ in expected_loops
        )
        bottom_up, bottom_up_errors = walked(
            top, topdown=False, followlinks=True, detect_loops=True
        )
        assert sorted(bottom_up) == sorted(expected_tuples)
        assert sorted(bottom_up_errors) == sorted(errors)
        if not expected_loops:
            # No cycle: exactly the plain following walk.
            assert tuples == walked(top, walker=walker, followlinks=True)[0]


def test_a_loop_error_names_the_link_and_the_ancestor(tmp_path: Path) -> None:
    (tmp_path / "t" / "a").mkdir(parents=True)
    (tmp_path / "t" / "a" / "up").symlink_to("..")
    errors: list[OSError] = []
    walk = rwalk.walk(
        str(tmp_path / "t"), followlinks=True, detect_loops=True, onerror=errors.append
    )
    assert [dirpath for dirpath, _, _ in walk] == [f"{tmp_path}/t", f"{tmp_path}/t/a"]
    [error] = errors
    assert error.errno == errno.ELOOP
    assert error.filename == f"{tmp_path}/t/a/up"
    assert str(error.strerror).endswith(f"same directory as its ancestor '{tmp_path}/t'")


@WALKERS
@pytest.mark.parametrize("topdown", [True, False], ids=["top-down", "bottom-up"])
def test_loop_errors_come_between_the_subtrees_around_them(
    tmp_path: Path, walker: Callable[..., Iterator[Any]], topdown: bool
) -> None:
    # As with os.walk's own errors: each is reported where the walk meets it, after
    # the subtrees before it and before those after it.
    #
    #   t/
    #   ├── a/x/
    #   ├── b -> .         (loop: t)
    #   ├── c/
    #   │   ├── up -> ..   (loop: t)
    #   │   └── y/
    #   └── d/
    top = tmp_path / "t"
    for directory in ("a/x", "c/y", "d"):
        (top / directory).mkdir(parents=True)
    (top / "b").symlink_to(".")
    (top / "c" / "up").symlink_to("..")
    events: list[tuple[str, str]] = []

    def onerror(error: OSError) -> None:
        assert error.errno == errno.ELOOP
        events.append(("loop", os.path.relpath(error.filename, top)))

    for dirpath, _, _ in walker(
        str(top), topdown=topdown, followlinks=True, detect_loops=True, sort=True, onerror=onerror
    ):
        events.append(("dir", os.path.relpath(dirpath, top)))
    if topdown:
        expected = [
            ("dir", "."), ("dir", "a"), ("dir", "a/x"), ("loop", "b"),
            ("dir", "c"), ("loop", "c/up"), ("dir", "c/y"), ("dir", "d"),
        ]  # fmt: skip
    else:
        expected = [
            ("dir", "a/x"), ("dir", "a"), ("loop", "b"), ("loop", "c/up"),
            ("dir", "c/y"), ("dir", "c"), ("dir", "d"), ("dir", "."),
        ]  # fmt: skip
    assert events == expected


def test_two_links_pointing_up_end_instead_of_exploding(tmp_path: Path) -> None:
    # With os.walk(followlinks=True) this tree yields paths without end (each level
    # doubles them until the kernel's 40-link limit): the loop-safe walk sees 3.
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "up1").symlink_to("..")
    (tmp_path / "a" / "up2").symlink_to("..")
    errors: list[OSError] = []
    dirpaths = [
        dirpath
        for dirpath, _, _ in rwalk.walk(
            str(tmp_path), followlinks=True, detect_loops=True, onerror=errors.append
        )
    ]
    assert dirpaths == [str(tmp_path), f"{tmp_path}/a"]
    assert sorted(error.filename for error in errors) == [f"{tmp_path}/a/up1", f"{tmp_path}/a/up2"]


def test_two_links_to_one_directory_from_different_branches_are_both_entered(
    tmp_path: Path,
) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    (tmp_path / "one" / "link").symlink_to("../shared")
    (tmp_path / "two" / "link").symlink_to("../shared")
    dirpaths = {
        dirpath for dirpath, _, _ in rwalk.walk(str(tmp_path), followlinks=True, detect_loops=True)
    }
    assert {f"{tmp_path}/one/link", f"{tmp_path}/two/link", f"{tmp_path}/shared"} <= dirpaths


# -- one_filesystem --------------------------------------------------------------------


@WALKERS
def test_one_filesystem_does_not_enter_another_device_faked(
    tmp_path: Path, walker: Callable[..., Iterator[Any]]
) -> None:
    # The mount point is simulated: "mounted" reports another st_dev to os.stat.
    (tmp_path / "mounted" / "inside").mkdir(parents=True)
    (tmp_path / "local" / "inside").mkdir(parents=True)
    real_stat = os.stat

    def stat(path: Any, *args: Any, **keywords: Any) -> os.stat_result:
        result = real_stat(path, *args, **keywords)
        if os.fspath(path).rstrip("/").endswith("/mounted"):
            fields = list(result)
            fields[2] = result.st_dev + 1  # st_dev
            return os.stat_result(fields)
        return result

    with mock.patch.object(os, "stat", stat):
        for topdown in (True, False):
            walked_paths = [
                dirpath
                for dirpath, _, _ in walker(str(tmp_path), topdown=topdown, one_filesystem=True)
            ]
            assert f"{tmp_path}/mounted" not in walked_paths
            assert f"{tmp_path}/local/inside" in walked_paths
            listing = {
                path: dirs for path, dirs, _ in rwalk.walk(str(tmp_path), one_filesystem=True)
            }
            assert sorted(listing[str(tmp_path)]) == ["local", "mounted"]  # still listed


@WALKERS
@pytest.mark.parametrize("topdown", [True, False], ids=["top-down", "bottom-up"])
def test_one_filesystem_following_a_link_cycle_walks_as_followlinks_does(
    tmp_path: Path, walker: Callable[..., Iterator[Any]], topdown: bool
) -> None:
    # One file system, so one_filesystem changes nothing: a directory entered below
    # itself through a link is entered, as os.walk enters it, until the kernel's limit
    # on links per lookup ends the descent.  (It raised KeyError: the directory's id
    # was taken off the ancestors twice.)
    #
    #   top/a/up -> ..      (a cycle: top/a/up/a/up/... )
    (tmp_path / "top" / "a").mkdir(parents=True)
    (tmp_path / "top" / "a" / "up").symlink_to("..")
    top = str(tmp_path / "top")
    expected = [
        (dirpath, sorted(dirs), sorted(files))
        for dirpath, dirs, files in os.walk(top, topdown=topdown, followlinks=True)
    ]
    actual = [
        (dirpath, sorted(dirs), sorted(files))
        for dirpath, dirs, files in walker(
            top, topdown=topdown, followlinks=True, one_filesystem=True
        )
    ]
    assert actual == expected
    assert len(expected) > 20  # the cycle was followed


@pytest.mark.skipif(
    shutil.which("unshare") is None or os.geteuid() != 0,
    reason="needs root and unshare to mount a tmpfs in a private mount namespace",
)
def test_one_filesystem_on_a_real_second_filesystem(tmp_path: Path) -> None:
    (tmp_path / "mnt").mkdir()
    (tmp_path / "local").mkdir()
    script = textwrap.dedent(
        """
        import os, sys, rwalk
        top = sys.argv[1]
        os.makedirs(os.path.join(top, "mnt", "on-tmpfs"))
        print(sorted(d for d, _, _ in rwalk.walk(top, one_filesystem=True)))
        print(sorted(d for d, _, _ in rwalk.walk(top)))
        """
    )
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c",
         'mount -t tmpfs rwalk-test "$1/mnt" && exec "$2" -c "$3" "$1"',
         "sh", str(tmp_path), sys.executable, script],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if result.returncode != 0 and "mount" in result.stderr + result.stdout:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    one, every = result.stdout.splitlines()
    top = str(tmp_path)
    # The mount point is listed and yielded? No: it is listed in its parent's dirnames
    # but, being on another device, not entered.
    assert one == repr(sorted([top, f"{top}/local"]))
    assert every == repr(sorted([top, f"{top}/local", f"{top}/mnt", f"{top}/mnt/on-tmpfs"]))


# -- walk_entries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "entries_walker",
    [rwalk.walk_entries, awalk_entries_as_iterator],
    ids=["walk_entries", "awalk_entries"],
)
@given(
    spec=trees(),
    topdown=st.booleans(),
    sort=st.booleans(),
    max_depth=st.none() | st.integers(0, 2),
    seed=SEEDS,
)
def test_walk_entries_is_walk_with_entries_for_names(  # noqa: PLR0917 - hypothesis and pytest pass these by name
    entries_walker: Callable[..., Iterator[Any]],
    spec: TreeSpec,
    topdown: bool,
    sort: bool,
    max_depth: int | None,
    seed: int | None,
) -> None:
    # Edits shuffle and drop (an entry cannot be made up for a missing name): the same
    # decisions, by name, for both walks.
    prune = pruner(seed, add_names=False) if seed is not None else None

    def edit(dirpath: Any, dirnames: list[Any]) -> None:
        if prune is not None:
            prune(dirpath, dirnames, [])

    with tree_on_disk(spec) as top:
        names, errors = walked(top, edit=edit, topdown=topdown, sort=sort, max_depth=max_depth)
        entry_errors, onerror = error_recorder()
        as_names = []
        entry_walk = rwalk.walk_entries(top, topdown, onerror, sort=sort, max_depth=max_depth)
        for dirpath, directories, files in entry_walk:
            for entry in (*directories, *files):
                assert entry.path == os.path.join(dirpath, entry.name)
            as_names.append(
                (dirpath, [entry.name for entry in directories], [entry.name for entry in files])
            )
            dirnames = [entry.name for entry in directories]
            edit(dirpath, dirnames)
            by_name = {entry.name: entry for entry in directories}
            directories[:] = [by_name[name] for name in dirnames]
        assert as_names == names
        assert entry_errors == errors


# -- Bad values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"max_depth": -1}, ValueError, "max_depth must be 0 or more, not -1"),
        ({"max_depth": 1.5}, TypeError, "max_depth must be an int or None, not float"),
        ({"max_depth": True}, TypeError, "max_depth must be an int or None, not bool"),
        ({"sort": 3}, TypeError, "sort must be True, False or a key function, not int"),
        ({"detect_loops": "yes"}, TypeError, "detect_loops must be True or False, not str"),
        ({"one_filesystem": 1}, TypeError, "one_filesystem must be True or False, not int"),
    ],
)
@pytest.mark.parametrize(
    "walk",
    [rwalk.walk, rwalk.walk_entries, rwalk.awalk, rwalk.awalk_entries],
    ids=["walk", "walk_entries", "awalk", "awalk_entries"],
)
def test_bad_option_values_fail_at_the_call_naming_the_argument(
    walk: Callable[..., Any], options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with (
        mock.patch.object(os, "scandir", side_effect=AssertionError("I/O happened")),
        pytest.raises(error, match=f"^{message}$"),
    ):
        walk("/nonexistent", **options)


# -- awalk with options: the loop's side -----------------------------------------------


def test_awalk_with_options_reports_on_the_loop_thread_and_awaits_a_coroutine(
    tmp_path: Path,
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "up").symlink_to("..")
    threads: list[int] = []

    async def onerror(error: OSError) -> None:
        threads.append(threading.get_ident())
        await asyncio.sleep(0)

    async def main() -> list[str]:
        loop_thread.append(threading.get_ident())
        return [
            root
            async for root, _, _ in rwalk.awalk(
                str(tmp_path), followlinks=True, detect_loops=True, onerror=onerror
            )
        ]

    loop_thread: list[int] = []
    assert asyncio.run(main()) == [str(tmp_path), f"{tmp_path}/a"]
    assert threads == loop_thread


def test_awalk_with_options_closed_early_leaves_no_descriptor(tmp_path: Path) -> None:
    path = tmp_path
    for _ in range(10):
        path = path / "d"
        path.mkdir()
    before = set(os.listdir("/proc/self/fd"))

    async def main() -> None:
        async for _ in rwalk.awalk(str(tmp_path), max_depth=20):
            break

    asyncio.run(main())
    assert set(os.listdir("/proc/self/fd")) == before


def test_awalk_options_need_threads_not_processes() -> None:
    with (
        concurrent.futures.ProcessPoolExecutor(1) as pool,
        pytest.raises(ValueError, match="executor must run its tasks in this process"),
    ):
        rwalk.awalk(".", max_depth=1, executor=pool)


# -- awalk with options: what review found ----------------------------------------------


def _events_sync(function: Any, top: str, edit: Any, **options: Any) -> list[Any]:
    events: list[Any] = []
    onerror = lambda error: events.append(("error", error.errno, error.filename))  # noqa: E731
    for dirpath, dirs, _ in function(top, onerror=onerror, **options):
        events.append(("dir", os.path.relpath(dirpath, top)))
        edit(dirpath, dirs)
    return events


def _events_async(function: Any, top: str, edit: Any, **options: Any) -> list[Any]:
    events: list[Any] = []
    onerror = lambda error: events.append(("error", error.errno, error.filename))  # noqa: E731

    async def run() -> None:
        async for dirpath, dirs, _ in function(top, onerror=onerror, **options):
            events.append(("dir", os.path.relpath(dirpath, top)))
            edit(dirpath, dirs)

    try:
        asyncio.run(asyncio.wait_for(run(), 5))
    except TimeoutError:
        events.append("HUNG")
    return events


# A caller that names a directory twice (found in review: awalk with options hung).
#
#   t/
#   ├── a/x/
#   └── b/
@pytest.mark.parametrize("entries", [False, True], ids=["names", "entries"])
@pytest.mark.parametrize(
    "options",
    [{"sort": True}, {"max_depth": 5}, {"detect_loops": True}, {"one_filesystem": True}],
    ids=["sort", "max_depth", "detect_loops", "one_filesystem"],
)
def test_a_name_the_caller_gives_twice_is_walked_twice_as_walk_does(
    tmp_path: Path, entries: bool, options: dict[str, Any]
) -> None:
    top = str(tmp_path / "t")
    for directory in ("a/x", "b"):
        os.makedirs(os.path.join(top, directory))

    def edit(dirpath: str, dirs: list[Any]) -> None:
        if dirpath == top:
            dirs.sort(key=lambda item: getattr(item, "name", item))
            dirs.append(dirs[0])  # "a" again: os.walk and rwalk.walk enter it twice

    sync_function = rwalk.walk_entries if entries else rwalk.walk
    async_function = rwalk.awalk_entries if entries else rwalk.awalk
    expected = _events_sync(sync_function, top, edit, **options)
    assert expected == [("dir", d) for d in (".", "a", "a/x", "b", "a", "a/x")]
    assert _events_async(async_function, top, edit, **options) == expected


def test_an_absolute_path_equal_to_a_child_is_walked_as_walk_does(tmp_path: Path) -> None:
    top = str(tmp_path / "t")
    os.makedirs(os.path.join(top, "a"))

    def edit(dirpath: str, dirs: list[Any]) -> None:
        if dirpath == top:
            dirs.append(os.path.join(top, "a"))  # joins to the same path as "a"

    expected = _events_sync(rwalk.walk, top, edit, sort=True)
    assert _events_async(rwalk.awalk, top, edit, sort=True) == expected


# Listing ahead never opens what one_filesystem / detect_loops will not enter (found in
# review: speculative jobs listed the other device, and ran around cycles).
#
#   t/
#   ├── local/inside/
#   └── mounted/inside/deep/     ("mounted" reports another st_dev)
@pytest.mark.parametrize("topdown", [True, False], ids=["top-down", "bottom-up"])
def test_one_filesystem_lists_nothing_on_another_device(tmp_path: Path, topdown: bool) -> None:
    top = str(tmp_path / "t")
    for directory in ("local/inside", "mounted/inside/deep"):
        os.makedirs(os.path.join(top, directory))
    real_stat, real_scandir = os.stat, os.scandir
    listed: list[str] = []

    def stat(path: Any, *args: Any, **keywords: Any) -> os.stat_result:
        result = real_stat(path, *args, **keywords)
        if os.fspath(path).rstrip("/").endswith("/mounted"):
            fields = list(result)
            fields[2] = result.st_dev + 1
            return os.stat_result(fields)
        return result

    def scandir(path: Any) -> Any:
        listed.append(os.path.relpath(os.fspath(path), top))
        return real_scandir(path)

    async def run() -> None:
        async for _ in rwalk.awalk(top, topdown, one_filesystem=True):
            pass

    with mock.patch.object(os, "stat", stat), mock.patch.object(os, "scandir", scandir):
        list(rwalk.walk(top, topdown, one_filesystem=True))
        by_walk = sorted(listed)
        listed.clear()
        asyncio.run(run())
    assert by_walk == [".", "local", "local/inside"]
    # as find -xdev: nothing on the other device is opened (autofs, a hung NFS, /proc)
    assert sorted(set(listed)) == by_walk


@pytest.mark.parametrize("topdown", [True, False], ids=["top-down", "bottom-up"])
def test_detect_loops_lists_no_directory_through_a_cycle(tmp_path: Path, topdown: bool) -> None:
    #   t/d/up1 -> ..   t/d/up2 -> ..      (rwalk.walk: 2 listings; awalk: 156)
    top = str(tmp_path / "t")
    os.makedirs(os.path.join(top, "d"))
    os.symlink("..", os.path.join(top, "d", "up1"))
    os.symlink("..", os.path.join(top, "d", "up2"))
    real_scandir = os.scandir
    listed: list[str] = []

    def scandir(path: Any) -> Any:
        listed.append(os.fspath(path))
        return real_scandir(path)

    async def run() -> None:
        async for _ in rwalk.awalk(top, topdown, followlinks=True, detect_loops=True):
            pass

    with mock.patch.object(os, "scandir", scandir):
        list(rwalk.walk(top, topdown, followlinks=True, detect_loops=True))
        by_walk = len(listed)
        listed.clear()
        asyncio.run(run())
    assert by_walk == 2
    assert len(listed) == by_walk
