"""Appraisal's Kafka edge: `custody.lifecycle` → the samples' arrival (a provider's receipt of a
lot handed over for appraisal). Other custody events are skipped."""
from __future__ import annotations

from shared.contracts.custody import CustodyChanged
from shared.runtime.routes import Binding, TopicRoute

from services.appraisal.app.appraisals import Appraisals


def custody(topic: str, appraisals: Appraisals) -> TopicRoute:
    return TopicRoute(topic=topic, bindings={CustodyChanged.EVENT_TYPE: Binding(CustodyChanged)},
                      batch=appraisals.on_custody)
