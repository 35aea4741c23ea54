"""Benchmark: credit's query API at 100,000 entities (``python -m bench`` runs it at 1M), and penalty
decisions end to end.

(a) ``POST /v1/entities:check`` with 1,000 codes per request (procurement screening): p50 / p99;
(b) ``GET /v1/entities:search`` by name with 8 concurrent clients: p50 / p95 / p99 (target: p95 <= 25 ms
    at 1M entities, issue 11);
(c) penalty decisions per second end to end: ``penalty.decided`` produced on a bureau's ingress
    topic → recorded in Postgres → ``penalty.recorded`` published by the outbox relay.

The service runs as its own process (``python -m services.credit``) against the registry's schema
and its own topics. The entities are bulk-loaded with COPY (5% with records, 1% listed) into
``bench_credit_e<N>_v<version>`` once, and kept with their name index for the next run (``--fresh``
loads anew); ``service_ready_s`` of a first run includes the first refresh of the name index over all
of them, a later run's only the refresh of what changed. ``rss_mb_max``
is the service process's peak resident set (VmHWM).

``--beside-pipeline`` runs ``python -m bench.pipeline`` beside the search (started 35 s before it, so its
services are up and its leads flowing: issue 11's condition; ``python -m bench`` runs its stages one
after the other, never beside each other); ``--search-only`` skips (a) and (c).
``search_credit_cpu_ms_per_query`` is the service process's CPU per search query (on a shared machine
latency follows the load, CPU per query does not).

Run on the launched stack (about 2 minutes on 2 cores):
    .venv/bin/python -m bench.credit_query [--entities 100000] [--decisions 3000] [--beside-pipeline] [--search-only]
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import aiohttp
import httpx
from aiokafka import AIOKafkaProducer

from bench.common import count_arrivals, percentile, report
from sim.registration import principal_tokens
from services.credit.settings import CreditSettings
from services.credit.wiring import prepare
from shared.config import REPO_ROOT, StackSettings
from shared.contracts.penalty import PenaltyDecided
from shared.db import connect
from shared.envelope import new_envelope
from shared.identifiers import USCC_ALPHABET, uscc_check_character
from shared.topics import ensure_topics, ingress

REGIONS = ["", "陕西省咸阳市", "咸阳市", "咸阳", "西安市", "陕西", "宝鸡市", "咸阳市秦都区", "兴平市", "渭南市"]
CHARS = ("华泰永兴鑫源恒达金利天和盛宏祥瑞丰昌隆安康富民顺德嘉诚佳美新星光明长青福寿泰山东方宇宙星辰海洋"
         "百信万家千禧聚贤汇通博远创新腾飞卓越凯旋鼎盛荣昌益民惠众宝龙云峰翔宇德胜国泰润泽秦川渭水古都丝路"
         "锦绣华夏中和正大同心合力诚信立达远航启明曙光朝阳春晖秋实冬雪夏荷兰竹梅松柏杨柳桃李杏梨枣")
INDUSTRIES = ["商贸", "科技", "食品", "医药", "服装", "建材", "电子", "农业", "物流", "餐饮", "化妆品", "汽车配件", "五金",
              "文化传媒", "网络科技", "生物科技", "酒业", "茶业", "家具", "印刷", "日用品", "母婴用品", "烟酒", "粮油"]
FORMS = ["有限公司", "有限责任公司", "股份有限公司", "经营部", "商行", "合作社", "个人独资企业"]
DIVISIONS = ["610402", "610403", "610404", "610422", "610423", "610481", "610482", "610100", "610300"]


def make_code(rng: random.Random, seen: set[str]) -> str:
    while True:
        body = "91" + rng.choice(DIVISIONS) + "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
        code = body + uscc_check_character(body)
        if code not in seen:
            seen.add(code)
            return code


def make_name(rng: random.Random) -> str:
    trade = "".join(rng.choice(CHARS) for _ in range(rng.choice((2, 2, 3, 4))))
    return f"{rng.choice(REGIONS)}{trade}{rng.choice(INDUSTRIES)}{rng.choice(FORMS)}"


#: the generated registry's shape: bump it when make_code / make_name / the rows loaded change, so a kept
#: dataset of the old shape is not reused
DATASET_VERSION = "1"


def dataset_schema(n: int) -> str:
    """The schema that keeps the generated registry of `n` entities between runs (see `ensure_dataset`)."""
    return f"bench_credit_e{n}_v{DATASET_VERSION}"


def generate(n: int, rng: random.Random) -> tuple[list[str], list[str], list[tuple], list[tuple]]:
    """The registry of `n` entities, the same for the same seed: codes, names and the rows to load."""
    codes: list[str] = []
    names: list[str] = []
    seen: set[str] = set()
    now = dt.datetime.now(dt.timezone.utc)
    entities, name_rows = [], []
    for i in range(n):
        code, name = make_code(rng, seen), make_name(rng)
        codes.append(code)
        names.append(name)
        eid = f"ent-b{i:09d}"
        entities.append((eid, code, "organisation", name, name, now, now))
        name_rows.append((eid, name, "registered", now, "bench"))
        if i % 10 == 0:  # some have a former name
            name_rows.append((eid, make_name(rng), "former", now - dt.timedelta(days=900), "bench"))
    return codes, names, entities, name_rows


async def dataset_ready(dsn: str, schema: str, n: int) -> bool:
    """Whether `schema` holds a complete registry of `n` entities of this DATASET_VERSION (a run that died
    while loading left no marker)."""
    conn = await connect(dsn, "public")
    try:
        marker = await conn.fetchval("SELECT to_regclass($1)", f"{schema}.bench_dataset")
        if marker is None:
            return False
        return bool(await conn.fetchval(f'SELECT count(*) FROM "{schema}".bench_dataset WHERE entities = $1 AND version = $2',
                                        n, DATASET_VERSION))
    finally:
        await conn.close()


async def drop_schema(dsn: str, schema: str) -> None:
    conn = await connect(dsn, "public")
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def load_entities(dsn: str, schema: str, n: int, rng: random.Random) -> tuple[list[str], list[str]]:
    codes, names, entities, name_rows = generate(n, rng)
    conn = await connect(dsn, schema)
    try:
        await conn.copy_records_to_table("entities", records=entities, columns=[
            "entity_id", "credit_code", "kind", "name", "name_key", "first_seen_at", "updated_at"])
        await conn.copy_records_to_table("entity_names", records=name_rows, columns=[
            "entity_id", "name", "name_kind", "valid_from", "source"])
        # 5% with an active ordinary record, 1% on the list
        await conn.execute(
            """
            INSERT INTO records (record_id, entity_id, kind, decision_no, bureau, bureau_type, category, decided_on, heavy,
                                 severity, repairable, disclose, rules_version, disclosed_at, publicity_min_until,
                                 publicity_min_on, publicity_max_until, publicity_max_on, party, digest, created_at)
            SELECT 'rec-b' || e.entity_id, e.entity_id, 'penalty', 'bench-' || e.entity_id, 'market_regulation@610402',
                   'market_regulation', 'trademarks', current_date - 30, false, 'penalty_ordinary', true, true, 'bench',
                   now(), now() + interval '60 days', current_date + 60, now() + interval '330 days', current_date + 330,
                   jsonb_build_object('kind', 'organisation', 'credit_code', e.credit_code, 'name', e.name), 'bench', now()
            FROM entities e WHERE e.entity_id LIKE 'ent-b%' AND substr(e.entity_id, 6)::int % 20 = 0
            """
        )
        await conn.execute(
            """
            INSERT INTO listings (listing_id, entity_id, rule_id, rule_version, citation, reason, authority, early_removal,
                                  measures, listed_at, expires_at, expires_on, early_removal_from, early_removal_on, rules_version)
            SELECT 'lst-b' || e.entity_id, e.entity_id, 'repeat_counterfeit', '2021', 'bench', 'bench', 'market_regulation@610402',
                   true, '{procurement_exclusion}', now(), now() + interval '3 years', current_date + 1095,
                   now() + interval '1 year', current_date + 365, 'bench'
            FROM entities e WHERE e.entity_id LIKE 'ent-b%' AND substr(e.entity_id, 6)::int % 100 = 0
            """
        )
        await conn.execute("ANALYZE entities; ANALYZE records; ANALYZE listings; ANALYZE entity_names")
        await conn.execute("CREATE TABLE bench_dataset (entities integer NOT NULL, version text NOT NULL)")
        await conn.execute("INSERT INTO bench_dataset VALUES ($1, $2)", n, DATASET_VERSION)
    finally:
        await conn.close()
    return codes, names


def spawn_service(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    full = {**os.environ, **env, "SHUANGDA_DEV": "true", "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen([sys.executable, "-m", "services.credit"], env=full, cwd=REPO_ROOT,
                            stdout=log_path.open("ab"), stderr=subprocess.STDOUT)


async def wait_ready(base: str, timeout: float) -> float:
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, timeout=2.0) as client:
        while time.perf_counter() - started < timeout:
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.25)
    raise RuntimeError(f"credit did not become ready within {timeout}s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process `pid` used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def peak_rss_mb(pid: int) -> float | None:
    """The largest resident set process `pid` reached so far, in MiB (Linux: VmHWM)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def query_variants(names: list[str], rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        name = rng.choice(names)
        form = rng.random()
        if form < 0.4:  # region and legal form dropped
            for r in sorted(REGIONS, key=len, reverse=True):
                if r and name.startswith(r):
                    name = name[len(r):]
                    break
            for f in FORMS:
                if name.endswith(f):
                    name = name[: -len(f)]
                    break
        elif form < 0.7:  # a typo
            i = rng.randrange(len(name))
            name = name[:i] + rng.choice(CHARS) + name[i + 1:]
        out.append(name)
    return out


async def bench_check(base: str, key: str, codes: list[str], rng: random.Random, requests: int) -> dict[str, float]:
    unknown: set[str] = set()
    latencies = []
    async with aiohttp.ClientSession(base_url=base, headers={"authorization": f"Bearer {key}"}) as client:
        for i in range(requests + 3):
            batch = rng.sample(codes, 900) + [make_code(rng, unknown) for _ in range(100)]
            started = time.perf_counter()
            async with client.post("/v1/entities:check", json={"codes": batch}) as response:
                response.raise_for_status()
                await response.read()
            elapsed = time.perf_counter() - started
            if i >= 3:  # warm-up
                latencies.append(elapsed * 1000)
    return {"check_requests": requests, "check_p50_ms": round(percentile(latencies, 50), 1),
            "check_p99_ms": round(percentile(latencies, 99), 1)}


async def bench_search(base: str, key: str, names: list[str], rng: random.Random, clients: int, per_client: int) -> dict[str, float]:
    queries = query_variants(names, rng, clients * per_client + 20)
    latencies: list[float] = []
    hits = 0

    async def worker(session: aiohttp.ClientSession, qs: list[str]) -> None:
        nonlocal hits
        for q in qs:
            started = time.perf_counter()
            async with session.get("/v1/entities:search", params={"q": q, "limit": "10"}) as response:
                response.raise_for_status()
                body = await response.json()
            latencies.append((time.perf_counter() - started) * 1000)
            hits += bool(body["candidates"])

    headers = {"authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(base_url=base, headers=headers,
                                     connector=aiohttp.TCPConnector(limit=clients)) as session:
        for q in queries[:20]:  # warm-up
            async with session.get("/v1/entities:search", params={"q": q}) as response:
                await response.read()
        latencies.clear()
        rest = queries[20:]
        started = time.perf_counter()
        await asyncio.gather(*(worker(session, rest[i::clients]) for i in range(clients)))
        wall = time.perf_counter() - started
    return {"search_clients": clients, "search_queries": len(rest), "search_p50_ms": round(percentile(latencies, 50), 1),
            "search_p95_ms": round(percentile(latencies, 95), 1), "search_p99_ms": round(percentile(latencies, 99), 1),
            "search_qps": round(len(rest) / wall, 1), "search_with_candidates": round(hits / len(rest), 3)}


async def bench_decisions(bootstrap: str, topic: str, out_topic: str, codes: list[str], names: list[str], n: int,
                          rng: random.Random) -> dict[str, float]:
    records = []
    for i in range(n):
        j = rng.randrange(len(codes))
        d = PenaltyDecided(
            decision_no=f"bench〔{uuid.uuid4().hex[:12]}〕{i}号",
            party={"kind": "organisation", "credit_code": codes[j], "name": names[j]},
            category=rng.choice(["trademarks", "product_quality", "false_advertising", "food"]),
            violation="bench", legal_basis=["bench"], penalty_types=["fine"], fine_amount=Decimal("5000.00"),
            decided_on=dt.date.today() - dt.timedelta(days=rng.randrange(1, 60)),
        )
        env = new_envelope(type=d.EVENT_TYPE, source="/bench", subject=codes[j])
        records.append((codes[j].encode(), env.to_headers(), d.model_dump_json().encode()))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [await producer.send(topic, value=v, key=k, headers=h) for k, h, v in records]
        await asyncio.gather(*futures)
        produced = time.perf_counter() - started
        arrived, _ = await count_arrivals(bootstrap, out_topic, n, timeout=150)
        total = time.perf_counter() - started
    finally:
        await producer.stop()
    return {"decisions": n, "decisions_arrived": arrived, "decisions_produce_s": round(produced, 2),
            "decisions_per_s_end_to_end": round(arrived / total, 1)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--decisions", type=int, default=3000)
    parser.add_argument("--check-requests", type=int, default=40)
    parser.add_argument("--search-clients", type=int, default=8)
    parser.add_argument("--search-per-client", type=int, default=60)
    parser.add_argument("--port", type=int, default=18604)
    parser.add_argument("--ready-timeout", type=float, default=900.0,
                        help="seconds to wait for the service (its first refresh indexes every entity)")
    parser.add_argument("--fresh", action="store_true",
                        help="load and index a new registry instead of the one kept from an earlier run")
    parser.add_argument("--beside-pipeline", action="store_true",
                        help="run python -m bench.pipeline beside the search (issue 11's condition)")
    parser.add_argument("--search-only", action="store_true", help="only the name search (no check, no decisions)")
    parser.add_argument("--json", action="store_true", help="print only the one JSON object of figures (the default output too)")
    args = parser.parse_args()
    stack = StackSettings(dev=True)
    tag = uuid.uuid4().hex[:8]
    division = str(100000 + int(tag[:6], 16) % 900000)
    # the registry is kept between runs (its name index too: indexing 1M entities is most of a first run)
    schema, in_topic = dataset_schema(args.entities), f"ingress.market_regulation-{division}"
    penalty_topic, credit_topic = f"bench.penalty.{tag}", f"bench.credit.{tag}"
    settings = CreditSettings(dev=True, schema=schema, penalty_topic=penalty_topic, credit_topic=credit_topic)
    rng = random.Random(5)
    t0 = time.perf_counter()
    await ensure_topics(stack.kafka_bootstrap, [ingress(f"market_regulation-{division}")])
    reused = not args.fresh and await dataset_ready(stack.dsn, schema, args.entities)
    if not reused:
        await drop_schema(stack.dsn, schema)  # an incomplete or (with --fresh) old copy
    await prepare(settings)
    if reused:
        codes, names, _, _ = generate(args.entities, rng)
    else:
        codes, names = await load_entities(stack.dsn, schema, args.entities, rng)
    loaded = time.perf_counter() - t0
    identity_schema = f"identity_bench_{tag}"
    # an ops principal: credit:read by default (the queries the bench sends)
    key = (await principal_tokens(stack.dsn, identity_schema, {"bench-dept": ("ops", None)}, label="bench"))["bench-dept"]
    base = f"http://127.0.0.1:{args.port}"
    env = {"SHUANGDA_CREDIT_SCHEMA": schema, "SHUANGDA_IDENTITY_SCHEMA": identity_schema, "SHUANGDA_CREDIT_HTTP_PORT": str(args.port),
           "SHUANGDA_CREDIT_PENALTY_TOPIC": penalty_topic, "SHUANGDA_CREDIT_CREDIT_TOPIC": credit_topic,
           "SHUANGDA_CREDIT_CONSUMER_GROUP": f"bench-credit-{tag}",
           "SHUANGDA_CREDIT_INGRESS_PATTERN": in_topic.replace(".", r"\."),
           "SHUANGDA_CREDIT_REFERRAL_TOPIC": f"bench.referral.{tag}", "SHUANGDA_CREDIT_LOG_LEVEL": "WARNING"}
    log_path = REPO_ROOT / ".shuangda" / "logs" / f"bench-credit-{tag}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    proc = spawn_service(env, log_path)
    pipeline: subprocess.Popen[str] | None = None
    try:
        ready_s = await wait_ready(base, args.ready_timeout)
        figures: dict[str, object] = {"entities": args.entities, "dataset_reused": reused, "load_s": round(loaded, 1),
                                      "service_ready_s": round(ready_s, 1)}
        if not args.search_only:
            figures.update(await bench_check(base, key, codes, rng, args.check_requests))
        if args.beside_pipeline:
            pipeline = subprocess.Popen([sys.executable, "-m", "bench.pipeline", "--json"], cwd=REPO_ROOT,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            await asyncio.sleep(35)  # its services up and its leads flowing
        cpu_before = cpu_seconds(proc.pid)
        figures.update(await bench_search(base, key, names, rng, args.search_clients, args.search_per_client))
        queries = figures["search_queries"] + 20  # with the warm-up
        figures["search_credit_cpu_ms_per_query"] = round(1000 * (cpu_seconds(proc.pid) - cpu_before) / queries, 2)
        if pipeline is not None:
            figures["search_beside_pipeline"] = pipeline.poll() is None  # still running when the search ended
            out, _ = pipeline.communicate(timeout=600)
            last = next((line for line in reversed(out.splitlines()) if line.startswith("{")), "{}")
            figures["pipeline_leads_per_s"] = json.loads(last).get("pipeline_leads_per_s")
        if not args.search_only:
            figures.update(await bench_decisions(stack.kafka_bootstrap, in_topic, penalty_topic, codes, names,
                                                 args.decisions, rng))
        # the service's own peak resident set (it runs as its own process here)
        figures["rss_mb_max"] = peak_rss_mb(proc.pid)
    finally:
        if pipeline is not None and pipeline.poll() is None:
            pipeline.terminate()  # this run failed: do not leave the pipeline's services behind
            pipeline.wait(60)
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    figures["total_s"] = round(time.perf_counter() - t0, 1)
    report("credit_query", figures)


if __name__ == "__main__":
    asyncio.run(main())
