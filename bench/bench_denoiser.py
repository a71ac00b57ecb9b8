"""How well a model's teacher denoises at each noise level, and what its samplers make of it.

    .venv/bin/python bench/bench_denoiser.py --model M --cache CACHE [--clips 8] [--json]

On the validation clips of a feature cache (`comosvc preprocess`), with the clips' own content
codes (the model's built-in encoder on the unperturbed mel, or the cached frozen codes):
- the data: mean and standard deviation of the normalised mel (EDM's sigma_data should match the
  std), per frame and over all bins;
- per noise level sigma: MSE of D(y + sigma n, sigma) to y, as a ratio to sigma^2 (what returning
  the noisy input costs: < 1 means the denoiser helps) and to the data variance (what returning
  the mean costs);
- per sampler (teacher-N, student-K): the output's roughness (mean |x[t+1] - x[t]| over the upper
  half of the mel bins, where leftover noise shows as band noise) and its std, against the data's.
  The teacher samples as the model file says, with its `edm.teacher_churn` (0 in files made before
  session 17, and in BENCHMARKS.md's earlier rows).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SIGMAS = (0.002, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 80.0)
SAMPLERS = ("teacher-1", "teacher-2", "teacher-4", "teacher-8", "teacher-16", "teacher-50", "1", "2", "4")


def _roughness(mel: "torch.Tensor") -> float:
    upper = mel[:, mel.shape[1] // 2:, :]
    return float((upper[..., 1:] - upper[..., :-1]).abs().mean())


def evaluate(args) -> dict:
    import torch

    from core.audio.mel import normalize
    from core.convert import VoiceModel
    from core.data.dataset import CachedDataset
    from core.model.conditioning import ConditionInputs

    torch.set_num_threads(max(1, args.threads))
    model = VoiceModel.load(args.model)
    cfg = model.config
    val = CachedDataset(args.cache, "val", originals_only=True)
    items = []
    with torch.no_grad():
        for index in range(min(args.clips, len(val.clips))):
            batch = val.whole(index)
            if batch.content is not None:
                codes = batch.content
            else:
                codes = model.content_encoder.forward_mel(batch.mel)
            inputs = ConditionInputs(codes, batch.f0, batch.loudness, batch.singer, batch.key_shift)
            items.append((normalize(batch.mel, cfg.audio), inputs))
    data = torch.cat([y.reshape(-1) for y, _ in items])
    result = {"model": model.path, "clips": len(items), "sigma_data_config": cfg.edm.sigma_data,
              "data_mean": float(data.mean()), "data_std": float(data.std()),
              "data_roughness": float(np.mean([_roughness(y) for y, _ in items])),
              "data_std_per_clip": float(np.mean([float(y.std()) for y, _ in items])), "denoising": {}, "samplers": {}}
    networks = {"teacher": model.teacher or model.generator, "student": model.generator}
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for sigma in SIGMAS:
            row = {}
            for name, net in networks.items():
                mse, var = [], []
                for y, inputs in items:
                    noise = torch.randn(y.shape, generator=generator)
                    denoised = net(y + sigma * noise, torch.tensor([sigma]), inputs)
                    mse.append(float(((denoised - y) ** 2).mean()))
                    var.append(float(y.var()))
                row[name] = {"mse": float(np.mean(mse)), "over_sigma2": float(np.mean(mse)) / sigma**2,
                             "over_data_var": float(np.mean(mse) / np.mean(var))}
            result["denoising"][str(sigma)] = row
        for sampler in args.samplers:
            rough, std, l1 = [], [], []
            for y, inputs in items:
                if sampler.startswith("teacher-"):
                    out = (model.teacher or model.generator).sample_teacher(inputs, steps=int(sampler.split("-")[1]))
                else:
                    out = model.generator.sample(inputs, int(sampler))
                rough.append(_roughness(out))
                std.append(float(out.std()))
                l1.append(float((out - y).abs().mean()))
            result["samplers"][sampler] = {"roughness": float(np.mean(rough)), "std": float(np.mean(std)),
                                           "l1_normalised": float(np.mean(l1))}
    return result


def print_table(result: dict) -> None:
    print(f"model {result['model']}  {result['clips']} validation clips")
    print(f"data: mean {result['data_mean']:.3f}, std {result['data_std']:.3f} (per clip {result['data_std_per_clip']:.3f}; "
          f"config sigma_data {result['sigma_data_config']:g}), upper-band roughness {result['data_roughness']:.4f}")
    print(f"{'sigma':>7s} {'teacher mse/s^2':>16s} {'mse/var':>8s} {'student mse/s^2':>16s} {'mse/var':>8s}")
    for sigma, row in result["denoising"].items():
        t, s = row["teacher"], row["student"]
        print(f"{float(sigma):7.3f} {t['over_sigma2']:16.3f} {t['over_data_var']:8.3f} "
              f"{s['over_sigma2']:16.3f} {s['over_data_var']:8.3f}")
    print(f"{'sampler':11s} {'roughness':>9s} {'std':>6s} {'L1':>6s}")
    for name, row in result["samplers"].items():
        print(f"{name:11s} {row['roughness']:9.4f} {row['std']:6.3f} {row['l1_normalised']:6.3f}")


def main(argv: list[str] | None = None) -> int:
    from cli.output import run_report

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model file (default: the default model)")
    parser.add_argument("--cache", required=True, help="feature cache made by `comosvc preprocess`")
    parser.add_argument("--clips", type=int, default=8, help="validation clips to use")
    parser.add_argument("--samplers", nargs="+", default=list(SAMPLERS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    return run_report(evaluate, args, print_table)


if __name__ == "__main__":
    sys.exit(main())
