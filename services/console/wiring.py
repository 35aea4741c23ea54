"""The console's composition: `prepare` (its own schema's migrations; no topics) and `build`
(the routing client, the dead-letter reader, accounts and sessions, the pages → `Parts`).

The console reads and acts through the services' HTTP APIs with each person's principal's key,
and reads dead letters through shared.runtime.dlq like ``shuangda dlq``; its schema holds only
its accounts, sessions and sign-in attempts."""
from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import asyncpg

from shared.clock import Clock
from shared.db import migrate
from shared.pii import PiiError, keyring_from_config
from shared.ratelimit import Rate
from shared.reference.counties import counties
from shared.runtime.service import Parts

from services.console.adapters import crypto
from services.console.adapters.appraisal import AppraisalClient
from services.console.adapters.custody import CustodyClient
from services.console.adapters.inspection import InspectionClient
from services.console.adapters.intake import IntakeClient
from services.console.adapters import postgres as db
from services.console.adapters.alerts import SubstitutionAlerts
from services.console.adapters.credit import CreditClient
from services.console.adapters.dlq import DeadLetters
from services.console.adapters.notify import NotifyClient
from services.console.adapters.pdf import find_chromium, printer
from services.console.adapters.http import build_app
from services.console.adapters.routing import RoutingClient
from services.console.app.accounts import Accounts
from services.console.app.lookup import Lookup
from services.console.app.office import Office
from services.console.app.resends import Resends
from services.console.app.inspections import PublicInspections
from services.console.app.survey import Survey
from services.console.app.unmask import Unmasking
from services.console.app.workbench import Workbench
from services.console.domain.accounts import Lockout
from services.console.adapters.oidc import OidcClient
from services.console.settings import ConsoleSettings

SERVICE = "console"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


async def prepare(settings: ConsoleSettings) -> None:
    await migrate(settings.dsn, settings.schema, MIGRATIONS)


def session_pruning(pool: asyncpg.Pool, clock: Clock, every: float = 600.0):  # noqa: ANN201
    async def loop(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await db.prune_sessions(pool, clock.now())
            except (OSError, asyncpg.PostgresError):
                pass  # the database is back next round
            try:
                await asyncio.wait_for(stop.wait(), timeout=every)
            except asyncio.TimeoutError:
                pass
    return loop


async def build(settings: ConsoleSettings, pool: asyncpg.Pool, *, clock: Clock | None = None) -> Parts:
    clock = clock or settings.make_clock()
    routing = RoutingClient(settings.routing_url, timeout=settings.http_timeout_seconds)
    credit = CreditClient(settings.credit_url, timeout=settings.http_timeout_seconds) if settings.credit_url else None
    notify = NotifyClient(settings.notify_url, timeout=settings.http_timeout_seconds) if settings.notify_url else None
    custody = CustodyClient(settings.custody_url, timeout=settings.http_timeout_seconds) if settings.custody_url else None
    intake = IntakeClient(settings.intake_url, timeout=settings.http_timeout_seconds) if settings.intake_url else None
    inspection = (InspectionClient(settings.inspection_url, timeout=settings.http_timeout_seconds)
                  if settings.inspection_url else None)
    appraisal = (AppraisalClient(settings.appraisal_url, timeout=settings.http_timeout_seconds)
                 if settings.appraisal_url else None)
    oidc = OidcClient(issuer=settings.oidc_issuer, client_id=settings.oidc_client_id or "",
                      client_secret=settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None,
                      redirect_url=settings.oidc_redirect_url or "", scopes=settings.oidc_scopes,
                      subject_claim=settings.oidc_subject_claim, clock=clock, leeway_seconds=settings.oidc_leeway_seconds,
                      timeout=settings.http_timeout_seconds) if settings.oidc_issuer else None
    accounts = Accounts(pool, crypto.KeySeal(settings.secret), clock,
                        Lockout(settings.lockout_failures, timedelta(minutes=settings.lockout_minutes)),
                        settings.session_hours, oidc=oidc, oidc_flow_minutes=settings.oidc_flow_minutes)
    dead_letters = DeadLetters(settings.kafka, settings.dlq_topic_prefix)
    names = {"zh": {c.code: c.name_zh for c in counties()}, "en": {c.code: c.name_en for c in counties()}}
    alerts = SubstitutionAlerts(settings.kafka, settings.credit_topic) if settings.credit_topic else None
    office = Office(routing, credit, dead_letters, names, cache_seconds=settings.overview_cache_seconds, alerts=alerts)
    chromium = find_chromium(settings.chromium_path)
    try:
        keyring = keyring_from_config(settings.pii_keys.get_secret_value() if settings.pii_keys else None,
                                      dev=settings.dev)
    except PiiError:
        keyring = None  # no keys outside dev mode: the case page offers no unmasking

    async def database_ready() -> bool:
        return bool(await pool.fetchval("SELECT 1"))

    app = build_app(accounts=accounts, workbench=Workbench(routing, clock, credit, page_size=settings.worklist_page_size,
                                                              custody=custody, appraisal=appraisal), lookup=Lookup(routing),
                    dead_letters=dead_letters, office=office, clock=clock, notify=notify, credit=credit,
                    resends=Resends(notify, pool, clock) if notify is not None else None,
                    survey=Survey(intake) if intake is not None else None,
                    inspections=PublicInspections(inspection) if inspection is not None else None,
                    unmasking=Unmasking(routing, pool, keyring, clock, vault_schema=settings.vault_schema),
                    pdf=printer(chromium) if chromium is not None else None, cookie_secure=settings.cookie_secure,
                    login_rate=Rate(settings.login_rate_per_second, settings.login_rate_burst),
                    lookup_rate=Rate(settings.lookup_rate_per_second, settings.lookup_rate_burst),
                    prometheus_url=settings.prometheus_url, readiness=[database_ready])
    closers = [routing.close] + [c.close for c in (credit, notify, oidc, custody, appraisal, intake, inspection) if c is not None]
    loops = [session_pruning(pool, clock)] + ([alerts.run] if alerts is not None else [])
    return Parts(app, loops, closers=closers,
                 components={"accounts": accounts, "routing": routing, "office": office, "dead_letters": dead_letters, "pool": pool,
                             "alerts": alerts})
