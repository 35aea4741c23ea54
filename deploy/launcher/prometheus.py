"""Prometheus 2.x from Debian's ``prometheus`` package.

* Binary: ``prometheus`` on PATH; when missing and we are root with apt-get,
  ``apt-get install -y prometheus`` first.
* Config: ``deploy/prometheus/prometheus.local.yml`` (a valid config as it stands)
  rendered into ``<state>/prometheus/prometheus.yml`` with ``rule_files`` set to
  the absolute ``<repo>/deploy/prometheus/rules/*.yml`` and each job's target port
  set to the one in effect (``SHUANGDA_PROMETHEUS_PORT``, ``SHUANGDA_<SERVICE>_PORT``), one
  target per service instance (``up --replicas N``: port + 10·i).
  When Prometheus already runs and the rendered config changed, it is reloaded
  (SIGHUP) instead of restarted, and so it is when a rule file changed since the
  last (re)load; :meth:`Prometheus.reload` does the same on demand.
* Process (under supervisord): ``prometheus --config.file=… --storage.tsdb.path=<state>/prometheus/data
  --web.listen-address=127.0.0.1:9090 --web.enable-lifecycle``.
* Ready when ``GET /-/ready`` answers 200.
"""
from __future__ import annotations

import glob
import hashlib
import logging
import os
import signal
from pathlib import Path
from typing import Any, Sequence

import yaml

from deploy.launcher import proc, settings, tools
from deploy.launcher.base import Component, Launch
from deploy.launcher.errors import LauncherError

log = logging.getLogger(__name__)


def template_path() -> Path:
    return settings.repo_root() / "deploy" / "prometheus" / "prometheus.local.yml"


def rules_glob() -> str:
    return str(settings.repo_root() / "deploy" / "prometheus" / "rules" / "*.yml")


class Prometheus(Component):
    """The local Prometheus; see the module docstring."""

    name = "prometheus"
    ready_timeout = 60.0
    stop_timeout = 30.0

    @property
    def home(self) -> Path:
        return settings.state_dir() / "prometheus"

    @property
    def config_path(self) -> Path:
        return self.home / "prometheus.yml"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    def address(self) -> str:
        return settings.prometheus_url()

    def matches(self, argv: Sequence[str]) -> bool:
        return bool(argv) and Path(argv[0]).name == "prometheus" and f"--config.file={self.config_path}" in argv

    def probe(self, timeout: float) -> bool:
        return proc.http_status(f"{settings.prometheus_url()}/-/ready", timeout) == 200

    def render_config(self) -> str:
        """The config Prometheus runs with (see the module docstring)."""
        try:
            config: dict[str, Any] = yaml.safe_load(template_path().read_text()) or {}
        except FileNotFoundError:
            raise LauncherError(f"{template_path()} is missing") from None
        config["rule_files"] = [rules_glob()]
        n = settings.replicas()
        targets = {name: [f"{settings.HOST}:{settings.instance_port(name, i)}" for i in range(n)]
                   for name in settings.SERVICE_NAMES}
        # intake's worker process (the launcher runs intake split) is scraped in intake's job
        targets["intake"] += [f"{settings.HOST}:{settings.port('intake_worker') + 10 * i}" for i in range(n)]
        targets["prometheus"] = [f"{settings.HOST}:{settings.port('prometheus')}"]
        ca = settings.ca_file()  # secure profile: the services serve HTTPS with the stack's CA
        for job in config.get("scrape_configs") or []:
            name = job.get("job_name")
            if name in targets:
                for static in job.get("static_configs") or []:
                    static["targets"] = list(targets[name])
            if ca and name in settings.SERVICE_NAMES:
                job["scheme"] = "https"
                job["tls_config"] = {"ca_file": ca}
        header = (f"# Rendered by the shuangda launcher from {template_path()}; edit that file instead.\n")
        return header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)

    def write_config(self) -> bool:
        """Write the rendered config; True when it changed."""
        self.home.mkdir(parents=True, exist_ok=True)
        text = self.render_config()
        try:
            if self.config_path.read_text() == text:
                return False
        except FileNotFoundError:
            pass
        tmp = self.config_path.with_suffix(".yml.tmp")
        tmp.write_text(text)
        tmp.replace(self.config_path)
        return True

    def prepare(self) -> None:
        self.binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.write_config()
        port = settings.port("prometheus")
        if proc.port_open(settings.HOST, port):
            raise LauncherError(
                f"port {port} is already in use by another process (not a Prometheus started by this launcher; "
                f"Debian's own prometheus service?); stop it or pick another port with SHUANGDA_PROMETHEUS_PORT=..."
            )

    def binary(self) -> Path:
        return tools.require_debian_tool("prometheus", "prometheus")

    def command(self) -> list[str]:
        return [
            str(self.binary()),
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--web.listen-address={settings.HOST}:{settings.port('prometheus')}",
            "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=7d",
        ]

    def cwd(self) -> Path | None:
        return self.home

    @property
    def rules_stamp_path(self) -> Path:
        return self.home / "rules.stamp"

    def rules_fingerprint(self) -> str:
        """A digest of the rule files' names, sizes and mtimes."""
        digest = hashlib.sha1()
        for path in sorted(glob.glob(rules_glob())):
            try:
                st = os.stat(path)
            except OSError:
                continue
            digest.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return digest.hexdigest()

    def _rules_changed(self) -> bool:
        try:
            return self.rules_stamp_path.read_text().strip() != self.rules_fingerprint()
        except FileNotFoundError:
            return True

    def _stamp_rules(self) -> None:
        self.rules_stamp_path.write_text(self.rules_fingerprint() + "\n")

    def launch(self) -> Launch:
        launched = super().launch()
        if launched.started:
            self._stamp_rules()
        else:
            config_changed = self.write_config()
            if config_changed or self._rules_changed():
                self.reload()
        return launched

    def reload(self) -> bool:
        """Re-render the config and make the running Prometheus re-read it and the
        rule files (SIGHUP). ``up`` does this when either changed. True when a running
        process was signalled."""
        self.write_config()
        pid = self.pid()
        if pid is None:
            return False
        log.info("prometheus: reloading configuration and rules (pid %s)", pid)
        self._stamp_rules()
        proc.signal_process(pid, signal.SIGHUP)
        return True
