"""What the converter's output followers cost a block: the envelope follower against the silence follower.

    .venv/bin/python bench/bench_output_followers.py [--source VOICE.wav] [--blocks-ms 20 40 80]
        [--rounds 2000] [--json]

The live converter stage runs both after each block it converts (realtime/plugins.py ConverterPlugin):
core.audio.envelope.EnvelopeFollower ducks what the model sings louder than its input, and
core.audio.silence.SilenceFollower mutes where the input was silent. Each is timed on the same
blocks of real audio at the model's rate (24 kHz), at the presets' block sizes, with the latency of
`balanced`; reported: median and p99 microseconds a block, the share of the block's duration, and the
envelope follower's median over the silence follower's, measured in the same run. Without --source
a sung tone with pauses stands in.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RATE = 24000
LATENCY = int(0.077 * RATE)   # about balanced's converter latency (lookahead + crossfade + SOLA search)


def stand_in_source(seconds: float = 4.0) -> np.ndarray:
    """A vibrato tone in phrases with quiet pauses between them."""
    t = np.arange(int(seconds * RATE)) / RATE
    tone = 0.2 * np.sin(2 * np.pi * 220 * t * (1 + 0.01 * np.sin(2 * np.pi * 5 * t)))
    phrases = (np.sin(2 * np.pi * 0.75 * t) > -0.3).astype(np.float64)
    return (tone * phrases + 1e-4 * np.random.default_rng(0).standard_normal(len(t))).astype(np.float32)


def time_follower(make, source: np.ndarray, block: int, rounds: int) -> np.ndarray:
    """Seconds per process() call over `rounds` blocks, cycling through `source`."""
    follower = make()
    rng = np.random.default_rng(1)
    output = (source * 0.8 + 0.01 * rng.standard_normal(len(source))).astype(np.float32)
    n_blocks = max(len(source) // block, 1)
    times = np.empty(rounds)
    for i in range(rounds):
        at = (i % n_blocks) * block
        x, y = source[at:at + block], output[at:at + block].copy()
        began = time.perf_counter()
        follower.process(x, y)
        times[i] = time.perf_counter() - began
    return times


def measure(source: np.ndarray, blocks_ms: list[float], rounds: int) -> list[dict]:
    from core.audio.envelope import EnvelopeFollower
    from core.audio.silence import SilenceFollower

    rows = []
    for ms in blocks_ms:
        block = int(ms * RATE / 1000)
        # alternate the two so a busy moment on the machine falls on both
        env, sil = [], []
        for _ in range(5):
            env.append(time_follower(lambda: EnvelopeFollower(RATE, LATENCY), source, block, rounds // 5))
            sil.append(time_follower(lambda: SilenceFollower(RATE, LATENCY), source, block, rounds // 5))
        env_t, sil_t = np.concatenate(env) * 1e6, np.concatenate(sil) * 1e6
        rows.append({
            "block_ms": ms,
            "envelope_us_median": float(np.median(env_t)), "envelope_us_p99": float(np.percentile(env_t, 99)),
            "silence_us_median": float(np.median(sil_t)), "silence_us_p99": float(np.percentile(sil_t, 99)),
            "envelope_share_of_block": float(np.median(env_t)) / (ms * 1000.0),
            "envelope_over_silence": float(np.median(env_t) / np.median(sil_t)),
        })
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", help="a voice recording (any rate; mono mix); default: a stand-in tone")
    parser.add_argument("--blocks-ms", nargs="+", type=float, default=[20.0, 40.0, 80.0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.source:
        from core.audio.io import load_audio

        source = load_audio(args.source, RATE)
    else:
        source = stand_in_source()
    rows = measure(np.asarray(source, np.float32), args.blocks_ms, max(args.rounds, 5))
    if args.json:
        print(json.dumps({"rate": RATE, "latency_samples": LATENCY, "rows": rows}, indent=2))
    else:
        print("block   envelope us (p50 / p99)   silence us (p50 / p99)   envelope share of block   envelope / silence")
        for r in rows:
            print(f"{r['block_ms']:4.0f} ms  {r['envelope_us_median']:8.1f} / {r['envelope_us_p99']:8.1f}"
                  f"      {r['silence_us_median']:8.1f} / {r['silence_us_p99']:8.1f}"
                  f"      {100 * r['envelope_share_of_block']:6.2f} %              {r['envelope_over_silence']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
