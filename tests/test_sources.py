"""Data sources: any registered source trains through the same pipeline, and a dataset that does
not match the config is refused without losing it."""

import json
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest

from genie.config import Config, override
from genie.data import shards
from genie.data.dataset import prepare_dataset
from genie.data.sources import Source, get_source, register
from genie.data.sources.videos import import_videos
from tests.conftest import ROOT

SQUARE = 6


def _square_clip(rng, t: int, size: int, actions_Tm1: np.ndarray) -> np.ndarray:
    """A square on a noisy background, moved each step by its action: 0 stays, 1 left, 2 right."""
    video = np.zeros((t, size, size, 3), np.uint8) + rng.integers(0, 40, (1, size, size, 3), dtype=np.uint8)
    x = int(rng.integers(SQUARE, size - 2 * SQUARE))
    for i in range(t):
        video[i, size // 2:size // 2 + SQUARE, x:x + SQUARE] = (230, 200, 40)
        if i < t - 1:
            x = int(np.clip(x + (0, -3, 3)[actions_Tm1[i]], 0, size - SQUARE))
    return video


class SquaresSource(Source):
    """A third source, as a user would add one: generated clips with true actions."""

    name = "squares"
    reproducible = True

    def generate(self, cfg: Config, out_dir, log=print) -> dict:
        out_dir.mkdir(parents=True, exist_ok=True)
        t, size = cfg.data.clip_length, cfg.data.height
        splits = {}
        for index, split in enumerate(shards.SPLITS):
            rng = np.random.default_rng([cfg.data.seed, index])
            records = []
            for _ in range(getattr(cfg.data, f"{split}_clips")):
                actions = rng.integers(0, 3, t - 1)
                records.append(shards.encode_clip(_square_clip(rng, t, size, actions), actions))
            splits[split] = shards.write_split(out_dir, split, records, cfg.data.clips_per_shard)
        manifest = {"source": self.name, "resolution": [size, size], "clip_length": t, "has_actions": True,
                    "action_names": ["stay", "left", "right"], "splits": splits}
        shards.write_manifest(out_dir, manifest)
        return manifest


register(SquaresSource())


@pytest.fixture(scope="module")
def video_folder(tmp_path_factory):
    """Four short videos of a square moving at random: enough clips for every split of the tiny config."""
    folder = tmp_path_factory.mktemp("videos")
    rng = np.random.default_rng(0)
    for i in range(4):
        frames = _square_clip(rng, 40, 48, rng.integers(0, 3, 39))
        iio.imwrite(folder / f"v{i}.gif", frames, duration=60, loop=0)
    return folder


def _train(*args):
    return subprocess.run([sys.executable, "scripts/train.py", "--config", "configs/tiny.py", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_every_stage_trains_and_evaluates_on_imported_videos(tiny_cfg, video_folder, tmp_path):
    data = tmp_path / "mine"
    import_videos(video_folder, data, tiny_cfg, log=lambda *_: None)
    result = _train(f"--config.data.dir={data}", "--workdir", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "videos dataset at" in result.stdout  # kept as it is, not regenerated
    metrics = json.loads((tmp_path / "run" / "eval" / "metrics.json").read_text())
    assert metrics["lam"]["nmi"] is None  # videos have no true actions to compare with
    assert metrics["dynamics"]["rollout_psnr"]["1"] > 0
    assert shards.read_manifest(data)["source"] == "videos"


def test_a_source_defined_outside_genie_trains_through_the_same_pipeline(tiny_cfg, tmp_path):
    from genie import pipeline

    cfg = override(tiny_cfg, {"data.source": "squares", "data.dir": str(tmp_path / "squares")})
    pipeline.run(cfg, tmp_path / "run", log=lambda *_: None)
    assert shards.read_manifest(tmp_path / "squares")["source"] == "squares"
    metrics = json.loads((tmp_path / "run" / "eval" / "metrics.json").read_text())
    assert metrics["lam"]["true_actions"] == ["stay", "left", "right"] and 0 <= metrics["lam"]["nmi"] <= 1
    assert "reference" not in metrics["lam"]  # the source offers no identifiability probe


def test_a_mismatching_dataset_is_refused_and_kept(tiny_cfg, video_folder, tmp_path):
    data = tmp_path / "mine"
    import_videos(video_folder, data, tiny_cfg, log=lambda *_: None)
    before = sorted((p.name, p.stat().st_size) for p in data.iterdir())
    longer = override(tiny_cfg, {"data.clip_length": 16})
    with pytest.raises(shards.DataError, match="clips of 8 frames there, 16 wanted") as refused:
        prepare_dataset(longer, data)
    assert "--overwrite" not in str(refused.value)  # no advice that would replace the user's videos
    with pytest.raises(shards.DataError, match="cannot be made again"):
        prepare_dataset(tiny_cfg, data, overwrite=True)
    with pytest.raises(shards.DataError, match="already holds a dataset"):
        import_videos(video_folder, data, tiny_cfg)
    assert sorted((p.name, p.stat().st_size) for p in data.iterdir()) == before


def test_a_folder_without_a_dataset_says_how_to_make_one(tiny_cfg, tmp_path):
    with pytest.raises(shards.DataError, match="scripts/import_videos.py"):
        prepare_dataset(override(tiny_cfg, {"data.source": "videos"}), tmp_path / "none")
    with pytest.raises(shards.DataError, match="unknown data source 'atari'.*platformer.*procgen"):
        get_source("atari")


def test_every_entry_point_that_reads_a_dataset_refuses_one_of_other_clips(tiny_cfg, tiny_run, tmp_path):
    """Training a stage alone, evaluating and playing from a dataset check it as the data stage
    does, and write nothing when they refuse."""
    from genie.eval.evaluate import evaluate_run
    from genie.play.session import PlaySession
    from genie.runs import load_run
    from genie.train.stages import make_stage
    from genie.train.trainer import train_stage

    short = override(tiny_cfg, {"data.dir": str(tmp_path / "short"), "data.clip_length": 4})
    prepare_dataset(short, short.data_dir, log=lambda *_: None)
    cfg = override(tiny_cfg, {"data.dir": str(short.data_dir)})
    refusal = "clips of 4 frames there, 8 wanted"
    with pytest.raises(shards.DataError, match=refusal):
        train_stage(make_stage("tokenizer", cfg), cfg, tmp_path / "run", cfg.data_dir)
    assert not (tmp_path / "run").exists()
    before = {p: p.stat().st_mtime_ns for p in tiny_run.rglob("*")}
    with pytest.raises(shards.DataError, match=refusal):
        evaluate_run(load_run(tiny_run, override(load_run(tiny_run).cfg, {"data.dir": str(cfg.data_dir)})))
    with pytest.raises(shards.DataError, match=refusal):
        PlaySession.load(tiny_run).reset_from_dataset(cfg.data_dir)
    assert {p: p.stat().st_mtime_ns for p in tiny_run.rglob("*")} == before
