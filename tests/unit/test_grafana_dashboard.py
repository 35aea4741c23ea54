"""The Grafana dashboard is well formed and charts only metrics that exist."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "shuangda.json"
COMPOSE = ROOT / "docker-compose.yml"

#: The standard metrics the services expose (DESIGN.md "Observability"), plus
#: Prometheus's own `up`. Same list as tests/unit/test_prometheus_rules.py.
KNOWN_METRICS = frozenset(
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
        "up",
    }
)
HISTOGRAMS = {"shuangda_handler_duration_seconds", "shuangda_event_latency_seconds", "shuangda_http_request_duration_seconds"}

# PromQL words that look like identifiers but are not metric names.
PROMQL_WORDS = {
    "sum", "max", "min", "avg", "count", "by", "without", "on", "ignoring", "group_left", "group_right",
    "rate", "irate", "increase", "histogram_quantile", "sort", "sort_desc", "topk", "bottomk", "offset",
    "and", "or", "unless", "bool", "label_replace", "clamp_min", "clamp_max", "abs", "round", "time",
    "vector", "scalar", "absent", "delta", "deriv", "le", "inf",
}


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def all_panels(dashboard: dict) -> list[dict]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels += panel.get("panels", [])  # collapsed rows keep their panels inside
    return panels


def chart_panels(dashboard: dict) -> list[dict]:
    return [p for p in all_panels(dashboard) if p["type"] != "row"]


def metric_names(expr: str) -> set[str]:
    """Identifiers in a PromQL expression that are metric names."""
    stripped = re.sub(r'"[^"]*"', '""', expr)  # label values
    stripped = re.sub(r"\{[^}]*\}", "", stripped)  # label matchers
    stripped = re.sub(r"\[[^\]]*\]", "", stripped)  # ranges
    stripped = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", stripped)  # grouping labels
    names = set()
    for word in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", stripped):
        if word.lower() in PROMQL_WORDS:
            continue
        for suffix in ("_bucket", "_sum", "_count"):
            if word.endswith(suffix) and word[: -len(suffix)] in HISTOGRAMS:
                word = word[: -len(suffix)]
        names.add(word)
    return names


def test_the_dashboard_is_valid_json_with_a_stable_uid_and_title(dashboard):
    assert dashboard["uid"] == "shuangda-overview"
    assert dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)


def test_panel_ids_are_unique(dashboard):
    ids = [p["id"] for p in all_panels(dashboard)]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {sorted(i for i in ids if ids.count(i) > 1)}"


def test_every_chart_has_a_prometheus_datasource_and_at_least_one_query(dashboard):
    for panel in chart_panels(dashboard):
        assert panel.get("datasource", {}).get("type") == "prometheus", panel["title"]
        assert panel.get("targets"), f"{panel['title']} has no targets"
        for target in panel["targets"]:
            assert target.get("expr", "").strip(), f"{panel['title']} has an empty query"
            assert target.get("refId"), panel["title"]
            assert target.get("datasource", panel["datasource"])["type"] == "prometheus"


def test_the_datasource_variable_selects_prometheus(dashboard):
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    uids = {p["datasource"]["uid"] for p in chart_panels(dashboard)}
    assert uids == {"${datasource}"}


def test_every_query_charts_only_metrics_that_exist(dashboard):
    for panel in chart_panels(dashboard):
        for target in panel["targets"]:
            unknown = metric_names(target["expr"]) - KNOWN_METRICS
            assert not unknown, f"panel {panel['title']!r} queries unknown metrics {sorted(unknown)}: {target['expr']}"


def test_the_metric_name_parser_sees_through_promql(dashboard):
    expr = 'histogram_quantile(0.99, sum by (service, le) (rate(shuangda_handler_duration_seconds_bucket{service=~"$service"}[$__rate_interval])))'
    assert metric_names(expr) == {"shuangda_handler_duration_seconds"}
    assert metric_names("sum by (x) (rate(not_a_real_metric_total[5m]))") == {"not_a_real_metric_total"}


@pytest.mark.parametrize(
    "metric",
    [
        "shuangda_events_consumed_total",  # throughput
        "shuangda_events_emitted_total",
        "shuangda_events_dead_lettered_total",  # DLQ
        "shuangda_consumer_lag",
        "shuangda_outbox_backlog",
        "shuangda_outbox_oldest_age_seconds",
        "shuangda_handler_duration_seconds",  # latency p99
        "shuangda_open_cases",
        "shuangda_deadline_breaches_total",
        "shuangda_notifications_total",
        "shuangda_disclosures_overdue",
    ],
)
def test_the_dashboard_charts(dashboard, metric):
    charted = set()
    for panel in chart_panels(dashboard):
        for target in panel["targets"]:
            charted |= metric_names(target["expr"])
    assert metric in charted


def test_open_cases_are_broken_down_by_bureau_and_by_county(dashboard):
    exprs = [t["expr"] for p in chart_panels(dashboard) for t in p["targets"] if "shuangda_open_cases" in t["expr"]]
    assert any("by (bureau)" in e for e in exprs)
    assert any("by (county)" in e for e in exprs)


def test_handler_latency_is_shown_as_a_99th_percentile(dashboard):
    exprs = [t["expr"] for p in chart_panels(dashboard) for t in p["targets"]]
    assert any("histogram_quantile(0.99" in e and "shuangda_handler_duration_seconds_bucket" in e for e in exprs)


def test_panels_fit_the_24_column_grid(dashboard):
    for panel in all_panels(dashboard):
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24, panel["title"]


def test_grafana_provisions_the_prometheus_datasource_and_this_dashboard():
    ds = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    [source] = ds["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "shuangda.yml").read_text())["providers"]
    paths = {p["options"]["path"] for p in providers}
    compose = yaml.safe_load(COMPOSE.read_text())
    mounts = {v.split(":")[1]: v.split(":")[0] for v in compose["services"]["grafana"]["volumes"] if v.startswith("./")}
    for path in paths:
        assert mounts.get(path) == "./deploy/grafana/dashboards", f"dashboard path {path} is not the mounted dashboards dir"
    assert mounts.get("/etc/grafana/provisioning") == "./deploy/grafana/provisioning"
