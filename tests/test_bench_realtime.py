"""bench/bench_realtime.py on runs too short for its memory samples."""

from tests.bench_scripts import load_bench


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
