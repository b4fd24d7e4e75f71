"""Storage (pipelines/db) against real databases: SQLite (WAL) and PostgreSQL.

The PostgreSQL half needs a server: ``export DANGAN_TEST_POSTGRES_URL="$(bash scripts/postgres.sh)"``.
Without that variable these tests fail (CI must exercise PostgreSQL) unless ``DANGAN_SKIP_POSTGRES=1``.
Each PostgreSQL test works in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from pipelines.db import repository as repo
from pipelines.db.engine import (
    current_revision,
    default_url,
    downgrade,
    head_revision,
    make_engine,
    session_factory,
    upgrade,
)
from pipelines.db.models import AuditEvent, Base, Document, Label, Prediction, Run, RunFile
from pipelines.results import CandidateOut, ErrorInfo, FileResult, TagsOut, UnitOut

ROOT = Path(__file__).resolve().parents[1]
TABLES = {"runs", "documents", "run_files", "predictions", "labels", "audit_events"}


# ---------------------------------------------------------------------------------------------- fixtures


def _postgres_base_url() -> str:
    url = os.environ.get("DANGAN_TEST_POSTGRES_URL")
    if url:
        return url
    if os.environ.get("DANGAN_SKIP_POSTGRES") == "1":
        pytest.skip("DANGAN_SKIP_POSTGRES=1")
    pytest.fail(
        "DANGAN_TEST_POSTGRES_URL is not set, so the PostgreSQL storage tests cannot run. Start a server with\n"
        '  export DANGAN_TEST_POSTGRES_URL="$(bash scripts/postgres.sh)"\n'
        "or set DANGAN_SKIP_POSTGRES=1 to skip them (CI must not).",
        pytrace=False,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> Iterator[str]:
    """An empty database: a fresh SQLite file, or a fresh schema on the PostgreSQL test server."""
    if request.param == "sqlite":
        yield default_url(tmp_path / "home")
        return
    base = _postgres_base_url()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@dataclass
class DB:
    url: str
    engine: Engine
    Session: sessionmaker[Session]

    def count(self, model) -> int:  # type: ignore[no-untyped-def]
        with self.Session() as s:
            return s.scalar(select(func.count()).select_from(model)) or 0

    def engines(self) -> Engine:
        return make_engine(self.url)


@pytest.fixture
def db(url) -> Iterator[DB]:
    upgrade(url)
    engine = make_engine(url)
    try:
        yield DB(url, engine, session_factory(engine))
    finally:
        engine.dispose()


def sha(n: int | str) -> str:
    import hashlib

    return hashlib.sha256(str(n).encode()).hexdigest()


def ok(n: int | str, *, item: str = "A1.1", route: str = "auto", mv: str = "m1", path: str | None = None,
       **kw) -> FileResult:  # type: ignore[no-untyped-def]
    return FileResult(
        file=path or f"/archive/{n}.pdf", sha256=sha(n), status="ok", pages=2, text_source="text",
        ocr_confidence=None, stage="construction", class_code="A1", class_name="立项文件", item_code=item,
        item_name="项目建议书", confidence=0.97, class_confidence=0.99, route=route, model_version=mv,
        candidates=[CandidateOut(item_code=item, item_name="项目建议书", confidence=0.97)],
        tags=TagsOut(project_name="某某大厦", units=[UnitOut(role="建设单位", name="某公司")], keywords=["立项"]),
        seconds=0.5, **kw,
    )


def err(n: int | str, code: str = "ocr_failed", *, mv: str = "m1", hashed: bool = True) -> FileResult:
    return FileResult(
        file=f"/archive/{n}.pdf", sha256=sha(n) if hashed else None, status="error",
        error=ErrorInfo(code=code, message=f"{code} happened"), model_version=mv, seconds=0.1,
    )


# ---------------------------------------------------------------------------------------------- schema


def test_migrations_create_schema_from_empty_and_are_idempotent(url):
    upgrade(url)
    upgrade(url)  # second time: nothing to do, no error
    engine = make_engine(url)
    try:
        assert current_revision(engine) == head_revision() is not None
        assert TABLES <= set(inspect(engine).get_table_names())

        # The migrations and the models describe the same schema.
        from alembic.autogenerate import compare_metadata
        from alembic.migration import MigrationContext

        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert diff == []

        downgrade(url, "base")
        assert not TABLES & set(inspect(engine).get_table_names())
        upgrade(url)
        assert TABLES <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_concurrent_upgrades_serialise(url):
    errors: list[BaseException] = []

    def go() -> None:
        try:
            upgrade(url)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_sqlite_connection_settings(tmp_path):
    engine = make_engine(default_url(tmp_path / "nested" / "home"))
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert (tmp_path / "nested" / "home" / "dangan.db").exists()
    finally:
        engine.dispose()


def test_foreign_keys_and_utc_datetimes(db):
    with db.Session() as s:
        run_id = repo.start_run(s, inputs=["/archive"], model_version="m1")
        run = s.get(Run, run_id)
        assert run.started_at.tzinfo is not None and run.started_at.utcoffset().total_seconds() == 0
        assert run.started_at.tzinfo == UTC
    with db.Session() as s, pytest.raises(IntegrityError), s.begin():
        s.add(Prediction(document_id=999_999, model_version="m1", status="ok"))


# ---------------------------------------------------------------------------------------------- results


def test_record_results_is_idempotent(db):
    batch = [
        ok(1), ok(2, route="review"), err(3), err("gone", "not_found", hashed=False),
        ok(1, path="/elsewhere/copy-of-1.pdf"),  # the same content under a second path
    ]
    texts = {sha(1): "项目建议书 正文", sha(2): "text\x00with a NUL"}
    with db.Session() as s:
        run_id = repo.start_run(s, inputs=["/archive"], model_version="m1")
        first = repo.record_results(s, run_id, batch, texts)
        second = repo.record_results(s, run_id, batch, texts)
    assert first == repo.RecordOutcome(files=5, documents=3, predictions_written=3, predictions_kept=0,
                                       labels_written=1)
    # Again: the successful predictions are kept; the error one is retried (replaced, not duplicated).
    assert second.predictions_kept == 2 and second.labels_written == 0
    assert db.count(Document) == 3
    assert db.count(Prediction) == 3
    assert db.count(Label) == 1
    assert db.count(RunFile) == 5
    assert db.count(AuditEvent) == 1
    with db.Session() as s:
        doc1 = s.scalars(select(Document).where(Document.sha256 == sha(1))).one()
        assert doc1.first_path == "/archive/1.pdf" and doc1.text == "项目建议书 正文" and doc1.pages == 2
        assert s.scalars(select(Document.text).where(Document.sha256 == sha(2))).one() == "textwith a NUL"
        paths = s.scalars(select(RunFile.path).where(RunFile.document_id == doc1.id).order_by(RunFile.path))
        assert list(paths) == ["/archive/1.pdf", "/elsewhere/copy-of-1.pdf"]
        unhashed = s.scalars(select(RunFile).where(RunFile.sha256.is_(None))).one()
        assert (unhashed.outcome, unhashed.error_code, unhashed.document_id) == ("error", "not_found", None)
        attempts = s.scalars(select(Prediction.attempts).join(Document).where(Document.sha256 == sha(3))).one()
        assert attempts == 2


def test_a_failing_row_rolls_back_the_whole_batch(db):
    with db.Session() as s:
        run_id = repo.start_run(s, inputs=["/archive"], model_version="m1")
        repo.record_results(s, run_id, [ok(0)])
    bad = ok(99).model_copy(update={"status": "bogus"})  # unvalidated: violates a CHECK constraint
    with db.Session() as s:
        with pytest.raises(IntegrityError):
            repo.record_results(s, run_id, [ok(1), ok(2), bad, err(3)], {sha(1): "text"})
        # The session is usable again afterwards.
        assert repo.done_keys(s, [sha(0), sha(1)], "m1") == {sha(0)}
    assert db.count(Document) == 1 and db.count(Prediction) == 1 and db.count(RunFile) == 1
    assert db.count(Label) == 1 and db.count(AuditEvent) == 1


def test_done_keys(db):
    with db.Session() as s:
        run_id = repo.start_run(s, inputs=["/archive"], model_version="m1")
        repo.record_results(s, run_id, [ok(1), err(2, "ocr_failed"), err(3, "too_large"), ok(4, mv="m0")])
        keys = [sha(n) for n in (1, 2, 3, 4, 5)]
        # ok → done; an error a retry may fix → not done; a permanent error → done; other model → not done.
        assert repo.done_keys(s, keys, "m1") == {sha(1), sha(3)}
        assert repo.done_keys(s, keys, "m0") == {sha(4)}
        assert repo.done_keys(s, [], "m1") == set()
        # The retry succeeds: the error prediction is replaced.
        out = repo.record_results(s, run_id, [ok(2)])
        assert out.predictions_written == 1 and out.labels_written == 1
        assert repo.done_keys(s, keys, "m1") == {sha(1), sha(2), sha(3)}
    assert db.count(Prediction) == 4


def test_load_results_round_trip(db):
    originals = [ok(1), ok(2, route="class"), err(3, "too_large")]
    with db.Session() as s:
        run_id = repo.start_run(s, inputs=["/archive"], model_version="m1")
        repo.record_results(s, run_id, originals)
        loaded = repo.load_results(s, [sha(1), sha(2), sha(3), sha(4)], "m1")
    assert set(loaded) == {sha(1), sha(2), sha(3)}
    for r in originals:
        assert loaded[r.sha256].model_dump() == r.model_dump()


def test_large_batch_is_chunked(db):
    batch = [ok(n, route="auto" if n % 2 else "review") for n in range(1200)]
    with db.Session() as s:
        run_id = repo.start_run(s, inputs=["/archive"], model_version="m1")
        out = repo.record_results(s, run_id, batch)
        assert out.predictions_written == 1200 and out.labels_written == 600
        assert len(repo.done_keys(s, [r.sha256 for r in batch], "m1")) == 1200


# ---------------------------------------------------------------------------------------------- runs


def test_runs_summaries_and_counts(db):
    with db.Session() as s:
        run_id = repo.start_run(s, inputs=["/archive", Path("/more")], model_version="m1",
                                options={"dpi": 200})
        repo.record_results(s, run_id, [ok(1), ok(2, route="review"), err(3), err(9, "x", hashed=False)])
        assert repo.record_skipped(s, run_id, [("/archive/old.pdf", sha(1))]) == 1
        live = repo.run_summaries(s)[0]
        assert (live.id, live.status, live.files_total, live.finished_at) == (run_id, "running", 5, None)
        done = repo.finish_run(s, run_id)
        assert (done.status, done.files_total, done.files_ok, done.files_error, done.files_skipped) == (
            "finished", 5, 2, 2, 1)
        assert done.seconds is not None and done.seconds >= 0
        assert repo.run_summaries(s) == [done]
        assert done.inputs == ["/archive", "/more"]

        counts = repo.status_counts(s)
        assert counts.documents == 3 and counts.predictions == 3
        assert counts.by_status == {"ok": 2, "error": 1}
        assert counts.by_route == {"auto": 1, "review": 1}
        assert counts.by_error_code == {"ocr_failed": 1}
        assert counts.current_labels_by_source == {"auto": 1}
        assert repo.status_counts(s, model_version="other").predictions == 0


def test_runs_of_killed_processes_are_marked_interrupted(db):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with db.Session() as s:
        old = repo.start_run(s, inputs=["/a"], model_version="m1")
        with s.begin():
            s.get(Run, old).pid = dead.pid
        new = repo.start_run(s, inputs=["/a"], model_version="m1")
        statuses = {r.id: r.status for r in repo.run_summaries(s)}
    assert statuses == {old: "interrupted", new: "running"}


# ---------------------------------------------------------------------------------------------- labels


def test_labels_are_superseded_never_overwritten(db):
    with db.Session() as s:
        run_id = repo.start_run(s, inputs=["/archive"], model_version="m1")
        repo.record_results(s, run_id, [ok(1, item="A1.1"), ok(2, route="review")])
        d1, d2 = repo.document_id(s, sha(1)), repo.document_id(s, sha(2))
        auto = repo.current_label(s, d1)
        assert (auto.source, auto.item_code, auto.version, auto.created_by) == ("auto", "A1.1", 1, "pipeline")
        assert repo.current_label(s, d2) is None

        fixed = repo.set_label(s, d1, "A2.3", user="alice", reason="wrong item", expected_version=1)
        assert (fixed.version, fixed.source, fixed.supersedes_id, fixed.is_current) == (2, "reviewer", auto.id, True)

        # Bob saw version 1 too: his change is refused and nothing is written.
        with pytest.raises(repo.ConflictError) as exc:
            repo.set_label(s, d1, "A9.9", user="bob", reason=None, expected_version=1)
        assert (exc.value.expected_version, exc.value.actual_version) == (1, 2)

        # First label of an unlabelled document; then "no catalogue item applies".
        repo.set_label(s, d2, "B1.1", user="bob", reason="obvious", expected_version=0)
        with pytest.raises(repo.ConflictError):
            repo.set_label(s, d2, "B1.2", user="carol", reason=None, expected_version=0)
        none = repo.set_label(s, d2, None, user="carol", reason="not an archive document", expected_version=1)
        assert none.item_code is None and none.version == 2

        with pytest.raises(repo.NotFoundError):
            repo.set_label(s, 999_999, "A1.1", user="alice", reason=None, expected_version=0)

        history = repo.label_history(s, d1)
        assert [(h.version, h.item_code, h.is_current) for h in history] == [(1, "A1.1", False), (2, "A2.3", True)]

        # A new model's auto result never replaces a reviewer's label.
        run2 = repo.start_run(s, inputs=["/archive"], model_version="m2")
        repo.record_results(s, run2, [ok(1, item="A7.7", mv="m2")])
        assert repo.current_label(s, d1).item_code == "A2.3"

        trail = repo.audit_trail(s, entity_type="document", entity_id=d1)
        assert [(e.actor, e.action) for e in trail] == [("pipeline", "label.auto"), ("alice", "label.set")]
        assert trail[1].old == {"label_id": auto.id, "item_code": "A1.1", "source": "auto", "version": 1}
        assert trail[1].new["item_code"] == "A2.3" and trail[1].reason == "wrong item"
        assert trail[1].at.tzinfo is not None
    assert db.count(Label) == 4  # nothing deleted


def test_a_newer_models_auto_label_supersedes_an_older_auto_label(db):
    with db.Session() as s:
        for mv, item in [("m1", "A1.1"), ("m2", "A1.2"), ("m3", "A1.2")]:
            run_id = repo.start_run(s, inputs=["/archive"], model_version=mv)
            repo.record_results(s, run_id, [ok(1, item=item, mv=mv)])
        d1 = repo.document_id(s, sha(1))
        history = repo.label_history(s, d1)
    assert [(h.version, h.item_code, h.is_current) for h in history] == [(1, "A1.1", False), (2, "A1.2", True)]


def test_one_current_label_per_document_is_enforced_by_the_database(db):
    with db.Session() as s:
        run_id = repo.start_run(s, inputs=["/archive"], model_version="m1")
        repo.record_results(s, run_id, [ok(1)])
        d1 = repo.document_id(s, sha(1))
    with db.Session() as s, pytest.raises(IntegrityError), s.begin():
        s.add(Label(document_id=d1, item_code="X", source="reviewer", version=7, created_by="mallory"))


# ---------------------------------------------------------------------------------------------- concurrency


def test_concurrent_writers(db):
    """Several workers, each with its own engine (as separate processes would have), record overlapping
    batches, read, and race to relabel one document. No 'database is locked', no duplicates, exactly one
    winner per label version."""
    workers, batches, per_batch = 4, 8, 5
    with db.Session() as s:
        run_id = repo.start_run(s, inputs=["/archive"], model_version="m1")
        repo.record_results(s, run_id, [ok("contested")])
        contested = repo.document_id(s, sha("contested"))

    def work(w: int) -> tuple[int, int]:
        engine = db.engines()
        Session_ = session_factory(engine)
        won = lost = 0
        try:
            for b in range(batches):
                # Half of each batch is shared with the other workers.
                ns = [f"w{w}-{b}-{i}" if i % 2 else f"shared-{b}-{i}" for i in range(per_batch)]
                with Session_() as s:
                    done = repo.done_keys(s, [sha(n) for n in ns], "m1")
                    repo.record_results(s, run_id, [ok(n, path=f"/w{w}/{n}.pdf") for n in ns if sha(n) not in done])
                    try:
                        repo.set_label(s, contested, f"Z{w}.{b}", user=f"user{w}", reason=None,
                                       expected_version=1 + b)
                        won += 1
                    except repo.ConflictError:
                        lost += 1
            return won, lost
        finally:
            engine.dispose()

    with ThreadPoolExecutor(workers) as pool:
        outcomes = list(pool.map(work, range(workers)))  # re-raises any worker's exception

    distinct = {f"shared-{b}-{i}" for b in range(batches) for i in range(0, per_batch, 2)} | {
        f"w{w}-{b}-{i}" for w in range(workers) for b in range(batches) for i in range(1, per_batch, 2)
    }
    assert db.count(Document) == len(distinct) + 1
    assert db.count(Prediction) == len(distinct) + 1
    assert sum(w for w, _ in outcomes) + sum(lost for _, lost in outcomes) == workers * batches
    with db.Session() as s:
        history = repo.label_history(s, contested)
        versions = [h.version for h in history]
        assert versions == list(range(1, len(versions) + 1))
        assert len(versions) == 1 + sum(w for w, _ in outcomes)
        assert [h.is_current for h in history].count(True) == 1


# ---------------------------------------------------------------------------------------------- kill -9

_CHILD = r"""
import sys, time
from sqlalchemy import event
from pipelines.db import repository as repo
from pipelines.db.engine import make_engine, session_factory, upgrade
from pipelines.results import FileResult

