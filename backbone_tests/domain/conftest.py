"""Domain code that drives a family's seam (the bridge, publish_range, the pipeline over a store) runs over
that family's backends: the backend fixtures are the family's own, borrowed here rather than written twice."""

from backbone_tests.resources.store.conftest import make_store, store  # noqa: F401 (fixtures)
from backbone_tests.resources.stream.conftest import stream  # noqa: F401 (fixture)
