"""The ``effconv`` command line: train, run a chapter's experiments, benchmark, count, inspect.

Bad input ends with one line on stderr (``effconv: error: ...``) and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from effconv.checks import SEED_MAX, check_accelerator, check_count, check_positive, check_seed
from effconv.errors import EffconvError


def _checked(parse, check, label: str):
    """An argparse type: parse the text, then apply one of ``effconv.checks``; any failure is one line."""
    def convert(text: str):
        try:
            return check(parse(text))
        except (ValueError, OverflowError) as err:  # EffconvError is a ValueError
            detail = str(err) if isinstance(err, EffconvError) else f"must be {label}, got {text!r}"
            raise argparse.ArgumentTypeError(detail.rstrip(".")) from None
    convert.__name__ = label
    return convert


_positive_float = _checked(float, lambda v: check_positive("the value", v), "a number > 0")
_positive_int = _checked(int, lambda v: check_count("the value", v), "an integer >= 1")
_seed = _checked(int, check_seed, f"an integer in [0, {SEED_MAX}]")


class _Parser(argparse.ArgumentParser):
    """Usage mistakes end like every other refusal: one line on stderr, exit status 2."""

    def error(self, message: str):
        where = self.prog.removeprefix("effconv").strip()
        self.exit(2, f"effconv: error: {where + ': ' if where else ''}{message} (see --help).\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="effconv", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train one model on CIFAR-10 through the results store")
    train.add_argument("--model", required=True)
    train.add_argument("--profile", default="smoke", help="smoke | cpu | full (default smoke)")
    train.add_argument("--width", type=_positive_float, default=None, help="channel width multiplier")
    train.add_argument("--conv", default=None, help="conv factory for every kxk conv (acb, versatile_v1, ...)")
    train.add_argument("--epochs", type=_positive_int, default=None)
    train.add_argument("--seed", type=_seed, default=0)
    train.add_argument("--data", default="auto", help="auto | jpeg | raw | jpeg-q<N> (the JPEG copy re-encoded at "
                                                      "quality N)")
    train.add_argument("--set", dest="overrides", nargs="+", default=[], metavar="FIELD=VALUE",
                       help="recipe overrides, e.g. --set label_smoothing=0 batch_size=64 lr=0.05")
    train.add_argument("--accelerator", default="auto", help="auto | cpu | gpu")
    train.add_argument("--devices", type=_positive_int, default=1, help="> 1 trains with Lightning's DDP")
    train.add_argument("--num-nodes", type=_positive_int, default=1,
                       help="> 1: one run across nodes with DDP, inside a Slurm allocation (srun, one task per "
                            "device); Lightning reads the ranks from Slurm")
    train.add_argument("--retrain", action="store_true", help="train even if the store has this result")

    run = sub.add_parser("run", help="run a chapter's experiments for a profile (trains what is missing)")
    run.add_argument("chapter")
    run.add_argument("--profile", default="cpu")
    run.add_argument("--only", default=None, help="only experiments whose name contains this text")
    run.add_argument("--seeds", type=_seed, nargs="+", default=None, metavar="SEED",
                     help="only these seeds (e.g. to split one arm's seeds between two processes)")
    run.add_argument("--dry-run", action="store_true", help="list the experiments and whether they are stored")
    run.add_argument("--accelerator", default="auto")

    campaign = sub.add_parser("campaign", help="train a profile's missing experiments: on this machine (within a "
                                               "time limit if given), as a Slurm job array, or in-process")
    campaign.add_argument("--profile", default="full")
    campaign.add_argument("--chapters", nargs="+", default=None, help="default: acnet dac versatile shufflenet")
    campaign.add_argument("--executor", choices=["local", "slurm", "debug"], default="local",
                          help="local: worker processes on this machine; slurm: one job array through submitit; "
                               "debug: submitit's in-process executor, one job after the other")
    campaign.add_argument("--time-limit", type=_positive_float, default=None, metavar="MINUTES",
                          help="local: the job's wall-clock limit (Slurm --time, a spot instance, a short "
                               "allocation); runs that cannot finish in it are not started, runs still going "
                               "at the limit minus the margin are stopped. slurm: each job's limit (default: "
                               "the longest estimate plus --time-margin)")
    campaign.add_argument("--margin", type=float, default=1.0, help="local: minutes kept free before the time limit "
                                                                    "(default 1)")
    campaign.add_argument("--archive", default=None, help="local: pack the new results and run logs into this .tar.gz")
    campaign.add_argument("--workers", type=_positive_int, default=None,
                          help="runs at once: training processes sharing the device (local, default 1) or the "
                               "array's cap on running jobs (slurm, default 8)")
    campaign.add_argument("--threads", type=_positive_int, default=None, help="local: CPU threads per worker")
    campaign.add_argument("--gpus", type=int, default=None, help="slurm: GPUs per job (default 1)")
    campaign.add_argument("--cpus", type=_positive_int, default=None, help="slurm: CPUs per job (default 4)")
    campaign.add_argument("--partition", default=None, help="slurm: partition")
    campaign.add_argument("--account", default=None, help="slurm: account")
    campaign.add_argument("--config", default=None, help="slurm: options file (JSON; default effconv-slurm.json "
                                                         "beside the results folder)")
    campaign.add_argument("--folder", default=None, help="slurm/debug: submitit's folder for job files and logs "
                                                         "(default: the cache's submitit/)")
    campaign.add_argument("--dry-run", action="store_true", help="print what would run (for slurm: the array and "
                                                                 "the sbatch script), start nothing")
    campaign.add_argument("--accelerator", default="auto")

    weights = sub.add_parser("weights", help="retrain a stored run and keep its weights in results/<chapter>/weights/ "
                                             "(with how its accuracy compares with the stored one); no arguments: "
                                             "list the weights kept")
    weights.add_argument("chapter", nargs="?")
    weights.add_argument("name", nargs="?", help="a planned run's name, e.g. cifar-quick-acnet")
    weights.add_argument("--seed", type=_seed, default=0)
    weights.add_argument("--profile", default="cpu")
    weights.add_argument("--accelerator", default="cpu")

    claims = sub.add_parser("claims", help="write results/<chapter>/claims.csv from the stored results")
    claims.add_argument("chapters", nargs="*", help="default: every chapter that builds its ledger in the library")
    claims.add_argument("--profile", default="best", help="best | cpu | full | smoke (default best)")
    claims.add_argument("--check", action="store_true", help="write nothing; exit 1 if a committed ledger differs")

    window = sub.add_parser("window", help="one time-limited GPU job (Slurm --time, a spot instance, a short "
                                           "allocation): pre-flight checks, benchmarks, then the full campaign for "
                                           "the time left, all packed into OUT/results.tar.gz")
    window.add_argument("--out", default=None, help="output folder (default $EFFCONV_OUT)")
    window.add_argument("--dry", action="store_true", help="on CPU: smoke profile, tiny steps and runs")
    window.add_argument("--time-limit", type=_positive_float, default=10.0, metavar="MINUTES",
                        help="the job's wall-clock limit (default 10, what the full schedules were sized for)")
    window.add_argument("--margin", type=float, default=1.0, help="minutes kept free before the limit (default 1)")
    window.add_argument("--workers", type=_positive_int, default=None, help="campaign workers (default 8, dry 2)")
    window.add_argument("--bench", choices=["auto", "always", "never"], default="auto",
                        help="auto: benchmark unless results/bench has the window's GPU benchmark")

    bench = sub.add_parser("bench", help="benchmarks")
    bench.add_argument("what", choices=["loader", "epoch", "precision", "concurrency"],
                       help="loader: device-resident vs DataLoader pipeline; epoch: seconds per epoch of "
                            "every model a profile trains, eager and compiled; precision: fp32 vs bf16 "
                            "training speed on the CPU for every model a profile trains; concurrency: images/s in all "
                            "with 1, 4 and 8 processes training at once on the device")
    bench.add_argument("--model", default="resnet56")
    bench.add_argument("--profile", default=None, help="for `epoch` (default full) and `precision` (default cpu): "
                                                        "whose models to time")
    bench.add_argument("--no-compile", action="store_true", help="for `epoch`: eager only")
    bench.add_argument("--modes", nargs="+", default=None, metavar="MODE",
                       help="for `precision`: fp32 and any of bf16, fp32+compile, bf16+compile (default all four)")
    bench.add_argument("--rounds", type=_positive_int, default=3, help="for `precision`: interleaved rounds")
    bench.add_argument("--steps", type=_positive_int, default=None, help="timed steps per pipeline")
    bench.add_argument("--batch-size", type=_positive_int, default=128)
    bench.add_argument("--workers", type=_positive_int, nargs="+", default=[1, 4, 8], help="for `concurrency`")
    bench.add_argument("--accelerator", default="auto")
    bench.add_argument("--no-save", action="store_true", help="print only; do not write results/bench/")

    flops = sub.add_parser("flops", help="count multiply-adds and parameters of a model")
    flops.add_argument("model")
    flops.add_argument("--input-size", type=int, nargs="+", default=[3, 32, 32])
    flops.add_argument("--width", type=_positive_float, default=1.0)
    flops.add_argument("--num-classes", type=_positive_int, default=10)
    flops.add_argument("--by-layer", action="store_true")

    show = sub.add_parser("show", help="summarise a result file")
    show.add_argument("path")

    book = sub.add_parser("book", help="execute the chapters with papermill and build the HTML book")
    book.add_argument("--only", nargs="+", default=None, help="chapter ids or page names to execute")
    book.add_argument("--profile", default="best")
    book.add_argument("--run-missing", action="store_true", help="train missing experiments of the profile")
    book.add_argument("--no-html", action="store_true", help="execute notebooks only")

    results = sub.add_parser("results", help="merge results trained elsewhere into this repository's results/, or "
                                             "rename stored results to the keys the current code computes")
    results_sub = results.add_subparsers(dest="action", required=True)
    merge = results_sub.add_parser("merge", help="check and merge an archive or folder of results: new ones are "
                                                 "copied, identical ones kept, conflicting or unsound ones refused")
    merge.add_argument("source", help="a results.tar.gz a job wrote, or a folder holding results/<chapter>/")
    merge.add_argument("--dry-run", action="store_true", help="report only; copy nothing")
    migrate = results_sub.add_parser("migrate", help="rename results stored under an older spec hash (precision "
                                                     "left out at auto) to their current key; safe to run again")
    migrate.add_argument("folder", nargs="?", default=None, help="a results folder (default this repository's results/)")
    migrate.add_argument("--dry-run", action="store_true", help="report only; rename nothing")
    history = results_sub.add_parser("history", help="move stored results no plan of any profile uses into "
                                                     "results/<chapter>/history/ (kept, never evidence)")
    history.add_argument("--dry-run", action="store_true", help="list them only; move nothing")

    data = sub.add_parser("data", help="prepare CIFAR-10 (decode and cache) and print what was found")
    data.add_argument("--source", default="auto", help="auto | jpeg | raw | jpeg-q<N>")
    data.add_argument("--download", action="store_true", help="download the raw batches (needs internet)")
    return parser


def cmd_train(args: argparse.Namespace) -> None:
    from effconv.data.cifar import resolve_source
    from effconv.experiments import ExperimentSpec, run_experiment
    from effconv.models import create_model, get_builder, get_conv_factory
    from effconv.train.recipes import recipe_for

    check_accelerator(args.accelerator)
    if args.num_nodes > 1:
        check_cluster_env(args.num_nodes)
    get_builder(args.model)  # unknown model or conv: fail before loading any data
    if args.conv:
        get_conv_factory(args.conv)
    overrides = parse_overrides(args.overrides)
    if args.epochs:
        overrides["epochs"] = args.epochs
    recipe = recipe_for(args.profile, **overrides)
    kwargs = {}
    if args.width is not None:
        kwargs["width"] = args.width
    if args.conv:
        kwargs["conv"] = args.conv
    if kwargs:
        create_model(args.model, **kwargs)  # a width or conv the model does not take: refused before any data
    data = resolve_source(args.data)
    name = (args.model + (f"-w{args.width:g}" if args.width else "") + (f"-{args.conv}" if args.conv else "")
            + (f"-{data}" if data not in ("jpeg", "raw") else ""))
    spec = ExperimentSpec(chapter="engine", name=name.replace("_", "-"), model=args.model, model_kwargs=kwargs,
                          recipe=recipe, profile=args.profile, seed=args.seed, data=data)
    result = run_experiment(spec, retrain=args.retrain, accelerator=args.accelerator, devices=args.devices,
                            num_nodes=args.num_nodes)
    _print_result(result)


def parse_overrides(items: list[str]) -> dict:
    """``["lr=0.05", "nesterov=false"]`` as recipe fields, each value parsed as the field's type."""
    import dataclasses

    from effconv.train.recipes import Recipe

    types = {f.name: f.type for f in dataclasses.fields(Recipe)}
    overrides: dict = {}
    for item in items:
        field_name, sep, text = item.partition("=")
        if not sep or field_name not in types:
            raise EffconvError(f"recipe override {item!r} is not FIELD=VALUE with a recipe field; fields: "
                               f"{', '.join(types)}.")
        kind = str(types[field_name])
        try:
            if kind.startswith("bool"):
                if text.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(text)
                value = text.lower() in ("true", "1")
            elif kind.startswith("int"):
                value = None if text.lower() == "none" and "None" in kind else int(text)
            elif kind.startswith("float"):
                value = float(text)
            else:
                value = text
        except ValueError:
            raise EffconvError(f"recipe override {item!r}: {text!r} is not a valid {kind}.") from None
        overrides[field_name] = value
    return overrides


