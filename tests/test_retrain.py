"""`dangan retrain`: reviewers' corrections raise held-out accuracy and are promoted; a candidate that
learnt wrong labels is refused; the held-out documents stay held out; nothing to learn, nothing trained.

The seed model here is small (3 generated documents per item) and trained once for the module; each
test copies its registry into a home of its own, so a promotion in one test never leaks into another.
"""

from __future__ import annotations

import hashlib
import random
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.db import repository as repo
from pipelines.db.review import ApprovedLabel
from pipelines.settings import Settings

SMALL = {"train_per_item": 3, "calib_per_item": 1, "test_per_item": 1, "workers": 2}

# A regional site vocabulary (Hong Kong contractors' Cantonese) the catalogue knowledge does not know:
# 石屎 concrete, 落石屎 pour, 扎铁 rebar fixing, 铁枝 rebar, 夹板 formwork, 拆板 strike formwork, 判头 subcontractor.
LOCAL_FORMS: dict[str, tuple[str, list[str], list[str]]] = {
    "C5-14": (  # 混凝土浇灌申请书
        "落石屎申请纸",
        ["落石屎位置：{floor}楼{zone}区楼面", "石屎级数：{grade}", "石屎方数：{volume}立方", "泵车：{pump}号泵车"],
        ["扎铁、夹板已经查妥，申请于{date}早上{hour}点落石屎。", "石屎车{n}架，预计{hour}个钟落完。",
         "判头已安排震机{n}部，落石屎期间专人睇板。"],
    ),
    "C5-17": (  # 混凝土拆模申请单
        "拆板申请纸",
        ["拆板位置：{floor}楼{zone}区", "落石屎日期：{date}", "石屎试粒强度：{pct}%", "拆板日期：{date2}"],
        ["石屎试粒已达{pct}%强度，申请拆板。", "顶撑保留至{date2}，拆板后即时执漏。", "判头已安排{n}名板工拆板。"],
    ),
    "C5-1": (  # 隐蔽工程验收记录
        "扎铁查验纸",
        ["查验位置：{floor}楼{zone}区", "铁枝规格：T{bar}", "铁枝间距：{spacing}毫米", "保护层：{cover}毫米"],
        ["铁枝已扎妥，间距同保护层符合图则，可以封板。", "查验发现{n}处铁枝未绑紧，已执妥。",
         "喉管预埋已完成，准备落石屎前再查一次。"],
    ),
    "C5-24": (  # 防水工程试水检查记录
        "浸水试验纸",
        ["浸水位置：{floor}楼{zone}区天台", "浸水深度：{depth}厘米", "浸水时间：{hour}个钟", "渗漏情况：{leak}"],
        ["天台浸水{hour}个钟，楼下天花未见渗漏。", "浸水期间每{n}个钟巡查一次，水位无明显下降。",
         "防水膜收口位已执妥，浸水试验合格。"],
    ),
}
PROJECTS = ["荃湾海景大厦", "将军澳住宅发展", "观塘商业中心", "屯门学校校舍", "沙田医院扩建", "元朗村屋", "葵涌货仓", "大埔图书馆"]
CONTRACTORS = ["利兴建筑", "宏达工程", "新城营造", "协和建业"]


