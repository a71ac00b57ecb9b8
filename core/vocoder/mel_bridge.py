"""Drive a vocoder trained on another mel front end (e.g. openvpi's 44.1 kHz NSF-HiFiGAN)
from our 24 kHz log10 mel, offline.

Per source frame: log10 mel -> linear mel -> STFT magnitude through the
filterbank's pseudo-inverse (clamped at zero) -> scaled by
sqrt(target window / source window) (a mel band sums many bins, so it grows
like energy rather than like a sinusoid's peak; on our synthetic singing the
plain window ratio left a +0.27 log10 bias, this leaves about 0) -> resampled onto
the target's FFT bins (nothing above the source's Nyquist) -> target
filterbank -> log10. Frames are then interpolated from the source frame
centres to the target's (log domain), f0 likewise (nearest for voicing).
The target vocoder's audio is resampled back to the source rate and cut to
frames * hop, so the bridge looks like any vocoder of the source front end.

It is an approximation: detail the 24 kHz mel never had (above 12 kHz, or
finer than its filters) cannot be recovered. Live streaming across unequal
frame rates is not offered; use a vocoder made for the model's front end.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from core.audio.mel import MelSpectrogram
from core.audio.resample import resample
from core.config import AudioConfig
from core.errors import UserError
from core.vocoder.base import Vocoder, VocoderStream


def _frame_centres(frames: int, cfg: AudioConfig) -> torch.Tensor:
    return (torch.arange(frames, dtype=torch.float64) + 0.5) * cfg.hop_length / cfg.sample_rate


def _interp_frames(values: torch.Tensor, src_t: torch.Tensor, dst_t: torch.Tensor) -> torch.Tensor:
    """(C, Fs) sampled at src_t -> (C, Fd) at dst_t, linear, edges held."""
    pos = ((dst_t - src_t[0]) / (src_t[1] - src_t[0] if len(src_t) > 1 else 1.0)).clamp(0, len(src_t) - 1)
    lo = pos.floor().long().clamp(max=len(src_t) - 1)
    hi = (lo + 1).clamp(max=len(src_t) - 1)
    w = (pos - lo).to(values.dtype)
    return values[:, lo] * (1 - w) + values[:, hi] * w


class MelBridge(Vocoder):
    def __init__(self, target: Vocoder, target_front: AudioConfig, source_front: AudioConfig) -> None:
        self.target, self.tgt, self.src = target, target_front, source_front
        self.name = f"{target.name} via {source_front.sample_rate} Hz mel bridge"
        self.sample_rate, self.hop_length, self.n_mels = source_front.sample_rate, source_front.hop_length, source_front.n_mels
        self.src_inverse = torch.linalg.pinv(MelSpectrogram(source_front).mel_basis)   # (src bins, src mels)
        self.tgt_basis = MelSpectrogram(target_front).mel_basis                      # (tgt mels, tgt bins)
        src_bins = source_front.n_fft // 2 + 1
        tgt_hz = torch.arange(target_front.n_fft // 2 + 1) * target_front.sample_rate / target_front.n_fft
        pos = tgt_hz / (source_front.sample_rate / source_front.n_fft)
        inside = pos <= src_bins - 1
        lo = pos.floor().long().clamp(max=src_bins - 1)
        w = (pos - lo).clamp(0, 1)
        remap = torch.zeros(len(tgt_hz), src_bins)
        rows = torch.arange(len(tgt_hz))[inside]
        remap[rows, lo[inside]] = 1 - w[inside]
        remap[rows, (lo[inside] + 1).clamp(max=src_bins - 1)] += w[inside]
        self.to_target = self.tgt_basis @ remap * (target_front.win_length / source_front.win_length) ** 0.5

    def front_end(self) -> AudioConfig:
        return self.src

    def _move_weights(self, device: torch.device) -> None:
        self.src_inverse, self.tgt_basis = self.src_inverse.to(device), self.tgt_basis.to(device)
        self.to_target = self.to_target.to(device)
        self.target.to(device)

    def convert(self, log_mel: torch.Tensor, f0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        magnitude = (self.src_inverse @ torch.pow(10.0, log_mel)).clamp(min=0)
        tgt_log = torch.log10((self.to_target @ magnitude).clamp(min=self.tgt.log_clamp))
        frames = int(log_mel.shape[1] * self.src.hop_length / self.src.sample_rate * self.tgt.sample_rate
                     // self.tgt.hop_length) + 1
        src_t, dst_t = (_frame_centres(n, cfg).to(log_mel.device) for n, cfg in ((log_mel.shape[1], self.src),
                                                                                  (frames, self.tgt)))
        mel = _interp_frames(tgt_log, src_t, dst_t)
        voiced = _interp_frames((f0 > 0).float()[None], src_t, dst_t)[0] >= 0.5
        filled = torch.where(f0 > 0, f0, f0[f0 > 0].mean() if (f0 > 0).any() else f0.new_zeros(()))
        hz = _interp_frames(filled[None], src_t, dst_t)[0] * voiced
        return mel, hz

    def synthesize(self, log_mel: torch.Tensor, f0: torch.Tensor) -> torch.Tensor:
        log_mel, f0 = self.check_inputs(log_mel, f0)
        n = log_mel.shape[1] * self.hop_length
        if n == 0:
            return torch.zeros(0)
        mel, hz = self.convert(log_mel, f0)
        audio = resample(self.target.synthesize(mel, hz), self.tgt.sample_rate, self.src.sample_rate)
        return F.pad(audio, (0, max(0, n - audio.shape[0])))[:n]

    def stream(self) -> VocoderStream:
        raise UserError(f"{self.name} works offline only; live use needs a vocoder at the model's frame rate")
