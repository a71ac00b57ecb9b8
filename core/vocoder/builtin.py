"""The built-in vocoder: a small causal network drives harmonic-plus-noise synthesis.

Per frame the network sees the normalised log10 mel, ln(1 + f0/700) and a
voicing flag, and predicts K harmonic amplitudes and the gains of a bank of
noise bands (`hn_synth`). Every convolution is causal, so frame t's controls
depend on frames <= t only, and the synthesis is causal too: a stream that
carries each conv's last inputs, the oscillator phase and the previous frame's
controls produces exactly what whole-utterance synthesis produces, with no
lookahead and no added latency. Pitch follows the f0 given, so transposing is
just passing a shifted f0 (and a mel made for it).

Optional (`vocoder.builtin_envelope_prior`): the log-mel read at each harmonic's
frequency (`envelope_prior`) is added to the logits through learnt per-band
gates, so the network need not learn that pitch-dependent resampling itself.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, fields, replace
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.config import AudioConfig, VocoderConfig
from core.dilated_conv import dilated_conv1d
from core.errors import ModelFileError
from core.vocoder.base import Vocoder, VocoderStream
from core.vocoder.envelope_prior import EnvelopePrior
from core.vocoder.hn_synth import SynthState, noise_filter_bank, synthesize_block

KIND = "vocoder"
ARCHITECTURE = "builtin-hn"
# Adam moves each parameter by about the learning rate per step; scaled up, the gates can open
# within a fine-tune of a few thousand steps at the fine-tuning rate (2e-4).
PRIOR_GATE_SCALE = 10.0


@dataclass(frozen=True)
class BuiltinShape:
    """Everything needed to rebuild the network; stored in the model file's metadata."""

    sample_rate: int
    hop_length: int
    n_mels: int
    spec_min: float
    spec_max: float
    channels: int
    layers: int
    kernel_size: int
    n_harmonics: int
    noise_bands: int
    noise_filter_half: int
    # Added later, so files written before them read the defaults: no envelope prior.
    envelope_prior: bool = False
    n_fft: int = 0
    fmin: float = 0.0
    fmax: float = 0.0

    @staticmethod
    def from_config(audio: AudioConfig, vocoder: VocoderConfig) -> "BuiltinShape":
        return BuiltinShape(
            sample_rate=audio.sample_rate, hop_length=audio.hop_length, n_mels=audio.n_mels,
            spec_min=audio.spec_min, spec_max=audio.spec_max, channels=vocoder.builtin_channels,
            layers=vocoder.builtin_layers, kernel_size=vocoder.builtin_kernel_size,
            n_harmonics=vocoder.builtin_harmonics, noise_bands=vocoder.builtin_noise_bands,
            noise_filter_half=vocoder.builtin_noise_filter_half,
            envelope_prior=bool(vocoder.builtin_envelope_prior), n_fft=audio.n_fft, fmin=audio.fmin, fmax=audio.fmax,
        )

    @staticmethod
    def from_dict(data: dict[str, Any]) -> "BuiltinShape":
        required = {f.name for f in fields(BuiltinShape) if f.default is MISSING}
        missing = required - set(data)
        if missing:
            raise ModelFileError(f"built-in vocoder metadata lacks: {', '.join(sorted(missing))}")
        shape = BuiltinShape(**{f.name: data[f.name] for f in fields(BuiltinShape) if f.name in data})
        if shape.envelope_prior and shape.n_fft <= 0:
            raise ModelFileError("built-in vocoder metadata asks for the envelope prior but gives no n_fft")
        return shape


class CausalConv(nn.Conv1d):
    """Conv1d that sees only the present and the past; `context` is the past it needs."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, dilation: int = 1) -> None:
        super().__init__(in_ch, out_ch, kernel_size, dilation=dilation)
        self.context = (kernel_size - 1) * dilation

    def step(self, x: torch.Tensor, past: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C, T) with `past` (B, C, context) or None (silence before) -> output, new past."""
        if past is None:
            past = x.new_zeros(x.shape[0], x.shape[1], self.context)
        full = torch.cat([past, x], dim=-1)
        out = dilated_conv1d(full, self.weight, self.bias, self.dilation[0])
        return out, full[..., full.shape[-1] - self.context:]


