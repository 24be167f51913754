"""A full disk, for real: a small tmpfs is mounted, filled, and every writer is run against it.

Expected: the command ends with one line naming the path and exit 2; the file it was replacing is
intact; no half-written or temporary file is left; once space is freed the same command (or the
interrupted sweep) completes. Mounting needs root and a kernel that allows it; elsewhere these
tests are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from dsd.cli import main
from dsd.io import write_table
from dsd.sweep import ExecutorSettings, RunFolder, SweepOptions, run_sweep
from dsd.sweep.testing import FakeTrainer, fake_samples

SIZE_KB = 2048


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs at tmp_path/disk (unmounted afterwards)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("disk-full tests mount a small tmpfs and need root")
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE_KB}k", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip() or proc.returncode}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(disk: Path, leave_kb: int = 0) -> Path:
    """Fill ``disk`` up to ``leave_kb`` free KiB with one file; return it (delete it to free)."""
    filler = disk / "filler"
    with open(filler, "wb") as f:
        with contextlib.suppress(OSError):
            while os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize > leave_kb * 1024:
                f.write(b"\0" * 4096)
                f.flush()
    return filler


def files(disk: Path) -> set[str]:
    """Every file on the disk but the filler (temporary ones included)."""
    return {str(p.relative_to(disk)) for p in disk.rglob("*") if p.name != "filler"}


def test_a_full_disk_keeps_the_old_output_and_leaves_no_temp_file(small_disk, capsys):
    out = small_disk / "samples.parquet"
    argv = ["sample", "--space", "AnyNetXA", "--n", "300", "--seed", "0", "-o", str(out)]
    old = pd.DataFrame({"model_id": ["a"], "space": ["S"]})
    write_table(old, out)
    before = out.read_bytes()
    filler = fill(small_disk)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and str(small_disk) in err[0]
    assert out.read_bytes() == before  # the old file, whole
    assert files(small_disk) == {"samples.parquet"}  # no temporary file left
    filler.unlink()
    assert main(argv) == 0
    assert len(pd.read_parquet(out)) == 300


def test_every_analysis_writer_fails_cleanly_on_a_full_disk(small_disk, tmp_path, capsys):
    from analysis_fixtures import synthetic_results

    results = tmp_path / "results.parquet"
    write_table(synthetic_results(40, failed=0), results)
    fill(small_disk)
    for argv in (
        ["edf", str(results), "-o", str(small_disk / "edf.png")],
        ["report", str(results), "-o", str(small_disk / "report.html")],
        ["bootstrap", str(results), "--reps", "50", "--table", str(small_disk / "b.csv")],
    ):
        code = main(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and "No space left" in err[0], (argv, err)
        assert files(small_disk) == set(), argv


def test_a_sweep_stopped_by_a_full_disk_marks_nothing_failed_and_resumes(small_disk):
    from dsd.errors import DsdError

    run, trace = small_disk / "run", small_disk / "trace"
    settings = ExecutorSettings(kind="local", slots=1, threads_per_slot=1, max_retries=2)
    samples = fake_samples(3)
    options = SweepOptions(trainer=FakeTrainer(trace=str(trace)), executor=settings, progress=False)
    assert run_sweep(samples, run, options).counts == {"ok": 6}
    for p in sorted((run / "records").glob("*.json"))[:3]:  # three models still to train
        p.unlink()
    filler = fill(small_disk)
    with pytest.raises(DsdError, match="No space left on device"):
        run_sweep(samples, run, options)
    store = RunFolder(run.resolve())
    left = sorted((run / "records").iterdir())
    assert len(left) == 3  # no record of a model "failed" for want of disk
    assert all(store.read_record(p.stem)["status"] == "ok" for p in left)
    assert not list((run / "claims").iterdir()) and not list((run / "attempts").iterdir())
    filler.unlink()
    summary = run_sweep(samples, run, options)
    assert summary.counts == {"ok": 6} and summary.trained == 3
    assert len(pd.read_parquet(run / "results.parquet")) == 6
