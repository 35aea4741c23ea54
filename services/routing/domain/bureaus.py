"""Bureau ids: ``<bureau_type>@<jurisdiction>`` (``market_regulation@610402``;
``public_security@610400`` is the city's police).

Outside systems are named by client ids that fit a topic name, so a bureau's
client id is ``<bureau_type>-<jurisdiction>``: its commands arrive on
``ingress.market_regulation-610402`` and its events leave on
``egress.market_regulation-610402``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_BUREAU = re.compile(r"^([a-z][a-z0-9_]*)@([0-9]{6})$")
_CLIENT = re.compile(r"^([a-z][a-z0-9_]*)-([0-9]{6})$")

#: The actor of what routing does by itself (automatic referral proposals, escalations).
SYSTEM_ACTOR = "routing"


@dataclass(frozen=True, order=True)
class Bureau:
    type: str
    jurisdiction: str

    def __str__(self) -> str:
        return f"{self.type}@{self.jurisdiction}"

    @property
    def client_id(self) -> str:
        return f"{self.type}-{self.jurisdiction}"

    @classmethod
    def parse(cls, text: str) -> "Bureau":
        m = _BUREAU.match(text or "")
        if not m:
            raise ValueError(f"bureau id {text!r}: expected <bureau_type>@<6-digit jurisdiction>")
        return cls(m.group(1), m.group(2))

    @classmethod
    def from_client_id(cls, client: str) -> "Bureau | None":
        """The bureau a client id (``market_regulation-610402``) names, or None for other clients."""
        m = _CLIENT.match(client or "")
        return cls(m.group(1), m.group(2)) if m else None


def bureau_type_of(bureau: str) -> str:
    """The type part of a bureau id (a bounded metric label); 'other' for anything else."""
    m = _BUREAU.match(bureau or "")
    return m.group(1) if m else "other"
