"""``shuangda console``: the web console's accounts.

    shuangda console accounts create alice --role bureau@market_regulation@610402
    shuangda console accounts create boss --role office
    shuangda console accounts create pol --role police@610402      (police / procuratorate: the city's by default)
    shuangda console accounts create opsy --role ops
    shuangda console accounts create cara --role office --oidc-subject 9f1c…   (signs in only through OIDC)
    shuangda console accounts link alice --oidc-subject 9f1c…   (also through OIDC; --clear unlinks)
    shuangda console accounts list
    shuangda console accounts unlock alice

``create`` asks for the password (or reads ``--password-stdin``), registers the principal
``console.<username>`` in the identity store with the role's kind and bureau, and keeps its API key
sealed in the console's schema: the console calls the services with it for that person. With
``--oidc-subject`` (the subject the city's identity provider signs for the person, see
SHUANGDA_CONSOLE_OIDC_*) no password is asked unless ``--password-stdin``: the account signs in only
through the provider. Nobody is ever created from a token.
"""
from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("console", help="the web console's accounts", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="console_verb", metavar="WHAT", required=True)
    accounts = sub.add_parser("accounts", help="people who sign in to the console")
    verbs = accounts.add_subparsers(dest="accounts_verb", metavar="ACTION", required=True)
    create = verbs.add_parser("create", help="create an account and its principal")
    create.add_argument("username")
    create.add_argument("--role", required=True,
                        help="office | bureau@<type>@<division> | police[@<division>] | procuratorate[@<division>] | ops")
    create.add_argument("--name", default="", help="display name")
    create.add_argument("--password-stdin", action="store_true", help="read the password from stdin (one line)")
    create.add_argument("--oidc-subject", default=None,
                        help="the identity provider's subject of this person (then no password unless --password-stdin)")
    link = verbs.add_parser("link", help="let an account sign in through the identity provider (OIDC)")
    link.add_argument("username")
    group = link.add_mutually_exclusive_group(required=True)
    group.add_argument("--oidc-subject", help="the provider's subject (the ID token's configured claim)")
    group.add_argument("--clear", action="store_true", help="unlink: no OIDC sign-in for this account")
    verbs.add_parser("list", help="list the accounts").add_argument("--json", action="store_true")
    verbs.add_parser("unlock", help="clear a lockout").add_argument("username")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deploy.launcher.errors import LauncherError
    from services.console.domain.accounts import InvalidAccount
    from shared.identity.model import InvalidPrincipal

    password = None
    if args.accounts_verb == "create" and (args.password_stdin or not args.oidc_subject):
        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("password: ")
    try:
        return asyncio.run(_run(args, password))
    except (InvalidAccount, InvalidPrincipal, ValueError) as exc:
        raise LauncherError(str(exc)) from None


def settings():  # noqa: ANN201
    from deploy.launcher import endpoints
    from services.console.settings import ConsoleSettings

    ep = endpoints()
    return ConsoleSettings(dev=True, pg_dsn=ep.pg_dsn, kafka_bootstrap=ep.kafka_bootstrap) \
        if not _env_has_dsn() else ConsoleSettings()


def _env_has_dsn() -> bool:
    import os

    return bool(os.environ.get("SHUANGDA_CONSOLE_PG_DSN") or os.environ.get("SHUANGDA_PG_DSN"))


async def _run(args: argparse.Namespace, password: str | None) -> int:
    from services.console import wiring
    from services.console.adapters import crypto
    from services.console.adapters import postgres as db
    from services.console.app.accounts import create_account
    from services.console.domain.accounts import parse_role
    from shared.db import connect, migrate
    from shared.identity import store

    s = settings()
    await wiring.prepare(s)
    await migrate(s.dsn, s.identity_schema, store.MIGRATIONS, runtime=False)
    console = await connect(s.dsn, s.schema)
    identity = await connect(s.dsn, s.identity_schema)
    try:
        if args.accounts_verb == "create":
            role = parse_role(args.role, office_bureau=s.office_bureau, city_division=s.city_division)
            principal = await create_account(console, identity, crypto.KeySeal(s.secret), username=args.username,
                                             password=password if password is not None or not args.oidc_subject
                                             else None, role=role, display_name=args.name,
                                             oidc_subject=args.oidc_subject)
            print(f"created {args.username}: {role.label}, principal {principal}")
        elif args.accounts_verb == "list":
            rows = [dict(r) for r in await db.list_accounts(console)]
            if args.json:
                print(json.dumps(rows, default=str, ensure_ascii=False, indent=2))
            for r in rows if not args.json else []:
                locked = f" locked until {r['locked_until']:%Y-%m-%d %H:%M}" if r["locked_until"] else ""
                print(f"  {r['username']:<20} {r['role']:<14} {r['bureau'] or '':<28} {r['principal_id']}{locked}")
        elif args.accounts_verb == "link":
            from services.console.domain.accounts import check_subject

            subject = None if args.clear else check_subject(args.oidc_subject)
            if subject is not None and (other := await db.account_by_subject(console, subject)) is not None \
                    and other["username"] != args.username:
                raise ValueError(f"the OIDC subject is {other['username']}'s already")
            done = await db.link_subject(console, args.username, subject)
            print(("unlinked" if subject is None else f"linked {args.username} to OIDC subject {subject}")
                  if done else f"no account {args.username}")
            return 0 if done else 1
        elif args.accounts_verb == "unlock":
            print("unlocked" if await db.unlock(console, args.username) else f"no account {args.username}")
        return 0
    finally:
        await console.close()
        await identity.close()
