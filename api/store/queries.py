"""Every read and write the service makes, as functions over a session (routes stay thin, SQL stays here).

Writes that belong together happen in the caller's one transaction
(``Database.session()``), so a failure leaves nothing half-stored; the review
write is a conditional ``UPDATE ... WHERE version = :sent`` so that two
reviewers never overwrite each other silently.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from api.store.tables import (
    FINISHED_BATCH_STATUSES,
    AuditEvent,
    Batch,
    Document,
    Job,
    Prediction,
    Review,
    User,
    utcnow,
)

__all__ = [
    "ROLES",
    "BatchConflict",
    "Conflict",
    "NotFound",
    "TrainingExample",
    "accepted_reviews",
    "add_batch_documents",
    "attach_batch_predictions",
    "add_document",
    "as_utc",
    "batch_documents_without_prediction",
    "batch_keys",
    "cancel_batch",
    "counts_by",
    "create_batch",
    "create_job",
    "create_user",
    "delete_batch",
    "document_named",
    "expirable_batches",
    "fail_interrupted_jobs",
    "finish_job",
    "get_batch",
    "get_document",
    "get_job",
    "get_prediction",
    "hash_token",
    "history",
    "latest_review",
    "list_batches",
    "list_documents",
    "list_jobs",
    "list_users",
    "margin_of",
    "predictions_after",
    "queue_size",
    "received_documents",
    "record_event",
    "review_document",
    "review_queue",
    "rotate_token",
    "save_llm_opinion",
    "save_prediction",
    "set_evidence",
    "start_job",
    "unfinished_batches",
    "update_batch",
    "user_by_token",
    "user_named",
]

ROLES = ("submitter", "reviewer", "admin")


class NotFound(LookupError):
    """No such document, job or user."""


class BatchConflict(RuntimeError):
    """The batch is in a state that does not allow this (cancel a finished one, delete a running one)."""


class Conflict(RuntimeError):
    """The document changed since the client read it (its version moved on)."""

    def __init__(self, message: str, current_version: int) -> None:
        super().__init__(message)
        self.current_version = current_version


def hash_token(token: str) -> str:
    """The stored form of an API token: its sha256 (the token itself is shown once and never kept)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_user(session: Session, name: str, role: str) -> tuple[User, str]:
    """A new account and its token (32 random bytes, URL-safe)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise ValueError(f"a user called {name!r} already exists")
    token = secrets.token_urlsafe(32)
    user = User(name=name, role=role, token_hash=hash_token(token), active=True, created_at=utcnow())
    session.add(user)
    session.flush()
    return user, token


def rotate_token(session: Session, name: str, role: str) -> str:
    """A new token for ``name`` (created with ``role`` if missing); the old token stops working."""
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        return create_user(session, name, role)[1]
    token = secrets.token_urlsafe(32)
    user.token_hash, user.role, user.active = hash_token(token), role, True
    return token


def document_named(session: Session, name: str, submitter: str) -> Document | None:
    query = select(Document).where(Document.name == name, Document.submitter == submitter).limit(1)
    return session.scalar(query)


def user_named(session: Session, name: str) -> User | None:
    return session.scalar(select(User).where(User.name == name))


def user_by_token(session: Session, token: str) -> User | None:
    if not token:
        return None
    return session.scalar(select(User).where(User.token_hash == hash_token(token), User.active.is_(True)))


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))


def _event(
    session: Session,
    actor: User | None,
    action: str,
    *,
    document_id: int | None = None,
    changes: dict[str, Any] | None = None,
    prediction_id: int | None = None,
    model_version: str | None = None,
    comment: str = "",
) -> AuditEvent:
    event = AuditEvent(
        document_id=document_id,
        actor_id=actor.id if actor else None,
        actor=actor.name if actor else "system",
        action=action,
        changes=changes or {},
        prediction_id=prediction_id,
        model_version=model_version,
        comment=comment,
        created_at=utcnow(),
    )
    session.add(event)
    return event


def record_event(
    session: Session, actor: User | None, action: str, changes: dict[str, Any], model_version: str | None = None
) -> None:
    """An audit row that concerns no document: promotions, rollbacks, retraining, new users."""
    _event(session, actor, action, changes=changes, model_version=model_version)


def add_document(
    session: Session,
    *,
    name: str,
    fmt: str,
    text: str,
    city: str | None,
    country: str | None,
    submitter: str | None,
    user: User,
) -> Document:
    """Store a submission (status ``received``) and its audit row."""
    now = utcnow()
    document = Document(
        name=name,
        format=fmt,
        text=text,
        city=city or None,
        country=country or None,
        submitter=submitter or None,
        submitted_by=user.id,
        status="received",
        stakeholders=[],
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(document)
    session.flush()
    _event(
        session,
        user,
        "submitted",
        document_id=document.id,
        changes={"name": name, "city": city, "country": country, "submitter": submitter, "chars": len(text)},
    )
    return document


def margin_of(probabilities: dict[str, float]) -> float:
    """Top probability minus the runner-up: small means the model hesitates between two models."""
    top = sorted(probabilities.values(), reverse=True) + [0.0, 0.0]
    return round(top[0] - top[1], 6)


def _prediction_values(
    document_id: int, payload: dict[str, Any], margin: float, explained: bool, now: datetime
) -> dict:
    """The columns of a stored prediction (one place for the single and the bulk path)."""
    return {
        "document_id": document_id,
        "model_version": payload["model_version"],
        "label": payload["label"],
        "confidence": payload["confidence"],
        "margin": margin,
        "payload": payload,
        "explained": explained,
        "created_at": now,
    }


def _document_values(payload: dict[str, Any], margin: float, prediction_id: int, now: datetime, reviewed: bool) -> dict:
    """What a new prediction sets on its document; a reviewed document keeps its label, stakeholders and aspects."""
    values = {
        "prediction_id": prediction_id,
        "predicted_label": payload["label"],
        "margin": margin,
        "model_version": payload["model_version"],
        "updated_at": now,
    }
    if not reviewed:
        values |= {
            "status": "predicted",
            "label": payload["label"],
            "stakeholders": payload.get("stakeholders") or [],
            "testbed": payload.get("testbed"),
            "international": payload.get("international"),
        }
    return values


def _classified_changes(payload: dict[str, Any], margin: float) -> dict[str, Any]:
    return {"label": payload["label"], "confidence": payload["confidence"], "margin": margin}


def save_prediction(session: Session, document_id: int, payload: dict[str, Any], *, explained: bool) -> Prediction:
    """Store a model's prediction and make it the document's current one (a reviewed label is kept)."""
    document = session.get(Document, document_id)
    if document is None:
        raise NotFound(f"no document {document_id}")
    margin = margin_of(payload["probabilities"])
    prediction = Prediction(**_prediction_values(document_id, payload, margin, explained, utcnow()))
    session.add(prediction)
    session.flush()
    values = _document_values(payload, margin, prediction.id, utcnow(), document.status == "reviewed")
    for name, value in values.items():
        setattr(document, name, value)
    _event(
        session,
        None,
        "classified",
        document_id=document_id,
        changes=_classified_changes(payload, margin),
        prediction_id=prediction.id,
        model_version=prediction.model_version,
    )
    return prediction


def set_evidence(session: Session, prediction_id: int, evidence: list[dict[str, Any]]) -> None:
    """Fill in the evidence sentences of a stored prediction (computed later than the label, see settings)."""
    prediction = session.get(Prediction, prediction_id)
    if prediction is None:
        raise NotFound(f"no prediction {prediction_id}")
    prediction.payload = dict(prediction.payload, evidence=evidence)
    prediction.explained = True


def get_document(session: Session, document_id: int) -> Document:
    document = session.get(Document, document_id)
    if document is None:
        raise NotFound(f"no document {document_id}")
    return document


def get_prediction(session: Session, prediction_id: int | None) -> Prediction | None:
    return session.get(Prediction, prediction_id) if prediction_id else None


def _page(query, page: int, page_size: int):
    return query.limit(page_size).offset(max(page - 1, 0) * page_size)


def list_documents(
    session: Session,
    *,
    city: str | None = None,
    label: str | None = None,
    status: str | None = None,
    page: int = 1,
    page_size: int = 20,
) -> tuple[list[Document], int]:
    """Newest first, filtered; returns one page and the total count."""
    where = []
    if city:
        where.append(func.lower(Document.city) == city.lower())
    if label:
        where.append(Document.label == label)
    if status:
        where.append(Document.status == status)
    total = session.scalar(select(func.count(Document.id)).where(*where)) or 0
    rows = session.scalars(_page(select(Document).where(*where).order_by(Document.id.desc()), page, page_size))
    return list(rows), total


def review_queue(
    session: Session,
    *,
    city: str | None = None,
    label: str | None = None,
    model: str | None = None,
    batch: int | None = None,
    page: int = 1,
    page_size: int = 20,
) -> tuple[list[Document], int]:
    """Predicted, unreviewed documents, the most uncertain (smallest top-two margin) first."""
    where = [Document.status == "predicted"]
    if batch is not None:
        where.append(Document.batch_id == batch)
    if city:
        where.append(func.lower(Document.city) == city.lower())
    if label:
        where.append(Document.predicted_label == label)
    if model:
        where.append(Document.model_version == model)
    total = session.scalar(select(func.count(Document.id)).where(*where)) or 0
    query = select(Document).where(*where).order_by(Document.margin.asc(), Document.id.asc())
    return list(session.scalars(_page(query, page, page_size))), total


def queue_size(session: Session) -> int:
    return session.scalar(select(func.count(Document.id)).where(Document.status == "predicted")) or 0


def review_document(
    session: Session,
    document_id: int,
    reviewer: User,
    *,
    version: int,
    label: str,
    stakeholders: list[dict[str, Any]] | None,
    comment: str,
    testbed: bool | None = None,
    international: str | None = None,
) -> Document:
    """Record a review if the document is still at ``version``; otherwise raise :class:`Conflict`."""
    document = get_document(session, document_id)
    if document.prediction_id is None:
        raise Conflict("the document has no prediction to review yet", document.version)
    before = {
        "label": document.label,
        "status": document.status,
        "stakeholders": document.stakeholders or [],
        "testbed": document.testbed,
        "international": document.international,
    }
    after = {
        "label": label,
        "status": "reviewed",
        "stakeholders": before["stakeholders"] if stakeholders is None else stakeholders,
        "testbed": before["testbed"] if testbed is None else testbed,
        "international": before["international"] if international is None else international,
    }
    now = utcnow()
    result = session.execute(
        update(Document)
        .where(Document.id == document_id, Document.version == version)
        .values(**after, version=Document.version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # the caller's transaction rolls back on the exception
        current = session.scalar(select(Document.version).where(Document.id == document_id))
        raise Conflict(
            f"document {document_id} was changed by someone else (version {current}, you sent {version}); "
            "reload it and review again",
            current or 0,
        )
    prediction = session.get(Prediction, document.prediction_id)
    review = Review(
        document_id=document_id,
        reviewer_id=reviewer.id,
        prediction_id=document.prediction_id,
        label=label,
        stakeholders=after["stakeholders"],
        testbed=after["testbed"],
        international=after["international"],
        comment=comment,
        created_at=now,
    )
    session.add(review)
    changes = {key: {"from": before[key], "to": after[key]} for key in after if before[key] != after[key]}
    changes["prediction"] = {"label": prediction.label, "confidence": prediction.confidence} if prediction else None
    changes["agrees_with_model"] = bool(prediction and prediction.label == label)
    _event(
        session,
        reviewer,
        "reviewed",
        document_id=document_id,
        changes=changes,
        prediction_id=document.prediction_id,
        model_version=prediction.model_version if prediction else None,
        comment=comment,
    )
    session.flush()
    session.refresh(document)
    return document


def history(session: Session, document_id: int) -> list[AuditEvent]:
    get_document(session, document_id)
    query = select(AuditEvent).where(AuditEvent.document_id == document_id).order_by(AuditEvent.id)
    return list(session.scalars(query))


def latest_review(session: Session, document_id: int) -> Review | None:
    query = select(Review).where(Review.document_id == document_id).order_by(Review.id.desc()).limit(1)
    return session.scalar(query)


@dataclass(frozen=True)
class TrainingExample:
    """A reviewed document as training data: the reviewer's label, never the model's."""

    document_id: int
    text: str
    label: str
    testbed: bool | None
    international: str | None
    city: str | None
    country: str | None


def accepted_reviews(session: Session) -> list[TrainingExample]:
    """The latest review of every reviewed document."""
    latest = select(Review.document_id, func.max(Review.id).label("review_id")).group_by(Review.document_id).subquery()
    query = (
        select(Document, Review)
        .join(latest, latest.c.document_id == Document.id)
        .join(Review, Review.id == latest.c.review_id)
        .where(Document.status == "reviewed")
        .order_by(Document.id)
    )
    return [
        TrainingExample(doc.id, doc.text, review.label, review.testbed, review.international, doc.city, doc.country)
        for doc, review in session.execute(query)
    ]


def counts_by(session: Session, column: str) -> list[tuple[str, int]]:
    """Document counts grouped by ``status``, ``label`` or ``city``, largest first."""
    col = {"status": Document.status, "label": Document.label, "city": Document.city}[column]
    rows = session.execute(select(col, func.count(Document.id)).group_by(col).order_by(func.count(Document.id).desc()))
    return [(value if value is not None else "(none)", count) for value, count in rows]


def create_job(session: Session, kind: str, user: User | None) -> Job:
    job = Job(kind=kind, status="queued", requested_by=user.id if user else None, result={}, created_at=utcnow())
    session.add(job)
    session.flush()
    return job


def start_job(session: Session, job_id: int) -> None:
    job = session.get(Job, job_id)
    job.status, job.started_at = "running", utcnow()


def finish_job(session: Session, job_id: int, *, result: dict[str, Any] | None = None, error: str = "") -> Job:
    job = session.get(Job, job_id)
    job.status = "failed" if error else "succeeded"
    job.result, job.error, job.finished_at = result or {}, error, utcnow()
    return job


def fail_interrupted_jobs(session: Session, kind: str, reason: str) -> list[Job]:
    """Mark the ``kind`` jobs still queued or running as failed with ``reason`` (at startup: their thread died)."""
    jobs = list(session.scalars(select(Job).where(Job.kind == kind, Job.status.in_(("queued", "running")))))
    now = utcnow()
    for job in jobs:
        job.status, job.error, job.finished_at = "failed", reason, now
        _event(session, None, "job_interrupted", changes={"job": job.id, "kind": kind, "reason": reason})
    return jobs


def get_job(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job


def list_jobs(session: Session, kind: str | None = None, limit: int = 20) -> list[Job]:
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if kind:
        query = query.where(Job.kind == kind)
    return list(session.scalars(query))


def as_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC whatever the backend returned (SQLite drops the zone)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.isoformat(timespec="seconds") + "Z"
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


# ---- batches (POST /batches) ------------------------------------------------------------------------


def create_batch(
    session: Session,
    *,
    filename: str,
    kind: str,
    folder: str,
    size_bytes: int,
    city: str | None,
    country: str | None,
    user: User,
) -> Batch:
    """A queued batch row and its audit event."""
    batch = Batch(
        status="queued",
        filename=filename,
        kind=kind,
        folder=folder,
        size_bytes=size_bytes,
        city=city or None,
        country=country or None,
        submitted_by=user.id,
        done=0,
        predicted=0,
        errors=0,
        attempts=0,
        error="",
        created_at=utcnow(),
    )
    session.add(batch)
    session.flush()
    _event(session, user, "batch_submitted", changes={"batch": batch.id, "filename": filename, "bytes": size_bytes})
    return batch


def get_batch(session: Session, batch_id: int) -> Batch:
    batch = session.get(Batch, batch_id)
    if batch is None:
        raise NotFound(f"no batch {batch_id}")
    return batch


def list_batches(session: Session, *, page: int = 1, page_size: int = 20) -> tuple[list[Batch], int]:
    """Newest first; one page and the total count."""
    total = session.scalar(select(func.count(Batch.id))) or 0
    return list(session.scalars(_page(select(Batch).order_by(Batch.id.desc()), page, page_size))), total


def unfinished_batches(session: Session) -> list[Batch]:
    """Batches left queued or running (oldest first): what a restarted server resumes."""
    return list(session.scalars(select(Batch).where(Batch.status.in_(("queued", "running"))).order_by(Batch.id)))


def update_batch(session: Session, batch_id: int, *, only_if: tuple[str, ...] | None = None, **values: Any) -> bool:
    """Set ``values`` on the batch; with ``only_if``, only while its status is one of those (a cancel that came in
    between must not be overwritten by the worker's ``running`` or ``done``). Returns whether a row changed."""
    statement = update(Batch).where(Batch.id == batch_id)
    if only_if is not None:
        statement = statement.where(Batch.status.in_(only_if))
    result = session.execute(statement.values(**values).execution_options(synchronize_session=False))
    return result.rowcount > 0


def cancel_batch(session: Session, batch_id: int, user: User) -> Batch:
    """Mark a queued or running batch ``cancelled`` (one conditional UPDATE, so it races safely with the worker,
    which checks the status between chunks); :class:`BatchConflict` for a finished one."""
    now = utcnow()
    if not update_batch(
        session,
        batch_id,
        only_if=("queued", "running"),
        status="cancelled",
        finished_at=now,
        error=f"cancelled by {user.name}",
    ):
        batch = get_batch(session, batch_id)
        raise BatchConflict(f"batch {batch_id} is {batch.status}: only a queued or running batch can be cancelled")
    batch = session.get(Batch, batch_id, populate_existing=True)
    _event(session, user, "batch_cancelled", changes={"batch": batch_id, "done": batch.done, "total": batch.total})
    return batch


def delete_batch(session: Session, batch_id: int, user: User) -> int:
    """Delete a finished batch's row; its documents are kept (reviews may exist), unlinked from it, with their id
    inside the upload kept in ``batch_key``. Returns how many documents were kept."""
    batch = session.scalar(select(Batch).where(Batch.id == batch_id).with_for_update())
    if batch is None:
        raise NotFound(f"no batch {batch_id}")
    if batch.status not in FINISHED_BATCH_STATUSES:
        raise BatchConflict(f"batch {batch_id} is {batch.status}: cancel it first (POST /batches/{batch_id}/cancel)")
    kept = session.execute(
        update(Document)
        .where(Document.batch_id == batch_id)
        .values(batch_id=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.execute(delete(Batch).where(Batch.id == batch_id).execution_options(synchronize_session=False))
    _event(
        session,
        user,
        "batch_deleted",
        changes={"batch": batch_id, "filename": batch.filename, "status": batch.status, "documents_kept": kept},
    )
    return kept


def expirable_batches(session: Session, finished_before: datetime) -> list[Batch]:
    """Finished batches whose files are still on disk and that finished before ``finished_before``."""
    query = select(Batch).where(
        Batch.status.in_(FINISHED_BATCH_STATUSES),
        Batch.finished_at < finished_before,
        Batch.files_expired_at.is_(None),
    )
    return list(session.scalars(query.order_by(Batch.id)))


def batch_keys(session: Session, batch_id: int) -> set[str]:
    """The keys (ids inside the upload) of the batch's documents already stored."""
    return set(session.scalars(select(Document.batch_key).where(Document.batch_id == batch_id)))


def add_batch_documents(session: Session, batch: Batch, documents: list[dict[str, Any]]) -> int:
    """Store a batch's documents as ``received`` (keys already stored are skipped); returns how many were added.

    Each dict has ``key``, ``name``, ``format``, ``text``, ``city``, ``country``. The unique
    (batch_id, batch_key) constraint backs the skip, so a resumed batch can never add a document twice.
    """
    known = set(
        session.scalars(
            select(Document.batch_key).where(
                Document.batch_id == batch.id, Document.batch_key.in_([d["key"] for d in documents])
            )
        )
    )
    user = session.get(User, batch.submitted_by) if batch.submitted_by else None
    added = 0
    for item in documents:
        if item["key"] in known:
            continue
        known.add(item["key"])
        now = utcnow()
        document = Document(
            name=item["name"][:255],
            format=item["format"][:16],
            text=item["text"],
            city=(item.get("city") or None),
            country=(item.get("country") or None),
            submitter=None,
            submitted_by=batch.submitted_by,
            status="received",
            stakeholders=[],
            version=1,
            created_at=now,
            updated_at=now,
            batch_id=batch.id,
            batch_key=item["key"],
        )
        session.add(document)
        session.flush()
        _event(
            session,
            user,
            "submitted",
            document_id=document.id,
            changes={"name": item["name"], "city": document.city, "country": document.country, "batch": batch.id},
        )
        added += 1
    return added


def attach_batch_predictions(session: Session, batch_id: int, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Store journaled predictions for the batch's documents that have none yet, in a few statements whatever the
    number of rows (INSERT ... RETURNING for the predictions, executemany UPDATE and INSERT for the documents and
    their audit rows): what ``save_prediction`` does per document, without a round trip per document.

    Each row has ``key`` (the document's key in the batch) and ``payload`` (the prediction). Returns the rows that
    were attached; rows whose document already has a prediction (attached before a restart) are skipped. Only
    documents without a prediction are touched, and those cannot have been reviewed (a review needs a prediction).
    """
    query = select(Document.batch_key, Document.id).where(
        Document.batch_id == batch_id,
        Document.batch_key.in_([row["key"] for row in rows]),
        Document.prediction_id.is_(None),
    )
    missing = dict(session.execute(query).all())
    todo = []
    for row in rows:
        document_id = missing.pop(row["key"], None)  # pop: a key twice in ``rows`` is attached once
        if document_id is not None:
            todo.append((row, document_id))
    if not todo:
        return []
    now = utcnow()
    margins = [margin_of(row["payload"]["probabilities"]) for row, _ in todo]
    ids = session.scalars(
        insert(Prediction).returning(Prediction.id, sort_by_parameter_order=True),
        [
            _prediction_values(document_id, row["payload"], margin, False, now)
            for (row, document_id), margin in zip(todo, margins, strict=True)
        ],
    ).all()
    attached = list(zip(todo, margins, ids, strict=True))
    session.execute(  # ORM bulk UPDATE by primary key: one executemany
        update(Document),
        [
            {"id": document_id, **_document_values(row["payload"], margin, prediction_id, now, reviewed=False)}
            for (row, document_id), margin, prediction_id in attached
        ],
    )
    session.execute(
        insert(AuditEvent),
        [
            {
                "document_id": document_id,
                "actor_id": None,
                "actor": "system",
                "action": "classified",
                "changes": _classified_changes(row["payload"], margin),
                "prediction_id": prediction_id,
                "model_version": row["payload"]["model_version"],
                "comment": "",
                "created_at": now,
            }
            for (row, document_id), margin, prediction_id in attached
        ],
    )
    return [row for row, _ in todo]


def batch_documents_without_prediction(session: Session, batch_id: int, keys: list[str]) -> dict[str, int]:
    """Key -> document id for the batch's documents among ``keys`` that have no prediction yet."""
    query = select(Document.batch_key, Document.id).where(
        Document.batch_id == batch_id, Document.batch_key.in_(keys), Document.prediction_id.is_(None)
    )
    return {key: document_id for key, document_id in session.execute(query)}


def received_documents(session: Session, *, after_id: int = 0, limit: int = 32) -> list[Document]:
    """Single submissions still ``received`` (stored while no model served), oldest first, after ``after_id``."""
    query = (
        select(Document)
        # batch_key: documents of a deleted batch (batch_id emptied) stay with what their batch did to them
        .where(
            Document.status == "received",
            Document.batch_id.is_(None),
            Document.batch_key.is_(None),
            Document.id > after_id,
        )
        .order_by(Document.id)
        .limit(limit)
    )
    return list(session.scalars(query))


# -- the LLM's second opinion (issue 7): advice kept in the prediction's payload, never a label ----------


def save_llm_opinion(
    session: Session, prediction_id: int, opinion: dict[str, Any], *, actor: User | None = None
) -> Prediction:
    """Put the LLM's opinion into the prediction's JSON payload under ``llm_opinion``, with an audit row.

    No schema change: the opinion travels with the prediction it was compared with. The row is read
    ``FOR UPDATE`` (PostgreSQL) so that a concurrent evidence write is not lost. It never changes the
    document's label or status: an LLM label is advice until a reviewer accepts it.
    """
    query = (
        select(Prediction)
        .where(Prediction.id == prediction_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    prediction = session.scalar(query)
    if prediction is None:
        raise NotFound(f"no prediction {prediction_id}")
    prediction.payload = dict(prediction.payload or {}, llm_opinion=opinion)
    _event(
        session,
        actor,
        "llm_opinion",
        document_id=prediction.document_id,
        changes={
            "llm_label": opinion.get("label"),
            "agrees_with_classifier": opinion.get("agrees_with_classifier"),
            "llm": f"{opinion.get('backend')} {opinion.get('model')}",
            **({"error": opinion["error"]} if opinion.get("error") else {}),
        },
        prediction_id=prediction.id,
        model_version=prediction.model_version,
    )
    return prediction


def predictions_after(session: Session, after_id: int, *, limit: int = 200) -> list[tuple[int, int, dict[str, Any]]]:
    """``(document id, prediction id, payload)`` of predicted, unreviewed documents whose current prediction's
    id is above ``after_id``, oldest first: what the LLM opinion worker polls."""
    query = (
        select(Document.id, Prediction.id, Prediction.payload)
        .join(Prediction, Prediction.id == Document.prediction_id)
        .where(Prediction.id > after_id, Document.status == "predicted")
        .order_by(Prediction.id)
        .limit(limit)
    )
    return [(doc_id, prediction_id, payload or {}) for doc_id, prediction_id, payload in session.execute(query)]
