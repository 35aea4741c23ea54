"""The project's own Python services (intake, routing, notify, credit).

A service exists when ``services/<name>/__main__.py`` exists. It is started as
``<sys.executable> -m services.<name>`` from the repo root with the inherited
environment plus:

``SHUANGDA_KAFKA_BOOTSTRAP``, ``SHUANGDA_PG_DSN``
    the endpoints in effect (:func:`deploy.launcher.settings.endpoints`);
``SHUANGDA_STATE_DIR``
    the launcher's state dir;
``SHUANGDA_<NAME>_PORT`` and ``SHUANGDA_<NAME>_HTTP_PORT``
    its HTTP port (intake 8001, routing 8002, notify 8003, credit 8004);
``SHUANGDA_DEV=true``
    unless already set: the launcher runs a development stack;
``PYTHONUNBUFFERED=1``.

Output goes to ``<state>/logs/<name>.log``; ready when ``GET /readyz`` answers 200.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Mapping, Sequence

from deploy.launcher import proc, settings
from deploy.launcher.base import Component
from deploy.launcher.errors import LauncherError


class Service(Component):
    """One service process; ``module``/``root``/``port`` exist so tests can point
    it at a stand-in module."""

    ready_timeout = 60.0
    stop_timeout = 20.0

    def __init__(self, name: str, module: str | None = None, root: Path | None = None,
                 port: int | None = None) -> None:
        self.name = name
        self.module = module or f"services.{name}"
        self._root = root
        self._port = port

    @property
    def root(self) -> Path:
        return self._root or settings.repo_root()

    @property
    def main_file(self) -> Path:
        return self.root.joinpath(*self.module.split(".")) / "__main__.py"

    def port(self) -> int:
        return self._port if self._port is not None else settings.port(self.name)

    def exists(self) -> bool:
        return self.main_file.exists()

    def absent_reason(self) -> str:
        try:
            shown = self.main_file.relative_to(settings.repo_root())
        except ValueError:
            shown = self.main_file
        return f"{shown} does not exist"

    def address(self) -> str:
        return f"http://{settings.HOST}:{self.port()}"

    def matches(self, argv: Sequence[str]) -> bool:
        for i, arg in enumerate(argv[:-1]):
            if arg == "-m" and argv[i + 1] == self.module:
                return True
        return False

    def probe(self, timeout: float) -> bool:
        return proc.http_status(f"{self.address()}/readyz", timeout) == 200

    def command(self) -> list[str]:
        return [sys.executable, "-m", self.module]

    def cwd(self) -> Path | None:
        return self.root

    def environment(self) -> Mapping[str, str]:
        ep = settings.endpoints()
        env = dict(os.environ)
        upper = self.name.upper()
        env.update({
            "SHUANGDA_KAFKA_BOOTSTRAP": ep.kafka_bootstrap,
            "SHUANGDA_PG_DSN": ep.pg_dsn,
            "SHUANGDA_STATE_DIR": str(settings.state_dir()),
            f"SHUANGDA_{upper}_PORT": str(self.port()),
            f"SHUANGDA_{upper}_HTTP_PORT": str(self.port()),
            "PYTHONUNBUFFERED": "1",
        })
        env.setdefault("SHUANGDA_DEV", "true")
        return env

    def prepare(self) -> None:
        if not self.exists():
            raise LauncherError(f"{self.name} cannot be started: {self.absent_reason()}")
        if proc.port_open(settings.HOST, self.port()):
            raise LauncherError(
                f"port {self.port()} is already in use by another process (not the {self.name} service started "
                f"by this launcher); stop it or pick another port with SHUANGDA_{self.name.upper()}_PORT=..."
            )