def _print_result(result: dict) -> None:
    from effconv.experiments import ExperimentSpec, ResultStore

    spec = ExperimentSpec.from_dict(result["spec"])
    final, prov = result["metrics"]["final"], result["provenance"]
    path = ResultStore.for_profile(spec.profile).path(spec)
    source = prov.get("data", {}).get("source", "?")
    print(f"{spec.chapter}/{spec.name} [{spec.profile}, seed {spec.seed}, data {source}]: "
          f"test acc {final['test_acc']:.4f} after {len(result['curve'])} epochs, "
          f"{prov['wall_seconds']:.1f} s on {prov['device']}")
    print(f"result: {path}")


def cmd_run(args: argparse.Namespace) -> None:
    from effconv.experiments import lookup, run_all
    from effconv.studies import get_chapter
    from effconv.train.recipes import check_profile

    chapter = get_chapter(args.chapter)
    check_profile(args.profile)
    check_accelerator(args.accelerator)
    planned = chapter.experiments(args.profile)
    if not planned:
        raise EffconvError(f"chapter {args.chapter!r} trains nothing (it only counts and measures).")
    specs = [s for s in planned if (not args.only or args.only in s.name) and (args.seeds is None or s.seed in args.seeds)]
    if not specs:
        seeds = f" and seed in {args.seeds}" if args.seeds is not None else ""
        message = (f"no {args.profile} experiment of chapter {args.chapter!r} has a name containing {args.only!r}{seeds}; "
                   f"`effconv run {args.chapter} --profile {args.profile} --dry-run` lists them." if args.only or seeds else
                   f"chapter {args.chapter!r} defines no experiments for profile {args.profile!r}.")
        if not args.dry_run:
            raise EffconvError(message)
        print(message)
        return
    if args.dry_run:
        print_plan(specs, lookup(specs))
        return
    run_all(specs, run_missing=True, accelerator=args.accelerator)


