"""The session secret: from settings, else generated once into var/ (mode 600) and reused."""

from __future__ import annotations

from api.security import allowed, session_secret
from api.settings import Settings


def test_session_secret_is_generated_once_into_var_and_kept_private(tmp_path):
    settings = Settings(var_dir=tmp_path / "var")
    first = session_secret(settings)
    path = tmp_path / "var" / "session_secret"
    assert len(first) >= 60 and path.read_text().strip() == first
    assert path.stat().st_mode & 0o777 == 0o600
    assert session_secret(settings) == first
    assert session_secret(Settings(var_dir=tmp_path / "var", session_secret="configured")) == "configured"


def test_roles():
    assert allowed("admin", "review") and allowed("admin", "submit") and allowed("admin", "admin")
    assert allowed("reviewer", "review") and not allowed("reviewer", "submit") and not allowed("reviewer", "admin")
    assert allowed("submitter", "submit") and not allowed("submitter", "review")
    assert all(allowed(role, "read") for role in ("submitter", "reviewer", "admin"))
