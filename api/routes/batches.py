"""``/batches``: upload a ZIP, CSV or JSONL to classify in the background, follow it, download its results.

The upload is checked before anything is stored (413 over the limit, 415 for
another type, 422 when it cannot hold documents), then saved under the batch
folder and queued; ``api.jobs.batches.BatchRunner`` classifies it, one batch at
a time, and its documents land in the review queue (``GET /review/queue?batch=``).

Its submitter or an admin may cancel it (the worker stops after the chunk in
flight) and delete it once finished (its folder and row; its documents stay,
since reviews may exist). Retention removes old finished batches' files: their
downloads then answer 410.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import PurePath
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, StreamingResponse
from starlette.datastructures import UploadFile

from api.deps import SessionDep, StateDep, require
from api.jobs import batches as jobs
from api.routes.limits import refuse_declared_oversize, too_large
from api.schemas import BatchOut, BatchPage, RowId
from api.store import queries
from api.store.queries import as_utc
from api.store.tables import Batch, User

__all__ = ["router"]

router = APIRouter(prefix="/batches", tags=["batches"])

ACCEPTED_TYPES: dict[str, set[str]] = {
    ".zip": {"application/zip", "application/x-zip-compressed", "application/x-zip"},
    ".csv": {"text/csv", "application/csv", "text/plain", "application/vnd.ms-excel"},
    ".jsonl": {"application/jsonl", "application/x-ndjson", "application/x-jsonlines", "application/json"}
    | {"text/plain", "text/jsonl"},
}
GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream"}
COPY_CHUNK = 1 << 20
SUBMIT_DOC = """Upload many documents at once: multipart/form-data with a `file` (`.zip` of txt, md, html, pdf,
docx, csv or jsonl files, with `<city>/...` folders; or a `.csv` / `.jsonl` table with `id`, `text`, `city`,
`country` columns) and optional `city`, `country` defaults for documents that do not name one. Answers 202 with
the queued batch; follow it at `GET /batches/{id}`. Unreadable entries do not stop it: they are listed in
`errors.jsonl`."""
REQUEST_BODY = {
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "required": ["file"],
            "properties": {
                "file": {"type": "string", "format": "binary", "description": ".zip, .csv or .jsonl"},
                "city": {"type": "string"},
                "country": {"type": "string"},
            },
        }
    }
}
DOWNLOADS = {  # name -> (file in the output folder, media type, only once done)
    "predictions.jsonl": ("predictions.jsonl", "application/jsonl", False),
    "errors.jsonl": ("errors.jsonl", "application/jsonl", False),
    "predictions.csv": ("predictions.csv", "text/csv; charset=utf-8", True),
    "report.json": ("report.json", "application/json", True),
    "report.html": ("report.html", "text/html; charset=utf-8", True),
}


def batch_out(batch: Batch) -> BatchOut:
    names = [name for name, (_, _, final) in DOWNLOADS.items() if batch.status == "done" or not final]
    if batch.files_expired_at is not None:
        names = []
    return BatchOut(
        id=batch.id,
        status=batch.status,
        filename=batch.filename,
        kind=batch.kind,
        size_bytes=batch.size_bytes,
        city=batch.city,
        country=batch.country,
        model_version=batch.model_version,
        total=batch.total,
        done=batch.done,
        predicted=batch.predicted,
        errors=batch.errors,
        docs_per_second=batch.docs_per_second,
        attempts=batch.attempts,
        error=batch.error or "",
        created_at=as_utc(batch.created_at),
        started_at=as_utc(batch.started_at),
        finished_at=as_utc(batch.finished_at),
        files_expired_at=as_utc(batch.files_expired_at),
        links={name: f"/batches/{batch.id}/{name}" for name in names} | {"queue": f"/review/queue?batch={batch.id}"},
    )


def _get(session, batch_id: int) -> Batch:
    try:
        return queries.get_batch(session, batch_id)
    except queries.NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


def _owned(batch: Batch, user: User, action: str) -> None:
    """Submitters manage their own batches only; admins everyone's."""
    if user.role != "admin" and batch.submitted_by != user.id:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"only the submitter of batch {batch.id} or an admin may {action} it"
        )


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BatchOut,
    summary="Upload a ZIP, CSV or JSONL to classify in the background",
    description=SUBMIT_DOC,
    responses={
        413: {"description": "Too large"},
        415: {"description": "Not a .zip, .csv or .jsonl"},
        422: {"description": "Holds no documents"},
    },
    openapi_extra={"requestBody": {"required": True, "content": REQUEST_BODY}},
)
async def submit_batch(
    request: Request, response: Response, state: StateDep, user: Annotated[User, Depends(require("submit"))]
) -> BatchOut:
    limit = state.settings.batch_max_upload_bytes
    refuse_declared_oversize(request, limit, "upload")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "multipart/form-data":
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"content type {content_type or '(none)'} not accepted: send multipart/form-data with a 'file'",
        )
    try:
        form = await request.form(max_files=1, max_fields=10)
    except Exception as exc:  # malformed multipart bodies
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"malformed multipart body: {exc}") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "batch uploads need a 'file' field")
    name = PurePath((upload.filename or "").replace("\\", "/")).name[:255]
    suffix = PurePath(name).suffix.lower()
    if suffix not in jobs.KINDS:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"unsupported batch file type {suffix or '(none)'}; use .zip, .csv or .jsonl "
            "(single documents go to POST /documents)",
        )
    declared = (upload.content_type or "").split(";")[0].strip().lower()
    if declared not in GENERIC_TYPES and declared not in ACCEPTED_TYPES[suffix]:
        expected = ", ".join(sorted(ACCEPTED_TYPES[suffix]))
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"content type {declared} does not match a {suffix} file; expected {expected}",
        )
    meta = {key: str(form.get(key) or "").strip()[:120] or None for key in ("city", "country")}
    incoming_dir = state.settings.batches_path / ".incoming"
    incoming = incoming_dir / f"{secrets.token_hex(8)}{suffix}"

    def save() -> None:
        incoming_dir.mkdir(parents=True, exist_ok=True)
        size = 0
        with incoming.open("wb") as handle:
            while chunk := upload.file.read(COPY_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise too_large(limit, "upload")
                handle.write(chunk)
        jobs.check_upload(incoming, jobs.KINDS[suffix])

    try:
        await run_in_threadpool(save)
    except jobs.UploadError as exc:
        incoming.unlink(missing_ok=True)
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    except BaseException:
        incoming.unlink(missing_ok=True)
        raise
    finally:
        await upload.close()
    batch_id = await run_in_threadpool(
        jobs.accept_upload, state, user, incoming, filename=name, kind=jobs.KINDS[suffix], **meta
    )
    request.app.state.batch_runner.schedule(batch_id)
    response.headers["Location"] = f"/batches/{batch_id}"

    def reply() -> BatchOut:
        with state.db.sessions() as session:
            return batch_out(queries.get_batch(session, batch_id))

    return await run_in_threadpool(reply)


@router.get("", response_model=BatchPage, summary="Batches, newest first")
def list_batches(
    state: StateDep,
    session: SessionDep,
    _: Annotated[User, Depends(require("read"))],
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int | None, Query(ge=1, le=200)] = None,
) -> BatchPage:
    size = page_size or state.settings.page_size
    rows, total = queries.list_batches(session, page=page, page_size=size)
    return BatchPage(items=[batch_out(b) for b in rows], page=page, page_size=size, total=total)


