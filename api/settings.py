"""The one settings object: the only place that reads the environment (prefix ``PARTNERSHIP_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["ROOT", "Settings", "get_settings"]


class Settings(BaseSettings):
    """Where data, models and the database live. Every field can be set as ``PARTNERSHIP_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="PARTNERSHIP_", env_file=".env", extra="ignore")

    data_dir: Path = Field(ROOT / "data", description="Corpus, splits and samples.")
    models_dir: Path = Field(ROOT / "models", description="Saved model versions, one folder each.")
    var_dir: Path = Field(ROOT / "var", description="Runtime state: SQLite file, uploads, job folders.")

    @property
    def corpus_dir(self) -> Path:
        return self.data_dir / "corpus"

    @property
    def splits_file(self) -> Path:
        return self.data_dir / "splits.json"


@lru_cache
def get_settings() -> Settings:
    """Settings read once per process."""
    return Settings()
