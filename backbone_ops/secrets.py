"""What a `backbone` command prints about a failure or an endpoint passes through here: the domain's redaction
(``backbone_domain.redaction``: URL userinfo and query passwords, key=value DSNs) plus every secret the settings
hold as a literal, so a client that echoes a password bare is caught too."""

from __future__ import annotations

import click

from backbone_domain import redaction
from backbone_resources.settings import BackboneSettings, SettingsError, load_settings


def known_secrets(settings: BackboneSettings | None = None) -> list[str]:
    """``settings.secrets()``; without settings, those of the environment (none when it does not parse)."""
    if settings is None:
        try:
            settings = load_settings()
        except SettingsError:
            return []
    return settings.secrets()


def redact(text: object, settings: BackboneSettings | None = None) -> str:
    return redaction.redact(str(text), known_secrets(settings))


def echo(text: object, settings: BackboneSettings | None = None, *, err: bool = False) -> None:
    """``click.echo`` of the redacted text."""
    click.echo(redact(text, settings), err=err)
