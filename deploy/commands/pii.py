"""``shuangda pii``: personal-information requests under the 个人信息保护法, and retention (issue 12 §4).

    shuangda pii export --tracking-no T | --phone P | --id-number N  [--actor A --reason R]
        the complainant's personal data intake holds, opened (access and copy, 第四十五条)
    shuangda pii erase  --tracking-no T | --phone P | --id-number N  --reason R [--actor A]
        remove it (deletion, 第四十七条): the sealed name, phone, id number, the sealed original
        description, the evidence files (rows and blobs) and the sealed survey comments go, and the person's data keys are destroyed in the key store (shared.vault) in
        the same transaction; the case, its figures and the masked summary stay
    shuangda pii correct --tracking-no T | --phone P | --id-number N  --field name|phone|id_number
                         --value V|-  --reason R [--actor A]
        correct one field (更正, 第四十六条): the value is checked as a complaint's is, sealed under the
        complainant's own data key (so an erasure still shreds it) and its masked form updated; the
        audit entry names the field and the reason, never the value
    shuangda pii retention [--today YYYY-MM-DD] [--apply]
        reports past the retention rule (services/intake/domain/retention.py, versioned with its
        citation): listed, and with --apply erased as by ``erase`` (evidence files, survey comments
        and the blobs no other report uses go too)
    shuangda pii rules
        the retention rules in force, with their citations

Every export and erasure is appended to intake's hash-chained audit log (``shuangda audit verify
--schema intake``) with the actor and the reason, never the personal data itself; so is every correction.
A correction reaches intake's record (what access requests return, what the last-4-digits checks of
uploads and the survey use); the copies already published (Kafka, routing, notify) keep the value
they were sent, sealed under the same key, so they go with an erasure. Finding a person by phone
or id number opens every sealed complainant intake holds (there is no index of them in clear), so it
takes a while on a large table. Keys: SHUANGDA_INTAKE_PII_KEYS or SHUANGDA_PII_KEYS (the development
key in dev mode). Endpoints come from the launcher (``SHUANGDA_PG_DSN`` when set).

Copies elsewhere (crypto-shredding, docs/privacy.md): a complainant's fields sealed with their own
data key — on Kafka (``case.intake``, the bureaus' ``egress.*`` topics), in routing's cases, notify's
complainants and deliveries — become unreadable the moment the key is destroyed: every service opens
them through the key store, and an erased person opens as ``[erased]`` (notify: no target). Values
sealed under the service key before data keys existed are not reached by that: they stay on Kafka
until the topics' retention removes them.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("pii", help="personal-information requests (export, correct, erase) and retention",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="pii_verb", metavar="ACTION", required=True)
    for name, help_text in (("export", "the complainant's personal data, opened (audited)"),
                            ("erase", "remove the complainant's personal data and destroy their data keys, so every copy (Kafka too) is unreadable (audited)")):
        sp = sub.add_parser(name, help=help_text)
        who = sp.add_mutually_exclusive_group(required=True)
        who.add_argument("--tracking-no", help="the tracking number the complainant was given")
        who.add_argument("--phone", help="the complainant's mobile number")
        who.add_argument("--id-number", help="the complainant's resident identity number")
        sp.add_argument("--reason", required=name == "erase", default="access request",
                        help="why (recorded in the audit log), e.g. the request's reference")
        sp.add_argument("--actor", default="operator", help="who handles the request (recorded)")
        sp.add_argument("--schema", default=None, help="intake's schema (default: from settings)")
        sp.set_defaults(func=run)
    cr = sub.add_parser("correct", help="correct one of the complainant's fields, sealed again under their own data key (audited)")
    who = cr.add_mutually_exclusive_group(required=True)
    who.add_argument("--tracking-no", help="the tracking number the complainant was given")
    who.add_argument("--phone", help="the complainant's mobile number (as intake holds it now)")
    who.add_argument("--id-number", help="the complainant's resident identity number (as intake holds it now)")
    cr.add_argument("--field", required=True, choices=("name", "phone", "id_number"), help="the field to correct")
    cr.add_argument("--value", required=True,
                    help="the corrected value; '-' reads it from standard input (kept out of the shell's history)")
    cr.add_argument("--reason", required=True, help="why (recorded in the audit log), e.g. the request's reference")
    cr.add_argument("--actor", default="operator", help="who handles the request (recorded)")
    cr.add_argument("--schema", default=None, help="intake's schema (default: from settings)")
    cr.set_defaults(func=run)
    rt = sub.add_parser("retention", help="reports past the retention rule: list, or erase with --apply")
    rt.add_argument("--today", type=dt.date.fromisoformat, default=None, help="the day to judge on (default: today)")
    rt.add_argument("--apply", action="store_true", help="erase them (otherwise only list)")
    rt.add_argument("--actor", default="retention")
    rt.add_argument("--chunk", type=int, default=1000, help="reports read and erased per transaction")
    rt.add_argument("--schema", default=None)
    rt.set_defaults(func=run)
    rules = sub.add_parser("rules", help="the retention rules, with their citations")
    rules.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.pii_verb == "rules":
        from services.intake.domain.retention import RULES

        print(json.dumps([{"version": r.version, "effective_from": r.effective_from.isoformat(), "years": r.years,
                           "citation": r.citation, "note": r.note} for r in RULES], ensure_ascii=False, indent=2))
        return 0
    return asyncio.run(_run(args))


def _settings(args: argparse.Namespace) -> Any:
    from deploy.launcher import endpoints
    from services.intake.settings import IntakeSettings

    ep = endpoints()
    overrides: dict[str, Any] = {"pg_dsn": ep.pg_dsn, "kafka_bootstrap": ep.kafka_bootstrap}
    if getattr(args, "schema", None):
        overrides["schema"] = args.schema
    return IntakeSettings(**overrides)


async def _run(args: argparse.Namespace) -> int:
    from shared.db import connect
    from shared.pii import keyring_from_config

    settings = _settings(args)
    args.vault_schema, args.case_topic = settings.vault_schema, settings.case_topic
    keyring = keyring_from_config(settings.pii_keys.get_secret_value() if settings.pii_keys else None, dev=settings.dev)
    conn = await connect(settings.dsn, settings.schema)
    try:
        if args.pii_verb == "retention":
            return await _retention(conn, keyring, args)
        if args.pii_verb == "correct":
            return await _correct(conn, keyring, args)
        return await _request(conn, keyring, args)
    finally:
        await conn.close()


def opened(keyring: Any, report: dict[str, Any]) -> dict[str, Any]:
    """A report's personal data, opened (what an access request returns). `keyring` is a
    `shared.pii.Opener` (from `shared.vault.opener`), or a bare keyring for service-key values; a
    field whose data key was destroyed opens as ``[erased]``."""
    from shared.contracts.cases import Sealed
    from shared.pii import ERASED, Erased, PiiError

    out: dict[str, Any] = {k: report[k] for k in ("report_id", "case_id", "tracking_no", "category", "county", "summary")}
    out["received_at"] = report["received_at"].isoformat()
    complainant = report.get("complainant") or {}
    for field in ("name", "phone", "id_number"):
        if complainant.get(field):
            try:
                out[field] = keyring.open(Sealed.model_validate(complainant[field]), field=field)
            except Erased:
                out[field] = ERASED
            except PiiError as exc:
                out[field] = f"<cannot open: {exc}>"
    if report.get("description_sealed"):
        try:
            out["description"] = keyring.open(Sealed.model_validate(report["description_sealed"]), field="description")
        except Erased:
            out["description"] = ERASED
        except PiiError as exc:
            out["description"] = f"<cannot open: {exc}>"
    if report.get("pii_erased_at"):
        out["erased_at"], out["erased_why"] = report["pii_erased_at"].isoformat(), report["pii_erased_why"]
    return out


async def find(conn: Any, keyring: Any, *, tracking_no: str | None = None, phone: str | None = None,
               id_number: str | None = None, vault_schema: str = "vault") -> list[dict[str, Any]]:
    """The reports of the complainant named by tracking number, phone or id number."""
    from services.intake.adapters import postgres_pii as db

    if tracking_no:
        return await db.by_tracking_no(conn, tracking_no)
    from shared.identifiers import IdentifierError, parse_phone, parse_resident_id

    try:
        wanted = ("phone", parse_phone(phone)) if phone else ("id_number", parse_resident_id(id_number or ""))
    except IdentifierError as exc:
        raise SystemExit(f"shuangda pii: {exc.message}") from None
    found = []
    async for batch in db.with_personal_data(conn):
        batch_opener = await opener(conn, keyring, batch, vault_schema=vault_schema)  # one read of the key store per batch
        for report in batch:
            if (opened(batch_opener, report).get(wanted[0]) or "") == wanted[1]:
                found.append(report)
    return found


async def opener(conn: Any, keyring: Any, reports: list[dict[str, Any]], *, vault_schema: str = "vault") -> Any:
    """An opener for `reports`' sealed fields: their data keys read from the key store in one query."""
    from shared import vault

    return await vault.opener(conn, keyring, [(r.get("complainant"), r.get("description_sealed")) for r in reports],
                              schema=vault_schema)


