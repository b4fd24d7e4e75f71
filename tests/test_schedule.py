"""The nightly deployment: the batch flow on the configured cron, with plain JSON parameters."""

from __future__ import annotations

import json

import pytest

from pipelines.settings import Settings


def test_nightly_deployment_has_the_cron_and_parameters(tmp_path):
    from pipelines.schedule import DEPLOYMENT_NAME, nightly_deployment

    settings = Settings(home=tmp_path / "home")
    d = nightly_deployment([tmp_path / "inbox"], tmp_path / "out", settings)
    assert d.name == DEPLOYMENT_NAME and d.flow_name == "dangan-batch"
    (schedule,) = d.schedules
    assert schedule.schedule.cron == "0 2 * * *" and schedule.schedule.timezone == "Asia/Shanghai"
    assert json.loads(json.dumps(d.parameters)) == {
        "inputs": [str((tmp_path / "inbox").resolve())], "out_dir": str((tmp_path / "out").resolve()),
    }
    other = nightly_deployment([tmp_path], tmp_path / "o", settings.model_copy(update={"timezone": "UTC"}), "30 23 * * 1-5")
    assert other.schedules[0].schedule.cron == "30 23 * * 1-5" and other.schedules[0].schedule.timezone == "UTC"


def test_a_bad_cron_is_refused(tmp_path):
    from pipelines.schedule import nightly_deployment

    with pytest.raises(ValueError, match="cron"):
        nightly_deployment([tmp_path], tmp_path / "o", Settings(home=tmp_path), "every night")


def test_serve_hands_its_command_line_settings_to_the_scheduled_runs(tmp_path, monkeypatch):
    """A scheduled run builds its Settings from the environment the serving process gives it."""
    from pipelines.schedule import export_settings

    for var in ("DANGAN_HOME", "DANGAN_WORKERS", "DANGAN_OCR_ENGINE"):
        monkeypatch.setenv(var, "")  # recorded, so what the test exports is undone after it
        monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
    export_settings(Settings(home="archive-home", workers=1, ocr_engine="paddleocr"))
    in_the_run = Settings()
    assert in_the_run.root == (tmp_path / "archive-home").resolve()
    assert in_the_run.workers == 1 and in_the_run.ocr_engine == "paddleocr"
    assert in_the_run.dpi == Settings.model_fields["dpi"].default  # what was not given stays a default
