"""HTTP-only request and response models (the commands themselves are in
shared.contracts.intake)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.intake import SubmitLead
from shared.openapi import Problem, ProblemField
from shared.text import CaseId, TrackingNo


class LeadBatch(BaseModel):
    """Up to `batch_max_items` leads (default 1,000). Each lead is validated on its own:
    the answer lists every lead with its outcome or its errors."""

    model_config = ConfigDict(extra="forbid")
    leads: list[SubmitLead] = Field(min_length=1, max_length=1000)


class ComplaintReceipt(BaseModel):
    tracking_no: TrackingNo = Field(  # type: ignore[valid-type]
        description="read this out to the caller")
    case_id: CaseId  # type: ignore[valid-type]
    outcome: Literal["opened", "merged", "duplicate"] = Field(
        description="opened a new case, joined the open case about the same suspect, or a re-submission of an earlier one")
    received_at: datetime
    status_url: str


class ComplainantMasked(BaseModel):
    name_masked: str | None = None
    phone_masked: str | None = None


class ComplaintStatus(BaseModel):
    tracking_no: TrackingNo  # type: ignore[valid-type]
    case_id: CaseId  # type: ignore[valid-type]
    kind: Literal["complaint", "report"]
    status: str = Field(description="registered: accepted and passed on for routing to the responsible bureau")
    joined_existing_case: bool
    reports_on_case: int
    received_at: datetime
    category: str
    category_name: str
    county: str
    county_name: str
    complainant: ComplainantMasked | None = None
    readout_zh: str = Field(description="what to read out to the caller, in Chinese")
    readout_en: str


class LeadResult(BaseModel):
    index: int
    source_id: str | None = None
    outcome: Literal["opened", "merged", "duplicate", "rejected"]
    case_id: CaseId | None = None  # type: ignore[valid-type]
    errors: list[ProblemField] | None = None


class LeadBatchResult(BaseModel):
    accepted: int = Field(description="leads that opened or joined a case")
    duplicates: int
    rejected: int
    results: list[LeadResult]


# -- Open311 GeoReport v2 (JSON subset) ---------------------------------------------------


class Open311Service(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool = False
    type: Literal["realtime", "batch", "blackbox"] = "realtime"
    keywords: str = ""
    group: str = ""


class Open311Attributes(BaseModel):
    """Jurisdiction-specific attributes: where, and whom the request is about."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    county: str = Field(min_length=1, max_length=16, description="GB/T 2260 county code")
    suspect_name: str | None = Field(default=None, max_length=200)
    credit_code: str | None = Field(default=None, max_length=40)
    platform: str | None = Field(default=None, max_length=64)
    shop_id: str | None = Field(default=None, max_length=128)
    listing_url: str | None = Field(default=None, max_length=2048)


class Open311RequestIn(BaseModel):
    """POST /requests.json — a subset of GeoReport v2 sent as JSON; the API key goes in a header."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{
        "service_code": "food", "description": "外卖平台上的无证小作坊", "address_string": "渭城区某路1号",
        "last_name": "王", "first_name": "五", "phone": "13700001111",
        "attribute": {"county": "610404", "suspect_name": "某某小吃"},
    }]})
    service_code: str = Field(min_length=1, max_length=64)
    description: str = Field(min_length=1, max_length=4000)
    lat: float | None = Field(default=None, ge=-90, le=90)
    long: float | None = Field(default=None, ge=-180, le=180)
    address_string: str | None = Field(default=None, max_length=500)
    first_name: str | None = Field(default=None, max_length=32)
    last_name: str | None = Field(default=None, max_length=32)
    phone: str | None = Field(default=None, max_length=32)
    attribute: Open311Attributes


class Open311Created(BaseModel):
    service_request_id: str
    service_notice: str = ""
    account_id: str | None = None


class Open311ServiceRequest(BaseModel):
    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str = ""
    service_name: str
    service_code: str
    description: str = ""
    agency_responsible: str = ""
    requested_datetime: datetime
    updated_datetime: datetime
    address: str = ""


EXTRA_SCHEMAS: tuple[type[BaseModel], ...] = (Problem, LeadBatch)


def as_json(model: BaseModel) -> Any:
    return model.model_dump(mode="json")
