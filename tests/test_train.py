"""The trainer in-process on the tiny config: resume, NaN stop, frozen parameters, checkpoints."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genie import pipeline
from genie.checkpoint import CheckpointError, Checkpoints
from genie.config import ConfigError, override
from genie.data.shards import ClipSource
from genie.quantizers.kmeans import FittedCodebook
from genie.train import sharding
from genie.train.features import FrozenFeatures
from genie.train.stages import make_stage
from genie.train.trainer import NonFiniteLoss, restore_trained, train_stage


@pytest.fixture
def cfg(tiny_cfg, tiny_data):
    return override(tiny_cfg, {"data.dir": str(tiny_data), "train.sample_every": 0, "train.log_every": 1})


def test_nan_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(cfg, tmp_path):
    first = override(cfg, {"train.tokenizer.steps": 4, "train.checkpoint_every": 2})
    train_stage(make_stage("tokenizer", first), first, tmp_path, first.data_dir)
    (tmp_path / "tokenizer" / "COMPLETE").unlink()
    longer = override(first, {"train.tokenizer.steps": 8})
    stage = make_stage("tokenizer", longer)
    good_loss = stage.loss
    stage.loss = lambda *a: (lambda v, m, z: (v * jnp.nan, {**m, "loss": v * jnp.nan}, z))(*good_loss(*a))
    with pytest.raises(NonFiniteLoss, match=r"metric 'loss' became nan at step 4.*last good checkpoint is step 4"):
        train_stage(stage, longer, tmp_path, longer.data_dir)
    steps = sorted(int(p.name) for p in (tmp_path / "tokenizer" / "checkpoints").iterdir() if p.name.isdigit())
    assert steps == [2, 4]


def test_dynamics_stage_leaves_the_tokenizer_bit_identical(cfg, tiny_run, tmp_path):
    stage = make_stage("dynamics", cfg)
    restore_trained("tokenizer", stage.frozen["tokenizer"], cfg, tiny_run)
    restore_trained("lam", stage.frozen["lam"], cfg, tiny_run)
    before = jax.tree.map(np.array, nnx.state(stage.frozen["tokenizer"]))
    lam_before = jax.tree.map(np.array, nnx.state(stage.frozen["lam"]))
    dyn_before = jax.tree.map(np.array, nnx.state(stage.trainable, nnx.Param))
    train_stage(stage, cfg, tmp_path, cfg.data_dir)
    for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(nnx.state(stage.frozen["tokenizer"]))):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(jax.tree.leaves(lam_before), jax.tree.leaves(nnx.state(stage.frozen["lam"]))):
        np.testing.assert_array_equal(a, b)
    changed = [not np.array_equal(a, b) for a, b in
               zip(jax.tree.leaves(dyn_before), jax.tree.leaves(nnx.state(stage.trainable, nnx.Param)))]
    assert all(changed)  # every dynamics parameter trained


def test_dynamics_without_trained_stages_is_a_clear_error(cfg, tmp_path):
    with pytest.raises(FileNotFoundError, match="needs a trained tokenizer.*--stage tokenizer"):
        pipeline.run(cfg, tmp_path, stages=("dynamics",), log=lambda *_: None)


def test_checkpoint_from_another_config_is_refused(cfg, tmp_path):
    short = override(cfg, {"train.tokenizer.steps": 2, "train.checkpoint_every": 2})
    train_stage(make_stage("tokenizer", short), short, tmp_path, short.data_dir)
    (tmp_path / "tokenizer" / "COMPLETE").unlink()
    wider = override(short, {"tokenizer.transformer.width": 48, "train.tokenizer.steps": 4})
    with pytest.raises(CheckpointError, match=r"another config: tokenizer.transformer.width: 32 in the checkpoint, "
                                              r"48 now"):
        train_stage(make_stage("tokenizer", wider), wider, tmp_path, wider.data_dir)


def test_cotrained_lam_is_updated(cfg, tiny_run, tmp_path):
    co = override(cfg, {"train.cotrain_lam": True})
    stage = make_stage("dynamics", co)
    restore_trained("lam", stage.trainable.lam, co, tiny_run)
    lam_before = jax.tree.map(np.array, nnx.state(stage.trainable.lam, nnx.Param))
    train_stage(stage, co, tmp_path / "co", co.data_dir)
    after = jax.tree.leaves(nnx.state(stage.trainable.lam, nnx.Param))
    assert any(not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(lam_before), after))
    assert "lam_loss" in json.loads((tmp_path / "co" / "dynamics" / "metrics.jsonl").read_text().splitlines()[-1])


class _Older(nnx.Module):
    """A model as an earlier layout had it: the codebook, and a part since dropped."""

    def __init__(self):
        self.vq = FittedCodebook(4, 3, rngs=nnx.Rngs(1))
        self.to_pixels = nnx.Linear(3, 3, rngs=nnx.Rngs(2))


class _Newer(nnx.Module):
    def __init__(self):
        self.vq = FittedCodebook(4, 3, rngs=nnx.Rngs(3))


def test_a_model_that_dropped_parts_restores_the_parts_it_has(tmp_path):
    older, newer = _Older(), _Newer()
    made = Checkpoints(tmp_path, 1, {})
    optimizer_state = {"count": np.zeros((), np.int32)}
    made.save(1, nnx.state(older), optimizer_state, {"position": 7})
    made.close()
    checkpoints = Checkpoints(tmp_path, 1, {})
    model_state, _, loader = checkpoints.restore(1, nnx.state(newer))
    nnx.update(newer, model_state)
    np.testing.assert_array_equal(newer.vq.codebook[...], older.vq.codebook[...])
    assert loader == {"position": 7}
    with pytest.raises(CheckpointError, match="does not fit this model"):  # resuming training needs all of it
        checkpoints.restore(1, nnx.state(newer), optimizer_state)
    checkpoints.close()


def test_a_refused_rerun_leaves_the_run_as_it_was(cfg, tmp_path):
    short = override(cfg, {"train.tokenizer.steps": 2, "train.checkpoint_every": 2})
    pipeline.run(short, tmp_path, stages=("tokenizer",), log=lambda *_: None)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    wider = override(short, {"tokenizer.transformer.width": 48})
    with pytest.raises(CheckpointError, match="tokenizer.transformer.width: 32 in the checkpoint, 48 now"):
        pipeline.run(wider, tmp_path, stages=("tokenizer",), log=lambda *_: None)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before  # config.json too


def test_a_config_field_newer_than_a_checkpoint_counts_as_its_default(tmp_path):
    """A checkpoint of the flat layout (lam.width, now lam.transformer.width) lacking a field
    added since is compared as if it had that field's default."""
    state = {"w": np.zeros(2, np.float32)}
    made = Checkpoints(tmp_path, 1, {"lam": {"width": 8}})
    made.save(1, state, state, {})
    made.close()
    defaults = {"lam": {"transformer": {"width": 128}, "motion_radius": 0}}
    Checkpoints(tmp_path, 1, {"lam": {"transformer": {"width": 8}, "motion_radius": 0}}, defaults).check(1)
    with pytest.raises(CheckpointError, match=r"lam.motion_radius: 0 in the checkpoint, 2 now"):
        Checkpoints(tmp_path, 1, {"lam": {"transformer": {"width": 8}, "motion_radius": 2}}, defaults).check(1)


