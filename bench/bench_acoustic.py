"""Benchmark: the acoustic model alone (condition encoder + WaveNet denoiser), teacher vs student.

For each size (paper, live, tiny): one set of random weights is used as both
teacher and student (sampling cost does not depend on the weights), and we time
the teacher's sampler at 50 steps (Euler, with the size's churn) and the
consistency student at 1, 2 and 4 steps on the same input, in the same run. RTF = compute seconds / audio
seconds (median of --repeats after one warm-up). FLOPs are counted with
torch.utils.flop_counter (matmuls and convolutions) for one denoiser evaluation
on one second of audio; a sampler's FLOPs are that times its evaluations
(the condition encoder runs once per sample and is counted once).

Run from the repository root:
    .venv/bin/python bench/bench_acoustic.py [--sizes paper live tiny] [--seconds 2] [--threads 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cli.device_flag import add_device_flag, device_or_exit  # noqa: E402
from core.config import load_config  # noqa: E402
from core.model.acoustic import AcousticModel  # noqa: E402
from core.model.conditioning import ConditionInputs  # noqa: E402

SAMPLERS = (("teacher_50", "teacher", 50), ("student_1", "student", 1), ("student_2", "student", 2), ("student_4", "student", 4))


def _inputs(cfg, frames: int, device: torch.device) -> ConditionInputs:
    gen = torch.Generator().manual_seed(0)
    return ConditionInputs.single(
        torch.randn(frames, cfg.features.content_dim, generator=gen),
        200 + 100 * torch.rand(frames, generator=gen),
        0.1 * torch.rand(frames, generator=gen),
        0,
        0.0,
    ).to(device)


def _run(model: AcousticModel, kind: str, steps: int, inputs: ConditionInputs) -> torch.Tensor:
    if kind == "teacher":
        return model.sample_teacher(inputs, steps)
    return model.sample(inputs, steps)


def _time(fn, device: torch.device, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _flops_per_audio_second(model: AcousticModel, cfg) -> tuple[float, float]:
    """(one denoiser evaluation, condition encoder) FLOPs for one second of audio on the CPU."""
    frames = round(cfg.audio.frame_rate)
    inputs = _inputs(cfg, frames, torch.device("cpu"))
    x = torch.randn(1, cfg.audio.n_mels, frames)
    with torch.no_grad():
        cond_counter = FlopCounterMode(display=False)
        with cond_counter:
            cond = model.condition(inputs)
        net_counter = FlopCounterMode(display=False)
        with net_counter:
            model.denoiser(x, 1.0, cond)
    return float(net_counter.get_total_flops()), float(cond_counter.get_total_flops())


def bench_size(name: str, seconds: float, repeats: int, device: torch.device) -> dict:
    cfg = load_config(name)
    model = AcousticModel.from_config(cfg).eval()
    torch.nn.init.normal_(model.network.output_projection.weight, std=0.01)  # a trained-looking network
    params = sum(p.numel() for p in model.parameters())
    eval_flops, cond_flops = _flops_per_audio_second(model, cfg)
    model.to(device)
    frames = int(seconds * cfg.audio.frame_rate)
    inputs = _inputs(cfg, frames, device)
    result = {
        "size": name,
        "parameters": params,
        "receptive_field_frames": model.receptive_field,
        "audio_seconds": frames / cfg.audio.frame_rate,
        "gflops_per_eval_per_audio_second": eval_flops / 1e9,
        "samplers": {},
    }
    audio_seconds = result["audio_seconds"]
    for label, kind, steps in SAMPLERS:
        elapsed = _time(lambda: _run(model, kind, steps, inputs), device, repeats if steps < 50 else max(1, repeats // 3))
        result["samplers"][label] = {
            "evaluations": steps,
            "rtf": elapsed / audio_seconds,
            "gflops_per_audio_second": (steps * eval_flops + cond_flops) / 1e9,
        }
    rtf = {k: v["rtf"] for k, v in result["samplers"].items()}
    result["teacher50_over_student1"] = rtf["teacher_50"] / rtf["student_1"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["paper", "live", "tiny"], help="config names to benchmark")
    parser.add_argument("--seconds", type=float, default=2.0, help="audio length per call")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (median); teacher-50 uses a third")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    add_device_flag(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = device_or_exit(parser, args.device)
    results = [bench_size(name, args.seconds, args.repeats, device) for name in args.sizes]
    if args.json:
        print(json.dumps({"device": str(device), "threads": args.threads, "results": results}))
        return 0
    print(f"acoustic model only, device {device}, {args.threads} threads, {args.seconds} s of audio per call")
    for r in results:
        print(f"{r['size']}: {r['parameters'] / 1e6:.2f} M params, receptive field {r['receptive_field_frames']} frames, "
              f"{r['gflops_per_eval_per_audio_second']:.2f} GFLOP per evaluation per audio second")
        for label, s in r["samplers"].items():
            print(f"  {label:10s} RTF {s['rtf']:.4f}   {s['gflops_per_audio_second']:.1f} GFLOP/audio s")
        print(f"  teacher-50 / student-1 = {r['teacher50_over_student1']:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
