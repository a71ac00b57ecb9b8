"""`comosvc corpus OUT`: generate the synthetic multi-singer singing corpus (core/data/corpus.py)."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    from cli.output import add_json_flag

    parser = subparsers.add_parser(
        "corpus",
        help="generate a synthetic multi-singer singing corpus OUT/<singer>/<n>.wav from TTS voices",
        description=(
            "Speak varied sentences with the installed TTS voices (flite, festival, espeak-ng), then re-sing them "
            "with WORLD onto seeded tunes (vibrato, portamento, each singer in a fixed range). Writes 24 kHz wavs "
            "and OUT/manifest.json with the intended F0 per mel frame. Same seed, same bytes; re-running skips "
            "finished clips."
        ),
    )
    from core.data.corpus_spec import CorpusSpec

    d = CorpusSpec()

    parser.add_argument("out", nargs="?", help="folder to create or complete (not needed with --list-singers)")
    parser.add_argument("--singers", type=int, default=d.singers, help=f"number of singers (default {d.singers})")
    parser.add_argument("--only", nargs="+", metavar="NAME", default=[],
                        help="these singers instead of the first --singers (names from --list-singers); "
                             "their clips are the same as in a full corpus")
    parser.add_argument("--clips-per-singer", type=int, default=d.clips_per_singer,
                        help=f"clips per singer (default {d.clips_per_singer})")
    parser.add_argument("--seed", type=int, default=d.seed, help=f"random seed (default {d.seed})")
    parser.add_argument("--min-seconds", type=float, default=d.min_seconds,
                        help=f"shortest clip in seconds (default {d.min_seconds:g})")
    parser.add_argument("--max-seconds", type=float, default=d.max_seconds,
                        help=f"longest clip in seconds (default {d.max_seconds:g})")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes (default 2)")
    parser.add_argument("--list-singers", action="store_true",
                        help="list the singers and whether their voice is installed")
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from cli.output import print_json
    from core.data.corpus import CorpusSpec, available_singers, build_corpus

    if args.list_singers:
        usable, skipped = available_singers()
        if args.json:
            print_json({"available": [s.name for s in usable], "skipped": skipped})
        else:
            for singer in usable:
                print(f"{singer.name:24s} {singer.voice.label}")
            for line in skipped:
                print(f"(missing) {line}")
        return 0
    if not args.out:
        from core.errors import UserError

        raise UserError("give the output folder OUT (only --list-singers needs none)")
    from core.audio.io import check_output_folder

    check_output_folder(args.out, "OUT")  # before any voice is rendered
    import signal

    # A terminated run exits through the pool's clean-up, so no worker outlives it; writes are atomic.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    spec = CorpusSpec(singers=args.singers, clips_per_singer=args.clips_per_singer, seed=args.seed,
                      min_seconds=args.min_seconds, max_seconds=args.max_seconds,
                      names=tuple(args.only))
    summary = build_corpus(args.out, spec, workers=args.workers, log=lambda m: print(m, file=sys.stderr))
    if args.json:
        print_json(summary)
    else:
        print(f"{summary['clips']} clips from {summary['singers']} singers ({summary['total_seconds']:.0f} s) in "
              f"{summary['out']}; {summary['rendered']} rendered now")
    return 0
