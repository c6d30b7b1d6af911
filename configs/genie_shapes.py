"""Genie's model shapes from its CoinRun case study (appendix F), on our platformer: the
paper's tokenizer, LAM and dynamics model sizes, for accelerators.

    python scripts/benchmark.py params --config configs/genie_shapes.py

Expected: tokenizer 8+8 layers of width 512 (1024 codes of dimension 32, patch 4), LAM 8+8
layers of width 512 (6 actions, patch 16), dynamics 12 layers of width 512; 16 frames of
64x64; the LAM co-trained with the dynamics model. A training step takes minutes on a 2-core CPU.
"""

from genie.config import (Config, DataConfig, DynamicsConfig, LAMConfig, QuantizerConfig, SamplingConfig,
                          TokenizerConfig, TrainConfig, TransformerConfig)


def get_config() -> Config:
    shape = TransformerConfig(width=512, ffw=2048, heads=8)
    return Config(
        name="genie_shapes",
        data=DataConfig(height=64, width=64, clip_length=16, train_clips=625_000, val_clips=5_000, test_clips=5_000),
        tokenizer=TokenizerConfig(patch_size=4, transformer=shape, encoder_layers=8, decoder_layers=8,
                                  quantizer=QuantizerConfig(num_codes=1024, code_dim=32)),
        lam=LAMConfig(patch_size=16, transformer=shape, encoder_layers=8, decoder_layers=8,
                      quantizer=QuantizerConfig(num_codes=6, code_dim=32, dead_code_threshold=0.01)),
        dynamics=DynamicsConfig(transformer=shape, layers=12),
        sampling=SamplingConfig(maskgit_steps=25, temperature=1.0),
        # As in the paper, the dynamics stage also trains the LAM (after the LAM's own stage).
        train=TrainConfig(cotrain_lam=True),
    )
