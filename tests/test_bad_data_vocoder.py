"""The vocoder trainer loads whole files, so it skips files over its size cap instead of reading them."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.errors import UserError
from core.train.vocoder import MAX_FILE_BYTES, drop_oversized

REPO = Path(__file__).resolve().parents[1]


def test_files_over_the_cap_are_left_out_with_a_line(tmp_path):
    small, big = tmp_path / "small.wav", tmp_path / "big.wav"
    sf.write(small, np.zeros(2400, np.float32), 24000)
    sf.write(big, np.zeros(48000, np.float32), 24000)
    lines = []
    kept = drop_oversized([small, big], lines.append, max_bytes=small.stat().st_size)
    assert kept == [small]
    assert len(lines) == 1 and "big.wav" in lines[0]
    with pytest.raises(UserError, match="over"):
        drop_oversized([big], lines.append, max_bytes=small.stat().st_size)


def test_cli_refuses_a_folder_of_oversized_files_without_reading_them(tmp_path):
    folder = tmp_path / "takes"
    folder.mkdir()
    huge = folder / "huge.wav"
    with open(huge, "wb") as handle:  # sparse: over the cap on disk, and not even audio (it is never read)
        handle.truncate(MAX_FILE_BYTES + 1)
    result = subprocess.run([sys.executable, "-m", "cli.main", "train", "vocoder", str(folder), "--out",
                             str(tmp_path / "v.safetensors"), "--steps", "1"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "over 50 MB" in result.stderr
    assert "huge.wav" in result.stdout
    assert not (tmp_path / "v.safetensors").exists()