def _exp_sigmoid(x: torch.Tensor) -> torch.Tensor:
    # DDSP's positive output: smooth, bounded above by 2, never exactly zero.
    return 2.0 * torch.sigmoid(x) ** math.log(10.0) + 1e-7


class ControlNetwork(nn.Module):
    """(B, n_mels + 2, F) frame features -> harmonic amplitudes and noise gains, causally."""

    def __init__(self, shape: BuiltinShape) -> None:
        super().__init__()
        self.shape = shape
        c, k = shape.channels, shape.kernel_size
        self.conv_in = CausalConv(shape.n_mels + 2, c, k)
        self.dilated = nn.ModuleList(CausalConv(c, c, k, dilation=2 ** (i % 3)) for i in range(shape.layers))
        self.mix = nn.ModuleList(nn.Conv1d(c, c, 1) for _ in range(shape.layers))
        self.conv_out = nn.Conv1d(c, shape.n_harmonics + shape.noise_bands, 1)
        with torch.no_grad():
            # Start quiet: exp_sigmoid(-4) is about 1e-4.
            self.conv_out.bias.fill_(-4.0)
        if shape.envelope_prior:
            # How much of the envelope prior enters the logits: one gate per mel band (read at each
            # harmonic's frequency), then one per noise band. 0 at first, so a vocoder trained
            # without the prior starts out as it was; training opens them where the prior helps.
            self.prior_gates = nn.Parameter(torch.zeros(shape.n_mels + shape.noise_bands))

    def convs(self) -> list[CausalConv]:
        return [self.conv_in, *self.dilated]

    def forward(self, feats: torch.Tensor, pasts: list[torch.Tensor | None],
                prior: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, list]:
        """`prior`: (B, F, K + bands) gated log10 envelope prior, added to the logits when given."""
        new_pasts = []
        x, past = self.conv_in.step(feats, pasts[0])
        new_pasts.append(past)
        for conv, mix, p in zip(self.dilated, self.mix, pasts[1:]):
            h, past = conv.step(F.leaky_relu(x, 0.1), p)
            new_pasts.append(past)
            x = x + mix(F.leaky_relu(h, 0.1))
        out = self.conv_out(F.leaky_relu(x, 0.1)).transpose(1, 2)       # (B, F, K + bands)
        if prior is not None:
            # For logits well below 0, exp_sigmoid(x) is about 2 * 10**x: a log10 prior added
            # to a logit multiplies the amplitude.
            out = out + prior
        amps = _exp_sigmoid(out[..., : self.shape.n_harmonics])
        gains = _exp_sigmoid(out[..., self.shape.n_harmonics:])
        return amps, gains, new_pasts


@dataclass
class BuiltinState:
    pasts: list[torch.Tensor | None]
    synth: SynthState


