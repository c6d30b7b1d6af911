"""The command-line entry points, run as a user runs them."""

import json
import shutil
import subprocess
import sys

from genie.data import shards
from genie.data.sources.platformer.env import ACTION_NAMES
from tests.conftest import ROOT
from tests.test_eval import check_report


def _run(*args):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_generate_data_script(tmp_path):
    out = tmp_path / "d"
    result = _run("scripts/generate_data.py", "--config", "configs/tiny.py", "--out", str(out),
                  "--config.data.train_clips=32")
    assert result.returncode == 0, result.stderr
    assert shards.read_manifest(out)["splits"]["train"]["num_clips"] == 32
    assert (out / "preview.gif").exists()
    again = _run("scripts/generate_data.py", "--config", "configs/tiny.py", "--out", str(out))
    assert again.returncode == 2 and "another config" in again.stderr


def test_bad_override_is_refused_with_the_valid_fields(tmp_path):
    result = _run("scripts/generate_data.py", "--config", "configs/tiny.py", "--out", str(tmp_path),
                  "--config.data.num_clips=3")
    assert result.returncode == 2
    assert "unknown config field 'data.num_clips'" in result.stderr and "train_clips" in result.stderr
    result = _run("scripts/generate_data.py", "--config", "configs/tiny.py", "--out", str(tmp_path),
                  "--config.data.clips_per_shard=0", "--config.data.test_clips=-1")
    assert result.returncode == 2
    assert "data.test_clips=-1: it must be at least 0; data.clips_per_shard=0: it must be at least 1" in result.stderr
    assert not list(tmp_path.iterdir())  # nothing written


def test_import_videos_script_reports_an_empty_folder(tmp_path):
    result = _run("scripts/import_videos.py", str(tmp_path), "--out", str(tmp_path / "o"),
                  "--config", "configs/tiny.py")
    assert result.returncode == 2 and "holds no videos" in result.stderr


def test_benchmark_datagen_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    result = _run("scripts/benchmark.py", "datagen", "--config", "configs/tiny.py", "--json", str(out))
    assert result.returncode == 0, result.stderr
    numbers = json.loads(out.read_text())
    for key in ("frames_per_s", "write_frames_per_s", "load_batches_per_s"):
        assert numbers[key] > 0


def test_benchmark_params_counts_each_model():
    result = _run("scripts/benchmark.py", "params", "--config", "configs/genie_shapes.py")
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)
    # Genie's CoinRun shapes: tens of millions of parameters per model.
    assert all(30e6 < counts[m] < 100e6 for m in ("tokenizer", "lam", "dynamics"))


def test_benchmark_play_times_whole_slides_of_the_window(tmp_path):
    out = tmp_path / "play.json"
    result = _run("scripts/benchmark.py", "play", "--config", "configs/tiny.py", "--json", str(out), "--seconds", "0.2")
    assert result.returncode == 0, result.stderr
    numbers = json.loads(out.read_text())
    timed = numbers["frames_timed"]
    # Cached frames are timed in whole slides past the window's end, so every refill counts.
    assert timed["cached"] >= 2 * numbers["slide"] and timed["cached"] % numbers["slide"] == 0
    assert timed["uncached"] >= 3 and numbers["maskgit_steps"] == 4
    assert numbers["fps_cached"] > 0 and numbers["fps_uncached"] > 0 and numbers["devices"] == 1


def test_a_trained_run_holds_every_stage_and_the_train_script_then_skips_them(tiny_run, tiny_data, tmp_path):
    # tiny_run is what `scripts/train.py --config configs/tiny.py` trains (the pipeline in-process).
    for stage in ("tokenizer", "lam", "dynamics"):
        assert (tiny_run / stage / "COMPLETE").exists()
        assert (tiny_run / stage / "metrics.jsonl").stat().st_size > 0
        assert list((tiny_run / stage / "tensorboard").iterdir())
    assert list((tiny_run / "tokenizer" / "samples").glob("reconstruction_*.png"))
    assert list((tiny_run / "lam" / "samples").glob("next_frames_*.png"))
    assert list((tiny_run / "dynamics" / "samples").glob("rollout_*.gif"))
    # The last stage evaluates the run on the test split.
    results = json.loads((tiny_run / "eval" / "metrics.json").read_text())
    for section, keys in {"tokenizer": ("psnr", "ssim", "codebook_usage"),
                          "lam": ("nmi", "purity", "codebook_usage"),
                          "dynamics": ("token_accuracy", "rollout_psnr", "random_action_psnr", "delta_psnr",
                                       "delta_psnr_t4", "copy_last_frame_psnr", "held_actions")}.items():
        assert all(k in results[section] for k in keys), (section, results[section].keys())
    assert list(results["dynamics"]["delta_psnr"]) == [str(t) for t in range(1, 8)]
    reference = results["lam"]["reference"]  # what an ideal LAM reaches on this data
    assert 0 < reference["nmi"] <= 1 and reference["transitions"] > 0
    assert results["meta"]["missing"] == [] and results["meta"]["maskgit_steps"] == 4
    assert set(json.loads((tiny_run / "eval" / "action_map.json").read_text())) == set(ACTION_NAMES)
    report = check_report(tiny_run / "eval")
    assert "ΔtPSNR" in report and "action_grid.png" in report and "an ideal LAM on this data" in report
    held = results["dynamics"]["held_actions"]  # each latent action held from every one of the 16 test clips
    assert len(held["mean_shift"]) == len(held["moving_share"]) == 4 and held["prompts"] == 16
    assert "steps that move" in report
    # Long play beside the real platformer from 4 held-out level starts, 12 steps through play's window.
    long = results["dynamics"]["long_play"]
    assert long["starts"] == 4 and long["steps"] == 12 and 0 < long["frames_scored"] <= 4 * 12
    assert len(set(long["levels"])) == 4 and all(2_000_000 <= level < 2_010_000 for level in long["levels"])
    assert "## Long play" in report and "long_play.gif" in report
    assert long["player"]["frames_showing_player"] > 0 and 0 <= long["player"]["visible"] <= 1
    assert "player in place" in report
    scene = long["scene"]  # the real game's frames under the same actions stay within the real range
    assert scene["real_frames"] == 16 * 8 and scene["game_within_range"] > 0.8 and 0 <= scene["within_range"] <= 1
    assert "scene within the real range" in report
    # The same command again, on a copy of the run, finds every stage done and the evaluation current.
    shutil.copytree(tiny_run, tmp_path / "run")
    again = _run("scripts/train.py", "--config", "configs/tiny.py", "--workdir", str(tmp_path / "run"),
                 f"--config.data.dir={tiny_data}")
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("skipping") == 4 and "keeping it" in again.stdout
    # Sampling settings change no checkpoint, but the evaluation is redone at the new ones.
    colder = _run("scripts/train.py", "--config", "configs/tiny.py", "--workdir", str(tmp_path / "run"),
                  f"--config.data.dir={tiny_data}", "--config.sampling.temperature=0.5")
    assert colder.returncode == 0, colder.stderr[-3000:]
    assert colder.stdout.count("skipping") == 3 and "eval: up to date" not in colder.stdout
    assert json.loads((tmp_path / "run" / "eval" / "metrics.json").read_text())["meta"]["temperature"] == 0.5
