"""One error hierarchy for everything that can go wrong with one input file.

Each error carries a stable ``code`` (it lands in ``results.jsonl`` as ``error.code``) and a message
that tells the operator what to do. Callers decide by type, never by message text.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    EMPTY_FILE = "empty_file"
    CORRUPT = "corrupt"
    ENCRYPTED = "encrypted"
    UNSUPPORTED_TYPE = "unsupported_type"
    TOO_LARGE = "too_large"
    NO_TEXT = "no_text"
    OCR_FAILED = "ocr_failed"
    UNREADABLE = "unreadable"
    INTERNAL = "internal"


class DanganError(Exception):
    """Base for per-file failures; the batch records it and goes on."""

    code: ErrorCode = ErrorCode.INTERNAL
    retryable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EmptyFileError(DanganError):
    code = ErrorCode.EMPTY_FILE


class CorruptFileError(DanganError):
    code = ErrorCode.CORRUPT


class EncryptedFileError(DanganError):
    code = ErrorCode.ENCRYPTED


class UnsupportedTypeError(DanganError):
    code = ErrorCode.UNSUPPORTED_TYPE


class TooLargeError(DanganError):
    code = ErrorCode.TOO_LARGE


class NoTextError(DanganError):
    code = ErrorCode.NO_TEXT


class OcrFailedError(DanganError):
    code = ErrorCode.OCR_FAILED
    retryable = True


class UnreadableFileError(DanganError):
    """The file exists but cannot be opened (permissions, vanished mid-run)."""

    code = ErrorCode.UNREADABLE
    retryable = True
