"""THE streaming conversion (24 kHz): the live engine and offline conversion both run this.

Per push of n new frames (n * hop samples) the stream computes n output frames
that lie `lookahead` frames in the past, over a window of frames

    [ feature left context R | model context C | n output frames | lookahead L ]

taken from a preallocated history of the input audio. Content codes, loudness
and (live) F0 are computed on the window; the acoustic model samples the window
anchored at its absolute frame index (so its noise does not depend on how the
input was cut into blocks); the n output frames are denormalised to log10 mels
and vocoded by ONE vocoder stream that carries its state from push to push.

Exactness vs latency: with `lookahead >= exact_lookahead(model, steps)` (the
model's context plus the features' own look-ahead) every frame is computed from
exactly the inputs full-sequence inference would use, so the output does not
depend on the block sizes at all. A smaller lookahead (the live default) cuts
latency: the last frames of each window then see edge-padded features and a
truncated model context, a small approximation at each block join that the
vocoder's carried state keeps free of clicks.

The output is the conversion of the input delayed by `latency_samples`
(lookahead * hop plus the vocoder's own latency), a constant.

Live F0 uses no future: the extractor runs on the newest frames plus a short
past window and unvoiced gaps hold the last voiced F0 (UnvoicedHold). It runs on
the stream's own pitch thread while the calling thread encodes content, which
changes no sample (`pitch_thread=False` keeps it on the caller). Offline
passes a precomputed whole-file PitchTrack instead. Pitch shift is applied to
F0 as frames enter the history, so a change applies from the next frame on.
The key-shift condition is 0 (the formant is kept).
"""

from __future__ import annotations

import math
import re
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import NamedTuple

import numpy as np
import torch

from core.audio.mel import denormalize
from core.errors import UserError
from core.features.loudness import frame_rms
from core.features.retrieval import check_retrieval_ratio, no_index_error
from core.features.pitch import PitchTrack, UnvoicedHold, interpolate_unvoiced, shift_f0
from core.model.conditioning import ConditionInputs

MAX_CONSISTENCY_STEPS = 4
CONSISTENCY_STEPS = (1, 2, 4)
PITCH_WINDOW_FRAMES = 48  # past frames the live pitch extractor sees (~256 ms: DIO needs a few periods)
_TEACHER_RE = re.compile(r"^teacher-(\d+)$")


def parse_steps(steps: int | str) -> tuple[str, int]:
    """("consistency", k) for 1/2/4, ("teacher", N) for "teacher-N"; UserError otherwise."""
    text = str(steps).strip()
    match = _TEACHER_RE.match(text)
    if match and int(match.group(1)) >= 1:
        return "teacher", int(match.group(1))
    if text.isdigit() and int(text) in CONSISTENCY_STEPS:
        return "consistency", int(text)
    raise UserError(f"unknown sampler '{steps}'; use 1, 2 or 4 (consistency steps) or teacher-N with N >= 1 "
                    "(e.g. teacher-50)")


class _Window(NamedTuple):
    """One push's window, in history-buffer frames: features over [start, end), model frames [m0, m1),
    output frames [out0, out1); `context` / `right` model frames each side of the output."""
    start: int
    m0: int
    m1: int
    out0: int
    out1: int
    end: int
    context: int
    right: int


def _content_reach(encoder: object, hop: int) -> tuple[int, int]:
    """(past, future) frames one content code depends on, beyond the mel's own reach."""
    field = getattr(encoder, "receptive_field", None)
    if isinstance(field, tuple):
        return int(field[0]), int(field[1])
    if isinstance(field, int):  # samples, centred (HuBERT-like): approximate both sides
        half = math.ceil(field / hop / 2)
        return half, half
    return 0, 0


def feature_reach(model) -> tuple[int, int]:
    """(left, right) frames of audio the per-frame features of one frame depend on."""
    audio = model.config.audio
    mel_reach = math.ceil(audio.win_length / audio.hop_length / 2) + 1
    past, future = _content_reach(model.content_encoder, audio.hop_length)
    return past + mel_reach + 1, future + mel_reach + 1


def model_context(model, kind: str, steps: int) -> int:
    """Model context each side: exact for consistency steps; teacher ODEs are capped (approximate)."""
    generator = model.generator if kind == "consistency" else model.teacher
    return min(generator.context_for(steps), model.generator.context_for(MAX_CONSISTENCY_STEPS))


