"""The archive store: originals copied by content, never altered; a browsable view; no path escapes."""

from __future__ import annotations

import os

from models.catalogue import load_catalogue
from pipelines.archive import ArchiveStore, safe_name
from pipelines.results import FileResult, TagsOut
from features.hashing import sha256_file


def _result(path, code="C5-1", route="auto", project="滨江花园/../../etc 二期"):
    return FileResult(file=path.name, sha256=sha256_file(path), status="ok", item_code=code, route=route,
                      tags=TagsOut(project_name=project))


def test_originals_are_copied_once_and_linked_by_project_stage_class_item(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    a = inbox / "scan.pdf"
    a.write_bytes(b"%PDF-1.4 original bytes")
    copy = inbox / "copy-of-scan.pdf"
    copy.write_bytes(a.read_bytes())
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in inbox.iterdir()}
    store = ArchiveStore(tmp_path / "archive")
    cat = load_catalogue()
    filed = store.file_all([(_result(a), a), (_result(copy), copy), (_result(a, route="review"), a)], cat)
    assert len(filed) == 2 and filed[0].object_path == filed[1].object_path  # stored once
    assert filed[0].object_path.read_bytes() == a.read_bytes()
    view = filed[0].view_path
    assert view.is_symlink() and view.resolve() == filed[0].object_path.resolve()
    rel = view.relative_to(tmp_path / "archive" / "view").parts
    assert rel[1:4] == ("C", "C5 施工记录文件", "C5-1 隐蔽工程验收记录") and ".." not in rel[0] and "/" not in rel[0]
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in inbox.iterdir()} == before  # inbox untouched
    assert store.file(_result(a), a, cat) == filed[0]  # idempotent
    assert not list((tmp_path / "archive").rglob("*.part"))


def test_a_file_changed_since_processing_is_refused(tmp_path):
    f = tmp_path / "x.pdf"
    f.write_bytes(b"one")
    r = _result(f)
    f.write_bytes(b"two")
    store = ArchiveStore(tmp_path / "archive")
    try:
        store.file(r, f, load_catalogue())
    except ValueError:
        pass
    else:
        raise AssertionError("a changed file was archived")
    assert not any(p.is_file() for p in (tmp_path / "archive").rglob("*"))


def test_safe_name():
    assert safe_name("../../etc/passwd", "x") == "etc_passwd"
    assert safe_name("..", "fallback") == "fallback"
    assert os.sep not in safe_name("a/b\\c", "x")
