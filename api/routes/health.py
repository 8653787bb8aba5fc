"""``/health`` for load balancers and ``/metrics`` for Prometheus; neither needs a token."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from sqlalchemy import text

from api.deps import StateDep
from api.schemas import Health

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="Database reachable and which model serves")
def health(state: StateDep) -> Health:
    try:
        with state.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        database = state.db.backend
    except Exception as exc:  # report, don't raise: health must answer
        database = f"error: {type(exc).__name__}"
    ok = not database.startswith("error") and state.holder.version is not None
    return Health(
        status="ok" if ok else "degraded",
        database=database,
        model_version=state.holder.version,
        extraction=state.holder.extract,
    )


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus text format")
def metrics(state: StateDep) -> PlainTextResponse:
    return PlainTextResponse(state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
