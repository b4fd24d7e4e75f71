"""The workbench from the command line: accounts are made with ``dangan users``, ``dangan review`` serves
them, and documents the real pipeline routed to review show up in its queue with their page images."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from fastapi.testclient import TestClient

from tests.conftest import dangan

pytestmark = pytest.mark.slow


def test_accounts_are_created_and_managed_from_the_cli(test_settings, tmp_path):
    settings = test_settings.model_copy(update={"home": tmp_path / "home"})
    proc = dangan(["users", "add", "alice", "--role", "admin", "--password-stdin"], settings,
                  input="a long enough secret\n")
    assert proc.returncode == 0, proc.stderr
    short = dangan(["users", "add", "bob", "--role", "reviewer", "--password-stdin"], settings, input="short\n")
    assert short.returncode == 2 and "at least" in short.stderr
    again = dangan(["users", "add", "alice", "--role", "viewer", "--password-stdin"], settings, input="another secret!\n")
    assert again.returncode == 2 and "exists" in again.stderr
    assert dangan(["users", "set", "alice", "--role", "viewer", "--disable"], settings).returncode == 0
    listing = dangan(["users", "list"], settings).stdout
    assert re.search(r"alice\s+viewer\s+disabled", listing)
    assert "a long enough secret" not in (settings.home / "dangan.db").read_bytes().decode("latin-1")


def test_review_refuses_to_start_without_accounts_then_serves(test_settings, tmp_path):
    settings = test_settings.model_copy(update={"home": tmp_path / "home"})
    proc = dangan(["review"], settings)
    assert proc.returncode == 2 and "dangan users add" in proc.stderr
    dangan(["users", "add", "alice", "--role", "admin", "--password-stdin"], settings, input="a long enough secret\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    import os

    env = dict(os.environ, DANGAN_HOME=str(settings.home))
    server = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "review", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as r:
                    assert r.status == 200 and "登录" in r.read().decode()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
                assert time.monotonic() < deadline, "dangan review did not start"
                time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_pipeline_results_reach_the_review_queue(demo_run, test_settings):
    """Documents the real pipeline routed to review are in the queue, with page images from the inbox."""
    from pipelines.db import review as rq
    from pipelines.storage import Database
    from review.app import create_app
    from review.security import hash_password

    _out, _proc, rows = demo_run
    db = Database.open(test_settings.db_url)
    with db.session() as s:
        if rq.get_user(s, username="queue-check") is None:
            rq.create_user(s, username="queue-check", role="viewer", actor="test",
                           password_hash=hash_password("queue check password"))
        queued, total = rq.review_queue(s, limit=500)
    expected = {r["sha256"] for r in rows if r["status"] == "ok" and r["route"] != "auto"}
    assert {q.sha256 for q in queued} >= expected and total >= len(expected) > 0
    client = TestClient(create_app(test_settings))
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"username": "queue-check", "password": "queue check password", "csrf_token": csrf})
    first = next(q for q in queued if q.sha256 in expected)
    page = client.get(f"/documents/{first.document_id}")
    assert page.status_code == 200 and first.item_code in page.text
    image = client.get(f"/documents/{first.document_id}/pages/1.png")
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
