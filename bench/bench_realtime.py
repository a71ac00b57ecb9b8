"""Live engine benchmark: per preset, minutes of simulated streaming (realtime=False, deadlines modelled
from measured compute) with the default model (or --model FILE, or --model standin for the WORLD
stand-in converter) and each preset's F0 method (or --f0).

Reports block size, algorithmic latency, compute p50/p99 as a fraction of the block, xruns, dropped
blocks, peak RSS and RSS growth between the end of the first minute and the end.

    .venv/bin/python bench/bench_realtime.py [--minutes 10] [--presets low-latency balanced safe]
        [--model FILE|standin] [--f0 METHOD] [--sources WAV ...] [--singer NAME] [--json]

The input loops a synthetic sung phrase by default; `--sources` loops real recordings instead (joined
with short pauses, e.g. held-out voices from make_sung_voices.py): BENCHMARKS.md judges the presets'
targets on voices the model never saw.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

torch.set_num_threads(1)

from cli.device_flag import add_device_flag, device_or_exit  # noqa: E402
from core.audio.io import load_audio  # noqa: E402
from core.errors import UserError  # noqa: E402
from realtime.presets import load_preset  # noqa: E402
from realtime.simulate import simulate  # noqa: E402
from realtime.model_converter import make_converter  # noqa: E402
from realtime.standin import StandInConverter  # noqa: E402

RATE = 48000
SOURCE_PAUSE_S = 0.5  # between looped recordings: the gate closes and opens again, as between phrases


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def sung_phrases(seconds: float = 20.0) -> np.ndarray:
    """A looped test signal: sung-like phrases (vibrato, glides, harmonics) separated by pauses."""
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 180 * 2 ** ((4 * np.floor(t / 2.5) % 12 + 0.3 * np.sin(2 * np.pi * 5.5 * t)) / 12)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    x = sum(0.25 / k * np.sin(k * phase) for k in range(1, 8))
    envelope = ((t % 2.5) < 2.0).astype(np.float64)
    envelope = np.convolve(envelope, np.hanning(960) / np.hanning(960).sum(), mode="same")
    noise = 0.003 * np.random.default_rng(0).standard_normal(len(t))
    return (x * envelope + noise).astype(np.float32)


def joined_sources(paths: list[str]) -> np.ndarray:
    """The recordings at RATE, one after another with a pause between them (the loop the engine plays);
    AudioFileError names a file that cannot be read."""
    pause = np.zeros(int(SOURCE_PAUSE_S * RATE), np.float32)
    return np.concatenate([part for path in paths for part in (load_audio(path, RATE), pause)])


def make_bench_converter(model: str | None, device: str | None = None):
    """A fresh converter per preset: the stand-in or a model's (on `device`)."""
    return StandInConverter() if model == "standin" else make_converter(model, device)


