"""What the API accepts and returns (pydantic), kept apart from the storage tables on purpose.

The prediction inside a document is the dict ``partnership classify`` prints
(``classifier.pipeline.Prediction``), so one client parser reads both.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from classifier.taxonomy import International, Label, Role, StakeholderType

__all__ = [
    "AuditEventOut",
    "DocumentIn",
    "DocumentOut",
    "DocumentPage",
    "Health",
    "JobOut",
    "ModelOut",
    "ModelsOut",
    "QueueItem",
    "QueuePage",
    "ReviewIn",
    "ReviewOut",
    "StakeholderIn",
    "UserCreated",
    "UserIn",
    "UserOut",
]

Status = Literal["received", "predicted", "reviewed"]
RoleName = Literal["submitter", "reviewer", "admin"]


class DocumentIn(BaseModel):
    """A JSON submission: the text itself plus where it comes from."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="The document's text (plain text or Markdown).")
    name: str | None = Field(None, max_length=255, description="A title or file name to recognize it by.")
    city: str | None = Field(None, max_length=120)
    country: str | None = Field(None, max_length=120)
    submitter: str | None = Field(None, max_length=200, description="Who sent it (organization or person).")


class StakeholderIn(BaseModel):
    """A stakeholder as a reviewer corrects it (the extractor's ``name``/``type``/``role``; ``text`` is accepted
    for ``name``); offsets are optional, the page finds the name in the text."""

    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=300, validation_alias=AliasChoices("name", "text"))
    type: StakeholderType
    role: Role
    start: int | None = Field(None, ge=0)
    end: int | None = Field(None, ge=0)


class ReviewIn(BaseModel):
    """A reviewer's decision; ``version`` is the document version the reviewer saw (optimistic locking)."""

    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, description="The document's `version` when it was read; a stale one gets 409.")
    label: Label
    stakeholders: list[StakeholderIn] | None = Field(None, description="Corrected stakeholders (None: keep).")
    comment: str = Field("", max_length=5000)
    testbed: bool | None = Field(None, description="None: keep the predicted value.")
    international: International | None = Field(None, description="None: keep the predicted value.")


class ReviewOut(BaseModel):
    reviewer: str
    label: str
    comment: str
    created_at: str | None


class DocumentOut(BaseModel):
    """A stored document with its current label, status, lock version and current prediction."""

    id: int
    name: str
    format: str
    city: str | None
    country: str | None
    submitter: str | None
    status: Status
    label: str | None
    version: int
    created_at: str | None
    updated_at: str | None
    stakeholders: list[dict[str, Any]]
    testbed: bool | None
    international: str | None
    prediction: dict[str, Any] | None = Field(description="As `partnership classify` prints it.")
    review: ReviewOut | None = None
    text: str | None = None


class DocumentPage(BaseModel):
    items: list[DocumentOut]
    page: int
    page_size: int
    total: int


class QueueItem(BaseModel):
    id: int
    name: str
    city: str | None
    predicted_label: str | None
    confidence: float | None
    margin: float | None
    model_version: str | None
    version: int


class QueuePage(BaseModel):
    items: list[QueueItem]
    page: int
    page_size: int
    total: int


class AuditEventOut(BaseModel):
    id: int
    at: str | None
    actor: str
    action: str
    changes: dict[str, Any]
    prediction_id: int | None
    model_version: str | None
    comment: str


class ModelOut(BaseModel):
    version: str
    serving: bool
    loaded: bool
    test_macro_f1: float | None
    test_accuracy: float | None
    metrics: dict[str, Any]


class ModelsOut(BaseModel):
    serving: str | None
    loaded: str | None
    versions: list[ModelOut]
    history: list[dict[str, Any]]


class JobOut(BaseModel):
    id: int
    kind: str
    status: str
    result: dict[str, Any]
    error: str
    created_at: str | None
    started_at: str | None
    finished_at: str | None


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=80, pattern=r"^[\w.@-]+$")
    role: RoleName


class UserOut(BaseModel):
    id: int
    name: str
    role: str
    active: bool


class UserCreated(UserOut):
    token: str = Field(description="Shown once; only its hash is stored.")


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: str
    model_version: str | None
    extraction: bool
