"""Principals: who calls the services, as what, allowed to do what. Pure."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Kind = Literal["hotline", "platform", "bureau", "office", "police", "procuratorate", "public_api", "appraisal", "ops"]
KINDS: tuple[Kind, ...] = ("hotline", "platform", "bureau", "office", "police", "procuratorate", "public_api",
                           "appraisal", "ops")

#: every scope a key can carry, and what it allows
SCOPES: dict[str, str] = {
    "complaints:write": "file complaints (intake)",
    "complaints:read": "read the status of one's own complaints (intake)",
    "leads:write": "submit leads (intake)",
    "cases:read": "read the cases assigned to one's bureau (routing)",
    "cases:act": "acknowledge, refuse, transfer, refer and close one's cases (routing)",
    "cases:read-all": "read every case (routing; the office)",
    "referrals:act": "accept or refuse criminal referrals (routing; police, procuratorate)",
    "penalties:write": "record penalty decisions and revocations (credit)",
    "credit:read": "check entities and read credit records (credit)",
    "credit:manage": "decide repair and removal applications, list and delist (credit; the office)",
    "credit:public": "the public disclosure and search (credit)",
    "registry:write": "register enterprises in the entity registry (credit; the registration authority, market "
                      "regulation, for its own division)",
    "notify:admin": "read delivery state and reload the directory (notify)",
    "notify:resend": "resend a delivery, or recover an endpoint's deliveries since a time (notify; operations)",
    "clients:relay": "name the address of the person one calls for in X-Client-Address, so public endpoints "
                     "rate-limit each person, not the relay's one key (the console's public reader)",
    "appraisals:report": "accept, refuse and report the appraisals requested of one (appraisal; the appraisal centre "
                         "and rights holders' identification services, role rights_holder)",
}

#: the scopes a new principal of each kind gets unless others are named
DEFAULT_SCOPES: dict[str, tuple[str, ...]] = {
    "hotline": ("complaints:write", "complaints:read"),
    "platform": ("leads:write",),
    "bureau": ("complaints:write", "complaints:read", "leads:write", "cases:read", "cases:act", "penalties:write",
               "credit:read", "registry:write"),
    # the office directs escalated cases: it acknowledges, transfers and closes them like a bureau (cases:act)
    "office": ("cases:read", "cases:read-all", "cases:act", "credit:read", "credit:manage", "notify:admin"),
    "police": ("cases:read", "cases:act", "referrals:act", "credit:read"),
    "procuratorate": ("cases:read", "referrals:act", "credit:read"),
    "public_api": ("credit:public",),
    "appraisal": ("cases:read", "appraisals:report"),
    "ops": ("notify:admin", "notify:resend", "cases:read-all", "credit:read"),
}

#: kinds that act for one bureau (type@division) and must name it
BUREAU_KINDS = frozenset({"bureau", "office", "police", "procuratorate"})
_PRINCIPAL_ID = re.compile(r"^[a-z0-9][a-z0-9_@.-]{1,99}$")
_BUREAU = re.compile(r"^[a-z][a-z_]{1,40}@\d{6}$")


class InvalidPrincipal(ValueError):
    """A principal that cannot be registered; names the field."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field


@dataclass(frozen=True)
class Principal:
    principal_id: str
    kind: Kind
    scopes: frozenset[str]
    roles: frozenset[str] = frozenset()
    bureau: str | None = None
    display_name: str = ""
    created_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def can(self, scope: str) -> bool:
        return self.active and scope in self.scopes


def check_new_principal(principal_id: str, kind: str, scopes: tuple[str, ...], bureau: str | None) -> None:
    """Raise `InvalidPrincipal` for an id, kind, scope or bureau the store must not accept."""
    if not _PRINCIPAL_ID.match(principal_id):
        raise InvalidPrincipal("principal_id", "2-100 of a-z 0-9 _ @ . - starting with a letter or digit")
    if kind not in KINDS:
        raise InvalidPrincipal("kind", f"one of {', '.join(KINDS)}")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InvalidPrincipal("scopes", f"unknown scope(s) {', '.join(unknown)}" if unknown else "at least one scope")
    if kind in BUREAU_KINDS and not (bureau and _BUREAU.match(bureau)):
        raise InvalidPrincipal("bureau", f"a {kind} principal names its bureau as type@division (e.g. market_regulation@610402)")
    if kind not in BUREAU_KINDS and bureau is not None:
        raise InvalidPrincipal("bureau", f"a {kind} principal acts for no bureau")
