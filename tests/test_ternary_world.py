"""A ternary world end to end: fine-tuned from a float run, evaluated, packed, loaded, played."""

import json

import numpy as np
import pytest
from flax import nnx

from genie import pipeline
from genie.bundle import WEIGHTS_FILE, export_bundle, pack_trits, unpack_trits
from genie.checkpoint import restore_latest
from genie.config import ConfigError, override
from genie.models import build_models
from genie.nn.bitlinear import BitLinear
from genie.play.session import PlaySession
from genie.runs import load_run

TERNARY = {f"{m}.transformer.ternary": True for m in ("tokenizer", "lam", "dynamics")}


@pytest.fixture(scope="module")
def ternary_run(tiny_cfg, tiny_data, tiny_run, tmp_path_factory):
    """The tiny run's three models made ternary and fine-tuned from its float weights; the LAM
    takes them with no steps of its own."""
    cfg = override(tiny_cfg, {**TERNARY, "data.dir": str(tiny_data), "train.init_from": str(tiny_run),
                              "train.lam.steps": 0})
    workdir = tmp_path_factory.mktemp("ternary")
    pipeline.run(cfg, workdir, stages=("tokenizer", "lam", "dynamics", "eval"), log=lambda *_: None)
    return workdir


def _latent(stage, cfg, workdir):
    model = build_models(cfg, cfg.seed)[stage]
    restore_latest(stage, model, cfg, workdir)
    return {path: np.asarray(v.get_value()) for path, v in nnx.to_flat_state(nnx.state(model))}


def test_fine_tuning_starts_from_the_float_runs_weights(ternary_run, tiny_run):
    float_run, run = load_run(tiny_run), load_run(ternary_run)
    # The LAM, with no steps, holds the float LAM's weights as they were.
    latent, original = _latent("lam", run.cfg, ternary_run), _latent("lam", float_run.cfg, tiny_run)
    assert latent.keys() == original.keys()
    for path in latent:
        np.testing.assert_array_equal(latent[path], original[path])
    for stage in ("tokenizer", "lam", "dynamics"):
        events = [json.loads(line) for line in (ternary_run / stage / "metrics.jsonl").read_text().splitlines()]
        init = [e for e in events if e.get("event") == "init"]
        assert init and init[0]["init_from"] == str(tiny_run)


def test_a_stage_missing_from_the_run_to_start_from_is_refused(tiny_cfg, tiny_data, tmp_path):
    empty = tmp_path / "empty"
    pipeline.run(override(tiny_cfg, {"data.dir": str(tiny_data)}), empty, stages=())  # config.json, no stage
    cfg = override(tiny_cfg, {**TERNARY, "data.dir": str(tiny_data), "train.init_from": str(empty)})
    with pytest.raises(FileNotFoundError, match="holds no checkpoint of the tokenizer stage"):
        pipeline.run(cfg, tmp_path / "run", stages=("tokenizer",), log=lambda *_: None)


def test_trits_pack_five_to_a_byte_and_back_exactly():
    t = np.random.default_rng(0).integers(-1, 2, (37, 11)).astype(np.int8)
    packed = pack_trits(t)
    assert packed.dtype == np.uint8 and packed.size == -(-t.size // 5)
    np.testing.assert_array_equal(unpack_trits(packed, t.shape), t)
    np.testing.assert_array_equal(pack_trits(np.array([1, 0, -1, 1, 1, -1])), [2 + 3 + 0 + 54 + 162, 0])
    with pytest.raises(ValueError, match="-1, 0 and 1"):
        pack_trits(np.array([2, 0]))


def test_a_packed_world_holds_its_runs_ternary_weights_and_plays_the_same_frames(ternary_run, tiny_run, tmp_path,
                                                                              prompt_png):
    run = load_run(ternary_run)
    world = export_bundle(run, tmp_path / "ternary", "float16")
    float_world = export_bundle(load_run(tiny_run), tmp_path / "float", "float16")
    info = json.loads((world / "world.json").read_text())
    assert len(info["packed"]) == 3 * 6 * 2  # three models of two single-layer transformers, six layers a block
    assert (world / WEIGHTS_FILE).stat().st_size < (float_world / WEIGHTS_FILE).stat().st_size
    bundle = load_run(world)
    for name in ("tokenizer", "lam", "dynamics"):  # the ternary layers exactly, whatever the float precision
        layers = [(p, m) for p, m in nnx.iter_graph(bundle.models[name]) if isinstance(m, BitLinear)]
        originals = dict(nnx.iter_graph(run.models[name]))
        assert layers
        for path, layer in layers:
            np.testing.assert_array_equal(layer.kernel[...], originals[path].kernel[...])
            assert layer.scale[...] == originals[path].scale[...]  # float32, exactly
    # With the other weights in float32 as well, the world plays exactly what its run plays.
    world = export_bundle(run, tmp_path / "ternary32", "float32")
    frames = []
    for source in (ternary_run, world):
        session = PlaySession.load(source)
        session.reset(prompt_png)
        frames.append(np.stack([session.step(a) for a in (0, 3, 1, 2, 2, 1)]))
    np.testing.assert_array_equal(frames[0], frames[1])


def test_a_pixel_tokenizer_cannot_be_ternary(tiny_cfg):
    pixel = {"tokenizer.quantizer.kind": "pixel", "tokenizer.quantizer.code_dim": 8 * 8 * 3}
    with pytest.raises(ConfigError, match="no transformer"):
        override(tiny_cfg, {**pixel, "tokenizer.transformer.ternary": True})
