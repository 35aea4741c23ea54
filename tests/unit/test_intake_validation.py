"""Intake's command validation: normalisation, identifiers, reference codes, limits —
and a property test that nothing but a validation error ever comes out."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.intake.domain.errors import IntakeValidationError
from services.intake.domain.model import ClientContext
from services.intake.domain.validation import validate_complaint_payload, validate_lead_payload

NOW = datetime(2025, 6, 1, 4, 0, tzinfo=timezone.utc)
HOTLINE = ClientContext("hotline-12345", "hotline")
PLATFORM = ClientContext("shop-platform", "platform")


def complaint(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "category": "trademarks",
        "county": "610402",
        "description": "在店里买到假冒名牌鞋",
        "suspect": {"credit_code": "91110000600037341L"},
        "complainant": {"name": "张三", "phone": "13800138000"},
    }
    body.update(changes)
    return body


def lead(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source_id": "L-1",
        "category": "online_piracy",
        "county": "610404",
        "suspect": {"shop_id": "shop-42"},
    }
    body.update(changes)
    return body


def errors_of(payload: dict[str, Any], *, kind: str = "complaint", client: ClientContext = HOTLINE) -> dict[str, str]:
    validate = validate_complaint_payload if kind == "complaint" else validate_lead_payload
    with pytest.raises(IntakeValidationError) as info:
        validate(payload, client=client, transport="http", now=NOW)
    return {e.field: e.reason for e in info.value.errors}


def valid(payload: dict[str, Any], *, kind: str = "complaint", client: ClientContext = HOTLINE):
    validate = validate_complaint_payload if kind == "complaint" else validate_lead_payload
    return validate(payload, client=client, transport="http", now=NOW)


# -- credit codes -----------------------------------------------------------------------------


def test_a_valid_credit_code_becomes_the_merge_key() -> None:
    report = valid(complaint())
    assert report.suspect.credit_code == "91110000600037341L"
    assert report.merge_key == "uscc:91110000600037341L"


def test_a_full_width_lower_case_credit_code_is_normalised() -> None:
    report = valid(complaint(suspect={"credit_code": "９１１１００００６０００３７３４１ｌ"}))
    assert report.suspect.credit_code == "91110000600037341L"


def test_a_credit_code_whose_check_is_a_digit_is_accepted() -> None:
    assert valid(complaint(suspect={"credit_code": "91350100M000100Y43"})).suspect.credit_code == "91350100M000100Y43"


def test_a_credit_code_with_a_wrong_check_character_is_refused_naming_the_field_and_reason() -> None:
    assert errors_of(complaint(suspect={"credit_code": "91110000600037341M"})) == {"suspect.credit_code": "bad_check_character"}


@pytest.mark.parametrize("code,reason", [
    ("9111000060003734", "wrong_length"),
    ("9111000060003734IL", "illegal_character"),
    ("91AB000060003734XL", "bad_division_code"),
])
def test_malformed_credit_codes_are_refused_with_the_reason(code: str, reason: str) -> None:
    assert errors_of(complaint(suspect={"credit_code": code})) == {"suspect.credit_code": reason}


# -- resident identity numbers and phones --------------------------------------------------------


def test_a_valid_identity_number_is_kept_for_sealing_and_masked_for_display() -> None:
    report = valid(complaint(complainant={"name": "张三", "phone": "13800138000", "id_number": "11010519491231002X"}))
    assert report.complainant is not None
    assert report.complainant.id_number == "11010519491231002X"
    assert report.complainant.id_number_masked == "**************002X"


def test_a_full_width_identity_number_with_a_lower_case_x_is_accepted() -> None:
    report = valid(complaint(complainant={"name": "张三", "phone": "13800138000", "id_number": "１１０１０５１９４９１２３１００２ｘ"}))
    assert report.complainant is not None and report.complainant.id_number == "11010519491231002X"


@pytest.mark.parametrize("number,reason", [
    ("110105194912310021", "bad_check_character"),
    ("110105194913310028", "bad_birth_date"),
    ("11010519491231002", "wrong_length"),
])
def test_bad_identity_numbers_are_refused_with_the_reason(number: str, reason: str) -> None:
    payload = complaint(complainant={"name": "张三", "phone": "13800138000", "id_number": number})
    assert errors_of(payload) == {"complainant.id_number": reason}


def test_an_identity_number_born_after_today_is_refused() -> None:
    payload = complaint(complainant={"name": "张三", "phone": "13800138000", "id_number": "110105202601010013"})
    assert errors_of(payload) == {"complainant.id_number": "bad_birth_date"}


def test_a_phone_with_country_code_and_full_width_digits_is_accepted() -> None:
    report = valid(complaint(complainant={"name": "张三", "phone": "+86 １３８-0013-8000"}))
    assert report.complainant is not None and report.complainant.phone == "13800138000"
    assert report.complainant.phone_masked == "*******8000"


def test_a_landline_is_refused_as_a_complainant_phone() -> None:
    assert errors_of(complaint(complainant={"name": "张三", "phone": "02988888888"})) == {"complainant.phone": "bad_prefix"}


def test_a_complaint_must_name_the_complainant_but_a_report_may_be_anonymous() -> None:
    assert errors_of(complaint(complainant=None)) == {"complainant": "missing"}
    report = valid(complaint(kind="report", complainant=None))
    assert report.origin == "report" and report.complainant is None


def test_the_repr_of_a_complainant_never_shows_personal_data() -> None:
    report = valid(complaint(complainant={"name": "张三丰", "phone": "13800138000", "id_number": "11010519491231002X"}))
    text = repr(report)
    assert "13800138000" not in text and "张三丰" not in text and "11010519491231002X" not in text


# -- reference codes -----------------------------------------------------------------------------


def test_a_historical_county_code_is_mapped_to_the_current_one() -> None:
    assert valid(complaint(county="610427")).county == "610482"


def test_full_width_county_digits_are_accepted() -> None:
    assert valid(complaint(county="６１０４０２")).county == "610402"


@pytest.mark.parametrize("county,reason", [
    ("110101", "outside_city"),
    ("610400", "city_level_code"),
    ("610499", "unknown_county"),
    ("61040", "malformed_code"),
])
def test_county_codes_outside_the_city_are_refused_with_the_reason(county: str, reason: str) -> None:
    assert errors_of(complaint(county=county)) == {"county": reason}


def test_a_category_may_be_given_by_id_in_any_case_or_by_its_chinese_name() -> None:
    assert valid(complaint(category="TRADEMARKS")).category == "trademarks"
    assert valid(complaint(category="商标侵权假冒")).category == "trademarks"


def test_an_unknown_category_is_refused() -> None:
    assert errors_of(complaint(category="parking")) == {"category": "unknown_category"}


# -- amounts ------------------------------------------------------------------------------------


def test_amounts_are_decimal_cny_with_two_places_and_counts_are_whole() -> None:
    report = valid(complaint(figures={"sales": "12.5", "illegal_gains": 3, "pieces": 40}))
    assert report.figures == {"sales": Decimal("12.50"), "illegal_gains": Decimal("3.00"), "pieces": Decimal(40)}
    assert all(isinstance(v, Decimal) for v in report.figures.values())


@pytest.mark.parametrize("figures,field", [
    ({"sales": "-1"}, "figures.sales"),
    ({"sales": "0.001"}, "figures.sales"),
    ({"sales": "NaN"}, "figures.sales"),
    ({"sales": "1e30"}, "figures.sales"),
    ({"pieces": -3}, "figures.pieces"),
    ({"pieces": 1.5}, "figures.pieces"),
    ({"bribes": "1"}, "figures.bribes"),
])
def test_negative_fractional_cent_infinite_and_unknown_figures_are_refused(figures: dict[str, Any], field: str) -> None:
    assert field in errors_of(complaint(figures=figures))


# -- text, sizes and unknown fields ----------------------------------------------------------------


def test_unknown_fields_are_refused_at_every_level() -> None:
    assert errors_of(complaint(actor="someone-else")) == {"actor": "extra_forbidden"}
    assert errors_of(complaint(suspect={"credit_code": "91110000600037341L", "owner": "x"})) == {"suspect.owner": "extra_forbidden"}


def test_a_description_over_the_limit_is_refused() -> None:
    assert errors_of(complaint(description="假" * 4001)) == {"description": "string_too_long"}


def test_text_that_grows_past_the_limit_under_nfkc_is_refused() -> None:
    # U+FDFA is one character that NFKC expands to eighteen
    assert errors_of(complaint(description="\ufdfa" * 300)) == {"description": "too_long"}


def test_control_characters_and_lone_surrogates_are_refused() -> None:
    assert errors_of(complaint(description="假\x00货")) == {"description": "control_character"}
    assert list(errors_of(complaint(suspect={"name": "某\ud800店"}))) == ["suspect.name"]


def test_full_width_text_is_normalised() -> None:
    report = valid(complaint(description="ＡＢＣ　假货１２３"))
    assert report.summary == "ABC 假货123"


def test_phone_and_identity_numbers_typed_into_the_description_are_redacted() -> None:
    report = valid(complaint(description="请回电 138-0013-8000，我的身份证 11010519491231002X"))
    assert "13800138000" not in report.summary and "138-0013-8000" not in report.summary
    assert "*******8000" in report.summary
    assert "11010519491231002X" not in report.summary


def test_the_complainants_own_name_in_the_description_is_masked_and_the_original_kept_only_sealed() -> None:
    report = valid(complaint(description="我是张三，在店里买到假冒名牌鞋，张三要求处理"))
    assert report.summary == "我是张*,在店里买到假冒名牌鞋,张*要求处理"
    assert report.original_description is not None and "张三" in report.original_description


def test_every_bad_field_is_reported_at_once() -> None:
    errors = errors_of(complaint(county="110101", category="parking", suspect={"credit_code": "91110000600037341M"}))
    assert errors == {"county": "outside_city", "category": "unknown_category", "suspect.credit_code": "bad_check_character"}


def test_an_occurrence_date_after_today_in_shanghai_is_refused() -> None:
    assert errors_of(complaint(occurred_on=(NOW + timedelta(days=1)).date().isoformat())) == {"occurred_on": "in_future"}


# -- the suspect and the merge key -----------------------------------------------------------------


def test_a_name_without_credit_code_merges_on_the_normalised_name_and_county() -> None:
    a = valid(complaint(suspect={"name": "咸阳 某某商贸（有限公司）"}))
    b = valid(complaint(suspect={"name": "咸阳某某商贸(有限公司)"}))
    assert a.merge_key == b.merge_key == "name:咸阳某某商贸有限公司@610402"
    assert valid(complaint(county="610404", suspect={"name": "咸阳某某商贸有限公司"})).merge_key != a.merge_key


def test_a_shop_id_from_a_platform_defaults_the_platform_to_the_client() -> None:
    report = valid(lead(), kind="lead", client=PLATFORM)
    assert report.merge_key == "shop:shop-platform/shop-42"
    assert report.channel == "platform"


def test_a_shop_id_without_a_platform_is_refused_from_a_hotline() -> None:
    assert errors_of(lead(), kind="lead") == {"suspect.platform": "missing"}


def test_a_listing_merges_on_host_and_path_only() -> None:
    report = valid(lead(suspect={"listing_url": "HTTPS://Item.Example.com:443/p/123/?utm=x#top"}), kind="lead", client=PLATFORM)
    assert report.suspect.listing == "item.example.com/p/123"
    assert report.merge_key == "listing:item.example.com/p/123"


def test_a_listing_that_is_not_http_is_refused() -> None:
    assert errors_of(lead(suspect={"listing_url": "javascript:alert(1)"}), kind="lead") == {"suspect.listing_url": "bad_url"}


def test_a_report_that_names_no_suspect_is_refused() -> None:
    assert errors_of(complaint(suspect={"address": "某街道"})) == {"suspect": "missing_suspect"}


def test_a_lead_needs_a_source_id() -> None:
    assert errors_of(lead(source_id=None), kind="lead", client=PLATFORM) == {"source_id": "string_type"}
    assert errors_of(lead(source_id="a b"), kind="lead", client=PLATFORM) == {"source_id": "bad_source_id"}


def test_an_observation_time_must_carry_an_offset_and_not_lie_in_the_future() -> None:
    assert errors_of(lead(observed_at="2025-05-01T10:00:00"), kind="lead", client=PLATFORM) == {"observed_at": "timezone_aware"}
    future = (NOW + timedelta(hours=1)).isoformat()
    assert errors_of(lead(observed_at=future), kind="lead", client=PLATFORM) == {"observed_at": "in_future"}


# -- property: only validation errors ---------------------------------------------------------------

_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0xFF01, max_codepoint=0xFF5E), max_size=20),  # full-width forms
    st.sampled_from(["91110000600037341L", "９１１１００００６０００３７３４１ｌ", "610427", "13800138000",
                     "11010519491231002X", "trademarks", "https://x.example/p", "\x00", "\ud800", "NaN", "-1", "1e400"]),
)
_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), _text)
_json = st.recursive(_scalar, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                     max_leaves=20)


def _field(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(values, _json)


_suspect = st.fixed_dictionaries({}, optional={
    "credit_code": _field(_text), "name": _field(_text), "platform": _field(_text), "shop_id": _field(_text),
    "listing_url": _field(_text), "address": _field(_text), "extra": _json,
})
_figures = st.fixed_dictionaries({}, optional={
    "sales": _field(st.one_of(st.decimals(), st.integers(), _text)), "pieces": _field(st.integers()),
    "loss": _field(st.floats()),
})
_complaint_like = st.fixed_dictionaries({}, optional={
    "source_id": _field(_text), "kind": _field(st.sampled_from(["complaint", "report", "x"])),
    "channel": _field(st.sampled_from(["hotline", "web"])), "category": _field(_text), "county": _field(_text),
    "description": _field(_text), "occurred_on": _field(st.dates().map(str)), "suspect": _field(_suspect),
    "complainant": _field(st.fixed_dictionaries({}, optional={"name": _text, "phone": _text, "id_number": _text})),
    "figures": _field(_figures), "observed_at": _field(st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())),
    "evidence_urls": _field(st.lists(_text, max_size=3)),
})


_COMPLAINT_KEYS = sorted(complaint()) + ["source_id", "kind", "channel", "occurred_on", "figures"]
_LEAD_KEYS = sorted(lead()) + ["description", "observed_at", "figures", "evidence_urls", "channel"]
#: a valid payload with one field (or one nested field) replaced: reaches the domain rules, not just the parser
_mutated = st.one_of(
    st.tuples(st.sampled_from(_COMPLAINT_KEYS), _field(_text)).map(lambda kv: {**complaint(), kv[0]: kv[1]}),
    st.tuples(st.sampled_from(_LEAD_KEYS), _field(_text)).map(lambda kv: {**lead(), kv[0]: kv[1]}),
    st.tuples(st.sampled_from(["credit_code", "name", "platform", "shop_id", "listing_url", "address"]), _field(_text))
      .map(lambda kv: complaint(suspect={kv[0]: kv[1]})),
    st.tuples(st.sampled_from(["name", "phone", "id_number"]), _field(_text))
      .map(lambda kv: complaint(complainant={"name": "张三", "phone": "13800138000", kv[0]: kv[1]})),
    _figures.map(lambda f: complaint(figures=f)),
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=st.one_of(_mutated, _complaint_like, _json), as_text=st.booleans(), kind=st.sampled_from(["complaint", "lead"]),
       client=st.sampled_from([HOTLINE, PLATFORM]))
def test_no_payload_makes_the_validator_raise_anything_but_a_validation_error(payload: Any, as_text: bool, kind: str,
                                                                            client: ClientContext) -> None:
    validate = validate_complaint_payload if kind == "complaint" else validate_lead_payload
    raw: Any = payload
    if as_text:
        try:
            raw = json.dumps(payload, ensure_ascii=False)
        except (ValueError, TypeError):
            raw = payload
    try:
        validate(raw, client=client, transport="http", now=NOW)
    except IntakeValidationError as exc:
        assert exc.errors and all(e.field and e.reason for e in exc.errors)