def print_plan(specs, results) -> None:
    """Each planned run, stored or missing (with its estimated minutes), then the missing total."""
    from effconv.experiments.inventory import estimate_minutes, machine_speed
    from effconv.provenance import this_machine

    here = this_machine()
    minutes = estimate_minutes(specs, here=here)
    for spec, result, estimate in zip(specs, results, minutes):
        label = "stored " if result else "missing"
        guess = "" if result else ("  (nothing stored or benchmarked to time it by)" if estimate is None else f"  ~{estimate:.0f} min")
        print(f"{label} {spec.chapter}/{spec.filename}{guess}")
    missing = [m for r, m in zip(results, minutes) if r is None]
    known = [m for m in missing if m is not None]
    if missing:
        unknown = len(missing) - len(known)
        speed, shared = machine_speed(here)
        scaled = (f"other machines' scaled by its speed on the {shared} configurations timed on both (x{speed:.2f})"
                  if shared else "other machines' as they are (no configuration was timed on both)")
        print(f"{len(missing)} missing: about {sum(known):.0f} min ({sum(known) / 60:.1f} core-hours, one thread "
              f"per run) by the stored runs' times and benchmarked speeds" + (f"; {unknown} with no estimate" if unknown else ""))
        print(f"timed for this machine ({here}): its own stored runs where it has them, {scaled}")
    else:
        print(f"all {len(specs)} stored")


