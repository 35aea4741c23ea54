"""The administrative → criminal referral (两法衔接) as an explicit state machine,
after State Council Order 310 (rev. 2020):

==============================  ==========  ===========================  =========================
from                            action      to                           deadline of the new step
==============================  ==========  ===========================  =========================
(none, or rejected)             propose     proposed                     head decides (3 days)
proposed                        approve     approved                     transfer to police (24 h)
proposed                        reject      rejected (final)             —
approved                        transfer    transferred                  police decide (3 days)
transferred                     open        accepted                     hand over (3 days)
transferred                     refuse      refused                      ask reconsideration (3 d)
refused                         reconsider  reconsideration_requested    police decide again (3 d)
refused                         supervise   supervision_requested        —
reconsideration_requested       open        accepted                     hand over (3 days)
reconsideration_requested       refuse      reconsideration_refused      —
reconsideration_refused         supervise   supervision_requested        —
supervision_requested           open        accepted                     hand over (3 days)
accepted                        hand_over   handed_over (final)          —
==============================  ==========  ===========================  =========================

``open``/``refuse`` are the police's (the same-level ``public_security``); every
other action is the agency's (the case's assignee), and ``propose`` may also
come from routing itself when the figures cross the criminal threshold.
"""
from __future__ import annotations

from typing import Literal

State = Literal[
    "proposed", "approved", "rejected", "transferred", "accepted", "refused",
    "reconsideration_requested", "reconsideration_refused", "supervision_requested", "handed_over",
]
Action = Literal["propose", "approve", "reject", "transfer", "open", "refuse", "reconsider", "supervise", "hand_over"]
Role = Literal["agency", "police"]

STATES: tuple[str, ...] = State.__args__  # type: ignore[attr-defined]
ACTIONS: tuple[str, ...] = Action.__args__  # type: ignore[attr-defined]

#: states after which a new referral may be proposed (none is active)
CLOSED: frozenset[str] = frozenset({"rejected", "handed_over"})
#: states in which the administrative case may be closed with an outcome (nobody is due to act on the referral)
SETTLED: frozenset[str] = frozenset({"rejected", "refused", "reconsideration_refused", "supervision_requested"})

TRANSITIONS: dict[tuple[str | None, str], str] = {
    (None, "propose"): "proposed",
    ("rejected", "propose"): "proposed",
    ("proposed", "approve"): "approved",
    ("proposed", "reject"): "rejected",
    ("approved", "transfer"): "transferred",
    ("transferred", "open"): "accepted",
    ("transferred", "refuse"): "refused",
    ("refused", "reconsider"): "reconsideration_requested",
    ("refused", "supervise"): "supervision_requested",
    ("reconsideration_requested", "open"): "accepted",
    ("reconsideration_requested", "refuse"): "reconsideration_refused",
    ("reconsideration_refused", "supervise"): "supervision_requested",
    ("supervision_requested", "open"): "accepted",
    ("accepted", "hand_over"): "handed_over",
}

ROLE: dict[str, Role] = {
    "propose": "agency", "approve": "agency", "reject": "agency", "transfer": "agency",
    "open": "police", "refuse": "police",
    "reconsider": "agency", "supervise": "agency", "hand_over": "agency",
}

#: the deadline the new state starts (deadline kind) and who must meet it
STEP_DEADLINE: dict[str, tuple[str, Role]] = {
    "proposed": ("referral_head_decision", "agency"),
    "approved": ("referral_transfer", "agency"),
    "transferred": ("police_filing_decision", "police"),
    "refused": ("reconsideration_request", "agency"),
    "reconsideration_requested": ("reconsideration_decision", "police"),
    "accepted": ("handover", "agency"),
}

#: states in which the police know of the referral (they get its events on their egress topic)
POLICE_INVOLVED: frozenset[str] = frozenset(
    {"transferred", "accepted", "refused", "reconsideration_requested", "reconsideration_refused",
     "supervision_requested", "handed_over"}
)


class IllegalTransition(ValueError):
    def __init__(self, state: str | None, action: str) -> None:
        allowed = sorted(a for (s, a) in TRANSITIONS if s == state)
        where = f"in state {state}" if state else "without a referral"
        super().__init__(f"cannot {action} {where}; allowed: {', '.join(allowed) or 'nothing'}")
        self.state = state
        self.action = action


def next_state(state: str | None, action: str) -> str:
    """The state `action` leads to from `state`; raises `IllegalTransition`."""
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise IllegalTransition(state, action) from None


def is_active(state: str | None) -> bool:
    return state is not None and state not in CLOSED


REQUIRED_PACKAGE = ("transfer_letter", "investigation_report", "seized_goods_list", "test_reports")


def missing_documents(package: object) -> list[str]:
    """The Order 310 art. 6 documents a transfer package lacks."""
    missing = []
    for name in REQUIRED_PACKAGE:
        value = getattr(package, name, None)
        if value is None or (isinstance(value, list) and not value):
            missing.append(name)
    return missing