def _store(args: argparse.Namespace, keyring: Any) -> Any:
    from shared.blobstore import open_blobstore

    settings = _settings(args)
    return open_blobstore(settings, root=settings.attachments_root(), prefix="intake", keyring=keyring)


async def _request(conn: Any, keyring: Any, args: argparse.Namespace) -> int:
    from services.intake.adapters import attachments_pii as reporter_files
    from services.intake.adapters import postgres_pii as db

    reports = await find(conn, keyring, tracking_no=args.tracking_no, phone=args.phone, id_number=args.id_number,
                         vault_schema=args.vault_schema)
    now = dt.datetime.now(dt.timezone.utc)
    if args.pii_verb == "export":
        if reports:
            await db.record_access(conn, [r["report_id"] for r in reports], at=now, actor=args.actor,
                                   facts={"why": args.reason, "found_by": _found_by(args)})
        files = await reporter_files.export(conn, keyring, _store(args, keyring), [r["report_id"] for r in reports],
                                            vault_schema=args.vault_schema)
        report_opener = await opener(conn, keyring, reports, vault_schema=args.vault_schema)
        print(json.dumps({"reports": [opened(report_opener, r) for r in reports], **files}, ensure_ascii=False, indent=2))
        return 0 if reports else 1
    from shared import vault
    from shared.pii import data_key_ids

    key_ids = data_key_ids([(r.get("complainant"), r.get("description_sealed")) for r in reports])
    async with conn.transaction():  # the rows' personal data, their files and comments, the data keys: together
        erased = await db.erase(conn, [r["report_id"] for r in reports if r.get("complainant") or r.get("description_sealed")],
                                why=args.reason, at=now, actor=args.actor, kind="pii.erased",
                                facts={"found_by": _found_by(args), "data_keys": len(key_ids)})
        files = await reporter_files.erase_rows(conn, [r["report_id"] for r in reports], why=args.reason, at=now,
                                                actor=args.actor)  # evidence files and survey comments (issue 15 §4)
        keys_destroyed = await vault.erase(conn, key_ids, at=now, why=args.reason, schema=args.vault_schema)
    blobs = await reporter_files.delete_blobs(_store(args, keyring), files.orphans)  # after the commit
    print(json.dumps({"reports_found": len(reports), "reports_erased": erased, "data_keys_destroyed": keys_destroyed,
                      **reporter_files.summary(files, blobs)}))
    return 0 if reports else 1


