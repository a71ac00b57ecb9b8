"""Benchmark: does a vocoder keep the singer? Analysis-resynthesis of each singer's own recordings.

    .venv/bin/python bench/bench_vocoder_identity.py --vocoders FILE [FILE ...] --targets-dir CORPUS
        [--remake MODEL ...] [--clips-per-singer 2] [--max-seconds 6] [--json]

For every singer folder CORPUS/<singer>/*.wav: the centroid is the mean Resemblyzer embedding of its
first 5 files (as in bench_quality.py); the next --clips-per-singer files are analysed (the paper's
log10 mel, the config's F0 tracker) and resynthesised by each vocoder. Reported per vocoder:
- top-1: share of resyntheses whose nearest centroid is their own singer (chance 1 / singers);
- mean cosine of each resynthesis to its own singer's centroid;
- DNSMOS OVRL of the resynthesis as a ratio to the recording's (speechmos, a dev extra).
This is the ceiling for any conversion through that vocoder: the acoustic model can only lose
identity on top of what the vocoder loses. FILE is a vocoder file or a complete model file.
--remake MODEL also re-makes each recording with a complete model, as its own singer (the folders
must be the model's singers), and reports the same figures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cli.output import run_report  # noqa: E402
from core.convert.listening import CENTROID_FILES  # noqa: E402
from core.errors import UserError  # noqa: E402


def evaluate(args) -> dict:
    from core.audio.io import load_audio
    from core.audio.mel import MelSpectrogram
    from core.config import load_config
    from core.convert import evaluate as ev
    from core.convert import listening
    from core.features.pitch import pitch_extractor_from_config
    from core.vocoder.evaluate import analyse
    from core.vocoder.files import load_vocoder_file

    torch.set_num_threads(max(1, int(args.threads)))
    config = load_config(args.config)
    rate, hop = config.audio.sample_rate, config.audio.hop_length
    root = Path(args.targets_dir)
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    files = {f.name: listening.singer_recordings(f) for f in folders}
    files = {s: fs for s, fs in files.items() if len(fs) > CENTROID_FILES}
    if len(files) < 2:
        raise UserError(f"{root} needs at least 2 singer folders with more than {CENTROID_FILES} .wav files each")

    def clip(path: Path) -> np.ndarray:
        audio = load_audio(path, rate)
        return audio[: int(args.max_seconds * rate)] if args.max_seconds > 0 else audio

    embedder = ev.SpeakerEmbedder()
    centroids = {s: listening.singer_centroid(embedder, [clip(p) for p in fs[:CENTROID_FILES]], rate)
                 for s, fs in files.items()}
    mel = MelSpectrogram(config.audio)
    pitch = pitch_extractor_from_config(config.features, config.audio, config.features.f0_method)
    probes = [(s, clip(p)) for s, fs in files.items() for p in fs[CENTROID_FILES:CENTROID_FILES + args.clips_per_singer]]
    analyses = [(s, audio, analyse(audio, mel, pitch, hop), listening.dnsmos(audio, rate)["ovrl"] if args.dnsmos else None)
                for s, audio in probes]
    results = {}
    for path in args.vocoders:
        vocoder = load_vocoder_file(path)
        if not vocoder.fits(config.audio):
            raise UserError(f"{path}: the vocoder does not work at the config's {rate} Hz / hop {hop}")
        identified, cosines, ratios = [], [], []
        for singer, _, analysis, source_ovrl in analyses:
            with torch.no_grad():
                out = vocoder.synthesize(analysis.log_mel, torch.from_numpy(analysis.f0)).cpu().numpy()
            embedding = embedder.embed(out, rate)
            identified.append((singer, embedding))
            cosines.append(ev.cosine(embedding, centroids[singer]))
            if source_ovrl:
                ratios.append(listening.dnsmos(out, rate)["ovrl"] / source_ovrl)
        results[path] = {"singer_id": listening.singer_identification(identified, centroids),
                         "cosine_mean": float(np.mean(cosines)),
                         "dnsmos_ovrl_ratio_mean": float(np.mean(ratios)) if ratios else None}
    remakes = {}
    for path in args.remake:
        remakes[path] = _remake(path, analyses, centroids, embedder, rate, args.dnsmos)
    return {"targets_dir": str(root), "singers": sorted(files), "clips": len(probes), "vocoders": results,
            "remakes": remakes}


def _remake(path: str, analyses, centroids, embedder, rate: int, with_dnsmos: bool) -> dict:
    """Each recording re-made by a complete model as its own singer (no transposition): the acoustic model
    on its home ground, its own singers' content. Set beside bench_quality.py's conversions of voices it
    never heard, this tells an identity lost to unfamiliar content from one the model loses anyway."""
    from core.convert import VoiceModel, convert_audio
    from core.convert import evaluate as ev
    from core.convert import listening

    model = VoiceModel.load(path)
    unknown = sorted({s for s, *_ in analyses} - set(model.singers.names))
    if unknown:
        raise UserError(f"{path}: the model has no singer {', '.join(unknown)}; --remake needs a folder per model singer")
    identified, cosines, ratios = [], [], []
    for singer, audio, _, source_ovrl in analyses:
        out, _, _ = convert_audio(model, audio, rate, singer, out_rate=rate)
        embedding = embedder.embed(out, rate)
        identified.append((singer, embedding))
        cosines.append(ev.cosine(embedding, centroids[singer]))
        if with_dnsmos and source_ovrl:
            ratios.append(listening.dnsmos(out, rate)["ovrl"] / source_ovrl)
    return {"singer_id": listening.singer_identification(identified, centroids), "cosine_mean": float(np.mean(cosines)),
            "dnsmos_ovrl_ratio_mean": float(np.mean(ratios)) if ratios else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocoders", nargs="*", default=[], help="vocoder files or complete model files")
    parser.add_argument("--remake", nargs="*", default=[], metavar="MODEL",
                        help="also re-make each recording with these complete model files, as its own singer")
    parser.add_argument("--targets-dir", required=True, help="corpus folder with <singer>/*.wav")
    parser.add_argument("--config", default="live", help="front end and F0 tracker (default live)")
    parser.add_argument("--clips-per-singer", type=int, default=2, help="recordings resynthesised per singer (default 2)")
    parser.add_argument("--max-seconds", type=float, default=6.0, help="cut every file to this length (0: no cut)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--no-dnsmos", dest="dnsmos", action="store_false", help="skip DNSMOS")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args(argv)
    if not args.vocoders and not args.remake:
        parser.error("give --vocoders, --remake or both")
    return run_report(evaluate, args, print_summary)


def print_summary(result: dict) -> None:
    print(f"{len(result['singers'])} singers, {result['clips']} recordings resynthesised")
    rows = [(path, r) for path, r in result["vocoders"].items()]
    rows += [(f"{path} (re-made by the model)", r) for path, r in result.get("remakes", {}).items()]
    for path, r in rows:
        sid, ratio = r["singer_id"], r["dnsmos_ovrl_ratio_mean"]
        print(f"{path}: top-1 {sid['top1']:.0%} (chance {sid['chance']:.0%}), mean rank {sid['mean_rank']:.2f}, "
              f"cosine {r['cosine_mean']:.3f}, DNSMOS OVRL ratio {'-' if ratio is None else f'{ratio:.3f}'}")


if __name__ == "__main__":
    sys.exit(main())
