"""DNSMOS of one model's conversions under sampler variants, compared pair by pair.

    .venv/bin/python bench/bench_sampler_sweep.py --model M --sources VOICE.wav [...] --singers NAME [...] \
        --variants teacher:4 teacher:50 teacher:50:floor=1.0 teacher:50:churn=40 student:1 student:4 \
        [--seeds 0 1 2] [--max-seconds 6] [--json]

A variant is KIND:STEPS[:key=value ...], KIND `teacher` (the teacher's sampler, `--sampler teacher-N`) or
`student` (consistency sampler, N = 1, 2 or 4). Keys, teacher only, each defaulting to the model's own:
  floor=F   the teacher's floor (`edm.teacher_floor`);
  churn=S   EDM's stochastic churn (`edm.teacher_churn`, core/model/samplers.py); churn=0 is the ODE;
  rho=R     the Karras spacing of the levels (`edm.rho`, > 0; it also places the distillation grid's points);
  guidance=G  the singer guidance (`edm.singer_guidance`, core/model/guidance.py); G > 0 needs a teacher
            trained with singer dropout.
Every source x singer pair is converted without transposition (`convert_audio`, the offline path),
once per seed of the sampler's noise (`--seeds`, default 0, what `convert` and the live engine use).
Reported per variant: DNSMOS OVRL mean and its ratio to the sources' mean; against the FIRST
variant, the matched-pair mean difference, how many pairs scored lower, and the paired t, on each
pair's mean over the seeds. The noise is anchored to frames, not to the pair, so within one seed every
pair of a set gets the same draw and their errors move together: that t overstates how sure a
difference is. With two seeds or more each variant also gets its mean per seed, and against the first
variant the t over seeds, which counts each draw once.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cli.output import run_report  # noqa: E402
from core.errors import UserError  # noqa: E402


# a teacher variant's key -> the sampler setting it replaces (edm.py), in the order of Variant's fields after steps
SCHEDULE_FIELDS = {"floor": "teacher_floor", "churn": "teacher_churn", "rho": "rho", "guidance": "singer_guidance"}
TEACHER_KEYS = tuple(SCHEDULE_FIELDS)


class Variant(NamedTuple):
    kind: str
    steps: int
    floor: float | None = None  # None: the model's own
    churn: float | None = None
    rho: float | None = None
    guidance: float | None = None

    @property
    def label(self) -> str:
        extra = "".join(f":{key}={value:g}" for key, value in zip(TEACHER_KEYS, self[2:]) if value is not None)
        return f"{self.kind}:{self.steps}{extra}"


def parse_variant(text: str) -> Variant:
    parts = text.split(":")
    if len(parts) < 2 or parts[0] not in ("teacher", "student") or not parts[1].isdigit() or int(parts[1]) < 1:
        raise UserError(f"variant '{text}': expected teacher:N or student:N, "
                        "then optional :floor=F, :churn=S, :rho=R or :guidance=G")
    values: dict[str, float] = {}
    for item in parts[2:]:
        key, _, value = item.partition("=")
        if key not in TEACHER_KEYS or parts[0] != "teacher":
            raise UserError(f"variant '{text}': '{item}' is not a teacher's floor=F, churn=S, rho=R or guidance=G")
        try:
            values[key] = float(value)
        except ValueError:
            raise UserError(f"variant '{text}': '{value}' is not a number") from None
        if values[key] < 0 or (key == "rho" and values[key] == 0):
            raise UserError(f"variant '{text}': {key} must be {'> 0' if key == 'rho' else '>= 0'}")
    return Variant(parts[0], int(parts[1]), *(values.get(key) for key in TEACHER_KEYS))


def paired(scores: list[float], reference: list[float]) -> dict:
    diff = np.asarray(scores) - np.asarray(reference)
    spread = float(diff.std(ddof=1)) if len(diff) > 1 else 0.0
    t = float(diff.mean() / (spread / math.sqrt(len(diff)))) if spread > 0 else None
    return {"mean_difference": float(diff.mean()), "lower": int((diff < 0).sum()), "t": t}


def evaluate(args) -> dict:
    from core.audio.io import load_audio
    from core.convert import VoiceModel, convert_audio, listening
    from core.model.guidance import check_guidable

    variants = [parse_variant(v) for v in args.variants]
    model = VoiceModel.load(args.model or None, "cpu")
    unknown = [s for s in args.singers if s not in model.singers.names]
    if unknown:
        raise UserError(f"the model has no singer {', '.join(unknown)}; it has {', '.join(model.singers.names)}")
    if any(v.kind == "teacher" for v in variants) and model.teacher is None:
        raise UserError("this model file has no teacher")
    for variant in variants:
        check_guidable(variant.guidance or 0.0, model.config.train.singer_dropout_prob)
    rate = model.sample_rate
    sources = {Path(p).name: load_audio(p, rate)[: int(args.max_seconds * rate)] for p in args.sources}
    source_ovrl = float(np.mean([listening.dnsmos(a, rate)["ovrl"] for a in sources.values()]))
    teacher = model.teacher
    base = teacher.denoiser.schedule if teacher is not None else None
    seeds = list(dict.fromkeys(args.seeds))
    rows = []
    for variant in variants:
        if variant.kind == "teacher":
            given = zip(TEACHER_KEYS, variant[2:])
            teacher.denoiser.schedule = replace(base, **{SCHEDULE_FIELDS[k]: v for k, v in given if v is not None})
        try:
            steps = f"teacher-{variant.steps}" if variant.kind == "teacher" else str(variant.steps)
            by_seed = np.array([[listening.dnsmos(convert_audio(model, audio, rate, singer, steps=steps, seed=seed)[0],
                                                  rate)["ovrl"]
                                 for audio in sources.values() for singer in args.singers] for seed in seeds])
        finally:
            if teacher is not None:
                teacher.denoiser.schedule = base
        scores = by_seed.mean(axis=0).tolist()
        rows.append({"variant": variant.label, "ovrl_mean": float(np.mean(scores)),
                     "ovrl_ratio": float(np.mean(scores)) / source_ovrl, "scores": scores,
                     "seed_means": by_seed.mean(axis=1).tolist()})
    for row in rows[1:]:
        row["against_first"] = paired(row["scores"], rows[0]["scores"])
        if len(seeds) > 1:
            row["against_first_by_seed"] = paired(row["seed_means"], rows[0]["seed_means"])
    return {"model": args.model or "default", "sources": list(sources), "singers": args.singers, "seeds": seeds,
            "source_ovrl_mean": source_ovrl, "pairs": len(sources) * len(args.singers), "variants": rows}


def print_table(result: dict) -> None:
    print(f"{result['pairs']} pairs, input DNSMOS OVRL {result['source_ovrl_mean']:.3f}")
    for row in result["variants"]:
        versus = row.get("against_first")
        extra = "" if versus is None else (f"  vs first {versus['mean_difference']:+.3f}, {versus['lower']} lower"
                                          + (f", t {versus['t']:+.1f}" if versus["t"] is not None else ""))
        by_seed = row.get("against_first_by_seed")
        if by_seed is not None:
            extra += f"; over seeds {by_seed['mean_difference']:+.3f}" + (
                f", t {by_seed['t']:+.1f}" if by_seed["t"] is not None else "")
        print(f"{row['variant']:32s} OVRL {row['ovrl_mean']:.3f} ({row['ovrl_ratio']:.2f} x input){extra}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="", help="model file (default: the default model)")
    parser.add_argument("--sources", nargs="+", required=True, help="voices the model never saw")
    parser.add_argument("--singers", nargs="+", required=True, help="target singers of the model")
    parser.add_argument("--variants", nargs="+", required=True, help="KIND:STEPS[:floor=F][:churn=S][:rho=R]")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="seeds of the sampler's noise; each pair is converted once per seed (default 0)")
    parser.add_argument("--max-seconds", type=float, default=6.0, help="seconds of each source (default 6)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    return run_report(evaluate, args, print_table)


if __name__ == "__main__":
    sys.exit(main())
