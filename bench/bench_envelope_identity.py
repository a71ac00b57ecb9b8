"""Benchmark: does the model's MEL carry the asked-for singer? A second judge, beside Resemblyzer.

    .venv/bin/python bench/bench_envelope_identity.py --model MODEL --cache CACHE --sources VOICE.wav [...]
        [--steps 600] [--max-seconds 6] [--seed 0] [--json]

bench_quality.py asks Resemblyzer whose voice a conversion's AUDIO is. This asks a small classifier
trained on the model's own feature cache (CACHE, from `comosvc preprocess`: the singers' mels and
their key, volume and range copies) whose singer the model's MEL is, before the vocoder:
- its input is the spectral envelope only: the first --cepstra DCT coefficients of each normalised
  log-mel frame over the mel axis, which smooth out the harmonics, so it cannot name a bass by pitch;
- three 1-D convolutions over time, pooled over the clip, one logit per singer.
It is trained for --steps batches of 32 random crops and checked on the cache's validation clips
(originals). Then each source is converted to every singer without transposition and classified
twice: the mel the model makes (core.convert.reconstruction, as offline conversion makes it) and the
mel of the converted audio (`convert_audio`, one-step student, through the vocoder).

The classifier learns whatever tells the singers apart in this data, perceptual or not, so a high
score says the model renders each singer's learnt signature, not that a listener hears the singer.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cli.output import run_report  # noqa: E402


# What is classified: the mel the model makes, and the mel of the audio the vocoder makes of it.
STAGES = {"model_mel": "the model's mel", "output_audio": "the converted audio (vocoder output, re-analysed)"}


def envelope_classifier(n_mels: int, cepstra: int, singers: int):
    import torch
    from torch import nn

    k = torch.arange(cepstra, dtype=torch.float32)[:, None]
    dct = torch.cos(math.pi / n_mels * (torch.arange(n_mels, dtype=torch.float32) + 0.5) * k)

    class EnvelopeClassifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("dct", dct)
            self.net = nn.Sequential(nn.Conv1d(cepstra, 128, 5, padding=2), nn.GELU(),
                                     nn.Conv1d(128, 128, 5, padding=2), nn.GELU(),
                                     nn.Conv1d(128, 128, 5, padding=2), nn.GELU())
            self.out = nn.Linear(128, singers)

        def forward(self, mel: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            hidden = self.net(torch.einsum("kn,bnt->bkt", self.dct, mel))
            weights = mask[:, None, :]
            return self.out((hidden * weights).sum(-1) / weights.sum(-1).clamp_min(1.0))

    return EnvelopeClassifier()


def evaluate(args) -> dict:
    import torch
    import torch.nn.functional as F

    from core.audio.io import load_audio
    from core.audio.mel import normalize
    from core.convert import VoiceModel
    from core.convert.offline import convert_audio
    from core.convert.reconstruction import reconstruct_log_mel
    from core.data.dataset import CachedDataset
    from core.errors import UserError
    from core.train.teacher import crop_frames

    torch.manual_seed(args.seed)
    model = VoiceModel.load(args.model)
    cfg = model.config
    train = CachedDataset(args.cache, "train")
    val = CachedDataset(args.cache, "val", originals_only=True)
    names = list(model.singers.names)
    if train.singers.names != names:
        raise UserError(f"the cache's singers {train.singers.names} are not the model's {names}")
    classifier = envelope_classifier(cfg.audio.n_mels, args.cepstra, len(names))
    optimizer = torch.optim.AdamW(classifier.parameters(), 1e-3, weight_decay=1e-4)
    draws = torch.Generator().manual_seed(args.seed)
    for _ in range(args.steps):
        batch = train.batch(32, crop_frames(cfg), draws)
        loss = F.cross_entropy(classifier(normalize(batch.mel, cfg.audio), batch.mask), batch.singer)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    classifier.eval()

    def classify(mel: torch.Tensor) -> str:
        with torch.no_grad():
            return names[int(classifier(mel[None], torch.ones(1, mel.shape[-1])).argmax(1))]

    val_hits = sum(classify(normalize(val.whole(i).mel[0], cfg.audio)) == names[int(val.clips[i].singer)]
                   for i in range(len(val.clips)))
    rows, report = [], {"validation_top1": val_hits / max(len(val.clips), 1), "validation_clips": len(val.clips)}
    for source in args.sources:
        audio = load_audio(source, model.sample_rate)[: int(args.max_seconds * model.sample_rate)]
        for singer in names:
            model_mel = reconstruct_log_mel(model, audio, singer)
            converted, _, _ = convert_audio(model, audio, model.sample_rate, singer)
            audio_mel = model.mel(torch.from_numpy(converted[: model_mel.shape[1] * model.hop_length]))
            rows.append({"source": str(source), "singer": singer,
                         "model_mel": classify(normalize(model_mel, cfg.audio)),
                         "output_audio": classify(normalize(audio_mel, cfg.audio))})
    report.update(n=len(rows), chance=1 / len(names), pairs=rows)
    for stage in STAGES:
        hits = [r["singer"] == r[stage] for r in rows]
        report[stage] = {"top1": sum(hits) / len(hits),
                         "misses": [f"{Path(r['source']).stem}: {r['singer']} -> {r[stage]}"
                                    for r, hit in zip(rows, hits) if not hit]}
    return report


def render(report: dict) -> str:
    lines = [f"envelope classifier on the cache's validation clips: {report['validation_top1']:.0%} "
             f"of {report['validation_clips']}",
             f"conversions without transposition classified as the asked-for singer (of {report['n']}, "
             f"chance {report['chance']:.0%}):"]
    for stage, what in STAGES.items():
        lines.append(f"  {what}: {report[stage]['top1']:.0%}")
        lines += [f"    miss {m}" for m in report[stage]["misses"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--cache", required=True, help="the model's feature cache (comosvc preprocess)")
    parser.add_argument("--sources", nargs="+", required=True)
    parser.add_argument("--steps", type=int, default=600, help="classifier training batches")
    parser.add_argument("--cepstra", type=int, default=20, help="DCT coefficients of the mel kept")
    parser.add_argument("--max-seconds", type=float, default=6.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    return run_report(evaluate, args, lambda report: print(render(report)))


if __name__ == "__main__":
    raise SystemExit(main())
