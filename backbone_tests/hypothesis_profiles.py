"""Hypothesis profiles for the property tests (``test_*_properties.py``), chosen when pytest configures.

- ``ci`` (the default under ``CI=true``): derandomized, so a run is reproducible from the commit alone, with no
  example database to carry between runs;
- ``dev`` (the default otherwise): random, remembering failures in ``.hypothesis/`` so they are tried first;
- ``HYPOTHESIS_PROFILE=<name>`` picks one explicitly, e.g. ``thorough`` for a long local hunt.

Why ``deadline=None``: the machine is a shared 2-core box; a slow example there is load, not a bug. The
example counts keep the whole property suite well under a minute.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow], "print_blob": True}

settings.register_profile("ci", max_examples=60, derandomize=True, database=None, **_COMMON)
settings.register_profile("dev", max_examples=60, **_COMMON)
settings.register_profile("thorough", max_examples=2_000, **_COMMON)


def pytest_configure(config: pytest.Config) -> None:
    default = "ci" if os.environ.get("CI", "").lower() == "true" else "dev"
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", default))
