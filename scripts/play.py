"""Plays a trained world: in a window, in a web page, or scripted to a GIF/MP4.

    python scripts/play.py [--workdir runs/cpu] [--prompt image.png | --level SEED | --clip INDEX]
    python scripts/play.py --web [--port 8000] [--host 127.0.0.1]
    python scripts/play.py --prompt image.png --actions 0,3,3,1 --out play.gif

Without --workdir it plays the world that ships with genie (genie/worlds/platformer), trained
by the default recipe. Without a prompt the world starts at the first frame of a held-out
platformer level. In the window: keys 1..A take latent actions, arrows and space play through
eval/action_map.json, R resets, S saves the session, P pauses, Esc quits. --actions also takes
true action names bound by the action map (right,right,jump).
"""

import argparse
import sys

from genie import cores, hugepages


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default=None,
                        help="a training run or an exported world (default: the world that ships with genie)")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--prompt", help="an image file of any size")
    start.add_argument("--level", type=int, help="start at this platformer level seed")
    start.add_argument("--clip", type=int, help="start at this clip of the run's test split")
    parser.add_argument("--actions", help="scripted: comma-separated actions, then exit (needs --out)")
    parser.add_argument("--out", help="scripted: where to save the session (.gif or .mp4)")
    parser.add_argument("--web", action="store_true", help="serve a web page instead of opening a window")
    parser.add_argument("--host", default="127.0.0.1", help="web: the address to bind (other machines: 0.0.0.0)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--maskgit_steps", type=int, default=None, help="default: the config's")
    parser.add_argument("--temperature", type=float, default=None, help="default: the config's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--devices", type=cores.device_count, default=None,
                        help="split each step over this many devices (default: 2 CPU cores for wide models)")
    parser.add_argument("--scale", type=int, default=8, help="window: pixels per frame pixel")
    args = parser.parse_args(argv)
    if bool(args.actions) != bool(args.out):
        parser.error("--actions and --out go together")
    cores.split_cpu(args.devices)  # before JAX starts

    from genie.bundle import SHIPPED, is_bundle
    from genie.cli import exit_status

    if args.workdir is None and not is_bundle(SHIPPED):
        print(f"error: no world ships with this copy of genie ({SHIPPED}); train one with python scripts/train.py "
              "and play it with --workdir runs/cpu", file=sys.stderr)
        return 2
    return exit_status(lambda: _play(args, args.workdir or SHIPPED), also=(ValueError, RuntimeError))


def _play(args, workdir) -> None:
    from genie.play.controls import parse_actions
    from genie.play.session import PlaySession

    session = PlaySession.load(workdir, maskgit_steps=args.maskgit_steps, temperature=args.temperature,
                               seed=args.seed, devices=args.devices)

    def reset():
        if args.prompt:
            return session.reset(args.prompt)
        if args.clip is not None:
            return session.reset_from_dataset(index=args.clip)
        return session.reset_to_level(args.level)

    reset()
    if args.actions:
        for action in parse_actions(args.actions, session):
            session.step(action)
        print(f"saved {len(session.actions)} steps to {session.save(args.out)}")
        return
    session.warm_up()
    if args.web:
        from genie.play.web import serve

        server = serve(session, reset, args.host, args.port)
        print(f"playing {workdir} at http://{args.host}:{server.server_address[1]}/ (Ctrl-C stops)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        return
    from genie.play.window import Window

    Window(session, reset, scale=args.scale).run()


if __name__ == "__main__":
    hugepages.restart_with_huge_pages()
    sys.exit(main())
