"""Neural pitch trackers whose weights ship inside their wheels: CREPE and FCPE.

Both run at 16 kHz; the audio is resampled here (with our resampler, so no
extra dependency) and each model is loaded once per extractor object.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import torch

from core.audio.resample import resample
from core.features.pitch_base import PitchExtractor

MODEL_RATE = 16000


class CrepePitch(PitchExtractor):
    """torchcrepe's networks ("tiny" for live use, "full" offline), Viterbi-decoded.

    Decoding is done here in numpy (torchcrepe's Viterbi goes through librosa and
    numba, whose first call compiles for seconds): the same transition rule (jumps
    of at most 11 bins), then CREPE's local weighted average around the chosen
    bin, which resolves pitch finer than the 20-cent bins.
    """

    window = 1024  # CREPE's fixed analysis window at 16 kHz
    periodicity_threshold = 0.21  # torchcrepe's documented voicing threshold
    max_jump_bins = 12

    def __init__(self, capacity: str = "tiny", **kwargs) -> None:
        super().__init__(**kwargs)
        import torchcrepe

        self.name = "crepe" if capacity == "tiny" else "crepe-full"
        # 10 ms, torchcrepe's default: the network costs ~1-2.5 ms per frame even for "tiny",
        # and log-linear interpolation onto the 5.3 ms mel grid loses next to nothing.
        self.native_hop = 160
        weights = Path(torchcrepe.__file__).parent / "assets" / f"{capacity}.pth"
        # Our own instance rather than torchcrepe's global one: several extractors can coexist.
        self.model = torchcrepe.Crepe(capacity)
        self.model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        self.model.eval().to(self.device)
        self.bin_hz = 10.0 * 2.0 ** ((20.0 * np.arange(CREPE_BINS) + CREPE_CENTS_OFFSET) / 1200.0)
        jumps = np.abs(np.arange(CREPE_BINS)[:, None] - np.arange(CREPE_BINS)[None, :])
        transition = np.maximum(self.max_jump_bins - jumps, 0).astype(np.float64)
        transition /= transition.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore"):
            self.log_transition = np.log(transition)

    def _native(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = torch.from_numpy(resample(audio, self.sample_rate, MODEL_RATE))
        n_frames = 1 + len(x) // self.native_hop
        # Zero-padding half a window each side centres frame i at i * hop (as torchcrepe does).
        x = torch.nn.functional.pad(x, (self.window // 2, self.window // 2))
        frames = x.unfold(0, self.window, self.native_hop)[:n_frames].clone()
        frames -= frames.mean(dim=1, keepdim=True)
        frames /= frames.std(dim=1, keepdim=True).clamp(min=1e-10)
        with torch.inference_mode():
            probs = torch.cat([self.model(chunk.to(self.device)) for chunk in frames.split(512)])
        probs = probs.cpu().numpy().astype(np.float64)  # (frames, 360) sigmoid outputs
        in_range = (self.bin_hz >= self.f0_floor) & (self.bin_hz <= self.f0_ceil)
        bins = self._viterbi(np.where(in_range, probs, -np.inf))
        probs[:, ~in_range] = 0.0
        f0 = self._local_average_hz(probs, bins)
        periodicity = _median3(probs[np.arange(len(bins)), bins])
        times = np.arange(len(f0)) * self.native_hop / MODEL_RATE
        return times, f0, periodicity > self.periodicity_threshold

    def _viterbi(self, probs: np.ndarray) -> np.ndarray:
        """Most likely bin path, each frame's bins softmax-normalised as torchcrepe does.

        Bins outside the allowed range come in as -inf, so the path never visits them.
        """
        emission = probs - probs.max(axis=1, keepdims=True)
        log_emission = emission - np.log(np.exp(emission).sum(axis=1, keepdims=True))
        score = log_emission[0].copy()
        back = np.zeros(probs.shape, dtype=np.int32)
        for t in range(1, len(probs)):
            candidates = score[:, None] + self.log_transition  # from-bin x to-bin
            back[t] = candidates.argmax(axis=0)
            score = candidates[back[t], np.arange(CREPE_BINS)] + log_emission[t]
        path = np.empty(len(probs), dtype=np.int64)
        path[-1] = int(score.argmax())
        for t in range(len(probs) - 1, 0, -1):
            path[t - 1] = back[t, path[t]]
        return path

    def _local_average_hz(self, probs: np.ndarray, bins: np.ndarray) -> np.ndarray:
        """Probability-weighted mean (in cents) of the 9 bins around each chosen bin."""
        offsets = np.arange(-4, 5)
        idx = np.clip(bins[:, None] + offsets[None, :], 0, CREPE_BINS - 1)
        weights = np.take_along_axis(probs, idx, axis=1)
        cents = 20.0 * idx + CREPE_CENTS_OFFSET
        total = weights.sum(axis=1)
        mean = np.where(total > 0, (weights * cents).sum(axis=1) / np.maximum(total, 1e-12),
                        20.0 * bins + CREPE_CENTS_OFFSET)
        return 10.0 * 2.0 ** (mean / 1200.0)


CREPE_BINS = 360
CREPE_CENTS_OFFSET = 1997.3794084376191  # cents of bin 0 relative to 10 Hz (CREPE's pitch grid)


def _median3(values: np.ndarray) -> np.ndarray:
    """Median over 3 neighbouring frames (edges repeat), to steady the voicing decision."""
    if len(values) < 3:
        return values
    padded = np.concatenate([values[:1], values, values[-1:]])
    return np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)


class FcpePitch(PitchExtractor):
    """torchfcpe's bundled model (fast enough for live use), 10 ms hop."""

    name = "fcpe"
    threshold = 0.006  # torchfcpe's default confidence threshold

    def __init__(self, int8: bool = True, channels_last: bool = True, traced: bool = True, **kwargs) -> None:
        """On the CPU, `int8` runs the linear layers on int8 weights (pitch_int8.py: ~2x faster),
        `channels_last` the depthwise convolutions in oneDNN's layout (conv_channels_last.py: same
        numbers, ~40 % off each live block's estimate) and `traced` the network through a TorchScript
        trace (traced_network.py: same numbers, a third off, and the pitch thread overlaps)."""
        super().__init__(**kwargs)
        from torchfcpe import spawn_bundled_infer_model

        with contextlib.redirect_stdout(io.StringIO()):  # torchfcpe prints its set-up notes to stdout
            self.model = spawn_bundled_infer_model(device=str(self.device))
        on_cpu = torch.device(self.device).type == "cpu"
        if on_cpu and channels_last:
            from core.features.conv_channels_last import grouped_conv1d_to_channels_last

            grouped_conv1d_to_channels_last(self.model)
        self.int8 = bool(int8) and on_cpu
        if self.int8:
            from core.features.pitch_int8 import quantize_linear_int8

            quantize_linear_int8(self.model)
        self.network_trace = None
        if on_cpu and traced:
            from core.features.traced_network import run_through_trace

            mel_bins = int(self.model.args_dict["mel"]["num_mels"])
            self.network_trace = run_through_trace(self.model.model, torch.zeros(1, 64, mel_bins))
        self.native_hop = int(self.model.get_hop_size())
        self.model_rate = int(self.model.get_model_sr())

    def _native(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # Resample ourselves: torchfcpe sizes its output from the input length at the input rate.
        x = torch.from_numpy(resample(audio, self.sample_rate, self.model_rate))
        x = x.clamp(-1.0, 1.0)  # torchfcpe prints a complaint to stdout for samples past full scale
        with torch.inference_mode():
            f0 = self.model.infer(x[None, :, None].to(self.device), sr=self.model_rate,
                                  decoder_mode="local_argmax", threshold=self.threshold)
        f0 = f0[0, :, 0].cpu().numpy().astype(np.float64)
        # Its mel window i is centred at i*hop + hop/2, but the bundled model's estimate i belongs to
        # time i*hop: measured on log glides, the half-hop-later reading is 10 cents (5 ms) off, this 0.
        times = np.arange(len(f0)) * self.native_hop / self.model_rate
        return times, f0, f0 > 0
