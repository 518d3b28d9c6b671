"""What ``probe()`` answers: is a backend reachable, which version, how fast — without raising when it is not.

A probe is cheap (a ping, a version query, a TCP connect; never a Spark session) and its text carries endpoints
and versions, never a secret: an error it does not know is reported by type only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from backbone_domain.redaction import redact
from backbone_resources.unavailable import BackendUnavailable

State = Literal["up", "unavailable", "disabled"]


@dataclass(frozen=True)
class Probe:
    backend: str
    state: State
    detail: str  # the endpoint when up, why not otherwise
    version: str | None = None
    elapsed_ms: float | None = None

    @property
    def up(self) -> bool:
        return self.state == "up"


def probing(backend: str, endpoint: str, check: Callable[[], str | None]) -> Probe:
    """Run ``check`` (returns the version, raises when unreachable) and report, never raise."""
    started = time.perf_counter()
    try:
        version = check()
    except (BackendUnavailable, OSError) as exc:  # ours name the setting and are redacted; masked again anyway
        return Probe(backend, "unavailable", redact(" ".join(str(exc).split())) or type(exc).__name__)
    except Exception as exc:  # noqa: BLE001 - a probe reports; an unknown error's text might hold a secret
        return Probe(backend, "unavailable", f"{endpoint}: {type(exc).__name__}")
    return Probe(backend, "up", endpoint, version, round((time.perf_counter() - started) * 1000, 1))
