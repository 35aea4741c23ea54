"""shared.keyset: a cursor comes back as the parts it was made of; anything else is refused."""
from __future__ import annotations

import base64

import pytest

from shared import keyset


def test_a_cursor_decodes_to_the_parts_it_was_encoded_from() -> None:
    text = keyset.encode("n", "d", "2026-12-07T08:00:00+00:00", "case-1")
    assert keyset.decode(text, 4) == ("n", "d", "2026-12-07T08:00:00+00:00", "case-1")


@pytest.mark.parametrize("text", [
    "", "!!!", "é", "A" * 513,
    base64.urlsafe_b64encode(b'{"a":1}').decode(),
    base64.urlsafe_b64encode(b'["n","d","t"]').decode(),
    base64.urlsafe_b64encode(b'["n","d","t",1]').decode(),
    base64.urlsafe_b64encode(b'["n","d","t","c\\u0000"]').decode(),
    keyset.encode("n", "d", "t", "x" * 65),
])
def test_a_cursor_that_was_not_issued_is_refused(text: str) -> None:
    with pytest.raises(keyset.BadCursor):
        keyset.decode(text, 4)


def test_the_rows_after_a_key_are_bounded_on_the_first_column_and_tie_broken_by_the_second():
    args: list = [100]
    where = keyset.after(args, ("d.due_at", "d.case_id"), ("2026-12-01", "C1"), ascending=True)
    assert where == "d.due_at >= $2 AND (d.due_at, d.case_id) > ($2, $3)"
    assert args == [100, "2026-12-01", "C1"]


def test_after_a_key_in_descending_order_means_before_it():
    args: list = [100, "bureau"]
    where = keyset.after(args, ("c.opened_at", "c.case_id"), ("t", "C9"), ascending=False)
    assert where == "c.opened_at <= $3 AND (c.opened_at, c.case_id) < ($3, $4)"
