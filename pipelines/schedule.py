"""The nightly run: the batch flow as a Prefect deployment on a cron schedule, served by this process
(and, with ``retrain_cron``, the retrain flow on a cron of its own).

``dangan serve`` registers the deployment with the Prefect server named by ``PREFECT_API_URL``
(start one with ``prefect server start`` to see runs and their report artifacts in the UI) and then
executes its scheduled runs until stopped. Without ``PREFECT_API_URL`` it starts a local server for
its own lifetime, as ``dangan run`` does.
"""

from __future__ import annotations

import os
from pathlib import Path

from prefect.client.schemas.schedules import CronSchedule
from prefect.deployments.runner import RunnerDeployment

from pipelines.flows import configured_flow
from pipelines.retrain import retrain_flow
from pipelines.settings import Settings

DEPLOYMENT_NAME = "dangan-nightly"
RETRAIN_DEPLOYMENT_NAME = "dangan-retrain"


def _schedule(cron: str, settings: Settings) -> CronSchedule:
    try:
        return CronSchedule(cron=cron, timezone=settings.timezone)
    except ValueError as exc:
        raise ValueError(f"not a cron expression: {cron!r} (e.g. '0 2 * * *' for 02:00 every night)") from exc


def nightly_deployment(inputs: list[Path], out_dir: Path, settings: Settings, cron: str | None = None) -> RunnerDeployment:
    """The deployment: ``batch_flow`` over ``inputs`` into ``out_dir`` at ``cron`` (server time zone)."""
    return configured_flow(settings).to_deployment(
        name=DEPLOYMENT_NAME,
        schedule=_schedule(cron or settings.nightly_cron, settings),
        # Plain JSON parameters: each run reads its Settings from the environment of the serving process.
        parameters={"inputs": [str(Path(p).resolve()) for p in inputs], "out_dir": str(Path(out_dir).resolve())},
        description="dangan nightly batch: classify the inbox, write results, exports and the run report",
        tags=["dangan", "nightly"],
    )


def retrain_deployment(settings: Settings, cron: str | None = None) -> RunnerDeployment:
    """The deployment: ``retrain_flow`` (learn from the approved labels, promote if not worse) at ``cron``."""
    cron = cron or settings.retrain_cron
    if not cron:
        raise ValueError("no retrain schedule: pass --retrain-cron or set DANGAN_RETRAIN_CRON")
    return retrain_flow.to_deployment(
        name=RETRAIN_DEPLOYMENT_NAME,
        schedule=_schedule(cron, settings),
        parameters={},  # Settings, as for the nightly run, from the environment of the serving process
        description="dangan retrain: learn from the reviewers' labels, promote the candidate only if not worse",
        tags=["dangan", "retrain"],
    )


def export_settings(settings: Settings) -> None:
    """Put the settings given on the command line (``serve --home X --workers 1``) into this process's
    environment. Scheduled runs execute in processes the Prefect runner starts, which build their
    ``Settings`` from the environment they inherit: without this they would run on the defaults,
    another home, model and database than the one ``serve`` was started for."""
    for name in sorted(settings.model_fields_set):
        value = getattr(settings, name)
        if value is None:
            continue
        if name == "home":
            value = settings.root  # absolute: the runner's processes need not share this working directory
        os.environ[f"DANGAN_{name.upper()}"] = str(value)


def serve_nightly(
    inputs: list[Path], out_dir: Path, settings: Settings, cron: str | None = None, retrain_cron: str | None = None,
) -> None:
    from prefect import serve

    from pipelines.prefect_env import prefect_api, prefect_server

    export_settings(settings)
    deployments = [nightly_deployment(inputs, out_dir, settings, cron)]
    if retrain_cron or settings.retrain_cron:
        deployments.append(retrain_deployment(settings, retrain_cron))
    with prefect_server() as server, prefect_api(server):
        url = server.api_url if server else os.environ["PREFECT_API_URL"]
        names = ", ".join(f"{d.name} ({d.schedules[0].schedule.cron})" for d in deployments)
        print(f"serving {names} against {url}; Ctrl-C stops")
        serve(*deployments, print_starting_message=False)
