"""`backbone`: the command line over the same Definitions the UI loads; runs land in the Dagster instance.

Each command's module is imported only when that command runs: `backbone bars` needs the cache and the store,
not the asset graph, Dagster's run machinery or the status exporters. Exit codes: ``backbone_ops.exit_codes``.
"""

from __future__ import annotations

import importlib

import click

# command -> "module:attribute"; `backbone --help` imports them all to show their one-line help.
COMMANDS = {
    "materialize": "backbone_ops.cli_run:materialize",
    "check": "backbone_ops.cli_run:check",
    "doctor": "backbone_ops.cli_run:doctor",
    "rejected": "backbone_ops.cli_run:rejected",
    "export": "backbone_ops.cli_export:export",
    "bars": "backbone_ops.cli_cache:bars",
    "history": "backbone_ops.cli_history:history",
    "cache": "backbone_ops.cli_cache:cache",
    "consume": "backbone_ops.cli_stream:consume",
    "replay": "backbone_ops.cli_stream:replay",
    "stream": "backbone_ops.cli_intraday:stream",
    "status": "backbone_ops.cli_status:status",
    "stack": "backbone_ops.cli_stack:stack",
}
EXIT_CODES_HELP = (
    "Exit codes: 0 done and healthy; 1 a check, run or threshold failed, or a service (store, source, cache, "
    "stream) is unavailable; 2 bad settings or request; 130 interrupted."
)


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, _, attribute = COMMANDS[cmd_name].partition(":")
        return getattr(importlib.import_module(module), attribute)


@click.group(cls=LazyGroup, epilog=EXIT_CODES_HELP)
def main() -> None:
    """Backbone market-data platform."""
