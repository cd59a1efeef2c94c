"""Fixtures shared by the test modules."""

from __future__ import annotations

from typing import Iterator

import pytest
from ghl_fake_server import ENV_V1, ENV_V2, FakeGHL


@pytest.fixture
def ghl(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGHL]:
    """A running FakeGHL with both PIT_GUARD_*_API_URL variables pointing at it."""
    server = FakeGHL().start()
    monkeypatch.setenv(ENV_V2, server.base)
    monkeypatch.setenv(ENV_V1, server.v1_base)
    # A developer's HTTP(S)_PROXY must not swallow loopback requests.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    try:
        yield server
    finally:
        server.stop()