def bench_preset(name: str, minutes: float, model: str | None = None, f0_method: str | None = None,
                 device: str | None = None, recordings: np.ndarray | None = None, singer: str | None = None) -> dict:
    """`recordings` (joined_sources) replaces the synthetic sung phrase as the looped input."""
    audio = sung_phrases() if recordings is None else recordings
    if torch.cuda.is_initialized():  # each preset's own peak, not the process's
        torch.cuda.reset_peak_memory_stats()
    converter = make_bench_converter(model, device)
    preset = load_preset(name)
    if f0_method:
        preset = preset.with_changes(f0_method=f0_method)
    # The engine runs the preset's pitch tracker where the converter has it, else the converter's first.
    f0_used = preset.f0_method if preset.f0_method in converter.f0_methods else converter.f0_methods[0]
    rss: list[tuple[float, float]] = []

    def watch(engine):
        finish = engine.finish_block

        def finish_and_sample(work):
            out = finish(work)
            if engine._out_pos % (2 * 24000) < engine.block:  # every ~2 s of audio
                rss.append((engine._out_pos / 24000.0, rss_mb()))
            return out

        engine.finish_block = finish_and_sample

    wall = time.perf_counter()
    report, _ = simulate(converter, preset, audio, RATE, 256, compare=False,
                         duration_s=60.0 * minutes, loop=True, on_engine=watch,
                         keep_output=False, controls={"singer": singer} if singer else None)
    wall = time.perf_counter() - wall
    after_first_minute = [m for s, m in rss if s >= 60.0] or [m for _, m in rss]
    # A run shorter than the 2 s between samples has none: no growth to report.
    rss_growth = round(after_first_minute[-1] - after_first_minute[0], 2) if after_first_minute else None
    # On a GPU the model's memory is not in the RSS; torch counts what its allocator held at most.
    gpu_peak_mb = round(torch.cuda.max_memory_allocated() / 2**20, 1) if torch.cuda.is_initialized() else None
    return {
        "preset": name, "converter": getattr(converter, "description", type(converter).__name__),
        "f0_method": f0_used, "input": "sung phrases" if recordings is None else "recordings", "singer": singer,
        "block_ms": report.block_ms, "latency_ms": round(report.latency_ms, 1),
        "compute_p50_fraction": round(report.compute_p50_ms / report.block_ms, 3),
        "compute_p99_fraction": round(report.compute_p99_fraction, 3),
        "compute_p50_ms": round(report.compute_p50_ms, 2), "compute_p99_ms": round(report.compute_p99_ms, 2),
        "compute_max_ms": round(report.compute_max_ms, 2),
        "cpu_p50_fraction": round(report.cpu_p50_ms / report.block_ms, 3),
        "cpu_p99_fraction": round(report.cpu_p99_ms / report.block_ms, 3),
        "load_average": round(__import__("os").getloadavg()[0], 2),
        "xruns": report.xruns, "drops": report.drops, "blocks": report.blocks, "minutes": minutes,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_growth_mb": rss_growth, "gpu_peak_mb": gpu_peak_mb, "wall_s": round(wall, 1),
    }


def row_text(row: dict) -> str:
    growth = "n/a" if row["rss_growth_mb"] is None else f"{row['rss_growth_mb']:+.2f} MB"
    gpu = "" if row["gpu_peak_mb"] is None else f"GPU peak {row['gpu_peak_mb']:.0f} MB  "
    return (f"{row['preset']:12s} {row['converter']} F0 {row['f0_method']}  block {row['block_ms']:5.1f} ms  "
            f"latency {row['latency_ms']:6.1f} ms  compute p50 {100 * row['compute_p50_fraction']:4.0f} %  "
            f"p99 {100 * row['compute_p99_fraction']:4.0f} % of block (max {row['compute_max_ms']:.1f} ms; "
            f"thread CPU p50 {100 * row['cpu_p50_fraction']:.0f} % p99 {100 * row['cpu_p99_fraction']:.0f} %)  "
            f"load {row['load_average']:.1f}  xruns {row['xruns']}  drops {row['drops']}  "
            f"peak RSS {row['peak_rss_mb']:.0f} MB  growth {growth}  {gpu}"
            f"({row['minutes']:g} min simulated in {row['wall_s']:.0f} s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--presets", nargs="+", default=["low-latency", "balanced", "safe"])
    parser.add_argument("--model", default=None, help="model file (default: the default model); 'standin' for WORLD")
    parser.add_argument("--f0", default=None, help="F0 method (default: the preset's)")
    parser.add_argument("--sources", nargs="+", default=None, metavar="WAV",
                        help="loop these recordings instead of the synthetic sung phrase")
    parser.add_argument("--singer", default=None, help="target singer (default: the model's first)")
    add_device_flag(parser)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    device_or_exit(parser, args.device)
    try:  # a bad file is named before any preset runs
        recordings = joined_sources(args.sources) if args.sources else None
    except UserError as exc:
        parser.error(str(exc))
    rows = []
    for name in args.presets:
        try:
            row = bench_preset(name, args.minutes, args.model, args.f0, args.device, recordings, args.singer)
        except UserError as exc:  # an unknown singer or preset
            parser.error(str(exc))
        rows.append(row)
        if not args.json:
            print(row_text(row), flush=True)
    if args.json:
        print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
