"""Custody's Kafka edge: `referral.lifecycle` (routing's referral steps) → the deadline use cases.
Only the police opening the case and routing's record of the hand-over matter here; other
referral steps are skipped."""
from __future__ import annotations

from shared.contracts.referral import ReferralAccepted, ReferralHandedOver
from shared.runtime.routes import Binding, TopicRoute

from services.custody.app.deadlines import CustodyDeadlines


def referrals(topic: str, deadlines: CustodyDeadlines) -> TopicRoute:
    return TopicRoute(topic=topic, bindings={ReferralAccepted.EVENT_TYPE: Binding(ReferralAccepted),
                                             ReferralHandedOver.EVENT_TYPE: Binding(ReferralHandedOver)},
                      batch=deadlines.on_referrals)
