"""Reference shapes for comparing speed with other codebases (64x64, T=16, B=8).

    python scripts/benchmark.py params --config configs/bench.py

Expected: tokenizer width 256, feed-forward 1024, 4+4 blocks, 8 heads, patch 8, 1024 codes of
dimension 32; LAM width 256, 4+4 blocks, patch 16, 6 actions; dynamics width 256, 4 blocks;
25 MaskGIT steps.
"""

from genie.config import (Config, DataConfig, DynamicsConfig, LAMConfig, QuantizerConfig, SamplingConfig,
                          TokenizerConfig, TransformerConfig)


def get_config() -> Config:
    shape = TransformerConfig(width=256, ffw=1024, heads=8)
    return Config(
        name="bench",
        data=DataConfig(height=64, width=64, clip_length=16),
        tokenizer=TokenizerConfig(patch_size=8, transformer=shape, encoder_layers=4, decoder_layers=4,
                                  quantizer=QuantizerConfig(num_codes=1024, code_dim=32)),
        lam=LAMConfig(patch_size=16, transformer=shape, encoder_layers=4, decoder_layers=4,
                      quantizer=QuantizerConfig(num_codes=6, code_dim=32, dead_code_threshold=0.01)),
        dynamics=DynamicsConfig(transformer=shape, layers=4),
        sampling=SamplingConfig(maskgit_steps=25),
    )
