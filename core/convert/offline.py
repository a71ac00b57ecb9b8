"""Offline conversion: the live ConversionStream run over a whole file in large blocks.

Differences from live use, all for quality, none in the model path:
- the F0 is extracted once over the whole file and its unvoiced gaps are filled
  by interpolation (the paper's offline method), then passed to the stream;
- the lookahead is `exact_lookahead`, so the result equals full-sequence
  inference and does not depend on the block size;
- the stream's constant delay is dropped, so output sample i is the conversion
  of input sample i.
Like the live engine, it mutes the output where the input is digitally silent
(core.audio.silence), so both play silence in the same places.
Memory stays bounded on long files: the stream only keeps its history, and the
blocks are `block_seconds` long.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from core.audio.envelope import follow_input_envelope
from core.audio.peak import SILENCE_PEAK
from core.audio.resample import resample
from core.audio.silence import mute_where_silent
from core.convert.stream import ConversionStream, exact_lookahead, parse_steps
from core.errors import UserError
from core.features.pitch import AUTO_TRANSPOSE_MODES, check_pitch_shift
from core.features.retrieval import check_retrieval_ratio, no_index_error
from core.sampling_settings import check_seed



# Sung further than this from a singer's median training pitch, the default model's singer is recognised
# in 32 % of conversions of held-out voices, against 90 % within 5 semitones (BENCHMARKS.md, session 55).
FAR_FROM_RANGE_SEMITONES = 12.0


@dataclass
class ConversionReport:
    singer: str
    steps: str
    f0_method: str
    pitch_semitones: float
    auto_transpose_semitones: float | None
    input_seconds: float
    output_rate: int
    silent: bool
    seconds_taken: float
    real_time_factor: float
    source_f0_median_hz: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def auto_transpose_semitones(source_median_hz: float | None, target_median_hz: float | None,
                             mode: str = "semitones") -> float | None:
    """The shift (semitones) that moves the source's median F0 nearest the target's in whole semitones or
    whole octaves (`mode`), or None if either median is unknown."""
    if not source_median_hz or not target_median_hz or source_median_hz <= 0 or target_median_hz <= 0:
        return None
    octaves = math.log2(target_median_hz / source_median_hz)
    return 12.0 * round(octaves) if mode == "octaves" else float(round(12.0 * octaves))


def auto_transpose_mode(value: bool | str | None) -> str | None:
    """None (off), or one of AUTO_TRANSPOSE_MODES; True means 'semitones'. Anything else: UserError."""
    if value is None or value is False:
        return None
    if value is True:
        return AUTO_TRANSPOSE_MODES[0]
    if value not in AUTO_TRANSPOSE_MODES:
        raise UserError(f"auto-transpose must be one of {', '.join(AUTO_TRANSPOSE_MODES)}, got '{value}'")
    return str(value)


def convert_audio(
    model,
    audio: np.ndarray,
    sample_rate: int,
    singer: str,
    pitch: float = 0.0,
    steps: str | int = "1",
    f0_method: str | None = None,
    auto_transpose: bool | str = False,
    out_rate: int | None = None,
    block_seconds: float = 10.0,
    retrieval: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, int, ConversionReport]:
    """Convert mono `audio` at `sample_rate` to `singer`; returns (audio, rate, report). `auto_transpose`:
    False, True (= 'semitones') or 'octaves' (AUTO_TRANSPOSE_MODES). `seed` picks the sampler's noise: the
    same seed gives the same output, another seed another draw of it."""
    began = time.perf_counter()
    model.singers.id(singer)  # unknown singer: UserError listing the names, before any work
    pitch = check_pitch_shift(pitch)
    seed = check_seed(seed)
    auto_transpose = auto_transpose_mode(auto_transpose)
    retrieval = check_retrieval_ratio(retrieval)
    if retrieval > 0 and getattr(model, "retrieval", None) is None:
        raise no_index_error(model.path)
    kind, n_steps = parse_steps(steps)
    method = f0_method or model.config.features.f0_method
    rate = model.sample_rate
    out_rate = int(out_rate or rate)
    if out_rate <= 0:
        raise UserError(f"output rate must be positive, got {out_rate}")
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    source = resample(audio, int(sample_rate), rate) if int(sample_rate) != rate else audio
    length = len(source)
    report = ConversionReport(
        singer=singer, steps=f"{kind}-{n_steps}" if kind == "teacher" else str(n_steps), f0_method=method,
        pitch_semitones=float(pitch), auto_transpose_semitones=None, input_seconds=length / rate,
        output_rate=out_rate, silent=False, seconds_taken=0.0, real_time_factor=0.0,
    )
    if length == 0 or float(np.max(np.abs(source))) < SILENCE_PEAK:
        report.silent = True
        report.notes.append("the input is silent; the output is silence")
        converted = np.zeros(length, np.float32)
    else:
        converted = _convert_voiced(model, source, singer, pitch, str(steps), method, auto_transpose, block_seconds,
                                    retrieval, seed, report)
        converted = follow_input(source, converted, rate)
    if out_rate != rate:
        converted = resample(converted, rate, out_rate)
    report.seconds_taken = time.perf_counter() - began
    report.real_time_factor = report.seconds_taken / max(report.input_seconds, 1e-9)
    return converted.astype(np.float32, copy=False), out_rate, report


def follow_input(source: np.ndarray, output: np.ndarray, sample_rate: int) -> np.ndarray:
    """What the live engine does to the converter's output, on a whole file: ducked where the model sings
    louder than its input (core.audio.envelope), then muted where the input is silent (core.audio.silence)."""
    return mute_where_silent(source, follow_input_envelope(source, output, sample_rate), sample_rate)


def _convert_voiced(model, source: np.ndarray, singer: str, pitch: float, steps: str, method: str,
                    auto_transpose: str | None, block_seconds: float, retrieval: float, seed: int,
                    report: ConversionReport) -> np.ndarray:
    hop = model.hop_length
    length = len(source)
    padded = np.pad(source, (0, (-length) % hop))
    track = model.pitch_extractor(method).extract(padded, len(padded) // hop)
    voiced_f0 = track.f0[track.voiced & (track.f0 > 0)]
    report.source_f0_median_hz = float(np.median(voiced_f0)) if len(voiced_f0) else None
    if auto_transpose:
        shift = auto_transpose_semitones(report.source_f0_median_hz, model.singer_median(singer), auto_transpose)
        if shift is None:
            report.notes.append("auto-transpose skipped: no voiced frames or no F0 median for this singer")
        else:
            report.auto_transpose_semitones = shift
            pitch = float(pitch) + shift
    report.pitch_semitones = float(pitch)
    _note_far_from_range(report, singer, model.singer_median(singer))
    block_frames = max(1, int(block_seconds * model.sample_rate) // hop)
    stream = ConversionStream(
        model, singer=singer, pitch=pitch, steps=steps, f0_method=method,
        lookahead_frames=exact_lookahead(model, steps), f0_track=track, max_block_frames=block_frames,
        retrieval=retrieval, seed=seed,
    )
    latency = stream.latency_samples
    total = length + latency
    total += (-total) % hop
    out = np.zeros(total, np.float32)
    block = block_frames * hop
    for pos in range(0, total, block):
        chunk = padded[pos:pos + block]
        want = min(block, total - pos)
        if len(chunk) < want:
            chunk = np.pad(chunk, (0, want - len(chunk)))
        out[pos:pos + want] = stream.push(chunk)
    return out[latency:latency + length].copy()


def range_distance_semitones(source_median_hz: float | None, shift: float,
                             singer_median_hz: float | None) -> float | None:
    """Semitones from the singer's own median pitch to the pitch the output sings (the source's, shifted);
    None if either median is unknown. bench_quality.py's identity-by-distance bands use the same measure."""
    if not source_median_hz or not singer_median_hz:
        return None
    return 12.0 * math.log2(source_median_hz / singer_median_hz) + shift


