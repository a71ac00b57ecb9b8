"""Held-out REAL human voices, made to sing: the sources bench_quality.py converts.

    .venv/bin/python bench/make_sung_voices.py OUT_DIR [--seed 0] [--seconds 6] [--clips 2]

Real recordings that Debian packages ship (installed by scripts/setup.sh), none of them in any
training corpus of this project:
- alsa-utils: /usr/share/sounds/alsa/*.wav, a woman's voice, 48 kHz (8 short phrases, joined);
- asterisk-core-sounds-en-wav: Allison, a woman's voice, US English, 8 kHz telephone band;
- asterisk-core-sounds-it-wav: Carlo, a man's voice, Italian, 8 kHz telephone band;
- asterisk-core-sounds-fr-wav: June, a woman's voice, Canadian French, 8 kHz telephone band;
- asterisk-prompt-it-menardi-wav: Menardi, a woman's voice, Italian, 8 kHz telephone band;
- asterisk-core-sounds-ru-wav: a woman's voice, Russian, 8 kHz telephone band;
- fillets-ng-data-cs and fillets-ng-data-nl: the two fish of the game Fish Fillets, each voiced by
  one actor in Czech and one in Dutch, 22.05 kHz Ogg Vorbis (full band to 11 kHz). The files name
  their speaker (`-m-` the small fish, `-v-` the big one); a voice is the first 12 files in name
  order. The small fish speak at a median F0 of 282 Hz (Czech) and 207 Hz (Dutch) and sing in the
  women's range here; the big fish, 134 and 137 Hz, in the men's.
The first three are the sets BENCHMARKS.md has measured since session 12; the next three (session 40)
widen the held-out voices; the four fish (session 46) add full-band voices and two more men. Each
voice keeps its own seeds, so adding a voice changes no earlier clip.
Each is re-sung by WORLD onto a seeded tune in a range that suits the voice (the corpus's method,
core.data.corpus_render.sing_speech), so the sources are real voices singing imposed melodies.
Writes OUT_DIR/<voice>_<n>.wav at 24 kHz and OUT_DIR/voices.json (the intended F0 per frame).
Clip n of N sings the n-th of N equal stretches of the voice's speech, so a clip depends on N as
well as n: `_0` and `_1` from `--clips 2` (halves) are not those from `--clips 4` (quarters).
BENCHMARKS.md says which N each set of clips came from.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RATE, HOP = 24000, 128

ASTERISK = Path("/usr/share/asterisk/sounds")
PROMPTS = ("demo-congrats.wav", "demo-echotest.wav", "vm-intro.wav")
FILLETS = Path("/usr/share/games/fillets-ng/sound")
FILLETS_FILES = 12


def _fillets_lines(language: str, fish: str) -> list[Path]:
    """One fish's lines in one language: the game names each file by its speaker (m: small, v: big)."""
    return sorted(FILLETS.glob(f"*/{language}/*-{fish}-*.ogg"))[:FILLETS_FILES]


# name: (files, low MIDI, high MIDI); phrases are joined with a short pause before singing.
# Append new voices at the end: a voice's seed is its position in this table.
VOICES = {
    "alsa_female": (sorted(Path("/usr/share/sounds/alsa").glob("[FRS]*_*.wav")), 55, 72),
    "allison_female": ([ASTERISK / "en_US_f_Allison" / n for n in PROMPTS], 55, 72),
    "carlo_male": ([ASTERISK / "it_IT_m_Carlo" / n for n in PROMPTS], 45, 62),
    "june_female": ([ASTERISK / "fr_CA_f_June" / n for n in PROMPTS], 55, 72),
    "menardi_female": ([ASTERISK / "it_IT_f_Menardi" / n for n in PROMPTS], 55, 72),
    "ivr_ru_female": ([ASTERISK / "ru_RU_f_IvrvoiceRU" / n for n in PROMPTS], 55, 72),
    "fillets_cs_small": (_fillets_lines("cs", "m"), 55, 72),
    "fillets_cs_big": (_fillets_lines("cs", "v"), 45, 62),
    "fillets_nl_small": (_fillets_lines("nl", "m"), 55, 72),
    "fillets_nl_big": (_fillets_lines("nl", "v"), 45, 62),
}


def _joined_speech(files: list[Path], pause_s: float = 0.15) -> tuple[np.ndarray, int]:
    from core.audio.io import load_audio

    pieces, rate = [], RATE
    for path in files:
        if path.is_file():
            pieces += [load_audio(path, rate), np.zeros(int(pause_s * rate), np.float32)]
    return (np.concatenate(pieces) if pieces else np.zeros(0, np.float32)), rate


def main(argv: list[str] | None = None) -> int:
    from core.audio.io import save_audio
    from core.data.corpus_render import sing_speech

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each sung clip")
    parser.add_argument("--clips", type=int, default=2,
                        help="sung clips per voice, each an equal stretch of its speech (default 2)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    made, missing = {}, []
    for index, (name, (files, low, high)) in enumerate(VOICES.items()):
        speech, rate = _joined_speech(files)
        if len(speech) < rate:
            missing.append(name)
            continue
        # Each clip sings a different stretch of the joined speech.
        stretch = len(speech) // args.clips
        for clip in range(args.clips):
            rng = np.random.default_rng([args.seed, index, clip])
            part = speech[clip * stretch:(clip + 1) * stretch]
            sung = sing_speech(part, rate, low, high, 1.0, rng, RATE, HOP, args.seconds, args.seconds)
            path = out / f"{name}_{clip}.wav"
            save_audio(path, sung.audio, RATE)
            made[path.name] = {"voice": name, "f0": [round(float(f), 2) for f in sung.f0]}
            print(f"{path} {len(sung.audio) / RATE:.1f} s")
    (out / "voices.json").write_text(json.dumps(made))
    if missing:
        print(f"not installed (run scripts/setup.sh): {', '.join(missing)}", file=sys.stderr)
    return 0 if made else 2


if __name__ == "__main__":
    sys.exit(main())
