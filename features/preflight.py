"""Cheap checks that decide whether a file can be processed at all, before any pixel is decoded.

Both doors into the archive use them: the batch (``pipelines.processing``) and the review workbench's
upload page, so a file refused at one is refused at the other, with the same error code and message.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from features.errors import CorruptFileError, TooLargeError, UnreadableFileError
from features.filetypes import FileType, detect_file_type


def check_size(path: Path, max_bytes: int) -> int:
    """The file's size; TooLargeError above ``max_bytes``."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UnreadableFileError(f"cannot read file: {exc.strerror or exc}") from exc
    if size > max_bytes:
        raise TooLargeError(f"file is {size / 2**20:.0f} MB, above the {max_bytes / 2**20:.0f} MB limit")
    return size


def preflight(path: Path, *, max_bytes: int, max_pixels: int) -> FileType:
    """Size, real type (by content), and that the container opens: a PDF that is not encrypted or empty,
    an image whose every frame is within ``max_pixels``. Raises the file's DanganError otherwise."""
    from features.extraction import open_pdf  # local: extraction imports the OCR stack

    check_size(path, max_bytes)
    ftype = detect_file_type(path)
    if ftype.kind == "pdf":
        pdf = open_pdf(path)
        try:
            if len(pdf) == 0:
                raise CorruptFileError("the PDF has no pages; re-export it")
        finally:
            pdf.close()
        return ftype
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                for index in range(int(getattr(img, "n_frames", 1) or 1)):
                    img.seek(index)
                    width, height = img.size
                    if width * height > max_pixels:
                        raise TooLargeError(
                            f"image frame {index + 1} is {width}×{height} = {width * height / 1e6:.0f} MP, above "
                            f"the {max_pixels / 1e6:.0f} MP limit; downsample it first"
                        )
    except Image.DecompressionBombError as exc:
        raise TooLargeError(f"image is too large to decode safely: {exc}") from exc
    except (UnidentifiedImageError, SyntaxError, ValueError, OSError, EOFError) as exc:
        raise CorruptFileError(f"the image cannot be decoded ({exc}); it is damaged or truncated") from exc
    return ftype
