"""Trains the whole pipeline: data (generated if missing), tokenizer, LAM, dynamics.

    python scripts/train.py [--config configs/cpu.py] [--workdir runs/cpu] [--stage all]
                            [--config.train.tokenizer.steps=2000 ...]

Each stage trains in its own folder of the work directory and resumes from its latest
checkpoint; a completed stage is skipped, so running the command again continues where it
stopped. SIGTERM or Ctrl-C saves a checkpoint and exits. Multi-host: see the README.
"""

import argparse
import sys

from genie import hugepages
from genie.cli import config_from_command_line, exit_status
from genie.pipeline import ALL
from genie.train.trainer import NonFiniteLoss, StopRequested


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/cpu.py")
    parser.add_argument("--workdir", default=None, help="default: runs/<config name>")
    parser.add_argument("--stage", default="all", choices=("all", *ALL))
    parser.add_argument("--coordinator", default=None, help="multi-host: address:port of process 0")
    parser.add_argument("--num_processes", type=int, default=None)
    parser.add_argument("--process_id", type=int, default=None)
    parser.add_argument("--fall_back", action="store_true",
                        help="resume a stage whose latest checkpoint is damaged from its latest intact one")
    args, rest = parser.parse_known_args(argv)
    cfg = config_from_command_line(args.config, rest)
    if args.coordinator or args.num_processes:
        from genie.train.sharding import initialize_distributed

        initialize_distributed(args.coordinator, args.num_processes, args.process_id)
    from genie.pipeline import run  # after initialize_distributed, which must precede JAX's use

    try:
        stages = ALL if args.stage == "all" else (args.stage,)
        return exit_status(lambda: run(cfg, args.workdir or f"runs/{cfg.name}", stages, fall_back=args.fall_back))
    except StopRequested as e:
        print(f"stopped: {e}", file=sys.stderr)
        return 0
    except NonFiniteLoss as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    hugepages.restart_with_huge_pages()
    sys.exit(main())
