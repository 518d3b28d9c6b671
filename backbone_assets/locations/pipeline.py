"""Code location ``backbone``: the data flow (``dagster api grpc --module-name backbone_assets.locations.pipeline``)."""

import dagster as dg

from backbone_assets import instance_tuning
from backbone_assets.definitions import build_pipeline_defs
from backbone_resources.settings import load_settings


@dg.definitions
def defs() -> dg.Definitions:
    instance_tuning.enable()
    return build_pipeline_defs(load_settings())