def check_cluster_env(num_nodes: int) -> None:
    """More than one node only inside an allocation that starts a task per node: without it Lightning would
    wait for nodes that never come."""
    import os

    tasks = os.environ.get("SLURM_NTASKS") or os.environ.get("WORLD_SIZE")
    if not tasks:
        raise EffconvError(f"--num-nodes {num_nodes} needs a cluster allocation: run it under Slurm (sbatch with "
                           f"--nodes {num_nodes} and srun, one task per device); outside one, use --devices.")


def cmd_campaign(args: argparse.Namespace) -> None:
    from pathlib import Path

    from effconv.experiments.campaign import PRIORITY
    from effconv.experiments.runner import lookup
    from effconv.plan import campaign_specs, setup_modules
    from effconv.train.recipes import check_profile

    check_accelerator(args.accelerator)
    profile = check_profile(args.profile)
    planned = campaign_specs(profile, args.chapters or PRIORITY)
    missing = [spec for spec, result in zip(planned, lookup(planned)) if result is None]
    if args.executor == "local":
        from effconv.experiments.campaign import run_campaign

        if args.dry_run:
            print_plan(planned, lookup(planned))
            return
        limit = args.time_limit
        if limit is not None and limit - args.margin <= 0:
            raise EffconvError(f"the margin ({args.margin} min) leaves no time in a {limit} min job.")
        budget = None if limit is None else limit - args.margin  # the margin keeps time to pack the archive
        run_campaign(missing, budget, workers=args.workers or 1, archive=Path(args.archive) if args.archive else None,
                     accelerator=args.accelerator, threads=args.threads, setup_modules=setup_modules(missing),
                     hard_stop_minutes=budget)
        return
    from effconv.experiments.executors import load_options, submit
    from effconv.experiments.inventory import estimate_minutes
    from effconv.paths import cache_dir

    options = load_options(Path(args.config) if args.config else None, gpus_per_node=args.gpus,
                           cpus_per_task=args.cpus, partition=args.partition, account=args.account,
                           max_concurrent=args.workers)
    if args.time_limit:
        estimates = [args.time_limit] * len(missing)
    elif options.gpus_per_node:  # one run per GPU: the plan's GPU estimate, training and analyses
        from effconv.experiments.window_plan import load_throughput

        throughput = load_throughput()
        estimates = [throughput.run_seconds(spec, 1) / 60 for spec in missing]
    else:  # on CPUs: the stored runs' one-thread times
        estimates = estimate_minutes(missing)
    if args.time_limit:
        options.time_margin = 0.0
    folder = Path(args.folder) if args.folder else cache_dir() / "submitit"
    submit(missing, executor=args.executor, folder=folder, setup_modules=setup_modules(missing),
           estimates=estimates, options=options, accelerator=args.accelerator, dry_run=args.dry_run)


