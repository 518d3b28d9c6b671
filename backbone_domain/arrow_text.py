"""The UTF-8 bytes of an Arrow string array, for checks that read a whole column's spelling at numpy speed.

Several checks only ask what bytes a column is spelled with (plain decimals, characters JSON would escape,
fixed-width ISO dates): one numpy pass over the data buffer answers them ~5-10x faster than a regex per cell.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def utf8_cells(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``(ends, data)`` of a string or large_string array (not chunked): ``ends`` its ``len + 1`` offsets into
    the data buffer, ``data`` the bytes from the first value's start to the last one's end, so value ``i`` is
    ``data[ends[i] - ends[0] : ends[i + 1] - ends[0]]``. Bytes under a NULL are included (usually none)."""
    _, offsets, data = array.buffers()
    wide = np.int64 if pa.types.is_large_string(array.type) else np.int32
    if offsets is None:  # an empty array may have no buffers
        return np.zeros(1, dtype=wide), np.zeros(0, dtype=np.uint8)
    ends = np.frombuffer(offsets, dtype=wide, count=len(array) + 1, offset=array.offset * np.dtype(wide).itemsize)
    if data is None:
        return ends, np.zeros(0, dtype=np.uint8)
    return ends, np.frombuffer(data, dtype=np.uint8)[int(ends[0]) : int(ends[-1])]
