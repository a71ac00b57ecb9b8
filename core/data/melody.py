"""Seeded tunes and their sung F0 contour (vibrato with a delayed onset, portamento between notes)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
_BEAT_CHOICES = (0.5, 1.0, 1.0, 1.0, 1.5, 2.0)  # note lengths in beats; quarter notes most common
_STEP_CHOICES = (-2, -1, -1, 0, 1, 1, 2, 3, -3)  # scale-degree steps of the melodic random walk


@dataclass(frozen=True)
class Note:
    start: float  # seconds
    end: float
    midi: float


@dataclass(frozen=True)
class SingingStyle:
    vibrato_hz: float  # 5-6 Hz
    vibrato_cents: float  # depth (peak deviation)
    vibrato_delay: float  # seconds after the note starts before vibrato fades in
    portamento: float  # seconds of glide centred on each note change


def random_style(rng: np.random.Generator) -> SingingStyle:
    return SingingStyle(vibrato_hz=float(rng.uniform(5.0, 6.0)), vibrato_cents=float(rng.uniform(20.0, 50.0)),
                        vibrato_delay=float(rng.uniform(0.18, 0.3)), portamento=float(rng.uniform(0.04, 0.09)))


def random_tune(rng: np.random.Generator, n_notes: int, low_midi: int, high_midi: int) -> tuple[list[int], list[float]]:
    """`n_notes` pitches (MIDI) on a random scale inside [low, high] and their lengths in beats."""
    scale = _SCALES["major" if rng.random() < 0.6 else "minor"]
    tonic = int(rng.integers(12))
    pitches = [m for m in range(low_midi, high_midi + 1) if (m - tonic) % 12 in scale]
    # Start in the middle of the range so the walk has room both ways.
    index = len(pitches) // 2 + int(rng.integers(-2, 3))
    notes, beats = [], []
    for i in range(n_notes):
        index = int(np.clip(index, 0, len(pitches) - 1))
        notes.append(pitches[index])
        phrase_end = i % 4 == 3 or i == n_notes - 1
        beats.append(2.0 if phrase_end and rng.random() < 0.6 else float(rng.choice(_BEAT_CHOICES)))
        step = int(rng.choice(_STEP_CHOICES))
        if not 0 <= index + step < len(pitches):
            step = -step  # reflect at the edges of the range
        index += step
    return notes, beats


def midi_to_hz(midi: np.ndarray | float) -> np.ndarray | float:
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def sung_f0(notes: list[Note], style: SingingStyle, times: np.ndarray) -> np.ndarray:
    """F0 in Hz of the sung line at `times` (seconds); 0 outside every note."""
    times = np.asarray(times, dtype=np.float64)
    midi = np.full(times.shape, np.nan)
    for note in notes:
        inside = (times >= note.start) & (times < note.end)
        midi[inside] = note.midi
        # Vibrato fades in over 150 ms after a delay, so short notes stay straight.
        age = times[inside] - note.start
        ramp = np.clip((age - style.vibrato_delay) / 0.15, 0.0, 1.0)
        midi[inside] += ramp * style.vibrato_cents / 100.0 * np.sin(2 * np.pi * style.vibrato_hz * age)
    for before, after in zip(notes, notes[1:]):
        if after.start - before.end > 1e-6:
            continue  # a rest: nothing to glide across
        # Raised-cosine glide from one note to the next, centred on the boundary.
        half = min(style.portamento / 2, (before.end - before.start) / 2, (after.end - after.start) / 2)
        near = (times >= after.start - half) & (times < after.start + half)
        phase = (times[near] - (after.start - half)) / max(2 * half, 1e-9)
        midi[near] += (after.midi - before.midi) * (0.5 - 0.5 * np.cos(np.pi * phase)) - np.where(
            times[near] >= after.start, after.midi - before.midi, 0.0)
    return np.where(np.isnan(midi), 0.0, midi_to_hz(np.nan_to_num(midi, nan=69.0)))
