"""``/documents``: submit (JSON text or a file upload), read one, list with filters, see its history.

Input is checked completely before anything is stored: size (413), content
type (415), unreadable, encrypted, corrupt or empty documents (422). Only then
is the document stored and classified.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from api.deps import SessionDep, StateDep, require
from api.jobs import intake
from api.routes.convert import document_out, event_out
from api.routes.limits import refuse_declared_oversize, too_large
from api.schemas import AuditEventOut, DocumentIn, DocumentOut, DocumentPage, LLMOpinionOut, RowId
from api.store import queries
from api.store.tables import User
from classifier.documents import SUPPORTED_SUFFIXES, DocumentError, SourceDocument, read_bytes
from classifier.taxonomy import Label

__all__ = ["ACCEPTED_TYPES", "router"]

router = APIRouter(prefix="/documents", tags=["documents"])

# What a part's declared Content-Type may be for each suffix (octet-stream: clients that do not know).
ACCEPTED_TYPES: dict[str, set[str]] = {
    ".txt": {"text/plain"},
    ".text": {"text/plain"},
    ".md": {"text/markdown", "text/x-markdown", "text/plain"},
    ".markdown": {"text/markdown", "text/x-markdown", "text/plain"},
    ".html": {"text/html", "application/xhtml+xml"},
    ".htm": {"text/html", "application/xhtml+xml"},
    ".pdf": {"application/pdf", "application/x-pdf"},
    ".docx": {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/zip"},
}
GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream"}
SUBMIT_DOC = """Submit a document and get its prediction back.

Either **JSON** `{"text": ..., "name": ..., "city": ..., "country": ..., "submitter": ...}` or
**multipart/form-data** with a `file` (txt, md, html, pdf, docx) and optional `city`, `country`,
`submitter` fields. The document is stored first, then classified; `prediction` is what
`partnership classify` prints (evidence sentences are filled in on the first `GET /documents/{id}`
unless `PARTNERSHIP_EXPLAIN_ON_SUBMIT` is set).
"""
REQUEST_BODIES = {  # the body is parsed by hand (JSON or multipart), so OpenAPI is told its two shapes here
    "application/json": {"schema": DocumentIn.model_json_schema()},
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "required": ["file"],
            "additionalProperties": False,  # other parts are refused (at most 10 are read)
            "properties": {
                "file": {"type": "string", "format": "binary", "description": "txt, md, html, pdf or docx"},
                "city": {"type": "string"},
                "country": {"type": "string"},
                "submitter": {"type": "string"},
            },
        }
    },
}


def _with_llm_opinion(out: DocumentOut) -> DocumentOut:
    """The LLM's opinion is stored in the prediction's payload; the API shows it beside the prediction, so that
    ``prediction`` stays what ``partnership classify`` prints."""
    if not out.prediction or "llm_opinion" not in out.prediction:
        return out
    prediction = dict(out.prediction)
    stored = prediction.pop("llm_opinion")
    try:
        opinion = LLMOpinionOut.model_validate(stored)
    except ValidationError:  # an opinion stored in an older shape: leave it out rather than fail the read
        opinion = None
    return out.model_copy(update={"prediction": prediction, "llm_opinion": opinion})


async def _body(request: Request, limit: int) -> bytes:
    """The raw body, refused as soon as it passes ``limit`` bytes."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit, "document")
        chunks.append(chunk)
    return b"".join(chunks)


def _text_name(name: str) -> str:
    """The name that picks the reader for JSON text: a text-like suffix is kept, anything else reads as .txt."""
    return name if PurePath(name).suffix.lower() in (".txt", ".md", ".markdown", ".html", ".htm") else f"{name}.txt"


async def _from_json(request: Request, limit: int) -> tuple[SourceDocument, DocumentIn]:
    try:
        payload = DocumentIn.model_validate_json(await _body(request, limit))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        message = f"invalid JSON submission: {where}: {first['msg']}"
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, message) from None
    if not payload.text.strip():
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "empty text: nothing to classify")
    name = PurePath(payload.name or "submission").name[:255] or "submission"
    source = await run_in_threadpool(read_bytes, payload.text.encode("utf-8"), _text_name(name), max_bytes=limit)
    return SourceDocument(name, source.text, "api", source.format), payload


