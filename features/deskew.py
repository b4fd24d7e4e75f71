"""Straighten scanned pages before OCR, because skew — not recognition — dominates scan errors.

A 1–3° tilt spreads one text line over 50–80 px at 200 dpi, so OCR boxes sorted top-down interleave
lines and form columns (CER 9–13 % → 0.3 % after deskew, ocr.md §2b). The estimate is a projection
profile: rotate the ink pixels by candidate angles and keep the angle whose row histogram is
sharpest (text lines become narrow, tall peaks). It runs on a ~1000 px binarised copy of the page,
coarse-to-fine, so it costs tens of milliseconds instead of the 0.45 s of a full-size search.

What it can and cannot detect:

* small skew within ``±max_angle`` (default 5°), to about 0.05°;
* pages turned sideways (90°/270°), from where each glyph's nearest neighbour lies (along the line).
  Which of 90°/270° is right cannot be told this way; the page comes out upright or upside down;
* upside-down pages (180°) are *not* visible to either measure (both are symmetric). The RapidOCR engine
  resolves them with its text-line direction classifier and reports ``OcrResult.rotated``;
  Tesseract and PaddleOCR (as configured here) do not;
* vertical Chinese writing (竖排) looks like a sideways page and would be turned; such pages are rare
  in construction archives and are reported via ``DeskewResult.rotation`` so they can be reviewed;
* pages with almost no ink (blank, one stamp) are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import cKDTree

#: Work size for the estimate: long side in pixels. ~1000 px keeps a text line ~15 px high at A4.
_WORK_LONG_SIDE = 1000
#: A page is sideways when fewer than this share of glyphs have their nearest neighbour left/right
#: (measured: 0.77–0.82 on upright pages, 0.18–0.22 on the same pages turned by 90°).
_SIDEWAYS_SHARE = 0.4
_MIN_GLYPHS = 30
#: Below this share of ink pixels the page is treated as blank (no reliable estimate).
_MIN_INK_SHARE = 0.002
#: Below this share of dark pixels a page holds nothing worth OCR (one short title is ~0.05 %).
_BLANK_INK_SHARE = 0.0001


@dataclass(frozen=True)
class DeskewResult:
    """The straightened image (white fill), the skew that was removed and any quarter turn applied.

    ``angle`` is in degrees, counter-clockwise positive (the page was rotated by ``angle`` to level
    it). ``rotation`` is 0 or 90: the clockwise quarter turn applied because the page lay sideways.
    ``blank`` means no contrast or almost no ink (an empty back side): OCR can be skipped.
    """

    image: np.ndarray
    angle: float
    rotation: int
    blank: bool = False


def deskew(gray: np.ndarray, *, max_angle: float = 5.0, detect_sideways: bool = True) -> DeskewResult:
    """Level a grayscale page; optionally turn a sideways page upright first."""
    if gray.ndim != 2:
        raise ValueError(f"deskew expects a 2-D grayscale image, got shape {gray.shape}")
    ink = _ink_mask(gray)
    if ink is None:
        return DeskewResult(image=gray, angle=0.0, rotation=0, blank=_is_blank(gray))
    rotation = 0
    if detect_sideways and is_sideways(ink):
        gray = cv2.rotate(gray, cv2.ROTATE_90_CLOCKWISE)
        ink = cv2.rotate(ink, cv2.ROTATE_90_CLOCKWISE)
        rotation = 90
    angle = _estimate(ink, max_angle)
    if abs(angle) < 0.05:
        return DeskewResult(image=gray, angle=0.0, rotation=rotation)
    return DeskewResult(image=rotate(gray, angle), angle=angle, rotation=rotation)


def estimate_skew(gray: np.ndarray, *, max_angle: float = 5.0) -> float:
    """The counter-clockwise rotation in degrees that levels the text lines (0.0 for blank pages)."""
    ink = _ink_mask(gray)
    return 0.0 if ink is None else _estimate(ink, max_angle)


def rotate(gray: np.ndarray, angle: float) -> np.ndarray:
    """Rotate counter-clockwise by ``angle`` degrees about the centre, same size, white fill.

    Keeping the size loses only the corners, which on a page scan are margin.
    """
    h, w = gray.shape
    matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
    return cv2.warpAffine(gray, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=255)


def is_sideways(ink: np.ndarray) -> bool:
    """True if the text lines in this 0/1 ink mask run vertically (the page was scanned turned by 90°).

    Characters of one line sit closer to each other than to the lines above and below (character
    pitch ≈ 1 em, line pitch ≈ 1.3–2 em), so each glyph's nearest neighbour lies along the line.
    Projection profiles cannot tell this for CJK text, whose fixed pitch also aligns columns.
    """
    n, _, stats, centroids = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    size = np.maximum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT])
    if size.size < _MIN_GLYPHS:
        return False
    em = float(np.median(size))
    glyphs = centroids[1:][(size >= 0.4 * em) & (size <= 2.5 * em)]  # drop specks and rule lines
    if len(glyphs) < _MIN_GLYPHS:
        return False
    _, idx = cKDTree(glyphs).query(glyphs, k=2)
    step = glyphs[idx[:, 1]] - glyphs
    horizontal = float(np.mean(np.abs(step[:, 0]) > np.abs(step[:, 1])))
    return horizontal < _SIDEWAYS_SHARE


def _ink_mask(gray: np.ndarray) -> np.ndarray | None:
    """A binary (0/1) ink mask of a ~1000 px copy of the page, or None if the page is (nearly) blank."""
    h, w = gray.shape
    scale = min(1.0, _WORK_LONG_SIDE / max(h, w))
    small = cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    if int(small.max()) - int(small.min()) < 40:
        return None  # flat page: no contrast, nothing to level
    _, binary = cv2.threshold(small, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    # Drop the outer 2 %: scanner edges and punch holes are long dark bars that fake a profile.
    my, mx = max(1, binary.shape[0] // 50), max(1, binary.shape[1] // 50)
    binary[:my], binary[-my:], binary[:, :mx], binary[:, -mx:] = 0, 0, 0, 0
    if binary.mean() < _MIN_INK_SHARE or binary.mean() > 0.5:
        return None  # blank, or a dark photo where Otsu picked the background
    return binary


def _is_blank(gray: np.ndarray) -> bool:
    """No contrast, or fewer dark pixels than a few characters would leave (~0.01 % of the page)."""
    lo, hi = np.percentile(gray[::4, ::4], [0.01, 99.9]) if gray.size else (255, 255)
    if hi - lo < 40:
        return True
    dark = gray[::2, ::2] < (lo + hi) / 2
    return float(dark.mean()) < _BLANK_INK_SHARE


def _estimate(ink: np.ndarray, max_angle: float) -> float:
    ys, xs = np.nonzero(ink)
    if ys.size > 200_000:  # a dense page: a random subset gives the same peak, faster
        pick = np.random.default_rng(0).choice(ys.size, 200_000, replace=False)
        ys, xs = ys[pick], xs[pick]
    ys = ys.astype(np.float64) - ink.shape[0] / 2.0
    xs = xs.astype(np.float64) - ink.shape[1] / 2.0
    n_bins = int(np.hypot(*ink.shape)) + 4

    def score(angle: float) -> float:
        # Row of each ink pixel after rotating the page by ``angle`` (counter-clockwise, image y down).
        t = np.deg2rad(angle)
        pos = ys * np.cos(t) + xs * np.sin(t) + n_bins / 2.0
        # Split each pixel between its two nearest rows: no aliasing, so sub-pixel shifts count.
        low = np.floor(pos)
        frac = pos - low
        low = low.astype(np.int64)
        hist = np.bincount(low, weights=1.0 - frac, minlength=n_bins + 1)
        hist += np.bincount(low + 1, weights=frac, minlength=n_bins + 1)
        return float(np.dot(hist, hist))

    best = 0.0
    step = 0.5
    grid = np.arange(-max_angle, max_angle + 1e-9, step)
    for _ in range(3):  # 0.5° → 0.1° → 0.02°
        scores = [score(a) for a in grid]
        best = float(grid[int(np.argmax(scores))])
        step /= 5.0
        grid = best + np.arange(-5, 6) * step
        grid = grid[np.abs(grid) <= max_angle + 1e-9]
    # ``best`` is the skew of the text; rotating by its negative levels it.
    return round(-best, 2) + 0.0
