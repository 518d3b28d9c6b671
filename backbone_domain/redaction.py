"""Secret redaction: the one place that decides what a password looks like in a URL, a DSN or a message.

It lives in the domain because every layer prints connection strings or errors that may carry one: the stores
and the cache (their ``describe()`` and outage messages), the run-failure sensor (a failed run's error line) and
the operations package (``backbone status``, ``doctor``). The domain imports nothing of ours, so each of them
can use it without ``backbone_resources`` depending on ``backbone_ops``.

What is masked (the value becomes ``***``, the key or user name stays so the reader sees *which* credential):
- the password of a URL's userinfo: ``postgresql://u:pw@h`` -> ``postgresql://u:***@h``;
- ``key=value`` / ``key: value`` pairs whose key names a secret, which covers libpq DSNs (``host=h password=pw``,
  quoted values included), URL query parameters (``?password=pw``, ``&sslpassword=pw``) and client options
  printed as text (librdkafka's ``sasl.password``, Redis's ``password``, ``token``, ``secret``);
- any literal ``secrets`` the caller knows (a configured Redis or SASL password that a client echoes bare).

``secrets_in`` lists the passwords a URL or DSN setting carries, so a caller can pass them as those literals
(``BackboneSettings.secrets()`` gathers every one the settings hold).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"
# A secret shorter than this is not replaced as a literal: "pw" would mask every "pw" in a message.
MIN_LITERAL = 3
# scheme://user:password@host -> scheme://user:***@host (the user part may be empty: redis://:pw@host).
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*):[^@\s]+@")
# password=…, sslpassword=…, sasl.password=…, sasl_password=…, passwd, pwd, secret, token; = or : separated.
_KEY = r"(?:[A-Za-z_.]*password|passwd|pwd|secret|token)"
_KEY_VALUE = re.compile(
    rf"(?i)(?<![A-Za-z0-9])(?P<key>{_KEY})(?P<sep>['\"]?\s*[=:]\s*)"
    r"(?P<value>'(?:[^'\\]|\\.)*'|\"[^\"]*\"|[^\s&;,]+)"
)


def redact_url(url: str) -> str:
    """``url`` with the password of its userinfo and of its secret query parameters masked; a libpq key=value
    DSN (``host=h password=pw``: no ``://``) with its secret pairs masked; else unchanged."""
    if "://" not in url:
        return _mask_pairs(url)
    parts = urlsplit(url)
    if parts.password is not None:
        host = parts.netloc.rsplit("@", 1)[1]
        parts = parts._replace(netloc=f"{parts.username or ''}:{MASK}@{host}")
    if parts.query:
        parts = parts._replace(query=_mask_pairs(parts.query))
    return urlunsplit(parts)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` (a message, a DSN, several URLs) with every password it shows masked; layout kept."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}:{MASK}@", str(text))
    text = _mask_pairs(text)
    for secret in sorted({s for s in secrets if s and len(s) >= MIN_LITERAL}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def secrets_in(value: str | None) -> list[str]:
    """The passwords a connection setting carries, to remove as literals wherever a client echoes them bare:
    a URL's userinfo password and secret query parameters (as written and decoded), or the secret pairs of a
    key=value DSN (quotes stripped)."""
    if not value:
        return []
    if "://" not in value:
        return [_unquoted(m["value"]) for m in _KEY_VALUE.finditer(value)]
    parts = urlsplit(value)
    found = [parts.password] if parts.password else []
    found += [m["value"] for m in _KEY_VALUE.finditer(parts.query)]
    return [s for raw in found for s in {raw, unquote(raw)}]


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _mask_pairs(text: str) -> str:
    return _KEY_VALUE.sub(lambda m: f"{m['key']}{m['sep']}{MASK}", text)
