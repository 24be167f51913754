"""The run directory's claims and lock, the lost-node path, and device pinning of local workers."""

from __future__ import annotations

import json
import os
import time

import pandas as pd
import pytest

from dsd.errors import DsdError
from dsd.sweep import (
    ExecutorSettings,
    RunFolder,
    SweepOptions,
    Task,
    exec_local,
    execute,
    run_sweep,
)
from dsd.sweep.exec_local import LocalExecutor, gpu_worker_envs
from dsd.sweep.folder import Owner
from dsd.sweep.task import BUSY, DONE
from dsd.sweep.testing import FakeTrainer, fake_samples


def _foreign_claim(store: RunFolder, task_id: str, age_s: float = 0.0, job: str = "") -> None:
    """A claim written by a process on another machine, ``age_s`` seconds ago."""
    path = store.claim_path(task_id)
    path.write_text(json.dumps({"host": "elsewhere", "pid": 1, "job": job, "since": 0}))
    os.utime(path, (time.time() - age_s, time.time() - age_s))


def test_claims_fresh_foreign_is_busy_stale_or_dead_is_taken_over(tmp_path):
    store = RunFolder(tmp_path, stale_s=30).create()
    me = Owner.here()
    _foreign_claim(store, "a")
    assert not store.try_claim("a", me)  # someone on another node trains it
    _foreign_claim(store, "b", age_s=60)
    assert store.try_claim("b", me)  # its node went silent: take it over
    dead = Owner(me.host, 2**22 + 12345)  # no such pid here
    assert store.try_claim("c", dead) and store.try_claim("c", me)
    _foreign_claim(store, "d", job="77_3")
    assert store.try_claim("d", Owner(me.host, me.pid, "77_3"))  # the same Slurm job, requeued
    assert store.live_claims() == {"a", "b", "c", "d"}


def test_execute_leaves_a_claimed_model_alone(tmp_path):
    store = RunFolder(tmp_path).create()
    row = {"model_id": "m", "space": "S"}
    task = Task("t", row, FakeTrainer(), store)
    _foreign_claim(store, "t")
    assert execute(task).kind == BUSY and store.read_record("t") is None
    store.release("t")
    assert execute(task).kind == DONE and store.read_record("t")["status"] == "ok"


def test_a_model_on_a_lost_node_is_retrained_once_its_claim_goes_stale(tmp_path):
    samples = fake_samples(2, spaces=("S",))
    store = RunFolder(tmp_path / "run").create()
    _foreign_claim(store, "S-0000-" + samples["model_id"][0][:8] + "-s0")  # a node that dies
    settings = ExecutorSettings(slots=2, stale_s=2.5, heartbeat_s=1.0)
    t0 = time.time()
    options = SweepOptions(trainer=FakeTrainer(), executor=settings, progress=False)
    summary = run_sweep(samples, tmp_path / "run", options)
    assert summary.counts == {"ok": 2} and time.time() - t0 >= 2.0  # it waited, then retrained


def test_the_lock_is_exclusive_and_names_its_holder(tmp_path):
    with RunFolder(tmp_path).lock():
        try:
            with RunFolder(tmp_path).lock():
                pass
        except Exception as e:  # DsdError
            assert f"pid {os.getpid()}" in str(e)
        else:
            raise AssertionError("a second lock was granted")
    with RunFolder(tmp_path).lock():  # free again
        pass


def _two_gpus(monkeypatch) -> None:
    """A machine with CUDA whose visible GPUs are 2 and 5 (the workers never touch them)."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    monkeypatch.setattr(exec_local, "cuda_available", lambda: True)


def test_local_workers_are_pinned_one_per_gpu(tmp_path, monkeypatch):
    _two_gpus(monkeypatch)
    ex = LocalExecutor(ExecutorSettings(slots=7))
    assert ex.slots == 2  # one per GPU, whatever the CPU slots
    options = SweepOptions(trainer=FakeTrainer(seconds=0.2), engine=ex, progress=False)
    summary = run_sweep(fake_samples(4), tmp_path / "run", options)
    ex.close()
    df = pd.read_parquet(summary.results)
    assert set(df["worker_gpus"]) == {"2", "5"}  # each model saw exactly one GPU


def test_several_models_share_each_gpu_in_their_own_processes(tmp_path, monkeypatch):
    _two_gpus(monkeypatch)
    ex = LocalExecutor(ExecutorSettings(models_per_gpu=3))
    assert ex.slots == 6
    options = SweepOptions(trainer=FakeTrainer(seconds=0.5), engine=ex, progress=False)
    summary = run_sweep(fake_samples(6), tmp_path / "run", options)
    ex.close()
    df = pd.read_parquet(summary.results)
    assert len(df) == 12 and set(df["status"]) == {"ok"}
    pids = df.groupby("worker_gpus")["worker_pid"].nunique()
    assert pids.to_dict() == {"2": 3, "5": 3}  # three processes on each GPU, none on two
    assert not set(df[df.worker_gpus == "2"].worker_pid) & set(df[df.worker_gpus == "5"].worker_pid)
    assert set(df["worker_gpu_memory"]) == {"0.3000"}  # 0.9 of each GPU, split three ways


def test_gpu_worker_environments_split_memory_and_cores():
    envs = gpu_worker_envs(["0", "1"], 4, cores=16)
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["0", "1"] * 4  # GPUs interleaved
    assert {e["OMP_NUM_THREADS"] for e in envs} == {"2"}  # 16 cores / 8 workers
    assert {e["DSD_GPU_MEMORY_FRACTION"] for e in envs} == {"0.2250"}
    alone = gpu_worker_envs(["3"], 1, cores=2)
    assert alone == [{"CUDA_VISIBLE_DEVICES": "3", "OMP_NUM_THREADS": "2"}]  # no cap alone
    assert {e["OMP_NUM_THREADS"] for e in gpu_worker_envs(["0"], 8, cores=2)} == {"1"}


def test_models_per_gpu_is_refused_where_it_cannot_apply():
    with pytest.raises(DsdError, match="models_per_gpu is for the local executor"):
        ExecutorSettings(kind="slurm", models_per_gpu=2)
    with pytest.raises(DsdError, match="models_per_gpu must be from 1 to 1,024"):
        ExecutorSettings(models_per_gpu=0)


def test_local_cpu_workers_split_the_cores(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    settings = ExecutorSettings(slots=2, gpus=0, threads_per_slot=1)
    options = SweepOptions(trainer=FakeTrainer(), executor=settings, progress=False)
    summary = run_sweep(fake_samples(2), tmp_path / "run", options)
    df = pd.read_parquet(summary.results)
    assert set(df["worker_gpus"]) == {""} and set(df["worker_threads"]) == {"1"}
