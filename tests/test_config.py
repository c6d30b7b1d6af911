import dataclasses
import re

import pytest

from genie.config import (
    Config,
    ConfigError,
    QuantizerConfig,
    TransformerConfig,
    apply_overrides,
    config_from_dict,
    load_config,
    override,
    to_dict,
)
from tests.conftest import ROOT


def test_every_config_file_loads():
    for path in sorted((ROOT / "configs").glob("*.py")):
        cfg = load_config(path)
        assert cfg.name == path.stem
        module_doc = path.read_text().split('"""')[1]
        assert "python scripts/" in module_doc and "Expected" in module_doc, f"{path} docstring lacks command/result"


def test_command_line_overrides_are_typed():
    cfg = load_config(ROOT / "configs" / "tiny.py")
    out = apply_overrides(cfg, ["--config.data.train_clips=100", "--config.data.train_seeds", "5", "9",
                                "--config.data.height=48"])
    assert out.data.train_clips == 100 and out.data.train_seeds == (5, 9) and out.data.height == 48
    assert out.data.val_clips == cfg.data.val_clips  # untouched fields keep the file's values
    with pytest.raises(SystemExit):
        apply_overrides(cfg, ["--config.data.train_clips=many"])


def test_unknown_field_lists_the_valid_ones():
    cfg = Config()
    with pytest.raises(ConfigError, match=r"unknown config field 'data.trian_clips'.*train_clips"):
        apply_overrides(cfg, ["--config.data.trian_clips=3"])
    with pytest.raises(ConfigError, match=r"top level has fields.*'data'.*'platformer'"):
        apply_overrides(cfg, ["--config.dat.train_clips=3"])
    with pytest.raises(ConfigError, match="is a section"):
        apply_overrides(cfg, ["--config.data=3"])
    with pytest.raises(ConfigError, match="unknown option"):
        apply_overrides(cfg, ["--verbose"])


def test_programmatic_override_checks_types():
    cfg = Config()
    out = override(cfg, {"data.train_clips": 7, "data.width": 32})
    assert (out.data.train_clips, out.data.width) == (7, 32)
    assert cfg.data.train_clips != 7  # frozen: the original is unchanged
    with pytest.raises(ConfigError, match="data.train_clips is int"):
        override(cfg, {"data.train_clips": "7"})
    with pytest.raises(ConfigError, match="needs 2 values"):
        override(cfg, {"data.train_seeds": (1,)})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.data.train_clips = 3


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.py")
    bad = tmp_path / "bad.py"
    bad.write_text("x = 1\n")
    with pytest.raises(ConfigError, match="no get_config"):
        load_config(bad)


def test_to_dict_is_json_ready():
    assert to_dict(Config())["data"]["train_seeds"] == [0, 10_000]


def test_variable_length_tuples_take_any_length_and_round_trip_through_json():
    cfg = apply_overrides(Config(), ["--config.tokenizer.quantizer.fsq_levels", "8", "5", "5", "5"])
    assert cfg.tokenizer.quantizer.fsq_levels == (8, 5, 5, 5)
    for levels in [None, (8, 5, 5, 5)]:
        cfg = override(Config(), {"tokenizer.quantizer.fsq_levels": levels})
        assert config_from_dict(to_dict(cfg)) == cfg
    with pytest.raises(ConfigError, match="fsq_levels is int"):
        override(Config(), {"tokenizer.quantizer.fsq_levels": (8, "5")})


def test_unset_is_none_and_can_be_set_back():
    cfg = apply_overrides(Config(), ["--config.data.dir=data/x", "--config.lam.decoder_patch_size=8"])
    assert (cfg.data.dir, cfg.lam.decoder_patch_size, cfg.data_dir.as_posix()) == ("data/x", 8, "data/x")
    unset = apply_overrides(cfg, ["--config.data.dir=None", "--config.lam.decoder_patch_size=None"])
    assert (unset.data.dir, unset.lam.decoder_patch_size, unset.data_dir.as_posix()) == (None, None, "data/default")
    assert override(cfg, {"data.dir": None}).data.dir is None


