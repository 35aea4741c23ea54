"""The shared HTTP app: problem documents, health routes and bounded request metrics."""
from fastapi.testclient import TestClient
from pydantic import BaseModel

from shared.http import ProblemError, create_app
from shared.metrics import HTTP_REQUESTS


class Body(BaseModel):
    count: int


def _app(ready: bool = True) -> TestClient:
    async def check() -> bool:
        return ready

    app = create_app("httptest", title="t", readiness=[check])

    @app.post("/things/{thing_id}")
    async def post_thing(thing_id: str, body: Body) -> dict[str, str]:
        if body.count < 0:
            raise ProblemError(409, "Conflict", "count: must not be negative", errors=[{"field": "count", "reason": "negative"}])
        return {"id": thing_id}

    return TestClient(app)


def test_an_invalid_body_gets_a_problem_document_naming_the_field() -> None:
    r = _app().post("/things/1", json={"count": "many"})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "count"


def test_a_domain_refusal_is_a_problem_document_too() -> None:
    r = _app().post("/things/1", json={"count": -1})
    assert r.status_code == 409 and r.json()["errors"] == [{"field": "count", "reason": "negative"}]


def test_readiness_follows_the_checks_and_health_does_not() -> None:
    assert _app(ready=False).get("/readyz").status_code == 503
    assert _app(ready=False).get("/healthz").status_code == 200
    assert _app(ready=True).get("/readyz").status_code == 200


def test_request_metrics_use_the_route_template_not_the_path() -> None:
    client = _app()
    for i in range(3):
        client.post(f"/things/{i}", json={"count": 1})
    labels = [s.labels for m in HTTP_REQUESTS.collect() for s in m.samples if s.labels.get("service") == "httptest"]
    routes = {lab["route"] for lab in labels}
    assert "/things/{thing_id}" in routes
    assert not any(r.startswith("/things/0") for r in routes)


def test_each_request_gets_an_id_that_is_the_cause_of_the_events_its_unit_of_work_emits() -> None:
    from shared.runtime.uow import CURRENT_COMMAND_ID, UnitOfWork

    app = create_app("test", title="t")

    @app.post("/v1/things")
    async def make_thing() -> dict[str, str | None]:
        uow = UnitOfWork(None, source="/test", command_id=CURRENT_COMMAND_ID.get())  # type: ignore[arg-type]
        envelope = uow.emit("t.topic", Body(count=1), key="k", event_type="shuangda.test.thing.v1")
        return {"causationid": envelope.causationid}

    client = TestClient(app)
    first, second = client.post("/v1/things"), client.post("/v1/things")
    assert first.json()["causationid"] == first.headers["x-request-id"]
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
    assert CURRENT_COMMAND_ID.get() is None, "outside a request there is no command"
