"""Property: on any tree, rwalk.awalk yields exactly what rwalk.walk and os.walk yield.

Trees come from :func:`strategies.trees`, built on real disk and in a fresh pyfakefs
file system per example.  Each example compares the tuples and the errors handed to
``onerror`` (type, errno, filename), with ``dirnames`` shuffled, pruned and extended at
each step by a policy drawn from the seed (:func:`strategies.pruner`), and with the
walk's concurrency and read-ahead drawn too: the output must not depend on them.

References: on disk, CPython 3.13's algorithm (:mod:`cpython_walk`) and ``rwalk.walk``;
in pyfakefs, ``rwalk.walk`` over the same fake ``os`` (pyfakefs's own ``os.walk`` is not
the stdlib's algorithm), both reaching the fake file system through ``rwalk._scan``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from unittest import mock

from hypothesis import assume, given
from hypothesis import strategies as st
from pyfakefs import fake_filesystem, fake_os

import cpython_walk
import rwalk
from rwalk import _scan
from rwalk._tree import drive_async_iterator
from strategies import (
    FAKE_FS_TOP_KINDS,
    FOLLOW_DEPTH,
    SEEDS,
    TOP_KINDS,
    Options,
    TreeSpec,
    WalkResult,
    as_normal_user,
    build_in_fake_fs,
    depth_below,
    error_recorder,
    pruner,
    record_walk,
    run_walk,
    top_as,
    tree_on_disk,
    trees,
)


@dataclass(frozen=True)
class Settings:
    """How awalk is asked to schedule, and how fast directories list: neither may
    change what it yields."""

    concurrency: int
    read_ahead: int
    slow: bool
    """Every ``os.scandir`` waits 0.6 ms first (on disk): listing then waits on "I/O",
    and the walk runs several jobs on its shared frontier, in parallel."""


SETTINGS = st.builds(
    Settings,
    concurrency=st.sampled_from([1, 2, 32]),
    read_ahead=st.sampled_from([0, 1, 4, 1024]),
    slow=st.booleans(),
)
SLOW_SCANDIR_SECONDS = 0.0006


def slow_scandir() -> Any:
    """``os.scandir`` that first waits, as on a network file system."""
    real_scandir = os.scandir

    def scandir(path: Any) -> Any:
        threading.Event().wait(SLOW_SCANDIR_SECONDS)
        return real_scandir(path)

    return mock.patch("os.scandir", scandir)


def run_async(top: Any, options: Options, settings: Settings) -> WalkResult:
    """As :func:`strategies.record_walk`, for awalk: record each tuple, then edit."""
    errors, onerror = error_recorder()
    prune = None if options.seed is None else pruner(options.seed)
    fspath_top = os.fspath(top)

    async def collect(walk: AsyncIterator[tuple[Any, list[Any], list[Any]]]) -> WalkResult:
        tuples = []
        async for dirpath, dirnames, filenames in walk:
            tuples.append((dirpath, list(dirnames), list(filenames)))
            if prune is not None:
                prune(dirpath, dirnames, filenames)
            if options.max_depth is not None and (
                depth_below(fspath_top, dirpath) >= options.max_depth
            ):
                dirnames.clear()
        return WalkResult(tuples, errors)

    walk = rwalk.awalk(
        top,
        options.topdown,
        onerror,
        options.followlinks,
        concurrency=settings.concurrency,
        read_ahead=settings.read_ahead,
    )
    return asyncio.run(collect(walk))


def assert_same_walks_on_disk(
    spec: TreeSpec, top_kind: str, options: Options, settings: Settings
) -> None:
    with tree_on_disk(spec) as root:
        top = top_as(top_kind, root)
        expected = run_walk(cpython_walk.make_walk(os), top, options)
        assert run_walk(rwalk.walk, top, options) == expected
        with slow_scandir() if settings.slow else contextlib.nullcontext():
            actual = run_async(top, options, settings)
        assert actual == expected


@given(
    spec=trees(),
    topdown=st.booleans(),
    top_kind=TOP_KINDS,
    seed=st.none() | SEEDS,
    settings=SETTINGS,
)
def test_awalk_matches_os_walk_on_disk(
    spec: TreeSpec, topdown: bool, top_kind: str, seed: int | None, settings: Settings
) -> None:
    assert_same_walks_on_disk(spec, top_kind, Options(topdown, False, seed), settings)


@given(spec=trees(), top_kind=TOP_KINDS, seed=st.none() | SEEDS, settings=SETTINGS)
def test_awalk_following_links_top_down_matches_os_walk_on_disk(
    spec: TreeSpec, top_kind: str, seed: int | None, settings: Settings
) -> None:
    options = Options(True, True, seed, FOLLOW_DEPTH)
    assert_same_walks_on_disk(spec, top_kind, options, settings)


@given(spec=trees(max_links_to_directories=1), top_kind=TOP_KINDS, settings=SETTINGS)
def test_awalk_following_links_bottom_up_matches_os_walk_on_disk(
    spec: TreeSpec, top_kind: str, settings: Settings
) -> None:
    # At most one link to a directory, so that a cycle ends at the kernel's limit of
    # 40 links per lookup (as in the walk's own property test).
    assert_same_walks_on_disk(spec, top_kind, Options(False, True, None), settings)


@given(
    spec=trees(fifos=False, undecodable=False),
    topdown=st.booleans(),
    followlinks=st.booleans(),
    top_kind=FAKE_FS_TOP_KINDS,
    seed=st.none() | SEEDS,
    settings=SETTINGS,
)
def test_awalk_matches_walk_in_pyfakefs(
    *,
    spec: TreeSpec,
    topdown: bool,
    followlinks: bool,
    top_kind: str,
    seed: int | None,
    settings: Settings,
) -> None:
    filesystem = fake_filesystem.FakeFilesystem()
    fake_os_module = fake_os.FakeOsModule(filesystem)
    root = "/data/root"
    build_in_fake_fs(filesystem, root, spec)
    top = top_as(top_kind, root)
    # Bottom-up walks that follow links are finite only with at most one link to a
    # directory (see the disk test); top-down ones are bounded by clearing dirnames.
    assume(not (followlinks and not topdown and spec.links_to_directories > 1))
    options = Options(topdown, followlinks, seed, FOLLOW_DEPTH if followlinks else None)
    # A normal user, so that unreadable directories fail to list (PermissionError).
    with as_normal_user(), mock.patch.object(_scan, "os", fake_os_module):
        expected = run_walk(rwalk.walk, top, options)
        # The worker threads see the fake os too: it is _scan's module global.
        actual = run_async(top, options, settings)
    assert actual == expected


@given(
    spec=trees(max_links_to_directories=1),
    topdown=st.booleans(),
    followlinks=st.booleans(),
    seed=st.none() | SEEDS,
    max_depth=st.none() | st.integers(0, 3),
    detect_loops=st.booleans(),
    sort=st.booleans(),
    settings=SETTINGS,
)
def test_awalk_with_options_matches_walk_with_options_on_disk(  # noqa: PLR0917 - hypothesis passes these by name
    spec: TreeSpec,
    topdown: bool,
    followlinks: bool,
    seed: int | None,
    max_depth: int | None,
    detect_loops: bool,
    sort: bool,
    settings: Settings,
) -> None:
    # The walk with options is rwalk.walk's per-directory functions, scheduled by
    # awalk: the same tuples and the same errors (ELOOP included), in the same order,
    # with the caller's edits, whatever the scheduling.
    if followlinks and max_depth is None:
        max_depth = FOLLOW_DEPTH  # links to ancestors: bounded
    walk_options = {"max_depth": max_depth, "detect_loops": detect_loops, "sort": sort}

    def run(walk: Any, top: str) -> WalkResult:
        errors, onerror = error_recorder()
        tuples = walk(
            top, topdown=topdown, onerror=onerror, followlinks=followlinks, **walk_options
        )
        prune = None if seed is None else pruner(seed)
        return record_walk(tuples, errors, top=top, prune=prune)

    def awalk(top: str, **arguments: Any) -> Any:
        return drive_async_iterator(
            rwalk.awalk(
                top,
                concurrency=settings.concurrency,
                read_ahead=settings.read_ahead,
                **arguments,
            )
        )

    with tree_on_disk(spec) as root:
        expected = run(rwalk.walk, root)
        with slow_scandir() if settings.slow else contextlib.nullcontext():
            actual = run(awalk, root)
    assert actual == expected
