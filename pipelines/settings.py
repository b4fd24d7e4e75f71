"""All configuration in one place: environment variables ``DANGAN_*`` (or a ``.env`` file), with
defaults that work on a fresh machine."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DANGAN_", env_file=".env", extra="ignore")

    home: Path = Field(Path(".dangan"), description="State: model registry, signing key, Prefect home, caches")
    ocr_engine: str = Field("rapidocr", description="rapidocr | paddleocr | tesseract")
    ocr_threads: int = Field(1, ge=1, le=64, description="Threads per OCR engine (one engine per worker)")
    workers: int = Field(default_factory=lambda: max(1, min(os.cpu_count() or 1, 8)), ge=1, le=64)
    batch_size: int | None = Field(
        None, ge=1, le=256,
        description="Files per Prefect task; default: sized by measured time (batches of at most ~6 s per worker)",
    )
    dask_address: str | None = Field(None, description="Run tasks on this Dask scheduler (tcp://host:8786)")
    dask_workers: int | None = Field(None, ge=1, le=256, description="Run tasks on a local Dask cluster of N workers")
    dpi: int = Field(200, ge=72, le=600)
    # Pillow itself refuses > ~179 MP as a decompression bomb; 150 MP still admits an A0 sheet at 180 dpi.
    max_image_pixels: int = Field(150_000_000, description="Larger images are refused as too_large")
    max_pages: int = Field(500, ge=1)
    max_file_mb: int = Field(512, ge=1)
    min_text_chars: int = Field(12, description="Fewer meaningful characters on a page means OCR it")
    target_precision: float = Field(0.99, gt=0.5, lt=1.0)
    # Training corpus sizes (documents per catalogue item) for the default, generated seed model.
    train_per_item: int = Field(24, ge=2)
    calib_per_item: int = Field(6, ge=1)
    test_per_item: int = Field(4, ge=1)
    seed: int = 20261128
    archive_root: Path | None = Field(None, description="Archive store of accepted originals (default DANGAN_HOME/archive)")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the system of record (default: SQLite in DANGAN_HOME/dangan.db); "
        "e.g. postgresql+psycopg://user:pass@host/dangan",
    )
    # `dangan serve`: when the nightly run starts (cron, in ``timezone``).
    nightly_cron: str = Field("0 2 * * *", description="cron of the nightly batch (default 02:00)")
    timezone: str = Field("Asia/Shanghai", description="time zone of the nightly cron")
    retrain_cron: str | None = Field(
        None, description="`dangan serve` also retrains on the approved labels at this cron (default: never)",
    )

    # `dangan review`: the review workbench.
    review_host: str = Field("127.0.0.1", description="address the review workbench listens on")
    review_port: int = Field(8765, ge=1, le=65535)
    review_secure_cookies: bool = Field(
        False, description="mark session cookies Secure (set when the workbench is served over HTTPS)",
    )
    review_session_hours: float = Field(12, gt=0, le=24 * 30, description="a login lasts this long")
    login_max_failures: int = Field(5, ge=1, description="failed logins per user or address before a pause")
    login_window_seconds: int = Field(900, ge=1, description="the pause, and the window failures count in")
    inbox: Path | None = Field(None, description="where uploads land for the next run (default DANGAN_HOME/inbox)")

    @cached_property
    def root(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def key_file(self) -> Path:
        return self.root / "secret.key"

    @property
    def prefect_home(self) -> Path:
        return self.root / "prefect"

    @property
    def archive_dir(self) -> Path:
        return self.archive_root.expanduser().resolve() if self.archive_root else self.root / "archive"

    def model_registry(self):  # type: ignore[no-untyped-def]
        """The signed model registry under ``models_dir`` (one way to open it, for every caller)."""
        from models.registry import ModelRegistry, load_or_create_key

        return ModelRegistry(self.models_dir, load_or_create_key(self.key_file))

    @property
    def db_url(self) -> str:
        from pipelines.db.engine import default_url

        return self.database_url or default_url(self.root)

    @property
    def inbox_dir(self) -> Path:
        return self.inbox.expanduser().resolve() if self.inbox else self.root / "inbox"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"
