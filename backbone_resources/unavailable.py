"""One exception per family seam, all ``BackendUnavailable``: a caller maps outages with one ``except``/table.

Each message names the setting to look at and never carries a secret. The family ``base.py`` modules re-export
their own class, so ``from backbone_resources.cache.base import CacheUnavailable`` keeps working.
"""


class BackendUnavailable(RuntimeError):
    """A backend cannot be reached or set up; the message names the setting to look at (never a secret)."""


class SourceUnavailable(BackendUnavailable):
    """The source cannot answer (offline, missing directory, missing optional package): say why, briefly."""


class StoreUnavailable(BackendUnavailable):
    """The store cannot be reached or set up; the message names the setting to look at."""


class CacheUnavailable(BackendUnavailable):
    """The cache cannot be reached; the message names the setting to look at (never a secret)."""


class StreamUnavailable(BackendUnavailable):
    """The stream cannot be reached, or publishing could not be confirmed; names the setting to look at."""


class BatchUnavailable(BackendUnavailable):
    """The batch engine cannot start (no Java, master unreachable); names the setting to look at."""
