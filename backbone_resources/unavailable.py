"""One exception per family seam, all ``BackendUnavailable``: a caller maps outages with one ``except``/table.

Each message names the setting to look at and never carries a secret. The family ``base.py`` modules re-export
their own class, so ``from backbone_resources.cache.base import CacheUnavailable`` keeps working.
"""


class BackendUnavailable(RuntimeError):
    """A backend cannot be reached or set up; the message names the setting to look at (never a secret)."""


class SourceUnavailable(BackendUnavailable):
    """The source cannot answer (offline, missing directory, missing optional package): say why, briefly."""


class SourceUnreadable(SourceUnavailable):
    """The source's data cannot be read as it stands (a corrupt or mis-named file, a field over the CSV limit,
    two files for one symbol, a missing directory): asking again gives the same answer, so a run does not
    retry it. The message names the file or the setting."""


class StoreUnavailable(BackendUnavailable):
    """The store cannot be reached or set up; the message names the setting to look at."""


class CacheUnavailable(BackendUnavailable):
    """The cache cannot be reached; the message names the setting to look at (never a secret)."""


class StreamUnavailable(BackendUnavailable):
    """The stream cannot be reached, or publishing could not be confirmed; names the setting to look at."""


class BatchUnavailable(BackendUnavailable):
    """The batch engine cannot start (no Java, master unreachable); names the setting to look at."""