def cmd_results(args: argparse.Namespace) -> None:
    from effconv.experiments.merge import merge

    if args.action == "migrate":
        cmd_migrate(args)
        return
    if args.action == "history":
        cmd_history(args)
        return
    from effconv.plan import is_planned

    report = merge(args.source, dry_run=args.dry_run, planned=is_planned)
    for name, status, reason in report.rows:
        print(f"{status:<11} {name}" + (f": {reason}" if reason else ""))
    print(f"{report.summary()}" + (" (dry run: nothing copied)" if args.dry_run else "")
          + ("; then `effconv claims` rewrites the ledgers and `make book` shows them" if report.count("new") else ""))
    if report.count("refused") or report.count("conflicting"):
        print("effconv: some results were not merged (refused or conflicting; see above).", file=sys.stderr)
        sys.exit(1)


def cmd_migrate(args: argparse.Namespace) -> None:
    from pathlib import Path

    from effconv.experiments.migrate import migrate

    if args.folder is not None and not Path(args.folder).is_dir():
        raise EffconvError(f"{args.folder} is not a folder; give a results folder (holding <chapter>/*.json).")
    report = migrate(Path(args.folder) if args.folder else None, dry_run=args.dry_run)
    for name, status, detail in report.rows:
        if status != "current":
            print(f"{status:<11} {name}" + (f" {detail}" if status == "renamed" else f": {detail}"))
    print(report.summary() + (" (dry run: nothing renamed)" if args.dry_run else ""))
    if report.count("refused") or report.count("conflicting"):
        print("effconv: some results were not migrated (refused or conflicting; see above).", file=sys.stderr)
        sys.exit(1)


