"""Validating and normalising complaints and leads (the same rules for HTTP,
Open311 and Kafka ingress).

Every ``validate_*`` function returns a `Report` or raises
`IntakeValidationError` listing every bad field — and nothing else, whatever
the input (a property test holds it to that). Text is NFKC-normalised first,
so full-width digits and letters typed on Chinese keyboards are accepted.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Literal, Mapping
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from services.intake.domain.errors import FieldError, IntakeValidationError, from_pydantic
from services.intake.domain.model import Channel, ClientContext, Complainant, Origin, Report, Suspect
from services.intake.domain.text import clean, name_key, redact
from shared.contracts.intake import ComplainantInput, FiguresInput, SubmitComplaint, SubmitLead, SuspectInput
from shared.identifiers import IdentifierError, parse_phone, parse_resident_id, parse_uscc
from shared.reference import UnknownCode, load_categories, load_thresholds, resolve_county

#: Business days and "today" are Asia/Shanghai (UTC+8, no daylight saving since 1991).
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
MAX_DESCRIPTION = 4000
MAX_SUMMARY = 500
#: an observation time may be this far ahead of our clock (the sender's clock may be fast)
CLOCK_SKEW = timedelta(minutes=5)
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
_CENT = Decimal("0.01")
_MONEY_KEYS = ("illegal_turnover", "illegal_gains", "sales", "unsold_value", "loss", "amount_involved", "service_illegal_gains")
_COUNT_KEYS = ("pieces", "copies", "marks_count", "patents_count", "unsold_pieces", "unsold_copies", "works_online",
               "downloads", "clicks", "members")
#: the figure naming the conduct's 刑法 article (issue 14 §1): checked against the threshold families, never summed
CONDUCT = "conduct"

Transport = Literal["http", "open311", "kafka"]


def local_today(now: datetime) -> date:
    return now.astimezone(SHANGHAI).date()


def channel_for(client: ClientContext, transport: Transport, requested: str | None = None) -> Channel:
    """How a report reached intake: Kafka and Open311 are their own channels; over HTTP
    it is the client's kind, refined by what a hotline or platform says (web form, monitoring)."""
    if transport == "kafka":
        return "kafka"
    if transport == "open311":
        return "open311"
    if client.kind == "hotline":
        return "web" if requested == "web" else "hotline"
    if client.kind == "platform":
        return "monitoring" if requested == "monitoring" else "platform"
    return "bureau"


# -- parsing raw input -----------------------------------------------------------------

def parse_complaint(raw: Any, prefix: str = "") -> SubmitComplaint:
    """A complaint command from decoded JSON (or JSON text/bytes); `IntakeValidationError` otherwise."""
    return _parse(SubmitComplaint, raw, prefix)


def parse_lead(raw: Any, prefix: str = "") -> SubmitLead:
    return _parse(SubmitLead, raw, prefix)


def _parse(model: type[BaseModel], raw: Any, prefix: str) -> Any:
    try:
        if isinstance(raw, (str, bytes, bytearray)):
            return model.model_validate_json(raw)
        return model.model_validate(raw)
    except ValidationError as exc:
        raise from_pydantic(exc, prefix) from None
    except (ValueError, TypeError, RecursionError) as exc:  # e.g. a nesting depth the JSON parser refuses
        raise IntakeValidationError([FieldError(prefix or "body", "invalid", f"not a valid document ({type(exc).__name__})")]) from None


def validate_complaint_payload(raw: Any, *, client: ClientContext, transport: Transport, now: datetime) -> Report:
    """Parse and validate in one step (what the property test exercises)."""
    cmd = parse_complaint(raw)
    return validate_complaint(cmd, client=client, channel=channel_for(client, transport, cmd.channel), now=now)


def validate_lead_payload(raw: Any, *, client: ClientContext, transport: Transport, now: datetime) -> Report:
    cmd = parse_lead(raw)
    return validate_lead(cmd, client=client, channel=channel_for(client, transport, cmd.channel), now=now)


# -- the rules -------------------------------------------------------------------------

def validate_complaint(cmd: SubmitComplaint, *, client: ClientContext, channel: Channel, now: datetime) -> Report:
    """A complaint (投诉) or report (举报). A complaint names who complains (name and
    mobile number) so the bureau can answer; a report may be anonymous."""
    errors: list[FieldError] = []
    source_id = _source_id(cmd.source_id, errors)
    category = _category(cmd.category, errors)
    county = _county(cmd.county, errors)
    description = clean(cmd.description, "description", errors, max_len=MAX_DESCRIPTION, multiline=True, required=True)
    suspect, merge_key = _suspect(cmd.suspect, county, client, errors)
    complainant = _complainant(cmd.complainant, cmd.kind == "complaint", now, errors)
    figures = _figures(cmd.figures)
    if (bad := conduct_error(cmd.figures)) is not None:
        errors.append(bad)
    today = local_today(now)
    if cmd.occurred_on is not None and cmd.occurred_on > today:
        errors.append(FieldError("occurred_on", "in_future", f"after today ({today.isoformat()}, Asia/Shanghai)"))
    if errors:
        raise IntakeValidationError(errors)
    assert category and county and description is not None and suspect and merge_key
    origin: Origin = "report" if cmd.kind == "report" else "complaint"
    summary = _summary(description, complainant)
    return Report(
        origin=origin, channel=channel, client_id=client.client_id, source_id=source_id, category=category,
        county=county, suspect=suspect, merge_key=merge_key, summary=summary, figures=figures,
        complainant=complainant, occurred_on=cmd.occurred_on, original_description=_original(description, summary),
    )


