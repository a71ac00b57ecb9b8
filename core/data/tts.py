"""Spoken-text sources for the synthetic corpus: the Debian TTS engines, called as subprocesses.

Each engine is deterministic for a fixed text and voice, which the corpus relies on
for byte-identical re-runs.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from core.errors import UserError

# Debian package that provides each engine binary / voice, for the error messages.
ENGINE_PACKAGES = {"flite": "flite", "festival": "festival", "espeak-ng": "espeak-ng"}
FESTIVAL_VOICE_PACKAGES = {
    "kal_diphone": "festvox-kallpc16k",
    "ked_diphone": "festvox-kdlpc16k",
    "cmu_us_slt_arctic_hts": "festvox-us-slt-hts",
    "rab_diphone": "festvox-rablpc16k",
    "don_diphone": "festvox-don",
    "lp_diphone": "festvox-italp16k",
    "pc_diphone": "festvox-itapc16k",
    "czech_dita": "festvox-czech-dita",
    "czech_krb": "festvox-czech-krb",
    "czech_machac": "festvox-czech-machac",
    "czech_ph": "festvox-czech-ph",
    "suo_fi_lj_diphone": "festvox-suopuhe-lj",
    "hy_fi_mv_diphone": "festvox-suopuhe-mv",
    "msu_ru_nsh_clunits": "festvox-ru",
    "upc_ca_ona_hts": "festvox-ca-ona-hts",
}
_FESTIVAL_VOICE_ROOT = Path("/usr/share/festival/voices")
_TTS_TIMEOUT_S = 60


@dataclass(frozen=True)
class TtsVoice:
    """One engine + voice; `voice` is what the engine's command line takes."""

    engine: str  # "flite" | "festival" | "espeak-ng"
    voice: str

    @property
    def label(self) -> str:
        return f"{self.engine}:{self.voice}"

    @property
    def package(self) -> str:
        if self.engine == "festival":
            return FESTIVAL_VOICE_PACKAGES.get(self.voice, "festival")
        return ENGINE_PACKAGES[self.engine]


def missing_reason(voice: TtsVoice) -> str | None:
    """None if `voice` can speak here, else a one-line reason naming the Debian package."""
    binary = {"flite": "flite", "festival": "text2wave", "espeak-ng": "espeak-ng"}[voice.engine]
    if shutil.which(binary) is None:
        return f"{voice.label}: '{binary}' not found (apt-get install {ENGINE_PACKAGES[voice.engine]})"
    if voice.engine == "flite" and voice.voice not in _flite_voices():
        return f"{voice.label}: flite has no voice '{voice.voice}' (apt-get install flite)"
    if voice.engine == "festival" and not any(_FESTIVAL_VOICE_ROOT.glob(f"*/{voice.voice}")):
        return f"{voice.label}: festival voice not installed (apt-get install {voice.package})"
    if voice.engine == "espeak-ng":
        language = voice.voice.split("+")[0]
        if language not in _espeak_languages():
            return f"{voice.label}: espeak-ng has no voice '{language}' (apt-get install espeak-ng-data)"
    return None


def speak(text: str, voice: TtsVoice) -> tuple[np.ndarray, int]:
    """Synthesize `text` with `voice`; returns (float32 mono audio, its sample rate)."""
    with tempfile.TemporaryDirectory(prefix="comosvc-tts-") as tmp:
        wav = Path(tmp) / "speech.wav"
        if voice.engine == "flite":
            command = ["flite", "-voice", voice.voice, "-t", text, "-o", str(wav)]
        elif voice.engine == "festival":
            text_file = Path(tmp) / "text.txt"
            text_file.write_text(text + "\n")
            command = ["text2wave", "-eval", f"(voice_{voice.voice})", str(text_file), "-o", str(wav)]
        elif voice.engine == "espeak-ng":
            command = ["espeak-ng", "-v", voice.voice, "-w", str(wav), text]
        else:
            raise UserError(f"unknown TTS engine '{voice.engine}'")
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=_TTS_TIMEOUT_S)
            audio, rate = sf.read(wav, dtype="float32", always_2d=True)
        except FileNotFoundError as exc:
            raise UserError(f"{voice.label}: TTS engine not found (apt-get install {voice.package})") from exc
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, RuntimeError) as exc:
            raise UserError(f"{voice.label}: speech synthesis failed ({type(exc).__name__})") from exc
    if audio.shape[0] == 0:
        raise UserError(f"{voice.label}: speech synthesis produced no audio")
    return np.ascontiguousarray(audio.mean(axis=1), dtype=np.float32), int(rate)


def _flite_voices() -> set[str]:
    try:
        out = subprocess.run(["flite", "-lv"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return set()
    return set(out.split(":", 1)[-1].split())


def _espeak_languages() -> set[str]:
    try:
        out = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return set()
    return {line.split()[1] for line in out.splitlines()[1:] if len(line.split()) > 1}
