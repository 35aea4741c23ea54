"""The shared input hygiene refuses what no service should store or publish, and names why."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, strategies as st
from pydantic import BaseModel, ValidationError

from shared.text import Ident, Multiline, PageOffset, SaneDate, Text, TextRefused, clean_text


class Form(BaseModel):
    name: Text(20)
    note: Multiline(50, required=False) = ""
    case_id: Ident(r"case-[0-9a-f]{8}", max_len=13, what="case id") = "case-0000000a"
    offset: PageOffset = 0
    decided_on: SaneDate = dt.date(2026, 1, 1)


def reason(**fields: object) -> tuple[str, str]:
    with pytest.raises(ValidationError) as caught:
        Form(**{"name": "ok", **fields})
    err = caught.value.errors()[0]
    return ".".join(map(str, err["loc"])), err["type"]


@pytest.mark.parametrize("bad, why", [
    ("\u0000", "control_character"), ("a\u0000b", "control_character"), ("a\x1bb", "control_character"),
    ("a\x7fb", "control_character"), ("a\x85b", "control_character"), ("a\nb", "control_character"),
    ("a\u2028b", "control_character"), ("\ud800", "invalid_character"), ("a\ufdd0", "invalid_character"),
    ("a\uffffb", "invalid_character"), (" ", "empty"), ("x" * 21, "too_long"),
])
def test_hostile_text_is_refused_naming_the_field_and_the_reason(bad: str, why: str) -> None:
    assert reason(name=bad) == ("name", why)


def test_format_characters_are_removed_and_fullwidth_text_is_normalised() -> None:
    assert Form(name="\u202eAB\u200bC\ufeff").name == "ABC"
    assert Form(name="ＡＢＣ　１２３").name == "ABC 123"


def test_the_length_is_checked_after_normalisation() -> None:
    assert reason(name="\ufdfa" * 2) == ("name", "too_long")  # one character, 18 after NFKC


def test_multiline_text_keeps_line_breaks_and_turns_crlf_into_lf() -> None:
    assert Form(name="a", note="one\r\ntwo\tthree").note == "one\ntwo three"


@pytest.mark.parametrize("bad", ["case-0000000A", "case-%00", "case-0000000a ", "x" * 5000, ""])
def test_an_id_must_have_its_declared_shape(bad: str) -> None:
    assert reason(case_id=bad)[0] == "case_id"


def test_paging_and_dates_are_bounded() -> None:
    assert reason(offset=9223372036854775808) == ("offset", "less_than_equal")
    assert reason(offset=-1) == ("offset", "greater_than_equal")
    assert reason(decided_on="9999-12-31") == ("decided_on", "date_out_of_range")


@given(st.text(max_size=40))
def test_whatever_is_accepted_is_printable_and_within_its_bound(raw: str) -> None:
    try:
        text = clean_text(raw, max_len=30, multiline=True, required=False)
    except TextRefused as exc:
        assert exc.reason in {"control_character", "invalid_character", "too_long"}
        return
    assert len(text) <= 30
    import unicodedata

    assert all(ch in "\n\t" or unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Zl", "Zp"} for ch in text)
