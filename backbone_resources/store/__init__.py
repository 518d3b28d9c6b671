"""Time-series stores: DuckDB for the bootstrap tier, PostgreSQL/TimescaleDB for the institutional one."""