def validate_lead(cmd: SubmitLead, *, client: ClientContext, channel: Channel, now: datetime) -> Report:
    """A lead from a platform, monitoring system or bureau (no personal data about a complainant)."""
    errors: list[FieldError] = []
    source_id = _source_id(cmd.source_id, errors, required=True)
    category = _category(cmd.category, errors)
    county = _county(cmd.county, errors)
    description = clean(cmd.description, "description", errors, max_len=MAX_DESCRIPTION, multiline=True) or ""
    suspect, merge_key = _suspect(cmd.suspect, county, client, errors)
    figures = _figures(cmd.figures)
    if (bad := conduct_error(cmd.figures)) is not None:
        errors.append(bad)
    evidence = tuple(u for i, raw in enumerate(cmd.evidence_urls) if (u := _url(raw, f"evidence_urls.{i}", errors)))
    observed_at = cmd.observed_at
    if observed_at is not None:
        try:
            if observed_at > now + CLOCK_SKEW:
                errors.append(FieldError("observed_at", "in_future", "later than now"))
            elif observed_at < EARLIEST:
                errors.append(FieldError("observed_at", "too_old", "before 2000-01-01"))
            else:
                observed_at = observed_at.astimezone(timezone.utc)
        except OverflowError:
            errors.append(FieldError("observed_at", "out_of_range", "not a representable time"))
    if errors:
        raise IntakeValidationError(errors)
    assert category and county and suspect and merge_key and source_id
    summary = _summary(description)
    return Report(
        origin="lead", channel=channel, client_id=client.client_id, source_id=source_id, category=category,
        county=county, suspect=suspect, merge_key=merge_key, summary=summary, figures=figures,
        observed_at=observed_at, evidence_urls=evidence, original_description=_original(description, summary),
    )


def _original(description: str, summary: str) -> str | None:
    """The description to keep sealed: only when what may be read (the summary) is not all of it."""
    return description if description and description != summary else None


def _summary(description: str, complainant: Complainant | None = None) -> str:
    """What may be read of a description: personal numbers masked, and the complainant's own name."""
    text = redact(description, names=(complainant.name,) if complainant is not None else ())
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…"


def _source_id(value: str | None, errors: list[FieldError], *, required: bool = False) -> str | None:
    text = clean(value, "source_id", errors, max_len=128, required=required)
    if text is not None and any(ch.isspace() for ch in text):
        errors.append(FieldError("source_id", "bad_source_id", "must not contain spaces"))
        return None
    return text


def _category(value: str, errors: list[FieldError]) -> str | None:
    text = clean(value, "category", errors, max_len=64, required=True)
    if text is None:
        return None
    table = load_categories()
    wanted = text.casefold()
    for c in table.categories:
        if c.id == wanted or c.name_zh == text:
            return c.id
    errors.append(FieldError("category", "unknown_category",
                             f"unknown category {text[:64]!r}; GET /open311/v2/services.json lists the ids"))
    return None


def _county(value: str, errors: list[FieldError]) -> str | None:
    text = clean(value, "county", errors, max_len=16, required=True)
    if text is None:
        return None
    try:
        return resolve_county(text).code
    except UnknownCode as exc:
        errors.append(FieldError("county", exc.reason, exc.message))
        return None


def _identifier(parse: Any, value: str | None, field: str, errors: list[FieldError], **kwargs: Any) -> str | None:
    if value is None:
        return None
    try:
        return parse(value, **kwargs)
    except IdentifierError as exc:
        errors.append(FieldError(field, exc.reason, exc.message.replace(f"{exc.field}: ", "", 1)))
        return None


def _url(value: str | None, field: str, errors: list[FieldError]) -> str | None:
    text = clean(value, field, errors, max_len=2048)
    if text is None:
        return None
    try:
        parts = urlsplit(text)
        host = parts.hostname
        _ = parts.port  # a malformed port raises ValueError
        scheme = parts.scheme
    except ValueError:
        host, scheme = None, ""
    if scheme not in ("http", "https") or not host or len(text.split(None, 1)) > 1:  # (text is stripped)
        errors.append(FieldError(field, "bad_url", "must be an http(s) URL with a host"))
        return None
    return text


def _listing(value: str | None, errors: list[FieldError]) -> str | None:
    """The listing as host + path (lower-case host, no query, fragment, port or trailing slash)."""
    url = _url(value, "suspect.listing_url", errors)
    if url is None:
        return None
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    return host + parts.path.rstrip("/")


