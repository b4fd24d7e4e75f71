"""OCR engines, deskew and reading order on real rendered pages (no mocked OCR).

One RapidOCR engine is shared by the session; each OCR'd page costs a few seconds on a 2-core box,
so only a handful of pages are recognised here.
"""

from __future__ import annotations

import io
import re
import unicodedata
from pathlib import Path

import cv2
import numpy as np
import pypdfium2 as pdfium
import pytest
from fpdf import FPDF
from PIL import Image, ImageFilter
from rapidfuzz.distance import Levenshtein

from features.deskew import deskew, estimate_skew, rotate
from features.ocr import EngineUnavailableError, OcrEngine, OcrLine
from features.ocr import registry
from features.ocr.layout import group_rows, reading_order

FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
FORM_LINES = [
    "隐蔽工程验收记录",
    "工程名称：滨江花园二期3号楼    施工单位：华建集团第二工程有限公司",
    "验收部位：地下室底板钢筋    验收日期：2019年5月12日",
    "钢筋规格：HRB400 Φ12@200，保护层厚度40mm，混凝土强度等级C30。",
    "检查意见：钢筋数量、规格、间距符合设计要求及GB50204-2015的规定，同意隐蔽。",
    "桩基础采用钻孔灌注桩，桩径800mm，桩长32m，Ⅰ类桩占比96%。",
    "监理单位：浙江东方建设监理有限公司    专业监理工程师：李建国",
    "建设单位：城投置业发展有限公司    项目负责人：王海波",
]


def cer(ref: str, hyp: str) -> float:
    """Character error rate after NFKC and removing all whitespace."""

    def norm(s: str) -> str:
        return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s))

    return Levenshtein.distance(norm(ref), norm(hyp)) / len(norm(ref))


def render_form(lines: list[str] = FORM_LINES, *, dpi: int = 200, size: float = 12) -> np.ndarray:
    """A text-PDF form page rendered to 8-bit grayscale, as a scanner would see it."""
    pdf = FPDF(unit="mm", format="A4")
    pdf.add_font("zh", "", FONT, collection_font_number=0)
    pdf.add_page()
    pdf.set_font("zh", size=size)
    for line in lines:
        pdf.multi_cell(0, 9, line, new_x="LMARGIN", new_y="NEXT")
    doc = pdfium.PdfDocument(bytes(pdf.output()))
    try:
        bitmap = doc[0].render(scale=dpi / 72, grayscale=True)
        arr = bitmap.to_numpy()
        return np.ascontiguousarray(arr[:, :, 0] if arr.ndim == 3 else arr)
    finally:
        doc.close()


def degrade(gray: np.ndarray, angle: float, seed: int = 7) -> np.ndarray:
    """Tilt, blur, washed-out contrast, noise and JPEG q40: an old office scan."""
    img = Image.fromarray(rotate(gray, angle)).filter(ImageFilter.GaussianBlur(radius=0.8))
    arr = 60 + np.asarray(img, dtype=np.float64) * (150 / 255)
    arr += np.random.default_rng(seed).normal(0, 10, arr.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=40)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L"))


@pytest.fixture(scope="session")
def rapid_engine() -> OcrEngine:
    return registry.create_engine("rapidocr", threads=2)


@pytest.fixture(scope="session")
def form_page() -> np.ndarray:
    return render_form()


# --- real OCR ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_rapidocr_reads_clean_200dpi_form_page(rapid_engine, form_page):
    result = rapid_engine.recognize(form_page)
    assert cer("\n".join(FORM_LINES), result.text) <= 0.01, result.text
    assert result.confidence is not None and result.confidence > 0.9
    # Form rows come out as rows: the label/value pairs of one row share one output line.
    row = next(line.text for line in result.lines if "工程名称" in line.text)
    assert "施工单位" in row


@pytest.mark.slow
def test_deskew_then_ocr_on_skewed_degraded_scan(rapid_engine, form_page):
    scan = degrade(form_page, angle=2.0)
    straight = deskew(scan)
    assert abs(straight.angle + 2.0) <= 0.15
    text = rapid_engine.recognize(straight.image).text
    assert cer("\n".join(FORM_LINES), text) <= 0.02, text