async def _correct(conn: Any, keyring: Any, args: argparse.Namespace) -> int:
    """A correction request (第四十六条): the field checked as a complaint's is, sealed under each found
    report's own data key (the service key for a report sealed before data keys), the masked forms
    updated, one ``pii.corrected`` audit entry per report. A report whose person was erased is not
    corrected (there is nothing left to correct, and its key is gone)."""
    import sys

    from services.intake.adapters import postgres_pii as db
    from services.intake.domain.correction import Correction, correction
    from shared.pii import Erased
    from shared.workdays import SHANGHAI

    raw = sys.stdin.readline().rstrip("\r\n") if args.value == "-" else args.value
    now = dt.datetime.now(dt.timezone.utc)
    fixed = correction(args.field, raw, today=now.astimezone(SHANGHAI).date())
    if not isinstance(fixed, Correction):
        print(f"shuangda pii correct: {fixed.field}: {fixed.reason}: {fixed.detail}", file=sys.stderr)
        return 2
    reports = await find(conn, keyring, tracking_no=args.tracking_no, phone=args.phone, id_number=args.id_number,
                         vault_schema=args.vault_schema)
    held = [r for r in reports if r.get("complainant")]
    report_opener = await opener(conn, keyring, held, vault_schema=args.vault_schema)  # one read of the key store
    corrected: dict[str, dict[str, Any]] = {}
    erased = 0
    for r in held:
        try:
            sealer = report_opener.sealer(r["complainant"])
        except Erased:
            erased += 1
            continue
        sealed = sealer.seal(fixed.value, field=fixed.field).model_dump(mode="json")
        corrected[r["report_id"]] = {**r["complainant"], fixed.field: sealed, **fixed.masked}
    done = await db.correct(conn, corrected, field=fixed.field, why=args.reason, at=now, actor=args.actor,
                            facts={"found_by": _found_by(args)}, case_topic=args.case_topic) if corrected else 0
    print(json.dumps({"reports_found": len(reports), "reports_corrected": done, "field": fixed.field,
                      "not_held": len(reports) - len(held) + erased}))
    return 0 if done else 1


