"""The paper's mel front end (CoMoSVC / so-vits-svc / DDSP-SVC practice).

Exactly: reflect-pad (win - hop)/2 on each side, STFT with center=False and a
Hann window, magnitude sqrt(re^2 + im^2 + eps), Slaney mel filterbank (as
librosa's default), log10(clamp(x, 1e-5)). The padding makes the frame count
exactly len // hop, and frame t covers samples [t*hop - (win-hop)/2,
t*hop + (win+hop)/2), so it is centred at t*hop + hop/2.

Key shift (augmentation, as in so-vits-svc/DDSP-SVC): the FFT and window grow
by 2^(k/12) (rounded), the hop stays; the magnitude is cropped or zero-padded
back to n_fft//2 + 1 bins and scaled by win/win_new, so a partial at f lands
where f * 2^(k/12) would have been.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio.functional as AF

from core.config import AudioConfig


def mel_frame_count(n_samples: int, hop_length: int) -> int:
    """Frames the front end yields for `n_samples` samples."""
    return max(int(n_samples) // int(hop_length), 0)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> torch.Tensor:
    """(n_mels, n_fft // 2 + 1) float32 Slaney mel filterbank: the one every mel of this project is made with."""
    return AF.melscale_fbanks(n_freqs=n_fft // 2 + 1, f_min=fmin, f_max=fmax, n_mels=n_mels,
                              sample_rate=sample_rate, norm="slaney", mel_scale="slaney").T.contiguous()


class MelSpectrogram(torch.nn.Module):
    """Audio (T,) or (B, T) -> log10 mel (n_mels, T//hop) or (B, n_mels, T//hop)."""

    def __init__(self, audio_cfg: AudioConfig) -> None:
        super().__init__()
        self.cfg = audio_cfg
        basis = mel_filterbank(audio_cfg.sample_rate, audio_cfg.n_fft, audio_cfg.n_mels, audio_cfg.fmin, audio_cfg.fmax)
        # Not persistent: it is derived from the config, never stored in model files.
        self.register_buffer("mel_basis", basis, persistent=False)
        # (win_length, device, dtype) -> Hann window; built once, reused every call.
        self._windows: dict[tuple[int, str, torch.dtype], torch.Tensor] = {}
        # Copies of the filterbank for audio on another device/dtype than the module's.
        self._bases: dict[tuple[str, torch.dtype], torch.Tensor] = {}

    def _basis(self, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        if self.mel_basis.device == device and self.mel_basis.dtype == dtype:
            return self.mel_basis
        key = (str(device), dtype)
        basis = self._bases.get(key)
        if basis is None:
            basis = self.mel_basis.to(device=device, dtype=dtype)
            self._bases[key] = basis
        return basis

    def _window(self, win_length: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        key = (win_length, str(device), dtype)
        window = self._windows.get(key)
        if window is None:
            window = torch.hann_window(win_length, device=device, dtype=dtype)
            self._windows[key] = window
        return window

    def magnitude(self, audio: torch.Tensor, key_shift: float = 0.0) -> torch.Tensor:
        """Linear STFT magnitude (B, n_fft//2+1, T//hop), key shift applied."""
        cfg = self.cfg
        factor = 2.0 ** (float(key_shift) / 12.0)
        n_fft = int(round(cfg.n_fft * factor))
        win_length = int(round(cfg.win_length * factor))
        hop = cfg.hop_length
        pad_left = (win_length - hop) // 2
        pad_right = (win_length - hop + 1) // 2
        n_samples = audio.shape[-1]
        # Reflect padding needs more samples than the pad; very short inputs get zeros instead.
        mode = "reflect" if max(pad_left, pad_right) < n_samples else "constant"
        padded = F.pad(audio.unsqueeze(1), (pad_left, pad_right), mode=mode).squeeze(1)
        if padded.shape[-1] < n_fft:
            bins = cfg.n_fft // 2 + 1
            return audio.new_zeros(audio.shape[0], bins, 0)
        spec = torch.stft(
            padded,
            n_fft,
            hop_length=hop,
            win_length=win_length,
            window=self._window(win_length, audio.device, audio.dtype),
            center=False,
            return_complex=True,
        )
        mag = torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + cfg.mag_eps)
        if n_fft != cfg.n_fft:
            bins = cfg.n_fft // 2 + 1
            if mag.shape[1] < bins:
                mag = F.pad(mag, (0, 0, 0, bins - mag.shape[1]))
            mag = mag[:, :bins, :] * (cfg.win_length / win_length)
        return mag[..., : mel_frame_count(n_samples, hop)]

    def forward(self, audio: torch.Tensor | np.ndarray, key_shift: float = 0.0) -> torch.Tensor:
        if isinstance(audio, np.ndarray):
            audio = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)).to(self.mel_basis.device)
        if audio.dim() not in (1, 2):
            raise ValueError(f"audio must be (T,) or (B, T), got shape {tuple(audio.shape)}")
        single = audio.dim() == 1
        batch = audio.unsqueeze(0) if single else audio
        if not batch.is_floating_point():
            batch = batch.float()
        mag = self.magnitude(batch, key_shift)
        mel = torch.matmul(self._basis(batch.device, batch.dtype), mag)
        log_mel = torch.log10(torch.clamp(mel, min=self.cfg.log_clamp))
        return log_mel[0] if single else log_mel


def normalize(log_mel: torch.Tensor, audio_cfg: AudioConfig) -> torch.Tensor:
    """log10 mel -> [-1, 1] over [spec_min, spec_max] (not clipped, so it inverts exactly)."""
    span = audio_cfg.spec_max - audio_cfg.spec_min
    return (log_mel - audio_cfg.spec_min) / span * 2.0 - 1.0


def denormalize(x: torch.Tensor, audio_cfg: AudioConfig) -> torch.Tensor:
    """[-1, 1] -> log10 mel; the inverse of `normalize`."""
    span = audio_cfg.spec_max - audio_cfg.spec_min
    return (x + 1.0) / 2.0 * span + audio_cfg.spec_min


def mel_bin_of(freq_hz: float, audio_cfg: AudioConfig) -> float:
    """Fractional mel-bin index whose filter centre sits at `freq_hz` (Slaney scale)."""
    lo, hi = _slaney_hz_to_mel(audio_cfg.fmin), _slaney_hz_to_mel(audio_cfg.fmax)
    step = (hi - lo) / (audio_cfg.n_mels + 1)
    return (_slaney_hz_to_mel(freq_hz) - lo) / step - 1.0


def _slaney_hz_to_mel(freq: float) -> float:
    # Linear below 1 kHz, logarithmic above (Slaney's Auditory Toolbox, librosa's default).
    f_sp, min_log_hz = 200.0 / 3.0, 1000.0
    if freq < min_log_hz:
        return freq / f_sp
    return min_log_hz / f_sp + math.log(freq / min_log_hz) / (math.log(6.4) / 27.0)
