"""The FastAPI application: ``create_app(settings)`` wires storage, the serving model, jobs and routes.

At startup the database is migrated to the latest schema, the serving model is
loaded (the service also starts without one: submissions are then stored as
``received``), and the micro-batcher and the retraining runner start.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from starlette.middleware.sessions import SessionMiddleware

from api.deps import AppState, declare_error_responses, reject_unknown_query
from api.jobs.backlog import ReceivedBacklog
from api.jobs.batches import BatchRunner
from api.jobs.opinions import OpinionWorker
from api.jobs.retrain import RetrainRunner, recover_interrupted
from api.metrics import Metrics, MetricsMiddleware
from api.ratelimit import RateLimitMiddleware
from api.routes import batches, documents, health, models, pages, review, users
from api.security import session_secret
from api.serving import Batcher, ModelHolder
from api.settings import Settings, get_settings
from api.store import queries
from api.store.db import Database, StorageFull, is_storage_full

__all__ = ["STATIC_DIR", "create_app"]

log = logging.getLogger(__name__)
STATIC_DIR = pages.TEMPLATES_DIR.parent / "static"

DESCRIPTION = """Classify smart-city project documents into five partnership models (A City-Led, B
City-Private Collaborative, C Public-Private Investment, D Public-Private SPC, E Private-Led), review
the predictions, and retrain from the reviews. Authenticate with `Authorization: Bearer <token>`
(`partnership users create NAME --role submitter|reviewer|admin`). The review page is at `/ui`."""


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new application over ``settings`` (default: the environment's)."""
    settings = settings or get_settings()
    db = Database(settings.database)
    holder = ModelHolder(
        settings.models_dir,
        extract=settings.extract,
        int8=settings.int8,
        explain=settings.explain_on_submit,
        backend=settings.backend,
    )
    metrics = Metrics()
    state = AppState(settings=settings, db=db, holder=holder, metrics=metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db.upgrade()
        recover_interrupted(settings, db)  # retraining jobs the previous process left running
        app.state.backlog = ReceivedBacklog(state, settings.batch_size)
        app.state.batch_runner = BatchRunner(state)
        holder.add_listener(app.state.backlog.kick)  # a model starts serving: classify what waited for one
        holder.add_listener(app.state.batch_runner.resume)
        try:
            version = holder.load_serving()
            log.info("serving model %s", version or "(none yet)")
        except Exception:  # a broken model folder must not keep the service (and its pages) down
            log.exception("could not load the serving model")
        state.batcher = Batcher(holder, settings.batch_size)
        state.jobs = RetrainRunner(settings, db, holder)
        app.state.batch_runner.resume()  # batches a restart interrupted carry on from their journals
        app.state.batch_runner.start_retention()  # old batches' files: removed now, then hourly
        app.state.llm_opinions = OpinionWorker(settings, db).start()  # LLM second opinions (llm_review)
        try:
            yield
        finally:
            app.state.batch_runner.shutdown()
            app.state.backlog.shutdown()
            app.state.llm_opinions.close()
            state.batcher.close()
            state.jobs.shutdown()
            db.dispose()

    def queue_size() -> float:
        with db.sessions() as session:
            return queries.queue_size(session)

    metrics.gauge("partnership_review_queue_size", "Predicted documents awaiting review.", queue_size)
    metrics.gauge("partnership_model_loaded", "1 when a model version is serving.", lambda: holder.version is not None)

    app = FastAPI(
        title="Partnership classifier",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url="/redoc",
        openapi_url="/openapi.json",
        dependencies=[Depends(reject_unknown_query)],
    )
    app.state.partnership = state

    def known_token(token: str) -> bool:
        with db.sessions() as session:
            return queries.user_by_token(session, token) is not None

    app.add_middleware(  # inside the session middleware (added after it), so page logins are limited per user
        RateLimitMiddleware,
        per_token=settings.rate_limit_per_minute,
        per_ip=settings.rate_limit_ip_per_minute,
        known_token=known_token,
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings),
        session_cookie="partnership_session",
        max_age=settings.session_max_age,
        same_site="strict",
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (health, documents, review, models, users, batches, pages):
        app.include_router(module.router)
    app.add_exception_handler(pages.LoginRequired, pages.login_redirect)  # a page without a login: to the login

    @app.exception_handler(StorageFull)
    @app.exception_handler(OperationalError)
    async def database_trouble(request, exc: Exception) -> JSONResponse:  # a clear 507/503, not a bare 500
        log.error("database error on %s %s: %s", request.method, request.url.path, exc)
        if is_storage_full(exc):
            return JSONResponse({"detail": f"insufficient storage: {exc}"}, status_code=507)
        return JSONResponse({"detail": "the database is unavailable; retry later"}, status_code=503)

    declare_error_responses(app)  # after every router: 401/403/429 with the error schema in the OpenAPI
    return app
