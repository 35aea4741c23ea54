"""Credit's name search over its index in Postgres (issue 11): what the refresher writes, what a
query finds, renames, persons left out, and replicas sharing one index."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from services.credit.adapters.search import IndexRefresher
from services.credit.app.entities import Search
from tests.support import stack
from tests.support.credit import CreditWorld, http

pytestmark = pytest.mark.stack

NOW = dt.datetime(2025, 3, 1, tzinfo=dt.timezone.utc)


async def add_entity(world: CreditWorld, entity_id: str, code: str | None, kind: str, *names: tuple[str, str]) -> None:
    conn = await world.conn()
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO entities (entity_id, credit_code, kind, name, name_key, first_seen_at, updated_at)"
                " VALUES ($1, $2, $3, $4, $4, $5, $5)", entity_id, code, kind, names[0][0], NOW)
            await conn.executemany(
                "INSERT INTO entity_names (entity_id, name, name_kind, valid_from, source) VALUES ($1, $2, $3, $4, 'test')",
                [(entity_id, n, k, NOW) for n, k in names])
    finally:
        await conn.close()


async def rename(world: CreditWorld, entity_id: str, new_name: str) -> None:
    """What a rename does to the registry: the registered name becomes a former one, the version moves."""
    conn = await world.conn()
    try:
        async with conn.transaction():
            await conn.execute("UPDATE entity_names SET name_kind = 'former' WHERE entity_id = $1 AND name_kind = 'registered'",
                               entity_id)
            await conn.execute(
                "INSERT INTO entity_names (entity_id, name, name_kind, valid_from, source) VALUES ($1, $2, 'registered', $3, 'test')",
                entity_id, new_name, NOW)
            await conn.execute("UPDATE entities SET name = $2, version = version + 1, changed_at = clock_timestamp()"
                               " WHERE entity_id = $1", entity_id, new_name)
    finally:
        await conn.close()


async def test_the_search_finds_names_in_postgres_follows_a_rename_and_leaves_persons_out(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    ops = await world.add_client(f"ops-{unique}", "department")
    await add_entity(world, "e1", "91610400MA6XUN0001", "organisation", ("陕西省咸阳市华泰商贸有限公司", "registered"))
    await add_entity(world, "e2", None, "organisation", ("西安华泰商贸有限公司", "registered"))
    await add_entity(world, "e3", "91610400MA6XUN0002", "organisation",
                     ("咸阳秦都新天地食品有限公司", "registered"), ("咸阳秦都天地副食店", "former"))
    await add_entity(world, "e4", None, "natural_person", ("张三丰", "registered"))
    async with world.running(scheduler=False) as parts:
        assert await parts.refresher.refresh() >= 0  # the first refresh may have run already
        async with http(parts, ops) as client:
            found = (await client.get("/v1/entities:search", params={"q": "咸阳华泰商贸"})).json()
            former = (await client.get("/v1/entities:search", params={"q": "天地副食店"})).json()
            person = (await client.get("/v1/entities:search", params={"q": "张三丰"})).json()
        [best, second] = found["candidates"][:2]
        assert (best["entity_id"], second["entity_id"]) == ("e1", "e2") and best["score"] > second["score"]
        assert any("region agrees" in line for line in best["explanation"])
        assert found["index_size"] == 3
        assert former["candidates"][0]["entity_id"] == "e3"
        assert former["candidates"][0]["matched_name_kind"] == "former"
        assert former["candidates"][0]["name"] == "咸阳秦都新天地食品有限公司"
        assert person["candidates"] == []

        await rename(world, "e2", "西安丙丁科技有限公司")
        # this refresh, or the background one running beside it (every 0.3 s), indexes the rename exactly once
        assert await parts.refresher.refresh() in (0, 1)
        async with http(parts, ops) as client:
            async def search(q: str) -> dict[str, Any]:
                return (await client.get("/v1/entities:search", params={"q": q})).json()

            renamed = await stack.eventually(lambda: search("丙丁科技"), what="the new name found",
                                             until=lambda r: bool(r["candidates"]) and r["candidates"][0]["entity_id"] == "e2")
            old = await search("西安华泰商贸")
        assert renamed["candidates"][0]["entity_id"] == "e2"
        hit = next(c for c in old["candidates"] if c["entity_id"] == "e2")
        assert hit["matched_name_kind"] == "former" and hit["name"] == "西安丙丁科技有限公司"
    # the postings and the bigram counts follow the rows, the old name's postings gone with it
    [check] = await world.fetch(
        """
        SELECT (SELECT count(*) FROM (SELECT gram, count(*) AS n FROM name_search_postings GROUP BY gram) p
                FULL JOIN (SELECT gram, names AS n FROM name_search_grams WHERE names > 0) g USING (gram)
                WHERE p.n IS DISTINCT FROM g.n) AS miscounted,
               (SELECT count(*) FROM name_search_postings p WHERE NOT EXISTS (
                    SELECT 1 FROM name_search s WHERE s.slot = p.slot AND strpos(s.core, p.gram) > 0)) AS orphans,
               (SELECT count(DISTINCT slot) FROM name_search_postings) AS slots,
               (SELECT count(*) FROM name_search) AS names,
               (SELECT entities FROM name_search_state) AS entities
        """)
    assert (check["miscounted"], check["orphans"]) == (0, 0)
    assert check["slots"] == check["names"] == 5 and check["entities"] == 3


async def test_instances_share_one_index_and_a_restarted_one_reindexes_nothing(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    for i in range(30):
        await add_entity(world, f"e{i:02d}", None, "organisation", (f"咸阳市华泰{i:02d}商贸有限公司", "registered"))
    async with world.running(scheduler=False) as first:
        await first.refresher.refresh()
    async with world.running(scheduler=False) as second:
        other = IndexRefresher(second.refresher.pool, second.index, 60)
        assert await other.refresh() == 0
        await rename(world, "e07", "咸阳市永兴建材经营部")
        assert await other.refresh() == 1
        assert await second.refresher.refresh() == 0
    [row] = await world.fetch("SELECT count(*) AS n, count(DISTINCT entity_id) AS e FROM name_search")
    assert (row["n"], row["e"]) == (31, 30)



async def test_a_name_another_instance_indexed_with_new_bigrams_is_found_once_this_instance_has_refreshed(unique: str) -> None:
    world = CreditWorld(unique)
    await world.create()
    await add_entity(world, "e1", None, "organisation", ("咸阳市华泰商贸有限公司", "registered"))
    async with world.running(scheduler=False) as parts:
        mine = IndexRefresher(parts.refresher.pool, parts.index, 60)
        await mine.refresh()
        before = mine.counts.version
        assert before is not None and mine.counts.entities == 1
        # another instance (the service's own loop, or `other`) indexes a name whose bigrams `mine` never held
        await add_entity(world, "e2", None, "organisation", ("咸阳市鑫龘麤爨贸易有限公司", "registered"))
        await IndexRefresher(parts.refresher.pool, parts.index, 60).refresh()
        search = Search(parts.index, mine.counts)
        assert (await search(parts.refresher.pool, "鑫龘麤爨", limit=10, min_score=50))["candidates"] == []  # not yet reloaded
        assert await mine.refresh() == 0  # nothing left to index, but the counts moved: reloaded
        assert mine.counts.version != before and mine.counts.entities == 2
        found = await search(parts.refresher.pool, "鑫龘麤爨", limit=10, min_score=50)
        assert found["candidates"][0]["entity_id"] == "e2" and found["index_size"] == 2
