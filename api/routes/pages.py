"""The review page (server-rendered): log in with an API token, the queue, a document, the dashboard.

Logging in puts the user id in a signed session cookie; every form carries the
session's CSRF token and is refused (403) without it. Every page and form checks
who is asking with one dependency (:data:`PageUser`, :func:`page_form`): nobody
logged in raises :class:`LoginRequired`, which the app turns into a redirect to
the login and back. Templates autoescape, and everything (CSS, JS, the chart as
inline SVG) is served from here: nothing loads from the internet.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError
from starlette.datastructures import FormData

from api.deps import SessionDep, StateDep
from api.jobs import intake
from api.jobs.opinions import AskedOpinion, AskRefused, OpinionWorker, agreement, review_mode
from api.routes.convert import event_out, queue_item
from api.routes.models import models_overview
from api.schemas import RowId, StakeholderIn
from api.security import allowed, csrf_token, csrf_valid
from api.store import queries
from api.store.tables import Document, User
from classifier.taxonomy import INTERNATIONAL_LEVELS, LABELS, MODELS, ROLES, STAKEHOLDER_TYPES

__all__ = [
    "TEMPLATES_DIR",
    "LoginRequired",
    "PageForm",
    "PageUser",
    "bar_chart",
    "highlight",
    "login_redirect",
    "page_form",
    "page_user",
    "router",
]

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"
environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(default=True, default_for_string=True)
)
templates = Jinja2Templates(env=environment)
router = APIRouter(include_in_schema=False)
SHORTCUT_KEYS = dict(zip(LABELS, "12345", strict=True))


def highlight(text: str, stakeholders: list[dict[str, Any]], evidence: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The text cut into segments, each with the stakeholder (type, role) and evidence marks covering it.

    Stakeholders without offsets are found by name; the template escapes every segment.
    """
    marks: list[tuple[int, int, dict[str, Any]]] = []
    for s in stakeholders:
        mark = {"kind": "stakeholder", "type": s.get("type", ""), "role": s.get("role", "")}
        name = str(s.get("name") or s.get("text") or "")
        places = [(m.get("start"), m.get("end")) for m in s.get("mentions") or [] if isinstance(m, dict)]
        places = places or [(s.get("start"), s.get("end"))]
        valid = [(a, b) for a, b in places if isinstance(a, int) and isinstance(b, int) and 0 <= a < b <= len(text)]
        if not valid and name and text.find(name) >= 0:
            valid = [(text.find(name), text.find(name) + len(name))]
        marks += [(a, b, mark) for a, b in valid]
    for e in evidence:
        start, end = e.get("start", -1), e.get("end", -1)
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
            marks.append((start, end, {"kind": "evidence"}))
    cuts = sorted({0, len(text), *(m[0] for m in marks), *(m[1] for m in marks)})
    segments = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        covering = [m[2] for m in marks if m[0] <= a and b <= m[1]]
        stakeholder = next((m for m in covering if m["kind"] == "stakeholder"), None)
        segments.append(
            {
                "text": text[a:b],
                "evidence": any(m["kind"] == "evidence" for m in covering),
                "type": stakeholder["type"] if stakeholder else None,
                "role": stakeholder["role"] if stakeholder else None,
            }
        )
    return segments


def bar_chart(
    counts: list[tuple[str, int]], names: dict[str, str] | None = None, width: int = 420, bar: int = 22
) -> dict[str, Any]:
    """Geometry of a horizontal bar chart; the template draws it as inline SVG (scaled to its card)."""
    top = max((n for _, n in counts), default=0) or 1
    label_width, gap = 150, 6
    rows = [
        {
            "key": str(name),
            "label": (names or {}).get(str(name), str(name))[:24],
            "count": n,
            "y": i * (bar + gap),
            "width": max(1, round((width - label_width - 40) * n / top)),
        }
        for i, (name, n) in enumerate(counts)
    ]
    return {"rows": rows, "width": width, "height": max(bar, len(rows) * (bar + gap)), "x0": label_width, "bar": bar}


