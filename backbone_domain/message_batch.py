"""The unit a stream publishes: records as columns, the contract between the message encoder and every stream.

The domain owns it (``bar_messages`` builds batches, ``streaming`` hands them on); the stream backends in
``backbone_resources/stream`` only read it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MessageBatch:
    """Records to publish in order: ``keys[i]``/``values[i]`` (bytes) with one set of headers for all of them.

    Columns rather than one object per record: publishing a million bars must not pay for a million objects.
    """

    keys: list[bytes]
    values: list[bytes]
    headers: dict[str, bytes]
    nbytes: int | None = None  # keys + values, when the encoder already counted them (else publish counts)

    def __len__(self) -> int:
        return len(self.keys)

    def size(self) -> int:
        if self.nbytes is not None:
            return self.nbytes
        return sum(map(len, self.keys)) + sum(map(len, self.values))
