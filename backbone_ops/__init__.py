"""Operations: the `backbone` command line, the run helper and `backbone status` (model, renderers, exporters).

Above the Dagster definitions (``backbone_assets``) and the resources: nothing below imports this package.
"""

import backbone_assets  # noqa: F401 - its warning filters (pyspark via pandera, BackfillPolicy) apply to every command
