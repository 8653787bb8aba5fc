"""What the API accepts and returns (pydantic), kept apart from the storage tables on purpose.

The prediction inside a document is the dict ``partnership classify`` prints
(``classifier.pipeline.Prediction``), so one client parser reads both.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from classifier.taxonomy import International, Label, Role, StakeholderType

__all__ = [
    "AuditEventOut",
    "BatchOut",
    "BatchPage",
    "DocumentIn",
    "DocumentOut",
    "DocumentPage",
    "ERROR_RESPONSES",
    "ErrorOut",
    "Health",
    "JobOut",
    "LLMOpinionOut",
    "ModelOut",
    "ModelsOut",
    "QueueItem",
    "QueuePage",
    "ReviewIn",
    "ReviewOut",
    "RowId",
    "StakeholderIn",
    "UserCreated",
    "UserIn",
    "UserOut",
    "errors",
]

Status = Literal["received", "predicted", "reviewed"]
RoleName = Literal["submitter", "reviewer", "admin"]
# A database id in a path or body. Ids are INTEGER columns and PostgreSQL's int4 is the narrowest store (SQLite
# takes 64 bits): a larger id would overflow the driver (a 500), so it is a 422.
RowId = Annotated[int, Field(ge=1, le=2**31 - 1)]


class DocumentIn(BaseModel):
    """A JSON submission: the text itself plus where it comes from."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(  # blank text is refused by the route with "empty text"; the schema says so too
        description="The document's text (plain text or Markdown).",
        json_schema_extra={"minLength": 1, "pattern": r"\S"},
    )
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
    version: int = Field(
        ge=1, le=2**31 - 1, description="The document's `version` when it was read; a stale one gets 409."
    )
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


class LLMOpinionOut(BaseModel):
    """The LLM's advice beside the classifier's prediction; never a label until a reviewer accepts it."""

    model_config = ConfigDict(extra="ignore")
    label: Literal["A", "B", "C", "D", "E", "unknown"] = Field(description='"unknown" when the LLM gave no answer.')
    rationale: str = ""
    backend: str = Field(description="Versioned backend name, e.g. local.v1 or openai.v1.")
    model: str
    agrees_with_classifier: bool | None = Field(None, description="None when the LLM gave no answer.")
    classifier_label: str | None = Field(None, description="The prediction's label it was compared with.")
    method: str | None = Field(None, description="generate (JSON answer) or score (letter log-probabilities).")
    probabilities: dict[str, float] | None = None
    latency_ms: int
    error: str | None = Field(None, description="Why the label is unknown or the rationale missing.")
    asked_by: str | None = Field(None, description="The reviewer who asked, or 'background'.")
    asked_at: str | None = None


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
    llm_opinion: LLMOpinionOut | None = Field(
        None, description="The LLM's second opinion on the current prediction, when one was asked (advice only)."
    )


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


class BatchOut(BaseModel):
    """A batch upload and its progress; ``links`` are its downloads (CSV and reports once it is done, none once
    its files expired)."""

    id: int
    status: Literal["queued", "running", "done", "failed", "cancelled"] = Field(
        description="cancelled: stopped by POST /batches/{id}/cancel; what it classified stays in the review queue."
    )
    filename: str
    kind: Literal["zip", "csv", "jsonl"]
    size_bytes: int
    city: str | None = Field(description="Default city for documents that do not name one.")
    country: str | None = Field(description="Default country for documents that do not name one.")
    model_version: str | None = Field(description="The version classifying it, fixed when it starts.")
    total: int | None = Field(description="Items in the upload (documents and unreadable entries); null until read.")
    done: int = Field(description="Items classified or reported as errors so far.")
    predicted: int
    errors: int
    docs_per_second: float | None = Field(description="Items per second in the current (or last) run.")
    attempts: int = Field(description="Runs so far: more than one when a restart interrupted it.")
    error: str
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    files_expired_at: str | None = Field(
        None, description="When retention removed its upload and outputs (downloads then answer 410)."
    )
    links: dict[str, str]


class BatchPage(BaseModel):
    items: list[BatchOut]
    page: int
    page_size: int
    total: int


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: str
    model_version: str | None
    extraction: bool


class ErrorOut(BaseModel):
    """Every error answer: ``detail`` is a message, FastAPI's list of validation errors, or an object (409)."""

    detail: str | list[Any] | dict[str, Any]


_ERROR_TEXT = {
    400: "Malformed request body",
    401: "Missing or unknown API token (header `WWW-Authenticate: Bearer`)",
    403: "The token's role may not do this",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Request body larger than the limit",
    415: "Unsupported media type",
    422: "Invalid input: what is wrong is in `detail`",
    429: "Rate limit exceeded: retry after `Retry-After` seconds",
}
# Declared on every operation (routes add their own descriptions); one schema for all error answers.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text} for code, text in _ERROR_TEXT.items()
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses=`` entries for these error codes, all with the ``ErrorOut`` schema."""
    return {code: ERROR_RESPONSES[code] for code in codes}
