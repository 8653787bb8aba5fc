"""``/models``: versions, retraining in the background, promote and roll back (admin), all without a restart."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status
from fastapi.concurrency import run_in_threadpool

from api.deps import SessionDep, StateDep, require
from api.jobs.retrain import JobBusy
from api.routes.convert import job_out
from api.schemas import JobOut, ModelOut, ModelsOut, RowId, errors
from api.store import queries
from api.store.tables import User
from training.registry import RegistryError

__all__ = ["models_overview", "router"]

router = APIRouter(prefix="/models", tags=["models"])


def models_overview(state) -> ModelsOut:
    """Versions on disk with their test figures, the serving one and the promotion history."""
    registry = state.holder.registry
    loaded = state.holder.version
    versions = [
        ModelOut(
            version=info.version,
            serving=info.serving,
            loaded=info.version == loaded,
            test_macro_f1=info.metrics.get("test", {}).get("macro_f1"),
            test_accuracy=info.metrics.get("test", {}).get("accuracy"),
            metrics={k: info.metrics[k] for k in ("test", "comparison", "data", "calibration") if k in info.metrics},
        )
        for info in registry.versions()
    ]
    history = json.loads(registry.file.read_text(encoding="utf-8")).get("history", []) if registry.file.exists() else []
    return ModelsOut(serving=registry.serving(), loaded=loaded, versions=versions, history=history[-50:])


@router.get("", response_model=ModelsOut, summary="Model versions, the serving one, promotion history")
def list_models(state: StateDep, _: Annotated[User, Depends(require("read"))]) -> ModelsOut:
    return models_overview(state)


@router.post(
    "/retrain",
    response_model=JobOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start a retraining job (corpus train split + accepted reviews)",
    responses={409: {"description": "A retraining job is already running"}},
)
def retrain(
    response: Response, state: StateDep, session: SessionDep, admin: Annotated[User, Depends(require("admin"))]
) -> JobOut:
    try:
        job_id = state.jobs.start(admin)
    except JobBusy as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    response.headers["Location"] = f"/models/jobs/{job_id}"
    return job_out(queries.get_job(session, job_id))


@router.get("/jobs", response_model=list[JobOut], summary="Recent jobs, newest first")
def list_jobs(session: SessionDep, _: Annotated[User, Depends(require("admin"))]) -> list[JobOut]:
    return [job_out(j) for j in queries.list_jobs(session)]


@router.get("/jobs/{job_id}", response_model=JobOut, summary="One job: status and the recorded comparison")
def read_job(job_id: RowId, session: SessionDep, _: Annotated[User, Depends(require("admin"))]) -> JobOut:
    try:
        return job_out(queries.get_job(session, job_id))
    except queries.NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


@router.post(
    "/rollback",
    response_model=ModelsOut,
    summary="Serve the previously promoted version again",
    responses=errors(409),  # nothing to roll back to
)
async def rollback(state: StateDep, admin: Annotated[User, Depends(require("admin"))]) -> ModelsOut:
    def work() -> ModelsOut:
        before = state.holder.registry.serving()
        try:
            version = state.holder.rollback(f"rollback by {admin.name}")
        except RegistryError as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
        with state.db.session() as session:
            queries.record_event(session, admin, "rolled_back", {"from": before, "to": version}, model_version=version)
        return models_overview(state)

    return await run_in_threadpool(work)


@router.post("/{version}/promote", response_model=ModelsOut, summary="Serve this version (loaded, then swapped)")
async def promote(version: str, state: StateDep, admin: Annotated[User, Depends(require("admin"))]) -> ModelsOut:
    def work() -> ModelsOut:
        before = state.holder.registry.serving()
        try:
            state.holder.promote(version, f"promoted by {admin.name}")
        except RegistryError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
        with state.db.session() as session:
            queries.record_event(session, admin, "promoted", {"from": before, "to": version}, model_version=version)
        return models_overview(state)

    return await run_in_threadpool(work)
