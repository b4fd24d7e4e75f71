"""The per-file result record (the CLI contract) and its writers.

``results.jsonl`` holds one object per input file in input order; ``results.csv`` the same, flattened.
Both are written to a ``.part`` file and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field


class ErrorInfo(BaseModel):
    code: str
    message: str


class CandidateOut(BaseModel):
    item_code: str
    item_name: str
    confidence: float


class UnitOut(BaseModel):
    role: str
    name: str


class TagsOut(BaseModel):
    project_name: str | None = None
    doc_number: str | None = None
    doc_date: str | None = None
    units: list[UnitOut] = Field(default_factory=list)
    discipline: str | None = None
    keywords: list[str] = Field(default_factory=list)


class PartOut(BaseModel):
    """One document inside a multi-document file (pages 1-based, inclusive)."""

    first_page: int
    last_page: int
    item_code: str | None = None
    item_name: str | None = None
    class_code: str | None = None
    confidence: float | None = None
    class_confidence: float | None = None
    route: Literal["auto", "class", "review"]
    out_of_catalogue: bool = False
    start_probability: float = 1.0
    candidates: list[CandidateOut] = Field(default_factory=list)


class FileResult(BaseModel):
    file: str
    sha256: str | None = None
    status: Literal["ok", "error"]
    error: ErrorInfo | None = None
    pages: int | None = None
    text_source: str | None = None
    ocr_confidence: float | None = None
    stage: str | None = None
    class_code: str | None = None
    class_name: str | None = None
    item_code: str | None = None
    item_name: str | None = None
    confidence: float | None = None
    class_confidence: float | None = None
    # auto: item filed; class: filed under its class, item to review; review: a reviewer decides.
    route: Literal["auto", "class", "review"] | None = None
    out_of_catalogue: bool = False  # reads unlike any archive document: no label is given
    candidates: list[CandidateOut] = Field(default_factory=list)
    # Set when the file holds several documents back to back; the file-level fields then describe
    # the whole text and the file is routed to review unless every part is filed automatically.
    parts: list[PartOut] = Field(default_factory=list)
    model_version: str | None = None
    tags: TagsOut = Field(default_factory=TagsOut)
    warnings: list[str] = Field(default_factory=list)
    seconds: float = 0.0
    # The extracted text travels from the worker to the database, never into results.jsonl/csv.
    text: str | None = Field(default=None, exclude=True, repr=False)


CSV_COLUMNS = [
    "file", "sha256", "status", "error_code", "error_message", "pages", "text_source", "ocr_confidence",
    "stage", "class_code", "class_name", "item_code", "item_name", "confidence", "class_confidence", "route",
    "out_of_catalogue", "parts", "model_version", "project_name", "doc_number", "doc_date", "units", "discipline", "keywords",
    "candidates", "seconds",
]


def flatten(r: FileResult) -> dict[str, object]:
    return {
        "file": r.file, "sha256": r.sha256, "status": r.status,
        "error_code": r.error.code if r.error else "", "error_message": r.error.message if r.error else "",
        "pages": r.pages, "text_source": r.text_source,
        "ocr_confidence": None if r.ocr_confidence is None else round(r.ocr_confidence, 4),
        "stage": r.stage, "class_code": r.class_code, "class_name": r.class_name,
        "item_code": r.item_code, "item_name": r.item_name,
        "confidence": None if r.confidence is None else round(r.confidence, 4),
        "class_confidence": None if r.class_confidence is None else round(r.class_confidence, 4),
        "route": r.route, "out_of_catalogue": r.out_of_catalogue,
        "parts": "; ".join(f"{p.first_page}-{p.last_page}:{p.item_code or '?'}:{p.route}" for p in r.parts),
        "model_version": r.model_version,
        "project_name": r.tags.project_name, "doc_number": r.tags.doc_number, "doc_date": r.tags.doc_date,
        "units": "; ".join(f"{u.role}:{u.name}" for u in r.tags.units),
        "discipline": r.tags.discipline, "keywords": " ".join(r.tags.keywords),
        "candidates": "; ".join(f"{c.item_code}:{c.confidence:.3f}" for c in r.candidates),
        "seconds": round(r.seconds, 3),
    }


def _atomic_write(path: Path, write) -> None:  # type: ignore[no-untyped-def]
    tmp = path.with_name(path.name + ".part")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        write(fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_text(path: Path, text: str) -> None:
    _atomic_write(path, lambda fh: fh.write(text))


def write_jsonl(path: Path, results: Iterable[FileResult]) -> None:
    def write(fh) -> None:  # type: ignore[no-untyped-def]
        for r in results:
            fh.write(r.model_dump_json() + "\n")

    _atomic_write(path, write)


def write_csv(path: Path, results: Iterable[FileResult]) -> None:
    def write(fh) -> None:  # type: ignore[no-untyped-def]
        # utf-8-sig: Excel, which archive offices open these in, needs the BOM to read Chinese.
        fh.write("\ufeff")
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for r in results:
            writer.writerow(flatten(r))

    _atomic_write(path, write)


RETRY_CODES = frozenset({"unreadable", "ocr_failed", "internal"})  # worth another try on a re-run
