"""The source fixtures: a fake ``yfinance`` module (``yahoo_fake.py``)."""

from __future__ import annotations

import sys

import pytest

from backbone_tests.resources.source.yahoo_fake import FakeYfinance


@pytest.fixture
def fake_yfinance(monkeypatch: pytest.MonkeyPatch) -> FakeYfinance:
    """``import yfinance`` gives the fake for this test; set its ``answer`` or ``serve`` it bars."""
    module = FakeYfinance()
    monkeypatch.setitem(sys.modules, "yfinance", module)
    return module
