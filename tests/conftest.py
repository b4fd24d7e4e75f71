"""Shared fixtures: one trained seed model per test session (small corpus, real classifier)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("DANGAN_SECRET_KEY", "test-only-key-not-a-secret")


@pytest.fixture(scope="session")
def dangan_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("dangan-home")


@pytest.fixture(scope="session")
def test_settings(dangan_home):
    from pipelines.settings import Settings

    # A smaller corpus than the default keeps the suite fast; the benchmark uses the full one.
    return Settings(home=dangan_home, train_per_item=8, calib_per_item=3, test_per_item=2, workers=2)


@pytest.fixture(scope="session")
def trained(test_settings):
    """Train and register a model once for the session; returns the TrainingOutcome."""
    from pipelines.training import train_default

    return train_default(test_settings)
