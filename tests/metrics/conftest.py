"""The metric tests run twice where a `world` fixture asks for `rollup_mode`: once reading the
base tables, once with the monthly rollups built (metrics/rollups.py, see
metrics_world.prepare), so every hand-worked expected value also checks the rollup path."""
from __future__ import annotations

import pytest


@pytest.fixture(params=["base", "rollups"])
def rollup_mode(request) -> str:
    return request.param
