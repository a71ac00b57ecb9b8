import numpy as np
import soundfile as sf

from core.data.slicing import SliceSettings, find_segments, frame_energy, read_segment


def _tone_with_gaps(rate: int, pattern: list[tuple[float, bool]]) -> np.ndarray:
    parts = []
    for seconds, loud in pattern:
        t = np.arange(int(seconds * rate)) / rate
        parts.append(0.5 * np.sin(2 * np.pi * 220 * t) if loud else np.zeros_like(t))
    return np.concatenate(parts).astype(np.float32)


def test_cuts_in_silences_and_trims_edges(tmp_path):
    rate = 16000
    audio = _tone_with_gaps(rate, [(1.0, False), (5.0, True), (0.6, False), (5.0, True), (1.0, False)])
    path = tmp_path / "a.wav"
    sf.write(path, audio, rate)
    envelope, frame, sr = frame_energy(path)
    segments = find_segments(envelope, frame, sr, SliceSettings(target_seconds=3.0, max_seconds=10.0, pad=0.1))
    assert len(segments) == 2
    gap_middle = int((1.0 + 5.0 + 0.3) * rate)
    assert segments[0].stop == segments[1].start
    assert abs(segments[0].stop - gap_middle) <= frame
    assert abs(segments[0].start - int(0.9 * rate)) <= frame  # leading silence trimmed to the pad
    assert abs(segments[1].stop - int(11.7 * rate)) <= frame
    clip = read_segment(path, segments[0])
    assert len(clip) == segments[0].stop - segments[0].start


def test_no_silence_is_cut_at_the_maximum_length(tmp_path):
    rate = 8000
    path = tmp_path / "long.wav"
    sf.write(path, _tone_with_gaps(rate, [(95.0, True)]), rate)  # longer than one 30 s read block
    envelope, frame, sr = frame_energy(path)
    segments = find_segments(envelope, frame, sr, SliceSettings(max_seconds=15.0))
    lengths = [(s.stop - s.start) / rate for s in segments]
    assert max(lengths) <= 15.0 + 1e-6
    assert abs(sum(lengths) - 95.0) < 0.05
    assert len(segments) == 7


def test_silence_gives_no_segments(tmp_path):
    path = tmp_path / "silent.wav"
    sf.write(path, np.zeros(24000 * 3, np.float32), 24000)
    envelope, frame, sr = frame_energy(path)
    assert find_segments(envelope, frame, sr, SliceSettings()) == []
