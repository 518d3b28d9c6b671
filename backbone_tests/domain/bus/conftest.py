"""The bus is asyncio-first (the trading runtime's loop): its async tests run on anyio's asyncio backend."""

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
