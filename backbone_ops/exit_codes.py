"""The one table from an expected error to the `backbone` command's exit code (documented in docs/operations.md).

0   done, healthy
1   done, and something is wrong: a check or run failed, a figure breaches its threshold, or a service the command
    needs is unavailable (``BackendUnavailable``: each family seam's ``*Unavailable``)
2   cannot run as asked: bad or missing settings, a bad request (``UsageError``), streaming (or intraday) switched
    off, a source without intraday bars
130 interrupted (Ctrl-C / SIGTERM)

Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from backbone_ops.secrets import redact
from backbone_resources.settings import SettingsError
from backbone_resources.source.base import IntradayUnsupported
from backbone_resources.stream.base import StreamDisabled
from backbone_resources.unavailable import BackendUnavailable

OK, PROBLEM, CANNOT_RUN, INTERRUPTED = 0, 1, 2, 130


class UsageError(ValueError):
    """A command-line request that cannot run as asked (bad range, unknown asset)."""


EXIT_CODES: dict[type[Exception], int] = {
    SettingsError: CANNOT_RUN,
    UsageError: CANNOT_RUN,
    StreamDisabled: CANNOT_RUN,  # IntradayDisabled too
    IntradayUnsupported: CANNOT_RUN,  # a source without intraday bars
    BackendUnavailable: PROBLEM,  # every family's *Unavailable: store, source, cache, stream, batch
}
EXPECTED = tuple(EXIT_CODES)


def exit_code(exc: BaseException) -> int:
    """The code of the nearest class in ``exc``'s hierarchy that the table names."""
    return next(EXIT_CODES[cls] for cls in type(exc).__mro__ if cls in EXIT_CODES)


@contextmanager
def expected_errors() -> Iterator[None]:
    """An expected error becomes one ``error: …`` line on stderr (passwords masked) and its exit code; the rest
    propagate."""
    try:
        yield
    except EXPECTED as exc:
        click.echo(f"error: {redact(exc)}", err=True)
        sys.exit(exit_code(exc))
