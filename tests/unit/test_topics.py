import pytest

from shared.runtime.consumer import topic_label
from shared.topics import INTERNAL, egress, ingress, with_dlqs


def test_every_internal_topic_has_a_dlq_twin() -> None:
    names = {s.name for s in with_dlqs(INTERNAL)}
    for spec in INTERNAL:
        assert spec.name + ".dlq" in names


def test_ingress_and_egress_topics_name_their_actor() -> None:
    assert ingress("hotline-12345").name == "ingress.hotline-12345"
    assert egress("market_regulation@610402").name == "egress.market_regulation-610402"
    assert not egress("office@610400").has_dlq


@pytest.mark.parametrize("bad", ["", "A", "x", "has space", "semi;colon", "a" * 64])
def test_client_ids_that_would_make_bad_topic_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="client id"):
        ingress(bad)


def test_per_client_topics_fold_into_one_metric_label() -> None:
    assert topic_label("ingress.platform-a") == "ingress.*"
    assert topic_label("ingress.platform-a.dlq") == "ingress.*.dlq"
    assert topic_label("case.intake") == "case.intake"
