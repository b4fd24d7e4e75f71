"""Page images for the document view: the original found and verified, one page rendered to PNG, cached.

The original is looked up by content, never by a name from the request: first the archive store's
copy (``objects/<sha[:2]>/<sha>.*``), then the paths the pipeline saw it under, each accepted only if its
sha256 still matches the document's. Renders are cached under ``DANGAN_HOME/cache/pages/<sha256>/``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from features.errors import DanganError
from features.extraction import open_pdf
from features.filetypes import detect_file_type
from features.hashing import sha256_file
from features.raster import iter_image_frames, render_pdf_page

VIEW_LONG_SIDE = 1600  # px: legible for a form at screen size, ~150 kB as PNG
VIEW_DPI = 110


class PageUnavailable(LookupError):
    """The original is gone (or changed), or the page does not exist."""


def find_original(sha256: str, archive_dir: Path, candidates: Iterable[Path]) -> Path:
    objects = archive_dir / "objects" / sha256[:2]
    archived = sorted(objects.glob(f"{sha256}*")) if objects.is_dir() else []
    for path in [*archived, *candidates]:
        try:
            if path.is_file() and sha256_file(path) == sha256:
                return path
        except OSError:
            continue
    raise PageUnavailable("the original file is no longer where the pipeline saw it, and it is not archived")


def _render(path: Path, page: int, max_pixels: int) -> np.ndarray:
    kind = detect_file_type(path).kind
    if kind == "pdf":
        pdf = open_pdf(path)
        try:
            if not 1 <= page <= len(pdf):
                raise PageUnavailable(f"the document has {len(pdf)} page(s), not {page}")
            return render_pdf_page(pdf[page - 1], dpi=VIEW_DPI, max_pixels=max_pixels)
        finally:
            pdf.close()
    for frame in iter_image_frames(path, max_pixels=max_pixels, max_long_side=VIEW_LONG_SIDE, max_frames=page):
        if frame.index == page - 1:
            return frame.image
    raise PageUnavailable(f"the image has no page {page}")


def cached_page(sha256: str, page: int, cache_dir: Path) -> Path:
    """Where the render of ``page`` of the document with this content is (or will be) cached."""
    return cache_dir / "pages" / sha256 / f"{page}.png"


def page_png(sha256: str, page: int, *, original: Path, cache_dir: Path, max_pixels: int) -> Path:
    """The cached PNG of ``page`` (1-based) of the document, rendering it on first use."""
    target = cached_page(sha256, page, cache_dir)
    if target.is_file():
        return target
    try:
        gray = _render(original, page, max_pixels)
    except DanganError as exc:
        raise PageUnavailable(exc.message) from exc
    img = Image.fromarray(gray)
    if max(img.size) > VIEW_LONG_SIDE:
        img.thumbnail((VIEW_LONG_SIDE, VIEW_LONG_SIDE))
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, target)
    return target