def local_form(code: str, k: int) -> str:
    """Document ``k`` of ``code``'s local form: the same vocabulary, different projects, places and values."""
    title, fields, sentences = LOCAL_FORMS[code]
    rng = random.Random(f"{code}:{k}")
    values = {
        "floor": rng.randint(2, 40), "zone": rng.choice("ABCDE"), "grade": rng.choice(["30/20", "40/20", "45/20"]),
        "volume": rng.randint(20, 180), "pump": rng.randint(1, 9), "hour": rng.randint(2, 11), "n": rng.randint(2, 6),
        "date": f"2024年{rng.randint(1, 12)}月{rng.randint(1, 28)}日", "date2": f"2025年{rng.randint(1, 12)}月{rng.randint(1, 28)}日",
        "pct": rng.choice([70, 75, 80, 85, 100]), "bar": rng.choice([10, 12, 16, 20, 25, 32]),
        "spacing": rng.choice([100, 150, 200, 250]), "cover": rng.choice([25, 30, 40, 50]),
        "depth": rng.choice([3, 5, 8]), "leak": rng.choice(["无", "未见", "冇"]),
    }
    body = [f.format(**values) for f in rng.sample(fields, k=len(fields))]
    body += [s.format(**values) for s in rng.sample(sentences, k=rng.randint(2, len(sentences)))]
    return "\n".join([
        f"{rng.choice(PROJECTS)}  {title}", f"承建商：{rng.choice(CONTRACTORS)}  编号：{code[0]}{rng.randint(100, 999)}",
        *body, f"判头代表：{rng.choice('陈李张黄何')}生  地盘总管：{rng.choice('梁罗郭林郑')}生",
    ])


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def add_labelled(settings: Settings, docs: list[tuple[str, str]], *, user: str = "reviewer1") -> list[int]:
    """Record each (text, item code) document as the pipeline would (routed to review), then label it."""
    from pipelines.results import FileResult
    from pipelines.storage import Database

    sessions = Database.open(settings.db_url).session
    with sessions() as s:
        run = repo.start_run(s, inputs=["/inbox"], model_version="seed")
        results = [FileResult(file=f"/inbox/{sha(t)[:12]}.pdf", sha256=sha(t), status="ok", route="review",
                              item_code="A1-1", model_version="seed") for t, _ in docs]
        repo.record_results(s, run, results, {sha(t): t for t, _ in docs}, sizes={sha(t): len(t) for t, _ in docs})
        repo.finish_run(s, run)
    ids = []
    with sessions() as s:
        for text, code in docs:
            doc_id = repo.document_id(s, sha(text))
            cur = repo.current_label(s, doc_id)
            repo.set_label(s, doc_id, code, user=user, reason="local form", expected_version=cur.version if cur else 0)
            ids.append(doc_id)
    return ids


@pytest.fixture(scope="module")
def seed_home(tmp_path_factory) -> Path:
    from pipelines.training import train_default

    home = tmp_path_factory.mktemp("retrain-seed")
    train_default(Settings(home=home, **SMALL))
    return home


@pytest.fixture
def settings(seed_home, tmp_path) -> Settings:
    home = tmp_path / "home"
    shutil.copytree(seed_home / "models", home / "models")
    return Settings(home=home, **SMALL)


def _label(n: int | str, code: str) -> ApprovedLabel:
    return ApprovedLabel(document_id=0, sha256=sha(f"doc {n}"), item_code=code, text=f"doc {n}", source="reviewer",
                         created_at=datetime(2025, 1, 1, tzinfo=UTC))


# ---------------------------------------------------------------------------------------------- fast


def test_held_out_documents_stay_held_out_and_trained_ones_stay_trained():
    from pipelines.retrain import split_labels

    first = [_label(i, "C5-1") for i in range(20)] + [_label("y0", "C5-9")] + [_label(f"z{i}", "C5-14") for i in range(2)]
    one = split_labels(first, set(), set())
    assert split_labels(list(reversed(first)), set(), set()) == one  # order of the labels does not matter
    held = {d.sha256 for d in one.heldout}
    assert {d.item_code for d in one.heldout} == {"C5-1", "C5-14"}  # every item with ≥2 labels holds one out
    assert [d.item_code for d in one.train if d.item_code == "C5-9"] == ["C5-9"]  # a single label trains
    assert 2 <= len([d for d in one.heldout if d.item_code == "C5-1"]) <= 8  # about a fifth
    assert one.calib and {d.item_code for d in one.calib} == {"C5-1"}  # items with ≥4 training labels calibrate
    assert set(one.new_heldout) == held and set(one.new_trained) == {d.sha256 for d in one.train + one.calib}

    # More labels arrive; C5-9 gets its second. Nothing moves; the new C5-9 document is the one held out.
    more = first + [_label(i, "C5-1") for i in range(20, 40)] + [_label("y1", "C5-9")]
    two = split_labels(more, set(one.new_heldout), set(one.new_trained))
    assert held <= {d.sha256 for d in two.heldout}
    assert not held & {d.sha256 for d in two.train + two.calib}
    assert {d.sha256 for d in two.heldout if d.item_code == "C5-9"} == {sha("doc y1")}
    assert set(two.new_heldout) | set(two.new_trained) == {d.sha256 for d in more} - held - set(one.new_trained)


