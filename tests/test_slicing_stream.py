"""The block-streaming slicer equals slicing the whole array, and long silences never end up in clips."""

import numpy as np
import pytest
import soundfile as sf

from core.data.slicing import BLOCK_SECONDS, SliceSettings, envelope_of, find_segments, frame_energy, read_segment


def _burst_track(rate: int, seconds: float, bursts: list[tuple[float, float]], seed: int = 0) -> np.ndarray:
    """Low noise (about -60 dBFS) with sung-like harmonic bursts at (start, length) seconds."""
    rng = np.random.default_rng(seed)
    audio = 0.001 * rng.standard_normal(int(seconds * rate))
    for start, length in bursts:
        t = np.arange(int(length * rate)) / rate
        phase = 2 * np.pi * np.cumsum(220 * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))) / rate
        tone = sum(0.5 ** h * np.sin((h + 1) * phase) for h in range(5))
        tone *= np.minimum(1.0, np.minimum(t, t[-1] - t) * 20)  # 50 ms fades
        first = int(start * rate)
        audio[first:first + len(tone)] += 0.3 * tone
    return audio.astype(np.float32)


def _covering(segments, rate, start, length):
    lo, hi = int(start * rate), int((start + length) * rate)
    return [s for s in segments if s.start < hi and s.stop > lo]


@pytest.mark.parametrize("block_seconds", [BLOCK_SECONDS, 2.0])
def test_burst_across_a_block_join_is_one_clip_as_in_the_whole_array(tmp_path, block_seconds):
    rate = 8000
    join = block_seconds if block_seconds == BLOCK_SECONDS else 4 * block_seconds
    burst = (join - 2.5, 5.0)  # straddles the join (and, for 2 s blocks, two more)
    audio = _burst_track(rate, join + 10.0, [(1.0, 3.0), burst])
    path = tmp_path / "long.wav"
    sf.write(path, audio, rate, subtype="PCM_16")
    streamed, frame, sr = frame_energy(path, block_seconds=block_seconds)
    whole, whole_frame = envelope_of(sf.read(path, dtype="float32")[0], rate)
    assert (frame, sr) == (whole_frame, rate) and len(streamed) > block_seconds / 0.02
    np.testing.assert_allclose(streamed, whole, rtol=1e-6, atol=1e-9)

    settings = SliceSettings()
    segments = find_segments(streamed, frame, sr, settings)
    assert segments == find_segments(whole, whole_frame, rate, settings)
    hits = _covering(segments, rate, *burst)
    assert len(hits) == 1  # one clip, not split at the join
    clip = hits[0]
    assert clip.start <= int(burst[0] * rate) and clip.stop >= int((burst[0] + burst[1]) * rate) - frame
    samples = read_segment(path, clip)
    assert len(samples) == clip.stop - clip.start


def test_long_silences_are_dropped_and_bursts_stay_whole(tmp_path):
    rate = 8000
    # Bursts far apart: the silences between them must not be kept (nor cut into 15 s pieces
    # that split a burst, as a slicer that keeps them would do at 15 s, 30 s, ...).
    bursts = [(13.5, 3.0), (40.0, 4.0), (58.0, 2.5), (59.0 + 2.0, 2.0)]  # the last two 0.5 s apart
    audio = _burst_track(rate, 80.0, bursts)
    path = tmp_path / "sparse.wav"
    sf.write(path, audio, rate)
    settings = SliceSettings()
    envelope, frame, sr = frame_energy(path)
    segments = find_segments(envelope, frame, sr, settings)
    assert len(segments) == 3
    for start, length in bursts[:2]:
        (hit,) = _covering(segments, rate, start, length)
        # Only the burst plus about `pad` (0.1 s) each side, not the 20 s of silence around it.
        assert (hit.stop - hit.start) / rate == pytest.approx(length + 2 * settings.pad, abs=0.1)
    joined = _covering(segments, rate, 58.0, 5.0)
    assert len(joined) == 1  # a 0.5 s pause (under max_silence_kept) keeps both phrases in one clip
    assert (joined[0].stop - joined[0].start) / rate == pytest.approx(5.0 + 2 * settings.pad, abs=0.1)


def test_long_sound_without_pauses_is_cut_into_equal_pieces():
    rate, frame = 1000, 20
    envelope = np.ones(int(40.0 / 0.02), np.float32)  # 40 s of sound, no silence
    segments = find_segments(envelope, frame, rate, SliceSettings(max_seconds=15.0))
    lengths = [(s.stop - s.start) / rate for s in segments]
    assert len(lengths) == 3 and max(lengths) <= 15.0
    assert max(lengths) - min(lengths) <= 0.02 + 1e-9  # no short leftover piece
    assert all(a.stop == b.start for a, b in zip(segments, segments[1:]))
