"""`comosvc --help` and every command's parser are built without importing torch (seconds on a 2-core CPU)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_building_every_parser_imports_no_torch():
    probe = ("import sys; from cli.main import build_parser; build_parser(); "
             "heavy = sorted(m for m in ('torch', 'torchaudio', 'numba', 'PyQt6') if m in sys.modules); "
             "print(','.join(heavy))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"building the CLI's parsers imported {done.stdout.strip()}"


def test_the_pitch_and_retrieval_settings_are_the_ones_the_models_use():
    from core.features import pitch, pitch_settings, retrieval, retrieval_settings

    assert pitch.check_pitch_shift is pitch_settings.check_pitch_shift and pitch.PITCH_METHODS == pitch_settings.PITCH_METHODS
    assert retrieval.check_retrieval_ratio is retrieval_settings.check_retrieval_ratio
