"""Shipping a trained world: export, load back as a run, play it, refuse damaged ones."""

import hashlib
import json
import shutil
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest
from flax import nnx
from PIL import Image, ImageSequence

from genie.bundle import SHIPPED, WEIGHTS_FILE, export_bundle, is_bundle
from genie.checkpoint import CheckpointError
from genie.play.session import PlaySession
from genie.runs import load_run
from tests.conftest import ROOT

SHIPPED_TERNARY = SHIPPED.with_name("platformer-ternary")


def _params(module):
    return {path: np.asarray(v.get_value()) for path, v in nnx.to_flat_state(nnx.state(module))}


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):
    run = load_run(tiny_run)
    out = tmp_path_factory.mktemp("worlds")
    return run, export_bundle(run, out / "f32", "float32"), export_bundle(run, out / "f16", "float16")


def test_a_float32_world_plays_exactly_like_its_run(exported, prompt_png):
    run, f32, _ = exported
    assert is_bundle(f32) and not is_bundle(run.workdir)
    bundle = load_run(f32)
    assert bundle.steps == run.steps and all(bundle.complete.values())
    frames = []
    for source in (run.workdir, f32):
        session = PlaySession.load(source)
        session.reset(prompt_png)
        frames.append(np.stack([session.step(a) for a in (0, 3, 1, 2)]))
    np.testing.assert_array_equal(frames[0], frames[1])


def test_a_float16_world_holds_the_weights_rounded_to_half_precision(exported):
    run, _, f16 = exported
    assert (f16 / WEIGHTS_FILE).stat().st_size < 0.6 * (exported[1] / WEIGHTS_FILE).stat().st_size
    bundle = load_run(f16)
    for name in ("tokenizer", "lam", "dynamics"):
        original, loaded = _params(run.models[name]), _params(bundle.models[name])
        assert original.keys() == loaded.keys()
        for path in original:
            assert loaded[path].dtype == original[path].dtype  # restored to the model's precision
            np.testing.assert_array_equal(loaded[path], original[path].astype(np.float16).astype(np.float32))
    info = json.loads((f16 / "world.json").read_text())
    assert info["dtype"] == "float16" and set(info["stages"]) == {"tokenizer", "lam", "dynamics"}
    assert (f16 / "tokenizer" / "metrics.jsonl").is_file()  # its training curves travel with it


def test_damaged_worlds_are_refused_with_what_to_do(exported, tmp_path):
    _, f32, _ = exported
    corrupt = shutil.copytree(f32, tmp_path / "corrupt")
    data = bytearray((corrupt / WEIGHTS_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (corrupt / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="missing or corrupt.*export_bundle.py"):
        load_run(corrupt)
    # Weights that are intact but of another model: named, with both shapes.
    other = shutil.copytree(f32, tmp_path / "other")
    with np.load(other / WEIGHTS_FILE) as arrays:
        weights = dict(arrays)
    key = next(k for k in weights if k.startswith("dynamics/") and weights[k].ndim == 2)
    weights[key] = weights[key][:, :-1]
    np.savez(other / WEIGHTS_FILE, **weights)
    info = json.loads((other / "world.json").read_text())
    info["sha256"] = hashlib.sha256((other / WEIGHTS_FILE).read_bytes()).hexdigest()
    (other / "world.json").write_text(json.dumps(info))
    with pytest.raises(CheckpointError, match=f"{key} should be"):
        load_run(other)


def test_only_finished_runs_are_exported(tiny_run, tmp_path):
    run = load_run(tiny_run)
    run.complete["lam"] = False
    with pytest.raises(CheckpointError, match="lam not finished"):
        export_bundle(run, tmp_path / "world")
    assert not (tmp_path / "world").exists()


def test_export_never_replaces_what_is_there_unless_asked(exported, tmp_path):
    run = exported[0]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="--overwrite"):
        export_bundle(run, mine)
    assert (mine / "notes.txt").read_text() == "keep me"
    assert is_bundle(export_bundle(run, mine, overwrite=True)) and not (mine / "notes.txt").exists()


def test_export_script_writes_an_evaluated_world_that_plays_with_its_action_map(tiny_run, tmp_path):
    out = tmp_path / "world"
    result = subprocess.run([sys.executable, "scripts/export_bundle.py", "--workdir", str(tiny_run), "--out", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((out / "eval" / "metrics.json").read_text())
    assert metrics["meta"]["workdir"] == str(out) and {"tokenizer", "lam", "dynamics"} <= set(metrics)
    assert PlaySession.load(out).action_map == json.loads((out / "eval" / "action_map.json").read_text())


def test_the_shipped_world_plays_with_no_arguments_and_fits_the_size_limit(tmp_path):
    assert is_bundle(SHIPPED), "the world that ships with genie is missing"
    assert sum(f.stat().st_size for f in SHIPPED.rglob("*") if f.is_file()) <= 20 * 2**20
    assert json.loads((SHIPPED / "world.json").read_text())["dtype"] == "float16"
    gif = tmp_path / "play.gif"
    result = subprocess.run([sys.executable, "scripts/play.py", "--actions", "0,1,2", "--out", str(gif)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    # The prompt and three steps, scaled 4x, at 8 frames a second. A GIF stores a step that drew the
    # same frame as the one before as a longer showing of that frame, so count the time, not the frames.
    frames = iio.imread(gif)
    assert frames.shape[1:3] == (256, 256)
    with Image.open(gif) as image:
        shown_ms = [frame.info["duration"] for frame in ImageSequence.Iterator(image)]
    # Each showing lasts a whole number of steps of 125 ms (GIF stores whole centiseconds: 120, 250, ...).
    assert sum(round(ms / 125) for ms in shown_ms) == 4


@pytest.mark.parametrize("world", [SHIPPED, SHIPPED_TERNARY], ids=["float", "ternary"])
def test_the_shipped_worlds_own_held_out_evaluations_hold_the_default_recipes_targets(world):
    metrics = json.loads((world / "eval" / "metrics.json").read_text())
    meta, dynamics = metrics["meta"], metrics["dynamics"]
    assert meta["split"] == "test" and meta["clips"] >= 256 and all(meta["complete"].values())
    assert meta["checkpoint_steps"] == {s: v["step"] for s, v in json.loads((world / "world.json").read_text())[
        "stages"].items()}, "the evaluation is of other weights than the shipped ones"
    assert metrics["tokenizer"]["psnr"] >= 30.0
    assert metrics["lam"]["nmi"] >= 0.5
    assert dynamics["delta_psnr_t4"] >= 1.0
    assert all(dynamics["rollout_psnr"][t] > copy for t, copy in dynamics["copy_last_frame_psnr"].items())


def test_the_ternary_world_packs_every_block_of_its_lam_and_dynamics_and_fits_in_1_5_mb():
    assert (SHIPPED_TERNARY / WEIGHTS_FILE).stat().st_size <= 1_500_000
    run = load_run(SHIPPED_TERNARY)
    for name in ("lam", "dynamics"):
        kernels = [k for path, k in _params(run.models[name]).items() if "blocks" in path and path[-1] == "kernel"]
        assert kernels and all(k.dtype == np.int8 and set(np.unique(k)) <= {-1, 0, 1} for k in kernels), name
