"""Wire contracts: the pydantic payload models of every event and command,
one module per topic family, each registered with the topic it travels on.

    @contract(topic=CASE_INTAKE.name, kind="event")
    class CaseOpened(EventModel):
        EVENT_TYPE: ClassVar[str] = "shuangda.case.opened.v1"

Types are versioned (`…v1`) and never renamed; a breaking change is a new
type. `catalogue()` imports every module of this package and returns the
registry, from which `shared.contracts.asyncapi` generates the published
AsyncAPI document and JSON Schemas.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

M = TypeVar("M", bound=type[BaseModel])


class EventModel(BaseModel):
    """Base of event payloads (what happened): unknown fields are kept out of the model but tolerated."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    EVENT_TYPE: ClassVar[str]


class CommandModel(BaseModel):
    """Base of commands from outside (what is asked for): unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
    EVENT_TYPE: ClassVar[str]


@dataclass(frozen=True)
class Contract:
    type: str
    model: type[BaseModel]
    topic: str  # a topic name, or a family like "ingress.<client>"
    kind: Literal["event", "command"]
    key: str
    summary: str


_REGISTRY: dict[str, Contract] = {}


def contract(*, topic: str, key: str, kind: Literal["event", "command"] = "event") -> Callable[[M], M]:
    def register(model: M) -> M:
        etype = getattr(model, "EVENT_TYPE", None)
        if not etype:
            raise TypeError(f"{model.__name__} has no EVENT_TYPE")
        existing = _REGISTRY.get(etype)
        if existing is not None and existing.model is not model:
            raise TypeError(f"event type {etype} registered twice ({existing.model.__name__}, {model.__name__})")
        summary = (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else ""
        _REGISTRY[etype] = Contract(etype, model, topic, kind, key, summary)
        return model

    return register


def catalogue() -> dict[str, Contract]:
    """Every registered contract (imports all modules of this package first)."""
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_") and info.name != "asyncapi":
            importlib.import_module(f"{__name__}.{info.name}")
    return dict(sorted(_REGISTRY.items()))
