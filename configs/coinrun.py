"""Genie's CoinRun case study (appendix F): model shapes as published, on our platformer.

    python scripts/benchmark.py params --config configs/coinrun.py

Expected: tokenizer 8+8 layers of width 512 (1024 codes of dimension 32, patch 4), LAM 8+8
layers of width 512 (6 actions, patch 16), dynamics 12 layers of width 512; 16 frames of
64x64. Sized for accelerators: a training step takes minutes on a 2-core CPU.
"""

from genie.config import Config, DataConfig, DynamicsConfig, LAMConfig, SamplingConfig, TokenizerConfig


def get_config() -> Config:
    return Config(
        name="coinrun",
        data=DataConfig(height=64, width=64, clip_length=16, train_clips=625_000, val_clips=5_000, test_clips=5_000),
        tokenizer=TokenizerConfig(patch_size=4, width=512, ffw=2048, heads=8, encoder_layers=8, decoder_layers=8,
                                  num_codes=1024, code_dim=32),
        lam=LAMConfig(patch_size=16, width=512, ffw=2048, heads=8, encoder_layers=8, decoder_layers=8,
                      num_actions=6, code_dim=32),
        dynamics=DynamicsConfig(width=512, ffw=2048, heads=8, layers=12),
        sampling=SamplingConfig(maskgit_steps=25, temperature=1.0),
    )
