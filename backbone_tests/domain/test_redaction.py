"""One redaction for every printed URL, DSN and message: the credential's value goes, the key and user stay."""

from __future__ import annotations

import pytest

from backbone_domain.redaction import redact, redact_url, secrets_in


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("redis://:pw@h:6379/0 down", "redis://:***@h:6379/0 down"),
        ("https://user:p%40ss@gw:9091/metrics", "https://user:***@gw:9091/metrics"),
        ("host=db password=pw dbname=x", "host=db password=*** dbname=x"),
        ("sasl PASSWORD: pw", "sasl PASSWORD: ***"),
        ("postgresql://u@h/db and http://h:9091", "postgresql://u@h/db and http://h:9091"),
        # libpq key=value DSNs, quoted values included
        ("host=db port=5432 user=u password='s3 cret' dbname=x", "host=db port=5432 user=u password=*** dbname=x"),
        ("host=db sslpassword=keypass sslmode=verify-full", "host=db sslpassword=*** sslmode=verify-full"),
        # query parameters of a URL
        (
            "postgresql://h/db?user=u&password=pw&sslmode=require",
            "postgresql://h/db?user=u&password=***&sslmode=require",
        ),
        ("postgresql://h/db?sslpassword=pw", "postgresql://h/db?sslpassword=***"),
        # client options printed as text (librdkafka, Redis)
        ("{'sasl.password': 'pw', 'sasl.username': 'u'}", "{'sasl.password': ***, 'sasl.username': 'u'}"),
        ("sasl.password=pw sasl.mechanism=PLAIN", "sasl.password=*** sasl.mechanism=PLAIN"),
        ("token=abc secret: xyz", "token=*** secret: ***"),
        # a message that only names a password is left alone
        ('FATAL: password authentication failed for user "u"', 'FATAL: password authentication failed for user "u"'),
        ("BACKBONE_REDIS_PASSWORD is not set", "BACKBONE_REDIS_PASSWORD is not set"),
    ],
)
def test_redact(text, redacted):
    assert redact(text) == redacted


def test_known_secrets_are_removed_wherever_they_appear_but_short_ones_are_not():
    text = "AUTH hunter2 failed; NOAUTH for hunter2\nsecond line"
    assert redact(text, ["hunter2", None, "pw"]) == "AUTH *** failed; NOAUTH for ***\nsecond line"


def test_redact_url_hides_only_the_password():
    assert redact_url("postgresql://bob:s3cret@db:5432/x") == "postgresql://bob:***@db:5432/x"
    assert redact_url("postgresql://db/x") == "postgresql://db/x"
    assert redact_url("redis://:hunter2@10.0.0.1:6379/0") == "redis://:***@10.0.0.1:6379/0"
    assert (
        redact_url("postgresql://db/x?sslpassword=k&sslmode=require")
        == "postgresql://db/x?sslpassword=***&sslmode=require"
    )


def test_redact_url_masks_a_key_value_dsn_too():
    assert redact_url("host=db user=u password='s3 cret' dbname=x") == "host=db user=u password=*** dbname=x"
    assert redact_url("host=db dbname=x") == "host=db dbname=x"


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("redis://:hunter2@h:6379/0", {"hunter2"}),
        ("https://u:p%40ss@gw:9091", {"p%40ss", "p@ss"}),
        ("postgresql://u@h/db", set()),
        ("postgresql://h/db?user=u&password=p%26w&sslmode=require", {"p%26w", "p&w"}),
        ("host=h password='s3 c\\'ret' dbname=x", {"s3 c'ret"}),
        ("host=h sslpassword=k password=pw", {"k", "pw"}),
        ("host=h dbname=x", set()),
        (None, set()),
    ],
)
def test_secrets_in_a_url_or_a_dsn(value, found):
    assert set(secrets_in(value)) == found