url, mode = sys.argv[1], sys.argv[2]
upgrade(url)
engine = make_engine(url)
files = [FileResult(file=f"/in/{i}.pdf", sha256=f"{i:064x}", status="ok", pages=1, route="auto",
                    item_code="A1.1", model_version="m1") for i in range(20)]
if mode == "hang":  # stop for good inside the 2nd batch's transaction, after its predictions are written
    seen = []
    @event.listens_for(engine, "after_cursor_execute")
    def _hang(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("INSERT INTO PREDICTIONS"):
            seen.append(1)
            if len(seen) == 2:
                print("IN-TRANSACTION", flush=True)
                time.sleep(600)
with session_factory(engine)() as s:
    run = repo.start_run(s, inputs=["/in"], model_version="m1")
    done = repo.done_keys(s, [f.sha256 for f in files], "m1")
    repo.record_skipped(s, run, [(f.file, f.sha256) for f in files if f.sha256 in done])
    todo = [f for f in files if f.sha256 not in done]
    for i in range(0, len(todo), 5):
        repo.record_results(s, run, todo[i:i + 5], {f.sha256: "text" for f in todo[i:i + 5]})
    repo.finish_run(s, run)
print("DONE", flush=True)
"""


def _child(url: str, mode: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", _CHILD, url, mode], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT, env=env)


def test_kill_9_mid_batch_then_rerun_records_every_file_exactly_once(db):
    child = _child(db.url, "hang")
    try:
        assert child.stdout.readline().strip() == "IN-TRANSACTION"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    # Only the first, committed batch is there: no partial rows from the second.
    assert (db.count(Document), db.count(Prediction), db.count(Label), db.count(RunFile)) == (5, 5, 5, 5)

    again = _child(db.url, "run")
    out, _ = again.communicate(timeout=120)
    assert again.returncode == 0 and out.strip() == "DONE"
    assert (db.count(Document), db.count(Prediction), db.count(Label), db.count(AuditEvent)) == (20, 20, 20, 20)
    with db.Session() as s:
        runs = repo.run_summaries(s)
        assert [(r.status, r.files_total, r.files_ok, r.files_skipped) for r in runs] == [
            ("finished", 20, 15, 5), ("interrupted", 5, 5, 0)]
        n_texts = s.scalar(select(func.count()).select_from(Document).where(Document.text == "text"))
        assert n_texts == 20
