"""The long fuzz (issue 12 §2): hostile requests across the four services, as processes on the real
stack, counting every answer. Done when there are 0 answers of 5xx and 0 dropped connections.

Each request is one of, drawn at random (seeded) for every operation of each service's own OpenAPI
document (fetched from the running service):

- a hostile value (tests/support/hostile.py's corpus: NUL, controls, bidi and zero-width characters,
  lone surrogates, invalid UTF-8, huge numbers, 5,000-character ids …) in one path or query parameter;
- a JSON body built from the operation's schema with hostile values in random fields (wrong types,
  missing and unknown fields included), or bytes that are not JSON at all;
- a malformed header (the HTTP parser's refusals: control bytes, a bad Content-Length …), sent raw;
- the caller's key, no key, or a forged one.

    .venv/bin/python -m bench.fuzz [--requests 100000] [--concurrency 32] [--seed 1] [--json]

The services run in their own namespace (schemas, topics, groups, ports), deleted afterwards. Nothing
here is a test; the suite runs a small version (tests/e2e/test_bad_input.py) through `fuzz()`.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import json
import logging
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from bench.common import report
from tests.support import hostile

PROBLEM_JSON = "application/problem+json"


def georeport_raw(head: bytes, body: bytes) -> bool:
    """`georeport_errors` for a raw exchange (lower-cased head, the body as sent)."""
    if b"content-type: text/xml" in head:
        return b"<errors><error><code>" in body
    try:
        doc = json.loads(body)
    except ValueError:
        return False
    return isinstance(doc, list) and bool(doc) and all(isinstance(e, dict) and set(e) == {"code", "description"}
                                                        for e in doc)


def georeport_errors(response: httpx.Response) -> bool:
    """Open311's refusals are GeoReport v2's error list ([{code, description}], <errors> in XML), by the spec."""
    kind = response.headers.get("content-type", "")
    if kind.startswith("text/xml"):
        return b"<errors><error><code>" in response.content
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, list) and bool(body) and all(isinstance(e, dict) and set(e) == {"code", "description"}
                                                          for e in body)
_INTS = (0, -1, 1, 2**31, 2**63, -(2**63) - 1, 10**30)
#: seconds an idle client connection is kept (below uvicorn's timeout_keep_alive of 5 s)
KEEPALIVE_EXPIRY = 2.0
_FORGED = ("Bearer x", "Bearer " + "A" * 300, "Bearer \u00e9", "Basic Zm9vOmJhcg==", "Bearer ..")


@dataclass
class Target:
    """A running service: its base URL and the headers its caller sends (its key)."""

    service: str
    url: str
    headers: dict[str, str]


@dataclass
class Figures:
    requests: int = 0
    by_status: collections.Counter[str] = field(default_factory=collections.Counter)
    by_service: dict[str, collections.Counter[str]] = field(default_factory=dict)
    server_errors: list[tuple[str, str, str, int, str]] = field(default_factory=list)
    dropped: list[tuple[str, str, str, str]] = field(default_factory=list)
    not_problems: list[tuple[str, str, str, int]] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, service: str, status: str) -> None:
        self.requests += 1
        self.by_status[status] += 1
        self.by_service.setdefault(service, collections.Counter())[status] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "fuzz_requests": self.requests - self.by_status["not_sent"],
            "fuzz_not_sent_by_the_client": self.by_status["not_sent"],
            "fuzz_5xx": len(self.server_errors),
            "fuzz_dropped_connections": len(self.dropped),
            "fuzz_4xx_not_problem_json": len(self.not_problems),
            "fuzz_requests_per_s": round((self.requests - self.by_status["not_sent"]) / self.seconds, 1) if self.seconds else None,
            "fuzz_seconds": round(self.seconds, 1),
            "fuzz_by_status": dict(sorted(self.by_status.items())),
            "fuzz_by_service": {s: dict(sorted(c.items())) for s, c in sorted(self.by_service.items())},
            "fuzz_5xx_samples": self.server_errors[:10],
            "fuzz_dropped_samples": self.dropped[:10],
            "fuzz_not_problem_samples": self.not_problems[:10],
        }


class Generator:
    """Random hostile requests for one service's OpenAPI document."""

    def __init__(self, openapi: dict[str, Any], rng: random.Random) -> None:
        self.doc, self.rng = openapi, rng
        self.ops = list(hostile.operations(openapi))
        self.parameter_requests = list(hostile.hostile_requests(openapi))

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while "$ref" in schema and seen < 10:
            name = schema["$ref"].rsplit("/", 1)[1]
            schema = self.doc.get("components", {}).get("schemas", {}).get(name, {})
            seen += 1
        return schema

    def value(self, schema: dict[str, Any], depth: int = 0) -> Any:
        schema = self._resolve(schema)
        rng = self.rng
        if depth > 4 or rng.random() < 0.08:  # a value of the wrong type, anywhere
            return rng.choice([None, True, 1, -1.5, "x", [], {}, hostile.STRINGS[rng.randrange(len(hostile.STRINGS))]])
        for key in ("anyOf", "oneOf", "allOf"):
            if key in schema and schema[key]:
                return self.value(rng.choice(schema[key]), depth + 1)
        if "enum" in schema and rng.random() < 0.7:
            return rng.choice(schema["enum"])
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            props = schema.get("properties", {})
            required = set(schema.get("required", ()))
            out = {name: self.value(sub, depth + 1) for name, sub in props.items()
                   if name in required and rng.random() < 0.95 or rng.random() < 0.5}
            if rng.random() < 0.1:
                out[rng.choice(["\x00", "x" * 300, "extra", "__proto__"])] = 1
            return out
        if kind == "array":
            return [self.value(schema.get("items", {}), depth + 1) for _ in range(rng.choice((0, 1, 2, 3, 50)))]
        if kind == "integer":
            return rng.choice(_INTS)
        if kind == "number":
            return rng.choice((0, -0.0, 1e308, -1e308, 3.14159, 10**40))
        if kind == "boolean":
            return rng.choice((True, False))
        if schema.get("format") == "date":
            return rng.choice(("9999-12-31", "0001-01-01", "2024-02-30", "2024-02-01", "\x00"))
        if schema.get("format") == "date-time":
            return rng.choice(("9999-12-31T23:59:59Z", "2024-01-01T00:00:00", "2024-01-01T00:00:00+25:00", "x"))
        return rng.choice(hostile.STRINGS)

    def request(self, target: Target) -> tuple[str, str, dict[str, str], bytes | None, bytes | None]:
        """(method, path-and-query, headers, body, raw bytes to send instead) — one hostile request."""
        rng = self.rng
        headers = dict(target.headers)
        roll = rng.random()
        if roll < 0.05:
            headers.pop("authorization", None)
        elif roll < 0.10:
            headers["authorization"] = rng.choice(_FORGED)
        choice = rng.random()
        if choice < 0.04:  # a header the HTTP parser refuses (or lets through to the app), sent raw
            method, path, _ = rng.choice(self.ops)
            filled = hostile._PARAM.sub("1", path)
            raw = f"{method} {filled} HTTP/1.1\r\nHost: x\r\n".encode() + rng.choice(hostile.MALFORMED_HEADERS) + \
                b"\r\nConnection: close\r\n\r\n"
            return method, filled, headers, None, raw
        if choice < 0.45 and self.parameter_requests:
            method, target_path = rng.choice(self.parameter_requests)
            return method, target_path, headers, None, None
        method, path, op = rng.choice(self.ops)
        filled = path
        for name in hostile._PARAM.findall(path):
            filled = filled.replace("{" + name + "}", rng.choice(("1", "x", rng.choice(hostile.ENCODED))))
        if rng.random() < 0.1:
            headers["Idempotency-Key"] = rng.choice(("k-1", "k-2", "A" * 201, "é", "a b", "\t"))
        body = None
        content = (op.get("requestBody") or {}).get("content", {})
        if content or method in ("POST", "PUT", "PATCH"):
            if rng.random() < 0.1:
                body = rng.choice((b"\xff\xfe", b"{", b"[]", b"null", b'{"a":' * 200, bytes(rng.randrange(256) for _ in range(64))))
            else:
                schema = (content.get("application/json") or {}).get("schema", {"type": "object"})
                body = json.dumps(self.value(schema), ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
            headers["content-type"] = "application/json"
        query = [p for p in op.get("parameters", []) if p.get("in") == "query"]
        if query and rng.random() < 0.5:
            p = rng.choice(query)
            filled += f"?{quote(p['name'], safe='')}={quote(str(self.value(p.get('schema', {}))), safe='')}"
        return method, filled, headers, body, None


async def fuzz(targets: list[Target], *, requests: int, concurrency: int = 32, seed: int = 1,
               seconds: float | None = None) -> Figures:
    """Send `requests` hostile requests spread over `targets` (or until `seconds` pass) and count the answers."""
    figures = Figures()
    rng = random.Random(seed)
    async with httpx.AsyncClient(trust_env=False, timeout=60,
                                 # idle connections are dropped before the server's keep-alive timeout (uvicorn:
                                 # 5 s, httpx's default expiry too): a connection the server closes just as the
                                 # client reuses it is the client's race, not a dropped request
                                 limits=httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency,
                                                     keepalive_expiry=KEEPALIVE_EXPIRY)) as client:
        generators = {}
        for t in targets:
            document = (await client.get(f"{t.url}/openapi.json")).json()
            generators[t.service] = Generator(document, random.Random(rng.random()))
        started = time.perf_counter()
        deadline = started + seconds if seconds else None
        issued = 0

        async def one(t: Target) -> None:
            method, path, headers, body, raw = generators[t.service].request(t)
            where = f"{method} {path[:100]}"
            try:
                if raw is not None:
                    answer = await hostile.raw_exchange(t.url, raw, timeout=30)
                    if not answer.startswith(b"HTTP/1.1 "):
                        figures.dropped.append((t.service, where, "raw", repr(answer[:60])))
                        figures.count(t.service, "dropped")
                        return
                    status = int(answer[9:12])
                    head = answer.split(b"\r\n\r\n", 1)[0].lower()
                    is_problem = b"content-type: application/problem+json" in head or (
                        path.startswith("/open311/") and georeport_raw(head, answer.split(b"\r\n\r\n", 1)[-1]))
                    text = answer[:200].decode("latin-1")
                else:
                    encoded = {k: v.encode("utf-8") for k, v in headers.items()}  # e.g. a forged key that is not ASCII
                    response = await client.request(method, t.url + path, headers=encoded, content=body)
                    status = response.status_code
                    is_problem = response.headers.get("content-type", "").startswith(PROBLEM_JSON) \
                        or (path.startswith("/open311/") and georeport_errors(response))
                    text = response.text[:200]
            except httpx.LocalProtocolError:  # the client library would not send it (e.g. a bare tab as a value)
                figures.count(t.service, "not_sent")
                return
            except (httpx.TransportError, OSError, asyncio.TimeoutError) as exc:
                figures.dropped.append((t.service, where, type(exc).__name__, str(exc)[:100]))
                figures.count(t.service, "dropped")
                return
            figures.count(t.service, f"{status // 100}xx")
            if status >= 500:
                figures.server_errors.append((t.service, where, "", status, text))
            elif status >= 400 and not is_problem:
                figures.not_problems.append((t.service, where, "", status))

        async def worker() -> None:
            nonlocal issued
            while issued < requests and (deadline is None or time.perf_counter() < deadline):
                issued += 1
                await one(targets[issued % len(targets)])

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        figures.seconds = time.perf_counter() - started
    return figures


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from deploy.launcher import endpoints
    from shared.workdays import SHANGHAI
    from sim import stackenv
    from sim.directory import build_directory, write_directory
    from sim.receiver import Receiver
    from sim.registration import principal_tokens

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    ep = endpoints()
    bootstrap, dsn = ep.kafka_bootstrap, ep.pg_dsn
    iso = stackenv.Isolated.make(stackenv.new_unique("f"))
    work = Path(tempfile.mkdtemp(prefix=f"shuangda-fuzz-{iso.unique}-"))
    receiver = Receiver(secrets={}, keep=False)
    services = None
    try:
        await stackenv.prepare(iso, dsn, bootstrap)
        port = await receiver.start()
        today = dt.datetime.now(SHANGHAI).date()
        document, secrets = build_directory(f"http://127.0.0.1:{port}", today, version=f"fuzz-{iso.unique}")
        receiver.secrets.update(secrets)
        bureau = "market_regulation@610402"
        tokens = await principal_tokens(dsn, iso.schemas.identity, {bureau: ("bureau", bureau),
                                                                    f"ops-{iso.unique}": ("ops", None)}, label="fuzz")
        env = iso.env(directory_path=write_directory(work / "directory.yaml", document),
                      sms_url=f"http://127.0.0.1:{port}/sms")
        services = stackenv.Services(iso, env, work / "logs")
        services.start()
        await services.wait_ready(timeout=180)
        auth = {"authorization": f"Bearer {tokens[bureau]}"}
        targets = [Target(s, iso.url(s), auth if s != "notify" else {"authorization": f"Bearer {tokens[f'ops-{iso.unique}']}"})
                   for s in stackenv.SERVICES]
        result = await fuzz(targets, requests=args.requests, concurrency=args.concurrency, seed=args.seed,
                            seconds=args.seconds)
        alive = {s: proc.poll() is None for s, proc in services.procs.items()}
        figures = {**result.as_dict(), "services_alive_after": alive}
        report("fuzz", figures)
        return figures
    finally:
        if services is not None:
            await asyncio.to_thread(services.stop)
        await receiver.stop()
        await stackenv.cleanup(iso, dsn, bootstrap)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=100_000, help="hostile requests across the four services")
    p.add_argument("--concurrency", type=int, default=32, help="requests in flight at once")
    p.add_argument("--seed", type=int, default=1, help="the random seed (the run is reproducible)")
    p.add_argument("--seconds", type=float, default=None, help="stop after this long even if fewer were sent")
    p.add_argument("--json", action="store_true", help="print only one JSON object with the figures")
    return p


if __name__ == "__main__":
    asyncio.run(main(parser().parse_args()))