def test_reviewed_calibration_documents_are_weighted_not_repeated():
    """Training copies a reviewed document; calibration weighs it, so the thresholds' precision bound
    still counts it once (copies would pass for independent evidence)."""
    from pipelines.retrain import upweighted
    from pipelines.training import Split

    reviewed = Split(["a", "b", "c"], ["C5-1", "C5-1", "C5-9"], ["r", "r", "r"])
    trained = upweighted(reviewed, per_item=6)
    assert trained.texts == ["a"] * 3 + ["b"] * 3 + ["c"] * 6 and trained.weights is None
    calib = upweighted(reviewed, per_item=6, repeat=False)
    assert calib.texts == ["a", "b", "c"] and calib.weights == [3.0, 3.0, 6.0]
    both = calib + Split(["g"], ["A1-1"], ["gen"])  # the generated seed documents weigh 1 each
    assert both.weights == [3.0, 3.0, 6.0, 1.0] and len(both.texts) == 4


def _metrics(item: float, n: int = 100):  # type: ignore[no-untyped-def]
    from models.evaluation import Metrics

    return Metrics(n=n, item_accuracy=item, class_accuracy=item, stage_accuracy=item, ece=0.1, auto_coverage=0.3,
                   auto_precision=0.99, threshold=0.9)


def test_the_promotion_rule():
    from pipelines.retrain import ModelScore, decide

    def model(reviewed: float | None, seed: float) -> ModelScore:
        return ModelScore("v1", "v1-x", None if reviewed is None else _metrics(reviewed, 10), _metrics(seed), {})

    active = model(0.5, 0.88)
    assert decide(None, model(0.1, 0.1))[0] == "promoted"  # nothing to compare with
    assert decide(active, model(0.5, 0.875))[0] == "promoted"  # as good, within 1 point on the seed test
    assert decide(active, model(0.9, 0.86))[0] == "refused"  # learnt the corrections, forgot the catalogue
    assert decide(active, model(0.4, 0.95))[0] == "refused"  # lost corrections
    decision, reasons = decide(active, model(0.4, 0.95), force=True)
    assert decision == "forced" and "--force" in reasons[-1]
    assert decide(model(None, 0.88), model(None, 0.88))[0] == "promoted"  # nothing held out yet: seed test only


def test_no_approved_labels_means_nothing_is_trained(tmp_path):
    from pipelines.results import FileResult
    from pipelines.retrain import retrain, retrain_history
    from pipelines.storage import Database

    settings = Settings(home=tmp_path / "home", **SMALL)
    with Database.open(settings.db_url).session() as s:  # an auto-filed document: the model's own label teaches nothing
        run = repo.start_run(s, inputs=["/inbox"], model_version="seed")
        repo.record_results(s, run, [FileResult(file="/inbox/a.pdf", sha256=sha("a"), status="ok", route="auto",
                                                item_code="C5-1", model_version="seed")], {sha("a"): "隐蔽工程验收记录"},
                            sizes={sha("a"): 1})
    outcome = retrain(settings, out=tmp_path / "r.md", actor="tester")
    assert outcome.decision == "nothing-to-learn" and outcome.candidate is None and not outcome.promoted
    assert settings.model_registry().versions() == []
    assert "nothing trained" in (tmp_path / "r.md").read_text(encoding="utf-8")
    assert retrain_history(settings.db_url)[-1]["decision"] == "nothing-to-learn"


def test_retrain_deployment_has_its_own_cron(tmp_path):
    from pipelines.schedule import RETRAIN_DEPLOYMENT_NAME, retrain_deployment

    settings = Settings(home=tmp_path / "home", retrain_cron="0 3 * * 0")
    d = retrain_deployment(settings)
    assert d.name == RETRAIN_DEPLOYMENT_NAME and d.flow_name == "dangan-retrain"
    assert d.schedules[0].schedule.cron == "0 3 * * 0" and d.parameters == {}
    assert retrain_deployment(settings, "30 1 * * *").schedules[0].schedule.cron == "30 1 * * *"
    with pytest.raises(ValueError, match="no retrain schedule"):
        retrain_deployment(Settings(home=tmp_path))
    with pytest.raises(ValueError, match="cron"):
        retrain_deployment(settings, "weekly")


