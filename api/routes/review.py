"""Review: the queue (most uncertain first) and a reviewer's decision with optimistic locking (409)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status

from api.deps import SessionDep, StateDep, require
from api.routes.convert import document_out, queue_item
from api.schemas import DocumentOut, QueuePage, ReviewIn, RowId
from api.store import queries
from api.store.tables import User
from classifier.taxonomy import Label

__all__ = ["router"]

router = APIRouter(tags=["review"])


@router.get("/review/queue", response_model=QueuePage, summary="Predicted documents, smallest top-two margin first")
def review_queue(
    state: StateDep,
    session: SessionDep,
    _: Annotated[User, Depends(require("read"))],
    city: str | None = None,
    label: Annotated[Label | None, Query(description="The predicted label.")] = None,
    model: Annotated[str | None, Query(description="The model version that predicted.")] = None,
    batch: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="Only the documents of this batch upload.")
    ] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int | None, Query(ge=1, le=200)] = None,
) -> QueuePage:
    size = page_size or state.settings.page_size
    rows, total = queries.review_queue(
        session, city=city, label=label, model=model, batch=batch, page=page, page_size=size
    )
    return QueuePage(items=[queue_item(session, d) for d in rows], page=page, page_size=size, total=total)


@router.post(
    "/documents/{document_id}/review",
    response_model=DocumentOut,
    summary="Record a reviewer's label, stakeholders and comment",
    responses={409: {"description": "The document changed since `version` was read"}},
)
def review_document(
    document_id: RowId,
    body: ReviewIn,
    session: SessionDep,
    reviewer: Annotated[User, Depends(require("review"))],
) -> DocumentOut:
    stakeholders = None if body.stakeholders is None else [s.model_dump(exclude_none=True) for s in body.stakeholders]
    try:
        document = queries.review_document(
            session,
            document_id,
            reviewer,
            version=body.version,
            label=body.label,
            stakeholders=stakeholders,
            comment=body.comment,
            testbed=body.testbed,
            international=body.international,
        )
        session.commit()
    except queries.NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except queries.Conflict as exc:
        session.rollback()
        raise HTTPException(
            status.HTTP_409_CONFLICT, {"message": str(exc), "current_version": exc.current_version}
        ) from None
    return document_out(session, document, text=False)
