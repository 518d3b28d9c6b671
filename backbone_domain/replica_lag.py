"""How far the store's read replica (BACKBONE_TIMESCALE_READ_URL) is behind its primary: what `backbone status`
reports, and the store measures (``BarStore.replica_lag``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class ReplicaLag:
    """The replica's lag at one moment. A figure that could not be read is None, never 0: an unknown must not
    read as "caught up"."""

    endpoint: str  # the read URL, password redacted
    state: Literal["up", "unavailable"]
    bytes_behind: int | None  # the primary's WAL write position minus the replica's replay position
    seconds: float | None  # 0 when caught up; else how long ago the last transaction it replayed committed
    detail: str = ""  # why it is unavailable (redacted); reads then go to the primary

    def breaches(self) -> list[str]:
        """An unreachable replica is a breach (its reads fall back to the primary, which then carries them all);
        a lag is reported, not judged: every read waits for the replica to catch up, or goes to the primary."""
        return [] if self.state == "up" else [f"read replica unavailable: {self.detail}"]

    def sentence(self) -> str:
        if self.state != "up":
            return f"unavailable: {self.detail} ({self.endpoint})"
        seconds = "unknown" if self.seconds is None else f"{self.seconds:.1f} s"
        return f"{self.bytes_behind} byte(s) of WAL behind, {seconds} ({self.endpoint})"