def _suspect(s: SuspectInput, county: str | None, client: ClientContext,
             errors: list[FieldError]) -> tuple[Suspect | None, str | None]:
    n = len(errors)
    credit = _identifier(parse_uscc, s.credit_code, "suspect.credit_code", errors)
    name = clean(s.name, "suspect.name", errors, max_len=200)
    platform = clean(s.platform, "suspect.platform", errors, max_len=64)
    if platform is not None:
        platform = platform.lower()
        if not all(ch.isascii() and (ch.isalnum() or ch in "._-") for ch in platform):
            errors.append(FieldError("suspect.platform", "bad_platform", "letters, digits, '.', '_' and '-' only"))
            platform = None
    shop_id = clean(s.shop_id, "suspect.shop_id", errors, max_len=128)
    if shop_id is not None and len(shop_id.split(None, 1)) > 1:  # any whitespace inside (it is stripped)
        errors.append(FieldError("suspect.shop_id", "bad_shop_id", "must not contain spaces"))
        shop_id = None
    listing = _listing(s.listing_url, errors)
    address = clean(s.address, "suspect.address", errors, max_len=500)
    if shop_id is not None and platform is None and not s.platform:
        if client.kind == "platform":
            platform = client.client_id
        else:
            errors.append(FieldError("suspect.platform", "missing", "required with shop_id (unless a platform submits it)"))
    if len(errors) > n:
        return None, None
    key: str | None = None
    if credit:
        key = f"uscc:{credit}"
    elif name:
        folded = name_key(name)
        if not folded:
            errors.append(FieldError("suspect.name", "empty", "has no letters or digits"))
            return None, None
        if county is None:
            return None, None  # the county error is reported already
        key = f"name:{folded}@{county}"
    elif shop_id and platform:
        key = f"shop:{platform}/{shop_id}"
    elif listing:
        key = f"listing:{listing}"
    else:
        errors.append(FieldError("suspect", "missing_suspect",
                                 "name at least one of credit_code, name, shop_id (with platform) or listing_url"))
        return None, None
    return Suspect(credit_code=credit, name=name, platform=platform, shop_id=shop_id, listing=listing, address=address), key


def _complainant(c: ComplainantInput | None, required: bool, now: datetime, errors: list[FieldError]) -> Complainant | None:
    if c is None:
        if required:
            errors.append(FieldError("complainant", "missing", "a complaint names the complainant (name and phone); "
                                                               "use kind=report for an anonymous report"))
        return None
    name = clean(c.name, "complainant.name", errors, max_len=64)
    phone = _identifier(parse_phone, c.phone, "complainant.phone", errors)
    id_number = _identifier(parse_resident_id, c.id_number, "complainant.id_number", errors, today=local_today(now))
    if required:
        if c.name is None or (name is None and not any(e.field == "complainant.name" for e in errors)):
            errors.append(FieldError("complainant.name", "missing", "required for a complaint"))
        if c.phone is None:
            errors.append(FieldError("complainant.phone", "missing", "required for a complaint"))
    if name is None and phone is None and id_number is None:
        return None
    return Complainant(name=name, phone=phone, id_number=id_number)


def _figures(f: FiguresInput | None) -> dict[str, Decimal]:
    if f is None:
        return {}
    out: dict[str, Decimal] = {}
    for key in _MONEY_KEYS:
        value = getattr(f, key)
        if value is not None:
            out[key] = Decimal(value).quantize(_CENT)
    for key in _COUNT_KEYS:
        value = getattr(f, key)
        if value is not None:
            out[key] = Decimal(int(value))
    if f.conduct is not None:
        out[CONDUCT] = Decimal(f.conduct)
    return out


def conduct_error(f: FiguresInput | None) -> FieldError | None:
    """A conduct that names no threshold family of the reference data."""
    if f is None or f.conduct is None:
        return None
    conducts = load_thresholds().conducts
    if f.conduct in conducts:
        return None
    return FieldError("figures.conduct", "unknown_conduct", f"not a conduct article of the thresholds (one of {sorted(conducts)})")


def add_figures(a: Mapping[str, Decimal], b: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Running totals: the sum of each figure; the conduct is kept when the reports agree and becomes 0
    (unknown: every family of the category is evaluated) when they name different articles."""
    out = dict(a)
    for key, value in b.items():
        if key == CONDUCT:
            out[key] = value if out.get(key, value) == value else Decimal(0)
            continue
        out[key] = out.get(key, Decimal(0)) + value
    return out


def is_printable_key(text: str) -> bool:
    """An opaque token from a header (idempotency key …): visible ASCII only."""
    return 0 < len(text) <= 200 and all(33 <= ord(ch) <= 126 for ch in text)


__all__ = [
    "SHANGHAI", "Transport", "add_figures", "channel_for", "is_printable_key", "local_today", "parse_complaint",
    "parse_lead", "validate_complaint", "validate_complaint_payload", "validate_lead", "validate_lead_payload",
]


def checked_url(value: str, field: str) -> str:
    """One evidence link checked as a lead's are (Open311's ``media_url``)."""
    errors: list[FieldError] = []
    url = _url(value, field, errors)
    if errors or url is None:
        raise IntakeValidationError(errors or [FieldError(field, "missing", "required")])
    return url