def test_pixel_codes_are_fitted_once_before_step_0_and_restored_not_refitted(cfg, tmp_path):
    pixel = override(cfg, {"tokenizer.quantizer.kind": "pixel", "tokenizer.quantizer.code_dim": 8 * 8 * 3,
                           "train.tokenizer.steps": 0})
    stage = make_stage("tokenizer", pixel)
    before = np.array(stage.trainable.vq.codebook[...])
    train_stage(stage, pixel, tmp_path, pixel.data_dir)
    assert (tmp_path / "tokenizer" / "COMPLETE").read_text() == "0\n"
    fitted = np.array(stage.trainable.vq.codebook[...])
    assert not np.allclose(fitted, before)
    restored = make_stage("tokenizer", pixel).trainable
    assert restore_trained("tokenizer", restored, pixel, tmp_path) == 0
    np.testing.assert_array_equal(restored.vq.codebook[...], fitted)
    (tmp_path / "tokenizer" / "COMPLETE").unlink()
    resumed = make_stage("tokenizer", pixel)
    train_stage(resumed, pixel, tmp_path, pixel.data_dir)
    np.testing.assert_array_equal(resumed.trainable.vq.codebook[...], fitted)  # restored, not refitted
    events = [json.loads(line) for line in (tmp_path / "tokenizer" / "metrics.jsonl").read_text().splitlines()]
    inits = [e for e in events if e.get("event") == "init"]
    assert len(inits) == 1 and inits[0]["kmeans_clips"] == 48 and inits[0]["kmeans_psnr"] > 15
    assert [e["event"] for e in events if "event" in e][:2] == ["start", "init"]
    with pytest.raises(ConfigError, match="nothing to train; set train.tokenizer.steps=0"):
        make_stage("tokenizer", override(pixel, {"train.tokenizer.steps": 4}))


