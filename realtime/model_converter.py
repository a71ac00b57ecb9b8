"""The real converter plugin: a trained model's ConversionStream behind the Converter interface.

The engine hands a sliding window each block; this converter only needs the
newest block from it, because `core.convert.ConversionStream` keeps its own
input history (feature context, model context, lookahead) and its vocoder's
state. The stream converts whole mel frames (hop = 128 samples at 24 kHz),
while an engine block need not be a multiple of the hop (40 ms = 960 samples
= 7.5 frames), so two small FIFOs regroup samples into frames and back. The
output FIFO starts with `hop - gcd(block, hop)` samples of silence: just
enough that every block can be answered, and a constant part of the latency.

`make_converter` is the one place the CLI and the GUI turn a model choice into
a converter: a model file, the default model where none is named, or the WORLD
stand-in where no model exists.
"""

from __future__ import annotations

import math
import os

import numpy as np

from core.convert import ConversionStream, VoiceModel, convert_audio
from core.convert.offline import auto_transpose_semitones
from core.models import default_model_path
from realtime.converter import ConverterControls, ConvertResult

F0_METHODS = ["dio", "harvest", "fcpe", "crepe", "crepe-full"]
AUTO_TRANSPOSE_SMOOTHING = 0.02  # per voiced frame: the running source pitch follows within ~50 frames


class _Fifo:
    """A preallocated sample FIFO (worker-side only)."""

    def __init__(self, capacity: int) -> None:
        self.data = np.zeros(capacity, np.float32)
        self.size = 0

    def push(self, samples: np.ndarray) -> None:
        n = len(samples)
        if self.size + n > len(self.data):
            grown = np.zeros(max(2 * len(self.data), self.size + n), np.float32)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : self.size + n] = samples
        self.size += n

    def pop(self, n: int) -> np.ndarray:
        out = self.data[:n].copy()
        self.data[: self.size - n] = self.data[n : self.size]
        self.size -= n
        return out


