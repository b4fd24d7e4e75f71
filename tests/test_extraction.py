"""extract_document on real files made here: text PDFs, scans, photos, TIFFs and every kind of bad input.

OCR is real (RapidOCR, one engine per session); only the fault-injection tests replace the engine.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from fpdf import FPDF
from PIL import Image
from pypdf import PdfReader, PdfWriter
from rapidfuzz.distance import Levenshtein

from features import extraction
from features.errors import (
    CorruptFileError,
    EmptyFileError,
    EncryptedFileError,
    ErrorCode,
    NoTextError,
    OcrFailedError,
    TooLargeError,
    UnsupportedTypeError,
)
from features.extraction import extract_document, is_usable_text
from features.filetypes import detect_file_type
from features.ocr.base import OcrEngine
from features.ocr.registry import create_engine

FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
PAGE_1 = ["施工日志", "工程名称：城南污水处理厂扩建工程    施工单位：中建三局第一建设工程有限责任公司",
          "今日天气晴，气温12℃至21℃，现场施工人员56人，塔吊2台正常运行。"]
PAGE_2 = ["监理通知单", "致：华建集团第二工程有限公司    编号：JL-2020-017",
          "请施工单位于3日内完成屋面防水层整改，并将整改结果书面回复监理部。"]


def cer(ref: str, hyp: str) -> float:
    def norm(s: str) -> str:
        return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s))

    return Levenshtein.distance(norm(ref), norm(hyp)) / len(norm(ref))


def text_pdf(pages: list[list[str]]) -> bytes:
    pdf = FPDF(unit="mm", format="A4")
    pdf.add_font("zh", "", FONT, collection_font_number=0)
    pdf.set_font("zh", size=12)
    for lines in pages:
        pdf.add_page()
        for line in lines:
            pdf.multi_cell(0, 9, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def scan_of(lines: list[str], *, top_mm: float = 70) -> np.ndarray:
    """The upper part of a rendered 200 dpi page (smaller images keep OCR tests quick)."""
    doc = pdfium.PdfDocument(text_pdf([lines]))
    try:
        arr = doc[0].render(scale=200 / 72, grayscale=True).to_numpy()
    finally:
        doc.close()
    gray = arr[:, :, 0] if arr.ndim == 3 else arr
    return np.ascontiguousarray(gray[: int(top_mm / 25.4 * 200)])


def image_pdf(images: list[np.ndarray]) -> bytes:
    buf = io.BytesIO()
    pil = [Image.fromarray(a) for a in images]
    pil[0].save(buf, format="PDF", resolution=200, save_all=True, append_images=pil[1:])
    return buf.getvalue()


def mixed_pdf() -> bytes:
    """Page 1 with a text layer, page 2 an image only (a scanned attachment)."""
    writer = PdfWriter()
    for blob in (text_pdf([PAGE_1]), image_pdf([scan_of(PAGE_2)])):
        for page in PdfReader(io.BytesIO(blob)).pages:
            writer.add_page(page)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _never() -> OcrEngine:
    raise AssertionError("OCR must not be loaded for a text PDF")


@pytest.fixture(scope="session")
def engine() -> OcrEngine:
    return create_engine("rapidocr", threads=2)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- good files ----------------------------------------------------------------------------------

def test_text_pdf_uses_text_layer_without_loading_ocr(tmp_path):
    path = _write(tmp_path, "log.pdf", text_pdf([PAGE_1, PAGE_2]))
    doc = extract_document(path, engine_factory=_never)
    assert doc.kind == "pdf" and doc.page_count == 2 and doc.text_source == "text_layer"
    assert cer("\n".join(PAGE_1), doc.pages[0].text) == 0
    assert doc.ocr_confidence is None and doc.warnings == ()


def test_owner_password_only_pdf_is_read(tmp_path):
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf([PAGE_1]))))
    writer.encrypt(user_password="", owner_password="owner-secret", algorithm="AES-128")
    buf = io.BytesIO()
    writer.write(buf)
    doc = extract_document(_write(tmp_path, "owner.pdf", buf.getvalue()), engine_factory=_never)
    assert "城南污水处理厂" in doc.text


def test_max_pages_reads_the_first_pages_and_warns(tmp_path):
    path = _write(tmp_path, "long.pdf", text_pdf([PAGE_1, PAGE_2, PAGE_1]))
    doc = extract_document(path, engine_factory=_never, max_pages=2)
    assert doc.page_count == 2 and "first 2 of 3 pages" in doc.warnings[0]


@pytest.mark.slow
def test_mixed_pdf_reads_text_layer_and_ocrs_the_scanned_page(tmp_path, engine):
    calls = []

    def factory() -> OcrEngine:
        calls.append(1)
        return engine

    doc = extract_document(_write(tmp_path, "mixed.pdf", mixed_pdf()), engine_factory=factory)
    assert [p.source for p in doc.pages] == ["text_layer", "ocr"]
    assert doc.text_source == "mixed" and calls == [1]
    assert cer("\n".join(PAGE_2), doc.pages[1].text) <= 0.02, doc.pages[1].text
    assert doc.ocr_confidence is not None and doc.ocr_confidence > 0.9


@pytest.mark.slow
def test_exif_rotated_phone_jpeg_is_read_upright(tmp_path, engine):
    upright = Image.fromarray(scan_of(PAGE_1))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # as the sensor stored it
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = tmp_path / "photo.JPG"
    stored.save(path, format="JPEG", quality=90, exif=exif.tobytes())
    doc = extract_document(path, engine_factory=lambda: engine)
    assert doc.kind == "image" and doc.text_source == "ocr"
    assert doc.pages[0].rotated == 0  # fixed by EXIF, not by the sideways detector
    assert cer("\n".join(PAGE_1), doc.text) <= 0.02, doc.text


@pytest.mark.slow
def test_multipage_tiff_ocrs_every_frame(tmp_path, engine):
    frames = [Image.fromarray(scan_of(PAGE_1)), Image.fromarray(scan_of(PAGE_2))]
    path = tmp_path / "scan.tif"
    frames[0].save(path, format="TIFF", save_all=True, append_images=frames[1:], compression="tiff_lzw", dpi=(200, 200))
    doc = extract_document(path, engine_factory=lambda: engine)
    assert doc.kind == "tiff" and doc.page_count == 2 and doc.text_source == "ocr"
    assert cer("\n".join(PAGE_1), doc.pages[0].text) <= 0.02
    assert cer("\n".join(PAGE_2), doc.pages[1].text) <= 0.02


def test_text_layer_quality_rejects_empty_whitespace_and_mojibake():
    assert is_usable_text("工程名称：城南污水处理厂扩建工程，施工单位：中建三局")
    assert not is_usable_text("")
    assert not is_usable_text(" \n\t \n" * 50)
    assert not is_usable_text("第1页")  # a stamped page number on a scan is not a text layer
    assert not is_usable_text("¹¤³ÌÃû³Æ£º³ÇÄÏÎÛË®´¦Àí³§À©½¨¹¤³Ì" * 3)  # GBK read as Latin-1
    assert not is_usable_text("\ue000\ue001\ue002\ue003" * 10 + "工程")  # private-use glyph codes


# --- bad files -----------------------------------------------------------------------------------

BAD_INPUTS = {
    "zero.pdf": (lambda: b"", EmptyFileError),
    "truncated.pdf": (lambda: text_pdf([PAGE_1])[:1500], CorruptFileError),
    "corrupt.pdf": (lambda: b"%PDF-1.7\n" + bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8)),
                    CorruptFileError),
    "junk.jpg": (lambda: bytes(np.random.default_rng(2).integers(0, 256, 5000, dtype=np.uint8)), CorruptFileError),
    "notes.txt": (lambda: "工程名称：滨江花园\n施工单位：华建集团\n".encode() * 20, UnsupportedTypeError),
    "drawing.dwg": (lambda: b"AC1032" + bytes(2000), UnsupportedTypeError),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_inputs_raise_typed_errors(tmp_path, name):
    make, error = BAD_INPUTS[name]
    with pytest.raises(error) as info:
        extract_document(_write(tmp_path, name, make()), engine_factory=_never)
    assert info.value.message  # a message for the operator, never empty


def test_docx_renamed_to_pdf_is_unsupported_and_named(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(UnsupportedTypeError, match=r"Word document \(\.docx\).*named \.pdf") as info:
        extract_document(_write(tmp_path, "report.pdf", buf.getvalue()), engine_factory=_never)
    assert info.value.code == ErrorCode.UNSUPPORTED_TYPE


def test_encrypted_pdf_is_refused(tmp_path):
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf([PAGE_1]))))
    writer.encrypt(user_password="user-secret", owner_password="owner-secret", algorithm="AES-256")
    buf = io.BytesIO()
    writer.write(buf)
    with pytest.raises(EncryptedFileError) as info:
        extract_document(_write(tmp_path, "locked.pdf", buf.getvalue()), engine_factory=_never)
    assert info.value.code == ErrorCode.ENCRYPTED and not info.value.retryable


def test_decompression_bomb_png_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("1", (12_000, 12_000), 1).save(path, optimize=True)  # 144 MP in a few hundred KB
    assert path.stat().st_size < 2_000_000
    with pytest.raises(TooLargeError, match="144 MP"):
        extract_document(path, engine_factory=_never)


def test_truncated_jpeg_is_corrupt(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(scan_of(PAGE_1)).save(buf, format="JPEG", quality=85)
    with pytest.raises(CorruptFileError):
        extract_document(_write(tmp_path, "cut.jpg", buf.getvalue()[:4000]), engine_factory=_never)


def test_blank_scanned_page_is_no_text_without_loading_ocr(tmp_path):
    path = _write(tmp_path, "blank.pdf", image_pdf([np.full((2339, 1654), 255, np.uint8)]))
    with pytest.raises(NoTextError) as info:
        extract_document(path, engine_factory=_never)
    assert info.value.code == ErrorCode.NO_TEXT


@pytest.mark.slow
def test_noisy_blank_scan_is_no_text(tmp_path, engine):
    """Scanner noise defeats the cheap blank check, so OCR runs — and must find nothing."""
    noise = np.clip(np.random.default_rng(3).normal(225, 10, (1169, 827)), 0, 255).astype(np.uint8)
    with pytest.raises(NoTextError):
        extract_document(_write(tmp_path, "noise.png", _png(noise)), engine_factory=lambda: engine)


def _png(gray: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(gray).save(buf, format="PNG")
    return buf.getvalue()


def test_detection_ignores_the_extension(tmp_path):
    tif = io.BytesIO()
    Image.new("L", (10, 10), 255).save(tif, format="TIFF")
    assert detect_file_type(_write(tmp_path, "scan.pdf", tif.getvalue())).kind == "tiff"
    assert detect_file_type(_write(tmp_path, "x.bin", b"junk\n%PDF-1.4\n")).kind == "pdf"


# --- fault injection -----------------------------------------------------------------------------

class _CrashingEngine:
    name = "crashing"

    def recognize(self, image: np.ndarray):  # noqa: ANN201
        raise RuntimeError("simulated ONNX Runtime failure")


def test_crashing_ocr_engine_becomes_typed_ocr_failure(tmp_path):
    path = _write(tmp_path, "scan.pdf", image_pdf([scan_of(PAGE_2)]))
    with pytest.raises(OcrFailedError, match="crashing.*page 1.*simulated") as info:
        extract_document(path, engine_factory=_CrashingEngine)
    assert info.value.code == ErrorCode.OCR_FAILED and info.value.retryable


def test_page_that_fails_to_render_is_a_warning_not_a_crash(tmp_path, monkeypatch):
    path = _write(tmp_path, "mixed.pdf", mixed_pdf())

    def broken_render(page, **kwargs):  # noqa: ANN001, ANN202
        raise pdfium.PdfiumError("simulated render failure")

    monkeypatch.setattr(extraction, "render_pdf_page", broken_render)
    doc = extract_document(path, engine_factory=_never)
    assert [p.source for p in doc.pages] == ["text_layer", "empty"]
    assert any("page 2 could not be rendered" in w for w in doc.warnings)


def test_no_readable_page_at_all_is_corrupt(tmp_path, monkeypatch):
    path = _write(tmp_path, "scan.pdf", image_pdf([scan_of(PAGE_2)]))

    def broken_render(page, **kwargs):  # noqa: ANN001, ANN202
        raise pdfium.PdfiumError("simulated render failure")

    monkeypatch.setattr(extraction, "render_pdf_page", broken_render)
    with pytest.raises(CorruptFileError, match="none of the 1 PDF page"):
        extract_document(path, engine_factory=_never)
