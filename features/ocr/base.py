"""The OCR engine contract."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


class EngineUnavailableError(RuntimeError):
    """An OCR engine is unknown or its package/binary is missing; the message says how to install it.

    A set-up problem for the whole run, not a per-file failure, so it is not a ``DanganError``.
    """


@dataclass(frozen=True)
class OcrLine:
    """One recognised text line: its text, recognition score (0–1) and axis-aligned box (x0, y0, x1, y1)."""

    text: str
    score: float
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class OcrResult:
    """Lines of one page, already in reading order (rows rebuilt from boxes, left to right).

    ``rotated`` is 180 when the engine found the page upside down (its line-direction classifier
    said so for most lines) and already read it the right way round; otherwise 0.
    """

    lines: tuple[OcrLine, ...]
    rotated: int = 0

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def confidence(self) -> float | None:
        """Mean line score weighted by line length; None when nothing was recognised."""
        if not self.lines:
            return None
        weights = [max(len(line.text), 1) for line in self.lines]
        return sum(line.score * w for line, w in zip(self.lines, weights)) / sum(weights)


@runtime_checkable
class OcrEngine(Protocol):
    """Recognises the text of one page image.

    Implementations load their weights once in ``__init__`` (from a locally installed package,
    never from a model hub) and must be usable from a worker process. ``image`` is a uint8 array,
    grayscale (H, W) or RGB (H, W, 3), already deskewed.
    """

    name: str

    def recognize(self, image: np.ndarray) -> OcrResult: ...
