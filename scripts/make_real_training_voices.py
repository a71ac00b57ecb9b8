"""Real recorded voices, made to sing, as extra singers for TRAINING (not targets, not held-out sources).

    .venv/bin/python scripts/make_real_training_voices.py OUT_DIR [--clips 20] [--voices NAME ...]

Writes OUT_DIR/<voice>/<n>.wav (24 kHz), one folder per voice, the layout `comosvc preprocess`
reads. Every voice is one real speaker's recordings that Debian ships (scripts/setup.sh installs
the packages):
- Asterisk voice prompts, raw GSM 06.10 at 8 kHz (a telephone band): asterisk-prompt-es-co, a
  woman's voice, Colombian Spanish; asterisk-prompt-fr-armelle, Armelle Desjardins, French;
- KTuberling's spoken words (ktuberling-data), Ogg Vorbis at 44.1 kHz, one speaker a language:
  Lithuanian, Greek, German and Walloon (men) and Ukrainian (a woman). Left out: the languages
  whose words mix speakers or rates (Danish, Russian, Catalan, French, English) and the Slovenian
  words, which are clipped.
None of them is among the held-out voices of bench/make_sung_voices.py (the Asterisk packages those
come from are other speakers; Debian's Mexican Spanish package is Allison again, so it is not used).
The synthetic corpus teaches the network TTS speech only; these teach its content encoder real
speech. After training, `comosvc keep-singers MODEL --drop <these>` leaves them out of the model's
singers. Each clip joins recordings until 4.5 s of speech, then WORLD re-sings it onto a seeded tune
(core.data.corpus_render.sing_speech, the corpus's method), 2.5-8 s long like the corpus's clips.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.errors import UserError  # noqa: E402

SPEECH_PER_CLIP_S = 4.5
PAUSE_S = 0.15
SEED = 7
ASTERISK = Path("/usr/share/asterisk/sounds")
KTUBERLING = Path("/usr/share/ktuberling/sounds")
GSM_RATE = 8000  # Asterisk stores its prompts headerless, so the rate is not in the file


class RealVoice(NamedTuple):
    folder: Path
    pattern: str  # "*.gsm": headerless GSM at 8 kHz; anything else soundfile reads with its header
    low_midi: int
    high_midi: int
    shortest_s: float  # shorter recordings are skipped: Asterisk's beeps; KTuberling's words are short


# Append new voices at the end: a voice's seed is its position in this table.
VOICES = {
    "asterisk_es_co_female": RealVoice(ASTERISK / "es", "*.gsm", 55, 72, 0.8),
    "asterisk_fr_armelle_female": RealVoice(ASTERISK / "fr", "*.gsm", 53, 70, 0.8),
    # KTuberling: languages whose words one speaker recorded at one rate (checked with Resemblyzer:
    # every group of six words is within 0.79 cosine of its language's centroid)
    "ktuberling_lt_male": RealVoice(KTUBERLING / "lt", "*.ogg", 45, 62, 0.3),
    "ktuberling_uk_female": RealVoice(KTUBERLING / "uk", "*.ogg", 55, 72, 0.3),
    "ktuberling_el_male": RealVoice(KTUBERLING / "el", "*.ogg", 45, 62, 0.3),
    "ktuberling_de_male": RealVoice(KTUBERLING / "de", "*.ogg", 43, 60, 0.3),
    "ktuberling_wa_male": RealVoice(KTUBERLING / "wa", "*.ogg", 43, 60, 0.3),
}


def read_recording(path: Path) -> tuple[np.ndarray, int]:
    """One recording as mono float32 and its rate."""
    import soundfile as sf

    if path.suffix == ".gsm":
        audio, rate = sf.read(str(path), format="RAW", subtype="GSM610", samplerate=GSM_RATE, channels=1,
                              dtype="float32")
    else:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
        audio = audio.mean(axis=1)
    return audio, rate


def speech_pieces(voice: RealVoice) -> tuple[list[np.ndarray], int]:
    """The recordings in name order, joined with short pauses into pieces of about 4.5 s of speech."""
    pieces, current, rate = [], [], None
    for path in sorted(voice.folder.glob(voice.pattern)):
        audio, file_rate = read_recording(path)
        if rate is None:
            rate = file_rate
        if file_rate != rate:
            raise UserError(f"{path}: {file_rate} Hz where the voice's other recordings are {rate} Hz")
        if len(audio) < voice.shortest_s * rate:
            continue
        current += [audio, np.zeros(int(PAUSE_S * rate), np.float32)]
        if sum(len(a) for a in current) >= SPEECH_PER_CLIP_S * rate:
            pieces.append(np.concatenate(current))
            current = []
    return pieces, rate or GSM_RATE


def main(argv: list[str] | None = None) -> int:
    from core.audio.io import save_audio
    from core.data.corpus_render import sing_speech
    from core.data.corpus_spec import CorpusSpec

    spec = CorpusSpec()  # the synthetic corpus's rate, hop and clip lengths

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="output folder (one sub-folder per voice)")
    parser.add_argument("--clips", type=int, default=20, help="sung clips per voice")
    parser.add_argument("--voices", nargs="+", choices=list(VOICES), default=list(VOICES),
                        help="only these voices (default: all)")
    args = parser.parse_args(argv)
    made, missing = 0, []
    for index, (name, voice) in enumerate(VOICES.items()):
        if name not in args.voices:
            continue
        try:
            pieces, rate = speech_pieces(voice)
        except UserError as exc:  # one line, not a traceback; the voices already written stay whole
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code
        pieces = pieces[: args.clips]
        if not pieces:
            missing.append(name)
            continue
        voice_dir = Path(args.out) / name
        voice_dir.mkdir(parents=True, exist_ok=True)
        for clip, speech in enumerate(pieces):
            rng = np.random.default_rng([SEED, index, clip])
            sung = sing_speech(speech, rate, voice.low_midi, voice.high_midi, 1.0, rng, spec.sample_rate,
                               spec.hop_length, spec.min_seconds, spec.max_seconds)
            save_audio(voice_dir / f"{clip}.wav", sung.audio, spec.sample_rate)
            made += 1
        print(f"{voice_dir}: {len(pieces)} clips")
    if missing:
        print(f"not installed (run scripts/setup.sh): {', '.join(missing)}", file=sys.stderr)
    return 0 if made else 2


if __name__ == "__main__":
    sys.exit(main())
