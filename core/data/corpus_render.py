"""One synthetic sung clip: TTS speech -> WORLD analysis -> stretch syllables onto a tune -> WORLD synthesis.

Frames follow WORLD's grid (frame i at sample i*hop); the returned per-frame F0 follows the mel
convention instead (frame t centred at sample t*hop + hop/2, n_frames = len(audio) // hop).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

with warnings.catch_warnings():  # pyworld imports pkg_resources, which warns on newer setuptools
    warnings.simplefilter("ignore", UserWarning)
    import pyworld

from core.audio.resample import resample
from core.data.corpus_sentences import make_sentence
from core.data.corpus_singers import SyntheticSinger
from core.data.melody import Note, random_style, random_tune, sung_f0
from core.data.tts import speak

_MIN_RUN_S = 0.04  # voiced runs shorter than this are treated as consonants (unvoiced when sung)
_SPLIT_RUN_S = 0.35  # spoken voiced runs longer than this carry two notes
_GAP_STRETCH = 1.15  # consonants lengthen a little when sung
_BEAT_RANGE_S = (0.16, 0.55)
_PEAK = 0.9
_REST_LOG_POWER = np.log(1e-12)  # WORLD spectral power of a rest; speech is ~1e-8..1e-2


@dataclass(frozen=True)
class RenderedClip:
    audio: np.ndarray  # float32 at sample_rate
    f0: np.ndarray  # intended F0 per mel frame, Hz, 0 where unvoiced or resting
    sentence: str
    notes: list[Note]


def render_clip(singer: SyntheticSinger, rng: np.random.Generator, sample_rate: int, hop: int,
                min_seconds: float, max_seconds: float) -> RenderedClip:
    sentence = make_sentence(rng)
    speech, rate = speak(sentence, singer.voice)
    return sing_speech(speech, rate, singer.low_midi, singer.high_midi, singer.formant_scale, rng, sample_rate, hop,
                       min_seconds, max_seconds, sentence)


def sing_speech(speech: np.ndarray, rate: int, low_midi: int, high_midi: int, formant_scale: float,
                rng: np.random.Generator, sample_rate: int, hop: int, min_seconds: float, max_seconds: float,
                sentence: str = "") -> RenderedClip:
    """Any spoken recording (TTS or a real voice) re-sung by WORLD onto a seeded tune in [low, high] MIDI."""
    speech = _trim_silence(np.asarray(resample(speech, rate, sample_rate), dtype=np.float64), hop)
    frame_ms = 1000.0 * hop / sample_rate
    f0, times = pyworld.dio(speech, sample_rate, f0_floor=50.0, f0_ceil=800.0, frame_period=frame_ms)
    f0 = pyworld.stonemask(speech, f0, times, sample_rate)
    sp = pyworld.cheaptrick(speech, f0, times, sample_rate)
    ap = pyworld.d4c(speech, f0, times, sample_rate)
    frame_s = hop / sample_rate

    runs = _voiced_runs(f0 > 0, int(round(_MIN_RUN_S / frame_s)))
    pieces = _note_pieces(runs, int(round(_SPLIT_RUN_S / frame_s)))
    if not pieces:
        pieces = [(0, len(f0))]  # no voicing found: sing the whole utterance as one note
    midi, beats = random_tune(rng, len(pieces), low_midi, high_midi)
    target = float(rng.uniform(min_seconds, max_seconds))
    gaps_s = _GAP_STRETCH * frame_s * (len(f0) - sum(b - a for a, b in pieces))
    rests = _phrase_rests(rng, len(pieces))
    beat_s = float(np.clip((target - gaps_s) / (sum(beats) + sum(rests)), *_BEAT_RANGE_S))

    source_pos, notes, sung = _time_map(pieces, len(f0), [b * beat_s for b in beats], midi, frame_s,
                                        [r * beat_s for r in rests])
    resting = np.isnan(source_pos)
    source_pos = np.where(resting, 0.0, source_pos)
    style = random_style(rng)
    n_out = len(source_pos)
    world_f0 = np.where(sung, sung_f0(notes, style, np.arange(n_out) * frame_s), 0.0)
    out_sp = _formant_scale(_interp_frames(np.log(sp), source_pos), formant_scale)
    out_ap = np.clip(_interp_frames(ap, source_pos), 0.0, 1.0)
    out_sp[resting] = _REST_LOG_POWER  # a breath between phrases: near silence
    out_ap[resting] = 1.0
    audio = pyworld.synthesize(world_f0, np.exp(out_sp), out_ap, sample_rate, frame_ms)
    audio = np.pad(audio, (0, max(0, n_out * hop - len(audio))))[: n_out * hop]

    # Mel frame t is centred between WORLD frames t and t+1: voiced only if both are sung.
    both = sung & np.append(sung[1:], sung[-1])
    mel_f0 = np.where(both, sung_f0(notes, style, (np.arange(n_out) + 0.5) * frame_s), 0.0)
    audio, mel_f0 = _fit_length(audio, mel_f0, sample_rate, hop, min_seconds, max_seconds)
    peak = float(np.max(np.abs(audio))) or 1.0
    return RenderedClip((audio * (_PEAK / peak)).astype(np.float32), mel_f0.astype(np.float32), sentence, notes)


def _trim_silence(audio: np.ndarray, hop: int, threshold_db: float = -45.0) -> np.ndarray:
    frames = len(audio) // hop
    rms = np.sqrt(np.mean(audio[: frames * hop].reshape(frames, hop) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(20 * np.log10(rms / (rms.max() + 1e-12)) > threshold_db)
    if len(loud) == 0:
        return audio
    start, end = max(0, loud[0] - 4) * hop, min(frames, loud[-1] + 5) * hop
    return audio[start:end]


def _voiced_runs(voiced: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], voiced.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(a), int(b)) for a, b in zip(starts, ends) if b - a >= min_len]


def _note_pieces(runs: list[tuple[int, int]], split_len: int) -> list[tuple[int, int]]:
    """Source-frame spans that each become one note: a syllable-like voiced run, long ones halved."""
    pieces = []
    for a, b in runs:
        if b - a > split_len:
            pieces += [(a, (a + b) // 2), ((a + b) // 2, b)]
        else:
            pieces.append((a, b))
    return pieces


def _phrase_rests(rng: np.random.Generator, n_notes: int) -> list[float]:
    """Rest length in beats after each note: sometimes half a beat or a beat after every fourth note."""
    rests = [0.0] * n_notes
    for i in range(3, n_notes - 1, 4):
        if rng.random() < 0.6:
            rests[i] = float(rng.choice((0.5, 1.0)))
    return rests


def _time_map(pieces: list[tuple[int, int]], n_src: int, note_s: list[float], midi: list[int], frame_s: float,
              rest_s: list[float]):
    """Output->source frame positions: voiced pieces stretched to their note, gaps lightly stretched.

    A rest after a note is inserted in the middle of the following gap (between the words' consonants).
    Returns (fractional source position per output frame, NaN in rests; notes in output seconds;
    sung mask per output frame).
    """
    positions: list[np.ndarray] = []
    sung: list[np.ndarray] = []
    notes: list[Note] = []
    cursor = 0
    out_len = 0

    def span(a: int, b: int, length: int, is_note: bool) -> None:
        nonlocal out_len
        if length <= 0 or b <= a:
            return
        positions.append(a + (np.arange(length) + 0.5) * (b - a) / length - 0.5)
        sung.append(np.full(length, is_note))
        out_len += length

    def rest(length: int) -> None:
        nonlocal out_len
        positions.append(np.full(length, np.nan))
        sung.append(np.zeros(length, dtype=bool))
        out_len += length

    rest_before = [0.0] + list(rest_s[:-1])
    for (a, b), seconds, pitch, pause in zip(pieces, note_s, midi, rest_before):
        middle = (cursor + a) // 2
        span(cursor, middle, int(round((middle - cursor) * _GAP_STRETCH)), False)
        if pause > 0:
            rest(int(round(pause / frame_s)))
        span(middle, a, int(round((a - middle) * _GAP_STRETCH)), False)
        length = max(1, int(round(seconds / frame_s)))
        start = out_len
        span(a, b, length, True)
        notes.append(Note(start * frame_s, (start + length) * frame_s, float(pitch)))
        cursor = b
    span(cursor, n_src, int(round((n_src - cursor) * _GAP_STRETCH)), False)
    return np.clip(np.concatenate(positions), 0, n_src - 1), notes, np.concatenate(sung)  # clip keeps NaN


def _interp_frames(features: np.ndarray, positions: np.ndarray) -> np.ndarray:
    low = np.floor(positions).astype(int)
    high = np.minimum(low + 1, len(features) - 1)
    weight = (positions - low)[:, None]
    return np.ascontiguousarray(features[low] * (1 - weight) + features[high] * weight)


def _formant_scale(log_sp: np.ndarray, scale: float) -> np.ndarray:
    """Move the spectral envelope along frequency by `scale` (bin k takes the value of bin k/scale)."""
    if scale == 1.0:
        return log_sp
    bins = np.arange(log_sp.shape[1], dtype=np.float64)
    source = np.clip(bins / scale, 0, log_sp.shape[1] - 1)
    return np.ascontiguousarray(np.stack([np.interp(source, bins, row) for row in log_sp]))


def _fit_length(audio: np.ndarray, f0: np.ndarray, sample_rate: int, hop: int,
                min_seconds: float, max_seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """Cut (with a 50 ms fade) past max_seconds or pad silence up to min_seconds, whole frames only."""
    max_frames = int(max_seconds * sample_rate) // hop
    min_frames = -(-int(np.ceil(min_seconds * sample_rate)) // hop)
    frames = len(f0)
    if frames > max_frames:
        audio, f0 = audio[: max_frames * hop].copy(), f0[:max_frames].copy()
        fade = int(0.05 * sample_rate)
        audio[-fade:] *= np.linspace(1.0, 0.0, fade)
        f0[len(f0) - (-(-fade // hop)):] = 0.0  # the fade is no longer a held note
    elif frames < min_frames:
        audio = np.pad(audio, (0, (min_frames - frames) * hop))
        f0 = np.pad(f0, (0, min_frames - frames))
    return audio, f0
