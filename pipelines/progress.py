"""Progress reporting through one small Protocol; the CLI's implementation draws on stderr, never stdout."""

from __future__ import annotations

from typing import Protocol


class ProgressReporter(Protocol):
    def start(self, total: int, description: str) -> None: ...

    def advance(self, n: int = 1) -> None: ...

    def stop(self) -> None: ...


class NullProgress:
    def start(self, total: int, description: str) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def stop(self) -> None:
        pass


class RichProgress:
    """A bar with count, rate and ETA on stderr (quiet when stderr is not a terminal)."""

    def __init__(self) -> None:
        from rich.console import Console

        self._console = Console(stderr=True)
        self._progress = None
        self._task = None

    def start(self, total: int, description: str) -> None:
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("files"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=self._console, transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(description, total=total)

    def advance(self, n: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


_reporter: ProgressReporter = NullProgress()


def set_reporter(reporter: ProgressReporter) -> None:
    global _reporter
    _reporter = reporter


def reporter() -> ProgressReporter:
    return _reporter
