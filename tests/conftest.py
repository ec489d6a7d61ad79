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
