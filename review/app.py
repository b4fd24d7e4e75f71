"""The review workbench's routes: login, the queue, the document view, labelling, upload.

Roles nest: a viewer reads, a reviewer also labels and uploads, an admin also exports. Every request
but ``/login`` and ``/static`` needs a live server-side session (``review_sessions``; the signed cookie
carries its token); every POST needs the session's CSRF token. Labels are
written through :func:`pipelines.db.repository.set_label`, whose version check turns two reviewers
editing one document into a clear conflict for the second instead of a silent overwrite.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from models.catalogue import Catalogue, load_catalogue
from models.lookup import search_catalogue
from models.registry import load_or_create_key
from pipelines.archive import ArchiveStore
from pipelines.db import repository as repo
from pipelines.db import review as rq
from pipelines.results import TagsOut, UnitOut
from pipelines.settings import Settings
from pipelines.storage import Database
from review import security
from review.pages import PageUnavailable, cached_page, find_original, page_png
from review.uploads import UploadOutcome, receive_upload

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
ROLE_RANK = {"viewer": 0, "reviewer": 1, "admin": 2}
NONE_OF_CATALOGUE = "__none__"
PAGE_SIZE = 50
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class LoginRequired(Exception):
    pass


class Forbidden(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


@dataclass(frozen=True)
class Ctx:
    """Everything a route needs, made once per app."""

    settings: Settings
    db: Database
    catalogue: Catalogue
    throttle: security.LoginThrottle
    templates: Jinja2Templates


def _session_secret(settings: Settings) -> str:
    # Derived from the installation's signing key, so cookies survive restarts but not a new key.
    return hmac.new(load_or_create_key(settings.key_file), b"dangan-review-session", hashlib.sha256).hexdigest()


def _safe_next(target: str | None, default: str = "/queue") -> str:
    """Only same-site paths: no scheme, no host, no '//' or backslash tricks (an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def _filters(project: str | None, class_code: str | None, run_id: str | None, model_version: str | None) -> rq.QueueFilters:
    run = int(run_id) if run_id and run_id.isdigit() else None
    return rq.QueueFilters(project=project or None, class_code=class_code or None, run_id=run,
                           model_version=model_version or None)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    ctx = Ctx(
        settings=settings, db=Database.open(settings.db_url), catalogue=load_catalogue(),
        throttle=security.LoginThrottle(settings.login_max_failures, settings.login_window_seconds),
        templates=templates,
    )
    app = FastAPI(title="dangan review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ctx = ctx
    app.add_middleware(
        SessionMiddleware, secret_key=_session_secret(settings), session_cookie="dangan_session",
        max_age=int(settings.review_session_hours * 3600), same_site="lax",
        https_only=settings.review_secure_cookies,
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.url.path != "/static" and not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, _exc: LoginRequired) -> Response:
        if request.method in SAFE_METHODS and "hx-request" not in request.headers:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)
        return HTMLResponse("login required", status_code=401)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return _page(request, "error.html", {"title": "没有权限 Forbidden", "message": exc.message}, status=403)

    @app.exception_handler(repo.NotFoundError)
    async def _not_found(request: Request, exc: repo.NotFoundError) -> Response:
        return _page(request, "error.html", {"title": "找不到 Not found", "message": str(exc)}, status=404)

    def _page(request: Request, name: str, context: dict[str, Any], *, status: int = 200) -> HTMLResponse:
        session = request.session
        if "csrf" not in session:
            session["csrf"] = security.new_csrf_token()
        base = {"csrf_token": session["csrf"], "user": getattr(request.state, "user", None),
                "flash": session.pop("flash", None)}
        return templates.TemplateResponse(request, name, {**base, **context}, status_code=status)

    # ------------------------------------------------------------------------------------- auth

    def current_user(request: Request) -> rq.UserView:
        sid = request.session.get("sid")
        if not isinstance(sid, str):
            raise LoginRequired()
        with ctx.db.session() as s:
            user = rq.session_user(s, sid)  # None once logged out, expired, or ended by a password change
        if user is None or not user.is_active:
            request.session.clear()
            raise LoginRequired()
        if request.method not in SAFE_METHODS:
            # POST routes read their form with _form() first, which keeps its csrf_token field here.
            given = request.headers.get("x-csrf-token") or getattr(request.state, "form_token", None)
            if not security.csrf_matches(request.session.get("csrf"), given):
                raise Forbidden("表单已过期或来源不明 (CSRF token missing or wrong): reload the page and try again")
        request.state.user = user
        return user

    def role_check(request: Request, minimum: str) -> rq.UserView:
        """The logged-in user, if their role is at least ``minimum`` (POST routes call it after ``_form``)."""
        user = current_user(request)
        if ROLE_RANK[user.role] < ROLE_RANK[minimum]:
            raise Forbidden(f"this needs the {minimum} role; you are {user.role}")
        return user

    def role(minimum: str) -> Any:
        def check(request: Request) -> rq.UserView:
            return role_check(request, minimum)
        return Depends(check)

    # Default-value style: with postponed annotations FastAPI resolves only module-level names.
    viewer, reviewer, admin = role("viewer"), role("reviewer"), role("admin")

    async def _form(request: Request) -> Any:
        form = await request.form()
        request.state.form_token = form.get("csrf_token")
        return form

    @app.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request, next: str | None = None) -> Response:
        return _page(request, "login.html", {"next": _safe_next(next), "error": None})

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await _form(request)
        username = str(form.get("username", "")).strip()
        password = str(form.get("password", ""))
        target = _safe_next(str(form.get("next", "")))
        if not security.csrf_matches(request.session.get("csrf"), request.state.form_token):
            return _page(request, "login.html", {"next": target, "error": "页面已过期，请重试 (stale form: try again)"},
                         status=403)
        ip = request.client.host if request.client else "unknown"
        keys = (f"user:{username.lower()}", f"ip:{ip}")
        wait = ctx.throttle.retry_after(*keys)
        if wait:
            resp = _page(request, "login.html", {
                "next": target, "error": f"登录失败次数过多，请 {wait // 60 + 1} 分钟后再试 (too many failed logins)",
            }, status=429)
            resp.headers["Retry-After"] = str(wait)
            return resp
        with ctx.db.session() as s:
            user = rq.get_user(s, username=username)
        ok = security.verify_password(user.password_hash if user else None, password)
        if not ok or user is None or not user.is_active:
            ctx.throttle.failed(*keys)
            log.warning("failed login for %r from %s", username, ip)
            return _page(request, "login.html", {"next": target, "error": "用户名或密码错误 (wrong username or password)"},
                         status=401)
        ctx.throttle.succeeded(keys[0])
        if security.needs_rehash(user.password_hash):
            with ctx.db.session() as s:
                user = rq.update_user(s, user.username, actor=user.username,
                                      password_hash=security.hash_password(password))
        with ctx.db.session() as s:
            sid = rq.open_session(s, user.id, settings.review_session_hours)
        request.session.clear()  # a fresh session (and CSRF token) at login: no session fixation
        request.session.update({"sid": sid, "csrf": security.new_csrf_token()})
        return RedirectResponse(target, status_code=303)

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        await _form(request)
        current_user(request)
        with ctx.db.session() as s:
            rq.revoke_sessions(s, token=request.session["sid"])  # a copy of the cookie ends here too
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    store = ArchiveStore(settings.archive_dir)

    def archive_label(doc_id: int, before: repo.LabelView | None, after: repo.LabelView) -> str | None:
        """File the original under the reviewer's item in the archive store (and unlink it from the item
        it was filed under before). Best effort: the label stands either way; returns a problem, if any."""
        try:
            with ctx.db.session() as s:
                first_path, predicted = rq.filing_facts(s, doc_id)
                sha, candidates = rq.document_locations(s, doc_id)

            def project(label: repo.LabelView) -> str | None:  # the tags in force: the label's, else predicted
                return (label.tags if label.tags is not None else predicted).get("project_name")

            if before is not None and before.item_code in ctx.catalogue and before.item_code != after.item_code:
                store.unfile(sha, ctx.catalogue[before.item_code], project(before))
            if after.item_code is None or after.item_code not in ctx.catalogue:
                return None
            original = find_original(sha, settings.archive_dir, candidates)
            store.file_as(original, sha, ctx.catalogue[after.item_code], project(after), Path(first_path).name)
        except (PageUnavailable, OSError, ValueError) as exc:
            log.warning("document %s labelled but not archived: %s", doc_id, exc)
            return str(exc)
        return None

    # ------------------------------------------------------------------------------------- queue

    @app.get("/")
    async def home() -> Response:
        return RedirectResponse("/queue", status_code=303)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/queue", response_class=HTMLResponse)
    def queue(
        request: Request, user: rq.UserView = viewer, project: str | None = None, class_code: str | None = None,
        run_id: str | None = None, model_version: str | None = None, page: int = 1,
    ) -> Response:
        filters = _filters(project, class_code, run_id, model_version)
        page = max(1, page)
        with ctx.db.session() as s:
            rows, total = rq.review_queue(s, filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
            facets = rq.queue_facets(s)
        return _page(request, "queue.html", {
            "rows": rows, "total": total, "page": page, "pages": max(1, -(-total // PAGE_SIZE)),
            "filters": filters, "query": urlencode(filters.as_query()), "facets": facets,
            "can_edit": ROLE_RANK[user.role] >= ROLE_RANK["reviewer"],
        })

    @app.post("/queue/approve")
    async def approve_selected(request: Request) -> Response:
        form = await _form(request)
        user = role_check(request, "reviewer")
        done, conflicts, bad = 0, [], 0
        for pick in form.getlist("pick"):
            try:
                doc_s, version_s, code = str(pick).split(":", 2)
                doc_id, version = int(doc_s), int(version_s)
            except ValueError:
                bad += 1
                continue
            if code not in ctx.catalogue:
                bad += 1
                continue
            try:
                with ctx.db.session() as s:
                    label = repo.set_label(s, doc_id, code, user=user.username,
                                           reason="bulk approve of the top suggestion", expected_version=version)
                archive_label(doc_id, None, label)
                done += 1
            except repo.ConflictError:
                conflicts.append(doc_id)
            except repo.NotFoundError:
                bad += 1
        msg = f"已确认 {done} 份 (approved {done})"
        if conflicts:
            msg += f"；{len(conflicts)} 份已被他人修改，未覆盖 (changed by someone else, not overwritten): " + \
                ", ".join(f"#{d}" for d in conflicts)
        if bad:
            msg += f"；{bad} 项无效 (invalid)"
        request.session["flash"] = msg
        query = urlencode(_filters(form.get("project"), form.get("class_code"), form.get("run_id"),
                                   form.get("model_version")).as_query())
        return RedirectResponse(f"/queue?{query}", status_code=303)

    # ------------------------------------------------------------------------------------- document

    def _neighbours(filters: rq.QueueFilters, doc_id: int) -> tuple[int | None, int | None, int, int]:
        with ctx.db.session() as s:
            ids = rq.queue_ids(s, filters)
        if doc_id in ids:
            i = ids.index(doc_id)
            return (ids[i - 1] if i > 0 else None), (ids[i + 1] if i + 1 < len(ids) else None), i + 1, len(ids)
        return None, (ids[0] if ids else None), 0, len(ids)

    @app.get("/documents/{doc_id}", response_class=HTMLResponse)
    def document(
        request: Request, doc_id: int, user: rq.UserView = viewer, project: str | None = None, class_code: str | None = None,
        run_id: str | None = None, model_version: str | None = None,
    ) -> Response:
        filters = _filters(project, class_code, run_id, model_version)
        with ctx.db.session() as s:
            detail = rq.document_detail(s, doc_id)
        prev_id, next_id, position, total = _neighbours(filters, doc_id)
        label_item = ctx.catalogue[detail.label.item_code] if detail.label and detail.label.item_code in ctx.catalogue else None
        return _page(request, "document.html", {
            "doc": detail, "tags": TagsOut.model_validate(detail.tags or {}), "filters": filters,
            "query": urlencode(filters.as_query()), "prev_id": prev_id, "next_id": next_id,
            "position": position, "total": total, "label_item": label_item, "catalogue": ctx.catalogue,
            "pages": list(range(1, min(detail.pages or 1, 50) + 1)),
            "can_edit": ROLE_RANK[user.role] >= ROLE_RANK["reviewer"], "none_code": NONE_OF_CATALOGUE,
        })

    @app.post("/documents/{doc_id}/label")
    async def set_label(request: Request, doc_id: int) -> Response:
        form = await _form(request)
        user = role_check(request, "reviewer")
        code = str(form.get("item_code", "")).strip()
        if code != NONE_OF_CATALOGUE:
            code = ctx.catalogue.resolve(code) or code  # typed as c5－1, or as the item's name
        if code != NONE_OF_CATALOGUE and code not in ctx.catalogue:
            return _page(request, "error.html", {"title": "无效的条目 Invalid item",
                                                 "message": f"{code!r} is not a catalogue item code"}, status=400)
        try:
            expected = int(str(form.get("expected_version", "")))
        except ValueError:
            return _page(request, "error.html", {"title": "Bad request", "message": "expected_version missing"},
                         status=400)
        filters = _filters(form.get("project"), form.get("class_code"), form.get("run_id"), form.get("model_version"))
        _, next_id, _, _ = _neighbours(filters, doc_id)
        tags = _tags_from_form(form) if form.get("tags_edited") == "1" else None
        prediction_id = str(form.get("prediction_id", ""))
        try:
            with ctx.db.session() as s:
                before = repo.current_label(s, doc_id)
                label = repo.set_label(
                    s, doc_id, None if code == NONE_OF_CATALOGUE else code, user=user.username,
                    reason=str(form.get("reason", "")).strip() or None, expected_version=expected, tags=tags,
                    prediction_id=int(prediction_id) if prediction_id.isdigit() else None,
                )
        except repo.ConflictError as exc:
            with ctx.db.session() as s:
                latest = repo.current_label(s, doc_id)
            return _page(request, "conflict.html", {
                "doc_id": doc_id, "exc": exc, "latest": latest, "query": urlencode(filters.as_query()),
                "latest_item": ctx.catalogue[latest.item_code] if latest and latest.item_code in ctx.catalogue else None,
            }, status=409)
        problem = archive_label(doc_id, before if before and before.version == expected else None, label)
        name = "不属于目录 (none of the catalogue)" if code == NONE_OF_CATALOGUE else f"{code} {ctx.catalogue[code].name}"
        request.session["flash"] = f"#{doc_id} → {name}" + (f" (not archived: {problem})" if problem else "")
        query = urlencode(filters.as_query())
        if next_id is not None and next_id != doc_id:
            return RedirectResponse(f"/documents/{next_id}?{query}", status_code=303)
        return RedirectResponse(f"/queue?{query}", status_code=303)

    @app.get("/documents/{doc_id}/pages/{page}.png")
    def page_image(doc_id: int, page: int, _user: rq.UserView = viewer) -> Response:
        with ctx.db.session() as s:
            sha, candidates = rq.document_locations(s, doc_id)
        cached = cached_page(sha, page, settings.cache_dir)
        if cached.is_file():  # rendered from the verified original before: no need to hash it again
            return FileResponse(cached, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})
        try:
            original = find_original(sha, settings.archive_dir, candidates)
            png = page_png(sha, page, original=original, cache_dir=settings.cache_dir,
                           max_pixels=settings.max_image_pixels)
        except PageUnavailable as exc:
            return Response(str(exc), status_code=404, media_type="text/plain; charset=utf-8")
        return FileResponse(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/catalogue/search", response_class=HTMLResponse)
    def catalogue_search(request: Request, _user: rq.UserView = viewer, q: str = "") -> Response:
        matches = search_catalogue(q, ctx.catalogue, limit=12) if q.strip() else []
        return _page(request, "_search_results.html", {"matches": matches, "q": q})

    # ------------------------------------------------------------------------------------- export

    @app.get("/export/labelstudio.json")
    def export_labelstudio(
        request: Request, user: rq.UserView = admin, project: str | None = None, class_code: str | None = None,
        run_id: str | None = None, model_version: str | None = None,
    ) -> Response:
        """The (filtered) queue as Label Studio tasks; page images link back here (a logged-in browser)."""
        from pipelines.labelstudio import export_tasks

        base = str(request.base_url).rstrip("/")
        with ctx.db.session() as s:
            tasks = export_tasks(s, _filters(project, class_code, run_id, model_version), catalogue=ctx.catalogue,
                                 image_url=lambda doc_id: f"{base}/documents/{doc_id}/pages/1.png")
            repo.log_event(s, actor=user.username, action="queue.export", entity_type="queue",
                           new={"format": "labelstudio", "tasks": len(tasks)})
        body = json.dumps(tasks, ensure_ascii=False, indent=1)
        return Response(body, media_type="application/json", headers={
            "Content-Disposition": 'attachment; filename="dangan-review-queue.json"'})

    # ------------------------------------------------------------------------------------- upload

    @app.get("/upload", response_class=HTMLResponse)
    def upload_page(request: Request, _user: rq.UserView = reviewer) -> Response:
        return _page(request, "upload.html", {"outcomes": None, "inbox": settings.inbox_dir})

    @app.post("/upload", response_class=HTMLResponse)
    async def upload(request: Request) -> Response:
        form = await _form(request)
        user = role_check(request, "reviewer")
        outcomes: list[UploadOutcome] = []
        for item in form.getlist("files"):
            if isinstance(item, str) or not getattr(item, "filename", None):
                continue
            outcomes.append(await receive_upload(item, settings))  # type: ignore[arg-type]
        accepted = [o for o in outcomes if o.status == "accepted"]
        if accepted:
            with ctx.db.session() as s:
                repo.log_event(s, actor=user.username, action="inbox.upload", entity_type="inbox",
                               new={"files": [{"name": o.stored_as, "sha256": o.sha256} for o in accepted]})
        status = 200 if outcomes and len(accepted) == len(outcomes) else (400 if outcomes else 422)
        return _page(request, "upload.html", {"outcomes": outcomes, "inbox": settings.inbox_dir}, status=status)

    return app


def _tags_from_form(form: Any) -> dict[str, Any]:
    """The tag fields of the document form as a TagsOut dict; units one per line as ``role: name``."""
    def text(name: str) -> str | None:
        value = str(form.get(name, "")).strip()
        return value or None

    units = []
    for line in str(form.get("units", "")).splitlines():
        role_, _, name = line.partition(":") if ":" in line else line.partition("：")
        if name.strip():
            units.append(UnitOut(role=role_.strip(), name=name.strip()))
    keywords = [k for k in str(form.get("keywords", "")).replace("，", " ").replace(",", " ").split() if k]
    return TagsOut(project_name=text("project_name"), doc_number=text("doc_number"), doc_date=text("doc_date"),
                   units=units, discipline=text("discipline"), keywords=keywords).model_dump(mode="json")


def serve(settings: Settings) -> None:
    """Run the workbench with uvicorn (one process: the login throttle lives in memory)."""
    import uvicorn

    if settings.review_host not in ("127.0.0.1", "localhost", "::1") and not settings.review_secure_cookies:
        log.warning("serving on %s without DANGAN_REVIEW_SECURE_COOKIES: put it behind HTTPS", settings.review_host)
    os.environ.setdefault("FORWARDED_ALLOW_IPS", "127.0.0.1")
    uvicorn.run(create_app(settings), host=settings.review_host, port=settings.review_port, log_level="info",
                proxy_headers=True)
