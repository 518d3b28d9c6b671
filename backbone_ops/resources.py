"""Resources for one command, built as a run builds them (EnvVar resolved, pools opened and closed afterwards).

Dagster wraps a resource's start-up error in ``DagsterUserCodeExecutionError``; the original (e.g. a
``StoreUnavailable`` naming the setting) is re-raised so the command prints one clear line and the exit-code
table (``exit_codes``) sees the family's own exception.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import dagster as dg

from backbone_resources import tiers
from backbone_resources.settings import BackboneSettings

BUILDERS: dict[str, Callable[[BackboneSettings], Any]] = {
    "source": tiers.build_source,
    "store": tiers.build_store,
    "cache": tiers.build_cache,
    "stream": tiers.build_stream,
    "batch": tiers.build_batch,
}


@contextmanager
def built(resources: Mapping[str, Any]) -> Iterator[Any]:
    """``dg.build_resources(resources)`` with Dagster's start-up wrapper removed from any error."""
    try:
        with dg.build_resources(dict(resources)) as ready:
            yield ready
    except dg.DagsterUserCodeExecutionError as exc:
        if exc.user_exception is not None:
            raise exc.user_exception from None
        raise


@contextmanager
def tier_resources(settings: BackboneSettings, *names: str) -> Iterator[Any]:
    """Only the named families of the tier (``"cache", "store"``): a read does not start every backend."""
    with built({name: BUILDERS[name](settings) for name in names}) as ready:
        yield ready


@contextmanager
def all_resources(settings: BackboneSettings) -> Iterator[Any]:
    """Every resource the code location has, under the keys its assets use."""
    with built(tiers.build_resources(settings)) as ready:
        yield ready
