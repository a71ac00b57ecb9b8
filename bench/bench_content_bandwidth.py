"""Benchmark: how far a recording's bandwidth moves a model's content code.

    .venv/bin/python bench/bench_content_bandwidth.py --models A.safetensors [B ...] --sources VOICE.wav [...]
        [--cutoffs 4000 8000] [--max-seconds 6] [--threads 1] [--json]

Each source is low-passed at each cut-off (a 16th-order Butterworth run forward and back: what a
recording made at about twice that sample rate holds) and both versions go through each model's
content encoder. The figure is the mean distance between the two codes of a frame over the mean
distance of the full-band code's frames from their own mean. 0: the encoder does not hear the
bandwidth; near 1: the cut moves the code as far as the words move it from frame to frame.

Bandwidth tells voices apart (telephone prompts, 16 kHz TTS voices, 22.05 kHz recordings), so what
the code keeps of it is a cue of who sings that the acoustic model can learn to use in place of the
singer's code (`train.content_band_limit_prob`, BENCHMARKS.md "Band-limited content input").
A source with next to nothing above a cut-off (under -50 dB of its power) is left out at that
cut-off, and said so; a cut-off no source reaches is an error. Use full-band recordings.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cli.output import run_report  # noqa: E402
from core.errors import UserError  # noqa: E402

FILTER_ORDER = 16
EMPTY_BAND_SHARE = 1e-5  # of a source's power above a cut-off: under this (-50 dB) the band is empty


def low_passed(audio: np.ndarray, rate: int, cutoff_hz: float) -> np.ndarray:
    import scipy.signal

    sections = scipy.signal.butter(FILTER_ORDER, cutoff_hz, fs=rate, output="sos")
    return scipy.signal.sosfiltfilt(sections, audio).astype(np.float32)


def power_share_above(audio: np.ndarray, rate: int, cutoff_hz: float) -> float:
    power = np.abs(np.fft.rfft(audio)) ** 2
    freqs = np.fft.rfftfreq(len(audio), 1.0 / rate)
    return float(power[freqs > cutoff_hz].sum() / max(power.sum(), 1e-30))


def code_shift(full: np.ndarray, limited: np.ndarray) -> float:
    """Mean per-frame distance between two (frames, dim) codes, over the full code's own spread."""
    spread = float(np.linalg.norm(full - full.mean(0), axis=1).mean())
    if spread <= 0:
        raise UserError("a source gives the same content code in every frame (silence?)")
    return float(np.linalg.norm(limited - full, axis=1).mean()) / spread


def evaluate(args) -> dict:
    import torch

    from core.audio.io import load_audio
    from core.audio.mel import mel_frame_count
    from core.convert import VoiceModel

    torch.set_num_threads(args.threads)
    cutoffs = sorted(set(args.cutoffs))
    if cutoffs[0] <= 0:
        raise UserError(f"--cutoffs must be positive, got {cutoffs[0]:g}")
    if args.max_seconds <= 0:
        raise UserError(f"--max-seconds must be positive, got {args.max_seconds:g}")
    result: dict = {"sources": args.sources, "cutoffs_hz": cutoffs, "max_seconds": args.max_seconds, "models": {}}
    skipped: set[str] = set()
    for path in args.models:
        model = VoiceModel.load(path)
        rate, hop = model.sample_rate, model.hop_length
        if cutoffs[-1] >= rate / 2:
            raise UserError(f"a cut-off of {cutoffs[-1]:g} Hz is not under {path}'s Nyquist frequency, {rate / 2:g} Hz")
        shifts: dict[str, dict[str, float]] = {str(int(c)): {} for c in cutoffs}
        for source in args.sources:
            audio = load_audio(source, rate)[: int(args.max_seconds * rate)]
            frames = mel_frame_count(len(audio), hop)
            with torch.no_grad():
                full = model.content_encoder.encode(torch.from_numpy(audio), frames).numpy()
            for cutoff in cutoffs:
                if power_share_above(audio, rate, cutoff) < EMPTY_BAND_SHARE:
                    skipped.add(f"{source} at {cutoff:g} Hz")  # nothing up there to take away
                    continue
                with torch.no_grad():
                    cut = model.content_encoder.encode(torch.from_numpy(low_passed(audio, rate, cutoff)), frames)
                shifts[str(int(cutoff))][source] = code_shift(full, cut.numpy())
        empty = [cutoff for cutoff, by_source in shifts.items() if not by_source]
        if empty:
            raise UserError(f"no source holds anything above {', '.join(empty)} Hz, so a cut there takes nothing "
                            "away: use full-band recordings or lower cut-offs")
        result["models"][path] = {cutoff: {"mean": float(np.mean(list(by_source.values()))), "per_source": by_source}
                                  for cutoff, by_source in shifts.items()}
    result["skipped"] = sorted(skipped)
    return result


def report(result: dict) -> None:
    print("content code moved by a low-pass, over the code's own frame-to-frame spread (0 = not at all):")
    for path, by_cutoff in result["models"].items():
        figures = ", ".join(f"{cutoff} Hz {row['mean']:.3f}" for cutoff, row in by_cutoff.items())
        print(f"  {path}: {figures}")
    if result["skipped"]:
        print(f"  not cut (next to nothing above the cut-off, -50 dB): {', '.join(result['skipped'])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", required=True, help="model files (or names) whose encoders to compare")
    parser.add_argument("--sources", nargs="+", required=True, help="full-band recordings")
    parser.add_argument("--cutoffs", nargs="+", type=float, default=[4000.0, 8000.0], help="low-pass cut-offs in Hz")
    parser.add_argument("--max-seconds", type=float, default=6.0, help="each source is cut to this length")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    return run_report(evaluate, args, report)


if __name__ == "__main__":
    sys.exit(main())
