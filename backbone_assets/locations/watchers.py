"""Code location ``backbone-watchers``: sensors over the whole instance, deployable apart from the pipeline."""

import dagster as dg

from backbone_assets.definitions import build_watcher_defs
from backbone_resources.settings import load_settings


@dg.definitions
def defs() -> dg.Definitions:
    return build_watcher_defs(load_settings())