def _user(request: Request, session) -> User | None:
    uid = request.session.get("uid")
    user = session.get(User, uid) if uid else None
    return user if user is not None and user.active else None


class LoginRequired(Exception):
    """Nobody (or a deactivated account) is logged in. Raised by the page dependencies, so every page and form
    checks the login in one place; :func:`login_redirect` (registered in ``create_app``) answers it."""


def login_redirect(request: Request, exc: LoginRequired | None = None) -> RedirectResponse:
    """To the login form, and back to this address after it."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/ui/login?{urlencode({'next': target})}", status.HTTP_303_SEE_OTHER)


def page_user(request: Request, session: SessionDep) -> User:
    """The session's active user, else :class:`LoginRequired` (a redirect to the login)."""
    user = _user(request, session)
    if user is None:
        raise LoginRequired
    return user


PageUser = Annotated[User, Depends(page_user)]


@dataclass(frozen=True)
class PageForm:
    """A posted form whose CSRF token, login and role were checked, and who sent it."""

    user: User
    form: FormData


def page_form(action: str, doing: str, *, max_fields: int = 10) -> Callable[..., Awaitable[PageForm]]:
    """A dependency for a form post: the CSRF token first (403: without a session there is none), then the
    login (:class:`LoginRequired`), then whether the role may ``action`` (403 "role 'x' may not <doing>")."""

    async def check(request: Request, session: SessionDep) -> PageForm:
        form = await request.form(max_fields=max_fields)
        _check_csrf(request, str(form.get("csrf") or ""))
        user = await run_in_threadpool(page_user, request, session)
        if not allowed(user.role, action):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {user.role!r} may not {doing}")
        return PageForm(user, form)

    return check


ReviewForm = Annotated[PageForm, Depends(page_form("review", "review", max_fields=400))]
AskForm = Annotated[PageForm, Depends(page_form("review", "ask the LLM"))]


def _render(request: Request, name: str, context: dict[str, Any], code: int = 200) -> HTMLResponse:
    base = {
        "csrf": csrf_token(request.session),
        "flash": request.session.pop("flash", None),
        "labels": LABELS,
        "models": {m.label: m for m in MODELS},
    }
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=code)


def _check_csrf(request: Request, sent: str | None) -> None:
    if not csrf_valid(request.session, sent):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token: reload the page and try again")


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/ui") and not target.startswith("//") else "/ui/queue"


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/ui/queue", status.HTTP_303_SEE_OTHER)


@router.get("/ui")
def ui_root() -> RedirectResponse:
    return RedirectResponse("/ui/queue", status.HTTP_303_SEE_OTHER)