def exact_lookahead(model, steps: int | str = 1) -> int:
    """The smallest lookahead (frames) for which the stream equals full-sequence inference."""
    kind, n = parse_steps(steps)
    return model_context(model, kind, n) + feature_reach(model)[1]


class ConversionStream:
    """Push blocks of 24 kHz audio (multiples of hop), get converted blocks of the same length."""

    def __init__(
        self,
        model,
        singer: str | None = None,
        pitch: float = 0.0,
        steps: int | str = 1,
        f0_method: str | None = None,
        lookahead_frames: int | None = None,
        f0_track: PitchTrack | None = None,
        seed: int = 0,
        max_block_frames: int = 64,
        retrieval: float = 0.0,
        pitch_thread: bool = True,
    ) -> None:
        self.model = model
        # A live tracker runs on a thread of its own while this one encodes content: both release the
        # GIL in their native code, so on two cores a push costs about the slower of the two, not the sum.
        self._pitch_thread = bool(pitch_thread)
        self._pitch_pool: ThreadPoolExecutor | None = None
        self.hop = model.hop_length
        self.seed = int(seed)
        # History stays in host memory (pitch trackers read numpy); each block's window moves once.
        self._device = getattr(model, "device", torch.device("cpu"))
        if self._device.type == "cpu":  # a live window's calls are small: Python costs as much as arithmetic
            model.generator.network.trace_for_inference()
        self._left, self._feature_right = feature_reach(model)
        self._max_context = model.generator.context_for(MAX_CONSISTENCY_STEPS)
        self.lookahead = exact_lookahead(model, 1) if lookahead_frames is None else int(lookahead_frames)
        if self.lookahead < 0:
            raise ValueError("lookahead_frames must be >= 0")
        self._singer_id = 0
        self.set_singer(singer if singer is not None else model.singers.names[0])
        self._semitones = 0.0
        self.set_pitch(pitch)
        self.set_steps(steps)
        self._retrieval = 0.0
        self.set_retrieval(retrieval)
        self._extractor = None
        self.set_f0_method(f0_method)
        self._track_cond: np.ndarray | None = None
        self._track_voc: np.ndarray | None = None
        if f0_track is not None:
            self.set_f0_track(f0_track)
        self._hold = UnvoicedHold()
        self._vocoder_stream = model.vocoder.stream()
        # Encoders that stream (the built-in one) run only on new frames; others re-encode the window.
        make_stream = getattr(model.content_encoder, "stream", None)
        self._content_stream = make_stream(1) if callable(make_stream) else None
        self._allocate(max(1, int(max_block_frames)))
        self.reset()

    # ----- live controls -----------------------------------------------------------------
    def set_singer(self, name: str) -> None:
        self._singer_id = self.model.singers.id(name)
        self.singer = name

    def set_pitch(self, semitones: float) -> None:
        # Not limited to the user's range: live auto-transpose adds octaves on top of the control.
        value = float(semitones)
        if not math.isfinite(value):
            raise UserError(f"pitch must be a finite number of semitones, got {semitones}")
        self._semitones = value

    def set_retrieval(self, ratio: float) -> None:
        """Blend the content codes this far toward the singer's own (core.features.retrieval); 0 is off."""
        ratio = check_retrieval_ratio(ratio)
        if ratio > 0 and getattr(self.model, "retrieval", None) is None:
            raise no_index_error(getattr(self.model, "path", None))
        self._retrieval = ratio

    @property
    def retrieval(self) -> float:
        return self._retrieval

    def set_steps(self, steps: int | str) -> None:
        kind, n = parse_steps(steps)
        if kind == "teacher" and self.model.teacher is None:
            raise UserError("this model file holds no teacher; use sampler 1, 2 or 4")
        self._kind, self._steps = kind, n
        self._context = model_context(self.model, kind, n)

    def set_f0_method(self, name: str | None) -> None:
        self._extractor = self.model.pitch_extractor(name)

    def set_f0_track(self, track: PitchTrack | None) -> None:
        """Use a precomputed F0 (frame k = input frame k) instead of live extraction."""
        if track is None:
            self._track_cond = self._track_voc = None
            return
        voiced = np.asarray(track.voiced, bool) & (np.asarray(track.f0) > 0)
        self._track_cond = interpolate_unvoiced(track.f0, voiced)
        self._track_voc = np.where(voiced, track.f0, 0.0).astype(np.float32)

    @property
    def latency_samples(self) -> int:
        return self.lookahead * self.hop + int(getattr(self.model.vocoder, "latency_samples", 0))

    @property
    def pitch(self) -> float:
        return self._semitones

    def recent_f0(self, frames: int) -> np.ndarray:
        """The F0 (Hz, shifted, 0 unvoiced) the vocoder got for the last `frames` output frames."""
        end = self._cap - self.lookahead
        return self._f0_voc[max(end - int(frames), 0):end].copy()

    # ----- state -------------------------------------------------------------------------
    def _allocate(self, block_frames: int) -> None:
        """History for the largest window a block of `block_frames` needs (plus the pitch window)."""
        self._block_cap = block_frames
        frames = self._left + self._max_context + self.lookahead + block_frames + PITCH_WINDOW_FRAMES
        old = getattr(self, "_audio", None)
        self._cap = frames
        audio = np.zeros(frames * self.hop, np.float32)
        f0_cond = np.zeros(frames, np.float32)
        f0_voc = np.zeros(frames, np.float32)
        if old is not None:  # keep the newest history when growing
            keep = min(len(self._f0_cond), frames)
            audio[-keep * self.hop:] = self._audio[-keep * self.hop:]
            f0_cond[-keep:] = self._f0_cond[-keep:]
            f0_voc[-keep:] = self._f0_voc[-keep:]
        self._audio, self._f0_cond, self._f0_voc = audio, f0_cond, f0_voc
        if self._content_stream is not None:
            self._content_stream.ensure_capacity(frames)

    def reset(self) -> None:
        """Forget all input, as if freshly made (controls are kept)."""
        self._audio.fill(0.0)
        self._f0_cond.fill(0.0)
        self._f0_voc.fill(0.0)
        self._hold.reset()
        self._vocoder_stream.reset()
        if self._content_stream is not None:  # it has heard the zero history too
            self._content_stream.reset()
            self._content_stream.push(torch.from_numpy(self._audio))
        # Absolute frame index of the next input frame; starts past the zero history so
        # every window's anchored-noise offset is >= 0.
        self._origin = self._left + self._max_context + self.lookahead
        self._frames = self._origin

    # ----- conversion --------------------------------------------------------------------
    def push(self, block: np.ndarray) -> np.ndarray:
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        if len(block) % self.hop:
            raise ValueError(f"block length {len(block)} is not a multiple of hop {self.hop}")
        n = len(block) // self.hop
        if n == 0:
            return np.zeros(0, np.float32)
        if n > self._block_cap:
            self._allocate(n)
        with torch.inference_mode():
            self._shift_in(block, n)
            f0 = self._start_f0(n)
            try:
                window = self._window(n)
                features = self._features(window)  # runs while a pitch thread tracks the same audio
            except BaseException:
                if isinstance(f0, Future):  # the next push must not move the history it still reads
                    wait([f0])
                raise
            self._store_f0(f0.result() if isinstance(f0, Future) else f0, n)
            return self._convert(window, features)

    def _shift_in(self, block: np.ndarray, n: int) -> None:
        samples = n * self.hop
        self._audio[:-samples] = self._audio[samples:]
        self._audio[-samples:] = block
        self._f0_cond[:-n] = self._f0_cond[n:]
        self._f0_voc[:-n] = self._f0_voc[n:]

    def _start_f0(self, n: int) -> Future | tuple[np.ndarray, np.ndarray]:
        """The newest frames' F0: a live tracker runs on the pitch thread (its result a Future), a track here."""
        if self._track_cond is not None or not self._pitch_thread:
            return self._new_f0(n)
        if self._pitch_pool is None:
            self._pitch_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="comosvc-pitch")
        return self._pitch_pool.submit(self._new_f0_off_thread, n)

    def _new_f0_off_thread(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():  # thread-local: neural trackers need it on this thread too
            return self._new_f0(n)

    def _store_f0(self, f0: tuple[np.ndarray, np.ndarray], n: int) -> None:
        cond, voc = f0
        m = len(cond)  # n, or n + the lookahead frames estimated again
        self._f0_cond[-m:] = shift_f0(cond, self._semitones)
        self._f0_voc[-m:] = shift_f0(voc, self._semitones)
        self._frames += n

    def _new_f0(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """F0 for the condition (gaps held) and the vocoder (0 unvoiced) of the newest frames.

        Live, a tracker that misjudges the block's edge (revise_at_lookahead) also estimates the
        lookahead frames again: the vocoder only plays a frame once its lookahead has arrived, so
        it gets the estimate made with that audio. Those frames' hold is final then; the newest
        (still at the edge) are held provisionally, for the model's lookahead only.
        """
        if self._track_cond is not None:
            first = self._frames - self._origin
            index = np.arange(first, first + n)
            total = len(self._track_cond)
            if total == 0:
                return np.zeros(n, np.float32), np.zeros(n, np.float32)
            inside = index < total
            safe = np.minimum(index, total - 1)
            # Past the track's end (the flush): hold the condition, vocode as unvoiced.
            return self._track_cond[safe], np.where(inside, self._track_voc[safe], 0.0).astype(np.float32)
        frames = n + PITCH_WINDOW_FRAMES
        track = self._extractor.extract(self._audio[-frames * self.hop:], frames)
        again = min(self.lookahead, PITCH_WINDOW_FRAMES) if self._extractor.revise_at_lookahead else 0
        f0, voiced = track.f0[-(n + again):], track.voiced[-(n + again):]
        cond = np.concatenate([self._hold.process(f0[:n], voiced[:n]), self._hold.preview(f0[n:], voiced[n:])])
        return cond, np.where(voiced, f0, 0.0).astype(np.float32)

    def _window(self, n: int) -> _Window:
        context = self._context
        right = min(context, self.lookahead)
        # Window (buffer-relative frames): [start, end) holds features; model frames [m0, m1).
        end = self._cap
        out1 = end - self.lookahead
        out0 = out1 - n
        m0, m1 = out0 - context, out1 + right
        return _Window(m0 - self._left, m0, m1, out0, out1, end, context, right)

    def _features(self, w: _Window) -> tuple[torch.Tensor, torch.Tensor]:
        """Content codes (blended toward the singer with retrieval) and loudness of the model frames."""
        audio = torch.from_numpy(self._audio[w.start * self.hop:w.end * self.hop]).to(self._device)
        frames = w.end - w.start
        if self._content_stream is not None:
            newest = (w.out1 - w.out0) * self.hop
            self._content_stream.push(torch.from_numpy(self._audio[-newest:]))
            content = self._content_stream.latest(w.end - w.m0)[:w.m1 - w.m0]
        else:
            content = self.model.content_encoder.encode(audio, frames)[w.m0 - w.start:w.m1 - w.start]
        if self._retrieval > 0:
            content = self.model.retrieval.blend(content, self._singer_id, self._retrieval)
        loudness = frame_rms(audio, self.hop, frames)[w.m0 - w.start:w.m1 - w.start]
        return content, loudness

    def _convert(self, w: _Window, features: tuple[torch.Tensor, torch.Tensor]) -> np.ndarray:
        content, loudness = features
        f0 = torch.from_numpy(self._f0_cond[w.m0:w.m1].copy()).to(self._device)
        inputs = ConditionInputs.single(content, f0, loudness, self._singer_id, 0.0).to(self._device)
        offset = self._frames - (w.end - w.m0)  # absolute index of buffer frame m0
        if self._kind == "consistency":
            mel = self.model.generator.window(inputs, offset, w.context, w.right, self.seed, self._steps)
        else:
            full = self.model.teacher.sample_teacher(inputs, self._steps, offset, self.seed)
            mel = full[:, :, w.context:full.shape[-1] - w.right]
        log_mel = denormalize(mel[0], self.model.config.audio)
        f0_voc = torch.from_numpy(self._f0_voc[w.out0:w.out1].copy()).to(self._device)
        audio_out = self._vocoder_stream.process(log_mel, f0_voc)
        return audio_out.detach().cpu().numpy().astype(np.float32, copy=False)
