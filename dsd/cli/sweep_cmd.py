"""``dsd run`` (an experiment file, end to end) and ``dsd status`` (how far a run is)."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys

from dsd.cli import ExampleFormatter

RUN_EXAMPLES = """examples:
  dsd run experiments/digits_anynetx.yaml -o runs/demo
  dsd run experiments/cifar10_anynetx.yaml -o runs/c10 --data ~/data/cifar-10-batches-py
  dsd run experiments/imagenet_anynetx_400mf.yaml -o runs/in --executor slurm \\
      --partition gpu --max-parallel 64 --data /datasets/imagenet
  dsd run experiments/cifar10_anynetx.yaml -o runs/c10 --executor ray --address auto

Running it again with the same -o resumes: only models without a record are trained.
Outputs: RUN_DIR/results.parquet (one row a model), RUN_DIR/report.html (if dsd.analysis is
installed), RUN_DIR/records/ (one file a finished model)."""

STATUS_EXAMPLES = """examples:
  dsd status runs/demo
  watch -n 10 dsd status runs/in"""

# CLI flag -> ExecutorSettings field
OVERRIDES = {
    "executor": "kind",
    "slots": "slots",
    "gpus": "gpus",
    "models_per_gpu": "models_per_gpu",
    "threads": "threads_per_slot",
    "max_retries": "max_retries",
    "max_parallel": "max_parallel",
    "partition": "partition",
    "time_min": "time_min",
    "gpus_per_task": "gpus_per_task",
    "cpus_per_task": "cpus_per_task",
    "mem_gb": "mem_gb",
    "address": "address",
}


def register(subparsers) -> None:
    """Add ``run`` and ``status``."""
    p = subparsers.add_parser(
        "run",
        help="sample every space of an experiment, train all models, collect and report",
        description="Sample, train and collect an experiment (experiments/*.yaml) into RUN_DIR. "
        "Command-line executor options override the file's `executor:` section.",
        formatter_class=ExampleFormatter,
        epilog=RUN_EXAMPLES,
    )
    p.add_argument("experiment", help="experiment file (YAML)")
    p.add_argument("-o", "--out", required=True, metavar="RUN_DIR", help="run directory")
    p.add_argument("--data", help="data set path (overrides the file's `data:`)")
    g = p.add_argument_group("executor (override the file)")
    g.add_argument("--executor", choices=("local", "slurm", "ray"), help="where models train")
    g.add_argument("--slots", type=int, help="local/ray CPU: models at once")
    g.add_argument("--gpus", type=int, help="local: GPUs to use (0 = CPU only; default all)")
    g.add_argument(
        "--models-per-gpu", type=int, help="local: models trained at once on each GPU (default 1)"
    )
    g.add_argument("--threads", type=int, help="local CPU: threads per model")
    g.add_argument("--max-retries", type=int, help="extra attempts for a failed model")
    g.add_argument("--max-parallel", type=int, help="slurm/ray: models at once")
    g.add_argument("--partition", help="slurm partition")
    g.add_argument("--time-min", type=float, help="time limit per model, minutes")
    g.add_argument("--gpus-per-task", type=float, help="slurm/ray: GPUs per model")
    g.add_argument("--cpus-per-task", type=int, help="slurm/ray: CPU cores per model")
    g.add_argument("--mem-gb", type=float, help="slurm: memory per model")
    g.add_argument("--address", help="ray: cluster address (auto, ray://host:10001)")
    p.add_argument("--retry-failed", action="store_true", help="retrain models recorded as failed")
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_handler)

    s = subparsers.add_parser(
        "status",
        help="done / running / failed / pending models of a run, and the ETA",
        description="Read a run directory's records and report its progress (safe while it runs).",
        formatter_class=ExampleFormatter,
        epilog=STATUS_EXAMPLES,
    )
    s.add_argument("run_dir", metavar="RUN_DIR", help="a run folder or a dsd design folder")
    s.set_defaults(func=status_handler)


def _resume(args: argparse.Namespace) -> str:
    """The command that resumes this run (``dsd status`` shows it)."""
    data = ["--data", args.data] if args.data else []
    return shlex.join(["dsd", "run", args.experiment, "-o", args.out, *data])


def run_handler(args: argparse.Namespace) -> int:
    """Run or resume an experiment."""
    # lazy: the pipeline imports torch and matplotlib (~2 s); `dsd --help` stays fast
    from dsd.pipeline import experiment_options, run_experiment
    from dsd.sweep import load_experiment  # lazy: see above

    exp = load_experiment(args.experiment)
    changes = {f: getattr(args, a) for a, f in OVERRIDES.items() if getattr(args, a) is not None}

    def announce(start) -> None:  # once everything is checked and the run directory exists
        print(
            f"dsd run: {exp.name} into {args.out}: {start.describe()} "
            f"(follow it with: dsd status {args.out})",
            file=sys.stderr,
        )

    options = experiment_options(
        exp,
        data=args.data,  # a bad recipe or a missing data path fails here
        executor=dataclasses.replace(exp.executor, **changes),
        progress=not args.quiet,
        retry_failed=args.retry_failed,
        resume=_resume(args),
        on_start=announce,
    )
    summary = run_experiment(exp, args.out, options, report=not args.no_report)
    print(summary.describe())
    return 0


def status_handler(args: argparse.Namespace) -> int:
    """Print the status of a run."""
    from dsd.design import design_status, is_design_folder  # lazy: see run_handler
    from dsd.sweep import run_status  # lazy: see run_handler

    if is_design_folder(args.run_dir):  # a `dsd design` folder: its chain and populations
        print(design_status(args.run_dir).describe())
    else:
        print(run_status(args.run_dir).describe())
    return 0
