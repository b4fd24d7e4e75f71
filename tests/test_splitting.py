"""Multi-document files: boundaries found page by page, every part classified; ordinary files untouched."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from features.extraction import extract_document
from models.catalogue import load_catalogue
from models.splitting import DocumentPart, split_document


@pytest.fixture(scope="module")
def model(trained, test_settings):
    from pipelines.processing import load_active_model

    clf, manifest = load_active_model(test_settings)
    assert manifest["version"] == trained.version
    return clf


class CountingClassifier:
    """Forwards to the model and counts how many texts each entry point classifies."""

    def __init__(self, clf) -> None:  # type: ignore[no-untyped-def]
        self._clf = clf
        self.calls: list[tuple[str, int]] = []

    def predict_proba(self, texts):  # type: ignore[no-untyped-def]
        self.calls.append(("predict_proba", len(texts)))
        return self._clf.predict_proba(texts)

    def predict(self, texts):  # type: ignore[no-untyped-def]
        self.calls.append(("predict", len(texts)))
        return self._clf.predict(texts)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._clf, name)


def _pages(path: Path) -> tuple[list[str], str]:
    doc = extract_document(path, engine_factory=None)
    return [p.text for p in doc.pages], doc.text


def _check_cover(parts: list[DocumentPart], n_pages: int) -> None:
    assert parts[0].first_page == 1 and parts[-1].last_page == n_pages
    for a, b in pairwise(parts):
        assert b.first_page == a.last_page + 1


def test_three_document_pdf_is_split_into_its_documents(model, tmp_path):
    from samplegen import generate_multidoc
    from samplegen.multidoc import render_multidoc_pdf

    # A 隐蔽工程验收记录, a 检验批 record continued on a second sheet, then the 分项工程 record.
    md = generate_multidoc("train", seed=77, k=3, codes=("C5-1", "C7-1", "C7-2"), extra_sheets=(0, 1, 0))
    truth = render_multidoc_pdf(md, tmp_path / "bundle.pdf")
    pages, whole_text = _pages(tmp_path / "bundle.pdf")
    assert len(pages) == truth[-1].last_page >= 4

    parts = split_document(model, pages, whole=model.predict([whole_text])[0])

    cat = load_catalogue()
    assert [(p.first_page, p.last_page) for p in parts] == [(t.first_page, t.last_page) for t in truth]
    for part, t in zip(parts, truth):
        assert cat.equivalent(part.prediction.item_code, t.item_code), (part, t)
        assert 0.0 < part.start_probability <= 1.0
    assert parts[0].start_probability == 1.0
    _check_cover(parts, len(pages))


def test_multipage_single_document_stays_one_part(model, tmp_path):
    from samplegen import generate_multidoc
    from samplegen.multidoc import render_multidoc_pdf

    # A report running over three sheets: cover page, the rest of its body, a continued table.
    md = generate_multidoc("train", seed=77, k=5, kind="single", codes=("C2-2",), extra_sheets=(2,))
    render_multidoc_pdf(md, tmp_path / "long.pdf")
    pages, whole_text = _pages(tmp_path / "long.pdf")
    assert len(pages) >= 3
    whole = model.predict([whole_text])[0]
    counting = CountingClassifier(model)

    parts = split_document(counting, pages, whole=whole)  # type: ignore[arg-type]

    assert len(parts) == 1
    assert (parts[0].first_page, parts[0].last_page) == (1, len(pages))
    assert parts[0].prediction == whole
    # The only extra cost of a document that is not split: one pass over its pages.
    assert counting.calls == [("predict_proba", len(pages))]


def test_one_page_file_is_its_own_whole_file_prediction(model, tmp_path):
    from samplegen import generate_doc
    from samplegen.render import render_pdf

    doc = generate_doc("C5-1", "train", seed=77, k=11)
    render_pdf(doc, tmp_path / "one.pdf")
    pages, whole_text = _pages(tmp_path / "one.pdf")
    assert len(pages) == 1
    counting = CountingClassifier(model)

    parts = split_document(counting, pages)  # type: ignore[arg-type]

    assert len(parts) == 1 and (parts[0].first_page, parts[0].last_page) == (1, 1)
    assert parts[0].prediction == model.predict([whole_text])[0]
    assert counting.calls == [("predict", 1)]  # no page pass for a one-page file
    given = model.predict([whole_text])[0]
    assert split_document(counting, pages, whole=given)[0].prediction is given


def test_no_pages_is_an_error(model):
    with pytest.raises(ValueError):
        split_document(model, [])
