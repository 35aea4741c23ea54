"""What credit's use cases share: their dependencies (`Credit`: rules, calendar, clock, keyring,
the person hasher, topics) and the value types of a decision batch. No I/O here."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.clock import Clock
from shared.contracts.penalty import Party, PenaltyDecided, PenaltyRevoked
from shared.contracts.referral import ReferralAccepted
from shared.pii import Keyring
from shared.reference import categories
from shared.runtime import Message
from shared.workdays import SHANGHAI, WorkdayCalendar

from services.credit.domain.model import Bureau
from services.credit.domain.names import NameAnalyser
from services.credit.domain.records import PublicityPlan
from services.credit.rules import RuleBook


@dataclass(frozen=True)
class Topics:
    penalty: str
    credit: str


class PersonHasher:
    """Keyed hash (HMAC-SHA256) of a resident ID — finds the same person again without the number
    in clear — or of any text that may contain one (a decision's digest). The service's one HMAC."""

    def __init__(self, key: str) -> None:
        self._key = key.encode()

    def __call__(self, text: str) -> str:
        return hmac.new(self._key, text.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


#: names remembered by `Credit.name_key` / `Credit.normalise` before the maps start again
_NAME_CACHE_MAX = 50_000


class Credit:
    """The dependencies of every credit use case (built once by `wiring.build`)."""

    def __init__(self, *, book: RuleBook, calendar: WorkdayCalendar, clock: Clock, keyring: Keyring,
                 hasher: PersonHasher, topics: Topics, auto_disclose: bool = True,
                 source: str = "/shuangda/credit", substitution_grace: dt.timedelta = dt.timedelta(minutes=5)) -> None:
        self.book = book
        self.calendar = calendar
        self.clock = clock
        self.keyring = keyring
        self.hasher = hasher
        self.topics = topics
        self.auto_disclose = auto_disclose
        self.source = source
        #: how long a 以罚代刑 alert waits for a referral step of its case before it is sent
        self.substitution_grace = substitution_grace
        self.analyser = NameAnalyser(book.region_prefixes(), book.names.legal_form_suffixes)
        self._ip = {c.id: c.ip for c in categories()}
        #: publicity plans by (kind, heavy, decision date, local day): the calendar work is the same for all
        self.plan_cache: dict[tuple[str, bool, dt.date, dt.date], PublicityPlan] = {}
        self._name_keys: dict[str, str] = {}
        self._normalised: dict[str, str] = {}

    def name_key(self, name: str) -> str:
        """The whole name normalised (an entity's `name_key`), remembered: a batch sees the same
        names again and again."""
        key = self._name_keys.get(name)
        if key is None:
            if len(self._name_keys) > _NAME_CACHE_MAX:
                self._name_keys.clear()
            key = self._name_keys[name] = self.analyser.analyse(name).normalised
        return key

    def normalise(self, name: str) -> str:
        """`NameAnalyser.normalise`, remembered (comparing a party's name with its entity's)."""
        text = self._normalised.get(name)
        if text is None:
            if len(self._normalised) > _NAME_CACHE_MAX:
                self._normalised.clear()
            text = self._normalised[name] = self.analyser.normalise(name)
        return text

    def is_ip(self, category: str) -> bool:
        return self._ip.get(category, False)


def local_day(at: dt.datetime) -> dt.date:
    return at.astimezone(SHANGHAI).date()


@dataclass(frozen=True)
class Outcome:
    """What a command led to: a record (new or a re-send of a known one), or a refusal."""

    status: str  # recorded | duplicate | revoked | refused
    record_id: str | None = None
    entity_key: str | None = None
    reason: str | None = None
    detail: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Item:
    """One command of a batch. `cause` is the record the events name as their cause (None on the
    HTTP path: the unit of work's command then); `actor` signs the audit entries."""

    kind: Literal["decide", "revoke", "referral"]
    cmd: PenaltyDecided | PenaltyRevoked | ReferralAccepted
    bureau: Bureau | None
    source_event_id: str | None
    actor: str | None
    cause: Message[Any] | None = None


@dataclass
class EntityState:
    """An entity as a batch knows it (read, or created by an earlier item of the batch)."""

    entity_id: str
    credit_code: str | None
    kind: str
    name: str
    name_key: str
    person_hash: str | None
    first_seen_at: dt.datetime

    @property
    def key(self) -> str:
        return self.credit_code or self.entity_id


@dataclass(frozen=True)
class PartyKeys:
    """A party with its match keys worked out once."""

    party: Party
    person_hash: str | None
    name_key: str
