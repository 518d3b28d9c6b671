"""`backbone export --as-of T`: the Parquet exports as the store knew them at a past moment, reproducible later.

Runs the two export assets (``daily_bars_parquet``, ``daily_returns``) with their ``as_of`` run config
(``ExportConfig``): every (symbol, year) of the range is written as of T into a directory of its own, and the
current export and each layer's watermark are left alone. An export made at T and one made later with
``--as-of T`` hold the same bytes (docs/versions.md).
"""

from __future__ import annotations

import sys

import click

from backbone_ops import cli_input, exit_codes, runner
from backbone_ops.exit_codes import expected_errors
from backbone_ops.secrets import echo
from backbone_resources.settings import load_settings

EXPORT_ASSETS = ("daily_bars_parquet", "daily_returns")


@click.command()
@click.option(
    "--as-of", "as_of_text", required=True, metavar="TIMESTAMP", help="ISO 8601 with a zone, e.g. 2024-03-12T08:00:00Z"
)
@click.option("--start", "start_text", metavar="YYYY-MM-DD", help="first trading date (default: the first partition)")
@click.option("--end", "end_text", metavar="YYYY-MM-DD", help="last trading date (default: the newest complete day)")
@click.option("--to", "directory", help="where the files go (default: <export dir>/as_of/<moment>)")
def export(as_of_text: str, start_text: str | None, end_text: str | None, directory: str | None) -> None:
    """Export the bars and returns of a date range as the store knew them at a past moment."""
    with expected_errors():
        moment = cli_input.moment("--as-of", as_of_text)
        settings = load_settings()
        start = cli_input.day("--start", start_text) if start_text else settings.start_date
        end = cli_input.day("--end", end_text) if end_text else None
        first, last = runner.resolve_range(settings, start, end)
        runner.preflight(settings)
        config = {"as_of": moment.isoformat(), **({"as_of_dir": directory} if directory else {})}
        click.echo(f"exporting {first}..{last} as known at {moment.isoformat()}", err=True)
        result = runner.materialize(settings, first, last, EXPORT_ASSETS, dict.fromkeys(EXPORT_ASSETS, config))
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization  # type: ignore[union-attr]
        figures = {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
        echo(
            f"{materialization.asset_key.to_user_string():<20} {figures.get('rows_written')} rows "
            f"-> {figures.get('path')}",
            settings,
        )
    for failure in result.get_step_failure_events():
        echo(f"step {failure.step_key} failed: {failure.step_failure_data.error.message.strip()}", settings)  # type: ignore[union-attr]
    sys.exit(exit_codes.OK if result.success else exit_codes.PROBLEM)
