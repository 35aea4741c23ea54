"""The complainants after they filed: evidence photos and the satisfaction survey (issue 15 §4).

* **photos** — a share of those who filed a complaint with their phone number add a photo of the
  goods: through the web form at once, with the complaint's own client; a hotline caller later,
  through the web form with the last 4 digits of the phone (``X-Reporter-Last4``), since another
  client filed it. The photo is a phone's JPEG with Exif (GPS, the camera's serial) that intake
  strips (`sim.evidence`).
* **surveys** — the closing SMS (notify → the SMS gateway, `sim.receiver`) invites the complainant
  to rate the case; a share answer ``POST /v1/complaints/{tracking_no}/survey`` with the last 4
  digits of their phone, mostly within hours: through the web form when the SMS carried the survey
  link, else on the hotline's return call. The score follows what the SMS said (a refusal or "no
  violation found" scores low, a penalty high); some low scores ask for the case to be handled
  again, and routing sends it back to its bureau (`sim.backends` handles it again). The survey is
  answered once: a second closing SMS (after a reopening) is not answered again.

The decisions (`plan_photo`, `plan_survey`) are pure and seeded by the submission and the
tracking number, never by the order SMS arrive in.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from sim.api import call
from sim.behaviour import lognormal
from sim.clock import SimClock
from sim.evidence import jpeg_with_exif
from sim.scenario import Submission, stable_random
from sim.schedule import Scheduler
from sim.stats import SimStats

log = logging.getLogger(__name__)

#: the header another client sends the reporter's digits in (intake's http_attachments.LAST4_HEADER)
LAST4_HEADER = "X-Reporter-Last4"
TRACKING_NO = re.compile(r"SD[0-9]{6}-[0-9A-HJKMNP-TV-Z]{8}")
#: what a closing SMS (notify's case.outcome-recorded / a refusal in case.acknowledged) says, as a reader takes it
VERDICTS: tuple[tuple[str, str], ...] = (
    ("不予受理", "refused"), ("未发现违法", "nothing_found"), ("不成立", "nothing_found"),
    ("处罚", "penalised"), ("调解", "mediated"),
)
#: weights of the scores 1…5 by what the SMS said
SCORES: dict[str, tuple[int, int, int, int, int]] = {
    "refused": (35, 30, 20, 10, 5),
    "nothing_found": (25, 25, 25, 15, 10),
    "mediated": (5, 10, 25, 35, 25),
    "penalised": (3, 5, 15, 37, 40),
    "closed": (10, 15, 30, 25, 20),
}
#: of the closing SMS, the share the complainant answers (a return visit reaches most, not all)
ANSWER_SHARE = 0.65
#: of complaints with a phone number, the share that add a photo, by channel
PHOTO_SHARE = {"web": 0.4, "hotline": 0.12}
#: answers tried while intake still calls the case open
RETRIES = 3
COMMENTS = {
    1: ("店铺还在卖假货，问题根本没有解决", "处理结果不满意，希望重新调查", "没有人联系我核实情况"),
    2: ("处理太慢，商家没有任何回应", "退款还没有到账，希望继续处理"),
    3: ("处理了，但时间有点长", ""),
    4: ("感谢处理，商家已退款", ""),
    5: ("处理及时，非常满意", "感谢执法人员", ""),
}

Verdict = Literal["refused", "nothing_found", "penalised", "mediated", "closed"]


def closing_sms(text: str) -> tuple[str, Verdict, bool] | None:
    """(tracking number, what it said, whether it carried the survey link) of a closing SMS; None for another text."""
    found = TRACKING_NO.search(text or "")
    if found is None or "满意度回访" not in text:
        return None
    verdict: Verdict = next((v for word, v in VERDICTS if word in text), "closed")  # type: ignore[assignment]
    return found.group(0), verdict, f"/public/survey/{found.group(0)}" in text


@dataclass(frozen=True)
class PhotoPlan:
    after: dt.timedelta
    #: through another client than the one that filed (then with the reporter's digits)
    other_client: bool


def plan_photo(seed: int, s: Submission) -> PhotoPlan | None:
    """Whether the complainant of `s` adds a photo, when, and through which client."""
    complainant = s.payload.get("complainant") or {}
    if s.transport != "complaint" or not complainant.get("phone"):
        return None
    channel = str(s.payload.get("channel"))
    rng = stable_random("photo", seed, s.source_id)
    if rng.random() >= PHOTO_SHARE.get(channel, 0.0):
        return None
    if channel == "web":
        return PhotoPlan(dt.timedelta(seconds=rng.uniform(20, 240)), other_client=False)
    return PhotoPlan(dt.timedelta(hours=rng.uniform(0.5, 6)), other_client=True)


def photo_of(s: Submission) -> bytes:
    """A photo of the goods, different for every complaint."""
    return jpeg_with_exif(f"photo of {s.source_id}".encode())


@dataclass(frozen=True)
class SurveyPlan:
    after: dt.timedelta
    score: int
    resolved: bool
    reopen: bool
    comment: str


def plan_survey(seed: int, tracking_no: str, verdict: Verdict) -> SurveyPlan | None:
    """Whether the complainant answers, and how: the score follows the verdict; a low one may ask to reopen."""
    rng = stable_random("survey", seed, tracking_no)
    if rng.random() >= ANSWER_SHARE:
        return None
    score = rng.choices((1, 2, 3, 4, 5), weights=SCORES[verdict], k=1)[0]
    resolved = rng.random() < {1: 0.05, 2: 0.15, 3: 0.5, 4: 0.9, 5: 0.97}[score]
    reopen = not resolved and rng.random() < {1: 0.75, 2: 0.55, 3: 0.15}.get(score, 0.0)
    after = dt.timedelta(hours=min(24 * 10, max(0.5, lognormal(rng, 2.5, 1.0))))
    return SurveyPlan(after, score, resolved, reopen, rng.choice(COMMENTS[score]))


@dataclass
class Reporter:
    submission: Submission
    client: str          # the registered client that filed it
    last4: str


@dataclass
class Reporters:
    seed: int
    clock: SimClock
    scheduler: Scheduler
    intake: httpx.AsyncClient
    #: logical client (``web-12315``) → registered client id, and registered id → API key
    client_ids: dict[str, str]
    api_keys: dict[str, str]
    stats: SimStats = field(default_factory=SimStats)
    #: tracking number → who filed it
    filed_by: dict[str, Reporter] = field(default_factory=dict)
    #: tracking numbers whose closing SMS was read (the survey is answered once at most)
    asked: set[str] = field(default_factory=set)

    def filed(self, s: Submission, client: str, body: dict[str, Any], tracking_no: str | None) -> None:
        """Intake registered `s` (`body` as sent) and answered with `tracking_no`."""
        phone = str((body.get("complainant") or {}).get("phone") or "")
        if not tracking_no or len(phone) < 4 or tracking_no in self.filed_by:
            return
        self.filed_by[tracking_no] = Reporter(s, client, phone[-4:])
        plan = plan_photo(self.seed, s)
        if plan is not None:
            self.scheduler.at(self.clock.now() + plan.after,
                              lambda: self._photo(tracking_no, plan.other_client), "photo")

    def on_sms(self, body: dict[str, Any]) -> None:
        """An SMS notify sent through the gateway: the closing one is the survey's invitation."""
        read = closing_sms(str(body.get("text") or ""))
        if read is None:
            return
        tracking_no, verdict, linked = read
        self.stats.reporters["survey_link" if linked else "survey_no_link"] += 1
        if tracking_no in self.asked or tracking_no not in self.filed_by:
            return
        self.asked.add(tracking_no)
        plan = plan_survey(self.seed, tracking_no, verdict)
        if plan is None:
            self.stats.reporters["survey_not_answered"] += 1
            return
        self.scheduler.at(self.clock.now() + plan.after, lambda: self._answer(tracking_no, plan, linked), "survey")

    async def _photo(self, tracking_no: str, other_client: bool) -> None:
        who = self.filed_by[tracking_no]
        client = self.client_ids["web-12315"] if other_client else who.client
        headers = {"content-type": "image/jpeg", **({LAST4_HEADER: who.last4} if other_client else {})}
        answer = await call(self.intake, "POST", f"/v1/complaints/{tracking_no}/attachments", token=self.api_keys[client],
                            content=photo_of(who.submission), headers=headers)
        self.stats.reporters[f"photo:{answer.status}"] += 1
        if not answer.ok:
            log.info("photo for %s: %s %s", tracking_no, answer.status, answer.body)

    async def _answer(self, tracking_no: str, plan: SurveyPlan, linked: bool, attempt: int = 1) -> None:
        who = self.filed_by[tracking_no]
        # the survey page the SMS links to (the web form's client), else the hotline's return call
        client = self.client_ids["web-12315" if linked else "hotline-12345"]
        answer = await call(self.intake, "POST", f"/v1/complaints/{tracking_no}/survey", token=self.api_keys[client],
                            json={"last4": who.last4, "score": plan.score, "resolved": plan.resolved,
                                  "reopen": plan.reopen, "comment": plan.comment})
        self.stats.reporters[f"survey:{answer.status}"] += 1
        if answer.ok and isinstance(answer.body, dict) and answer.body.get("reopen"):
            self.stats.reporters["reopen"] += 1
        elif answer.status == 409 and answer.reason == "case_open" and attempt < RETRIES:
            # intake had not yet learnt of the closing the SMS announced (a separate consumer): try again later
            self.scheduler.at(self.clock.now() + dt.timedelta(hours=2 * attempt),
                              lambda: self._answer(tracking_no, plan, linked, attempt + 1), "survey again")
        elif not answer.ok:
            log.info("survey for %s: %s %s", tracking_no, answer.status, answer.body)

