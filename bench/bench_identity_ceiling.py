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
  moved (<= 5, 5-12, > 12), to set beside bench_quality.py's identity by distance, and per singer
  (with whom its misses were heard as), to set beside pool_quality.py's --ceiling.
With --vocoder FILE, each re-sung clip is also judged after that vocoder (its own log-mel and F0 in):
how much of the ceiling a vocoder keeps, far from a singer's range most of all.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cli.output import run_report  # noqa: E402
from core.convert.listening import CENTROID_FILES  # noqa: E402
from core.errors import UserError  # noqa: E402


def _median_f0(track) -> float:
    voiced = track.f0[track.voiced]
    if voiced.size == 0:
        raise UserError("a recording has no voiced frames")
    return float(np.median(voiced))


def evaluate(args) -> dict:
    import torch

    from core.audio.io import load_audio
    from core.audio.mel import MelSpectrogram, mel_frame_count
    from core.config import load_config
    from core.convert import evaluate as ev
    from core.convert import listening
    from core.data.timbre_shift import resing_with_envelope
    from core.features.pitch import pitch_extractor_from_config
    from core.vocoder.files import load_vocoder_file

    config = load_config(args.config)
    rate, hop = config.audio.sample_rate, config.audio.hop_length
    root = Path(args.targets_dir)
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    files = {f.name: listening.singer_recordings(f) for f in folders if not args.singers or f.name in args.singers}
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
    centroids = {s: listening.singer_centroid(embedder, [clip(p) for p in fs[:CENTROID_FILES]], rate)
                 for s, fs in files.items()}
    vocoders = {str(p): load_vocoder_file(p) for p in args.vocoder}
    for path, vocoder in vocoders.items():
        if not vocoder.fits(config.audio):
            raise UserError(f"{path}'s vocoder works at {vocoder.sample_rate} Hz / hop {vocoder.hop_length}, "
                            f"the config at {rate} / {hop}")
    mel = MelSpectrogram(config.audio)

    def heard(sung: np.ndarray) -> dict[str, np.ndarray]:
        """The re-sung clip's embedding as WORLD made it ("") and through each vocoder (its own mel and F0 in)."""
        embeddings = {"": embedder.embed(sung, rate)}
        if vocoders:
            log_mel = mel(torch.from_numpy(np.ascontiguousarray(sung, dtype=np.float32)))
            f0 = torch.from_numpy(pitch.extract(sung, log_mel.shape[1]).f0.astype(np.float32))
            for path, vocoder in vocoders.items():
                embeddings[path] = embedder.embed(vocoder.synthesize(log_mel, f0).numpy(), rate)
        return embeddings

    own, at_source, shifts = [], [], []
    for singer, fs in files.items():
        for path in fs[CENTROID_FILES:CENTROID_FILES + args.clips_per_singer]:
            audio = clip(path)
            t = track(audio)
            own.append((singer, heard(resing_with_envelope(audio, rate, hop, t.f0, t.voiced, 0.0))))
            for hz in source_f0.values():
                semitones = 12.0 * np.log2(hz / _median_f0(t))
                shifts.append(semitones)
                sung = resing_with_envelope(audio, rate, hop, t.f0, t.voiced, semitones)
                at_source.append((singer, heard(sung), semitones))

    def judged(key: str) -> dict:
        own_cosines = [ev.cosine(e[key], centroids[s]) for s, e, _ in at_source]
        return {"cosine_to_own_centroid_mean": float(np.mean(own_cosines)),
                "own_pitch": listening.singer_identification([(s, e[key]) for s, e in own], centroids),
                "at_source_pitch": listening.singer_identification([(s, e[key]) for s, e, _ in at_source], centroids),
                "at_source_pitch_by_distance": listening.identification_by_distance(
                    [(s, e[key], d) for s, e, d in at_source], centroids),
                "at_source_pitch_by_singer": listening.identification_by_singer(
                    [(s, e[key]) for s, e, _ in at_source], centroids)}

    return {"targets_dir": str(root), "singers": sorted(files), "source_median_f0_hz": source_f0, **judged(""),
            "through_vocoder": {path: judged(path) for path in vocoders},
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
    parser.add_argument("--vocoder", action="append", default=[], metavar="FILE",
                        help="also judge every re-sung clip after this vocoder (a vocoder or model file; its own "
                             "mel and F0 in): how much of the ceiling survives it (repeatable)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    args = parser.parse_args(argv)
    return run_report(evaluate, args, print_summary)


def print_summary(result: dict) -> None:
    print(f"mean |shift| {result['shift_semitones_abs_mean']:.1f} semitones")
    for name, judged in (("as WORLD re-sang it", result), *result["through_vocoder"].items()):
        print(name)
        for key, label in (("own_pitch", "at its own pitch"), ("at_source_pitch", "at the sources' pitch")):
            sid = judged[key]
            print(f"  {label:22s} top-1 {sid['top1']:.0%} (chance {sid['chance']:.0%}), "
                  f"mean rank {sid['mean_rank']:.2f}, n {sid['n']}")
        print("  at the sources' pitch, by semitones moved: " + ", ".join(
            f"{band} {b['top1']:.0%} (n {b['n']})" for band, b in judged["at_source_pitch_by_distance"].items()))
        print("  at the sources' pitch, by singer: " + ", ".join(
            f"{singer} {row['top1']}/{row['n']}" for singer, row in judged["at_source_pitch_by_singer"].items()))


if __name__ == "__main__":
    sys.exit(main())
