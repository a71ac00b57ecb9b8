"""Pick a vocoder by name or file.

- "griffin-lim": no weights, always available.
- "builtin": `vocoder_builtin.safetensors` in the model folders (see
  core.models), where `comosvc train vocoder` puts it.
- "nsf-hifigan-m4singer" / "nsf-hifigan-openvpi": the file `comosvc
  import-vocoder` writes for that layout (NSF_FILES); "nsf-hifigan": the
  M4Singer one (the paper's 24 kHz vocoder) if there, else the openvpi one,
  else a file of the name older versions wrote for either.
- a path: a vocoder file, or a whole-model file with a vocoder embedded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from core.config import AudioConfig
from core.errors import UserError
from core.models import model_dirs

if TYPE_CHECKING:  # torch: the CLI's parsers read VOCODER_NAMES, and --help must not wait for it
    from core.vocoder.base import Vocoder

# One file name per imported layout, so importing one never replaces the other.
NSF_FILES = {"m4singer": "vocoder_nsf_hifigan_m4singer.safetensors",
             "openvpi": "vocoder_nsf_hifigan_openvpi_44k.safetensors"}
LEGACY_NSF_FILE = "vocoder_nsf_hifigan.safetensors"
# Each name's files, in order of preference.
NAMED_FILES = {
    "builtin": ("vocoder_builtin.safetensors",),
    "nsf-hifigan": (NSF_FILES["m4singer"], NSF_FILES["openvpi"], LEGACY_NSF_FILE),
    "nsf-hifigan-m4singer": (NSF_FILES["m4singer"],),
    "nsf-hifigan-openvpi": (NSF_FILES["openvpi"],),
}
VOCODER_NAMES = ("builtin", "nsf-hifigan", "nsf-hifigan-m4singer", "nsf-hifigan-openvpi", "griffin-lim")


def named_vocoder_path(name: str) -> Path | None:
    for file_name in NAMED_FILES[name]:
        for folder in model_dirs():
            candidate = folder / file_name
            if candidate.is_file():
                return candidate
    return None


def load_vocoder(spec: str, audio_cfg: AudioConfig) -> Vocoder:
    from core.vocoder.files import load_vocoder_file

    if spec == "griffin-lim":
        from core.vocoder.griffin_lim import GriffinLimVocoder

        return GriffinLimVocoder(audio_cfg)
    if spec in NAMED_FILES:
        path = named_vocoder_path(spec)
        if path is None:
            how = "train one with 'comosvc train vocoder'" if spec == "builtin" else \
                "import a checkpoint with 'comosvc import-vocoder FILE'"
            folders = ", ".join(str(d) for d in model_dirs())
            raise UserError(f"no {' or '.join(NAMED_FILES[spec])} in the model folders ({folders}); {how}, "
                            "or pass a file path")
        return load_vocoder_file(path)
    path = Path(spec)
    if path.suffix or path.exists():
        return load_vocoder_file(path)
    raise UserError(f"unknown vocoder '{spec}'; choose one of {', '.join(VOCODER_NAMES)} or give a file path")


def same_front_end(a: AudioConfig, b: AudioConfig) -> bool:
    keys = ("sample_rate", "n_fft", "win_length", "hop_length", "n_mels", "fmin", "fmax")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


def vocoder_for_front_end(vocoder: Vocoder, audio_cfg: AudioConfig) -> Vocoder:
    """The vocoder itself if it reads `audio_cfg`'s mel, else an offline bridge from that mel to its own."""
    own = vocoder.front_end() if hasattr(vocoder, "front_end") else audio_cfg
    if same_front_end(own, audio_cfg):
        return vocoder
    from core.vocoder.mel_bridge import MelBridge

    return MelBridge(vocoder, own, audio_cfg)
