"""OCR engines behind one small interface, so a faster or more accurate one can be swapped in."""

from features.ocr.base import OcrEngine, OcrLine, OcrResult

__all__ = ["OcrEngine", "OcrLine", "OcrResult"]
