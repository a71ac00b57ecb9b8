"""Real recorded voices, made to sing, as extra singers for TRAINING (not targets, not held-out sources).

    .venv/bin/python scripts/make_real_training_voices.py OUT_DIR [--clips 20]

Writes OUT_DIR/<voice>/<n>.wav (24 kHz), one folder per voice, the layout `comosvc preprocess`
reads. The voices are Asterisk voice prompts that Debian ships (installed by scripts/setup.sh) as
raw GSM 06.10 at 8 kHz, a telephone band:
- asterisk-prompt-es-co: a woman's voice, Colombian Spanish;
- asterisk-prompt-fr-armelle: Armelle Desjardins, a woman's voice, French.
Neither speaker is among the held-out voices of bench/make_sung_voices.py (the Asterisk packages
those come from are other speakers; Debian's Mexican Spanish package is Allison again, so it is not
used). The synthetic corpus teaches the network TTS speech only; these teach its content encoder
real speech. After training, `comosvc keep-singers MODEL --drop <these>` leaves them out of the
model's singers. Each clip joins prompts until 4.5 s of speech, then WORLD re-sings it onto a seeded
tune (core.data.corpus_render.sing_speech, the corpus's method), 2.5-8 s long like the corpus's clips.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PROMPT_RATE = 8000
SPEECH_PER_CLIP_S = 4.5
SHORTEST_PROMPT_S = 0.8  # beeps and single words
PAUSE = np.zeros(int(0.15 * PROMPT_RATE), np.float32)
SOUNDS = Path("/usr/share/asterisk/sounds")
SEED = 7

# name: (folder of .gsm prompts, low MIDI, high MIDI). Append new voices at the end: a voice's seed
# is its position in this table.
VOICES = {
    "asterisk_es_co_female": (SOUNDS / "es", 55, 72),
    "asterisk_fr_armelle_female": (SOUNDS / "fr", 53, 70),
}


def read_gsm(path: Path) -> np.ndarray:
    """A raw (headerless) GSM 06.10 file at 8 kHz, as Asterisk stores its prompts."""
    import soundfile as sf

    audio, _ = sf.read(str(path), format="RAW", subtype="GSM610", samplerate=PROMPT_RATE, channels=1,
                       dtype="float32")
    return audio


def speech_pieces(folder: Path) -> list[np.ndarray]:
    """The prompts in name order, joined with short pauses into pieces of about 4.5 s of speech."""
    pieces, current = [], []
    for path in sorted(folder.glob("*.gsm")):
        audio = read_gsm(path)
        if len(audio) < SHORTEST_PROMPT_S * PROMPT_RATE:
            continue
        current += [audio, PAUSE]
        if sum(len(a) for a in current) >= SPEECH_PER_CLIP_S * PROMPT_RATE:
            pieces.append(np.concatenate(current))
            current = []
    return pieces


def main(argv: list[str] | None = None) -> int:
    from core.audio.io import save_audio
    from core.data.corpus_render import sing_speech
    from core.data.corpus_spec import CorpusSpec

    spec = CorpusSpec()  # the synthetic corpus's rate, hop and clip lengths

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="output folder (one sub-folder per voice)")
    parser.add_argument("--clips", type=int, default=20, help="sung clips per voice")
    args = parser.parse_args(argv)
    made, missing = 0, []
    for index, (name, (folder, low, high)) in enumerate(VOICES.items()):
        pieces = speech_pieces(folder)[: args.clips]
        if not pieces:
            missing.append(name)
            continue
        voice_dir = Path(args.out) / name
        voice_dir.mkdir(parents=True, exist_ok=True)
        for clip, speech in enumerate(pieces):
            rng = np.random.default_rng([SEED, index, clip])
            sung = sing_speech(speech, PROMPT_RATE, low, high, 1.0, rng, spec.sample_rate, spec.hop_length,
                               spec.min_seconds, spec.max_seconds)
            save_audio(voice_dir / f"{clip}.wav", sung.audio, spec.sample_rate)
            made += 1
        print(f"{voice_dir}: {len(pieces)} clips")
    if missing:
        print(f"not installed (run scripts/setup.sh): {', '.join(missing)}", file=sys.stderr)
    return 0 if made else 2


if __name__ == "__main__":
    sys.exit(main())
