"""Backbone's Dagster code location: assets by layer, checks, jobs, schedules and sensors (the CLI: backbone_ops)."""

import warnings

# Known, understood warnings that would otherwise greet every CLI call and code-location load:
# - BackfillPolicy is "beta" in Dagster 1.13, yet it is the documented way to run a partition range as one run;
# - pandera imports pyspark.pandas when pyspark is installed, which warns about pandas 3 (we don't use it).
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", module="dagster")
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