def _found_by(args: argparse.Namespace) -> str:
    return "tracking_no" if args.tracking_no else "phone" if args.phone else "id_number"


async def _retention(conn: Any, keyring: Any, args: argparse.Namespace) -> int:
    from services.intake.adapters import attachments_pii as reporter_files
    from services.intake.adapters import postgres_pii as db
    from services.intake.domain.retention import candidates_before, keep_until, past_retention, rule_for
    from shared import vault
    from shared.pii import data_key_ids
    from shared.workdays import SHANGHAI

    today = args.today or dt.datetime.now(SHANGHAI).date()
    before = dt.datetime.combine(candidates_before(today), dt.time(), SHANGHAI)
    listed: list[dict[str, Any]] = []
    erased = total = 0
    files = reporter_files.FilesErased()
    now = dt.datetime.now(dt.timezone.utc)
    async for chunk in db.retention_candidates(conn, before, chunk=args.chunk):
        due = [r for r in chunk if past_retention(r["received_at"].astimezone(SHANGHAI).date(), today)]
        items = [{"report_id": r["report_id"], "case_id": r["case_id"],
                  "received_on": r["received_at"].astimezone(SHANGHAI).date().isoformat(),
                  "kept_until": keep_until(r["received_at"].astimezone(SHANGHAI).date()).isoformat(),
                  "rule": rule_for(r["received_at"].astimezone(SHANGHAI).date()).version} for r in due]
        listed += items[:max(0, 50 - len(listed))]
        counted = len(items)
        if args.apply and items:  # erase chunk by chunk: one transaction per rule per chunk
            by_rule: dict[str, list[str]] = {}
            for item in items:
                by_rule.setdefault(item["rule"], []).append(item["report_id"])
            keys = {r["report_id"]: data_key_ids((r.get("complainant"), r.get("description_sealed"))) for r in due}
            for version, ids in by_rule.items():
                async with conn.transaction():  # the rows' personal data, files, comments and data keys together
                    erased += await db.erase(conn, ids, why=f"retention rule {version}", at=now, actor=args.actor,
                                             kind="pii.retention-erased", facts={"rule": version, "judged_on": today.isoformat()})
                    done = await reporter_files.erase_rows(conn, ids, why=f"retention rule {version}", at=now,
                                                           actor=args.actor)
                    await vault.erase(conn, set().union(*(keys[i] for i in ids)), at=now, why=f"retention rule {version}",
                                      schema=args.vault_schema)
                files.add(done)
        total += counted
    blobs = await reporter_files.delete_blobs(_store(args, keyring), files.orphans) if files.orphans else 0
    print(json.dumps({"today": today.isoformat(), "past_retention": total, "erased": erased,
                      **reporter_files.summary(files, blobs), "reports": listed}, ensure_ascii=False, indent=2))
    return 0
