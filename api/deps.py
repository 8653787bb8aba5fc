"""FastAPI dependencies: the app's state, a database session, and the current user with a role check.

API clients authenticate with ``Authorization: Bearer <token>``; missing or
unknown tokens get 401, a valid token of the wrong role 403.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, get_args, get_origin

from fastapi import Depends, FastAPI, HTTPException, Request, params, status
from fastapi.dependencies.utils import get_flat_params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.metrics import Metrics
from api.schemas import ErrorOut, errors
from api.security import allowed
from api.serving import Batcher, ModelHolder
from api.settings import Settings
from api.store.db import Database
from api.store.queries import user_by_token
from api.store.tables import User

__all__ = [
    "AppState",
    "CurrentUser",
    "SessionDep",
    "StateDep",
    "declare_error_responses",
    "get_session",
    "get_state",
    "reject_unknown_query",
    "require",
]


@dataclass
class AppState:
    """Everything a request may need, built once by ``create_app``."""

    settings: Settings
    db: Database
    holder: ModelHolder
    metrics: Metrics
    batcher: Batcher | None = None
    jobs: object | None = None  # api.jobs.retrain.RetrainRunner, set at startup


def get_state(request: Request) -> AppState:
    return request.app.state.partnership


StateDep = Annotated[AppState, Depends(get_state)]


def get_session(state: StateDep) -> Iterator[Session]:
    """A session per request; routes that write commit explicitly so errors reach the client."""
    with state.db.sessions() as session:
        try:
            yield session
        except Exception:
            session.rollback()
            raise


SessionDep = Annotated[Session, Depends(get_session)]


# Declares the scheme in the OpenAPI (the docs' "Authorize" button, fuzzers' auth checks); we answer 401 ourselves.
bearer_scheme = HTTPBearer(auto_error=False, description="An API token: `partnership users create NAME --role ROLE`.")


def current_user(
    session: SessionDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> User:
    token = credentials.credentials.strip() if credentials else ""
    user = user_by_token(session, token) if token else None
    # End the read transaction now: the connection goes back to the pool while the route waits (for the
    # model, an upload), instead of being held for the whole request; the session keeps ``user`` loaded.
    session.commit()
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or invalid API token: send 'Authorization: Bearer <token>' "
            "(create one with `partnership users create NAME --role ROLE`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require(action: str) -> Callable[[User], User]:
    """A dependency that lets the request through only if the user's role may do ``action``."""

    def check(user: CurrentUser) -> User:
        if not allowed(user.role, action):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {user.role!r} may not {action}")
        return user

    return check


def declare_error_responses(app: FastAPI) -> None:
    """Declare in the OpenAPI what every operation may answer besides its own codes, all as ``ErrorOut``.

    Why on the finished document and not per route: operations added later (by anyone) are covered too.
    429 (rate limit) can hit every operation; 401 and 403 every one that needs a token (its ``security``); 404
    every one with a path parameter (an id that does not exist); 400 every one with a body (one that does not
    parse). Error answers declared without a body schema get ``ErrorOut``.
    """
    generate = app.openapi
    ref = {"$ref": "#/components/schemas/ErrorOut"}

    def openapi() -> dict:
        if app.openapi_schema and app.openapi_schema.get("x-error-responses"):
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {}).setdefault("schemas", {})["ErrorOut"] = ErrorOut.model_json_schema()
        for item in schema.get("paths", {}).values():
            for method, operation in item.items():
                if method not in {"get", "put", "post", "delete", "patch", "head", "options"}:
                    continue
                responses = operation.setdefault("responses", {})
                codes = [422, 429]  # 422: an unknown query parameter (``reject_unknown_query``)
                codes += [401, 403] if operation.get("security") else []
                codes += [404] if any(p.get("in") == "path" for p in operation.get("parameters", [])) else []
                codes += [400] if "requestBody" in operation else []  # a body that does not parse
                for code, entry in errors(*codes).items():
                    responses.setdefault(str(code), {"description": entry["description"]})
                for code, entry in responses.items():
                    if code.isdigit() and int(code) >= 400 and "content" not in entry:
                        entry["content"] = {"application/json": {"schema": ref}}
        schema["x-error-responses"] = True
        app.openapi_schema = schema
        return schema

    app.openapi = openapi


def _is_sequence(annotation: object) -> bool:
    origins = {annotation, get_origin(annotation), *(get_origin(a) for a in get_args(annotation))}
    return bool(origins & {list, set, tuple, frozenset})


def reject_unknown_query(request: Request) -> None:
    """422 for a query parameter the API operation does not declare, or a single-valued one sent twice: a
    typo such as ``?lable=A`` must not silently list everything, nor ``?label=A&label=B`` quietly use B.
    Pages (not in the OpenAPI) are left alone."""
    route = request.scope.get("route")
    if not request.query_params or not isinstance(route, APIRoute) or not route.include_in_schema:
        return
    fields = {f.alias: f for f in get_flat_params(route.dependant) if isinstance(f.field_info, params.Query)}
    problems = [(name, "unknown query parameter") for name in sorted(set(request.query_params) - fields.keys())]
    problems += [
        (name, "given more than once; it takes one value")
        for name, field in sorted(fields.items())
        if len(request.query_params.getlist(name)) > 1 and not _is_sequence(field.field_info.annotation)
    ]
    if problems:  # in FastAPI's validation error shape, as for any other invalid parameter
        expected = ", ".join(sorted(fields)) or "none"
        raise RequestValidationError(
            [
                {
                    "type": "extra_forbidden",
                    "loc": ("query", name),
                    "msg": f"{problem}; this operation takes {expected}",
                    "input": request.query_params.getlist(name),
                }
                for name, problem in problems
            ]
        )
