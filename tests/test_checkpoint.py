"""Checkpoints under damage: a changed, truncated or deleted file is refused naming the step and
what to do, never loaded as other weights; asked to, a run falls back to its latest intact step
and goes on exactly as it would have."""

import json

import numpy as np
import pytest
from flax import nnx

from genie import pipeline
from genie.checkpoint import DAMAGED, CheckpointError, Checkpoints, restore_latest
from genie.config import override
from genie.models import build_models


def _largest_file(step_dir):
    return max((p for p in (step_dir / "model").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)


def _flip_a_bit(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))


def _saved(tmp_path, steps=(1, 2)):
    state = {"w": np.arange(4096, dtype=np.float32)}
    checkpoints = Checkpoints(tmp_path, 3, {"x": 1})
    for step in steps:
        checkpoints.save(step, {"w": state["w"] + step}, state, {"position": step})
    return checkpoints, state


@pytest.mark.parametrize("damage, found", [
    (_flip_a_bit, "has changed"),
    (lambda p: p.write_bytes(p.read_bytes()[:-7]), "has changed"),
    (lambda p: p.unlink(), "is missing"),
])
def test_a_damaged_file_is_refused_naming_the_step_and_the_way_back(tmp_path, damage, found):
    checkpoints, state = _saved(tmp_path)
    damage(_largest_file(tmp_path / "2"))
    with pytest.raises(CheckpointError, match=rf"\(step 2\) is damaged: model/\S+ {found}.*step 1 is intact: python "
                                              r"scripts/train.py --fall_back"):
        checkpoints.restore(2, {"w": state["w"]}, state)
    assert checkpoints.damage(1) == []
    np.testing.assert_array_equal(checkpoints.restore(1, {"w": state["w"]}, state)[0]["w"], state["w"] + 1)


def test_a_deleted_metadata_file_is_refused_and_falling_back_keeps_the_damaged_step(tmp_path):
    checkpoints, state = _saved(tmp_path, steps=(1, 2, 3))
    (tmp_path / "3" / "model" / "_METADATA").unlink()
    _flip_a_bit(_largest_file(tmp_path / "2"))
    with pytest.raises(CheckpointError, match=r"\(step 3\) is damaged: model/_METADATA is missing.*step 1 is intact"):
        checkpoints.check(3)
    assert checkpoints.usable_step() == 3  # nothing moves unless asked
    assert checkpoints.usable_step(fall_back=True) == 1
    assert checkpoints.latest_step() == 1
    assert sorted(p.name for p in (tmp_path / DAMAGED).iterdir()) == ["2", "3"]  # kept, not deleted
    checkpoints.save(2, {"w": state["w"]}, state, {})  # training goes on past the moved steps
    assert checkpoints.damage(2) == []


def test_the_only_checkpoint_damaged_says_to_train_again(tmp_path):
    checkpoints, state = _saved(tmp_path, steps=(1,))
    _flip_a_bit(_largest_file(tmp_path / "1"))
    with pytest.raises(CheckpointError, match="no earlier checkpoint is intact: train this stage again"):
        checkpoints.check(1)


def test_a_run_refuses_a_damaged_stage_then_falls_back_and_ends_as_if_undamaged(tiny_cfg, tiny_data, tmp_path):
    cfg = override(tiny_cfg, {"data.dir": str(tiny_data), "train.tokenizer.steps": 4, "train.checkpoint_every": 2,
                              "train.sample_every": 0})
    quiet = lambda *_: None
    pipeline.run(cfg, tmp_path, stages=("tokenizer",), log=quiet)
    tokenizer = build_models(cfg, 0)["tokenizer"]
    assert restore_latest("tokenizer", tokenizer, cfg, tmp_path) == 4
    trained = {k: np.asarray(v) for k, v in nnx.to_flat_state(nnx.state(tokenizer, nnx.Param))}
    _flip_a_bit(_largest_file(tmp_path / "tokenizer" / "checkpoints" / "4"))
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(CheckpointError, match=r"\(step 4\) is damaged.*step 2 is intact: python scripts/train.py "
                                              r"--fall_back"):
        pipeline.run(cfg, tmp_path, stages=("tokenizer",), log=quiet)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    with pytest.raises(CheckpointError, match=r"\(step 4\) is damaged"):  # evaluation and play refuse it too
        restore_latest("tokenizer", build_models(cfg, 0)["tokenizer"], cfg, tmp_path)
    pipeline.run(cfg, tmp_path, stages=("tokenizer",), log=quiet, fall_back=True)
    assert (tmp_path / "tokenizer" / "COMPLETE").read_text() == "4\n"
    again = build_models(cfg, 0)["tokenizer"]
    assert restore_latest("tokenizer", again, cfg, tmp_path) == 4
    for key, value in nnx.to_flat_state(nnx.state(again, nnx.Param)):
        np.testing.assert_array_equal(np.asarray(value), trained[key])
    events = [json.loads(line) for line in (tmp_path / "tokenizer" / "metrics.jsonl").read_text().splitlines()]
    assert [e["step"] for e in events if e.get("event") == "start"] == [0, 2]


def test_an_async_save_keeps_the_values_of_its_moment_and_is_checksummed_once_written(tmp_path):
    import jax
    import jax.numpy as jnp

    w = jnp.arange(1 << 20, dtype=jnp.float32)
    checkpoints = Checkpoints(tmp_path, 3, {"x": 1}, async_save=True)
    checkpoints.save(1, {"w": w}, {"w": w}, {"position": 1})
    # The trainer's next step takes the saved arrays' buffers at once (donation) and writes into them.
    overwrite = jax.jit(lambda x: x * 0 - 1, donate_argnums=0)
    assert float(overwrite(w)[0]) == -1
    checkpoints.save(2, {"w": jnp.ones(1 << 20)}, {"w": jnp.ones(1 << 20)}, {"position": 2})  # waits for step 1
    assert (tmp_path / "sha256" / "1.json").is_file()
    checkpoints.close()  # waits for step 2
    assert (tmp_path / "sha256" / "2.json").is_file()
    again = Checkpoints(tmp_path, 3, {"x": 1})
    target = {"w": jnp.zeros(1 << 20)}
    model, optimizer, loader = again.restore(1, target, target)
    np.testing.assert_array_equal(model["w"], np.arange(1 << 20, dtype=np.float32))
    np.testing.assert_array_equal(optimizer["w"], np.arange(1 << 20, dtype=np.float32))
    assert loader == {"position": 1} and not again.damage(1) and not again.damage(2)
    again.close()
