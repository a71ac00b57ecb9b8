"""Benchmark: how well could ANY converter be identified, if it kept each singer's timbre perfectly?

    .venv/bin/python bench/bench_identity_ceiling.py --sources VOICE.wav [...] --targets-dir CORPUS
        [--singers NAME ...] [--clips-per-singer 2] [--max-seconds 6] [--json]

The judge of bench_quality.py (Resemblyzer; centroid = mean embedding of each singer's first 5 files)
is applied to each singer's next --clips-per-singer recordings, re-sung by WORLD with their own
spectral envelope (core/data/timbre_shift.py):
- at their own pitch (analysis-resynthesis): the ceiling with auto-transpose;
- at each source's median pitch: what a conversion WITHOUT auto-transpose puts out when it keeps the
  singer's timbre exactly and the source's melody. Resemblyzer hears pitch as part of a voice, so this
  is the ceiling for top-1 without auto-transpose, whatever the model. Also per band of semitones
  moved (<= 5, 5-12, > 12), to set beside bench_quality.py's identity by distance.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cli.output import run_report  # noqa: E402
from core.errors import UserError  # noqa: E402

CENTROID_FILES = 5


def _median_f0(track) -> float:
    voiced = track.f0[track.voiced]
    if voiced.size == 0:
        raise UserError("a recording has no voiced frames")
    return float(np.median(voiced))


def evaluate(args) -> dict:
    from core.audio.io import load_audio
    from core.audio.mel import mel_frame_count
    from core.config import load_config
    from core.convert import evaluate as ev
    from core.convert import listening
    from core.data.timbre_shift import resing_with_envelope
    from core.features.pitch import pitch_extractor_from_config

    config = load_config(args.config)
    rate, hop = config.audio.sample_rate, config.audio.hop_length
    root = Path(args.targets_dir)
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    files = {f.name: sorted(f.glob("*.wav")) for f in folders if not args.singers or f.name in args.singers}
    files = {s: fs for s, fs in files.items() if len(fs) > CENTROID_FILES}
    if len(files) < 2:
        raise UserError(f"{root} needs at least 2 singer folders with more than {CENTROID_FILES} .wav files each")
    pitch = pitch_extractor_from_config(config.features, config.audio, args.f0 or config.features.f0_method)

    def clip(path) -> np.ndarray:
        audio = load_audio(path, rate)
        return audio[: int(args.max_seconds * rate)] if args.max_seconds > 0 else audio

    def track(audio: np.ndarray):
        return pitch.extract(audio, mel_frame_count(len(audio), hop))

    source_f0 = {str(p): _median_f0(track(clip(p))) for p in args.sources}
    embedder = ev.SpeakerEmbedder()
    centroids = {s: ev.SpeakerEmbedder.mean_embedding([embedder.embed(clip(p), rate) for p in fs[:CENTROID_FILES]])
                 for s, fs in files.items()}
    own, at_source, shifts = [], [], []
    for singer, fs in files.items():
        for path in fs[CENTROID_FILES:CENTROID_FILES + args.clips_per_singer]:
            audio = clip(path)
            t = track(audio)
            own.append((singer, embedder.embed(resing_with_envelope(audio, rate, hop, t.f0, t.voiced, 0.0), rate)))
            for hz in source_f0.values():
                semitones = 12.0 * np.log2(hz / _median_f0(t))
                shifts.append(semitones)
                sung = resing_with_envelope(audio, rate, hop, t.f0, t.voiced, semitones)
                at_source.append((singer, embedder.embed(sung, rate), semitones))
    return {"targets_dir": str(root), "singers": sorted(files), "source_median_f0_hz": source_f0,
            "own_pitch": listening.singer_identification(own, centroids),
            "at_source_pitch": listening.singer_identification([(s, e) for s, e, _ in at_source], centroids),
            "at_source_pitch_by_distance": listening.identification_by_distance(at_source, centroids),
            "shift_semitones_abs_mean": float(np.mean(np.abs(shifts)))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", nargs="+", required=True, help="voices whose pitch the conversions would keep")
    parser.add_argument("--targets-dir", required=True, help="corpus folder with <singer>/*.wav")
    parser.add_argument("--singers", nargs="*", default=None, help="only these singer folders (default: all)")
    parser.add_argument("--config", default="live", help="front end and F0 tracker (default live)")
    parser.add_argument("--f0", default=None, help="pitch tracker (default: the config's)")
    parser.add_argument("--clips-per-singer", type=int, default=2, help="recordings re-sung per singer (default 2)")
    parser.add_argument("--max-seconds", type=float, default=6.0, help="cut every file to this length (0: no cut)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    args = parser.parse_args(argv)
    return run_report(evaluate, args, print_summary)


def print_summary(result: dict) -> None:
    for key, label in (("own_pitch", "at its own pitch"), ("at_source_pitch", "at the sources' pitch")):
        sid = result[key]
        print(f"{label:22s} top-1 {sid['top1']:.0%} (chance {sid['chance']:.0%}), mean rank {sid['mean_rank']:.2f}, n {sid['n']}")
    print(f"mean |shift| {result['shift_semitones_abs_mean']:.1f} semitones")
    print("at the sources' pitch, by semitones moved: " + ", ".join(
        f"{band} {b['top1']:.0%} (n {b['n']})" for band, b in result["at_source_pitch_by_distance"].items()))


if __name__ == "__main__":
    sys.exit(main())