def _note_far_from_range(report: ConversionReport, singer: str, singer_median_hz: float | None) -> None:
    """Tell the user when the output sings far outside the singer's range, where little of the voice is left."""
    distance = range_distance_semitones(report.source_f0_median_hz, report.pitch_semitones, singer_median_hz)
    semitones = round(abs(distance)) if distance is not None else 0  # whole semitones, as the note says it
    if semitones > FAR_FROM_RANGE_SEMITONES:
        report.notes.append(
            f"the output sings {semitones} semitones {'above' if distance > 0 else 'below'} {singer}'s "
            "median pitch, where little of the singer's timbre comes through: try --auto-transpose or --pitch"
        )


def output_path(input_path: str | os.PathLike, singer: str, out_dir: str | os.PathLike | None) -> Path:
    """DIR/<stem>_<singer>.wav (DIR defaults to the input's folder)."""
    source = Path(input_path)
    folder = Path(out_dir) if out_dir is not None else source.parent
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in singer)
    return folder / f"{source.stem}_{safe}.wav"


def convert_file(
    model,
    input_path: str | os.PathLike,
    singer: str,
    out_dir: str | os.PathLike | None = None,
    **options,
) -> tuple[Path, ConversionReport]:
    """Read any audio file, convert it, write DIR/<stem>_<singer>.wav atomically.

    The output folder is checked before the work; output that would clip is scaled down (with a note).
    """
    from core.audio.io import check_output_folder, load_audio, require_min_length, save_audio
    from core.audio.peak import fit_below_full_scale, peak_note

    target = output_path(input_path, singer, out_dir)
    check_output_folder(target.parent, "--out" if out_dir is not None else "the input's folder")
    if target.is_dir():
        raise UserError(f"cannot write {target}: a folder has that name")
    source = load_audio(input_path, model.sample_rate)
    require_min_length(source, model.sample_rate, input_path)
    converted, rate, report = convert_audio(model, source, model.sample_rate, singer, **options)
    converted, gain_db = fit_below_full_scale(converted)
    if gain_db:
        report.notes.append(peak_note(gain_db))
    target.parent.mkdir(parents=True, exist_ok=True)
    save_audio(target, converted, rate)
    return target, report
