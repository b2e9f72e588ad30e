"""Fixtures for tests that talk to the sandbox org over HTTPS with the real client."""

from __future__ import annotations

import pytest
from sandbox_org.testing import running_sandbox

from tests.integration.harness import SyncHarness


@pytest.fixture(scope="session")
def sandbox_server():
    with running_sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(sandbox_server, monkeypatch):
    sandbox_server.org.reset()
    for name, value in sandbox_server.env().items():
        monkeypatch.setenv(name, value)
    yield sandbox_server
    sandbox_server.org.clear_faults()


@pytest.fixture
def org(sandbox):
    return sandbox.org


@pytest.fixture
def sync_config(monkeypatch, tmp_path):
    """Write a sync settings YAML and point CONVERSION_SYNC_CONFIG at it."""
    def write(text: str) -> None:
        path = tmp_path / "sync.yaml"
        path.write_text(text)
        monkeypatch.setenv("CONVERSION_SYNC_CONFIG", str(path))
    return write


@pytest.fixture
def harness(sandbox, database_url, monkeypatch) -> SyncHarness:
    monkeypatch.setenv("CONVERSION_DATABASE_URL", database_url)
    monkeypatch.setenv("CONVERSION_SYNC_SETTLE_SECONDS", "0")
    return SyncHarness(database_url, sandbox)
