"""The review workbench over HTTP: logins and their throttle, roles, CSRF, the queue, labelling with its
conflict check, page images, catalogue search, uploads, and the routes an attacker would try."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipelines.db import repository as repo
from pipelines.db import review as rq
from review.app import create_app
from tests.review_support import PASSWORD, SAMPLES, ReviewFixture, build_review_fixture

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def fx(tmp_path) -> ReviewFixture:
    return build_review_fixture(tmp_path / "home")


@pytest.fixture
def app(fx):  # type: ignore[no-untyped-def]
    return create_app(fx.settings)


def token(client: TestClient, path: str = "/login") -> str:
    return CSRF.search(client.get(path).text).group(1)  # type: ignore[union-attr]


def login(app, username: str, password: str = PASSWORD) -> TestClient:  # type: ignore[no-untyped-def]
    client = TestClient(app)
    r = client.post("/login", data={"username": username, "password": password, "csrf_token": token(client),
                                    "next": "/queue"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


def db_session(fx: ReviewFixture):  # type: ignore[no-untyped-def]
    from pipelines.storage import Database

    return Database.open(fx.settings.db_url).session()


# ---------------------------------------------------------------------------------------------- auth


def test_pages_need_a_login(app):
    client = TestClient(app)
    r = client.get("/queue?project=x", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fqueue%3Fproject%3Dx"
    assert client.get("/documents/1/pages/1.png", follow_redirects=False).status_code == 303
    assert client.post("/documents/1/label", data={"item_code": "C5-1", "expected_version": "0"}).status_code == 401


def test_login_sets_a_hardened_session_cookie_and_logout_ends_it(app):
    client = TestClient(app)
    r = client.post("/login", data={"username": "rita", "password": PASSWORD, "csrf_token": token(client)},
                    follow_redirects=False)
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert client.get("/queue").status_code == 200
    r = client.post("/logout", data={"csrf_token": token(client, "/queue")}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/queue", follow_redirects=False).status_code == 303


def test_a_copied_cookie_stops_working_at_logout(app, fx):
    """Sessions live on the server: logging out ends the session for every copy of its cookie, and
    the database holds only a hash of the token the cookie carries."""
    client = login(app, "rita")
    stolen = TestClient(app, cookies=dict(client.cookies))
    assert stolen.get("/queue").status_code == 200
    other_device = login(app, "rita")
    client.post("/logout", data={"csrf_token": token(client, "/queue")})
    assert stolen.get("/queue", follow_redirects=False).status_code == 303
    assert other_device.get("/queue").status_code == 200  # logging out on one device leaves the others
    from pipelines.db.models import ReviewSession

    with db_session(fx) as s:
        rows = s.query(ReviewSession).all()
    assert len(rows) == 2 and all(len(r.token_sha256) == 64 for r in rows)
    assert sum(r.revoked_at is not None for r in rows) == 1


def test_wrong_password_and_unknown_user_look_the_same(app):
    client = TestClient(app)
    a = client.post("/login", data={"username": "rita", "password": "wrong password!", "csrf_token": token(client)})
    b = client.post("/login", data={"username": "nobody", "password": "wrong password!", "csrf_token": token(client)})
    assert a.status_code == b.status_code == 401
    assert "wrong username or password" in a.text and "wrong username or password" in b.text


def test_login_is_throttled_after_repeated_failures(app, fx):
    client = TestClient(app)
    for _ in range(fx.settings.login_max_failures):
        r = client.post("/login", data={"username": "rita", "password": "guess guess", "csrf_token": token(client)})
        assert r.status_code == 401
    # Now even the right password is refused until the window has passed.
    r = client.post("/login", data={"username": "rita", "password": PASSWORD, "csrf_token": token(client)})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    # The address is throttled too: guessing another user's password from here is refused as well.
    r = client.post("/login", data={"username": "rob", "password": PASSWORD, "csrf_token": token(client)})
    assert r.status_code == 429
    clock = app.state.ctx.throttle
    later = clock._clock() + fx.settings.login_window_seconds + 1
    clock._clock = lambda: later
    login(app, "rita")


def test_login_redirects_only_within_the_site(app):
    client = TestClient(app)
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        r = client.post("/login", data={"username": "rita", "password": PASSWORD, "csrf_token": token(client),
                                        "next": evil}, follow_redirects=False)
        assert r.headers["location"] == "/queue"


def test_disabled_user_and_changed_password_end_sessions(app, fx):
    client = login(app, "rob")
    with db_session(fx) as s:
        rq.update_user(s, "rob", actor="admin", password_hash="$argon2id$v=19$m=65536,t=3,p=4$bm9uZQ$bm9uZQ")
    assert client.get("/queue", follow_redirects=False).status_code == 303
    client = login(app, "rita")
    with db_session(fx) as s:
        rq.update_user(s, "rita", actor="admin", is_active=False)
    assert client.get("/queue", follow_redirects=False).status_code == 303
    r = TestClient(app).post("/login", data={"username": "rita", "password": PASSWORD, "csrf_token": token(TestClient(app))})
    assert r.status_code in (401, 403)


# ---------------------------------------------------------------------------------------------- CSRF, roles


def test_every_post_needs_the_csrf_token(app, fx):
    client = login(app, "rita")
    doc = fx.doc_ids["doc_001.pdf"]
    data = {"item_code": "C5-1", "expected_version": "0"}
    assert client.post(f"/documents/{doc}/label", data=data).status_code == 403
    assert client.post(f"/documents/{doc}/label", data={**data, "csrf_token": "forged"}).status_code == 403
    assert client.post("/queue/approve", data={"pick": f"{doc}:0:C5-2"}).status_code == 403
    files = {"files": ("a.pdf", (SAMPLES / "doc_001.pdf").read_bytes(), "application/pdf")}
    assert client.post("/upload", files=files).status_code == 403
    assert client.post("/logout").status_code == 403
    # A login form posted from elsewhere (no session token) is refused too.
    assert TestClient(app).post("/login", data={"username": "rita", "password": PASSWORD}).status_code == 403
    with db_session(fx) as s:
        assert repo.current_label(s, doc) is None
    # The header form (used by scripts and htmx) works.
    r = client.post(f"/documents/{doc}/label", data=data, headers={"X-CSRF-Token": token(client, "/queue")},
                    follow_redirects=False)
    assert r.status_code == 303


def test_viewers_look_but_do_not_change(app, fx):
    client = login(app, "vic")
    doc = fx.doc_ids["doc_001.pdf"]
    page = client.get(f"/documents/{doc}")
    assert page.status_code == 200 and "Read-only" in page.text and 'id="approve"' not in page.text
    assert client.get(f"/documents/{doc}/pages/1.png").status_code == 200
    csrf = token(client, "/queue")
    r = client.post(f"/documents/{doc}/label", data={"item_code": "C5-1", "expected_version": "0", "csrf_token": csrf})
    assert r.status_code == 403
    assert client.get("/upload").status_code == 403
    assert client.post("/queue/approve", data={"pick": f"{doc}:0:C5-2", "csrf_token": csrf}).status_code == 403
    with db_session(fx) as s:
        assert repo.current_label(s, doc) is None


def test_security_headers(app):
    r = login(app, "rita").get("/queue")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"


# ---------------------------------------------------------------------------------------------- traversal


@pytest.mark.parametrize("path", [
    "/documents/1/pages/..%2F..%2F..%2Fetc%2Fpasswd.png",
    "/documents/1/pages/../../../etc/passwd",
    "/documents/..%2F..%2Fetc%2Fpasswd",
    "/static/..%2F..%2Fpipelines%2Fsettings.py",
    "/static/../app.py",
    "/static/%2e%2e/app.py",
    "/documents/1/pages/0.png",
    "/documents/1/pages/99.png",
    "/documents/999/pages/1.png",
])
def test_file_routes_serve_nothing_outside_their_documents(app, path):
    r = login(app, "rita").get(path)
    assert r.status_code in (404, 422), (path, r.status_code)
    assert "root:" not in r.text and "BaseSettings" not in r.text and "create_app" not in r.text


def test_page_image_is_the_verified_original(app, fx):
    client = login(app, "rita")
    doc = fx.doc_ids["doc_003.pdf"]
    r = client.get(f"/documents/{doc}/pages/1.png")
    assert r.status_code == 200 and r.content.startswith(b"\x89PNG")
    # A different file put in the original's place is not shown (and the cached render is keyed by hash).
    other = fx.doc_ids["doc_002.pdf"]
    shutil.copy(SAMPLES / "doc_001.pdf", fx.inbox / "doc_002.pdf")
    assert client.get(f"/documents/{other}/pages/1.png").status_code == 404


def test_upload_names_cannot_escape_the_inbox(app, fx):
    client = login(app, "rita")
    files = [("files", ("../../../etc/cron.d/evil.pdf", (SAMPLES / "doc_001.pdf").read_bytes(), "application/pdf")),
             ("files", ("..\\..\\boot.ini.pdf", (SAMPLES / "doc_002.pdf").read_bytes(), "application/pdf"))]
    r = client.post("/upload", files=files, data={"csrf_token": token(client, "/upload")})
    assert r.status_code == 200, r.text
    inbox = fx.settings.inbox_dir
    stored = [p for p in inbox.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert len(stored) == 2
    assert all(inbox / "uploads" in p.parents and ".." not in p.relative_to(inbox).parts for p in stored)


# ---------------------------------------------------------------------------------------------- queue, labels


def queue_ids(client: TestClient, query: str = "") -> list[int]:
    return [int(x) for x in re.findall(r'data-doc="(\d+)"', client.get(f"/queue{query}").text)]


def test_queue_is_lowest_confidence_first_and_filters(app, fx):
    client = login(app, "vic")
    ids = fx.doc_ids
    assert queue_ids(client) == [ids["doc_001.pdf"], ids["doc_003.pdf"], ids["doc_002.pdf"]]  # 0.41 < 0.55 < 0.62
    assert ids["doc_004.pdf"] not in queue_ids(client)  # auto-filed: not for review
    assert queue_ids(client, "?class_code=A1") == [ids["doc_003.pdf"]]
    assert queue_ids(client, "?project=新城华府写字楼A座") == [ids["doc_002.pdf"]]
    assert queue_ids(client, f"?run_id={fx.run_id}") == queue_ids(client)
    assert queue_ids(client, "?run_id=999") == []
    assert queue_ids(client, "?model_version=m-other") == []


def test_document_view_shows_suggestions_text_and_tags(app, fx):
    page = login(app, "rita").get(f"/documents/{fx.doc_ids['doc_001.pdf']}").text
    codes = re.findall(r'value="([^"]+)" id="cand-\d"', page)
    assert codes == ["C5-2", "C5-1", "C5-3", "C6-1", "C7-1"]
    assert "创新污水处理厂提标改造工程" in page and 'src="/documents/' in page and "施工单位: 福州城建建设集团有限公司" in page


def test_correcting_a_label_with_tags_audits_it_and_moves_on(app, fx):
    client = login(app, "rita")
    doc = fx.doc_ids["doc_001.pdf"]
    r = client.post(f"/documents/{doc}/label", follow_redirects=False, data={
        "csrf_token": token(client, "/queue"), "item_code": "C5-1", "expected_version": "0", "reason": "隐检单 = 隐蔽工程验收记录",
        "tags_edited": "1", "project_name": "创新污水处理厂提标改造工程", "doc_number": "第309号",
        "units": "施工单位: 福州城建建设集团有限公司\n监理单位：福州万通工程咨询有限公司", "keywords": "钢筋, 隐检",
    })
    assert r.status_code == 303 and r.headers["location"].startswith(f"/documents/{fx.doc_ids['doc_003.pdf']}")
    with db_session(fx) as s:
        label = repo.current_label(s, doc)
        trail = repo.audit_trail(s, entity_type="document", entity_id=doc)
    assert label.item_code == "C5-1" and label.source == "reviewer" and label.created_by == "rita"
    assert label.tags["doc_number"] == "第309号" and label.tags["keywords"] == ["钢筋", "隐检"]
    assert {"role": "监理单位", "name": "福州万通工程咨询有限公司"} in label.tags["units"]
    assert trail[-1].actor == "rita" and trail[-1].new["item_code"] == "C5-1" and trail[-1].reason
    assert doc not in queue_ids(client)


def test_out_of_catalogue_and_invalid_codes(app, fx):
    client = login(app, "rita")
    doc = fx.doc_ids["doc_002.pdf"]
    csrf = token(client, "/queue")
    bad = client.post(f"/documents/{doc}/label", data={"csrf_token": csrf, "item_code": "Z9-9", "expected_version": "0"})
    assert bad.status_code == 400
    r = client.post(f"/documents/{doc}/label", data={"csrf_token": csrf, "item_code": "__none__", "expected_version": "0"},
                    follow_redirects=False)
    assert r.status_code == 303
    with db_session(fx) as s:
        assert repo.current_label(s, doc).item_code is None
    typed = client.post(f"/documents/{doc}/label", data={"csrf_token": csrf, "item_code": "ｃ５－１",
                                                          "expected_version": "1"}, follow_redirects=False)
    assert typed.status_code == 303  # a code typed in full width (or an item's name) is the item
    with db_session(fx) as s:
        assert repo.current_label(s, doc).item_code == "C5-1"


def test_concurrent_edits_conflict_instead_of_overwriting(app, fx):
    rita, rob = login(app, "rita"), login(app, "rob")
    doc = fx.doc_ids["doc_003.pdf"]
    seen_by_rob = re.search(r'name="expected_version" value="(\d+)"', rob.get(f"/documents/{doc}").text).group(1)
    r = rita.post(f"/documents/{doc}/label", data={"csrf_token": token(rita, "/queue"), "item_code": "A1-2",
                                                   "expected_version": "0"}, follow_redirects=False)
    assert r.status_code == 303
    r = rob.post(f"/documents/{doc}/label", data={"csrf_token": token(rob, "/queue"), "item_code": "A1-1",
                                                  "expected_version": seen_by_rob})
    assert r.status_code == 409
    assert "not</strong> saved" in r.text and "rita" in r.text and "A1-2" in r.text
    with db_session(fx) as s:
        history = repo.label_history(s, doc)
    assert [(h.item_code, h.created_by) for h in history] == [("A1-2", "rita")]
    # Reloaded, rob sees version 1 and may change it deliberately; rita's label is kept, superseded.
    r = rob.post(f"/documents/{doc}/label", data={"csrf_token": token(rob, "/queue"), "item_code": "A1-1",
                                                  "expected_version": "1"}, follow_redirects=False)
    assert r.status_code == 303
    with db_session(fx) as s:
        history = repo.label_history(s, doc)
    assert [(h.item_code, h.is_current) for h in history] == [("A1-2", False), ("A1-1", True)]


def test_bulk_approve_skips_documents_changed_meanwhile(app, fx):
    client = login(app, "rita")
    a, b = fx.doc_ids["doc_001.pdf"], fx.doc_ids["doc_002.pdf"]
    with db_session(fx) as s:
        repo.set_label(s, b, "C2-7", user="rob", reason=None, expected_version=0)
    r = client.post("/queue/approve", data={"csrf_token": token(client, "/queue"),
                                            "pick": [f"{a}:0:C5-2", f"{b}:0:C2-7", "junk"]}, follow_redirects=True)
    assert "approved 1" in r.text and f"#{b}" in r.text and "invalid" in r.text
    with db_session(fx) as s:
        assert repo.current_label(s, a).item_code == "C5-2"
        assert repo.current_label(s, b).created_by == "rob"


def test_catalogue_search_by_words_and_code(app):
    client = login(app, "vic")
    assert 'data-code="C5-1"' in client.get("/catalogue/search", params={"q": "隐蔽"}).text
    assert 'data-code="C2-7"' in client.get("/catalogue/search", params={"q": "技术核定单"}).text
    first = re.search(r'data-code="([^"]+)"', client.get("/catalogue/search", params={"q": "b2-1"}).text).group(1)
    assert first == "B2-1"
    assert "No catalogue item" in client.get("/catalogue/search", params={"q": "量子计算机"}).text


# ---------------------------------------------------------------------------------------------- upload


def test_upload_validates_like_the_batch(app, fx, tmp_path):
    client = login(app, "rita")
    broken = b"%PDF-1.7\n" + b"\x00garbage" * 50
    files = [
        ("files", ("scan.pdf", (SAMPLES / "doc_001.pdf").read_bytes(), "application/pdf")),
        ("files", ("photo.jpg", (SAMPLES / "IMG_20190527_093105.jpg").read_bytes(), "image/jpeg")),
        ("files", ("broken.pdf", broken, "application/pdf")),
        ("files", ("report.docx", b"PK\x03\x04" + b"\x00" * 100, "application/octet-stream")),
        ("files", ("empty.pdf", b"", "application/pdf")),
    ]
    r = client.post("/upload", files=files, data={"csrf_token": token(client, "/upload")})
    assert r.status_code == 400  # not everything was accepted
    results = re.findall(r'<li class="status-(\w+)"><strong>([^<]+)</strong>', r.text)
    assert results == [("accepted", "scan.pdf"), ("accepted", "photo.jpg"), ("refused", "broken.pdf"),
                       ("refused", "report.docx"), ("refused", "empty.pdf")]
    assert "(corrupt)" in r.text and "(unsupported_type)" in r.text and "(empty_file)" in r.text
    stored = sorted(p.name for p in fx.settings.inbox_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    assert stored == ["photo.jpg", "scan.pdf"]
    assert not list((fx.settings.inbox_dir / ".incoming").iterdir())  # no temporary leftovers
    # The same content again is recognised, not stored twice.
    again = client.post("/upload", files=[files[0]], data={"csrf_token": token(client, "/upload")})
    assert "status-duplicate" in again.text
    # The batch discovers the uploads (and skips the hidden bookkeeping files).
    from pipelines.discovery import discover

    assert sorted(Path(j.display).name for j in discover([fx.settings.inbox_dir])) == ["photo.jpg", "scan.pdf"]
    with db_session(fx) as s:
        from sqlalchemy import select

        from pipelines.db.models import AuditEvent

        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "inbox.upload")).all()
        assert [e.actor for e in events] == ["rita"]


def test_upload_size_limit_is_enforced_while_streaming(fx):
    settings = fx.settings.model_copy(update={"max_file_mb": 1})
    client = login(create_app(settings), "rita")
    big = b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024)
    r = client.post("/upload", files={"files": ("big.pdf", big, "application/pdf")},
                    data={"csrf_token": token(client, "/upload")})
    assert "(too_large)" in r.text
    assert not [p for p in settings.inbox_dir.rglob("*") if p.is_file() and not p.name.startswith(".")]


def test_admins_export_the_queue_for_label_studio(app, fx):
    assert login(app, "rita").get("/export/labelstudio.json").status_code == 403
    r = login(app, "admin").get("/export/labelstudio.json?class_code=C5")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    tasks = r.json()
    assert [t["data"]["document_id"] for t in tasks] == [fx.doc_ids["doc_001.pdf"]]
    prediction = tasks[0]["predictions"][0]
    assert prediction["model_version"] == "m-test" and prediction["score"] == pytest.approx(0.41)
    assert tasks[0]["data"]["image"].endswith(f"/documents/{fx.doc_ids['doc_001.pdf']}/pages/1.png")


def test_a_reviewers_label_files_the_original_in_the_archive(app, fx):
    client = login(app, "rita")
    doc = fx.doc_ids["doc_001.pdf"]
    csrf = token(client, "/queue")
    client.post(f"/documents/{doc}/label", data={"csrf_token": csrf, "item_code": "C5-2", "expected_version": "0"})
    view = fx.settings.archive_dir / "view" / "创新污水处理厂提标改造工程" / "C"
    links = [p for p in view.rglob("*") if p.is_symlink()]
    assert [p.parent.name[:4] for p in links] == ["C5-2"] and links[0].name == "doc_001.pdf"
    assert links[0].read_bytes() == (SAMPLES / "doc_001.pdf").read_bytes()
    # Corrected: the link moves to the new item; the stored original stays once.
    client.post(f"/documents/{doc}/label", data={"csrf_token": csrf, "item_code": "C5-1", "expected_version": "1"})
    links = [p for p in view.rglob("*") if p.is_symlink()]
    assert [p.parent.name[:4] for p in links] == ["C5-1"]
    assert len(list((fx.settings.archive_dir / "objects").rglob("*.pdf"))) == 1
