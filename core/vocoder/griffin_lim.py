"""Griffin-Lim through torchaudio: no training, no f0; a fallback and a test reference.

The log10 mel is turned back into a linear magnitude with the filterbank's
pseudo-inverse (clamped at zero), then torchaudio's Griffin-Lim estimates a
phase. Our front end centres frame t at sample t*hop + hop/2 while torchaudio
centres it at t*hop, hence the half-hop shift. Phases start from zero (not
random) so that the same frames always give the same audio, which lets the
context stream run it block by block.
"""

from __future__ import annotations

import torch
import torchaudio

from core.audio.mel import MelSpectrogram
from core.config import AudioConfig
from core.vocoder.base import Vocoder


class GriffinLimVocoder(Vocoder):
    name = "griffin-lim"

    def __init__(self, audio_cfg: AudioConfig, n_iter: int = 32, context_frames: int = 16,
                 lookahead_frames: int = 4, crossfade_frames: int = 2) -> None:
        self.cfg = audio_cfg
        self.sample_rate, self.hop_length, self.n_mels = audio_cfg.sample_rate, audio_cfg.hop_length, audio_cfg.n_mels
        self.inverse_basis = torch.linalg.pinv(MelSpectrogram(audio_cfg).mel_basis)
        self.griffin_lim = torchaudio.transforms.GriffinLim(
            n_fft=audio_cfg.n_fft, n_iter=n_iter, win_length=audio_cfg.win_length, hop_length=audio_cfg.hop_length,
            power=1.0, rand_init=False)
        self.context_frames, self.lookahead_frames, self.crossfade_frames = context_frames, lookahead_frames, crossfade_frames
        self.latency_samples = lookahead_frames * self.hop_length

    def front_end(self) -> AudioConfig:
        return self.cfg

    def render(self, log_mel: torch.Tensor, f0: torch.Tensor, phase0: float = 0.0, start_sample: int = 0) -> torch.Tensor:
        frames = log_mel.shape[1]
        if frames == 0:
            return log_mel.new_zeros(0)
        magnitude = (self.inverse_basis @ torch.pow(10.0, log_mel)).clamp(min=0.0)
        with torch.no_grad():
            audio = self.griffin_lim(magnitude)
        shift = self.hop_length // 2
        audio = torch.nn.functional.pad(audio, (shift, 0))
        n = frames * self.hop_length
        return torch.nn.functional.pad(audio, (0, max(0, n - audio.shape[0])))[:n]

    def synthesize(self, log_mel: torch.Tensor, f0: torch.Tensor) -> torch.Tensor:
        log_mel, f0 = self.check_inputs(log_mel, f0)
        return self.render(log_mel, f0)

    def _move_weights(self, device: torch.device) -> None:
        self.inverse_basis = self.inverse_basis.to(device)
        self.griffin_lim.to(device)

    def stream(self):
        from core.vocoder.context_stream import ContextStream

        return ContextStream(self, self.context_frames, self.lookahead_frames, self.crossfade_frames)