@pytest.mark.slow
def test_upside_down_page_is_detected_and_read_in_order(rapid_engine, form_page):
    top = form_page[: form_page.shape[0] // 2]  # half a page keeps the test quick
    result = rapid_engine.recognize(cv2.rotate(top, cv2.ROTATE_180))
    assert result.rotated == 180
    assert result.lines[0].text.startswith("隐蔽工程验收记录")
    assert cer("\n".join(FORM_LINES), result.text) <= 0.02


@pytest.mark.slow
def test_tesseract_engine_when_installed(form_page):
    if "tesseract" not in registry.available_engines():
        pytest.skip("tesseract not installed")
    engine = registry.create_engine("tesseract")
    text = engine.recognize(form_page).text
    assert cer("\n".join(FORM_LINES), text) <= 0.15, text  # a baseline, ~10x worse than PP-OCR


@pytest.mark.slow
def test_paddleocr_engine_when_installed(form_page, tmp_path):
    if "paddleocr" not in registry.available_engines():
        pytest.skip("paddleocr extra not installed")
    engine = registry.create_engine("paddleocr", cache_dir=tmp_path)
    models = sorted(p.name for p in (tmp_path / "paddle-models").iterdir())
    assert [m.split("_onnx")[0] for m in models] == ["PP-OCRv5_mobile_det", "PP-OCRv5_mobile_rec"]
    assert all((tmp_path / "paddle-models" / m / "inference.yml").is_file() for m in models)
    text = engine.recognize(form_page).text
    assert cer("\n".join(FORM_LINES), text) <= 0.02, text


# --- deskew --------------------------------------------------------------------------------------

@pytest.mark.parametrize("angle", [-4.0, -1.3, 0.7, 3.0])
def test_skew_estimate_is_accurate(form_page, angle):
    assert abs(estimate_skew(rotate(form_page, angle)) + angle) <= 0.15


def test_deskew_is_fast(form_page):
    import time

    skewed = rotate(form_page, 2.5)
    start = time.perf_counter()
    deskew(skewed)
    assert time.perf_counter() - start < 0.3


@pytest.mark.parametrize("turn", [cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE])
def test_sideways_page_is_turned(form_page, turn):
    result = deskew(rotate(cv2.rotate(form_page, turn), 1.5))
    assert result.rotation == 90
    assert result.image.shape == form_page.shape
    assert abs(abs(result.angle) - 1.5) <= 0.15


def test_upright_and_upside_down_pages_are_not_turned(form_page):
    assert deskew(form_page).rotation == 0
    assert deskew(cv2.rotate(form_page, cv2.ROTATE_180)).rotation == 0


def test_blank_page_is_left_alone():
    blank = np.full((2339, 1654), 255, np.uint8)
    result = deskew(blank)
    assert result.angle == 0.0 and result.rotation == 0 and result.image is blank


# --- reading order -------------------------------------------------------------------------------

def _line(text: str, x0: float, y0: float, x1: float, y1: float) -> OcrLine:
    return OcrLine(text=text, score=0.9, box=(x0, y0, x1, y1))


def test_form_rows_are_rebuilt_from_boxes():
    # Engine order interleaves rows because the value cells sit a few pixels higher than labels.
    boxes = [
        _line("施工单位：", 800, 98, 1000, 130),
        _line("工程名称：", 100, 100, 300, 132),
        _line("华建集团", 1010, 96, 1300, 128),
        _line("滨江花园", 310, 97, 600, 129),
        _line("验收日期：2019年5月12日", 100, 150, 600, 182),
    ]
    rows = group_rows(boxes)
    assert [[ln.text for ln in row] for row in rows] == [
        ["工程名称：", "滨江花园", "施工单位：", "华建集团"], ["验收日期：2019年5月12日"],
    ]
    merged = reading_order(boxes)
    assert merged[0].text == "工程名称： 滨江花园\t施工单位： 华建集团"
    assert merged[0].box == (100, 96, 1300, 132)


def test_stacked_lines_with_close_centres_stay_separate():
    boxes = [_line("上", 100, 100, 400, 130), _line("下", 120, 112, 380, 142)]
    assert len(group_rows(boxes)) == 2


# --- registry ------------------------------------------------------------------------------------

def test_registry_lists_and_rejects_engines():
    assert "rapidocr" in registry.available_engines()
    with pytest.raises(EngineUnavailableError, match="unknown OCR engine"):
        registry.create_engine("no-such-engine")


class _FakeEntryPoint:
    def __init__(self, name: str, target: object) -> None:
        self.name, self.value, self._target = name, f"fake:{name}", target

    def load(self) -> object:
        if isinstance(self._target, Exception):
            raise self._target
        return self._target


class _EchoEngine:
    name = "echo"

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def recognize(self, image: np.ndarray):  # noqa: ANN201
        from features.ocr.base import OcrResult

        return OcrResult(lines=(_line("echo", 0, 0, 1, 1),))


def test_plugin_engines_load_and_broken_ones_are_skipped(monkeypatch, caplog):
    eps = [
        _FakeEntryPoint("echo", lambda *, threads, cache_dir: _EchoEngine(threads)),
        _FakeEntryPoint("broken", ImportError("missing dependency")),
    ]
    monkeypatch.setattr(registry, "entry_points", lambda group: eps if group == registry.ENTRY_POINT_GROUP else [])
    names = registry.available_engines()
    assert "echo" in names and "broken" not in names
    assert "failed to load — skipping" in caplog.text
    engine = registry.create_engine("echo", threads=3, cache_dir=Path("/nonexistent"))
    assert engine.name == "echo" and engine.threads == 3