@router.get("/{batch_id}", response_model=BatchOut, summary="One batch: status, counts, speed, times")
def read_batch(batch_id: RowId, session: SessionDep, _: Annotated[User, Depends(require("read"))]) -> BatchOut:
    return batch_out(_get(session, batch_id))


@router.post(
    "/{batch_id}/cancel",
    response_model=BatchOut,
    summary="Cancel a queued or running batch (its submitter or an admin)",
    description="A queued batch never starts; a running one stops after the chunk in flight (seconds). What it "
    "classified so far stays in the review queue and in `predictions.jsonl`. A restart does not resume it.",
    responses={409: {"description": "The batch is already done, failed or cancelled"}},
)
def cancel_batch(batch_id: RowId, session: SessionDep, user: Annotated[User, Depends(require("submit"))]) -> BatchOut:
    _owned(_get(session, batch_id), user, "cancel")
    try:
        batch = queries.cancel_batch(session, batch_id, user)
    except queries.BatchConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    session.commit()
    return batch_out(batch)


@router.delete(
    "/{batch_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a finished batch: its upload, outputs and record (its submitter or an admin)",
    description="Only a done, failed or cancelled batch (409 otherwise: cancel it first). Its documents stay in the "
    "database and the review queue (reviews may exist), no longer linked to a batch.",
    responses={409: {"description": "The batch is queued or running, or still stopping"}},
)
def delete_batch(
    batch_id: RowId, state: StateDep, session: SessionDep, user: Annotated[User, Depends(require("submit"))]
) -> Response:
    _owned(_get(session, batch_id), user, "delete")
    try:
        jobs.remove_batch(state, batch_id, user)
    except queries.NotFound as exc:  # deleted by someone else meanwhile
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except (queries.BatchConflict, jobs.BatchBusy) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _stream(rows: Iterator[dict]) -> Iterator[bytes]:
    for row in rows:
        yield (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")


@router.get(
    "/{batch_id}/{name}",
    summary="Download predictions.jsonl, errors.jsonl (so far), predictions.csv, report.json, report.html (done)",
    responses={
        200: {"content": {"application/jsonl": {}, "text/csv": {}, "text/html": {}}},
        409: {"description": "The batch is not done yet (predictions.csv and the reports)"},
        410: {"description": "Retention removed the batch's files"},
    },
)
def download(
    batch_id: RowId, name: str, state: StateDep, session: SessionDep, _: Annotated[User, Depends(require("read"))]
) -> Response:
    if name not in DOWNLOADS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no download {name!r}; one of {', '.join(DOWNLOADS)}")
    batch = _get(session, batch_id)
    filename, media_type, final = DOWNLOADS[name]
    if batch.files_expired_at is not None:
        raise HTTPException(
            status.HTTP_410_GONE,
            f"the files of batch {batch_id} were removed on {as_utc(batch.files_expired_at)} (kept "
            f"{state.settings.batch_retention_days} days after it finished); its documents and predictions are "
            f"still stored: GET /review/queue?batch={batch_id}",
        )
    if final and batch.status != "done":
        hint = "; predictions.jsonl holds what it classified" if batch.status == "cancelled" else ""
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"batch {batch_id} is {batch.status}: {name} is written when it is done{hint}"
        )
    root = state.settings.batches_path
    path = jobs.output_dir(root, batch) / filename
    disposition = {"Content-Disposition": f'attachment; filename="batch-{batch_id}-{name}"'}
    if name.endswith(".jsonl"):
        session.expunge(batch)
        rows = jobs.public_rows(path, batch, jobs.upload_path(root, batch))
        return StreamingResponse(_stream(rows), media_type=media_type, headers=disposition)
    if not path.exists():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{name} of batch {batch_id} is missing on disk")
    if name == "report.html":
        disposition = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:"}
    return FileResponse(path, media_type=media_type, headers=disposition)
