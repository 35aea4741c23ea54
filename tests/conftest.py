"""Shared fixtures. Integration and e2e tests talk to the real Kafka, Postgres
and Prometheus that `shuangda up` starts (or that SHUANGDA_KAFKA_BOOTSTRAP /
SHUANGDA_PG_DSN point at); `shuangda test` brings them up first."""
from __future__ import annotations

import os
import uuid

import pytest

os.environ.setdefault("SHUANGDA_DEV", "true")


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic, schema and group names (no cleanup needed)."""
    return uuid.uuid4().hex[:10]
