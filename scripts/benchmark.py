"""Measures speed and writes JSON.

    python scripts/benchmark.py datagen [--config configs/cpu.py] [--json out.json]
    python scripts/benchmark.py params --config configs/genie_shapes.py
    python scripts/benchmark.py train --config configs/bench.py --json train.json [--steps 5]
    python scripts/benchmark.py play --config configs/bench.py --json play.json [--devices 2] [--seconds 3]
"""

import argparse
import json
import sys

from genie import benchmark, cores, hugepages
from genie.cli import config_from_command_line

TARGETS = {"datagen": benchmark.datagen, "params": benchmark.params, "train": benchmark.train,
           "play": benchmark.play}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("--config", default="configs/cpu.py")
    parser.add_argument("--json", default=None, help="write the results here as well as to stdout")
    parser.add_argument("--steps", type=int, default=5, help="train: timed steps per stage")
    parser.add_argument("--devices", type=cores.device_count, default=None,
                        help="play: devices (CPU cores) each cached step is split over (default: as play.py)")
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="play: time cached and uncached frames each for at least this long")
    args, rest = parser.parse_known_args(argv)
    if args.target == "play":
        cores.split_cpu(args.devices)
    cfg = config_from_command_line(args.config, rest)
    options = {"train": {"steps": args.steps},
               "play": {"devices": args.devices, "min_seconds": args.seconds}}.get(args.target, {})
    results = {"target": args.target, "config": cfg.name, **TARGETS[args.target](cfg, **options)}
    text = json.dumps(results, indent=1)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    hugepages.restart_with_huge_pages()
    sys.exit(main())
