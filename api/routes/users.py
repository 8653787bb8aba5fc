"""``/users`` (admin): create accounts with a role; the token is returned once and stored hashed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status

from api.deps import SessionDep, require
from api.routes.convert import user_out
from api.schemas import UserCreated, UserIn, UserOut, errors
from api.store import queries
from api.store.tables import User

__all__ = ["router"]

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=list[UserOut], summary="Accounts and roles")
def list_users(session: SessionDep, _: Annotated[User, Depends(require("admin"))]) -> list[UserOut]:
    return [user_out(u) for u in queries.list_users(session)]


@router.post(
    "",
    response_model=UserCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Create an account",
    responses=errors(409),  # the name is taken
)
def create_user(body: UserIn, session: SessionDep, admin: Annotated[User, Depends(require("admin"))]) -> UserCreated:
    try:
        user, token = queries.create_user(session, body.name, body.role)
    except ValueError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    queries.record_event(session, admin, "user_created", {"name": user.name, "role": user.role})
    session.commit()
    return UserCreated(**user_out(user).model_dump(), token=token)
