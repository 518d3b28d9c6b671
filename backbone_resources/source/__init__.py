"""Bar sources: where raw daily bars come from (chosen by BACKBONE_SOURCE, not by tier)."""
