"""The recipient directory: matching, subscriptions, channels, secrets and reloading."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from services.notify.adapters.directory_file import DirectoryFile, load_directory
from services.notify.domain.directory import DirectoryError, build_directory
from services.notify.settings import PACKAGED_DIRECTORY
from shared.webhooks import generate_secret

SECRET = generate_secret()


def doc(*entries: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"version": "t", "recipients": list(entries), **extra}


def hook(url: str = "http://127.0.0.1:9/h", **kw: Any) -> dict[str, Any]:
    return {"url": url, "secret": SECRET, **kw}


def test_an_exact_match_wins_over_a_pattern_and_the_first_pattern_wins_among_patterns() -> None:
    d = build_directory(doc(
        {"id": "all", "match": "*@*", "email": ["all@x.cn"]},
        {"id": "mr", "match": "market_regulation@*", "email": ["mr@x.cn"]},
        {"match": "market_regulation@610402", "email": ["qindu@x.cn"]},
    ), env={}, dev=True)
    assert d.entry_for("market_regulation@610402").id == "market_regulation@610402"
    assert d.entry_for("market_regulation@610404").id == "all", "file order decides among patterns"
    assert d.entry_for("nobody") is None


def test_channels_default_to_webhook_then_email_then_sms_among_those_configured() -> None:
    d = build_directory(doc({"match": "a@1", "sms": ["13800000000"], "email": ["a@x.cn"], "webhook": hook()}),
                        env={}, dev=True)
    assert d.entries[0].channels == ("webhook", "email", "sms")
    d = build_directory(doc({"match": "a@1", "email": ["a@x.cn"], "webhook": hook(), "channels": ["email", "webhook"]}),
                        env={}, dev=True)
    assert d.entries[0].channels == ("email", "webhook")


def test_a_listed_channel_must_be_configured_and_an_entry_needs_one() -> None:
    with pytest.raises(DirectoryError, match="sms is listed but not configured"):
        build_directory(doc({"match": "a@1", "email": ["a@x.cn"], "channels": ["sms"]}), env={}, dev=True)
    with pytest.raises(DirectoryError, match="no channel configured"):
        build_directory(doc({"match": "a@1"}), env={}, dev=True)


def test_subscriptions_and_watches_are_globs_over_event_types() -> None:
    d = build_directory(doc({"match": "office@610400", "email": ["o@x.cn"], "events": ["shuangda.deadline.*"],
                             "watch": ["shuangda.referral.transferred.v1"]}), env={}, dev=True)
    e = d.entries[0]
    assert e.subscribes("shuangda.deadline.breached.v1") and not e.subscribes("shuangda.case.assigned.v1")
    assert e.watches("shuangda.referral.transferred.v1") and not e.watches("shuangda.referral.accepted.v1")


def test_a_secret_comes_from_the_named_environment_variable() -> None:
    d = build_directory(doc({"match": "a@1", "webhook": {"url": "https://hooks.example/x", "secret_env": "HOOK_A"}}),
                        env={"HOOK_A": SECRET}, dev=False)
    assert d.entries[0].webhook.secret.get_secret_value() == SECRET
    with pytest.raises(DirectoryError, match="HOOK_A is not set"):
        build_directory(doc({"match": "a@1", "webhook": {"url": "https://hooks.example/x", "secret_env": "HOOK_A"}}),
                        env={}, dev=False)


def test_an_inline_secret_is_refused_outside_dev_mode_and_a_webhook_without_a_secret_always() -> None:
    with pytest.raises(DirectoryError, match="inline secrets are allowed in dev mode only"):
        build_directory(doc({"match": "a@1", "webhook": {"url": "https://hooks.example/x", "secret": SECRET}}),
                        env={}, dev=False)
    with pytest.raises(DirectoryError, match="a secret is required"):
        build_directory(doc({"match": "a@1", "webhook": {"url": "http://127.0.0.1/x"}}), env={}, dev=True)
    with pytest.raises(DirectoryError, match="whsec_"):
        build_directory(doc({"match": "a@1", "webhook": {"url": "http://127.0.0.1/x", "secret": "plain"}}),
                        env={}, dev=True)


def test_dev_mode_accepts_only_loopback_webhooks_unless_told_otherwise() -> None:
    outside = doc({"match": "a@1", "webhook": hook("https://hooks.example/x")})
    with pytest.raises(DirectoryError, match="loopback"):
        build_directory(outside, env={}, dev=True)
    assert build_directory(outside, env={}, dev=True, allow_external_targets=True).entries
    assert build_directory(doc({"match": "a@1", "webhook": hook("http://localhost:8090/x")}), env={}, dev=True).entries


@pytest.mark.parametrize(("entry", "message"), [
    ({"match": "a@1", "email": ["not an address"]}, "not an email address"),
    ({"match": "a@1", "sms": ["12ab"]}, "phone numbers"),
    ({"match": "a@1", "webhook": hook("ftp://127.0.0.1/x")}, "http"),
    ({"match": "a@1", "webhook": hook("http://127.0.0.1/a b")}, "without spaces"),
    ({"match": "a@1", "webhook": hook("http://127.0.0.1/投诉")}, "ASCII URL"),
    ({"match": "a@1", "email": ["a@x.cn"], "bogus": 1}, "Extra inputs"),
])
def test_invalid_entries_are_refused_naming_the_field(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(DirectoryError, match=message):
        build_directory(doc(entry), env={}, dev=True)


def test_ids_and_exact_matches_are_unique() -> None:
    with pytest.raises(DirectoryError, match="appears twice"):
        build_directory(doc({"id": "x", "match": "a@*", "email": ["a@x.cn"]}, {"id": "x", "match": "b@*", "email": ["a@x.cn"]}),
                        env={}, dev=True)
    with pytest.raises(DirectoryError, match="matched exactly by two entries"):
        build_directory(doc({"id": "x", "match": "a@1", "email": ["a@x.cn"]}, {"id": "y", "match": "a@1", "email": ["a@x.cn"]}),
                        env={}, dev=True)


def test_complainants_are_told_only_of_the_listed_event_types() -> None:
    d = build_directory(doc(complainants={"channel": "sms", "events": ["shuangda.case.opened.v1"]}), env={}, dev=True)
    assert d.complainants_subscribe("shuangda.case.opened.v1")
    assert not d.complainants_subscribe("shuangda.case.assigned.v1")
    assert not build_directory(doc(), env={}, dev=True).complainants_subscribe("shuangda.case.opened.v1")


def test_the_packaged_directory_is_valid_in_dev_mode_and_needs_secrets_from_the_environment_outside_it() -> None:
    d = load_directory(PACKAGED_DIRECTORY, dev=True, env={})
    assert d.entry_for("office@610400").id == "office@610400"
    assert d.entry_for("public_security@610402").id == "public_security"
    assert d.entry_for("culture@610400").id == "bureaus"
    with pytest.raises(DirectoryError, match="environment variable SHUANGDA_NOTIFY_SECRET_OFFICE is not set"):
        load_directory(PACKAGED_DIRECTORY, dev=False, env={})


def test_a_reload_replaces_the_directory_and_an_invalid_file_keeps_the_one_in_force(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(yaml.safe_dump(doc({"match": "a@1", "email": ["a@x.cn"]}) | {"version": "v1"}), encoding="utf-8")
    holder = DirectoryFile(path, dev=True, env={})
    assert holder.current.version == "v1"
    path.write_text(yaml.safe_dump(doc({"match": "a@1", "email": ["a@x.cn"]}) | {"version": "v2"}), encoding="utf-8")
    assert holder.reload() and holder.current.version == "v2"
    path.write_text("recipients: [{match: 'a@1'}]", encoding="utf-8")
    assert not holder.reload()
    assert holder.current.version == "v2"


def test_an_unreadable_or_malformed_file_is_an_error_at_start(tmp_path: Path) -> None:
    with pytest.raises(DirectoryError, match="cannot be read"):
        DirectoryFile(tmp_path / "missing.yaml", dev=True)
    (tmp_path / "bad.yaml").write_text("version: [", encoding="utf-8")
    with pytest.raises(DirectoryError, match="not valid YAML"):
        DirectoryFile(tmp_path / "bad.yaml", dev=True)
