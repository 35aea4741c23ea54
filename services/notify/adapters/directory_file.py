"""The directory file: loaded at start, re-read when its mtime changes or on SIGHUP.

A file that fails to parse or validate is refused and the directory in force
stays (logged, and counted as ``shuangda_notification_directory_reloads_total
{outcome="invalid"}``); at start, an invalid file is an error.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path
from typing import Mapping

import yaml

from services.notify.domain.directory import Directory, DirectoryError, build_directory
from services.notify.metrics import DIRECTORY_INFO, DIRECTORY_RELOADS
from shared.runtime.backoff import wait_any

log = logging.getLogger(__name__)


def load_directory(path: Path, *, dev: bool, allow_external_targets: bool = False,
                   env: Mapping[str, str] | None = None) -> Directory:
    """Read and validate a directory file; `DirectoryError` names the file and the problem."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DirectoryError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise DirectoryError(f"{path}: not valid YAML ({exc})") from None
    try:
        return build_directory(document, env=os.environ if env is None else env, dev=dev,
                               allow_external_targets=allow_external_targets)
    except DirectoryError as exc:
        raise DirectoryError(f"{path}: {exc}") from None


class DirectoryFile:
    """The directory in force (`current`), kept in step with its file."""

    def __init__(self, path: Path, *, dev: bool, allow_external_targets: bool = False, check_seconds: float = 5.0,
                 env: Mapping[str, str] | None = None) -> None:
        self.path = path
        self.dev = dev
        self.allow_external_targets = allow_external_targets
        self.check_seconds = check_seconds
        self.env = env
        self.sighup_installed = False
        #: why the last reload was refused (None once a reload succeeds)
        self.last_error: str | None = None
        self._mtime = self._stat()
        self.current = load_directory(path, dev=dev, allow_external_targets=allow_external_targets, env=env)
        DIRECTORY_RELOADS.labels("loaded").inc()
        DIRECTORY_INFO.set(len(self.current.entries))
        log.info("directory %s loaded", self.current.version, extra={"path": str(path), "entries": len(self.current.entries)})

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
            return st.st_mtime_ns, st.st_size
        except OSError:
            return None

    def reload(self) -> bool:
        """Re-read the file; keep the directory in force if the new one is invalid. True if replaced."""
        self._mtime = self._stat()
        try:
            directory = load_directory(self.path, dev=self.dev, allow_external_targets=self.allow_external_targets,
                                       env=self.env)
        except DirectoryError as exc:
            DIRECTORY_RELOADS.labels("invalid").inc()
            log.error("directory not reloaded, keeping version %s: %s", self.current.version, exc)
            self.last_error = str(exc).replace(str(self.path), "the directory file")
            return False
        self.current = directory
        self.last_error = None
        DIRECTORY_RELOADS.labels("loaded").inc()
        DIRECTORY_INFO.set(len(directory.entries))
        log.info("directory %s loaded", directory.version, extra={"path": str(self.path), "entries": len(directory.entries)})
        return True

    async def watch(self, stop: asyncio.Event) -> None:
        """Reload on SIGHUP or when the file's mtime changes, until `stop`."""
        hup = asyncio.Event()
        loop = asyncio.get_running_loop()
        installed = False
        try:
            loop.add_signal_handler(signal.SIGHUP, hup.set)
            installed = self.sighup_installed = True
        except (NotImplementedError, RuntimeError, ValueError):
            log.debug("SIGHUP cannot be handled here; the directory is reloaded on mtime change only")
        try:
            while not stop.is_set():
                await wait_any(stop, hup, self.check_seconds)
                if stop.is_set():
                    break
                if hup.is_set():
                    hup.clear()
                    log.info("SIGHUP: reloading the directory")
                    self.reload()
                elif self._stat() != self._mtime:
                    self.reload()
        finally:
            if installed:
                loop.remove_signal_handler(signal.SIGHUP)
                self.sighup_installed = False