def cmd_history(args: argparse.Namespace) -> None:
    from effconv.experiments.store import keep_as_history
    from effconv.paths import results_dir
    from effconv.plan import unplanned_results

    unplanned = unplanned_results()
    for path in unplanned:
        where = path.relative_to(results_dir())
        if args.dry_run:
            print(f"unplanned {where}")
        else:
            print(f"moved     {where} -> {keep_as_history(path).relative_to(results_dir())}")
    print(f"{len(unplanned)} result(s) no plan uses" + (" (dry run: nothing moved)" if args.dry_run and unplanned else ""))


def cmd_weights(args: argparse.Namespace) -> None:
    from effconv.trained import keep_weights, trained_weights

    if args.chapter is None:
        print(trained_weights().to_string(index=False))
        return
    if args.name is None:
        raise EffconvError("name the run to retrain, e.g. `effconv weights acnet cifar-quick-acnet --seed 0`.")
    keep_weights(args.chapter, args.name, args.seed, profile=args.profile, accelerator=args.accelerator)


def cmd_claims(args: argparse.Namespace) -> None:
    from effconv.paths import results_dir
    from effconv.studies import get_chapter, ledger, list_chapters
    from effconv.train.recipes import check_profile

    if args.profile != "best":
        check_profile(args.profile)
    chapters = args.chapters or list_chapters()
    for chapter in chapters:
        get_chapter(chapter)  # an unknown id fails before any ledger is written
    stale = []
    for chapter in chapters:
        table = ledger(chapter, args.profile)
        path = results_dir() / chapter / "claims.csv"
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if args.check:
            status = "up to date" if current == table.csv() else "differs"
            stale += [chapter] if current != table.csv() else []
        else:
            table.write()
            status = "unchanged" if current == table.csv() else "written"
        counts = table.frame(live=False)["verdict"].value_counts()
        print(f"{chapter}: {len(table.frame(live=False))} claims ({', '.join(f'{n} {v}' for v, n in counts.items())}); "
              f"{path} {status}")
    if stale:
        print(f"effconv: ledgers out of date: {', '.join(stale)}; run `effconv claims {' '.join(stale)}`.",
              file=sys.stderr)
        sys.exit(1)


