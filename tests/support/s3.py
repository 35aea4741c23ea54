"""A real S3-compatible server for the blob store's S3 backend (shared/blobstore.py): S3Proxy with
its filesystem backend (Apache jclouds), its jars resolved by Maven once into the launcher's cache
dir (``<cache>/s3proxy-<version>/libs``, tests/support/s3proxy/pom.xml — the way the launcher
resolves Kafka's), started as a Java process on a free port for one test session, stopped after.

`s3_server()` yields an `S3Server` (endpoint, credentials, bucket); it raises `Unavailable` with
what was missing (java, mvn, or Maven's log tail) — the test skips on that outside CI and fails in CI."""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

POM = Path(__file__).resolve().parent / "s3proxy" / "pom.xml"
IDENTITY, CREDENTIAL = "shuangda-test", "shuangda-test-secret"


class Unavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key_id: str
    secret_access_key: str
    basedir: Path


def version() -> str:
    m = re.search(r"<s3proxy.version>([^<]+)</s3proxy.version>", POM.read_text(encoding="utf-8"))
    assert m, POM
    return m.group(1)


def libs() -> Path:
    """S3Proxy's runtime jars, resolved with Maven the first time (Maven Central)."""
    from deploy.launcher import settings

    target = settings.cache_dir() / f"s3proxy-{version()}" / "libs"
    marker = target.parent / ".complete"
    if marker.exists() and any(target.glob("s3proxy-*.jar")):
        return target
    mvn = shutil.which("mvn")
    if mvn is None or shutil.which("java") is None:
        raise Unavailable("S3Proxy needs java and mvn on PATH (Debian: openjdk-17-jre-headless, maven)")
    staging = target.parent / "libs.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    run = subprocess.run([mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
                          f"-DoutputDirectory={staging}"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         timeout=900)
    if run.returncode != 0 or not any(staging.glob("s3proxy-*.jar")):
        raise Unavailable(f"Maven could not resolve S3Proxy {version()}: {(run.stdout + run.stderr)[-2000:]}")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    marker.write_text(version() + "\n")
    return target


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def s3_server(workdir: Path) -> Iterator[S3Server]:
    jars = libs()
    port = _free_port()
    basedir = workdir / "s3-data"
    basedir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "s3proxy.conf"
    conf.write_text("\n".join([
        f"s3proxy.endpoint=http://127.0.0.1:{port}", "s3proxy.authorization=aws-v2-or-v4",
        f"s3proxy.identity={IDENTITY}", f"s3proxy.credential={CREDENTIAL}",
        "jclouds.provider=filesystem", f"jclouds.filesystem.basedir={basedir}", ""]), encoding="utf-8")
    log = open(workdir / "s3proxy.log", "wb")
    proc = subprocess.Popen(["java", "-Xmx128m", "-cp", f"{jars}/*", "org.gaul.s3proxy.Main", "--properties", str(conf)],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:  # a positive signal: the port answers
            if proc.poll() is not None:
                raise Unavailable(f"S3Proxy exited with {proc.returncode}: {(workdir / 's3proxy.log').read_text()[-2000:]}")
            with socket.socket() as s:
                s.settimeout(0.5)
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise Unavailable("S3Proxy did not listen within 60 s")
            time.sleep(0.2)
        yield S3Server(f"http://127.0.0.1:{port}", IDENTITY, CREDENTIAL, basedir)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        log.close()
