"""A 3-hour recording: preprocess streams it into clips in bounded memory; the vocoder trainer skips it.

Slow (writes a 1 GB WAV; about a minute or two): run with `pytest -m slow tests/test_preprocess_long_file.py`.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.data.cache import load_clip, read_manifest
from core.train.teacher import load_training_data
from tests.test_data_fixtures import make_corpus, micro_config

REPO = Path(__file__).resolve().parents[1]
RATE = 48000
HOURS = 3
BURSTS = 36  # one every 5 minutes
BURST_SECONDS = 3.0
CHUNK_SECONDS = 60
MAX_RSS_BYTES = 1.2e9  # the whole file as float32 at 48 kHz would be 2.07 GB
MAX_EXTRA_BYTES = 150e6  # over the same run without the long file (even at 24 kHz it would be 1.04 GB)


def _burst(rng: np.random.Generator, f0: float) -> np.ndarray:
    """A sung-like note: harmonics, 5 Hz vibrato, 50 ms fades."""
    t = np.arange(int(BURST_SECONDS * RATE)) / RATE
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.012 * np.sin(2 * np.pi * 5.5 * t))) / RATE
    tone = sum(0.6 ** h * np.sin((h + 1) * phase + rng.uniform(0, 6)) for h in range(8))
    return 0.25 * tone * np.minimum(1.0, np.minimum(t, t[-1] - t) * 20)


def _write_long_take(path: Path) -> list[float]:
    """3 h of -60 dBFS noise with BURSTS notes; written a minute at a time. Returns the burst starts (s)."""
    rng = np.random.default_rng(0)
    noise = 0.001 * rng.standard_normal(CHUNK_SECONDS * RATE)  # one minute of noise, reused
    period = HOURS * 3600 / BURSTS
    # Every burst straddles a 30 s streaming-block join (k * period + 28.5 .. + 31.5 s).
    starts = [k * period + 28.5 for k in range(BURSTS)]
    with sf.SoundFile(str(path), "w", RATE, 1, subtype="PCM_16") as handle:
        for minute in range(HOURS * 60):
            chunk = noise.copy()
            t0 = minute * CHUNK_SECONDS
            for k, start in enumerate(starts):
                if t0 <= start < t0 + CHUNK_SECONDS:  # bursts never cross a minute here (28.5 + 3 < 60)
                    first = int((start - t0) * RATE)
                    note = _burst(rng, 180.0 * 2 ** ((k % 12) / 12))
                    chunk[first:first + len(note)] += note
            handle.write(chunk.astype(np.float32))
    return starts


# Linux starts a child's peak RSS (wait4's ru_maxrss) at its parent's, kept across fork and exec, and this
# test process may hold over a gigabyte after other tests: a small Python process in between starts the
# command and reports the command's own peak.
_MEASURE = (
    "import os, subprocess, sys\n"
    "with open(sys.argv[1], 'w') as o, open(sys.argv[2], 'w') as e:\n"
    "    child = subprocess.Popen(sys.argv[3:], stdout=o, stderr=e)\n"
    "    _, status, usage = os.wait4(child.pid, 0)\n"
    "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)\n"
)


def _run_measured(args: list[str], cwd: Path) -> tuple[int, str, str, int]:
    """(exit code, stdout, stderr, peak RSS in bytes) of one child process, measured by wait4."""
    out, err = cwd / "stdout.txt", cwd / "stderr.txt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # one core, as the other tests use
    report = subprocess.run([sys.executable, "-c", _MEASURE, str(out), str(err), *args], cwd=REPO, env=env,
                            capture_output=True, text=True, check=True)
    code, peak_kb = map(int, report.stdout.split())
    return code, out.read_text(), err.read_text(), peak_kb * 1024  # Linux: kB


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = make_corpus(tmp_path_factory.mktemp("data"), singers=1, files=3)  # singer0: a normal folder
    (root / "marathon").mkdir()
    starts = _write_long_take(root / "marathon" / "three_hours.wav")
    return root, starts


@pytest.mark.slow
def test_three_hour_file_preprocesses_in_bounded_memory(corpus, tmp_path):
    root, starts = corpus
    big = root / "marathon" / "three_hours.wav"
    assert sf.info(str(big)).duration == pytest.approx(HOURS * 3600)
    out = tmp_path / "cache"
    command = [sys.executable, "-m", "cli.main", "preprocess", str(root), str(out), "--config", "tiny", "--json"]
    code, stdout, stderr, rss = _run_measured(command, tmp_path)
    assert code == 0, stderr[-2000:]
    assert rss < MAX_RSS_BYTES, f"peak RSS {rss / 1e9:.2f} GB"
    # Against the same command on the normal folder alone (torch and friends alone take ~0.7 GB):
    # the 3-hour file may add buffers, never its samples.
    small = tmp_path / "small"
    shutil.copytree(root / "singer0", small / "singer0")
    code_small, _, stderr_small, rss_small = _run_measured(command[:4] + [str(small), str(tmp_path / "c2")] + command[6:],
                                                           tmp_path)
    assert code_small == 0, stderr_small[-2000:]
    assert rss - rss_small < MAX_EXTRA_BYTES, f"the long file added {(rss - rss_small) / 1e6:.0f} MB"
    print(f"preprocess with a {HOURS} h {RATE} Hz file: peak RSS {rss / 1e6:.0f} MB "
          f"({(rss - rss_small) / 1e6:+.0f} MB over the same run without it)")
    summary = json.loads(stdout)
    assert summary["singers"] == ["marathon", "singer0"]

    manifest = read_manifest(out)
    long_clips = [c for c in manifest["clips"] if c["source"] == "three_hours.wav" and c["augment"] == "none"]
    assert len(long_clips) == BURSTS  # every burst became exactly one clip, none split at a block join
    hop_seconds = 128 / 24000
    for record in long_clips:
        seconds = record["frames"] * hop_seconds
        assert BURST_SECONDS <= seconds <= BURST_SECONDS + 0.5  # the note and a little padding, no silence
        clip = load_clip(out / record["file"])
        assert clip.voiced.mean() > 0.8 and np.isfinite(clip.mel).all()
    assert not [s for s in manifest["skipped"] if s["path"] == "marathon/three_hours.wav"]

    # The cache is valid for training: every clip loads and matches the config's front end.
    train, val = load_training_data(out, micro_config())
    assert len(train.clips) == len([c for c in manifest["clips"] if c["split"] == "train"])
    assert {c.singer for c in val.clips} == {0, 1}  # 2 validation clips from each singer


@pytest.mark.slow
def test_vocoder_trainer_skips_the_three_hour_file(corpus, tmp_path):
    root, _ = corpus
    command = [sys.executable, "-m", "cli.main", "train", "vocoder", str(root / "marathon"),
               "--out", str(tmp_path / "v.safetensors"), "--steps", "1", "--config", "tiny", "--threads", "1"]
    code, stdout, stderr, rss = _run_measured(command, tmp_path)
    assert code != 0
    assert "Traceback" not in stderr and "over 50 MB" in stderr  # one line: why nothing can train
    assert "three_hours.wav" in stdout  # and which file was skipped
    assert rss < 0.8e9  # it never read the samples
    assert not (tmp_path / "v.safetensors").exists()

    command[5] = str(root)  # the whole corpus: the short takes train, the long one is skipped with a line
    code, stdout, stderr, _ = _run_measured(command, tmp_path)
    assert code == 0, stderr[-2000:]
    assert "skipped" in stdout and "three_hours.wav" in stdout
    assert (tmp_path / "v.safetensors").exists()
