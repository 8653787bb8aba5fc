"""Size limits shared by the upload routes: refused from the declared length before the body is read."""

from __future__ import annotations

from fastapi import HTTPException, Request, status

__all__ = ["MULTIPART_OVERHEAD", "refuse_declared_oversize", "too_large"]

MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file itself


def too_large(limit: int, what: str) -> HTTPException:
    """The 413 for a ``what`` ("document", "upload") over ``limit`` bytes."""
    return HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"{what} is larger than the {limit / 1e6:.0f} MB limit")


def refuse_declared_oversize(request: Request, limit: int, what: str) -> None:
    """413 at once when Content-Length already says the body cannot fit (the body is still counted as read)."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit + MULTIPART_OVERHEAD:
        raise too_large(limit, what)
