"""The engine's streaming resampler with its gather arrays kept from block to block, against fresh ones.

StreamingResampler gathers each output's taps and weights into arrays it keeps (one
row per output: about 0.5 MB each for a 40 ms block at 48 kHz). Before, it made them
afresh each block; fresh arrays that large come from new pages of memory, and their
page faults sometimes cost more than the filtering. `fresh` here is the same
resampler making its arrays afresh, as it did: same samples, the old memory traffic.

Two parts, each alternating the two ways so that a machine whose speed moves affects both:

- the resampler alone: time and minor page faults per block, for the blocks of each
  preset at 48 kHz (model rate 24 kHz);
- the engine (--clips): `simulate` on each clip with the default model (or --model) and
  --preset, the way swapped in the engine: compute p50/p99, the worker's CPU p50,
  xruns, and minor page faults per block of the whole process.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_resampler.py [--rounds 5] [--blocks 200]
        [--clips A.wav B.wav --preset balanced --singer NAME] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from realtime.resampler import StreamingResampler  # noqa: E402

MODEL_RATE = 24000
DEVICE_RATE = 48000
BLOCK_MS = {"low-latency": 20.0, "balanced": 40.0, "safe": 100.0}


class FreshGatherResampler(StreamingResampler):
    """The same filter making its gather arrays afresh for every block (the way before they were kept)."""

    def _scratch(self, rows: int):
        shape = (rows, self._taps)
        return np.empty(shape, dtype=np.int64), np.empty(shape), np.empty(shape)


WAYS = {"kept": StreamingResampler, "fresh": FreshGatherResampler}


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def time_alone(way: str, orig: int, new: int, block: int, blocks: int, seed: int) -> dict:
    resampler = WAYS[way](orig, new)
    x = np.random.default_rng(seed).standard_normal(block).astype(np.float32)
    resampler.process(x)  # the first block sizes what is kept
    times = np.empty(blocks)
    faults = minor_faults()
    for i in range(blocks):
        start = time.perf_counter()
        resampler.process(x)
        times[i] = 1000.0 * (time.perf_counter() - start)
    return {"p50_ms": float(np.percentile(times, 50)), "p99_ms": float(np.percentile(times, 99)),
            "faults_per_block": (minor_faults() - faults) / blocks}


def alone(rounds: int, blocks: int) -> list[dict]:
    rows = []
    for preset, block_ms in BLOCK_MS.items():
        for orig, new in ((MODEL_RATE, DEVICE_RATE), (DEVICE_RATE, MODEL_RATE)):
            block = int(round(block_ms * orig / 1000.0))
            runs: dict[str, list[dict]] = {way: [] for way in WAYS}
            for r in range(rounds):
                for way in (WAYS if r % 2 == 0 else reversed(list(WAYS))):
                    runs[way].append(time_alone(way, orig, new, block, blocks, seed=r))
            row = {"preset": preset, "from_hz": orig, "to_hz": new, "block": block}
            for way, results in runs.items():
                for key in ("p50_ms", "p99_ms", "faults_per_block"):
                    row[f"{way}_{key}"] = float(np.median([res[key] for res in results]))
            row["p50_ratio"] = row["kept_p50_ms"] / row["fresh_p50_ms"]
            rows.append(row)
    return rows


def engine_run(way: str, clip: str, model: str | None, preset_name: str, singer: str | None) -> dict:
    from core.audio.io import load_audio
    from realtime.model_converter import make_converter
    from realtime.presets import load_preset
    from realtime.simulate import simulate

    audio = load_audio(clip, DEVICE_RATE)
    converter = make_converter(model)
    controls = {"singer": singer} if singer else {}
    faults = minor_faults()
    with mock.patch("realtime.engine.StreamingResampler", WAYS[way]):
        report, _ = simulate(converter, load_preset(preset_name), audio, DEVICE_RATE, 256, compare=False,
                             controls=controls, keep_output=False)
    return {"way": way, "clip": Path(clip).name, "compute_p50_ms": report.compute_p50_ms,
            "compute_p99_ms": report.compute_p99_ms, "cpu_p50_ms": report.cpu_p50_ms, "xruns": report.xruns,
            "blocks": report.blocks, "faults_per_block": (minor_faults() - faults) / max(report.blocks, 1)}


def engine(clips: list[str], model: str | None, preset: str, singer: str | None) -> list[dict]:
    runs = []
    for i, clip in enumerate(clips):
        for way in (WAYS if i % 2 == 0 else reversed(list(WAYS))):
            runs.append(engine_run(way, clip, model, preset, singer))
            print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="alternated rounds of the resampler alone")
    parser.add_argument("--blocks", type=int, default=200, help="blocks timed per round")
    parser.add_argument("--clips", nargs="*", default=[], help="clips for `simulate` (the engine part)")
    parser.add_argument("--model", default=None, help="model file (default: the default model)")
    parser.add_argument("--preset", default="balanced")
    parser.add_argument("--singer", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # as the engine runs
    result = {"alone": alone(args.rounds, args.blocks)}
    if args.clips:
        result["engine"] = engine(args.clips, args.model, args.preset, args.singer)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print("preset        rate           block  kept p50/p99 ms  fresh p50/p99 ms  faults/block kept/fresh  ratio")
    for r in result["alone"]:
        print(f"{r['preset']:<13} {r['from_hz']}->{r['to_hz']}  {r['block']:>5}  "
              f"{r['kept_p50_ms']:.3f}/{r['kept_p99_ms']:.3f}      {r['fresh_p50_ms']:.3f}/{r['fresh_p99_ms']:.3f}"
              f"       {r['kept_faults_per_block']:.0f}/{r['fresh_faults_per_block']:.0f}"
              f"                {r['p50_ratio']:.2f}")
    for r in result.get("engine", []):
        print(f"{r['clip']:<24} {r['way']:<6} compute p50 {r['compute_p50_ms']:.1f} p99 {r['compute_p99_ms']:.1f} "
              f"cpu p50 {r['cpu_p50_ms']:.1f} xruns {r['xruns']} faults/block {r['faults_per_block']:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
