"""Exceptions raised by the launcher.

Every failure the launcher reports to a person is a :class:`LauncherError` whose
message says what is missing or broken and what to do about it; the CLI prints
the message and exits with status 1.
"""
from __future__ import annotations


class LauncherError(RuntimeError):
    """A component could not be prepared, started, probed or stopped."""


class MissingTool(LauncherError):
    """A program the launcher needs (java, mvn, initdb, prometheus …) is not installed."""

    def __init__(self, tool: str, hint: str) -> None:
        super().__init__(f"{tool} not found: {hint}")
        self.tool = tool
        self.hint = hint


class NotReady(LauncherError):
    """A component was started but did not become ready before its deadline."""
