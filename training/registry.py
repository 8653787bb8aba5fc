"""Model versions on disk: list them, know which one serves, promote and roll back.

``models/<version>/`` holds each version; ``models/registry.json`` records the
serving version and every promotion, so a rollback returns to the previous one
and a restart always serves the last promoted version. Writes go through a
temporary file and ``os.replace`` so a crash never leaves a half-written record.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["ModelRegistry", "RegistryError", "VersionInfo"]


class RegistryError(RuntimeError):
    """A version that does not exist, or nothing to roll back to."""


@dataclass(frozen=True)
class VersionInfo:
    """A saved version and its headline figures from metrics.json."""

    version: str
    path: Path
    serving: bool
    metrics: dict


class ModelRegistry:
    """The versions under one models folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.file = self.root / "registry.json"

    def _read(self) -> dict:
        if not self.file.exists():
            return {"serving": None, "history": []}
        return json.loads(self.file.read_text(encoding="utf-8"))

    def _write(self, data: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.file)

    def new_version(self) -> str:
        """A fresh, sortable version name like ``v20261125-041233``."""
        name = datetime.now(UTC).strftime("v%Y%m%d-%H%M%S")
        suffix, candidate = 1, name
        while (self.root / candidate).exists():
            suffix += 1
            candidate = f"{name}-{suffix}"
        return candidate

    def path(self, version: str) -> Path:
        folder = self.root / version
        if not (folder / "partnership.json").exists():
            raise RegistryError(f"no model version {version!r} in {self.root}")
        return folder

    def versions(self) -> list[VersionInfo]:
        """Complete versions (a partnership.json exists), oldest first.

        Hidden folders are skipped: a retrain saves into ``.<version>.partial`` and renames it when complete,
        so a half-written version is never listed, even once its partnership.json is written.
        """
        serving = self.serving()
        found = []
        folders = (p for p in self.root.glob("*") if not p.name.startswith("."))
        for folder in sorted(p for p in folders if (p / "partnership.json").exists()):
            metrics_file = folder / "metrics.json"
            metrics = json.loads(metrics_file.read_text(encoding="utf-8")) if metrics_file.exists() else {}
            found.append(VersionInfo(folder.name, folder, folder.name == serving, metrics))
        return found

    def serving(self) -> str | None:
        """The version that serves predictions, or None before the first promotion."""
        return self._read()["serving"]

    def serving_path(self) -> Path | None:
        version = self.serving()
        return self.path(version) if version else None

    def _record(self, data: dict, kind: str, version: str, reason: str) -> None:
        data["history"].append(
            {
                "kind": kind,
                "version": version,
                "previous": data["serving"],
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                "reason": reason,
            }
        )
        data["serving"] = version
        self._write(data)

    def promote(self, version: str, reason: str = "") -> None:
        """Make ``version`` the serving one and record why."""
        self.path(version)
        self._record(self._read(), "promote", version, reason)

    def _stack(self, data: dict) -> list[str]:
        stack: list[str] = []
        for entry in data["history"]:
            if entry.get("kind", "promote") == "promote":
                stack.append(entry["version"])
            elif stack:
                stack.pop()
        return stack

    def rollback(self, reason: str = "") -> str:
        """Serve the version promoted before the current one (repeated rollbacks keep going back)."""
        data = self._read()
        stack = self._stack(data)
        if len(stack) < 2:
            raise RegistryError("nothing to roll back to")
        previous = stack[-2]
        self._record(data, "rollback", previous, reason or f"rollback from {data['serving']}")
        return previous