def cmd_bench(args: argparse.Namespace) -> None:
    from effconv.plan import campaign_specs
    from effconv.studies import CHAPTERS
    from effconv.train.bench import concurrency_benchmark, epoch_benchmark, loader_benchmark, precision_benchmark
    from effconv.train.recipes import check_profile

    # the benchmarks take the plan's specs from here: train/ must not import the campaign or the studies
    check_accelerator(args.accelerator)
    if args.what == "precision":
        profile = check_profile(args.profile or "cpu")
        precision_benchmark(profile, specs=campaign_specs(profile, CHAPTERS), steps=args.steps or 4,
                            rounds=args.rounds, save=not args.no_save,
                            **({"modes": tuple(args.modes)} if args.modes else {}))
    elif args.what == "loader":
        loader_benchmark(args.model, steps=args.steps, batch_size=args.batch_size, accelerator=args.accelerator,
                         save=not args.no_save)
    elif args.what == "concurrency":
        concurrency_benchmark(args.model, workers=args.workers, steps=args.steps, batch_size=args.batch_size,
                              accelerator=args.accelerator, save=not args.no_save)
    else:
        profile = check_profile(args.profile or "full")
        epoch_benchmark(campaign_specs(profile, CHAPTERS), profile, steps=args.steps, accelerator=args.accelerator,
                        compile_modes=(False,) if args.no_compile else (False, True), save=not args.no_save)


def cmd_window(args: argparse.Namespace) -> None:
    import os
    from pathlib import Path

    from effconv.window import run_window

    out = args.out or os.environ.get("EFFCONV_OUT")
    if not out:
        raise EffconvError("no output folder: pass --out DIR (or set EFFCONV_OUT).")
    run_window(Path(out), dry=args.dry, limit_minutes=args.time_limit, margin_minutes=args.margin,
               workers=args.workers, bench=args.bench)


def cmd_flops(args: argparse.Namespace) -> None:
    from effconv.analysis.flops import count_flops
    from effconv.models import create_model

    model = create_model(args.model, num_classes=args.num_classes, width=args.width)
    counted = count_flops(model, tuple(args.input_size))
    print(f"{args.model}: {counted}")
    print(counted.shares().round(2).to_string())
    if args.by_layer:
        print(counted.by_layer.to_string())


def cmd_show(args: argparse.Namespace) -> None:
    from effconv.experiments import read_result

    result = read_result(args.path)  # checked against the result schema: a bad file is one line
    _print_result(result)


def cmd_book(args: argparse.Namespace) -> None:
    from effconv.book import build

    build(args.only, profile=args.profile, run_missing=args.run_missing, html=not args.no_html)


def cmd_data(args: argparse.Namespace) -> None:
    from effconv.data.cifar import load_cifar10

    arrays = load_cifar10(args.source, download=args.download)
    print(f"{arrays.describe()}; mean {arrays.mean}, std {arrays.std}")


COMMANDS = {"claims": cmd_claims, "weights": cmd_weights, "train": cmd_train, "run": cmd_run, "campaign": cmd_campaign, "window": cmd_window, "results": cmd_results, "bench": cmd_bench, "flops": cmd_flops, "show": cmd_show,
            "book": cmd_book, "data": cmd_data}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # usage errors (already printed as one line) and --help: a status, not an exit
        return int(done.code or 0)
    try:
        COMMANDS[args.command](args)
    except EffconvError as err:
        print(f"effconv: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a full disk, a read-only folder, a path that is a directory ...
        where = f" ({err.filename})" if err.filename else ""
        print(f"effconv: error: {err.strerror or err}{where}; check the path, its permissions and the free disk "
              "space, then rerun.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("effconv: interrupted; rerun the same command to resume from the last epoch checkpoint.",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
