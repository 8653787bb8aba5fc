"""The service's tables (SQLAlchemy 2 declarative); Alembic migrations in ``migrations/`` mirror them.

Documents keep a copy of their current prediction's headline fields (label,
margin, model version) so that the review queue is one indexed query; the full
prediction stays in ``predictions`` and every change is an ``audit_events`` row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "BATCH_STATUSES",
    "FINISHED_BATCH_STATUSES",
    "AuditEvent",
    "Base",
    "Batch",
    "Document",
    "Job",
    "Prediction",
    "Review",
    "STATUSES",
    "User",
    "utcnow",
]

STATUSES = ("received", "predicted", "reviewed")
BATCH_STATUSES = ("queued", "running", "done", "failed", "cancelled")
FINISHED_BATCH_STATUSES = ("done", "failed", "cancelled")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints alike on every database."""

    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


Base.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class User(Base):
    """An account; only the sha256 of its API token is stored."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Document(Base):
    """A submitted document, its current label and status, and the lock ``version`` reviewers send back."""

    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(String(120), index=True)
    country: Mapped[str | None] = mapped_column(String(120))
    submitter: Mapped[str | None] = mapped_column(String(200))
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), index=True, default="received")
    label: Mapped[str | None] = mapped_column(String(1), index=True)
    predicted_label: Mapped[str | None] = mapped_column(String(1))
    margin: Mapped[float | None] = mapped_column(Float)
    model_version: Mapped[str | None] = mapped_column(String(80))
    prediction_id: Mapped[int | None] = mapped_column(Integer)  # the current one; no FK: predictions point back
    stakeholders: Mapped[list[Any]] = mapped_column(JSON, default=list)
    testbed: Mapped[bool | None] = mapped_column(Boolean)
    international: Mapped[str | None] = mapped_column(String(10))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set for documents that came in a batch upload: the batch and the document's id inside it, unique
    # together so that a batch resumed after a crash can never store a document twice.
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
    batch_key: Mapped[str | None] = mapped_column(String(600))

    __table_args__ = (
        Index("ix_documents_queue", "status", "margin"),
        UniqueConstraint("batch_id", "batch_key", name="uq_documents_batch_key"),
    )


class Batch(Base):
    """An uploaded ZIP, CSV or JSONL classified in the background; its folder holds the upload and the journals."""

    __tablename__ = "batches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(12), index=True, default="queued")
    filename: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(8))  # zip, csv or jsonl
    folder: Mapped[str] = mapped_column(String(255))  # relative to settings.batches_dir
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    city: Mapped[str | None] = mapped_column(String(120))
    country: Mapped[str | None] = mapped_column(String(120))
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    model_version: Mapped[str | None] = mapped_column(String(80))
    total: Mapped[int | None] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer, default=0)
    predicted: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    docs_per_second: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When retention (settings.batch_retention_days) removed the batch's folder: downloads then answer 410.
    files_expired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Prediction(Base):
    """One model's prediction for a document, stored as ``partnership classify`` prints it."""

    __tablename__ = "predictions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    model_version: Mapped[str] = mapped_column(String(80))
    label: Mapped[str] = mapped_column(String(1))
    confidence: Mapped[float] = mapped_column(Float)
    margin: Mapped[float] = mapped_column(Float)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    explained: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Review(Base):
    """A reviewer's decision; the accepted ones (the latest per document) become training data."""

    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    prediction_id: Mapped[int | None] = mapped_column(ForeignKey("predictions.id"))
    label: Mapped[str] = mapped_column(String(1))
    stakeholders: Mapped[list[Any]] = mapped_column(JSON, default=list)
    testbed: Mapped[bool | None] = mapped_column(Boolean)
    international: Mapped[str | None] = mapped_column(String(10))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEvent(Base):
    """Who changed what, when, against which model prediction: append-only."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(32))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prediction_id: Mapped[int | None] = mapped_column(ForeignKey("predictions.id"))
    model_version: Mapped[str | None] = mapped_column(String(80))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Job(Base):
    """A background job (retraining): its state, and the comparison it recorded."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), default="queued")
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
