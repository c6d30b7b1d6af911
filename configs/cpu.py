"""The default recipe for a laptop CPU: 64x64 platformer clips of 16 frames.

    python scripts/generate_data.py --config configs/cpu.py --out data/cpu

Expected: 8,192 train, 512 val and 512 test clips (139,264 frames, 1.7 GB) in well under a
minute on 2 cores; manifest.json shows clips spread over the whole length of the levels.
"""

from genie.config import Config, DataConfig, EnvConfig


def get_config() -> Config:
    return Config(
        name="cpu",
        env=EnvConfig(height=64, width=64),
        data=DataConfig(clip_length=16, train_clips=8192, val_clips=512, test_clips=512),
    )
