"""The plugin host: a chain of block processors behind one small interface.

    prepare(sample_rate, block_size)   before streaming
    process(block)                     in place, float32 (block_size,)
    latency_samples                    its own delay
    reset()                            forget state

The converter is one plugin among gain, gate, limiter and pedalboard effects
(built-in or a user's VST3 file). A plugin that raises is bypassed with a
message and the stream goes on. Nothing here waits on I/O or a lock.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import numpy as np

from core.audio.envelope import EnvelopeFollower
from core.audio.silence import SilenceFollower
from core.errors import UserError
from realtime.converter import Converter, ConverterControls, tracker_for
from realtime.gate import NoiseGate
from realtime.sola import SolaCrossfader, fade_curves


class Plugin:
    name = "plugin"

    def prepare(self, sample_rate: int, block_size: int) -> None:
        self.sample_rate, self.block_size = sample_rate, block_size

    def process(self, block: np.ndarray) -> None:
        raise NotImplementedError

    @property
    def latency_samples(self) -> int:
        return 0

    def reset(self) -> None:
        pass


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


class GainPlugin(Plugin):
    """Gain in dB, ramped across one block when it changes."""

    def __init__(self, db: float = 0.0, name: str = "gain") -> None:
        self.name = name
        self.db = float(db)
        self._current = db_to_gain(self.db)

    def process(self, block: np.ndarray) -> None:
        target = db_to_gain(self.db)
        if target == self._current:
            block *= np.float32(target)
        else:
            block *= np.linspace(self._current, target, len(block), dtype=np.float32)
            self._current = target


class GatePlugin(Plugin):
    name = "gate"

    def __init__(self, **params: float) -> None:
        self.params = params
        self.gate: NoiseGate | None = None

    def prepare(self, sample_rate: int, block_size: int) -> None:
        super().prepare(sample_rate, block_size)
        self.gate = NoiseGate(sample_rate, **self.params)

    def set_threshold(self, db: float) -> None:
        self.params["threshold_db"] = float(db)
        if self.gate is not None:
            self.gate.threshold_db = float(db)

    @property
    def is_open(self) -> bool:
        return bool(self.gate and self.gate.is_open)

    def process(self, block: np.ndarray) -> None:
        self.gate.process(block)

    def reset(self) -> None:
        if self.gate is not None:
            self.gate.reset()


class LimiterPlugin(Plugin):
    """Block-wise peak limiter: instant gain reduction ramped over the block, slow release,
    then a hard ceiling so nothing ever exceeds it."""

    name = "limiter"

    def __init__(self, ceiling_db: float = -1.0, release_ms: float = 60.0) -> None:
        self.ceiling = db_to_gain(ceiling_db)
        self.release_ms = release_ms
        self._gain = 1.0

    def process(self, block: np.ndarray) -> None:
        peak = float(np.max(np.abs(block))) if len(block) else 0.0
        wanted = min(1.0, self.ceiling / peak) if peak > 0 else 1.0
        if wanted < self._gain:
            target = wanted
        else:
            release = 1.0 - np.exp(-len(block) / max(self.release_ms * self.sample_rate / 1000, 1.0))
            target = min(wanted, self._gain + (1.0 - self._gain) * release)
        block *= np.linspace(self._gain, target, len(block), dtype=np.float32)
        self._gain = target
        np.clip(block, -self.ceiling, self.ceiling, out=block)

    def reset(self) -> None:
        self._gain = 1.0


class PedalboardPlugin(Plugin):
    """A pedalboard effect (reverb, compressor, EQ, chorus, ...) or a VST3 file through pedalboard."""

    EFFECTS = {"reverb": "Reverb", "compressor": "Compressor", "chorus": "Chorus", "eq_lowshelf": "LowShelfFilter",
               "eq_highshelf": "HighShelfFilter", "eq_peak": "PeakFilter", "highpass": "HighpassFilter",
               "lowpass": "LowpassFilter", "delay": "Delay", "distortion": "Distortion", "phaser": "Phaser"}

    def __init__(self, kind: str, **params: Any) -> None:
        import pedalboard

        self.name = kind
        try:
            if kind == "vst3":
                path = params.pop("path", None)
                if not path:
                    raise UserError("a 'vst3' plugin needs a 'path' to a .vst3 file")
                self.effect = pedalboard.load_plugin(str(path))
            else:
                self.effect = getattr(pedalboard, self.EFFECTS[kind])()
            for key, value in params.items():
                setattr(self.effect, key, value)
        except (ImportError, OSError, RuntimeError, ValueError, AttributeError, TypeError) as exc:
            raise UserError(f"cannot load plugin '{kind}': {exc}") from None

    def process(self, block: np.ndarray) -> None:
        out = self.effect.process(block[None, :], self.sample_rate, buffer_size=len(block), reset=False)
        block[:] = out[0, :len(block)] if out.shape[-1] >= len(block) else np.pad(out[0], (0, len(block) - out.shape[-1]))

    @property
    def latency_samples(self) -> int:
        return int(getattr(self.effect, "reported_latency_samples", 0) or 0)

    def reset(self) -> None:
        self.effect.reset()


class ConverterPlugin(Plugin):
    """Runs a Converter on a sliding window (context | region | lookahead) and emits one block.

    The window holds the last `context + region + lookahead` input samples; the region is the
    converter's output span (block, plus crossfade + SOLA search for windowed converters).
    Controls are swapped in as one immutable object, read once per block. Where the input
    it converted was silent (a closed gate), its output is exact zeros (core.audio.silence); where the
    output is louder than its input allows, it is ducked (core.audio.envelope).
    """

    name = "converter"

    def __init__(self, converter: Converter, context: int, lookahead: int, crossfade: int, search: int) -> None:
        self.converter = converter
        self.context, self.lookahead = int(context), int(lookahead)
        self.crossfade, self.search = (int(crossfade), int(search)) if converter.uses_sola else (0, 0)
        self.controls = ConverterControls()
        self.last_result = None
        self._pending: tuple[Converter, np.ndarray, np.ndarray] | None = None
        self._swap_lock = threading.Lock()  # only taken with blocking=False in process

    def prepare(self, sample_rate: int, block_size: int) -> None:
        super().prepare(sample_rate, block_size)
        if sample_rate != self.converter.sample_rate:
            raise UserError(f"converter runs at {self.converter.sample_rate} Hz, chain at {sample_rate} Hz")
        self.region = block_size + self.crossfade + self.search
        self._window = np.zeros(self.context + self.region + self.lookahead, dtype=np.float32)
        self.sola = SolaCrossfader(block_size, self.crossfade, self.search) if self.converter.uses_sola else None
        self.converter.prepare(block_size, self.context, self.lookahead)
        # SOLA moves each block by up to its search: the input's level is read across that much
        self.envelope = EnvelopeFollower(sample_rate, self.latency_samples, spread=self.search)
        self.silence = SilenceFollower(sample_rate, self.latency_samples)

    @property
    def window_length(self) -> int:
        return len(self._window)

    @property
    def latency_samples(self) -> int:
        return self.search + self.crossfade + self.lookahead + int(self.converter.extra_latency_samples)

    def reset(self) -> None:
        self._window[:] = 0.0
        self.converter.reset()
        if self.sola is not None:
            self.sola.reset()
        self.envelope.reset()
        self.silence.reset()

    def swap(self, converter: Converter) -> None:
        """Hot swap: the new converter (already loaded) takes over with a one-block crossfade."""
        if converter.sample_rate != self.sample_rate or converter.uses_sola != self.converter.uses_sola \
                or converter.extra_latency_samples != self.converter.extra_latency_samples:
            raise UserError("the new converter has another rate or latency; restart the engine to switch to it")
        converter.prepare(self.block_size, self.context, self.lookahead)
        # both converters render the same input, aligned: correlated, so equal-gain keeps the level
        fade_in, fade_out = fade_curves(self.block_size, "equal-gain")
        with self._swap_lock:
            self._pending = (converter, fade_in, fade_out)

    def _run(self, converter: Converter) -> np.ndarray:
        controls = self.controls
        method = tracker_for(converter, controls.f0_method)  # also in a swap's crossfade, where both share controls
        if method != controls.f0_method:
            controls = replace(controls, f0_method=method)
        result = converter.convert(self._window, self.context, self.region, controls)
        self.last_result = result
        return np.nan_to_num(np.asarray(result.audio, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)

    def process(self, block: np.ndarray) -> None:
        n = len(block)
        self._window[:-n] = self._window[n:]
        self._window[-n:] = block
        pending = None
        if self._swap_lock.acquire(blocking=False):
            pending, self._pending = self._pending, None
            self._swap_lock.release()
        chunk = self._run(self.converter)
        out = self.sola.process(chunk) if self.sola is not None else chunk[:n]
        if pending is not None:
            new_converter, fade_in, fade_out = pending
            new_chunk = self._run(new_converter)
            new_out = new_chunk[self.sola.last_offset:self.sola.last_offset + n] if self.sola is not None else new_chunk[:n]
            out = out * fade_out + new_out * fade_in
            self.converter = new_converter
            if self.sola is not None:  # continue from the new converter's tail
                self.sola.continue_from(new_chunk)
        self.envelope.process(block, out)
        self.silence.process(block, out)
        block[:] = out


def make_plugin(spec: dict, converter_plugin: ConverterPlugin) -> Plugin:
    """A plugin from its preset entry, e.g. {"plugin": "gate", "threshold_db": -45}."""
    params = {k: v for k, v in spec.items() if k != "plugin"}
    kind = spec["plugin"]
    try:
        if kind == "converter":
            return converter_plugin
        if kind in ("input_gain", "output_gain", "gain"):
            return GainPlugin(name=kind, **params)
        if kind == "gate":
            return GatePlugin(**params)
        if kind == "limiter":
            return LimiterPlugin(**params)
    except TypeError as exc:
        raise UserError(f"bad parameters for plugin '{kind}': {exc}") from None
    if kind == "vst3" or kind in PedalboardPlugin.EFFECTS:
        return PedalboardPlugin(kind, **params)
    known = ["converter", "input_gain", "output_gain", "gain", "gate", "limiter", "vst3", *PedalboardPlugin.EFFECTS]
    raise UserError(f"unknown plugin '{kind}'; known plugins: {', '.join(known)}")


class PluginChain:
    """Runs plugins in order; a plugin that raises is bypassed from then on, with a message."""

    def __init__(self, plugins: list[Plugin]) -> None:
        self.plugins = plugins
        self.bypassed: set[int] = set()
        self.messages: list[str] = []

    def prepare(self, sample_rate: int, block_size: int) -> None:
        for plugin in self.plugins:
            plugin.prepare(sample_rate, block_size)

    @property
    def latency_samples(self) -> int:
        return sum(p.latency_samples for p in self.plugins)

    def find(self, name: str) -> Plugin | None:
        return next((p for p in self.plugins if p.name == name), None)

    def reset(self) -> None:
        for plugin in self.plugins:
            plugin.reset()

    def process(self, block: np.ndarray) -> None:
        for i, plugin in enumerate(self.plugins):
            if i in self.bypassed:
                continue
            backup = block.copy()
            try:
                plugin.process(block)
                if not np.all(np.isfinite(block)):
                    raise FloatingPointError("produced NaN or inf")
            except Exception as exc:  # noqa: BLE001 - any plugin failure must not stop the stream
                block[:] = backup
                if isinstance(plugin, ConverterPlugin):
                    # the converter cannot be skipped without changing latency: silence this block only
                    block[:] = 0.0
                    self.messages.append(f"converter failed on a block: {exc}")
                else:
                    self.bypassed.add(i)
                    self.messages.append(f"plugin '{plugin.name}' bypassed: {exc}")
