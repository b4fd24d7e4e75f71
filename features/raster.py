"""Pixels for OCR: images and TIFF frames loaded safely, PDF pages rendered, all as 8-bit grayscale.

PP-OCR is tuned for text about 30–40 px high, i.e. an A4 page at ~200 dpi (1654×2339 px). Bigger
inputs cost CPU and RAM without gaining accuracy (ocr.md §2a), so everything is brought to about
that scale here. Untrusted files can be decompression bombs, so the pixel count is checked from the
header before any pixel is decoded.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pypdfium2 as pdfium
from PIL import Image, ImageOps, UnidentifiedImageError

from features.errors import CorruptFileError, TooLargeError

#: Refuse images above this many pixels (a 300 dpi A0 scan is ~140 MP; a phone photo is 12–50 MP).
DEFAULT_MAX_PIXELS = 80_000_000
#: Target resolution for OCR, and the long side of an A4 page at that resolution.
OCR_DPI = 200
A4_LONG_SIDE_AT_200DPI = 2339
#: Never hand OCR more than this long side (A3 at 200 dpi is 3307 px); memory grows with the square.
HARD_MAX_LONG_SIDE = 4680


@dataclass(frozen=True)
class Frame:
    """One page image: 8-bit grayscale (H, W), and the scale applied to the decoded pixels."""

    image: np.ndarray
    index: int
    scale: float = 1.0


def iter_image_frames(
    path: Path,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_long_side: int = A4_LONG_SIDE_AT_200DPI,
    max_frames: int | None = None,
) -> Iterator[Frame]:
    """Yield every frame of an image file (one for PNG/JPEG, all pages of a multi-page TIFF).

    EXIF orientation is applied, so a phone photo comes out upright as the phone showed it.
    Images that declare a scan resolution above 200 dpi are scaled to 200 dpi; images without a
    usable resolution (photos, 72/96 dpi defaults) are scaled so the long side is ``max_long_side``.

    Raises
    ------
    TooLargeError
        A frame has more than ``max_pixels`` pixels (checked before decoding).
    CorruptFileError
        The image cannot be identified or its data is truncated or damaged.
    """
    try:
        with warnings.catch_warnings():
            # We enforce our own limit below; Pillow's warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise TooLargeError(f"image is too large to decode safely: {exc}") from exc
    except (UnidentifiedImageError, SyntaxError, ValueError, OSError) as exc:
        raise CorruptFileError(f"the image cannot be decoded ({exc}); it is damaged or truncated") from exc
    with img:
        n_frames = int(getattr(img, "n_frames", 1) or 1)
        for index in range(n_frames):
            if max_frames is not None and index >= max_frames:
                break
            try:
                img.seek(index)
            except EOFError:
                break
            except (OSError, ValueError) as exc:
                raise CorruptFileError(f"frame {index + 1} of the image cannot be read: {exc}") from exc
            yield _decode_frame(img, index, max_pixels=max_pixels, max_long_side=max_long_side)


def _decode_frame(img: Image.Image, index: int, *, max_pixels: int, max_long_side: int) -> Frame:
    width, height = img.size
    if width <= 0 or height <= 0:
        raise CorruptFileError(f"frame {index + 1} has an empty size {width}×{height}")
    if width * height > max_pixels:
        raise TooLargeError(
            f"image frame {index + 1} is {width}×{height} = {width * height / 1e6:.0f} MP, above the "
            f"{max_pixels / 1e6:.0f} MP limit (a decompression bomb or an oversized scan); downsample it first"
        )
    scale = _target_scale(img, max_long_side)
    if img.format == "JPEG" and scale < 0.5:
        # Let libjpeg decode at 1/2, 1/4 or 1/8 size: much faster and lighter for phone photos.
        img.draft("L", (max(1, int(width * scale)), max(1, int(height * scale))))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img.load()
            upright = ImageOps.exif_transpose(img)
            gray = _to_gray(upright)
    except Image.DecompressionBombError as exc:
        raise TooLargeError(f"image is too large to decode safely: {exc}") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise CorruptFileError(
            f"image frame {index + 1} cannot be decoded ({exc}); the file is truncated or damaged"
        ) from exc
    # draft() may already have shrunk the decode; finish the scaling on the long side.
    target_long = max(1, round(max(width, height) * scale))
    current_long = max(gray.shape)
    if current_long > target_long:
        gray = resize(gray, target_long / current_long)
    return Frame(image=gray, index=index, scale=scale)


def _target_scale(img: Image.Image, max_long_side: int) -> float:
    """Scale that brings a scan to 200 dpi, or a photo to ``max_long_side``; never upscales."""
    width, height = img.size
    long_side = max(width, height)
    dpi = _declared_dpi(img)
    if dpi is not None and dpi > OCR_DPI * 1.1:
        scale = OCR_DPI / dpi
    elif dpi is None and long_side > max_long_side:
        scale = max_long_side / long_side
    else:
        scale = 1.0
    return min(scale, HARD_MAX_LONG_SIDE / long_side, 1.0)


def _declared_dpi(img: Image.Image) -> float | None:
    """The scan resolution if the file states a plausible one (150–1200 dpi), else None.

    72 and 96 dpi are software defaults (cameras, screenshots) and say nothing about the page.
    """
    dpi = img.info.get("dpi")
    try:
        value = float(dpi[0]) if dpi else 0.0
    except (TypeError, ValueError, IndexError):
        return None
    return value if 150 <= value <= 1200 else None


def _to_gray(img: Image.Image) -> np.ndarray:
    """8-bit grayscale; transparency is composited onto white (not black) so text stays visible."""
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        return np.ascontiguousarray(((arr - lo) * (255.0 / max(hi - lo, 1e-9))).astype(np.uint8))
    return np.ascontiguousarray(np.asarray(img.convert("L"), dtype=np.uint8))


def resize(gray: np.ndarray, scale: float) -> np.ndarray:
    """Area-averaged downscale (keeps thin strokes legible) or cubic upscale."""
    h, w = gray.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(gray, size, interpolation=interp)


def render_pdf_page(page: pdfium.PdfPage, *, dpi: int = OCR_DPI, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Render one PDF page to 8-bit grayscale at ``dpi``, lowering the resolution if the page is huge.

    A drawing sheet (A0) at 200 dpi is ~62 MP; a malicious page size could be far more, so the scale
    is capped to keep the bitmap within ``max_pixels``.
    """
    width_pt, height_pt = page.get_size()
    scale = dpi / 72.0
    pixels = width_pt * scale * height_pt * scale
    if pixels > max_pixels:
        scale *= (max_pixels / pixels) ** 0.5
    bitmap = page.render(scale=scale, grayscale=True, may_draw_forms=True)
    try:
        arr = bitmap.to_numpy()
        gray = arr[:, :, 0] if arr.ndim == 3 else arr
        return np.ascontiguousarray(gray, dtype=np.uint8)
    finally:
        bitmap.close()
