"""Tiny config for tests: a few clips of 32x32, generated in about a second.

    python scripts/generate_data.py --config configs/tiny.py --out data/tiny

Expected: 48 train, 16 val and 16 test clips of 8 frames at 32x32.
"""

from genie.config import Config, DataConfig, EnvConfig


def get_config() -> Config:
    return Config(
        name="tiny",
        env=EnvConfig(height=32, width=32, tiles_per_view=8, min_level_length=24, max_level_length=40),
        data=DataConfig(clip_length=8, train_clips=48, val_clips=16, test_clips=16, clips_per_shard=16,
                        envs_per_worker=4, workers=1),
    )
