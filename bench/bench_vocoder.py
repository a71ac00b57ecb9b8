"""Benchmark: vocoders on analysis-resynthesis (quality) and speed (whole and per block).

For each vocoder: every audio file given is analysed (log10 mel of the
vocoder's front end, DIO f0) and resynthesised. Quality: log-mel L1 between
input and output, and the output's F0 error against the input's (both by DIO)
over frames voiced in both: median cents and share of frames off by > 50
cents. Speed: RTF of whole-file synthesis, and the cost of one block when
streaming at 20, 40 and 80 ms blocks (rounded to whole frames), mean and p95
over the blocks of the files, after one warm-up pass.

Vocoders: "builtin" (a trained file, --builtin), "griffin-lim" (32 iterations),
"nsf-hifigan-24k" and "nsf-hifigan-44k": the published generator sizes
(upsample_initial_channel 512) with RANDOM weights; speed figures only (their
quality figures are meaningless and left out).

Run from the repository root:
    .venv/bin/python bench/bench_vocoder.py --data FOLDER_OR_FILES... [--builtin FILE] [--threads 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.audio.io import load_audio  # noqa: E402
from core.audio.mel import MelSpectrogram  # noqa: E402
from core.config import load_config  # noqa: E402
from core.features.pitch import pitch_extractor_from_config  # noqa: E402
from core.train.vocoder import find_audio_files  # noqa: E402
from core.vocoder.evaluate import analyse, score_resynthesis  # noqa: E402
from cli.device_flag import add_device_flag, device_or_exit  # noqa: E402
from core.vocoder.files import load_vocoder_file  # noqa: E402
from core.vocoder.griffin_lim import GriffinLimVocoder  # noqa: E402
from core.vocoder.nsf_hifigan import NsfHifiganGenerator, NsfHifiganVocoder, NsfShape  # noqa: E402

BLOCK_MS = (20, 40, 80)


def published_nsf(layout: str) -> NsfHifiganVocoder:
    if layout == "m4singer":
        shape = NsfShape("m4singer", 24000, 128, 80, 512, 512, 30.0, 12000.0, (8, 8, 2), (16, 16, 4), 512, "1",
                         (3, 7, 11), ((1, 3, 5),) * 3, "10", True)
    else:
        shape = NsfShape("openvpi", 44100, 512, 128, 2048, 2048, 40.0, 16000.0, (8, 8, 2, 2, 2), (16, 16, 4, 4, 4),
                         512, "1", (3, 7, 11), ((1, 3, 5),) * 3, "e", False)
    torch.manual_seed(0)
    return NsfHifiganVocoder(NsfHifiganGenerator(shape))


def bench_one(name: str, vocoder, files: list[Path], config, with_quality: bool, max_seconds: float) -> dict:
    front = vocoder.front_end() if hasattr(vocoder, "front_end") else config.audio
    mel = MelSpectrogram(front)
    pitch = pitch_extractor_from_config(config.features, front, "dio")
    refs, total = [], 0.0
    for f in files:
        if total >= max_seconds:
            break
        audio = load_audio(f, front.sample_rate)
        refs.append(analyse(audio, mel, pitch, front.hop_length))
        total += len(refs[-1].audio) / front.sample_rate
    vocoder.synthesize(refs[0].log_mel[:, :50], torch.from_numpy(refs[0].f0[:50]))  # warm-up
    pairs, compute = [], 0.0
    for ref in refs:
        start = time.perf_counter()
        out = vocoder.synthesize(ref.log_mel, torch.from_numpy(ref.f0)).cpu()  # .cpu() waits for a GPU
        compute += time.perf_counter() - start
        pairs.append((ref, out.numpy()))
    row = {"vocoder": name, "sample_rate": front.sample_rate, "hop": front.hop_length, "seconds": total,
           "rtf": compute / total, "latency_ms": 1000 * vocoder.latency_samples / front.sample_rate}
    if hasattr(vocoder, "state_dict"):
        row["parameters"] = sum(t.numel() for t in vocoder.state_dict().values())
    if with_quality:
        row.update(score_resynthesis(pairs, front, mel, pitch).as_dict())
    for ms in BLOCK_MS:
        frames = max(1, round(ms / 1000 * front.sample_rate / front.hop_length))
        costs = []
        for ref in refs:
            stream = vocoder.stream()
            f0 = torch.from_numpy(ref.f0)
            for i in range(0, ref.log_mel.shape[1] - frames + 1, frames):
                start = time.perf_counter()
                stream.process(ref.log_mel[:, i : i + frames], f0[i : i + frames]).cpu()
                costs.append(time.perf_counter() - start)
        costs = costs[5:]  # warm-up blocks
        block_s = frames * front.hop_length / front.sample_rate
        row[f"block_{ms}ms"] = {"frames": frames, "mean_ms": 1000 * statistics.mean(costs),
                                "p95_ms": 1000 * float(np.percentile(costs, 95)),
                                "rtf": statistics.mean(costs) / block_s}
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", nargs="+", required=True, help="audio folder(s) or files (24 kHz singing)")
    parser.add_argument("--builtin", default=None, help="trained built-in vocoder file")
    parser.add_argument("--vocoders", nargs="+", default=["builtin", "griffin-lim", "nsf-hifigan-24k", "nsf-hifigan-44k"])
    parser.add_argument("--max-seconds", type=float, default=30.0, help="audio per vocoder (default 30 s)")
    parser.add_argument("--threads", type=int, default=1)
    add_device_flag(parser)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = device_or_exit(parser, args.device)
    config = load_config("paper")
    files = [f for source in args.data for f in find_audio_files(source)]
    rows = []
    for name in args.vocoders:
        if name == "builtin":
            if not args.builtin:
                continue
            rows.append(bench_one(name, load_vocoder_file(args.builtin).to(device), files, config, True,
                                  args.max_seconds))
        elif name == "griffin-lim":
            rows.append(bench_one(name, GriffinLimVocoder(config.audio).to(device), files, config, True,
                                  args.max_seconds))
        elif name.startswith("nsf-hifigan"):
            layout = "m4singer" if name.endswith("24k") else "openvpi"
            rows.append(bench_one(name + " (random weights)", published_nsf(layout).to(device), files, config, False,
                                  args.max_seconds))
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        for row in rows:
            blocks = "  ".join(f"{ms}ms: {row[f'block_{ms}ms']['mean_ms']:.1f}/{row[f'block_{ms}ms']['p95_ms']:.1f} ms"
                               for ms in BLOCK_MS)
            quality = (f"  mel L1 {row['log_mel_l1']:.3f}  F0 {row['f0_median_cents']:.1f} c, "
                       f">50c {100 * row['f0_over_50_cents']:.1f}%") if "log_mel_l1" in row else ""
            print(f"{row['vocoder']}: RTF {row['rtf']:.3f}{quality}  blocks mean/p95 {blocks}  "
                  f"latency {row['latency_ms']:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
