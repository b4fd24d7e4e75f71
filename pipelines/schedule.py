"""The nightly run: the batch flow as a Prefect deployment on a cron schedule, served by this process.

``dangan serve`` registers the deployment with the Prefect server named by ``PREFECT_API_URL``
(start one with ``prefect server start`` to see runs and their report artifacts in the UI) and then
executes its scheduled runs until stopped. Without ``PREFECT_API_URL`` it starts a local server for
its own lifetime, as ``dangan run`` does.
"""

from __future__ import annotations

from pathlib import Path

from prefect.client.schemas.schedules import CronSchedule
from prefect.deployments.runner import RunnerDeployment

from pipelines.flows import configured_flow
from pipelines.settings import Settings

DEPLOYMENT_NAME = "dangan-nightly"


def nightly_deployment(inputs: list[Path], out_dir: Path, settings: Settings, cron: str | None = None) -> RunnerDeployment:
    """The deployment: ``batch_flow`` over ``inputs`` into ``out_dir`` at ``cron`` (server time zone)."""
    try:
        schedule = CronSchedule(cron=cron or settings.nightly_cron, timezone=settings.timezone)
    except ValueError as exc:
        raise ValueError(f"not a cron expression: {cron!r} (e.g. '0 2 * * *' for 02:00 every night)") from exc
    return configured_flow(settings).to_deployment(
        name=DEPLOYMENT_NAME,
        schedule=schedule,
        # Plain JSON parameters: each run reads its Settings from the environment of the serving process.
        parameters={"inputs": [str(Path(p).resolve()) for p in inputs], "out_dir": str(Path(out_dir).resolve())},
        description="dangan nightly batch: classify the inbox, write results, exports and the run report",
        tags=["dangan", "nightly"],
    )


def serve_nightly(inputs: list[Path], out_dir: Path, settings: Settings, cron: str | None = None) -> None:
    from prefect import serve

    from pipelines.prefect_env import prefect_server

    deployment = nightly_deployment(inputs, out_dir, settings, cron)
    with prefect_server() as url:
        print(f"serving {DEPLOYMENT_NAME} ({deployment.schedules[0].schedule.cron}) against {url}; Ctrl-C stops")
        serve(deployment, print_starting_message=False)
