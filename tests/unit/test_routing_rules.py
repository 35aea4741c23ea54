"""The routing rules file is validated at start-up, against itself and the reference data."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.routing.adapters.rules_file import RulesError, load_checked, load_rules
from services.routing.settings import RULES_FILE


def _variant(tmp_path: Path, change) -> Path:  # noqa: ANN001
    data = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "routing.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_the_packaged_rules_are_valid_against_the_packaged_reference_data() -> None:
    rules, ref = load_checked(RULES_FILE)
    assert rules.problems(ref) == []
    assert rules.max_transfers >= 1


def test_a_rule_naming_an_unknown_deadline_rule_or_bureau_type_stops_start_up_naming_each_problem(tmp_path: Path) -> None:
    def change(d: dict) -> None:
        d["acknowledgement_rules"]["complaint"] = "no_such_rule"
        d["city_only_bureau_types"].append("no_such_bureau")
        d["county_missing_bureau_types"]["999999"] = ["postal"]

    with pytest.raises(RulesError) as err:
        load_checked(_variant(tmp_path, change))
    message = str(err.value)
    assert "no_such_rule" in message and "no_such_bureau" in message and "999999" in message


def test_a_rules_file_missing_an_origin_or_a_referral_step_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="lead"):
        load_rules(_variant(tmp_path, lambda d: d["acknowledgement_rules"].pop("lead")))
    with pytest.raises(RulesError, match="handover"):
        load_rules(_variant(tmp_path, lambda d: d["referral_rules"].pop("handover")))


def test_an_unknown_key_in_the_rules_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="typo"):
        load_rules(_variant(tmp_path, lambda d: d.update(typo=1)))


def test_a_surge_window_must_be_a_whole_number_of_steps(tmp_path: Path) -> None:
    def change(d: dict) -> None:
        d["surges"]["suspect"]["step_seconds"] = 7

    with pytest.raises(RulesError, match="step_seconds"):
        load_rules(_variant(tmp_path, change))


def test_the_major_case_amount_is_money_read_as_a_decimal() -> None:
    rules = load_rules(RULES_FILE)
    assert type(rules.city_level.major_case_amount).__name__ == "Decimal"
