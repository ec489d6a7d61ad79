"""Property: on any tree, rwalk.walk yields exactly what CPython 3.13's os.walk yields.

Trees come from :func:`strategies.trees` and are built on real disk (a fresh temporary
directory per example) and in pyfakefs (a fresh fake file system per example: the
function-scoped ``fs`` fixture cannot be shared across hypothesis examples).  Each
example compares the yielded tuples *and* the errors handed to ``onerror`` (type, errno,
filename), with ``dirnames`` shuffled, pruned and extended (with files and missing
names, which make ``onerror`` fire) at each step by a policy drawn from the seed, so
that the walk must follow the caller's edits exactly as os.walk does.

References: on disk, both this Python's ``os.walk`` and the vendored 3.13 copy
(:mod:`cpython_walk`); in pyfakefs, the vendored copy bound to the fake ``os`` module
(pyfakefs's own ``os.walk`` is not the stdlib's algorithm).
"""

from __future__ import annotations

import os
from unittest import mock

from hypothesis import event, given
from hypothesis import strategies as st
from pyfakefs import fake_filesystem, fake_os

import cpython_walk
import rwalk
from rwalk import _scan
from strategies import (
    FAKE_FS_TOP_KINDS,
    FOLLOW_DEPTH,
    SEEDS,
    TOP_KINDS,
    Options,
    TreeSpec,
    as_normal_user,
    build_in_fake_fs,
    run_walk,
    top_as,
    tree_on_disk,
    trees,
)


def assert_same_walks_on_disk(
    spec: TreeSpec,
    *,
    top_kind: str,
    topdown: bool,
    followlinks: bool,
    seed: int | None,
    max_depth: int | None = None,
) -> None:
    with tree_on_disk(spec) as root:
        top = top_as(top_kind, root)
        options = Options(topdown, followlinks, seed, max_depth)
        expected = run_walk(cpython_walk.make_walk(os), top, options)
        # Visible with --hypothesis-show-statistics: how often onerror was exercised.
        event("onerror called" if expected.errors else "no errors")
        assert run_walk(rwalk.walk, top, options) == expected
        # This interpreter's own os.walk agrees too (3.10/3.11's recursive one differs
        # from 3.13 only on deep trees and on races, which these trees don't have).
        assert run_walk(os.walk, top, options) == expected


@given(spec=trees(), topdown=st.booleans(), top_kind=TOP_KINDS, seed=st.none() | SEEDS)
def test_walk_matches_os_walk_on_disk(
    spec: TreeSpec, topdown: bool, top_kind: str, seed: int | None
) -> None:
    assert_same_walks_on_disk(
        spec, top_kind=top_kind, topdown=topdown, followlinks=False, seed=seed
    )


@given(spec=trees(), top_kind=TOP_KINDS, seed=st.none() | SEEDS)
def test_walk_following_links_top_down_matches_os_walk_on_disk(
    spec: TreeSpec, top_kind: str, seed: int | None
) -> None:
    assert_same_walks_on_disk(
        spec,
        top_kind=top_kind,
        topdown=True,
        followlinks=True,
        seed=seed,
        max_depth=FOLLOW_DEPTH,
    )


@given(spec=trees(max_links_to_directories=1), top_kind=TOP_KINDS, seed=st.none() | SEEDS)
def test_walk_following_links_bottom_up_matches_os_walk_on_disk(
    spec: TreeSpec, top_kind: str, seed: int | None
) -> None:
    # At most one link to a directory: a cycle then repeats until the kernel's limit
    # of 40 links per path lookup ends it (the last link reads as a file), a finite
    # walk to compare.  Edits are applied too, and must have no effect bottom-up.
    assert_same_walks_on_disk(spec, top_kind=top_kind, topdown=False, followlinks=True, seed=seed)


def assert_same_walks_in_fake_fs(
    spec: TreeSpec, *, top_kind: str, topdown: bool, followlinks: bool, seed: int | None
) -> None:
    filesystem = fake_filesystem.FakeFilesystem()
    fake_os_module = fake_os.FakeOsModule(filesystem)
    root = "/data/root"
    build_in_fake_fs(filesystem, root, spec)
    top = top_as(top_kind, root)
    options = Options(topdown, followlinks, seed, FOLLOW_DEPTH if followlinks else None)
    with as_normal_user():
        expected = run_walk(cpython_walk.make_walk(fake_os_module), top, options)
        event("onerror called" if expected.errors else "no errors")
        with mock.patch.object(_scan, "os", fake_os_module):
            actual = run_walk(rwalk.walk, top, options)
    assert actual == expected


@given(
    spec=trees(fifos=False, undecodable=False),
    topdown=st.booleans(),
    top_kind=FAKE_FS_TOP_KINDS,
    seed=st.none() | SEEDS,
)
def test_walk_matches_cpython_algorithm_in_pyfakefs(
    spec: TreeSpec, topdown: bool, top_kind: str, seed: int | None
) -> None:
    assert_same_walks_in_fake_fs(
        spec, top_kind=top_kind, topdown=topdown, followlinks=False, seed=seed
    )


@given(
    spec=trees(fifos=False, undecodable=False),
    top_kind=FAKE_FS_TOP_KINDS,
    seed=st.none() | SEEDS,
)
def test_walk_following_links_matches_cpython_algorithm_in_pyfakefs(
    spec: TreeSpec, top_kind: str, seed: int | None
) -> None:
    assert_same_walks_in_fake_fs(spec, top_kind=top_kind, topdown=True, followlinks=True, seed=seed)