class ModelConverter:
    """Converter (realtime.converter.Converter) running a trained model, stateful, no SOLA."""

    uses_sola = False

    def __init__(self, model: VoiceModel, steps: int | str = 1) -> None:
        self.model = model
        self.sample_rate = model.sample_rate
        self.hop_length = model.hop_length
        self.singers = list(model.singers.names)
        # The model's configured method first: the engine starts with f0_methods[0].
        configured = model.config.features.f0_method
        self.f0_methods = [configured] + [m for m in F0_METHODS if m != configured]
        self.device = getattr(model, "device", None)
        where = f", {self.device}" if self.device is not None and self.device.type != "cpu" else ""
        self.description = f"model {os.path.basename(model.path or 'in memory')} ({model.config.name}{where})"
        self._steps = steps
        self.retrieval_available = model.retrieval is not None
        # Each singer's median training F0, for the window's range band (older files have none).
        self.singer_medians_hz = {name: hz for name in self.singers if (hz := model.singer_median(name))}
        self._own_latent_scale: float | None = None  # kept the first time the controls set another
        self.stream: ConversionStream | None = None
        self.extra_latency_samples = 0
        self._applied = ConverterControls(singer=None, pitch=math.nan, f0_method="")  # nothing applied yet
        self._source_log_f0: float | None = None

    @property
    def own_latent_scale(self) -> float:
        """The model's own scale of the student's starting noise, as loaded (with `--latent-scale` if given),
        before any live control changed it."""
        if self._own_latent_scale is not None:
            return self._own_latent_scale
        return float(self.model.generator.schedule.student_latent_scale)

    def _apply_latent_scale(self, scale: float | None) -> None:
        """The controls' scale, or the model's own again for None; set on the model only when it changes."""
        wanted = self.own_latent_scale if scale is None else float(scale)
        if wanted != self.model.generator.schedule.student_latent_scale:
            self._own_latent_scale = self.own_latent_scale
            self.model.set_student_latent_scale(wanted)

    def prepare(self, block: int, context: int, lookahead: int) -> None:
        hop = self.hop_length
        lookahead_frames = -(-int(lookahead) // hop)
        self._pad = hop - math.gcd(int(block), hop)
        self.stream = self._make_stream(lookahead_frames, -(-int(block) // hop) + 1)
        # The engine adds its window lookahead; the rest of our delay is reported as extra.
        self.extra_latency_samples = self.stream.latency_samples + self._pad - int(lookahead)
        self._input = _Fifo(int(block) + hop)
        self._output = _Fifo(int(block) + 2 * hop)
        self._applied = ConverterControls(singer=None, pitch=math.nan, f0_method="")  # nothing applied yet
        self.reset()

    def prepare_f0_method(self, name: str) -> None:
        """Make (and cache in the model) the named pitch tracker, so that switching to it costs nothing.

        Called by the engine off its worker thread; the stream's set_f0_method then finds it made.
        """
        self.model.pitch_extractor(name)

    def _make_stream(self, lookahead_frames: int, max_block_frames: int) -> ConversionStream:
        return ConversionStream(self.model, steps=self._steps, lookahead_frames=lookahead_frames,
                                max_block_frames=max_block_frames)

    def reset(self) -> None:
        if self.stream is None:
            return
        self.stream.reset()
        self._input.size = 0
        self._output.size = 0
        self._output.push(np.zeros(self._pad, np.float32))
        self._source_log_f0 = None

    def _apply(self, controls: ConverterControls) -> None:
        stream = self.stream
        if controls.singer != self._applied.singer and controls.singer in self.model.singers.names:
            stream.set_singer(controls.singer)
        if controls.f0_method != self._applied.f0_method:
            stream.set_f0_method(controls.f0_method)
        if self.retrieval_available and controls.retrieval != stream.retrieval:
            stream.set_retrieval(controls.retrieval)
        if controls.latent_scale != self._applied.latent_scale:
            self._apply_latent_scale(controls.latent_scale)
        pitch = controls.pitch + (self._auto_transpose() if controls.auto_transpose else 0.0)
        if pitch != stream.pitch:
            stream.set_pitch(pitch)
        self._applied = controls

    def _auto_transpose(self) -> float:
        """Whole octaves that move the singer's running pitch toward the target singer's median."""
        if self._source_log_f0 is None:
            return 0.0
        shift = auto_transpose_semitones(2.0 ** self._source_log_f0, self.model.singer_median(self.stream.singer),
                                         "octaves")
        return 0.0 if shift is None else shift

    def _track_source(self, f0_in: np.ndarray) -> None:
        voiced = f0_in[f0_in > 0]
        for value in np.log2(voiced):
            if self._source_log_f0 is None:
                self._source_log_f0 = float(value)
            else:
                self._source_log_f0 += AUTO_TRANSPOSE_SMOOTHING * (float(value) - self._source_log_f0)

    def convert(self, window: np.ndarray, out_start: int, out_len: int,
                controls: ConverterControls) -> ConvertResult:
        self._apply(controls)
        self._input.push(window[len(window) - out_len:])
        frames = self._input.size // self.hop_length
        if frames:
            self._output.push(self.stream.push(self._input.pop(frames * self.hop_length)))
        audio = self._output.pop(out_len)
        f0_target = self.stream.recent_f0(max(1, out_len // self.hop_length))
        f0_in = np.where(f0_target > 0, f0_target * 2.0 ** (-self.stream.pitch / 12.0), 0.0).astype(np.float32)
        self._track_source(f0_in)
        return ConvertResult(audio=audio, f0_in=f0_in, f0_target=f0_target)


    def offline(self, audio_24k: np.ndarray, controls: ConverterControls) -> np.ndarray:
        """The whole-file reference: offline conversion with the same stream (exact lookahead, whole-file F0)."""
        singer = controls.singer if controls.singer in self.singers else self.singers[0]
        self._apply_latent_scale(controls.latent_scale)
        audio, _, _ = convert_audio(self.model, audio_24k, self.sample_rate, singer, pitch=controls.pitch,
                                    steps=self._steps, f0_method=controls.f0_method,
                                    retrieval=controls.retrieval if self.retrieval_available else 0.0)
        return audio


STAND_IN = "stand-in"  # the model name that asks for the WORLD stand-in even where a model is installed


def make_converter(model: str | None, device: str | None = None):
    """The converter for a model choice: a file or name, else the default model, else the stand-in.
    STAND_IN names the stand-in itself (a cheap check of a rig; what the tests of a spawned engine use).

    `device` (core.device; default the CPU) is where the model runs; the stand-in runs on the CPU
    whatever it says, but a device this machine lacks is refused either way.
    """
    from core.device import resolve_device

    resolve_device(device)
    if model and model != STAND_IN:
        return ModelConverter(VoiceModel.load(model, device))
    if model != STAND_IN and default_model_path() is not None:
        return ModelConverter(VoiceModel.load(None, device))
    from realtime.standin import StandInConverter

    return StandInConverter()
