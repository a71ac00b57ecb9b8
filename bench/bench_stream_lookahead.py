"""What the live lookahead costs a listener: DNSMOS of the stream pushed as the engine pushes it.

    .venv/bin/python bench/bench_stream_lookahead.py --sources VOICE.wav [...] --singers NAME [...]
        [--lookaheads 3 4 5 6 8] [--push-frames 8] [--f0 fcpe] [--whole-file-f0] [--model FILE]
        [--dnsmos-shifts MS [MS ...]] [--json]

Each source x singer pair is converted offline (`convert`: the exact lookahead, the whole file's
pitch track) and by `core.convert.ConversionStream` fed `--push-frames` frames at a time (8 is
`balanced`'s 40 ms block) at each lookahead, tracking pitch live as the engine does, or from the
whole file with `--whole-file-f0` (the stream then equals offline conversion from the exact
lookahead on). Reported per lookahead: DNSMOS OVRL, its ratio to the inputs', and the matched
difference to offline conversion with its t. The engine's own costs (blocks that are not whole
frames, resampling, xruns) are not in it: bench_live_quality.py measures what the engine plays.
--dnsmos-shifts scores each clip as the mean over those leads of silence (DNSMOS moves with where
its frames fall; core.convert.listening.dnsmos_averaged).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RATE = 24000


def stream_conversion(model, source: np.ndarray, singer: str, lookahead: int, push_frames: int, f0_method: str,
                      whole_file_f0: bool) -> np.ndarray:
    """`source` through a fresh stream, `push_frames` at a time, aligned to the input (its latency removed),
    ducked and muted where the input is quiet or silent, as the live engine and offline conversion do."""
    from core.convert.offline import follow_input
    from core.convert import ConversionStream

    hop = model.hop_length
    padded = np.pad(source, (0, (-len(source)) % hop))
    track = model.pitch_extractor(f0_method).extract(padded, len(padded) // hop) if whole_file_f0 else None
    stream = ConversionStream(model, singer=singer, f0_method=f0_method, lookahead_frames=lookahead,
                              max_block_frames=push_frames, f0_track=track)
    push = push_frames * hop
    latency = stream.latency_samples
    total = len(padded) + latency
    total += (-total) % push
    fed = np.pad(padded, (0, total - len(padded)))
    out = np.concatenate([stream.push(fed[at:at + push]) for at in range(0, total, push)])
    return follow_input(source, out[latency:latency + len(source)], model.sample_rate)


def _matched(values: np.ndarray, reference: np.ndarray) -> dict:
    diff = values - reference
    spread = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
    return {"minus_offline": round(float(diff.mean()), 4),
            "t": round(float(diff.mean() / spread), 2) if spread > 0 else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", nargs="+", required=True, help="voices the model never saw")
    parser.add_argument("--singers", nargs="+", required=True, help="target singers of the model")
    parser.add_argument("--lookaheads", nargs="+", type=int, default=[3, 4, 5, 6, 8], metavar="FRAMES")
    parser.add_argument("--push-frames", type=int, default=8, help="frames per push (default 8: balanced's block)")
    parser.add_argument("--f0", default="fcpe", help="pitch tracker, offline and live (default fcpe, as balanced)")
    parser.add_argument("--whole-file-f0", action="store_true", help="the stream reads the whole file's pitch track")
    parser.add_argument("--model", default=None, help="model file (default: the default model)")
    parser.add_argument("--dnsmos-shifts", nargs="+", type=float, default=[0.0], metavar="MS")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from core.convert.listening import check_listening_inputs
    from core.errors import UserError

    try:
        sources = check_listening_inputs(args.sources, args.dnsmos_shifts)
    except UserError as exc:
        parser.error(str(exc))
    if any(frames < 0 for frames in args.lookaheads) or args.push_frames < 1:
        parser.error("--lookaheads must be >= 0 frames and --push-frames >= 1")

    import torch

    from core.audio.io import load_audio
    from core.convert import VoiceModel, convert_audio, exact_lookahead
    from core.convert.listening import dnsmos_averaged

    torch.set_num_threads(args.threads)
    model = VoiceModel.load(args.model)
    for singer in args.singers:
        model.singers.id(singer)  # an unknown singer: one line naming the known ones, before any work

    def score(audio: np.ndarray) -> float:
        return dnsmos_averaged(audio, RATE, shifts_ms=args.dnsmos_shifts)["ovrl"]

    inputs, offline, streamed = [], [], {frames: [] for frames in args.lookaheads}
    for path in sources:
        source = load_audio(path, RATE)
        source_score = score(source)
        for singer in args.singers:
            inputs.append(source_score)
            converted, _, _ = convert_audio(model, source, RATE, singer, steps="1", f0_method=args.f0)
            offline.append(score(converted))
            for frames in args.lookaheads:
                streamed[frames].append(score(stream_conversion(model, source, singer, frames, args.push_frames,
                                                                args.f0, args.whole_file_f0)))
            if not args.json:
                row = "  ".join(f"L{f} {streamed[f][-1]:.3f}" for f in args.lookaheads)
                print(f"{path.stem:20s} -> {singer:18s} input {source_score:.3f}  offline {offline[-1]:.3f}  {row}",
                      flush=True)

    inputs_a, offline_a = np.array(inputs), np.array(offline)
    rows = [{"lookahead_frames": "offline", "ovrl": round(float(offline_a.mean()), 4),
             "ratio_to_input": round(float(offline_a.mean() / inputs_a.mean()), 4)}]
    for frames in args.lookaheads:
        values = np.array(streamed[frames])
        rows.append({"lookahead_frames": frames, "lookahead_ms": round(1000.0 * frames * model.hop_length / RATE, 1),
                     "ovrl": round(float(values.mean()), 4),
                     "ratio_to_input": round(float(values.mean() / inputs_a.mean()), 4), **_matched(values, offline_a)})
    result = {"model": args.model or "default", "pairs": len(inputs), "push_frames": args.push_frames,
              "exact_lookahead_frames": exact_lookahead(model, 1), "f0": args.f0,
              "whole_file_f0": args.whole_file_f0, "dnsmos_shifts_ms": args.dnsmos_shifts,
              "input_ovrl": round(float(inputs_a.mean()), 4), "rows": rows}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{len(inputs)} pairs; exact lookahead {result['exact_lookahead_frames']} frames")
        for row in rows:
            against = f"  vs offline {row['minus_offline']:+.3f} (t {row['t']})" if "minus_offline" in row else ""
            print(f"lookahead {row['lookahead_frames']!s:>7}: OVRL {row['ovrl']:.3f}, "
                  f"{row['ratio_to_input']:.3f} x the input{against}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
