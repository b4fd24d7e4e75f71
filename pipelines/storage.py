"""The flow's view of the system of record: one short session per call over ``pipelines.db``.

The batch flow needs five things from the database — open a run, find what is already done for this
model version, note skipped files, record a finished batch (all or nothing), close the run — and
nothing about sessions or SQL. The engine is created and migrated once per process.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from sqlalchemy.orm import Session, sessionmaker

from pipelines.db import repository as repo
from pipelines.db.engine import make_engine, session_factory, upgrade
from pipelines.results import FileResult


@cache
def _sessions(url: str) -> sessionmaker[Session]:
    engine = make_engine(url)
    upgrade(engine)
    return session_factory(engine)


@dataclass(frozen=True)
class Database:
    url: str

    @classmethod
    def open(cls, url: str) -> Database:
        _sessions(url)  # connect and migrate now: a bad URL fails before any file is touched
        return cls(url)

    def session(self) -> Session:
        """A new session (no transaction open) for the repository functions."""
        return _sessions(self.url)()

    def start_run(self, inputs: Sequence[str], model_version: str) -> int:
        with self.session() as s:
            return repo.start_run(s, inputs=list(inputs), model_version=model_version)

    def done_results(self, sha256s: Iterable[str], model_version: str) -> dict[str, FileResult]:
        """Stored results of the files that need no new attempt (done, or failed for good)."""
        with self.session() as s:
            done = repo.done_keys(s, sha256s, model_version)
            return repo.load_results(s, done, model_version) if done else {}

    def record_skipped(self, run_id: int, files: list[tuple[str, str | None]]) -> None:
        if files:
            with self.session() as s:
                repo.record_skipped(s, run_id, [(path, sha) for path, sha in files if sha])

    def record(self, run_id: int, results: Sequence[FileResult], sizes: Mapping[str, int] | None = None) -> None:
        """``sizes``: sha256 → bytes of the original (``FileResult.file`` is a display path)."""
        texts = {r.sha256: r.text for r in results if r.sha256 and r.text}
        with self.session() as s:
            repo.record_results(s, run_id, results, texts, sizes=sizes)

    def finish_run(self, run_id: int, status: str) -> repo.RunSummary:
        with self.session() as s:
            return repo.finish_run(s, run_id, status=status)  # type: ignore[arg-type]

    def status(self) -> tuple[repo.StatusCounts, list[repo.RunSummary], int]:
        """Totals, the recent runs, and how many documents wait in the review queue."""
        from pipelines.db.review import review_queue

        with self.session() as s:
            return repo.status_counts(s), repo.run_summaries(s, limit=10), review_queue(s, limit=0)[1]
