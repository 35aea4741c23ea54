"""The isolated stack's names (sim/stackenv.py): every service, custody, appraisal and inspection
included, gets a schema, a port and topics of the namespace, so an e2e run or a test demo never
reads or writes the shared stack's."""
from __future__ import annotations

from sim.stackenv import SERVICES, Isolated


def test_every_service_of_the_isolated_stack_has_its_own_schema_port_and_namespaced_topics() -> None:
    iso = Isolated.make("zu1234abcd", ports={name: 40000 + i for i, name in enumerate(SERVICES)})
    env = iso.env()
    assert {"custody", "appraisal", "inspection"} <= set(SERVICES)
    assert len(iso.schemas.all()) == len(SERVICES) and all(s.endswith("_zu1234abcd") for s in iso.schemas.all())
    for name in SERVICES:
        assert env[f"SHUANGDA_{name.upper()}_HTTP_PORT"] == str(iso.ports[name])
    topics = {k: v for k, v in env.items() if k.endswith("_TOPIC")}
    assert topics and all(v.startswith("tzu1234abcd.") or v.endswith("-zu1234abcd") for v in topics.values()), topics
    assert env["SHUANGDA_ROUTING_APPRAISAL_TOPIC"] == env["SHUANGDA_APPRAISAL_APPRAISAL_TOPIC"]
    assert env["SHUANGDA_APPRAISAL_CUSTODY_TOPIC"] == env["SHUANGDA_CUSTODY_CUSTODY_TOPIC"]
    assert env["SHUANGDA_CUSTODY_REFERRAL_TOPIC"] == env["SHUANGDA_ROUTING_REFERRAL_TOPIC"]
    assert env["SHUANGDA_INSPECTION_LEAD_TOPIC"] == "ingress.inspection-zu1234abcd"


def test_the_simulator_is_pointed_at_custody_appraisal_and_inspection_of_the_namespace() -> None:
    iso = Isolated.make("zu1234abcd", ports={name: 40000 + i for i, name in enumerate(SERVICES)})
    target = iso.target("postgresql://x", "127.0.0.1:1")
    assert (target.custody, target.appraisal, target.inspection) == (
        iso.url("custody"), iso.url("appraisal"), iso.url("inspection"))