async def _from_upload(request: Request, limit: int) -> tuple[SourceDocument, DocumentIn]:
    try:
        form = await request.form(max_files=1, max_fields=10)
    except Exception as exc:  # malformed multipart bodies
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"malformed multipart body: {exc}") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "multipart submissions need a 'file' field")
    name = PurePath(upload.filename or "").name[:255]
    suffix = PurePath(name).suffix.lower()
    if suffix not in ACCEPTED_TYPES:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"unsupported file type {suffix or '(none)'}; use one of {', '.join(SUPPORTED_SUFFIXES)}",
        )
    declared = (upload.content_type or "").split(";")[0].strip().lower()
    if declared not in GENERIC_TYPES and declared not in ACCEPTED_TYPES[suffix]:
        expected = ", ".join(sorted(ACCEPTED_TYPES[suffix]))
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"content type {declared} does not match a {suffix} file; expected {expected}",
        )
    data = await upload.read(limit + 1)
    await upload.close()
    if len(data) > limit:
        raise too_large(limit, "document")
    meta = {key: str(form.get(key) or "").strip()[:200] or None for key in ("city", "country", "submitter")}
    source = await run_in_threadpool(read_bytes, data, name, doc_id=name, max_bytes=limit)
    return source, DocumentIn(text=source.text, name=name, **meta)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DocumentOut,
    summary="Submit a document",
    description=SUBMIT_DOC,
    responses={
        413: {"description": "Too large"},
        415: {"description": "Wrong type"},
        422: {"description": "Unreadable"},
    },
    openapi_extra={"requestBody": {"required": True, "content": REQUEST_BODIES}},
)
async def submit_document(
    request: Request, response: Response, state: StateDep, user: Annotated[User, Depends(require("submit"))]
) -> DocumentOut:
    limit = state.settings.max_upload_bytes
    refuse_declared_oversize(request, limit, "document")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type == "application/json":
            source, meta = await _from_json(request, limit)
        elif content_type == "multipart/form-data":
            source, meta = await _from_upload(request, limit)
        else:
            raise HTTPException(
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                f"content type {content_type or '(none)'} not accepted: send application/json "
                "{text, name, city, country, submitter} or multipart/form-data with a 'file'",
            )
    except DocumentError as exc:
        code = status.HTTP_413_CONTENT_TOO_LARGE if "limit" in str(exc) else status.HTTP_422_UNPROCESSABLE_CONTENT
        raise HTTPException(code, str(exc)) from None
    document_id = await run_in_threadpool(
        intake.submit, state, user, source, city=meta.city, country=meta.country, submitter=meta.submitter
    )
    response.headers["Location"] = f"/documents/{document_id}"

    def reply() -> DocumentOut:
        with state.db.sessions() as session:
            return _with_llm_opinion(document_out(session, queries.get_document(session, document_id), text=False))

    return await run_in_threadpool(reply)


@router.get("/{document_id}", response_model=DocumentOut, summary="One document with its prediction and text")
def read_document(
    document_id: RowId, state: StateDep, session: SessionDep, _: Annotated[User, Depends(require("read"))]
) -> DocumentOut:
    try:
        document = queries.get_document(session, document_id)
    except queries.NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    prediction = intake.ensure_evidence(state, document)
    return _with_llm_opinion(document_out(session, document, text=True, prediction=prediction))


@router.get("", response_model=DocumentPage, summary="Documents, newest first, filtered")
def list_documents(
    state: StateDep,
    session: SessionDep,
    _: Annotated[User, Depends(require("read"))],
    city: str | None = None,
    label: Label | None = None,
    status_: Annotated[Literal["received", "predicted", "reviewed"] | None, Query(alias="status")] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int | None, Query(ge=1, le=200)] = None,
) -> DocumentPage:
    size = page_size or state.settings.page_size
    rows, total = queries.list_documents(session, city=city, label=label, status=status_, page=page, page_size=size)
    items = [_with_llm_opinion(document_out(session, d)) for d in rows]
    return DocumentPage(items=items, page=page, page_size=size, total=total)


@router.get("/{document_id}/history", response_model=list[AuditEventOut], summary="The document's audit trail")
def document_history(
    document_id: RowId, session: SessionDep, _: Annotated[User, Depends(require("read"))]
) -> list[AuditEventOut]:
    try:
        return [event_out(e) for e in queries.history(session, document_id)]
    except queries.NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
