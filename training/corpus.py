"""The labeled corpus: its record schema and loading from ``data/corpus/*.jsonl``."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from classifier.taxonomy import GENRES, SECTORS, International, Label, Role, StakeholderType

__all__ = ["CORPUS_DIR", "DATA_DIR", "CorpusError", "CorpusRecord", "SpanAnnotation", "load_corpus", "read_jsonl"]

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
CORPUS_DIR = DATA_DIR / "corpus"


class CorpusError(ValueError):
    """The corpus cannot be read: a file or a line breaks the schema."""


class SpanAnnotation(BaseModel):
    """A stakeholder marked in a text by exact character offsets."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1)
    start: int = Field(ge=0)
    end: int = Field(gt=0)
    type: StakeholderType
    role: Role


class CorpusRecord(BaseModel):
    """One labeled project description, as stored one per line in the corpus JSONL files."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z]{2,8}-\d{4,6}$")
    text: str = Field(min_length=1)
    label: Label
    city: str = Field(min_length=1)
    country: str = Field(min_length=1)
    genre: str
    sector: str
    stakeholders: list[SpanAnnotation] = Field(default_factory=list)
    testbed: bool
    international: International

    @field_validator("genre")
    @classmethod
    def _known_genre(cls, value: str) -> str:
        if value not in GENRES:
            raise ValueError(f"unknown genre {value!r}; one of {', '.join(GENRES)}")
        return value

    @field_validator("sector")
    @classmethod
    def _known_sector(cls, value: str) -> str:
        if value not in SECTORS:
            raise ValueError(f"unknown sector {value!r}; one of {', '.join(SECTORS)}")
        return value

    @model_validator(mode="after")
    def _spans_inside_text(self) -> CorpusRecord:
        for span in self.stakeholders:
            if span.end > len(self.text) or span.start >= span.end:
                raise ValueError(f"span {span.text!r} [{span.start}:{span.end}] lies outside the text")
        return self


def read_jsonl(path: Path) -> list[dict]:
    """Raw JSON objects of a JSONL file, with the line number in any error."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{path.name}:{number}: not JSON ({exc.msg})") from None
    return rows


def load_corpus(corpus_dir: Path = CORPUS_DIR) -> list[CorpusRecord]:
    """Every record of every ``*.jsonl`` file in ``corpus_dir``, validated, in file then line order."""
    files = sorted(corpus_dir.glob("*.jsonl"))
    if not files:
        raise CorpusError(f"no *.jsonl files in {corpus_dir}")
    records: list[CorpusRecord] = []
    for path in files:
        for number, row in enumerate(read_jsonl(path), 1):
            try:
                records.append(CorpusRecord.model_validate(row))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise CorpusError(
                    f"{path.name}: record {number} ({row.get('id', '?')}): {where}: {first['msg']}"
                ) from None
    return records