def test_cli_retrain_with_nothing_to_learn(tmp_path):
    import os
    import subprocess
    import sys

    env = dict(os.environ, DANGAN_HOME=str(tmp_path / "home"))
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli", "retrain", "--out", str(tmp_path / "r.md")],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("nothing-to-learn") and f"report: {tmp_path / 'r.md'}" in proc.stdout


# ---------------------------------------------------------------------------------------------- slow


@pytest.mark.slow
def test_corrections_of_a_local_form_raise_held_out_accuracy_and_are_promoted(settings, tmp_path):
    from pipelines.retrain import SEED_TOLERANCE, retrain, retrain_history

    add_labelled(settings, [(local_form(code, k), code) for code in LOCAL_FORMS for k in range(8)])
    registry = settings.model_registry()
    before = registry.active_version()
    outcome = retrain(settings, out=tmp_path / "retrain.md", actor="tester")

    a, c = outcome.active_score, outcome.candidate_score
    assert a is not None and c is not None and a.reviewed is not None and c.reviewed is not None
    print(outcome.summary)
    assert outcome.n_heldout >= len(LOCAL_FORMS) and outcome.n_train + outcome.n_heldout == outcome.labels == 32
    assert set(c.per_item) == set(LOCAL_FORMS)  # every corrected type is judged on documents it never saw
    assert a.reviewed.item_accuracy <= 0.5  # the seed model does not know most of the local forms …
    for code in LOCAL_FORMS:  # … the candidate does
        assert c.per_item[code][0] >= a.per_item[code][0], code
    assert c.reviewed.item_accuracy >= a.reviewed.item_accuracy + 0.5
    assert c.seed.item_accuracy >= a.seed.item_accuracy - SEED_TOLERANCE
    assert outcome.decision == "promoted" and outcome.promoted, outcome.summary
    assert outcome.active_before == before != outcome.candidate == registry.active_version() == outcome.active_after

    report = (tmp_path / "retrain.md").read_text(encoding="utf-8")
    assert "# Retrain: promoted" in report and "Reviewers' held-out documents" in report and "| C5-14 |" in report
    event = retrain_history(settings.db_url)[-1]
    assert event["decision"] == "promoted" and event["candidate"] == outcome.candidate
    assert len(event["heldout_added"]) == outcome.n_heldout  # remembered: held out again next time


@pytest.mark.slow
def test_a_candidate_that_learnt_wrong_labels_is_refused(settings):
    from samplegen import generate_doc

    from models.catalogue import load_catalogue
    from pipelines.retrain import SEED_TOLERANCE, retrain

    # Someone imported a register with its codes shifted by one row: 80 items' documents, each filed
    # under the next item's code.
    codes = [c for c in load_catalogue().codes if c.startswith("C")][:80]
    shifted = {c: codes[(i + 1) % len(codes)] for i, c in enumerate(codes)}
    add_labelled(settings, [(generate_doc(c, "train", seed=4242, k=k).text, shifted[c]) for c in codes for k in range(6)],
                 user="importer")
    registry = settings.model_registry()
    before = registry.active_version()
    outcome = retrain(settings, actor="tester")

    print(outcome.summary)
    assert outcome.decision == "refused" and not outcome.promoted, outcome.summary
    assert registry.active_version() == before == outcome.active_after
    assert outcome.candidate in {v.version for v in registry.versions() if not v.active}
    a, c = outcome.active_score, outcome.candidate_score
    # Worse than the active model where the rule looks: the catalogue (seed test) or the labels'
    # own held-out documents (the seed corpus outweighs 6 shifted documents an item, so it may not
    # even learn the shift).
    assert c.seed.item_accuracy < a.seed.item_accuracy - SEED_TOLERANCE or c.reviewed.item_accuracy < a.reviewed.item_accuracy
    assert outcome.report_path.parent == settings.root / "reports"
    assert "# Retrain: refused" in outcome.report_path.read_text(encoding="utf-8")

    again = retrain(settings, actor="tester")  # the same labels: nothing new, nothing trained
    assert again.decision == "unchanged" and again.candidate is None
    assert len(registry.versions()) == 2 and registry.active_version() == before
