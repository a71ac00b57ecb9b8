"""bench/bench_stream_lookahead.py: the stream at each lookahead against offline conversion, scored by DNSMOS."""

from __future__ import annotations

import json
import sys

import pytest

from core.audio.io import save_audio
from tests.bench_scripts import load_bench
from tests.convert_fixtures import DNSMOS_ONE_WINDOW_SECONDS, build_tiny_model, sung_tone


def test_from_the_exact_lookahead_on_the_stream_is_offline_conversion(tmp_path, monkeypatch, capsys):
    from core.convert import exact_lookahead

    model = build_tiny_model(tmp_path / "tiny.safetensors")
    exact = exact_lookahead(model, 1)
    source = tmp_path / "voice.wav"
    save_audio(source, sung_tone(DNSMOS_ONE_WINDOW_SECONDS), 24000)
    monkeypatch.setattr(sys, "argv", ["bench_stream_lookahead.py", "--sources", str(source), "--singers", "alto",
                                      "--lookaheads", "0", str(exact), "--f0", "dio", "--whole-file-f0",
                                      "--model", model.path, "--json"])
    assert load_bench("bench_stream_lookahead").main() == 0
    result = json.loads(capsys.readouterr().out)
    offline, cut_short, exact_row = result["rows"]
    assert result["pairs"] == 1 and result["exact_lookahead_frames"] == exact
    assert offline["lookahead_frames"] == "offline" and exact_row["lookahead_frames"] == exact
    # the same samples as offline conversion, so the same score; with no lookahead the score moves
    assert exact_row["minus_offline"] == pytest.approx(0.0, abs=1e-6) and exact_row["ovrl"] == offline["ovrl"]
    assert cut_short["minus_offline"] != pytest.approx(0.0, abs=1e-6)


def test_an_unknown_singer_is_refused_before_any_work(tmp_path, monkeypatch):
    from core.errors import UserError

    model = build_tiny_model(tmp_path / "tiny.safetensors")
    source = tmp_path / "voice.wav"
    save_audio(source, sung_tone(1.0), 24000)
    monkeypatch.setattr(sys, "argv", ["bench_stream_lookahead.py", "--sources", str(source), "--singers", "nobody",
                                      "--model", model.path])
    with pytest.raises(UserError, match="nobody"):
        load_bench("bench_stream_lookahead").main()


@pytest.mark.parametrize("extra, message", [
    (["--sources", "missing.wav"], "not found: missing.wav"),
    (["--dnsmos-shifts", "2000"], "leads of silence from 0 to 1000 ms"),
    (["--lookaheads", "-1"], "--lookaheads must be >= 0"),
])
def test_bad_arguments_are_one_line_before_any_model_loads(tmp_path, monkeypatch, capsys, extra, message):
    source = tmp_path / "voice.wav"
    save_audio(source, sung_tone(0.5), 24000)
    args = ["bench_stream_lookahead.py", "--singers", "alto", "--model", str(tmp_path / "no-model.safetensors")]
    if "--sources" not in extra:
        args += ["--sources", str(source)]
    monkeypatch.setattr(sys, "argv", args + extra)
    with pytest.raises(SystemExit):
        load_bench("bench_stream_lookahead").main()
    assert message in capsys.readouterr().err
