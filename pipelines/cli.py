"""``dangan`` command line: run the batch pipeline; train, evaluate, list and promote models.

Exit status: 0 when the batch finished (even if some files failed: see their ``status``), 2 for usage
errors (bad arguments, missing input), 3 when no model is registered, 1 for any other fatal failure.
Results and the summary go to stdout; progress and logs go to stderr.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    OK = 0
    FATAL = 1
    USAGE = 2
    NO_MODEL = 3


def _settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from pipelines.settings import Settings

    overrides = {}
    for name in ("workers", "ocr_engine", "batch_size", "target_precision", "home", "dask_address", "dask_workers"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return Settings(**overrides)


def _setup(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    level = logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    # Dask logs every worker start and stop at INFO, in its workers too: its config reads the environment.
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "info" if args.verbose else "warning")
    settings = _settings(args)
    from pipelines.prefect_env import configure_prefect

    configure_prefect(settings.prefect_home, verbose=args.verbose)
    return settings


def _login_name(fallback: str) -> str:
    """Who runs the command, for the audit log (a container's anonymous uid has no login name)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return fallback


def cmd_run(args: argparse.Namespace) -> int:
    settings = _setup(args)
    from pipelines.discovery import InputError, discover

    if settings.model_registry().active_version() is None:
        print(f"dangan: no trained model in {settings.models_dir}; run `dangan train` first", file=sys.stderr)
        return ExitCode.NO_MODEL
    try:
        discover([Path(p) for p in args.inputs])
    except InputError as exc:
        print(f"dangan: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    from pipelines.prefect_env import prefect_server

    with prefect_server(one_run=True):  # spawned first: it boots while Prefect is imported here
        if not (settings.dask_address or settings.dask_workers):  # the default process pool's workers:
            from pipelines.worker_preload import start_fork_server  # their preload starts now too

            start_fork_server(settings)
        from pipelines.flows import run_batch
        from pipelines.progress import RichProgress, set_reporter

        if not args.quiet:
            set_reporter(RichProgress())
        report = run_batch([str(p) for p in args.inputs], str(args.out), settings)
    out = Path(report.out_dir)
    print(f"results: {out / 'results.jsonl'}")
    print(f"         {out / 'results.csv'}, {out / 'results.parquet'}")
    print(f"卷内目录: {out / 'volume_catalogue.xlsx'}")
    print(f"report : {out / 'report.html'}")
    print(
        f"files {report.files} (ok {report.ok}, errors {report.errors}, resumed {report.resumed}) · "
        f"pages {report.pages} · auto {report.auto} · class only {report.class_only} · review {report.review} "
        f"(out of catalogue {report.out_of_catalogue}) · "
        f"model {report.model_version} · {report.seconds:.1f} s"
    )
    if report.error_codes:
        print("errors: " + ", ".join(f"{k} {v}" for k, v in sorted(report.error_codes.items())))
    return ExitCode.OK


def _print_outcome(outcome) -> None:  # type: ignore[no-untyped-def]
    m = outcome.metrics
    print(
        f"registered {outcome.version} in {outcome.seconds:.0f} s ({outcome.n_train} train, {outcome.n_calib} calib docs)\n"
        f"held-out (n={m.n}): item {m.item_accuracy:.1%} · class {m.class_accuracy:.1%} · stage {m.stage_accuracy:.1%} · "
        f"ECE {m.ece:.3f} · auto coverage {m.auto_coverage:.1%} at precision "
        f"{'n/a' if m.auto_precision is None else f'{m.auto_precision:.1%}'} (threshold {m.threshold:.3f})"
    )


def cmd_train(args: argparse.Namespace) -> int:
    settings = _setup(args)
    registry = settings.model_registry()
    if args.if_missing and registry.active_version():
        from models.registry import RegistryError

        try:
            registry.load()
        except RegistryError as exc:  # e.g. a model from an older dangan: retrain rather than fail later
            print(f"the active model cannot be used ({exc}); training a new one", file=sys.stderr)
        else:
            print(f"model {registry.active_version()} is active; not retraining (drop --if-missing to retrain)")
            return ExitCode.OK
    from pipelines.training import train_default, train_labelled

    if args.per_item:
        settings = settings.model_copy(update={"train_per_item": args.per_item})
    if args.labelled is None:
        print("training the seed model on the sample corpus (generated + hand-written) …", file=sys.stderr)
        _print_outcome(train_default(settings))
        return ExitCode.OK
    from pipelines.labelled import LabelledDataError

    print(f"training on {args.labelled}{'' if args.no_seed else ' + the seed corpus'} …", file=sys.stderr)
    try:
        result = train_labelled(args.labelled, settings, with_seed=not args.no_seed, activate=not args.no_activate)
    except (LabelledDataError, ValueError) as exc:
        print(f"dangan: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    for problem in result.problems:
        print(f"skipped {problem}", file=sys.stderr)
    print(f"{result.files} labelled files, {len(result.problems)} unreadable; held-out test: {result.n_test} of your documents")
    _print_outcome(result.training)
    if args.no_activate:
        print(f"not activated; `dangan models promote {result.training.version}` makes it active")
    return ExitCode.OK


def cmd_models(args: argparse.Namespace) -> int:
    settings = _setup(args)
    registry = settings.model_registry()
    if getattr(args, "action", None) == "promote":
        if args.version not in {v.version for v in registry.versions()}:
            print(f"dangan: no model {args.version} in {settings.models_dir}", file=sys.stderr)
            return ExitCode.USAGE
        registry.activate(args.version)
        print(f"{args.version} is now the active model")
        return ExitCode.OK
    versions = registry.versions()
    if not versions:
        print(f"no models in {settings.models_dir}")
        return ExitCode.OK
    for info in versions:
        test = info.metrics.get("heldout_test", {})
        routing = info.metrics.get("routing", {})
        print(
            f"{'*' if info.active else ' '} {info.version}  {info.created}  item {test.get('item_accuracy')}  "
            f"class {test.get('class_accuracy')}  ECE {test.get('ece')}  auto {test.get('auto_coverage')}"
            f"@{test.get('auto_precision')}  filed {routing.get('filed_share')}  threshold {info.thresholds.get('item')}"
            f"  {info.notes}"
        )
    return ExitCode.OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    settings = _setup(args)
    from pipelines.evaluate import evaluate_labelled
    from pipelines.labelled import LabelledDataError

    try:
        result = evaluate_labelled(args.labelled, args.out, settings, version=args.model)
    except LabelledDataError as exc:
        print(f"dangan: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except LookupError as exc:
        print(f"dangan: {exc}", file=sys.stderr)
        return ExitCode.NO_MODEL
    for problem in result.problems:
        print(f"skipped {problem}", file=sys.stderr)
    print(result.summary)
    print(f"report: {result.report_path}")
    return ExitCode.OK


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _setup(args)
    if settings.model_registry().active_version() is None:
        print(f"dangan: no trained model in {settings.models_dir}; run `dangan train` first", file=sys.stderr)
        return ExitCode.NO_MODEL
    missing = [str(p) for p in args.inputs if not Path(p).exists()]
    if missing:
        print(f"dangan: input not found: {', '.join(missing)}", file=sys.stderr)
        return ExitCode.USAGE
    from pipelines.schedule import serve_nightly

    try:
        serve_nightly(list(args.inputs), args.out, settings, args.cron, args.retrain_cron)
    except ValueError as exc:
        print(f"dangan: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    return ExitCode.OK


def cmd_retrain(args: argparse.Namespace) -> int:
    settings = _setup(args)
    from pipelines.retrain import retrain

    actor = f"cli:{_login_name('unknown')}"
    print("retraining on the approved labels (+ the seed corpus) …", file=sys.stderr)
    outcome = retrain(settings, out=args.out, actor=actor, force=args.force)
    print(outcome.summary)
    print(f"report: {outcome.report_path}")
    return ExitCode.OK


def cmd_status(args: argparse.Namespace) -> int:
    settings = _setup(args)
    from pipelines.storage import Database

    counts, runs, queued = Database.open(settings.db_url).status()
    print(f"documents {counts.documents} · predictions {counts.predictions} · "
          + " · ".join(f"{k} {v}" for k, v in sorted(counts.by_status.items())))
    if counts.by_route:
        print("routes: " + " · ".join(f"{k} {v}" for k, v in sorted(counts.by_route.items()))
              + f" · out of catalogue {counts.out_of_catalogue}")
    if counts.by_error_code:
        print("errors: " + " · ".join(f"{k} {v}" for k, v in sorted(counts.by_error_code.items())))
    if counts.current_labels_by_source:
        print("labels: " + " · ".join(f"{k} {v}" for k, v in sorted(counts.current_labels_by_source.items())))
    print(f"review queue: {queued} document(s) waiting for a reviewer (dangan review)")
    for r in runs:
        took = "" if r.seconds is None else f" in {r.seconds:.0f} s"
        print(f"run {r.id:>4}  {r.status:<11} {r.started_at:%Y-%m-%d %H:%M}{took}  files {r.files_total} "
              f"(ok {r.files_ok}, errors {r.files_error}, skipped {r.files_skipped})  model {r.model_version}")
    return ExitCode.OK


def cmd_labelstudio(args: argparse.Namespace) -> int:
    settings = _setup(args)
    from models.catalogue import load_catalogue
    from pipelines import labelstudio as ls
    from pipelines.db.review import QueueFilters
    from pipelines.storage import Database

    catalogue = load_catalogue()
    sessions = Database.open(settings.db_url).session
    if args.action == "export":
        filters = QueueFilters(project=args.project, class_code=args.class_code, run_id=args.run_id,
                               model_version=args.model_version)
        with sessions() as s:
            tasks = ls.export_tasks(s, filters, catalogue=catalogue)
        ls.write_tasks(args.out, tasks)
        print(f"{len(tasks)} Label Studio tasks: {args.out}")
        if args.config is not None:
            ls.write_config(args.config, ls.labeling_config(catalogue))
            print(f"labeling config: {args.config}")
        return ExitCode.OK
    user = args.user or _login_name("labelstudio-import")
    try:
        with sessions() as s:
            outcome = ls.import_annotations(s, args.file, actor=user, catalogue=catalogue,
                                            overwrite_reviewer=args.overwrite_reviewer)
    except ls.LabelStudioFormatError as exc:
        print(f"dangan: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    for problem in outcome.problems:
        print(f"skipped {problem}", file=sys.stderr)
    print(outcome.summary())
    return ExitCode.OK


def cmd_review(args: argparse.Namespace) -> int:
    settings = _setup(args)
    updates = {k: v for k, v in (("review_host", args.host), ("review_port", args.port)) if v is not None}
    settings = settings.model_copy(update=updates)
    from pipelines.db import review as rq
    from pipelines.storage import Database

    with Database.open(settings.db_url).session() as s:
        if not rq.list_users(s):
            print("dangan: no accounts yet; create one first: dangan users add NAME --role admin", file=sys.stderr)
            return ExitCode.USAGE
    from review.app import serve

    print(f"review workbench on http://{settings.review_host}:{settings.review_port}/ (Ctrl-C stops it)", file=sys.stderr)
    serve(settings)
    return ExitCode.OK


def _read_password(args: argparse.Namespace) -> str:
    """From stdin with --password-stdin (scripts), else asked twice on the terminal; never an argument."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise ValueError("the two passwords differ")
    return first


def cmd_users(args: argparse.Namespace) -> int:
    settings = _setup(args)
    from pipelines.db import review as rq
    from pipelines.db.repository import NotFoundError
    from pipelines.storage import Database
    from review.security import hash_password

    db = Database.open(settings.db_url)
    actor = f"cli:{_login_name('unknown')}"
    try:
        with db.session() as s:
            if args.action == "add":
                user = rq.create_user(s, username=args.username, role=args.role, actor=actor,
                                      password_hash=hash_password(_read_password(args)))
                print(f"created {user.username} ({user.role})")
            elif args.action == "set":
                password = hash_password(_read_password(args)) if args.password or args.password_stdin else None
                active = False if args.disable else True if args.enable else None
                user = rq.update_user(s, args.username, actor=actor, role=args.role, is_active=active,
                                      password_hash=password)
                print(f"{user.username}: {user.role}, {'active' if user.is_active else 'disabled'}")
            else:
                for user in rq.list_users(s):
                    print(f"{user.username:20} {user.role:9} {'active' if user.is_active else 'disabled'}  "
                          f"created {user.created_at:%Y-%m-%d} by {user.created_by}")
    except (ValueError, NotFoundError) as exc:
        print(f"dangan: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    return ExitCode.OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dangan", description=__doc__.splitlines()[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", help="verbose logs (Prefect and dangan) on stderr")
    common.add_argument("--home", type=Path, help="state folder (default .dangan, or DANGAN_HOME)")
    # The same options on an action below a command that has them too: no defaults of their own, or
    # parsing the action would reset what was given before it (``dangan models --home X list``).
    nested = argparse.ArgumentParser(add_help=False)
    nested.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="verbose logs")
    nested.add_argument("--home", type=Path, default=argparse.SUPPRESS, help="state folder")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", parents=[common], help="classify a folder or files")
    run.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="folders (recursive) or files")
    run.add_argument("--out", type=Path, required=True, help="output folder for results.jsonl/csv")
    run.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    run.add_argument("--ocr-engine", dest="ocr_engine", help="rapidocr (default) | paddleocr | tesseract")
    run.add_argument("--batch-size", dest="batch_size", type=int, help="files per Prefect task")
    run.add_argument("--dask-address", dest="dask_address", help="run the tasks on this Dask scheduler")
    run.add_argument("--dask-workers", dest="dask_workers", type=int, help="run the tasks on a local Dask cluster")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=cmd_run)

    train = sub.add_parser("train", parents=[common], help="train and register a model")
    train.add_argument("labelled", nargs="?", type=Path, metavar="LABELLED",
                       help="your catalogued files: folder tree by item code (C5-1/…) or CSV/JSONL of file,item_code; "
                            "without it, the seed corpus (generated + hand-written)")
    train.add_argument("--no-seed", action="store_true", help="train on LABELLED only, without the seed corpus")
    train.add_argument("--no-activate", action="store_true", help="register without making it the active model")
    train.add_argument("--if-missing", action="store_true", help="only when no model is active yet")
    train.add_argument("--per-item", type=int, help="generated training documents per catalogue item")
    train.add_argument("--target-precision", dest="target_precision", type=float,
                       help="auto-filing precision the threshold must reach on held-out data (default 0.99)")
    train.set_defaults(func=cmd_train)

    models = sub.add_parser("models", parents=[common], help="list registered models, or promote one")
    models.set_defaults(func=cmd_models)
    models_sub = models.add_subparsers(dest="action")
    models_sub.add_parser("list", parents=[nested], help="list versions with their held-out metrics")
    promote = models_sub.add_parser("promote", parents=[nested], help="make VERSION the active model")
    promote.add_argument("version", metavar="VERSION")

    serve = sub.add_parser("serve", parents=[common], help="run the batch every night (Prefect deployment on a cron)")
    serve.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="the inbox folder(s)")
    serve.add_argument("--out", type=Path, required=True, help="output folder (re-runs resume: done files are skipped)")
    serve.add_argument("--cron", help="schedule, default DANGAN_NIGHTLY_CRON or '0 2 * * *' (02:00)")
    serve.add_argument("--retrain-cron", dest="retrain_cron",
                       help="also retrain on the approved labels on this schedule (default DANGAN_RETRAIN_CRON, or never)")
    serve.set_defaults(func=cmd_serve)

    retrain = sub.add_parser("retrain", parents=[common],
                             help="learn from the reviewers' labels; promote the new model only if it is not worse")
    retrain.add_argument("--out", type=Path, help="report file (default DANGAN_HOME/reports/retrain-<time>.md)")
    retrain.add_argument("--force", action="store_true", help="promote the new model whatever its scores")
    retrain.set_defaults(func=cmd_retrain)

    status = sub.add_parser("status", parents=[common], help="what is recorded: documents, routes, errors, recent runs")
    status.set_defaults(func=cmd_status)

    evaluate = sub.add_parser("evaluate", parents=[common], help="score a model on labelled files, write a report")
    evaluate.add_argument("labelled", type=Path, metavar="LABELLED", help="folder tree by item code or CSV/JSONL")
    evaluate.add_argument("--out", type=Path, required=True, help="report folder (metrics.json, plots, tables)")
    evaluate.add_argument("--model", help="model version (default: the active one)")
    evaluate.set_defaults(func=cmd_evaluate)

    # Common options on the actions only: on both levels the action's defaults would reset the group's.
    labelstudio = sub.add_parser("labelstudio", help="the review queue to and from Label Studio")
    labelstudio.set_defaults(func=cmd_labelstudio)
    ls_sub = labelstudio.add_subparsers(dest="action", required=True)
    ls_export = ls_sub.add_parser("export", parents=[common],
                                  help="queued documents as Label Studio tasks with the model's predictions")
    ls_export.add_argument("out", type=Path, metavar="OUT.json", help="tasks file to import into Label Studio")
    ls_export.add_argument("--config", type=Path, metavar="OUT.xml", help="also write the labeling interface")
    ls_export.add_argument("--project", help="only this project (tags.project_name)")
    ls_export.add_argument("--class-code", dest="class_code", help="only this predicted class, e.g. C5")
    ls_export.add_argument("--run-id", dest="run_id", type=int, help="only documents seen in this run")
    ls_export.add_argument("--model-version", dest="model_version", help="only this model version's predictions")
    ls_import = ls_sub.add_parser("import", parents=[common],
                                  help="Label Studio annotations (JSON or JSON-MIN export) as import labels")
    ls_import.add_argument("file", type=Path, metavar="FILE.json", help="Label Studio export")
    ls_import.add_argument("--user", help="who imports, for the audit log (default: the login name)")
    ls_import.add_argument("--overwrite-reviewer", action="store_true",
                           help="also replace labels a reviewer set (default: keep them)")

    review = sub.add_parser("review", parents=[common], help="serve the review workbench (web app) on localhost")
    review.add_argument("--host", help="listen address (default DANGAN_REVIEW_HOST or 127.0.0.1)")
    review.add_argument("--port", type=int, help="port (default DANGAN_REVIEW_PORT or 8765)")
    review.set_defaults(func=cmd_review)

    users = sub.add_parser("users", help="review workbench accounts (admin, reviewer, viewer)")
    users.set_defaults(func=cmd_users)
    users_sub = users.add_subparsers(dest="action", required=True)
    users_sub.add_parser("list", parents=[common], help="list accounts")
    users_add = users_sub.add_parser("add", parents=[common], help="create an account (asks for the password)")
    users_set = users_sub.add_parser("set", parents=[common], help="change role, password, or disable an account")
    for p in (users_add, users_set):
        p.add_argument("username", metavar="NAME")
        p.add_argument("--password-stdin", action="store_true", help="read the password from stdin (one line)")
    users_add.add_argument("--role", choices=["admin", "reviewer", "viewer"], required=True)
    users_set.add_argument("--role", choices=["admin", "reviewer", "viewer"])
    users_set.add_argument("--password", action="store_true", help="set a new password (asked on the terminal)")
    state = users_set.add_mutually_exclusive_group()
    state.add_argument("--disable", action="store_true", help="no more logins (the account stays, for the audit log)")
    state.add_argument("--enable", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("dangan: interrupted; re-run the same command to resume", file=sys.stderr)
        return 130
    except Exception as exc:  # last resort: a fatal error, said plainly
        from models.registry import RegistryError

        if isinstance(exc, RegistryError):
            print(f"dangan: {exc}", file=sys.stderr)
            return ExitCode.NO_MODEL
        logging.getLogger("dangan").exception("fatal error")
        print(f"dangan: fatal: {type(exc).__name__}: {exc}", file=sys.stderr)
        return ExitCode.FATAL


def console_main() -> None:
    """The ``dangan`` command. Its objects are left to the exit: the interpreter's final garbage
    collections over a run's million objects (Prefect, pandas, the results) took ≈0.8 s of every command."""
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    console_main()
