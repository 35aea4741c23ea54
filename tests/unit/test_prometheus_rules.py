"""The alert rules pass promtool's checks and unit tests, and say what they mean.

promtool comes with Debian's `prometheus` package, which `shuangda up`
installs; these tests fail (never skip) without it.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROM_DIR = ROOT / "deploy" / "prometheus"
RULE_FILES = sorted((PROM_DIR / "rules").glob("*.yml"))
TEST_FILES = sorted((PROM_DIR / "tests").glob("*.yml"))
PRODUCTION_CONFIG = PROM_DIR / "prometheus.yml"

#: The standard metrics the services expose (DESIGN.md "Observability").
STANDARD_METRICS = frozenset(
    {
        "shuangda_events_consumed_total",
        "shuangda_events_emitted_total",
        "shuangda_events_dead_lettered_total",
        "shuangda_handler_duration_seconds",
        "shuangda_event_latency_seconds",
        "shuangda_consumer_lag",
        "shuangda_outbox_backlog",
        "shuangda_outbox_oldest_age_seconds",
        "shuangda_transient_retries_total",
        "shuangda_open_cases",
        "shuangda_deadline_breaches_total",
        "shuangda_calendar_covered_days",
        "shuangda_notifications_total",
        "shuangda_notification_circuit_open",
        "shuangda_disclosures_overdue",
        "shuangda_http_requests_total",
        "shuangda_http_request_duration_seconds",
    }
)

#: What ops were promised an alert for, by alert name.
REQUIRED_ALERTS = {
    "ShuangdaServiceDown": "a service does not answer scrapes",
    "ShuangdaConsumerLagHigh": "consumer lag is high",
    "ShuangdaOutboxStalled": "the oldest outbox row is old",
    "ShuangdaDeadLetters": "records are being dead-lettered",
    "ShuangdaDeadlineBreached": "a legal deadline was breached",
    "ShuangdaNotificationsFailing": "notifications fail",
    "ShuangdaDisclosuresOverdue": "penalty disclosures are overdue",
    "ShuangdaHolidayCalendarRunningOut": "the holiday calendar covers < 31 days",
}


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool") or ("/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None)
    if not found:
        pytest.fail(
            "promtool is not installed. Run `bin/shuangda up` once (it installs Debian's "
            "`prometheus` package, which provides promtool), or "
            "`apt-get install -y prometheus`.",
            pytrace=False,
        )
    return found


def run_promtool(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([promtool, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        pytest.fail(
            f"`promtool {' '.join(args)}` exited {result.returncode}:\n{result.stdout}\n{result.stderr}",
            pytrace=False,
        )
    return result


def alert_rules() -> list[dict]:
    rules = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules += [r for r in group["rules"] if "alert" in r]
    return rules


def rule_tests() -> list[dict]:
    cases = []
    for path in TEST_FILES:
        for test in yaml.safe_load(path.read_text())["tests"]:
            cases += test.get("alert_rule_test", [])
    return cases


def test_there_are_rule_files_and_unit_tests_for_them():
    assert RULE_FILES, "no alert rule files under deploy/prometheus/rules/"
    assert TEST_FILES, "no promtool unit tests under deploy/prometheus/tests/"


def test_the_alert_rules_pass_promtool_check(promtool):
    result = run_promtool(promtool, "check", "rules", *map(str, RULE_FILES))
    assert "SUCCESS" in result.stdout


def test_the_production_scrape_config_passes_promtool_check(promtool):
    # static targets are not resolved, so the compose DNS names need no network
    result = run_promtool(promtool, "check", "config", str(PRODUCTION_CONFIG))
    assert "SUCCESS" in result.stdout


def test_the_alert_rules_pass_their_promtool_unit_tests(promtool):
    result = run_promtool(promtool, "test", "rules", *map(str, TEST_FILES))
    assert "SUCCESS" in result.stdout


def test_every_alert_promised_to_ops_exists():
    names = {r["alert"] for r in alert_rules()}
    missing = {name: why for name, why in REQUIRED_ALERTS.items() if name not in names}
    assert not missing, f"missing alerts: {missing}"


def test_alert_names_are_unique():
    names = [r["alert"] for r in alert_rules()]
    assert len(names) == len(set(names)), names


def test_every_alert_has_a_severity_and_a_summary_and_a_description():
    for rule in alert_rules():
        assert rule.get("labels", {}).get("severity") in {"critical", "warning"}, rule["alert"]
        annotations = rule.get("annotations", {})
        assert annotations.get("summary", "").strip(), f"{rule['alert']} has no summary"
        assert annotations.get("description", "").strip(), f"{rule['alert']} has no description"


def test_every_threshold_is_a_plain_number_in_the_expression():
    for rule in alert_rules():
        assert re.search(r"(>|<|==)\s*[0-9]", rule["expr"]), f"{rule['alert']}: no literal threshold in {rule['expr']!r}"


def test_every_alert_is_shown_firing_and_shown_silent_by_a_unit_test():
    cases = rule_tests()
    for rule in alert_rules():
        name = rule["alert"]
        mine = [c for c in cases if c["alertname"] == name]
        assert any(c.get("exp_alerts") for c in mine), f"no unit test makes {name} fire"
        assert any(not c.get("exp_alerts") for c in mine), f"no unit test shows {name} staying silent"


def test_the_rules_use_only_the_metrics_the_services_expose():
    used: set[str] = set()
    for rule in alert_rules():
        used |= set(re.findall(r"\bshuangda_[a-z_]+\b", rule["expr"]))
    histogram_parts = {m + suffix for m in STANDARD_METRICS for suffix in ("_bucket", "_sum", "_count")}
    unknown = used - STANDARD_METRICS - histogram_parts
    assert not unknown, f"rules refer to metrics no service exposes: {sorted(unknown)}"


def test_the_service_down_alert_watches_the_jobs_the_scrape_configs_define():
    config = yaml.safe_load(PRODUCTION_CONFIG.read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert {"intake", "routing", "notify", "credit"} <= jobs
    down = next(r for r in alert_rules() if r["alert"] == "ShuangdaServiceDown")
    for service in ("intake", "routing", "notify", "credit"):
        assert service in down["expr"]
