"""The one settings object: the only place that reads the environment (prefix ``PARTNERSHIP_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["ROOT", "Settings", "get_settings"]


class Settings(BaseSettings):
    """Where data, models and the database live. Every field can be set as ``PARTNERSHIP_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="PARTNERSHIP_", env_file=".env", extra="ignore")

    data_dir: Path = Field(ROOT / "data", description="Corpus, splits and samples.")
    models_dir: Path = Field(ROOT / "models", description="Saved model versions, one folder each.")
    var_dir: Path = Field(ROOT / "var", description="Runtime state: SQLite file, uploads, job folders.")

    # The service (issue 5).
    database_url: str | None = Field(
        None,
        validation_alias=AliasChoices("PARTNERSHIP_DATABASE_URL", "DATABASE_URL", "database_url"),
        description="SQLAlchemy URL; default: an SQLite file var/partnership.db (nothing to set up).",
    )
    host: str = Field("127.0.0.1", description="Address `partnership serve` binds to.")
    port: int = Field(8000, description="Port `partnership serve` listens on.")
    max_upload_bytes: int = Field(20 * 1024 * 1024, description="Largest accepted document (bytes); above: 413.")
    extract: bool | None = Field(
        None, description="Stakeholder extraction in the service: None = on when classifier.extraction imports."
    )
    explain_on_submit: bool = Field(
        False,
        description="Compute evidence sentences while answering POST /documents (about 10x slower); otherwise "
        "they are computed on the first detail view and stored.",
    )
    int8: bool = Field(False, description="Serve the int8-quantized model.")
    backend: Literal["torch", "onnx"] = Field(
        "torch", description="Model runtime: torch, or onnx (ONNX Runtime, exported once into the model folder)."
    )
    batch_size: int = Field(16, description="Most submissions classified together by the micro-batcher.")
    session_secret: SecretStr | None = Field(
        None, description="Signs the review page's session cookie; generated into var/session_secret if unset."
    )
    session_max_age: int = Field(8 * 3600, description="Seconds a review-page login lasts.")
    page_size: int = Field(20, description="Documents per page in lists and the review queue.")
    rate_limit_per_minute: int = Field(
        600, ge=0, description="Requests per minute per API token (or page login), per process; 0 = no limit."
    )
    rate_limit_ip_per_minute: int = Field(
        600, ge=0, description="Requests per minute per client IP without a valid token, per process; 0 = no limit."
    )
    retrain_epochs: int = Field(4, description="Fine-tune epochs of `POST /models/retrain`.")
    retrain_max_length: int = Field(256, description="Tokens per document when retraining.")
    retrain_batch_size: int = Field(16, description="Training batch size when retraining.")
    retrain_freeze_layers: int = Field(2, description="Frozen encoder layers when retraining.")
    retrain_learning_rate: float = Field(8e-5, description="Learning rate when retraining.")
    retrain_baselines: bool = Field(True, description="Also score the TF-IDF and zero-shot baselines on test.")
    batches_dir: Path | None = Field(
        None, description="Where `POST /batches` uploads and their journals live (default: var_dir/batches)."
    )
    batch_max_upload_bytes: int = Field(
        200 * 1024 * 1024, description="Largest accepted batch upload (ZIP, CSV or JSONL, bytes); above: 413."
    )
    batch_chunk_size: int = Field(16, ge=1, description="Documents a batch classifies and journals at a time.")
    batch_retention_days: int = Field(
        30,
        ge=0,
        description="Days a finished batch's folder (upload and outputs) is kept, then removed at startup or by the "
        "hourly sweep; its documents and predictions stay in the database, its downloads answer 410. 0 = forever.",
    )

    # LLM assistance (issue 7): pre-labels, second opinions and rationales, see docs/llm.md.
    llm_backend: str = Field("local", description="LLM backend: local (SmolLM2, offline), openai, or local.v1...")
    llm_base_url: str | None = Field(
        None,
        validation_alias=AliasChoices("PARTNERSHIP_LLM_BASE_URL", "LLM_BASE_URL", "llm_base_url"),
        description="OpenAI-compatible endpoint including /v1, e.g. http://127.0.0.1:8001/v1.",
    )
    llm_model: str | None = Field(
        None,
        validation_alias=AliasChoices("PARTNERSHIP_LLM_MODEL", "LLM_MODEL", "llm_model"),
        description="Model name at the endpoint; default: the first one GET /models lists.",
    )
    llm_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("PARTNERSHIP_LLM_API_KEY", "LLM_API_KEY", "llm_api_key"),
        description="Bearer token for the endpoint.",
    )
    llm_timeout: float = Field(60.0, gt=0, description="Seconds one LLM call may take; then the opinion is unknown.")
    llm_concurrency: int = Field(2, ge=1, description="LLM calls in flight at once (a semaphore).")
    llm_ask_queue_size: int = Field(
        8, ge=1, description="Reviewers' 'Ask the LLM' questions waiting at once; more are refused with a message."
    )
    llm_ask_per_user: int = Field(3, ge=1, description="Of those, how many one reviewer may hold.")
    llm_method: str = Field("auto", description="auto, generate (JSON answer) or score (letter log-probabilities).")
    llm_max_new_tokens: int = Field(160, ge=8, description="Tokens the LLM may generate per answer.")
    llm_threads: int | None = Field(None, description="torch threads for the local LLM (default: torch's choice).")
    llm_cache_dir: Path | None = Field(
        None, description="Where the local model, once converted from GGUF, is cached (default: var_dir/llm-cache)."
    )
    llm_review: Literal["off", "needs_review", "all"] | None = Field(
        None,
        description="Which predictions get an LLM second opinion in the background: off, needs_review or all. "
        "Unset: needs_review when an OpenAI-compatible endpoint is configured (llm_backend openai and "
        "llm_base_url), off for the local SmolLM2 (near chance, seconds per document on the server's cores). "
        "The review page's 'Ask the LLM' button works in every mode.",
    )

    @property
    def batches_path(self) -> Path:
        """The batch uploads' folder in force: ``batches_dir``, else ``var_dir/batches``."""
        return self.batches_dir or self.var_dir / "batches"

    @property
    def corpus_dir(self) -> Path:
        return self.data_dir / "corpus"

    @property
    def splits_file(self) -> Path:
        return self.data_dir / "splits.json"

    @property
    def samples_dir(self) -> Path:
        return self.data_dir / "samples"

    @property
    def database(self) -> str:
        """The database URL in force: the configured one, else the SQLite file under ``var_dir``."""
        if self.database_url:
            url = self.database_url
            for old in ("postgres://", "postgresql://"):  # plain URLs mean psycopg 3, the driver we install
                if url.startswith(old):
                    return "postgresql+psycopg://" + url[len(old) :]
            return url
        return f"sqlite:///{self.var_dir / 'partnership.db'}"


@lru_cache
def get_settings() -> Settings:
    """Settings read once per process."""
    return Settings()
