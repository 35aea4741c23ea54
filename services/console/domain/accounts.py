"""Accounts: who a person is in the console, which principal of the identity store acts for them,
and when repeated failed sign-ins lock the account. Pure."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

RoleName = Literal["office", "bureau", "police", "procuratorate", "ops"]
ROLE_NAMES: tuple[RoleName, ...] = ("office", "bureau", "police", "procuratorate", "ops")

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,39}$")
_BUREAU_TYPE = re.compile(r"^[a-z][a-z_]{1,40}$")
_DIVISION = re.compile(r"^\d{6}$")
#: a bureau of these types is not a "bureau" role (it has a role of its own)
_OWN_ROLES = {"office": "office", "public_security": "police", "procuratorate": "procuratorate"}
MIN_PASSWORD = 10


class InvalidAccount(ValueError):
    """An account that cannot be created; names the field."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field


@dataclass(frozen=True)
class Role:
    """A person's role and the bureau (type@division) they act for, if any."""

    name: RoleName
    bureau: str | None = None

    @property
    def principal_kind(self) -> str:
        """The identity store's kind of the principal that acts for this role."""
        return {"office": "office", "bureau": "bureau", "police": "police", "procuratorate": "procuratorate",
                "ops": "ops"}[self.name]

    @property
    def label(self) -> str:
        return f"{self.name}@{self.bureau}" if self.name == "bureau" else self.name if self.bureau is None \
            else f"{self.name}@{self.bureau.partition('@')[2]}"

    @property
    def sees_all_cases(self) -> bool:
        return self.name in ("office", "ops")


def parse_role(text: str, *, office_bureau: str, city_division: str) -> Role:
    """``office`` | ``bureau@<type>@<division>`` | ``police[@<division>]`` | ``procuratorate[@<division>]`` | ``ops``."""
    parts = text.strip().lower().split("@")
    name = parts[0]
    if name == "office" and len(parts) == 1:
        return Role("office", office_bureau)
    if name == "ops" and len(parts) == 1:
        return Role("ops")
    if name == "bureau" and len(parts) == 3:
        btype, division = parts[1], parts[2]
        if not _BUREAU_TYPE.match(btype) or not _DIVISION.match(division):
            raise InvalidAccount("role", "bureau@<bureau type>@<6-digit division>, e.g. bureau@market_regulation@610402")
        if btype in _OWN_ROLES:
            raise InvalidAccount("role", f"{btype} has a role of its own: {_OWN_ROLES[btype]}")
        return Role("bureau", f"{btype}@{division}")
    if name in ("police", "procuratorate") and len(parts) in (1, 2):
        division = parts[1] if len(parts) == 2 else city_division
        if not _DIVISION.match(division):
            raise InvalidAccount("role", f"{name}@<6-digit division>")
        btype = "public_security" if name == "police" else "procuratorate"
        return Role(name, f"{btype}@{division}")  # type: ignore[arg-type]
    raise InvalidAccount("role", "office | bureau@<type>@<division> | police[@<division>] | "
                                 "procuratorate[@<division>] | ops")


def role_from_stored(name: str, bureau: str | None) -> Role:
    if name not in ROLE_NAMES:
        raise InvalidAccount("role", f"unknown stored role {name!r}")
    return Role(name, bureau)  # type: ignore[arg-type]


def check_username(username: str) -> str:
    if not _USERNAME.match(username):
        raise InvalidAccount("username", "2-40 of a-z 0-9 _ . - starting with a letter or digit")
    return username


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidAccount("password", f"at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise InvalidAccount("password", "at most 1024 characters")
    return password


_SUBJECT = re.compile(r"^[\x21-\x7e]{1,255}$")


def check_subject(subject: str) -> str:
    """An OIDC subject as a provider issues it (OIDC Core: at most 255 ASCII characters)."""
    if not _SUBJECT.match(subject):
        raise InvalidAccount("oidc_subject", "1-255 printable ASCII characters without spaces")
    return subject


def principal_id_for(username: str) -> str:
    """The identity store's principal acting for a console account."""
    return f"console.{username}"


@dataclass(frozen=True)
class Lockout:
    """``failures`` failed sign-ins in a row lock an account for ``duration``."""

    failures: int
    duration: timedelta

    def locked(self, locked_until: datetime | None, now: datetime) -> bool:
        return locked_until is not None and now < locked_until

    def after_failure(self, failed_count: int, now: datetime) -> tuple[int, datetime | None]:
        """The new failure count and lock (None: not locked) after one more failure."""
        count = failed_count + 1
        if count >= self.failures:
            return 0, now + self.duration
        return count, None
