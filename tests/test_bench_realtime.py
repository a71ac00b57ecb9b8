"""bench/bench_realtime.py: runs too short for its memory samples, looped recordings, bad input."""

import subprocess
import sys

import numpy as np
import soundfile as sf

from tests.bench_scripts import BENCH, load_bench


def test_a_run_shorter_than_one_memory_sample_reports_no_growth():
    bench = load_bench("bench_realtime")
    row = bench.bench_preset("balanced", minutes=0.01, model="standin")  # 0.6 s: samples come every 2 s
    assert row["rss_growth_mb"] is None and row["blocks"] > 0
    assert row["gpu_peak_mb"] is None  # nothing ran on a GPU
    assert "growth n/a" in bench.row_text(row)


def test_a_longer_run_reports_growth_between_its_samples():
    bench = load_bench("bench_realtime")
    row = bench.bench_preset("balanced", minutes=0.1, model="standin")  # 6 s: three samples
    assert isinstance(row["rss_growth_mb"], float)
    assert f"growth {row['rss_growth_mb']:+.2f} MB" in bench.row_text(row)


def test_recordings_are_looped_at_the_device_rate_with_a_pause_after_each(tmp_path):
    bench = load_bench("bench_realtime")
    tone = np.sin(2 * np.pi * 220 * np.arange(12000) / 24000).astype(np.float32)
    sf.write(tmp_path / "a.wav", tone, 24000)  # 0.5 s at 24 kHz
    sf.write(tmp_path / "b.wav", np.tile(tone, 2), 16000)  # 1.5 s at 16 kHz
    joined = bench.joined_sources([str(tmp_path / "a.wav"), str(tmp_path / "b.wav")])
    pause = int(bench.SOURCE_PAUSE_S * bench.RATE)
    assert len(joined) == bench.RATE // 2 + pause + 3 * bench.RATE // 2 + pause
    first_pause = joined[bench.RATE // 2:bench.RATE // 2 + pause]
    assert np.all(first_pause == 0) and np.abs(joined[:bench.RATE // 2]).max() > 0.5
    row = bench.bench_preset("balanced", minutes=0.05, model="standin", recordings=joined)
    assert row["input"] == "recordings" and row["blocks"] > 0


def test_a_bad_recording_or_singer_is_one_clear_message(tmp_path):
    bench_file = str(BENCH / "bench_realtime.py")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    done = subprocess.run([sys.executable, bench_file, "--minutes", "0.01", "--model", "standin",
                           "--sources", str(empty)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "empty" in done.stderr.strip().splitlines()[-1]
    assert "Traceback" not in done.stderr
    tone = np.sin(2 * np.pi * 220 * np.arange(4800) / 24000).astype(np.float32)
    sf.write(tmp_path / "a.wav", tone, 24000)
    done = subprocess.run([sys.executable, bench_file, "--minutes", "0.01", "--model", "standin", "--presets",
                           "balanced", "--sources", str(tmp_path / "a.wav"), "--singer", "nobody"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "nobody" in done.stderr.strip().splitlines()[-1]
    assert "Traceback" not in done.stderr
