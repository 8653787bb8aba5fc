"""FastAPI dependencies: the app's state, a database session, and the current user with a role check.

API clients authenticate with ``Authorization: Bearer <token>``; missing or
unknown tokens get 401, a valid token of the wrong role 403.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.orm import Session

from api.metrics import Metrics
from api.security import allowed
from api.serving import Batcher, ModelHolder
from api.settings import Settings
from api.store.db import Database
from api.store.queries import user_by_token
from api.store.tables import User

__all__ = ["AppState", "CurrentUser", "SessionDep", "StateDep", "get_session", "get_state", "require"]


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


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def current_user(request: Request, session: SessionDep) -> User:
    token = _bearer(request)
    user = user_by_token(session, token) if token else None
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
