"""The default recipe for a laptop CPU: 64x64 platformer clips of 8 frames (flat style, levels
as tall as the view, a skyline behind them), all stages.

    python scripts/train.py                      # = --config configs/cpu.py --workdir runs/cpu

Expected on 2 CPU cores (measured on the slower of two machines of one kind, seed 0, one command from a
fresh clone): 55.5 minutes in all; data and k-means ~0.5 min (8,192 train clips), LAM 3,000 steps
(17.6 min), dynamics 4,000 steps (33.9 min: 0.58 s a step until every clip's frozen features are
cached, then 0.47 s), evaluation on 256 held-out clips (3.5 min). Held out: tokenizer PSNR 31.5 dB,
LAM NMI 0.75 with the true actions, ΔtPSNR at t = 4 2.7 dB, rollouts at t = 4 1.7 dB above
copying the last frame (docs/record.md, "The default run"). Clips of 16 frames (LAM 1,500, dynamics
3,600 steps) reach the same targets but take 92.6 minutes on that machine.
"""

from genie.config import (Config, DataConfig, DynamicsConfig, LAMConfig, OptimConfig, PlatformerConfig,
                          QuantizerConfig, SamplingConfig, TokenizerConfig, TrainConfig, TransformerConfig)


def get_config() -> Config:
    return Config(
        name="cpu",
        # Eight tiles tall, the level fills the view: the camera scrolls sideways only, as in the
        # classic side-scrollers, so a jump moves the player, not the whole scene. The skyline makes
        # that sideways scroll visible in the sky, not only in the ground's mortar lines: without
        # it the LAM's NMI is 0.37, with it 0.74 (docs/record.md, "What the skyline does").
        platformer=PlatformerConfig(style="flat", level_height=8, skyline=True),
        data=DataConfig(height=64, width=64, clip_length=8, train_clips=8192, val_clips=512, test_clips=512),
        # Pixel codes: the tokenizer is 1,024 patches of 8x8 fitted by k-means (~25 s), which
        # reconstruct held-out frames at ~35 dB; 400 steps of learnt corrections around them added
        # nothing (35.17 dB before, 35.16 after), and the learnt FSQ tokenizer (fsq_levels=(8, 5, 5, 5))
        # reached 24.9 dB in 1,000 steps (~29 minutes).
        tokenizer=TokenizerConfig(patch_size=8, quantizer=QuantizerConfig(kind="pixel", num_codes=1024, code_dim=8 * 8 * 3)),
        # The encoder reads motion scores beside the pixels; the decoder moves frame t's 8x8 patches
        # by whole-pixel shifts, from frame t alone; 9 FSQ actions (docs/record.md).
        lam=LAMConfig(patch_size=16, transformer=TransformerConfig(width=128, ffw=512, heads=4), encoder_layers=2,
                      decoder_layers=2, motion_radius=4, shift_radius=4, decoder_patch_size=8, decoder_history=False,
                      quantizer=QuantizerConfig(kind="fsq", fsq_levels=(3, 3), num_codes=9, code_dim=2)),
        # Sampling at temperature 0.5 in place of 1 (a sampling setting only) adds 1.4 dB to rollouts
        # at t = 4 with LAM actions, 1.1 with random ones (64 held-out clips); greedy sampling, 1 to
        # 16 MaskGIT steps or no noise on the keep choice change them by at most 0.3 dB (docs/record.md).
        dynamics=DynamicsConfig(transformer=TransformerConfig(width=128, ffw=512, heads=4), layers=4),
        sampling=SamplingConfig(maskgit_steps=8, temperature=0.5),
        train=TrainConfig(
            tokenizer=OptimConfig(steps=0, batch_size=8, lr=1e-3, warmup_steps=100),
            lam=OptimConfig(steps=3000, batch_size=8, lr=1e-3, warmup_steps=100),
            # With 8-frame clips the LAM needs 3,000 steps: at 1,500 its NMI was 0.59 and noop and left
            # shared one latent action (ΔtPSNR@4 0.97 dB with dynamics 4,000 steps).
            dynamics=OptimConfig(steps=4000, batch_size=8, lr=1e-3, warmup_steps=100),
            log_every=20, checkpoint_every=200, sample_every=400),
    )
