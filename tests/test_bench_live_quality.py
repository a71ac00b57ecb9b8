"""bench/bench_live_quality.py: a real simulate run per pair, DNSMOS of what it played, a bad run refused."""

from __future__ import annotations

import contextlib
import io
import json
import sys

import pytest

from core.audio.io import save_audio
from tests.bench_scripts import load_bench
from tests.convert_fixtures import DNSMOS_ONE_WINDOW_SECONDS, build_tiny_model, sung_tone


def _targets(folder, singers=("alto", "bass")):
    """Two recordings per singer, each singer at its own pitch."""
    for singer, hz in zip(singers, (330.0, 110.0)):
        (folder / singer).mkdir(parents=True)
        for i in range(2):
            save_audio(folder / singer / f"{i}.wav", sung_tone(1.0 + 0.5 * i, hz=hz), 24000)
    return folder


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    """One bench run with every option, shared: each simulate run is seconds of real engine time."""
    folder = tmp_path_factory.mktemp("live_quality")
    model = build_tiny_model(folder / "tiny.safetensors")
    source = folder / "voice.wav"
    save_audio(source, sung_tone(DNSMOS_ONE_WINDOW_SECONDS), 24000)
    targets = _targets(folder / "corpus")
    argv = ["bench_live_quality.py", "--sources", str(source), "--singers", "alto", "bass", "--presets", "safe",
            "--model", model.path, "--keep", str(folder / "out"), "--targets-dir", str(targets),
            "--dnsmos-shifts", "0", "7", "--json"]
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.setattr(sys, "argv", argv)
        assert load_bench("bench_live_quality").main() == 0
    return folder, source, targets, json.loads(printed.getvalue())["results"][0]


@pytest.mark.slow  # the shared run: ~17 s of simulate and DNSMOS
def test_each_pair_is_played_by_simulate_and_scored(played):
    folder, _, _, result = played
    assert [(p["source"], p["singer"]) for p in result["pairs"]] == [("voice", "alto"), ("voice", "bass")]
    assert all(p["ovrl_ratio"] > 0 for p in result["pairs"])
    assert result["ovrl_ratio_min"] <= result["ovrl_ratio_mean"]
    assert sorted(f.name for f in (folder / "out").iterdir()) == ["safe_voice_alto.wav", "safe_voice_bass.wav"]


def test_a_failed_simulate_stops_the_bench_with_its_message(tmp_path, monkeypatch):
    model = build_tiny_model(tmp_path / "tiny.safetensors")
    source = tmp_path / "voice.wav"
    save_audio(source, sung_tone(1.0), 24000)
    # the sources' own scores are not what this is about (DNSMOS costs seconds a clip here)
    monkeypatch.setattr("core.convert.listening.dnsmos", lambda audio, rate: {"ovrl": 3.0})
    monkeypatch.setattr(sys, "argv", ["bench_live_quality.py", "--sources", str(source), "--singers", "alto",
                                      "--presets", "no-such-preset", "--model", model.path])
    with pytest.raises(SystemExit, match="simulate failed.*alto.*no-such-preset"):
        load_bench("bench_live_quality").main()


def test_a_singer_the_model_lacks_is_refused_before_any_clip_is_scored(tmp_path, monkeypatch, capsys):
    model = build_tiny_model(tmp_path / "tiny.safetensors")
    source = tmp_path / "voice.wav"
    save_audio(source, sung_tone(1.0), 24000)
    monkeypatch.setattr("core.convert.listening.dnsmos", lambda *a, **k: pytest.fail("scored before the check"))
    monkeypatch.setattr(sys, "argv", ["bench_live_quality.py", "--sources", str(source), "--singers", "alto",
                                      "nobody", "--model", model.path])
    with pytest.raises(SystemExit) as info:
        load_bench("bench_live_quality").main()
    assert info.value.code == 2
    assert "not a singer of the model: nobody" in capsys.readouterr().err


@pytest.mark.slow  # the shared run: ~17 s of simulate and DNSMOS
def test_dnsmos_shifts_score_sources_and_outputs_over_leads_of_silence(played):
    from core.audio.io import load_audio
    from core.convert.listening import dnsmos_averaged

    folder, source, _, result = played
    source_ovrl = dnsmos_averaged(load_audio(source, 24000), 24000, shifts_ms=[0, 7])["ovrl"]
    for pair in result["pairs"]:
        played_audio = load_audio(folder / "out" / f"safe_voice_{pair['singer']}.wav", 24000)
        expected = dnsmos_averaged(played_audio, 24000, shifts_ms=[0, 7])["ovrl"] / source_ovrl
        assert pair["ovrl_ratio_averaged"] == pytest.approx(expected, abs=5e-4)
    assert result["ovrl_ratio_averaged_mean"] == pytest.approx(
        sum(p["ovrl_ratio_averaged"] for p in result["pairs"]) / 2, abs=5e-4)  # both rounded to 3 places
    assert result["dnsmos_shifts_ms"] == [0.0, 7.0]


@pytest.mark.slow  # the shared run: ~17 s of simulate and DNSMOS
def test_targets_dir_names_each_outputs_nearest_singer(played):
    from core.audio.io import load_audio
    from core.convert.evaluate import SpeakerEmbedder, cosine

    folder, _, targets, result = played
    # The judge worked out here, independently: centroids of each singer's recordings, nearest by cosine.
    embedder = SpeakerEmbedder()
    centroids = {s: SpeakerEmbedder.mean_embedding([embedder.embed(load_audio(p, 24000), 24000)
                                                    for p in sorted((targets / s).glob("*.wav"))])
                 for s in ("alto", "bass")}
    ranks = []
    for pair in result["pairs"]:
        heard = embedder.embed(load_audio(folder / "out" / f"safe_voice_{pair['singer']}.wav", 24000), 24000)
        nearest = max(centroids, key=lambda s: cosine(heard, centroids[s]))
        assert pair["nearest_singer"] == nearest
        ranks.append(1 if nearest == pair["singer"] else 2)
    assert result["singer_id"]["n"] == 2 and result["singer_id"]["chance"] == 0.5
    assert result["singer_id"]["mean_rank"] == pytest.approx(sum(ranks) / 2)


@pytest.mark.parametrize("recorded, asked, message", [
    (("alto", "bass"), ["alto", "tenor"], "not a singer of the model: tenor"),
    (("alto",), ["alto"], "has recordings of 1 of the model's singers; identification needs at least 2"),
])
def test_targets_dir_refuses_what_it_cannot_judge(tmp_path, monkeypatch, capsys, recorded, asked, message):
    model = build_tiny_model(tmp_path / "tiny.safetensors")
    source = tmp_path / "voice.wav"
    save_audio(source, sung_tone(1.0), 24000)
    targets = _targets(tmp_path / "corpus", singers=recorded)
    monkeypatch.setattr(sys, "argv", ["bench_live_quality.py", "--sources", str(source), "--singers", *asked,
                                      "--model", model.path, "--targets-dir", str(targets)])
    with pytest.raises(SystemExit) as info:
        load_bench("bench_live_quality").main()
    assert info.value.code == 2
    assert message in capsys.readouterr().err
