"""What a file really is, from its first bytes — never from its name.

Archives arrive with wrong extensions: Word files renamed ``.pdf``, thumbnails saved as ``.jpg``
that are really HTML error pages, TIFF scans called ``.pdf``. Deciding by magic bytes sends each
file to the right reader and turns everything else into a typed, explained error.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import filetype

from features.errors import CorruptFileError, EmptyFileError, UnreadableFileError, UnsupportedTypeError

FileKind = Literal["pdf", "image", "tiff"]

#: How many leading bytes are read. PDF allows junk before ``%PDF-`` (Acrobat accepts 1024 bytes).
HEADER_BYTES = 8192
_PDF_SEARCH = 1024

#: Extensions whose owner expects us to read the file; a mismatch there means "damaged", not "unsupported".
_SUPPORTED_EXTENSIONS = {
    ".pdf": "PDF", ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".jfif": "JPEG",
    ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WebP", ".bmp": "BMP", ".gif": "GIF",
}


@dataclass(frozen=True)
class FileType:
    """The detected type: ``kind`` picks the reader, ``format`` names it for messages and logs."""

    kind: FileKind
    format: str
    mime: str


_PDF = FileType("pdf", "PDF", "application/pdf")


def sniff(header: bytes) -> FileType | None:
    """The supported type whose signature starts ``header``, or None."""
    if b"%PDF-" in header[:_PDF_SEARCH]:
        return _PDF
    if header.startswith(b"\x89PNG\r\n\x1a\n"):
        return FileType("image", "PNG", "image/png")
    if header.startswith(b"\xff\xd8\xff"):
        return FileType("image", "JPEG", "image/jpeg")
    if header[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):  # classic and BigTIFF
        return FileType("tiff", "TIFF", "image/tiff")
    if header[:4] == b"RIFF" and header[8:12] == b"WEBP":
        return FileType("image", "WebP", "image/webp")
    if header[:2] == b"BM" and len(header) >= 26:
        return FileType("image", "BMP", "image/bmp")
    if header[:6] in (b"GIF87a", b"GIF89a"):
        return FileType("image", "GIF", "image/gif")
    return None


def detect_file_type(path: Path) -> FileType:
    """Detect the real type of ``path`` by its content.

    Raises
    ------
    EmptyFileError
        The file has zero bytes.
    UnsupportedTypeError
        The content is a recognisable format we do not read (Office, ZIP, DWG, text, ...).
    CorruptFileError
        The name promises a supported format but the bytes match nothing we know.
    UnreadableFileError
        The file cannot be opened.
    """
    try:
        with path.open("rb") as fh:
            header = fh.read(HEADER_BYTES)
    except OSError as exc:
        raise UnreadableFileError(f"cannot read file: {exc.strerror or exc}") from exc
    if not header:
        raise EmptyFileError("the file is empty (0 bytes); re-export or re-scan it")
    found = sniff(header)
    if found is not None:
        return found
    other = _describe_unsupported(path, header)
    claimed = _SUPPORTED_EXTENSIONS.get(path.suffix.lower())
    if other is not None:
        named = f" although it is named {path.suffix}" if claimed else ""
        raise UnsupportedTypeError(
            f"the file is {other}{named}; only PDF, TIFF and image scans (PNG/JPEG/WebP/BMP) are read — "
            "convert it to PDF first"
        )
    if claimed:
        raise CorruptFileError(
            f"the file is named {path.suffix} but its content is not a {claimed} file "
            "(unknown binary data) — it is damaged or was saved wrongly; re-export or re-scan it"
        )
    raise UnsupportedTypeError(
        f"unknown file type{f' ({path.suffix})' if path.suffix else ''}; "
        "only PDF, TIFF and image scans (PNG/JPEG/WebP/BMP) are read"
    )


def _describe_unsupported(path: Path, header: bytes) -> str | None:
    """A human name for a recognised but unsupported format, so the operator knows what to convert."""
    if header.startswith(b"PK\x03\x04"):
        return _describe_zip(path)
    if header.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "a legacy Microsoft Office document (.doc/.xls/.ppt)"
    if header[:4] == b"AC10" or header[:6] == b"AC1.40":
        return "an AutoCAD drawing (DWG)"
    if header.startswith(b"{\\rtf"):
        return "an RTF document"
    if header.startswith(b"AT&TFORM") or header[4:8] == b"DJVM":
        return "a DjVu document"
    if header.startswith(b"Rar!") or header.startswith(b"7z\xbc\xaf'\x1c"):
        return "a compressed archive (RAR/7z)"
    if header.lstrip().lower().startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    kind = filetype.guess(header)
    if kind is not None:
        return f"a {kind.mime} file"
    if _looks_like_text(header):
        return "a plain-text file"
    return None


def _describe_zip(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist()[:200])
    except (zipfile.BadZipFile, OSError):
        return "a ZIP archive (damaged)"
    if any(n.startswith("word/") for n in names):
        return "a Word document (.docx)"
    if any(n.startswith("xl/") for n in names):
        return "an Excel workbook (.xlsx)"
    if any(n.startswith("ppt/") for n in names):
        return "a PowerPoint file (.pptx)"
    if "mimetype" in names:
        return "an OpenDocument/OFD/EPUB container"
    return "a ZIP archive"


def _looks_like_text(header: bytes) -> bool:
    """UTF-8 or GB18030 text with almost no control bytes."""
    sample = header[:4096]
    if b"\x00" in sample:
        return False
    for encoding in ("utf-8", "gb18030"):
        try:
            text = sample.decode(encoding)
        except UnicodeDecodeError:
            # A multi-byte character may be cut at the end of the sample.
            try:
                text = sample[:-3].decode(encoding)
            except UnicodeDecodeError:
                continue
        controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\r\n\t\f")
        return controls <= len(text) * 0.01
    return False
