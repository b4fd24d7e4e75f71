"""RapidOCR 3.10 with the PP-OCRv6-small ONNX models bundled in its wheel — the default engine.

Chosen by measurement (ocr.md §2b): the most robust model on degraded, deskewed scans, about 1 GB
RSS, no paddlepaddle. Model paths are passed explicitly so RapidOCR never reaches for its download
code, and ONNX Runtime gets a fixed thread count because the pipeline runs one worker per core.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from features.ocr.base import OcrLine, OcrResult
from features.ocr.layout import reading_order

#: Measured with benchmarks/bench_ocr.py --det-sweep (6 A4 forms at 200 dpi, 1 thread, this box):
#:
#:   setting                                   clean CER  degraded CER (max)  pages/min  CPU-s/page
#:   page ≤ 2000 px, det limit_type=min/736    0.13 %     0.25 % (0.73)       13–14      4.2–4.6
#:   full page (2339 px), det full resolution  0.13 %     0.62 % (2.74)       10         5.8–6.2
#:   full page, det long side ≤ 1600           0.13 %     1.28 % (6.50)       17         3.4–3.6
#:   full page, det long side ≤ 1280           0.09 %     1.27 % (6.28)       19–22      2.6–2.7
#:
#: Shrinking detection input alone loses or splits lines on blurred, noisy scans; shrinking the
#: whole page to 2000 px (RapidOCR's own default) is both the most accurate on degraded scans and
#: faster than full size, so that is the default.
DEFAULT_MAX_SIDE_LEN = 2000
DEFAULT_DET_LIMIT_SIDE_LEN = 736
DEFAULT_DET_LIMIT_TYPE = "min"


class RapidOcrEngine:
    """PP-OCRv6-small detection + recognition, with the v2 line-direction classifier for 180° lines.

    Parameters
    ----------
    threads : int
        ONNX Runtime intra-op threads (1 per worker process on a 2-core box).
    use_cls : bool
        Classify each text line as 0°/180°; also lets the engine report upside-down pages.
    max_side_len : int
        The page is shrunk to this long side before detection and recognition (see the table above).
    det_limit_side_len, det_limit_type : int, str
        Detection input size: ``"max"`` caps the long side, ``"min"`` only enlarges small images.
    min_score : float
        Lines recognised with a lower score are dropped (RapidOCR's ``text_score``).
    """

    name = "rapidocr"

    def __init__(
        self,
        *,
        threads: int = 1,
        use_cls: bool = True,
        det_limit_side_len: int = DEFAULT_DET_LIMIT_SIDE_LEN,
        det_limit_type: str = DEFAULT_DET_LIMIT_TYPE,
        max_side_len: int = DEFAULT_MAX_SIDE_LEN,
        min_score: float = 0.5,
    ) -> None:
        from rapidocr import RapidOCR

        logging.getLogger("RapidOCR").setLevel(logging.WARNING)
        models = _bundled_models()
        params: dict[str, Any] = {
            "Global.log_level": "warning",
            "Global.use_cls": use_cls,
            "Global.max_side_len": max_side_len,
            "Global.text_score": min_score,
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            "Det.model_path": str(models["det"]),
            "Det.limit_side_len": det_limit_side_len,
            "Det.limit_type": det_limit_type,
            "Rec.model_path": str(models["rec"]),
            "Cls.model_path": str(models["cls"]),
        }
        self.threads = threads
        self.use_cls = use_cls
        self._engine = RapidOCR(params=params)
        logging.getLogger("RapidOCR").setLevel(logging.WARNING)

    def recognize(self, image: np.ndarray) -> OcrResult:
        """OCR one page; an upside-down page is detected from the classifier votes and reordered."""
        img = _as_bgr(image)
        eng = self._engine
        # The pipeline steps are called one by one (as RapidOCR.__call__ does) to keep the
        # classifier's per-line votes, which the public output drops.
        work, op_record = eng.preprocess_img(img)
        det, cls, rec, crops = eng.run_ocr_steps(work, op_record)
        out = eng.build_final_output(img, det, cls, rec, crops, op_record)
        if out is None or getattr(out, "txts", None) is None or out.boxes is None or len(out.txts) == 0:
            return OcrResult(lines=())
        h, w = img.shape[:2]
        flipped = self.use_cls and _mostly_flipped(cls.cls_res, eng.cfg.Cls.cls_thresh)
        lines = []
        for box, text, score in zip(out.boxes, out.txts, out.scores):
            pts = np.asarray(box, dtype=np.float64).reshape(-1, 2)
            x0, y0 = pts.min(axis=0)
            x1, y1 = pts.max(axis=0)
            if flipped:  # read the page as if it had been turned by 180°
                x0, y0, x1, y1 = w - x1, h - y1, w - x0, h - y0
            lines.append(OcrLine(text=str(text), score=float(score), box=(float(x0), float(y0), float(x1), float(y1))))
        return OcrResult(lines=reading_order(lines), rotated=180 if flipped else 0)


def _mostly_flipped(cls_res: list[tuple[str, float]] | None, thresh: float) -> bool:
    """True when confident "180" votes outnumber "0" votes at least 2:1 (and there are ≥ 3 of them)."""
    if not cls_res:
        return False
    flipped = sum(1 for label, score in cls_res if str(label) == "180" and score >= thresh)
    upright = sum(1 for label, _ in cls_res if str(label) == "0")
    return flipped >= 3 and flipped >= 2 * upright


def _bundled_models() -> dict[str, Path]:
    """Paths of the ONNX files inside the rapidocr wheel; a missing file is an install error, not a download."""
    import rapidocr

    root = Path(rapidocr.__file__).resolve().parent / "models"
    models = {
        "det": root / "PP-OCRv6_det_small.onnx",
        "rec": root / "PP-OCRv6_rec_small.onnx",
        "cls": root / "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
    }
    missing = [str(p) for p in models.values() if not p.is_file()]
    if missing:
        raise RuntimeError(
            f"rapidocr's bundled models are missing ({', '.join(missing)}); reinstall rapidocr==3.10.0"
        )
    return models


def _as_bgr(image: np.ndarray) -> np.ndarray:
    """RapidOCR expects a 3-channel uint8 image."""
    if image.dtype != np.uint8:
        raise ValueError(f"OCR expects a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        return np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2))
    if image.ndim == 3 and image.shape[2] == 3:
        return np.ascontiguousarray(image)
    raise ValueError(f"OCR expects a (H, W) or (H, W, 3) image, got shape {image.shape}")
