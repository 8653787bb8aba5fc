"""Storage rows to API schemas (the only place that knows both shapes)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from api.schemas import AuditEventOut, DocumentOut, JobOut, QueueItem, ReviewOut, UserOut
from api.store import queries
from api.store.queries import as_utc
from api.store.tables import AuditEvent, Document, Job, User

__all__ = ["document_out", "event_out", "job_out", "queue_item", "user_out"]


def document_out(
    session: Session, document: Document, *, text: bool = False, prediction: dict[str, Any] | None = None
) -> DocumentOut:
    if prediction is None:
        stored = queries.get_prediction(session, document.prediction_id)
        prediction = stored.payload if stored else None
    review = queries.latest_review(session, document.id) if document.status == "reviewed" else None
    reviewer = session.get(User, review.reviewer_id) if review else None
    return DocumentOut(
        id=document.id,
        name=document.name,
        format=document.format,
        city=document.city,
        country=document.country,
        submitter=document.submitter,
        status=document.status,
        label=document.label,
        version=document.version,
        created_at=as_utc(document.created_at),
        updated_at=as_utc(document.updated_at),
        stakeholders=document.stakeholders or [],
        testbed=document.testbed,
        international=document.international,
        prediction=prediction,
        review=ReviewOut(
            reviewer=reviewer.name if reviewer else "?",
            label=review.label,
            comment=review.comment,
            created_at=as_utc(review.created_at),
        )
        if review
        else None,
        text=document.text if text else None,
    )


def queue_item(session: Session, document: Document) -> QueueItem:
    prediction = queries.get_prediction(session, document.prediction_id)
    return QueueItem(
        id=document.id,
        name=document.name,
        city=document.city,
        predicted_label=document.predicted_label,
        confidence=prediction.confidence if prediction else None,
        margin=document.margin,
        model_version=document.model_version,
        version=document.version,
    )


def event_out(event: AuditEvent) -> AuditEventOut:
    return AuditEventOut(
        id=event.id,
        at=as_utc(event.created_at),
        actor=event.actor,
        action=event.action,
        changes=event.changes or {},
        prediction_id=event.prediction_id,
        model_version=event.model_version,
        comment=event.comment or "",
    )


def job_out(job: Job) -> JobOut:
    return JobOut(
        id=job.id,
        kind=job.kind,
        status=job.status,
        result=job.result or {},
        error=job.error or "",
        created_at=as_utc(job.created_at),
        started_at=as_utc(job.started_at),
        finished_at=as_utc(job.finished_at),
    )


def user_out(user: User) -> UserOut:
    return UserOut(id=user.id, name=user.name, role=user.role, active=user.active)
