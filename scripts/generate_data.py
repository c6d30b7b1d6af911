"""Generates a platformer dataset: train/val/test shards, manifest.json and preview.gif.

    python scripts/generate_data.py --config configs/cpu.py --out data/cpu [--config.data.train_clips=100]
"""

import argparse
import sys

from genie.cli import config_from_command_line, exit_status
from genie.data.dataset import prepare_dataset


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/cpu.py", help="config file")
    parser.add_argument("--out", default=None, help="dataset folder (default: data/<config name>)")
    parser.add_argument("--overwrite", action="store_true", help="replace a dataset already there")
    args, rest = parser.parse_known_args(argv)
    cfg = config_from_command_line(args.config, rest)
    return exit_status(lambda: prepare_dataset(cfg, args.out or cfg.data_dir, overwrite=args.overwrite))


if __name__ == "__main__":
    sys.exit(main())
