"""`backbone status`: a health snapshot measured from the tier (``measure``), rendered for people (``render``)
and for Prometheus (``prometheus``: textfile and /metrics; ``push``: a Pushgateway)."""
