"""One file in, its text out: text layer first, OCR only for pages that have no usable text.

A text PDF never loads an OCR model (the engine is created lazily on the first page that needs it),
which keeps born-digital batches at hundreds of pages per second. Scanned pages are rendered at
200 dpi, deskewed and OCR'd. Every way a file can be bad ends in a typed ``DanganError``; a single
bad page in an otherwise readable PDF becomes a warning and an empty page.

pdfium is not thread-safe: call this from one thread per process (the pipeline uses processes).
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from features.documents import DocumentText, PageText
from features.errors import (
    CorruptFileError,
    DanganError,
    EncryptedFileError,
    NoTextError,
    OcrFailedError,
    UnreadableFileError,
)
from features.filetypes import detect_file_type
from features.ocr.base import OcrEngine
from features.raster import DEFAULT_MAX_PIXELS, OCR_DPI, iter_image_frames, render_pdf_page

log = logging.getLogger(__name__)

DEFAULT_MAX_PAGES = 500
#: A page whose text layer has fewer meaningful characters than this is OCR'd instead.
DEFAULT_MIN_TEXT_CHARS = 12
#: A text layer with more than this share of junk characters is mojibake (broken ToUnicode map).
MAX_GARBAGE_SHARE = 0.25
#: A page mostly covered by an image, whose text layer is this sparse (× min_text_chars), is a scan
#: with a stamped header or page number: OCR it, or its body would be lost.
SPARSE_TEXT_FACTOR = 5
SCAN_IMAGE_COVERAGE = 0.5

EngineFactory = Callable[[], OcrEngine]


@dataclass(frozen=True)
class TextLayerQuality:
    """Counts behind the text-layer decision: real characters vs characters typical of mojibake."""

    meaningful: int
    garbage: int

    @property
    def garbage_share(self) -> float:
        total = self.meaningful + self.garbage
        return self.garbage / total if total else 0.0


def extract_document(
    path: Path,
    *,
    engine_factory: EngineFactory | None,
    dpi: int = OCR_DPI,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_pages: int = DEFAULT_MAX_PAGES,
    min_text_chars: int = DEFAULT_MIN_TEXT_CHARS,
) -> DocumentText:
    """Extract the text of a PDF, image or (multi-page) TIFF.

    Parameters
    ----------
    path : Path
        The file; its type is detected from its bytes, not its name.
    engine_factory : callable or None
        Returns the OCR engine; called at most once, and only if a page needs OCR. ``None`` disables
        OCR (such pages become empty, with a warning).
    dpi : int
        Rendering resolution for PDF pages that need OCR.
    max_pixels : int
        Images (or frames) above this size are refused as ``TooLargeError``.
    max_pages : int
        Pages after this many are skipped with a warning.
    min_text_chars : int
        Meaningful characters a text layer needs to be trusted instead of OCR.

    Raises
    ------
    EmptyFileError, CorruptFileError, EncryptedFileError, UnsupportedTypeError, TooLargeError,
    NoTextError, OcrFailedError, UnreadableFileError
    """
    ftype = detect_file_type(path)
    ocr = _PageOcr(engine_factory)
    if ftype.kind == "pdf":
        doc = _extract_pdf(path, ocr, dpi=dpi, max_pixels=max_pixels, max_pages=max_pages,
                           min_text_chars=min_text_chars)
    else:
        doc = _extract_image(path, ftype.kind, ocr, max_pixels=max_pixels, max_pages=max_pages)
    if not any(p.text.strip() for p in doc.pages):
        why = "OCR is disabled and there is no text layer" if ocr.disabled_hits else "the pages are blank"
        raise NoTextError(f"no text found in {doc.page_count} page(s): {why}; check the scan or source file")
    return doc


# --- text layer ---------------------------------------------------------------------------------

def text_layer_quality(text: str) -> TextLayerQuality:
    """Count meaningful characters (common Chinese, ASCII letters/digits) and mojibake markers.

    Garbage: private-use and replacement characters, control characters, accented Latin letters
    (GBK bytes decoded as Latin-1 look like ``¹¤³ÌÃû³Æ``) and CJK outside GB2312 (rare in
    construction documents, frequent when a font's glyph-to-Unicode map is wrong).
    """
    meaningful = garbage = 0
    for ch in text:
        code = ord(ch)
        if ch.isascii():
            if ch.isalnum():
                meaningful += 1
            elif code < 32 and ch not in "\n\r\t\f":
                garbage += 1
            continue
        if 0x4E00 <= code <= 0x9FFF:
            if _in_gb2312(ch):
                meaningful += 1
            else:
                garbage += 1
        elif 0xE000 <= code <= 0xF8FF or code in (0xFFFD, 0xFFFE, 0xFFFF) or 0x80 <= code < 0xA0:
            garbage += 1
        elif 0xC0 <= code <= 0x24F:  # Latin-1 letters and Latin Extended-A/B
            garbage += 1
        elif unicodedata.category(ch) in ("Cc", "Co", "Cs", "Cn"):
            garbage += 1
    return TextLayerQuality(meaningful=meaningful, garbage=garbage)


def is_usable_text(text: str, min_text_chars: int = DEFAULT_MIN_TEXT_CHARS) -> bool:
    """True if a text layer holds real text: enough meaningful characters and little mojibake."""
    quality = text_layer_quality(text)
    return quality.meaningful >= min_text_chars and quality.garbage_share <= MAX_GARBAGE_SHARE


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _clean_text_layer(raw: str) -> str:
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").replace("\ufffe", "")
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip()


# --- OCR ----------------------------------------------------------------------------------------

class _PageOcr:
    """Deskew + OCR with a lazily created engine; an engine failure becomes ``OcrFailedError``."""

    def __init__(self, factory: EngineFactory | None) -> None:
        self._factory = factory
        self._engine: OcrEngine | None = None
        self.disabled_hits = 0

    def page(self, number: int, gray: np.ndarray) -> PageText:
        if self._factory is None:
            self.disabled_hits += 1
            return PageText(number=number, text="", source="empty")
        from features.deskew import deskew  # here: scipy.spatial costs a text-only worker 0.3 s to import

        straight = deskew(gray)
        if straight.blank:  # an empty back side: nothing to read, no need to spend seconds on OCR
            return PageText(number=number, text="", source="empty", skew_degrees=0.0)
        if self._engine is None:
            self._engine = self._factory()
        try:
            result = self._engine.recognize(straight.image)
        except DanganError:
            raise
        except Exception as exc:  # any engine failure is this file's OCR failure, typed and retryable
            raise OcrFailedError(
                f"OCR engine {getattr(self._engine, 'name', '?')!r} failed on page {number}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        text = result.text.strip()
        return PageText(
            number=number,
            text=text,
            source="ocr" if text else "empty",
            ocr_confidence=result.confidence if text else None,
            skew_degrees=straight.angle,
            rotated=(straight.rotation + result.rotated) % 360,
        )


# --- PDF ----------------------------------------------------------------------------------------

def open_pdf(path: Path) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise EncryptedFileError(
                "the PDF is password-protected; ask the sender for an unprotected copy "
                "(or decrypt it, e.g. qpdf --decrypt --password=… in.pdf out.pdf)"
            ) from exc
        if exc.err_code == pdfium_c.FPDF_ERR_FILE:
            raise UnreadableFileError(f"cannot open the PDF file: {exc}") from exc
        raise CorruptFileError(f"the PDF is damaged and cannot be opened ({exc}); re-export it") from exc
    except OSError as exc:
        raise UnreadableFileError(f"cannot read file: {exc.strerror or exc}") from exc


def _extract_pdf(
    path: Path, ocr: _PageOcr, *, dpi: int, max_pixels: int, max_pages: int, min_text_chars: int
) -> DocumentText:
    pdf = open_pdf(path)
    try:
        total = len(pdf)
        if total == 0:
            raise CorruptFileError("the PDF has no pages; it is damaged or empty — re-export it")
        warnings: list[str] = []
        if total > max_pages:
            warnings.append(f"only the first {max_pages} of {total} pages were read")
        pages: list[PageText] = []
        failed = 0
        for index in range(min(total, max_pages)):
            number = index + 1
            try:
                page = pdf[index]
            except pdfium.PdfiumError as exc:
                failed += 1
                warnings.append(f"page {number} could not be loaded ({exc}); left empty")
                pages.append(PageText(number=number, text="", source="empty"))
                continue
            try:
                pages.append(_pdf_page(page, number, ocr, dpi=dpi, max_pixels=max_pixels,
                                       min_text_chars=min_text_chars, warnings=warnings))
            except _PageRenderError as exc:
                failed += 1
                warnings.append(f"page {number} could not be rendered ({exc.__cause__}); left empty")
                pages.append(PageText(number=number, text="", source="empty"))
            finally:
                page.close()
        if failed == len(pages):
            raise CorruptFileError(f"none of the {len(pages)} PDF page(s) could be read; the file is damaged")
        if ocr.disabled_hits:
            warnings.append(f"{ocr.disabled_hits} page(s) need OCR but OCR is disabled; left empty")
        return DocumentText(kind="pdf", pages=tuple(pages), warnings=tuple(warnings))
    finally:
        pdf.close()


class _PageRenderError(Exception):
    """Internal: a page's text or pixels could not be produced; the caller records a warning."""


def _pdf_page(
    page: pdfium.PdfPage, number: int, ocr: _PageOcr, *, dpi: int, max_pixels: int, min_text_chars: int,
    warnings: list[str],
) -> PageText:
    try:
        textpage = page.get_textpage()
        try:
            text = _clean_text_layer(textpage.get_text_range())
        finally:
            textpage.close()
    except pdfium.PdfiumError as exc:
        warnings.append(f"page {number}: text layer unreadable ({exc}); OCR used")
        text = ""
    quality = text_layer_quality(text)
    usable = quality.meaningful >= min_text_chars and quality.garbage_share <= MAX_GARBAGE_SHARE
    if usable and quality.meaningful < SPARSE_TEXT_FACTOR * min_text_chars:
        usable = _image_coverage(page) < SCAN_IMAGE_COVERAGE
    if usable:
        return PageText(number=number, text=text, source="text_layer")
    if quality.meaningful and quality.garbage_share > MAX_GARBAGE_SHARE:
        warnings.append(f"page {number}: text layer looks garbled ({quality.garbage_share:.0%} junk); OCR used")
    try:
        gray = render_pdf_page(page, dpi=dpi, max_pixels=max_pixels)
    except (pdfium.PdfiumError, ValueError, MemoryError) as exc:
        raise _PageRenderError() from exc
    return ocr.page(number, gray)


def _image_coverage(page: pdfium.PdfPage) -> float:
    """Share of the page area covered by image objects (a scanned page is ~1.0)."""
    width, height = page.get_size()
    if width <= 0 or height <= 0:
        return 0.0
    covered = 0.0
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3):
        left, bottom, right, top = obj.get_pos()
        w = max(0.0, min(right, width) - max(left, 0.0))
        h = max(0.0, min(top, height) - max(bottom, 0.0))
        covered += w * h
    return min(1.0, covered / (width * height))


# --- images -------------------------------------------------------------------------------------

def _extract_image(path: Path, kind: str, ocr: _PageOcr, *, max_pixels: int, max_pages: int) -> DocumentText:
    pages: list[PageText] = []
    warnings: list[str] = []
    frames = iter_image_frames(path, max_pixels=max_pixels, max_frames=max_pages + 1)
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            break
        except CorruptFileError as exc:
            if not pages:
                raise
            warnings.append(f"frame {len(pages) + 1} and later could not be read ({exc.message})")
            break
        if frame.index >= max_pages:
            warnings.append(f"only the first {max_pages} frames were read")
            break
        pages.append(ocr.page(frame.index + 1, frame.image))
    if not pages:
        raise CorruptFileError("the image has no readable frames")
    if ocr.disabled_hits:
        warnings.append("the image needs OCR but OCR is disabled")
    return DocumentText(kind="tiff" if kind == "tiff" else "image", pages=tuple(pages), warnings=tuple(warnings))
