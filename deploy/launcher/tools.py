"""Finding (and, for Debian packages, installing) the programs the launcher runs.

Rule: Postgres and Prometheus come from Debian's packages. When one is missing
and we are root on a machine with ``apt-get``, it is installed non-interactively
(``apt-get update`` first only when the plain install fails); otherwise the
launcher stops with a :class:`~deploy.launcher.errors.MissingTool` naming the
program and the package. Java and Maven are never installed implicitly.
"""
from __future__ import annotations

import glob
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

from deploy.launcher.errors import LauncherError, MissingTool

log = logging.getLogger(__name__)

JAVA_HINT = "install a Java 17+ runtime and Maven, e.g. `apt-get install openjdk-17-jre-headless maven`"
MAVEN_HINT = "install Maven (and a Java 17+ runtime), e.g. `apt-get install openjdk-17-jre-headless maven`"


def is_root() -> bool:
    return os.geteuid() == 0


def which(name: str, extra_globs: tuple[str, ...] = ()) -> Path | None:
    """``name`` on PATH, else in the newest directory matching ``extra_globs``."""
    found = shutil.which(name)
    if found:
        return Path(found)
    candidates: list[Path] = []
    for pattern in extra_globs:
        candidates.extend(Path(p) for p in glob.glob(os.path.join(pattern, name)))
    candidates = [c for c in candidates if os.access(c, os.X_OK)]
    if not candidates:
        return None
    return sorted(candidates, key=lambda p: _version_key(str(p)))[-1]


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text))


def apt_install(package: str, why: str) -> None:
    """``apt-get install -y <package>`` when we are root and apt-get exists; raise
    :class:`MissingTool` otherwise. Retries once after ``apt-get update``."""
    apt = shutil.which("apt-get")
    if not (is_root() and apt):
        raise MissingTool(why, f"install the Debian package `{package}` (apt-get install {package})")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = [apt, "install", "-y", "-q", "-o", "Dpkg::Options::=--force-confdef",
           "-o", "Dpkg::Options::=--force-confold", package]
    log.info("%s not found: installing the Debian package %s (apt-get install)", why, package)
    first = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if first.returncode == 0:
        return
    log.info("apt-get install %s failed; running apt-get update and trying again", package)
    subprocess.run([apt, "update", "-q"], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    second = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if second.returncode != 0:
        detail = (second.stderr or second.stdout).strip().splitlines()[-5:]
        raise MissingTool(why, f"`apt-get install {package}` failed:\n  " + "\n  ".join(detail))


def require_debian_tool(name: str, package: str, extra_globs: tuple[str, ...] = ()) -> Path:
    """Path of ``name``; installs ``package`` first when allowed (see module doc)."""
    found = which(name, extra_globs)
    if found:
        return found
    apt_install(package, name)
    found = which(name, extra_globs)
    if not found:
        raise MissingTool(name, f"the Debian package `{package}` was installed but `{name}` is still not found")
    return found


def java() -> Path:
    """The ``java`` to run Kafka with ($JAVA_HOME/bin/java, else PATH); must be 17+."""
    java_home = os.environ.get("JAVA_HOME")
    exe: Path | None = None
    if java_home and os.access(Path(java_home, "bin", "java"), os.X_OK):
        exe = Path(java_home, "bin", "java")
    else:
        exe = which("java")
    if exe is None:
        raise MissingTool("java", JAVA_HINT)
    probe = subprocess.run([str(exe), "-version"], capture_output=True, text=True)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', probe.stderr + probe.stdout)
    if match:
        major = int(match.group(1))
        if major == 1 and match.group(2):
            major = int(match.group(2))
        if major < 17:
            raise LauncherError(f"{exe} is Java {major}; Kafka 4 needs Java 17 or newer: {JAVA_HINT}")
    return exe


def maven() -> Path:
    exe = which("mvn")
    if exe is None:
        raise MissingTool("mvn", MAVEN_HINT)
    return exe


#: a font with the CJK glyphs the console's pages need (headless chromium has none otherwise)
CJK_FONT_PACKAGE = "fonts-wqy-zenhei"
CJK_FONT_GLOBS = ("/usr/share/fonts/truetype/wqy/*", "/usr/share/fonts/opentype/noto/*CJK*", "/usr/share/fonts/truetype/noto/*CJK*")


def chromium() -> Path:
    """Debian's ``chromium`` (the console's browser tests drive it through Playwright, since browser
    downloads are not available), installed like Postgres and Prometheus when missing, with a CJK font."""
    exe = require_debian_tool("chromium", "chromium")
    if not any(glob.glob(pattern) for pattern in CJK_FONT_GLOBS):
        apt_install(CJK_FONT_PACKAGE, "a CJK font for chromium")
    return exe
