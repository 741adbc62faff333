"""Fixtures of the meeting tests (data in meeting_crm.py)."""
from __future__ import annotations

import pytest

from meeting_crm import seed_crm


@pytest.fixture
def crm(engine):
    seed_crm(engine)
    return engine