@router.get("/ui/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return _render(request, "login.html", {"next": _safe_next(next), "user": None, "error": None})


@router.post("/ui/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: SessionDep,
    token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/ui/queue",
):
    _check_csrf(request, csrf)
    user = queries.user_by_token(session, token.strip())
    if user is None:
        return _render(
            request, "login.html", {"next": _safe_next(next), "user": None, "error": "Unknown token."}, code=401
        )
    request.session.clear()
    request.session["uid"] = user.id
    csrf_token(request.session)  # a fresh CSRF token for the new login
    return RedirectResponse(_safe_next(next), status.HTTP_303_SEE_OTHER)


@router.post("/ui/logout")
def logout(request: Request, csrf: Annotated[str, Form()] = "") -> RedirectResponse:
    _check_csrf(request, csrf)
    request.session.clear()
    return RedirectResponse("/ui/login", status.HTTP_303_SEE_OTHER)


@router.get("/ui/queue", response_class=HTMLResponse)
def queue_page(
    request: Request,
    state: StateDep,
    session: SessionDep,
    user: PageUser,
    city: str | None = None,
    label: str | None = None,
    model: str | None = None,
    page: int = 1,
):
    label = label if label in LABELS else None
    page = max(page, 1)
    size = state.settings.page_size
    rows, total = queries.review_queue(
        session, city=city or None, label=label, model=model or None, page=page, page_size=size
    )
    filters = {"city": city or "", "label": label or "", "model": model or ""}
    return _render(
        request,
        "queue.html",
        {
            "user": user,
            "items": [_queue_row(session, d) for d in rows],
            "total": total,
            "page": page,
            "pages": max(1, -(-total // size)),
            "filters": filters,
            "query": urlencode({k: v for k, v in filters.items() if v}),
        },
    )


def _queue_row(session, document: Document) -> dict[str, Any]:
    """A queue row with the LLM's agreement mark (None: not asked) beside the classifier's label."""
    prediction = queries.get_prediction(session, document.prediction_id)  # already in the session: no new query
    opinion = (prediction.payload or {}).get("llm_opinion") if prediction else None
    return {
        **queue_item(session, document).model_dump(),
        "llm": agreement(opinion),
        "llm_label": (opinion or {}).get("label"),
    }


LOCAL_CAUTION = (
    "The small local model (SmolLM2-135M) is near chance on this task: accuracy 0.23 and macro-F1 0.13 on "
    "100 test documents (chance 0.20). Treat its label as a placeholder and check every claim of its "
    "rationale against the text."
)
REMOTE_CAUTION = "LLM advice: check every claim of its rationale against the text."


def _opinions(request: Request) -> OpinionWorker | None:
    """The app's LLM worker (started in the lifespan), which answers "Ask the LLM" in the background."""
    return getattr(request.app.state, "llm_opinions", None)


ASKED_KEY = "llm_asked"  # session: document id -> [when this login last asked (ISO UTC), about which prediction]
ASKED_KEEP = 20  # questions remembered per login (the cookie stays small)


def _hhmm(stamp: str | None) -> str:
    """``2026-11-25T10:42:07Z`` -> ``10:42`` (the page says UTC)."""
    return (stamp or "")[11:16] or "?"


def _llm_panel(
    request: Request,
    state,
    user: User,
    document: Document,
    prediction: dict[str, Any] | None,
    pending: tuple[AskedOpinion, int | None] | None,
) -> dict[str, Any]:
    """What the page shows beside the prediction: the LLM's opinion (if asked), the agreement mark, a caution,
    and a question still waiting for the LLM (the page then polls) or one a restart dropped.

    ``pending`` must be read before ``prediction``: the worker stores the opinion before the question
    stops being pending, so "not pending and no newer opinion" means it was not answered.
    """
    opinion = (prediction or {}).get("llm_opinion")
    backend = (opinion or {}).get("backend") or state.settings.llm_backend
    mark = (request.session.get(ASKED_KEY) or {}).get(str(document.id))
    asked_here = mark[0] if isinstance(mark, list) and len(mark) == 2 and mark[1] == document.prediction_id else None
    answered = bool(opinion and asked_here and str(opinion.get("asked_at") or "") >= asked_here)
    waiting = None
    if pending is not None:
        asked, ahead = pending
        waiting = {"at": _hhmm(asked.stamp), "by": asked.asked_by, "ahead": ahead}
    return {
        "opinion": opinion,
        "agreement": agreement(opinion),
        "caution": LOCAL_CAUTION if str(backend).startswith("local") else REMOTE_CAUTION,
        "mode": review_mode(state.settings),
        "can_ask": prediction is not None and allowed(user.role, "review") and waiting is None,
        "waiting": waiting,
        "unanswered": _hhmm(asked_here) if asked_here and waiting is None and not answered else None,
        "poll": f"/ui/documents/{document.id}?panel=llm" if waiting else None,
    }


def _remember_ask(request: Request, document: Document, stamp: str) -> None:
    """Keep when this login asked about which prediction (the newest ``ASKED_KEEP``), so that after a restart
    the page can say the question was not answered: the pending question lived in the old process's memory.
    A new prediction (reclassified) is not "unanswered": it was never asked about."""
    asked = dict(request.session.get(ASKED_KEY) or {})
    asked.pop(str(document.id), None)
    asked[str(document.id)] = [stamp, document.prediction_id]
    request.session[ASKED_KEY] = dict(list(asked.items())[-ASKED_KEEP:])


def _next_in_queue(session, after: int) -> int | None:
    rows, _ = queries.review_queue(session, page=1, page_size=2)
    return next((d.id for d in rows if d.id != after), None)


def _document_context(
    request: Request,
    state,
    session,
    user: User,
    document: Document,
    prediction: dict[str, Any] | None,
    pending: tuple[AskedOpinion, int | None] | None,
) -> dict:
    events = [event_out(e) for e in queries.history(session, document.id)]
    probabilities = (prediction or {}).get("probabilities", {})
    return {
        "user": user,
        "doc": document,
        "prediction": prediction,
        "probabilities": [(label, probabilities.get(label, 0.0)) for label in LABELS],
        "segments": highlight(document.text, document.stakeholders or [], (prediction or {}).get("evidence", [])),
        "stakeholders": document.stakeholders or [],
        "events": events,
        "can_review": allowed(user.role, "review") and document.prediction_id is not None,
        "types": STAKEHOLDER_TYPES,
        "roles": ROLES,
        "international_levels": INTERNATIONAL_LEVELS,
        "shortcut_keys": SHORTCUT_KEYS,
        "next_id": _next_in_queue(session, document.id),
        "error": None,
        "llm": _llm_panel(request, state, user, document, prediction, pending),
    }


def _pending(request: Request, document_id: int) -> tuple[AskedOpinion, int | None] | None:
    worker = _opinions(request)
    return worker.pending(document_id) if worker is not None else None


@router.get("/ui/documents/{document_id}", response_class=HTMLResponse)
def document_page(
    document_id: RowId,
    request: Request,
    state: StateDep,
    session: SessionDep,
    user: PageUser,
    panel: str | None = None,
):
    """The document page; ``?panel=llm`` is only its LLM panel, which the page's script fetches while a
    question waits for the LLM (a fragment of the same page: same login, same escaping, no JSON twin to keep)."""
    try:
        document = queries.get_document(session, document_id)
    except queries.NotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no document {document_id}") from None
    pending = _pending(request, document_id)  # before the prediction is read: see _llm_panel
    prediction = intake.ensure_evidence(state, document)
    if panel == "llm":
        context = {
            "csrf": csrf_token(request.session),
            "models": {m.label: m for m in MODELS},
            "doc": document,
            "prediction": prediction,
            "can_review": allowed(user.role, "review") and document.prediction_id is not None,
            "llm": _llm_panel(request, state, user, document, prediction, pending),
        }
        answer = templates.TemplateResponse(request, "llm_panel.html", context)
        answer.headers["Cache-Control"] = "no-store"
        return answer
    context = _document_context(request, state, session, user, document, prediction, pending)
    return _render(request, "document.html", context)


def _stakeholders_from_form(form) -> list[dict[str, Any]]:
    """Rows of the stakeholder editor (``sh_text``/``sh_type``/``sh_role``); rows with no name are dropped."""
    rows = zip(form.getlist("sh_text"), form.getlist("sh_type"), form.getlist("sh_role"), strict=False)
    found = []
    for text, kind, role in rows:
        if not str(text).strip():
            continue
        try:
            found.append(StakeholderIn(name=str(text).strip(), type=kind, role=role).model_dump(exclude_none=True))
        except ValidationError:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, f"stakeholder {text!r}: unknown type or role"
            ) from None
    return found


@router.post("/ui/documents/{document_id}/review", response_class=HTMLResponse)
def review_from_page(document_id: RowId, request: Request, state: StateDep, session: SessionDep, page: ReviewForm):
    form, user = page.form, page.user
    label = str(form.get("label") or "")
    if label not in LABELS:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "pick one of the labels A-E")
    try:
        version = int(str(form.get("version") or "0"))
    except ValueError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "missing document version") from None
    stakeholders = _stakeholders_from_form(form)
    testbed = {"yes": True, "no": False}.get(str(form.get("testbed") or ""))
    international = str(form.get("international") or "") or None
    if international not in (None, *INTERNATIONAL_LEVELS):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "unknown international level")
    comment = str(form.get("comment") or "")[:5000]
    try:
        queries.review_document(
            session,
            document_id,
            user,
            version=version,
            label=label,
            stakeholders=stakeholders,
            comment=comment,
            testbed=testbed,
            international=international,
        )
        session.commit()
    except queries.NotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no document {document_id}") from None
    except queries.Conflict as exc:
        session.rollback()
        pending = _pending(request, document_id)
        document = queries.get_document(session, document_id)
        prediction = queries.get_prediction(session, document.prediction_id)
        payload = prediction.payload if prediction else None
        context = _document_context(request, state, session, user, document, payload, pending)
        context["error"] = str(exc)
        return _render(request, "document.html", context, code=status.HTTP_409_CONFLICT)
    request.session["flash"] = f"Document {document_id} reviewed as {label}."
    following = _next_in_queue(session, document_id)
    target = f"/ui/documents/{following}" if following else "/ui/queue"
    return RedirectResponse(target, status.HTTP_303_SEE_OTHER)


