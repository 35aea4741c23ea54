"""Fixtures shared by integration tests of several files (each defined once under tests/support)."""
from tests.support.notify import sink, smtp  # noqa: F401 - notify's local receivers (HTTP, SMTP)
