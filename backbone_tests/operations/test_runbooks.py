"""The runbooks exist, are indexed, and every `backbone` / `dagster` command they tell an operator to run is a
real command with real options: a runbook is read during an incident, when a renamed command costs most."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import click
import pytest
from dagster._cli import cli as dagster_cli

from backbone_ops.cli import main as backbone_cli

REPO = Path(__file__).resolve().parents[2]
RUNBOOKS = REPO / "docs" / "operations" / "runbooks"
REQUIRED = {
    "redis_cache_outage.md",
    "kafka_ingest_offset_recovery.md",
    "timescale_failover_restore.md",
    "backfill_drill.md",
}
DOCS = [*sorted(p for p in RUNBOOKS.glob("*.md") if p.name != "README.md"), REPO / "docs" / "deployment.md"]
CLIS: dict[str, click.Command] = {"backbone": backbone_cli, "dagster": dagster_cli}
SEPARATORS = {"|", "||", "&&", ";", "(", ")", "&", ">", ">>", "<"}
_FENCE = re.compile(r"^```[a-z]*\n(.*?)^```", re.M | re.S)


_NAMING_CLIS = {"kubectl", "helm"}


def code_snippets(text: str) -> Iterator[str]:
    """Shell lines of fenced blocks (continuations joined), then the inline code spans of the prose."""
    for block in _FENCE.findall(text):
        yield from block.replace("\\\n", " ").splitlines()
    yield from re.findall(r"`([^`\n]+)`", _FENCE.sub("", text))


def commands_in(line: str) -> Iterator[list[str]]:
    """Each `backbone ...` / `dagster ...` invocation in a shell line, as tokens up to the next separator.
    A bare name (prose mentioning `backbone`) and `backbone ...` (a placeholder for any command) are skipped."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:  # an inline span cut in the middle of a quote
        tokens = line.split()
    current: list[str] | None = None
    head, previous = "", ""
    for token in tokens:
        if token in SEPARATORS:
            if _is_invocation(current):
                yield current  # type: ignore[misc]
            current, head, previous = None, "", ""
            continue
        head = head or token
        if current is not None:
            current.append(token)
        # `kubectl -n backbone apply`, `helm repo add dagster URL`: names of Kubernetes objects, not commands
        elif token in CLIS and head not in _NAMING_CLIS and not previous.startswith("-"):
            current = [token]
        previous = token
    if _is_invocation(current):
        yield current  # type: ignore[misc]


def _is_invocation(tokens: list[str] | None) -> bool:
    return tokens is not None and len(tokens) > 1 and tokens[1] != "..."


def check_command(tokens: list[str]) -> None:
    """Walk the click tree along the tokens; every option used must belong to the command reached."""
    command = CLIS[tokens[0]]
    args = tokens[1:]
    while isinstance(command, click.Group):
        assert args, f"{' '.join(tokens)}: no subcommand"
        # get_command, not .commands: `backbone` imports its commands on first use (backbone_ops/cli.py)
        sub = command.get_command(click.Context(command), args[0])
        assert sub is not None, f"{' '.join(tokens)}: {args[0]!r} is not a command of {command.name}"
        command, args = sub, args[1:]
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)} | {"--help"}
    for arg in args:
        if arg.startswith("-") and not re.fullmatch(r"-\d.*", arg):
            option = arg.split("=", 1)[0]
            assert option in known, f"{' '.join(tokens)}: {option} is not an option of {command.name}"


def test_every_required_runbook_exists_and_the_index_lists_all() -> None:
    present = {p.name for p in RUNBOOKS.glob("*.md")} - {"README.md"}
    index = (RUNBOOKS / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(([^)]+\.md)\)", index))

    assert present >= REQUIRED
    assert linked == present


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_commands_in_the_docs_exist_with_their_options(doc: Path) -> None:
    found = [c for line in code_snippets(doc.read_text(encoding="utf-8")) for c in commands_in(line)]

    assert any(c[0] == "backbone" for c in found), f"{doc.name} gives no backbone command to run"
    for tokens in found:
        check_command(tokens)


@pytest.mark.parametrize(
    "line",
    [
        "backbone materialise --start 2024-01-01",
        "backbone materialize --from 2024-01-01",
        "docker compose exec dagster-code backbone cache pong",
        "dagster asset materialize --partition-ranges 2024-01-01...2024-01-02",
        "backbone cache --json",
    ],
)
def test_the_command_check_catches_typos(line: str) -> None:
    (tokens,) = commands_in(line)
    with pytest.raises(AssertionError):
        check_command(tokens)


@pytest.fixture(scope="module")
def definition_names() -> dict[str, set[str]]:
    from backbone_assets.definitions import build_defs
    from backbone_resources.settings import load_settings

    defs = build_defs(load_settings(mode="bootstrap"))
    return {
        "--select": {key.to_user_string() for key in defs.resolve_all_asset_keys()},
        "-j": {job.name for job in defs.resolve_all_job_defs()},
        "schedule": {schedule.name for schedule in defs.schedules},
    }


def test_assets_jobs_and_schedules_named_in_the_docs_exist(definition_names: dict[str, set[str]]) -> None:
    used: dict[str, set[str]] = {"--select": set(), "-j": set(), "schedule": set()}
    for doc in DOCS:
        for line in code_snippets(doc.read_text(encoding="utf-8")):
            for tokens in commands_in(line):
                for flag, value in pairwise(tokens):
                    if flag in ("--select", "-j"):
                        used[flag] |= set(value.split(","))
                if tokens[1:2] == ["schedule"] and len(tokens) > 3 and tokens[2] in ("start", "stop"):
                    used["schedule"].add(tokens[3])

    assert all(used.values()), used  # the drill and restore runbooks name all three kinds
    for kind, names in used.items():
        assert names <= definition_names[kind], f"{kind}: {names - definition_names[kind]} not in the definitions"