def test_an_fsq_lam_is_saved_calibrated_on_its_training_clips(cfg, tmp_path):
    """The saved LAM gives the calibration clips (here all 48 training clips) at inference the
    actions a training step would give them as one batch."""
    fsq = override(cfg, {"lam.quantizer.kind": "fsq", "lam.quantizer.fsq_levels": (3, 3), "lam.quantizer.num_codes": 9,
                         "lam.quantizer.code_dim": 2,
                         "train.lam.steps": 4})
    train_stage(make_stage("lam", fsq), fsq, tmp_path, fsq.data_dir)
    lam = make_stage("lam", fsq).trainable
    assert restore_trained("lam", lam, fsq, tmp_path) == 4
    source = ClipSource(fsq.data_dir, "train")
    video = jnp.asarray(np.stack([source[i]["frames_THWC"] for i in range(len(source))]), jnp.float32) / 255.0
    inferred = lam.infer_actions(video)
    np.testing.assert_array_equal(inferred, lam.quantize(lam.encode(video), train=True)[1])
    assert len(np.unique(inferred)) > 1


def test_caching_the_frozen_features_changes_no_loss(cfg, tiny_run, tmp_path):
    """14 steps of 4 over 48 clips: steps 13 and 14 read every clip's tokens and actions from
    the cache, and give the losses that recomputing them gives."""
    losses = {}
    for cache in (True, False):
        run_cfg = override(cfg, {"train.dynamics.steps": 14, "train.checkpoint_every": 14,
                                 "train.cache_frozen": cache})
        stage = make_stage("dynamics", run_cfg)
        for name in ("tokenizer", "lam"):
            restore_trained(name, stage.frozen[name], run_cfg, tiny_run)
        train_stage(stage, run_cfg, tmp_path / str(cache), run_cfg.data_dir)
        lines = (tmp_path / str(cache) / "dynamics" / "metrics.jsonl").read_text().splitlines()
        losses[cache] = [row["loss"] for row in map(json.loads, lines) if "loss" in row]
    assert len(losses[True]) == 14 and losses[True] == losses[False]


def test_frozen_features_are_computed_once_per_clip():
    mesh = sharding.make_mesh()

    def compute(video_BTHWC):
        return {"first_B": video_BTHWC[:, 0, 0, 0, 0].astype(jnp.int32) + 1000}

    features = FrozenFeatures(compute, mesh)
    video = np.zeros((6, 2, 1, 1, 1), np.uint8)
    video[:, 0, 0, 0, 0] = [10, 11, 12, 13, 14, 15]  # clip i's pixel: 10 + i

    def batch(index_B):
        return features(np.array(index_B), jnp.asarray(video[index_B]))["first_B"]

    assert list(batch([0, 1])) == [1010, 1011] and list(batch([2, 3])) == [1012, 1013]
    assert features.computed_batches == 2
    assert list(batch([3, 0])) == [1013, 1010] and features.computed_batches == 2  # all kept: gathered
    assert list(batch([1, 4])) == [1011, 1014] and features.computed_batches == 3  # 4 is new: computed whole
    assert list(batch([4, 1])) == [1014, 1011] and features.computed_batches == 3
    uncached = FrozenFeatures(compute, mesh, cache=False)
    for _ in range(2):
        assert list(uncached(np.array([5, 2]), jnp.asarray(video[[5, 2]]))["first_B"]) == [1015, 1012]
    assert uncached.computed_batches == 2
