"""A small review database for the workbench tests: real sample files in an inbox, recorded as a run
with predictions in every route, and accounts in each role. No model is trained: the workbench only
reads what the pipeline recorded."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from features.hashing import sha256_file
from models.catalogue import load_catalogue
from pipelines.db import repository as repo
from pipelines.db import review as rq
from pipelines.results import CandidateOut, FileResult, TagsOut, UnitOut
from pipelines.settings import Settings
from pipelines.storage import Database
from review.security import hash_password

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples" / "inbox"
PASSWORD = "correct horse battery"
# (sample file, candidates best first, top confidence, route, project)
DOCS = [
    ("doc_001.pdf", ["C5-2", "C5-1", "C5-3", "C6-1", "C7-1"], 0.41, "review", "创新污水处理厂提标改造工程"),
    ("doc_002.pdf", ["C2-7", "B3-1", "C2-1", "C2-2", "C2-3"], 0.62, "class", "新城华府写字楼A座"),
    ("doc_003.pdf", ["A1-2", "A1-1", "A1-3", "A2-1", "A2-2"], 0.55, "review", "南山第四人民医院门急诊综合楼"),
    ("doc_004.pdf", ["C5-1", "C5-2", "C5-3", "C5-4", "C5-5"], 0.99, "auto", "创新污水处理厂提标改造工程"),
]
USERS = {"admin": "admin", "rita": "reviewer", "rob": "reviewer", "vic": "viewer"}


@cache
def _password_hash() -> str:
    return hash_password(PASSWORD)  # argon2 is slow on purpose: hash once for all fixture accounts


@dataclass(frozen=True)
class ReviewFixture:
    settings: Settings
    inbox: Path
    doc_ids: dict[str, int]  # sample file name → document id
    run_id: int


def build_review_fixture(home: Path) -> ReviewFixture:
    settings = Settings(home=home, login_max_failures=5, login_window_seconds=900)
    inbox = home / "scans"
    inbox.mkdir(parents=True, exist_ok=True)
    catalogue = load_catalogue()
    db = Database.open(settings.db_url)
    results = []
    for name, codes, conf, route, project in DOCS:
        shutil.copy(SAMPLES / name, inbox / name)
        confs = [conf] + [round((1 - conf) / (i + 2), 3) for i in range(len(codes) - 1)]
        top = catalogue[codes[0]]
        results.append(FileResult(
            file=name, sha256=sha256_file(inbox / name), status="ok", pages=1, text_source="text",
            stage=top.stage, class_code=top.class_code, class_name=top.class_name, item_code=top.code,
            item_name=top.name, confidence=conf, class_confidence=min(1.0, conf + 0.3), route=route,
            candidates=[CandidateOut(item_code=c, item_name=catalogue[c].name, confidence=p) for c, p in zip(codes, confs)],
            model_version="m-test", tags=TagsOut(project_name=project, doc_number="第308号",
                                                 units=[UnitOut(role="施工单位", name="福州城建建设集团有限公司")]),
            text=f"{project}\n{catalogue[codes[1]].name}\n表格内容……",
        ))
    with db.session() as s:
        run_id = repo.start_run(s, inputs=[str(inbox)], model_version="m-test")
    db.record(run_id, results)
    db.finish_run(run_id, "finished")
    with db.session() as s:
        for username, role in USERS.items():
            rq.create_user(s, username=username, role=role, actor="test", password_hash=_password_hash())
        ids = {name: repo.document_id(s, r.sha256) for (name, *_), r in zip(DOCS, results)}
    return ReviewFixture(settings=settings, inbox=inbox, doc_ids=ids, run_id=run_id)  # type: ignore[arg-type]
