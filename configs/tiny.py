"""Tiny config for tests: a few clips of 32x32 and models of a few thousand parameters.

    python scripts/generate_data.py --config configs/tiny.py --out data/tiny

    python scripts/train.py --config configs/tiny.py

Expected: 48 train, 16 val and 16 test clips of 8 frames at 32x32, in about a second; each
stage trains 6 steps, the whole pipeline in about a minute (most of it compiling).
"""

from genie.config import (Config, DataConfig, DynamicsConfig, EvalConfig, LAMConfig, OptimConfig,
                          PlatformerConfig, QuantizerConfig, SamplingConfig, TokenizerConfig, TrainConfig,
                          TransformerConfig)


def get_config() -> Config:
    shape = TransformerConfig(width=32, ffw=64, heads=2)
    return Config(
        name="tiny",
        platformer=PlatformerConfig(tiles_per_view=8, min_level_length=24, max_level_length=40, envs_per_worker=4),
        data=DataConfig(height=32, width=32, clip_length=8, train_clips=48, val_clips=16, test_clips=16,
                        clips_per_shard=16, workers=1),
        tokenizer=TokenizerConfig(patch_size=8, transformer=shape, encoder_layers=1, decoder_layers=1,
                                  quantizer=QuantizerConfig(num_codes=64, code_dim=8)),
        lam=LAMConfig(patch_size=16, transformer=shape, encoder_layers=1, decoder_layers=1,
                      quantizer=QuantizerConfig(num_codes=4, code_dim=8, dead_code_threshold=0.01)),
        dynamics=DynamicsConfig(transformer=shape, layers=2),
        sampling=SamplingConfig(maskgit_steps=4),
        train=TrainConfig(tokenizer=_optim, lam=_optim, dynamics=_optim, log_every=2, checkpoint_every=4,
                          sample_every=6, restart_dead_codes_every=3),
        # Long play past the window of 7 frames, so that it slides, from a few levels.
        eval=EvalConfig(long_play_starts=4, long_play_steps=12),
    )


_optim = OptimConfig(steps=6, batch_size=4, lr=1e-3, warmup_steps=2)