@router.post("/ui/documents/{document_id}/llm")
def ask_the_llm(document_id: RowId, request: Request, session: SessionDep, page: AskForm) -> RedirectResponse:
    """'Ask the LLM' (reviewers): queue a second opinion on the current prediction and go straight back to the
    page, which shows the question waiting and fetches the answer once it is stored.

    Why queued: the local SmolLM2 takes seconds to minutes on 2 cores, and the request held a server
    thread and the reviewer that long. A document is queued once however often it is asked; a full
    lane or a reviewer with too many questions waiting gets a message, not a queued question.
    """
    try:
        document = queries.get_document(session, document_id)
    except queries.NotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no document {document_id}") from None
    back = RedirectResponse(f"/ui/documents/{document_id}#llm", status.HTTP_303_SEE_OTHER)
    if document.prediction_id is None:
        request.session["flash"] = "Not classified yet: there is no prediction to compare with."
        return back
    worker = _opinions(request)
    if worker is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the LLM worker is not running; retry later")
    try:
        asked, queued = worker.request(document_id, page.user)
    except AskRefused as exc:
        request.session["flash"] = str(exc)
        return back
    if queued:
        _remember_ask(request, document, asked.stamp)
        request.session["flash"] = (
            f"Asked the LLM at {_hhmm(asked.stamp)} UTC: its answer appears below when it is ready."
        )
    else:
        request.session["flash"] = (
            f"Already asked at {_hhmm(asked.stamp)} UTC by {asked.asked_by} and still waiting for the LLM: "
            "not asked twice."
        )
    return back


@router.get("/ui/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, state: StateDep, session: SessionDep, user: PageUser):
    by_status = queries.counts_by(session, "status")
    by_label = sorted(queries.counts_by(session, "label"))
    by_city = queries.counts_by(session, "city")[:12]
    overview = models_overview(state)
    serving = next((v for v in overview.versions if v.serving), None)
    return _render(
        request,
        "dashboard.html",
        {
            "user": user,
            "by_status": by_status,
            "by_label": by_label,
            "by_city": by_city,
            "label_chart": bar_chart(by_label, {m.label: f"{m.label} {m.name.removesuffix(' Model')}" for m in MODELS}),
            "city_chart": bar_chart(by_city),
            "serving": serving,
            "overview": overview,
            "queue_size": queries.queue_size(session),
        },
    )
