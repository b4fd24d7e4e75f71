"""OCR engines behind one small interface, so a faster or more accurate one can be swapped in."""

from features.ocr.base import EngineUnavailableError, OcrEngine, OcrLine, OcrResult

__all__ = ["EngineUnavailableError", "OcrEngine", "OcrLine", "OcrResult"]
