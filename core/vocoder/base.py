"""The vocoder interface: log10 mel (as `core.audio.mel.MelSpectrogram` makes it) + f0 -> audio.

Every vocoder offers whole-utterance synthesis and a stateful stream for live
use. A stream's `process` takes a block of frames and returns exactly
`frames * hop_length` samples, so the live engine never has to track a delay
inside the vocoder (vocoders that need future context hide it in their own
latency figure, `latency_samples`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch


class VocoderStream(ABC):
    """Block-by-block synthesis that carries its state between blocks."""

    @abstractmethod
    def process(self, log_mel: torch.Tensor, f0: torch.Tensor) -> torch.Tensor:
        """(n_mels, frames) log10 mel, (frames,) Hz -> (frames * hop,) audio."""

    @abstractmethod
    def reset(self) -> None:
        """Forget all history, as if freshly made."""


class Vocoder(ABC):
    """Turns a log10 mel and an f0 track (Hz, 0 = unvoiced) into audio."""

    name: str = "vocoder"
    sample_rate: int
    hop_length: int
    n_mels: int
    # Samples by which a stream's output lags the audio the frames describe.
    latency_samples: int = 0
    # Where synthesis runs; inputs are moved here once per call (check_inputs).
    device: torch.device = torch.device("cpu")

    def fits(self, audio) -> bool:
        """True when this vocoder reads the mels of `audio` (an AudioConfig): same rate, hop and mel count."""
        return (self.sample_rate, self.hop_length, self.n_mels) == (audio.sample_rate, audio.hop_length, audio.n_mels)

    def to(self, device: torch.device | str) -> "Vocoder":
        """Run on `device` from now on; vocoders with weights move them too (`_move_weights`)."""
        self.device = torch.device(device)
        self._move_weights(self.device)
        return self

    def _move_weights(self, device: torch.device) -> None:
        """Vocoders without weights compute wherever their inputs are."""

    @abstractmethod
    def synthesize(self, log_mel: torch.Tensor, f0: torch.Tensor) -> torch.Tensor:
        """(n_mels, frames), (frames,) -> (frames * hop,) audio."""

    @abstractmethod
    def stream(self) -> VocoderStream:
        """A fresh stream for live use."""

    def check_inputs(self, log_mel: torch.Tensor, f0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Tensors of the right shape and dtype, or a ValueError that says what is wrong."""
        log_mel = torch.as_tensor(log_mel, dtype=torch.float32, device=self.device)
        f0 = torch.as_tensor(f0, dtype=torch.float32, device=self.device)
        if log_mel.dim() != 2 or log_mel.shape[0] != self.n_mels:
            raise ValueError(f"{self.name}: log_mel must be ({self.n_mels}, frames), got {tuple(log_mel.shape)}")
        if f0.dim() != 1 or f0.shape[0] != log_mel.shape[1]:
            raise ValueError(f"{self.name}: f0 must be ({log_mel.shape[1]},), got {tuple(f0.shape)}")
        return log_mel, f0
