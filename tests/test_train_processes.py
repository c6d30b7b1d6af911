"""Training as separate processes: SIGKILL and resume, SIGTERM, fake devices, jax.distributed."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT

STEPS = 30


def _train_cmd(workdir, data_dir, *extra, steps=STEPS):
    return [sys.executable, "scripts/train.py", "--config", "configs/tiny.py", "--workdir", str(workdir),
            "--stage", "tokenizer", f"--config.data.dir={data_dir}", f"--config.train.tokenizer.steps={steps}",
            "--config.train.log_every=1", "--config.train.checkpoint_every=10", "--config.train.sample_every=0",
            *extra]


def _run(cmd, env=None):
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _losses(workdir):
    """The loss of each step; where a step was logged twice (before a kill), the later one."""
    losses = {}
    for line in (workdir / "tokenizer" / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "loss" in record:
            losses[record["step"]] = record["loss"]
    return losses


@pytest.fixture(scope="module")
def uninterrupted(tiny_data, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("uninterrupted")
    _run(_train_cmd(workdir, tiny_data))
    return _losses(workdir)


def _wait_for(path, process, timeout=300):
    deadline = time.time() + timeout
    while not path.exists():
        assert process.poll() is None, "training ended before the checkpoint appeared"
        assert time.time() < deadline
        time.sleep(0.02)


def test_resume_after_sigkill_reproduces_the_uninterrupted_losses(tiny_data, tmp_path, uninterrupted):
    process = subprocess.Popen(_train_cmd(tmp_path, tiny_data), cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _wait_for(tmp_path / "tokenizer" / "checkpoints" / "10", process)
    process.kill()  # SIGKILL: no chance to save anything
    process.wait()
    assert not (tmp_path / "tokenizer" / "COMPLETE").exists()
    _run(_train_cmd(tmp_path, tiny_data))
    resumed = _losses(tmp_path)
    assert sorted(resumed) == sorted(uninterrupted) == list(range(1, STEPS + 1))
    assert resumed == uninterrupted  # exactly, step by step


def test_resume_after_a_kill_inside_a_save_reproduces_the_uninterrupted_losses(tiny_data, tmp_path, uninterrupted):
    """What a SIGKILL in the middle of a save leaves (orbax's unfinished temporary step, unfinished
    checksums) is passed over: the run resumes from the last finished step as if never stopped."""
    process = subprocess.Popen(_train_cmd(tmp_path, tiny_data), cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    checkpoints = tmp_path / "tokenizer" / "checkpoints"
    _wait_for(checkpoints / "sha256" / "10.json", process)
    process.kill()
    process.wait()
    unfinished = checkpoints / "20.orbax-checkpoint-tmp-1796000000000000"
    (unfinished / "model").mkdir(parents=True, exist_ok=True)
    (unfinished / "model" / "manifest.ocdbt").write_bytes(b"half a manifest")
    (checkpoints / "sha256" / "20.json.partial").write_text('{"model/manifest.ocdbt": "')
    _run(_train_cmd(tmp_path, tiny_data))
    assert _losses(tmp_path) == uninterrupted


def test_sigterm_saves_a_restorable_checkpoint_and_exits_cleanly(tiny_data, tmp_path, uninterrupted):
    cmd = _train_cmd(tmp_path, tiny_data, "--config.train.checkpoint_every=1000", steps=10_000)
    process = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / "tokenizer" / "metrics.jsonl"
    deadline = time.time() + 300
    while not (metrics.exists() and len(metrics.read_text().splitlines()) > 5):
        assert process.poll() is None and time.time() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0 and "SIGTERM at step" in stderr and "run the same command again" in stderr
    saved = [int(p.name) for p in (tmp_path / "tokenizer" / "checkpoints").iterdir() if p.name.isdigit()]
    assert len(saved) == 1 and saved[0] >= 5
    # The checkpoint restores: a resumed run starts from it.
    _run(_train_cmd(tmp_path, tiny_data, steps=saved[0] + 2))
    starts = [json.loads(line) for line in metrics.read_text().splitlines() if '"event": "start"' in line]
    assert starts[-1]["step"] == saved[0]


def test_two_fake_devices_match_one(tiny_data, tmp_path, uninterrupted):
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    for mode in ("replicate", "fsdp"):
        workdir = tmp_path / mode
        _run(_train_cmd(workdir, tiny_data, f"--config.train.param_sharding={mode}"), env=env)
        two = _losses(workdir)
        start = [json.loads(line) for line in (workdir / "tokenizer" / "metrics.jsonl").read_text().splitlines()][0]
        assert start["devices"] == 2
        for step in range(1, STEPS + 1):
            assert two[step] == pytest.approx(uninterrupted[step], rel=1e-4), (mode, step)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_with_jax_distributed(tiny_data, tmp_path, uninterrupted):
    coordinator = f"127.0.0.1:{_free_port()}"
    procs = [subprocess.Popen(
        _train_cmd(tmp_path, tiny_data, "--coordinator", coordinator, "--num_processes", "2",
                   "--process_id", str(i)),
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
    fingerprints = [out.split("parameter fingerprint ")[1].split()[0] for out, _ in outputs]
    assert fingerprints[0] == fingerprints[1]
    losses = _losses(tmp_path)
    for step in range(1, STEPS + 1):  # two processes of one device each train like one device
        assert losses[step] == pytest.approx(uninterrupted[step], rel=1e-4)