def test_a_config_of_the_earlier_layout_is_read():
    """Runs and worlds saved before the platformer became one data source among several, and
    before sampling had its own section, load with the same settings."""
    old = {"name": "old", "env": {"height": 48, "width": 32, "frame_skip": 1, "style": "flat"},
           "data": {"clip_length": 8, "envs_per_worker": 4, "action_repeat": [1, 4]},
           "dynamics": {"layers": 3, "maskgit_steps": 5, "temperature": 0.5}, "eval": {"maskgit_steps": 0}}
    cfg = config_from_dict(old)
    assert (cfg.data.height, cfg.data.width, cfg.data.clip_length) == (48, 32, 8)
    assert cfg.platformer.style == "flat" and cfg.platformer.envs_per_worker == 4
    assert cfg.platformer.action_repeat == (1, 4)
    assert (cfg.dynamics.layers, cfg.sampling.maskgit_steps, cfg.sampling.temperature) == (3, 5, 0.5)
    assert config_from_dict(to_dict(cfg)) == cfg
    assert config_from_dict({**old, "lam": {"warp": False, "max_flow": 4.0}}) == cfg  # the default of a removed option
    with pytest.raises(ConfigError, match="no longer has"):
        config_from_dict({**old, "lam": {"warp": True}})


@pytest.mark.parametrize("args, message", [
    (["--config.train.lam.batch_size=0"], "train.lam.batch_size=0: it must be at least 1"),
    (["--config.data.clip_length=1"], "data.clip_length=1: it must be at least 2"),
    (["--config.data.train_clips=-5"], "data.train_clips=-5: it must be at least 1"),
    (["--config.data.height=100000"], "data.height=100000: it must be between 1 and 4096"),
    (["--config.train.dynamics.schedule=cos"], "train.dynamics.schedule='cos': it must be one of cosine, wsd"),
    (["--config.lam.transformer.heads=5"], "lam.transformer.width=128 does not split into 5 heads"),
    (["--config.data.test_seeds", "9", "3"], "data.test_seeds=(9, 3): a range [start, stop)"),
    (["--config.eval.prompt_frames=16"], "eval.prompt_frames=16 leaves nothing to generate in clips of 16"),
])
def test_values_out_of_range_are_refused_naming_the_field(args, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        apply_overrides(Config(), args)


def test_a_run_config_out_of_range_is_refused_when_read():
    with pytest.raises(ConfigError, match=re.escape("train.lam.batch_size=0: it must be at least 1")):
        config_from_dict({"train": {"lam": {"batch_size": 0}}})


def test_a_field_that_moved_into_a_sub_section_is_named():
    with pytest.raises(ConfigError, match=r"did you mean tokenizer.transformer.width\?"):
        apply_overrides(Config(), ["--config.tokenizer.width=64"])
    with pytest.raises(ConfigError, match=r"did you mean lam.quantizer.num_codes\?"):
        apply_overrides(Config(), ["--config.lam.num_actions=6"])
    with pytest.raises(ConfigError, match=r"did you mean dynamics.transformer.ternary\?"):
        apply_overrides(Config(), ["--config.dynamics.ternary=True"])


def test_model_sections_of_the_flat_layout_are_read():
    """Before the transformer's shape and the quantizer had sub-sections, and "unset" was 0 or ""."""
    old = {"data": {"dir": "", "workers": 0},
           "tokenizer": {"width": 64, "heads": 2, "quantizer": "fsq", "fsq_levels": [8, 5, 5, 5], "num_codes": 1000,
                         "code_dim": 4, "encoder_layers": 3},
           "lam": {"width": 32, "ffw": 64, "quantizer": "vq", "fsq_levels": [3, 3], "num_actions": 6,
                   "dead_code_threshold": 0.02, "decoder_patch_size": 0},
           "dynamics": {"width": 96, "layers": 3}}
    cfg = config_from_dict(old)
    assert (cfg.data.dir, cfg.data.workers, cfg.lam.decoder_patch_size) == (None, None, None)
    assert cfg.tokenizer.transformer == TransformerConfig(width=64, heads=2) and cfg.tokenizer.encoder_layers == 3
    assert cfg.tokenizer.quantizer == QuantizerConfig(kind="fsq", fsq_levels=(8, 5, 5, 5), num_codes=1000, code_dim=4)
    assert cfg.lam.transformer == TransformerConfig(width=32, ffw=64)
    assert cfg.lam.quantizer == QuantizerConfig(num_codes=6, dead_code_threshold=0.02)  # levels a VQ never read
    assert cfg.lam.num_actions == 6 and cfg.dynamics.transformer.width == 96
    assert config_from_dict(to_dict(cfg)) == cfg


def test_booleans_are_set_like_every_other_field():
    out = apply_overrides(Config(), ["--config.train.cotrain_lam=True", "--config.lam.decoder_history", "False"])
    assert out.train.cotrain_lam is True and out.lam.decoder_history is False
