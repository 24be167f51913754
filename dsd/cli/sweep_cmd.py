"""``dsd run`` (an experiment file, end to end) and ``dsd status`` (how far a run is)."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys

from dsd.cli import add_command

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

#: CLI flag -> ExecutorSettings field (the same name unless given).
OVERRIDES = {
    "executor": "kind",
    "threads": "threads_per_slot",
    **{f: f for f in "slots gpus models_per_gpu max_retries max_parallel partition".split()},
    **{f: f for f in "time_min gpus_per_task cpus_per_task mem_gb address".split()},
}


def register(subparsers) -> None:
    """Add ``run`` and ``status``."""
    p = add_command(
        subparsers,
        "run",
        run_handler,
        "sample every space of an experiment, train all models, collect and report",
        description="Sample, train and collect an experiment (experiments/*.yaml) into RUN_DIR. "
        "Command-line executor options override the file's `executor:` section.",
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
    s = add_command(
        subparsers,
        "status",
        status_handler,
        "done / running / failed / pending models of a run, and the ETA",
        description="Read a run directory's records and report its progress (safe while it runs).",
        epilog=STATUS_EXAMPLES,
    )
    s.add_argument("run_dir", metavar="RUN_DIR", help="a run folder or a dsd design folder")


def resume_command(args: argparse.Namespace, *how: str) -> str:
    """The command that resumes this run or design (``dsd status`` shows it)."""
    data = ["--data", args.data] if args.data else []
    return shlex.join(["dsd", args.command, *how, args.experiment, "-o", args.out, *data])


def sweep_options(args: argparse.Namespace, exp, **changes):
    """The sweep options of ``exp`` with the command line's --data, executor flags and --quiet."""
    from dsd.pipeline import experiment_options  # lazy: torch and matplotlib (~2 s)

    flags = {
        f: getattr(args, a) for a, f in OVERRIDES.items() if getattr(args, a, None) is not None
    }
    return experiment_options(
        exp,
        data=args.data,  # a bad recipe or a missing data path fails here
        executor=dataclasses.replace(exp.executor, **flags),
        progress=not args.quiet,
        **changes,
    )


def run_handler(args: argparse.Namespace) -> int:
    """Run or resume an experiment."""
    # lazy: the pipeline imports torch and matplotlib (~2 s); `dsd --help` stays fast
    from dsd.pipeline import run_experiment
    from dsd.sweep import load_experiment  # lazy: see above

    exp = load_experiment(args.experiment)

    def announce(start) -> None:  # once everything is checked and the run directory exists
        print(
            f"dsd run: {exp.name} into {args.out}: {start.describe()} "
            f"(follow it with: dsd status {args.out})",
            file=sys.stderr,
        )

    options = sweep_options(
        args, exp, retry_failed=args.retry_failed, resume=resume_command(args), on_start=announce
    )
    summary = run_experiment(exp, args.out, options, report=not args.no_report)
    print(summary.describe())
    return 0


def status_handler(args: argparse.Namespace) -> int:
    """Print the status of a run."""
    from dsd.design import design_status, is_design_folder  # lazy: see run_handler
    from dsd.sweep import run_status  # lazy: see run_handler

    status = design_status if is_design_folder(args.run_dir) else run_status
    print(status(args.run_dir).describe())
    return 0
