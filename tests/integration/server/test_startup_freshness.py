"""A console started on an empty advisory store says so in its log, as `scan` does."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from patchwarden.server.app import create_app
from patchwarden.server.config import ServerConfig


def test_an_empty_store_is_logged_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = ServerConfig(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'pw.db'}", scheduler=False
    )
    with caplog.at_level(logging.WARNING), TestClient(create_app(config)) as client:
        assert client.get("/healthz").status_code == 200
    warnings = [r.getMessage() for r in caplog.records if r.name == "patchwarden.server.app"]
    assert any("advisory store is empty" in w for w in warnings), warnings
