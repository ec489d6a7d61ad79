"""Shared test configuration: hypothesis profiles and the fixture trees.

Hypothesis profiles (choose with ``HYPOTHESIS_PROFILE``):

``ci``
    the default, and what CI and ``make test`` run: few examples per property, no
    deadline, so the whole suite stays within a few minutes on a 2-core machine.
``thorough``
    for long local runs: ``HYPOTHESIS_PROFILE=thorough make pytest``.

Every profile prints the failing example and its reproduction blob.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config: pytest.Config) -> None:
    # A fresh base directory per run, removed at the end.  pytest's own numbered
    # directories (/tmp/pytest-of-USER/pytest-N) are pruned at exit by code that leaves a
    # scandir iterator unclosed, and with warnings as errors that ResourceWarning fails
    # the run (seen with pytest 9 on Python 3.10 and 3.12).
    if config.option.basetemp is None:
        config.option.basetemp = tempfile.mkdtemp(prefix="rwalk-pytest-")
        config.stash[_OWN_BASETEMP] = config.option.basetemp


def pytest_unconfigure(config: pytest.Config) -> None:
    basetemp = config.stash.get(_OWN_BASETEMP, None)
    if basetemp is not None:
        _remove_tree(basetemp)


_OWN_BASETEMP = pytest.StashKey[str]()


def _remove_tree(path: str) -> None:
    """Remove ``path`` even where tests left directories without permissions.

    Permissions are restored only inside ``path``: never on its parent (``/tmp``).
    """
    root = os.path.abspath(path)

    def make_writable_and_retry(function: Any, failed: str, _: object) -> None:
        parent = os.path.dirname(os.path.abspath(failed))
        if parent.startswith(root):
            os.chmod(parent, 0o700)
        if os.path.isdir(failed) and not os.path.islink(failed):
            os.chmod(failed, 0o700)
        function(failed)

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=make_writable_and_retry)
    else:
        shutil.rmtree(path, onerror=make_writable_and_retry)
