"""The seam between extraction and everything downstream: what we got out of one file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

PageSource = Literal["text_layer", "ocr", "empty"]
TextSource = Literal["text_layer", "ocr", "mixed", "none"]


@dataclass(frozen=True)
class PageText:
    """Text of one page, and where it came from.

    ``number`` is 1-based. ``ocr_confidence`` is the mean recognition score of the page's lines
    (None for text-layer pages). ``skew_degrees`` is the deskew correction applied before OCR.
    """

    number: int
    text: str
    source: PageSource
    ocr_confidence: float | None = None
    skew_degrees: float | None = None
    rotated: int = 0


@dataclass(frozen=True)
class DocumentText:
    """All pages of one file, in order."""

    kind: Literal["pdf", "image", "tiff"]
    pages: tuple[PageText, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def text(self) -> str:
        return "\n\f\n".join(p.text for p in self.pages)

    @property
    def page_count(self) -> int:
        return len(self.pages)

    @property
    def text_source(self) -> TextSource:
        sources = {p.source for p in self.pages if p.source != "empty"}
        if not sources:
            return "none"
        if len(sources) == 1:
            return next(iter(sources))  # type: ignore[return-value]
        return "mixed"

    @property
    def ocr_confidence(self) -> float | None:
        """Mean OCR confidence over OCR'd pages, weighted by their text length."""
        ocr = [p for p in self.pages if p.source == "ocr" and p.ocr_confidence is not None]
        if not ocr:
            return None
        weights = [max(len(p.text), 1) for p in ocr]
        return sum(p.ocr_confidence * w for p, w in zip(ocr, weights)) / sum(weights)  # type: ignore[operator]
