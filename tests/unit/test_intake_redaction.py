"""Mobile and identity numbers typed into a description never survive in clear, however they
are written (issue 12 §3): property-based over separators (spaces, dots, every dash, slashes,
brackets), digit scripts (ASCII, full-width, Arabic-Indic, Devanagari), the +86 / 0086 / 86
prefixes, and text — letters or Chinese — glued on either side."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake.domain.text import clean, nfkc, redact
from shared.identifiers import resident_id_check_character

SEPARATORS = ["", " ", "  ", ".", "-", "‐", "‑", "‒", "–", "—", "―", "−", "－", "﹣", "ー", "·", "・", "/", "_", " - ",
              " . ", ",", "，", "、", "(", ")", "\u3000", "\u00a0", "\t"]
#: the digits 0-9 in scripts people type them in
SCRIPTS = {"ascii": 0x30, "full-width": 0xFF10, "arabic-indic": 0x0660, "devanagari": 0x0966}
PREFIXES = ["", "+86", "0086", "86", "+86 ", "0086-", "86-", "(+86)", "+ 86 ", "00 86 "]
#: what comes right before or after the number: letters glued on, Chinese, punctuation, nothing
CONTEXT = st.lists(st.sampled_from(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") +
                                   list("电话手机号身份证请回拨我的是联系，。：:() ") + ["ID", "Tel", "tel:"]),
                   max_size=6).map("".join)

mobiles = st.builds(lambda second, rest: "1" + second + rest, st.sampled_from("3456789"),
                    st.text(alphabet="0123456789", min_size=9, max_size=9))
id_numbers = st.builds(
    lambda region, year, month, day, seq: (lambda first17: first17 + resident_id_check_character(first17))(
        f"{region}{year}{month:02d}{day:02d}{seq}"),
    st.sampled_from(["610402", "610404", "110105", "440305"]), st.integers(1930, 2020), st.integers(1, 12),
    st.integers(1, 28), st.text(alphabet="0123456789", min_size=3, max_size=3))


def written(number: str, draw_sep: st.DrawFn, script: str, lower_x: bool) -> str:
    """`number` as a person might type it: a separator (maybe none) between any two characters."""
    out = []
    for i, ch in enumerate(number):
        if i:
            out.append(draw_sep(st.sampled_from(SEPARATORS)))
        if ch.isdigit():
            out.append(chr(SCRIPTS[script] + int(ch)))
        else:
            out.append("x" if lower_x else ch)
    return "".join(out)


@st.composite
def typed_mobile(draw: st.DrawFn) -> tuple[str, str]:
    number = draw(mobiles)
    uniform = draw(st.booleans())  # one separator throughout (139-8765-4321) or any mix
    sep = draw(st.sampled_from(SEPARATORS))
    groups = [number[:3], number[3:7], number[7:]]
    if uniform:
        body = sep.join("".join(chr(SCRIPTS["ascii"] + int(c)) for c in g) for g in groups)
        script = draw(st.sampled_from(sorted(SCRIPTS)))
        body = "".join(chr(SCRIPTS[script] + int(c)) if c.isdigit() else c for c in body)
    else:
        body = written(number, draw, draw(st.sampled_from(sorted(SCRIPTS))), False)
    text = draw(CONTEXT) + draw(st.sampled_from(PREFIXES)) + body + draw(CONTEXT)
    return number, text


@st.composite
def typed_id_number(draw: st.DrawFn) -> tuple[str, str]:
    number = draw(id_numbers)
    body = written(number, draw, draw(st.sampled_from(sorted(SCRIPTS))), draw(st.booleans()))
    return number, draw(CONTEXT) + body + draw(CONTEXT)


def digits_of(text: str) -> str:
    return "".join(re.findall(r"[0-9]", text))


@settings(max_examples=600, deadline=None)
@given(typed_mobile())
def test_a_mobile_number_in_any_form_is_masked_to_its_last_four_digits(case: tuple[str, str]) -> None:
    number, text = case
    masked = redact(text)
    assert number not in digits_of(masked), f"{text!r} → {masked!r}"
    assert "*******" + number[-4:] in masked, f"{text!r} → {masked!r}"


@settings(max_examples=600, deadline=None)
@given(typed_id_number())
def test_an_identity_number_in_any_form_is_removed(case: tuple[str, str]) -> None:
    number, text = case
    masked = redact(text)
    assert number[:17] not in digits_of(masked), f"{text!r} → {masked!r}"
    assert "[身份证号已隐去]" in masked


@settings(max_examples=300, deadline=None)
@given(typed_mobile(), typed_id_number())
def test_a_description_holding_both_keeps_neither_through_the_validation_path(phone: tuple[str, str],
                                                                            id_number: tuple[str, str]) -> None:
    errors: list = []
    text = clean(f"买到假货。{phone[1]}，身份证{id_number[1]}。谢谢", "description", errors, max_len=4000, multiline=True)
    assert text is not None and not errors
    masked = redact(text)
    assert phone[0] not in digits_of(masked) and id_number[0][:17] not in digits_of(masked), masked


@pytest.mark.parametrize("text", [
    "008613987654321", "+8613987654321", "86 139 8765 4321", "139.8765.4321", "139—8765—4321", "139–8765–4321",
    "1 3 9 8 7 6 5 4 3 2 1", "１３９８７６５４３２１", "tel13987654321abc", "请拨打139 8765 4321谢谢",
])
def test_the_forms_found_in_clear_in_kafka_and_postgres_are_masked(text: str) -> None:
    masked = redact(text)
    assert "13987654321" not in digits_of(masked) and masked.count("*******4321") == 1, masked


def test_the_id_number_glued_to_letters_is_removed() -> None:
    assert redact("ID61040419750203268X") == "ID[身份证号已隐去]"
    assert redact("身份证号61040419750203268x，电话") == "身份证号[身份证号已隐去],电话"


@pytest.mark.parametrize("text", ["订单号 20240101", "金额 1300 元", "共 12 件，单价 99.5 元", "2024-11-11 下单", "邮编 712000"])
def test_ordinary_numbers_are_left_alone(text: str) -> None:
    assert redact(text) == nfkc(text)


def test_the_complainants_own_name_typed_into_the_description_is_masked_in_the_summary() -> None:
    assert redact("我叫王小明，王小明的电话13987654321", names=["王小明"]) == "我叫王**,王**的电话*******4321"
    assert redact("ｗａｎｇ　ｘｉａｏ", names=["wang xiao"]) == "w********"  # NFKC on both sides
    assert redact("王先生在王家店买的", names=["王", None]) == "王先生在王家店买的", "a one-character name is left"
