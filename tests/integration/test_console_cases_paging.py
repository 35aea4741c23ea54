"""The console's /cases pages through routing's keyset worklist on the real stack: next and previous
links, each case once; a forged page link is a clear 400, never a 500."""
from __future__ import annotations

import re
import uuid
from html import unescape

import httpx
import pytest

from tests.support import stack
from tests.support.console import console_stack, sign_in
from tests.support.routing import case_opened

pytestmark = pytest.mark.stack
MINE = "market_regulation@610402"


def case_ids(html: str) -> list[str]:
    return re.findall(r'<tr class="u-[a-z]+" data-case="([^"]+)"', html)


def link(html: str, rel: str) -> str | None:
    found = re.search(rf'<a rel="{rel}" href="([^"]+)"', html)
    return unescape(found.group(1)) if found else None


async def test_the_bureau_worklist_has_next_and_previous_links_that_show_each_case_once() -> None:
    unique = uuid.uuid4().hex[:10]
    async with console_stack(unique, worklist_page_size=4) as cs:
        ids = [f"W{i:02d}-{unique}" for i in range(10)]
        await cs.world.open_cases(*(case_opened(c, county="610402") for c in ids))
        for c in ids:
            await stack.eventually(lambda c=c: cs.world.case_row(c), until=lambda r: r is not None, what=f"{c} assigned")
        await cs.create_account("pager", f"bureau@{MINE}")
        async with httpx.AsyncClient(base_url=cs.url) as client:
            await sign_in(client, "pager")
            pages, url = [], "/cases"
            while url is not None:
                r = await client.get(url)
                assert r.status_code == 200, r.text
                pages.append((url, case_ids(r.text)))
                assert len(pages) <= 10
                url = link(r.text, "next")
            assert [len(p) for _, p in pages] == [4, 4, 2]
            seen = [c for _, p in pages for c in p]
            assert sorted(seen) == sorted(ids)
            assert link((await client.get("/cases")).text, "prev") is None
            last = await client.get(pages[-1][0])
            back = await client.get(link(last.text, "prev") or "")
            assert case_ids(back.text) == pages[1][1]

            forged = await client.get("/cases", params={"cursor": "not-a-cursor"})
            assert forged.status_code == 400 and 'data-testid="message"' in forged.text
            assert (await client.get("/cases", params={"cursor": "x" * 600})).status_code == 400