class BuiltinVocoderModel(nn.Module):
    """The trainable module: frame features -> controls -> audio, with explicit state."""

    def __init__(self, shape: BuiltinShape) -> None:
        super().__init__()
        self.shape = shape
        self.net = ControlNetwork(shape)
        self.register_buffer("bank", noise_filter_bank(shape.noise_bands, shape.sample_rate, shape.noise_filter_half),
                             persistent=False)
        self.prior = (EnvelopePrior(shape.sample_rate, shape.n_fft, shape.n_mels, shape.fmin, shape.fmax,
                                    shape.n_harmonics, shape.noise_bands) if shape.envelope_prior else None)

    def envelope_prior(self, log_mel: torch.Tensor, f0: torch.Tensor) -> torch.Tensor | None:
        """(B, F, K + bands) zero-mean log10 prior times its gates, or None without one."""
        if self.prior is None:
            return None
        gates = PRIOR_GATE_SCALE * self.net.prior_gates
        n_mels = self.shape.n_mels
        return torch.cat([self.prior.harmonics(log_mel, f0, gates[:n_mels]),
                          self.prior.noise(log_mel, gates[n_mels:])], dim=-1)

    def with_envelope_prior(self, audio: AudioConfig) -> "BuiltinVocoderModel":
        """This network with an envelope prior added, gated shut: the same output until trained."""
        if self.shape.envelope_prior:
            return self
        shape = replace(self.shape, envelope_prior=True, n_fft=audio.n_fft, fmin=audio.fmin, fmax=audio.fmax)
        model = BuiltinVocoderModel(shape).to(self.bank.device)
        missing, unexpected = model.load_state_dict(self.state_dict(), strict=False)
        if unexpected or set(missing) != {"net.prior_gates"}:
            raise ModelFileError(f"cannot add the envelope prior: missing {missing}, unexpected {unexpected}")
        return model

    def features(self, log_mel: torch.Tensor, f0: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, F), (B, F) -> (B, n_mels + 2, F)."""
        s = self.shape
        mel = (log_mel - s.spec_min) / (s.spec_max - s.spec_min) * 2.0 - 1.0
        voiced = (f0 > 0).to(mel.dtype)
        pitch = torch.log1p(f0.clamp(min=0) / 700.0) * voiced
        return torch.cat([mel, pitch.unsqueeze(1), voiced.unsqueeze(1)], dim=1)

    def initial_state(self, batch: int, sample_offset: torch.Tensor | None = None) -> BuiltinState:
        s = self.shape
        return BuiltinState([None] * len(self.net.convs()),
                            SynthState.initial(batch, s.n_harmonics, s.noise_bands, self.bank.device, sample_offset))

    def forward(self, log_mel: torch.Tensor, f0: torch.Tensor,
                state: BuiltinState | None = None) -> tuple[torch.Tensor, BuiltinState]:
        """(B, n_mels, F), (B, F) -> (B, F * hop) audio and the state after the last frame."""
        if state is None:
            state = self.initial_state(log_mel.shape[0])
        amps, gains, pasts = self.net(self.features(log_mel, f0), state.pasts, self.envelope_prior(log_mel, f0))
        audio, synth = synthesize_block(amps, gains, f0, state.synth, self.bank, self.shape.sample_rate,
                                        self.shape.hop_length)
        return audio, BuiltinState([p.detach() for p in pasts], synth)


class BuiltinStream(VocoderStream):
    def __init__(self, vocoder: "BuiltinVocoder") -> None:
        self.vocoder = vocoder
        self.state: BuiltinState | None = None

    def process(self, log_mel: torch.Tensor, f0: torch.Tensor) -> torch.Tensor:
        log_mel, f0 = self.vocoder.check_inputs(log_mel, f0)
        if log_mel.shape[1] == 0:
            return log_mel.new_zeros(0)
        with torch.no_grad():
            audio, self.state = self.vocoder.model(log_mel[None], f0[None], self.state)
        return audio[0]

    def reset(self) -> None:
        self.state = None


class BuiltinVocoder(Vocoder):
    name = "builtin"
    latency_samples = 0

    def __init__(self, model: BuiltinVocoderModel) -> None:
        self.model = model.eval()
        self.sample_rate = model.shape.sample_rate
        self.hop_length = model.shape.hop_length
        self.n_mels = model.shape.n_mels

    @staticmethod
    def from_config(audio: AudioConfig, vocoder: VocoderConfig) -> "BuiltinVocoder":
        """A fresh, untrained vocoder of the configured size."""
        return BuiltinVocoder(BuiltinVocoderModel(BuiltinShape.from_config(audio, vocoder)))

    def synthesize(self, log_mel: torch.Tensor, f0: torch.Tensor) -> torch.Tensor:
        return self.stream().process(log_mel, f0)

    def _move_weights(self, device: torch.device) -> None:
        self.model.to(device)

    def stream(self) -> BuiltinStream:
        return BuiltinStream(self)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(self.model.state_dict())

    def metadata(self) -> dict[str, Any]:
        """The metadata that rebuilds this vocoder (also used when embedded under `vocoder.`)."""
        return {"architecture": ARCHITECTURE, "shape": asdict(self.model.shape)}

    @staticmethod
    def from_state(state: dict[str, torch.Tensor], metadata: dict[str, Any]) -> "BuiltinVocoder":
        if metadata.get("architecture") != ARCHITECTURE:
            raise ModelFileError(f"not a built-in vocoder (architecture {metadata.get('architecture')!r})")
        model = BuiltinVocoderModel(BuiltinShape.from_dict(metadata.get("shape", {})))
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise ModelFileError(f"built-in vocoder weights do not match its shape: {str(exc).splitlines()[0]}") from None
        return BuiltinVocoder(model)
