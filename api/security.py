"""Who may do what: roles per action, the review page's session secret, and CSRF tokens for its forms.

API clients send ``Authorization: Bearer <token>``; the page keeps the user id
in a signed session cookie, and every form carries a per-session CSRF token.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from api.settings import Settings

__all__ = ["PERMISSIONS", "allowed", "csrf_token", "csrf_valid", "session_secret"]

# Admins may do everything; submitters only submit, reviewers only review; everyone signed in may read.
PERMISSIONS: dict[str, frozenset[str]] = {
    "read": frozenset({"submitter", "reviewer", "admin"}),
    "submit": frozenset({"submitter", "admin"}),
    "review": frozenset({"reviewer", "admin"}),
    "admin": frozenset({"admin"}),
}


def allowed(role: str, action: str) -> bool:
    return role in PERMISSIONS[action]


def session_secret(settings: Settings) -> str:
    """The configured secret, else one generated once into ``var/session_secret`` (mode 600, never committed)."""
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value()
    path = Path(settings.var_dir) / "session_secret"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    return secret


def csrf_token(session: dict) -> str:
    """The session's CSRF token, created on first use."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_valid(session: dict, sent: str | None) -> bool:
    expected = session.get("csrf")
    return bool(expected and sent and hmac.compare_digest(str(expected), str(sent)))
