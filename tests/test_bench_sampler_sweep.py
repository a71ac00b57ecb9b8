"""bench/bench_sampler_sweep.py: variant parsing and a run on a tiny model."""

import json

import pytest

from convert_fixtures import DNSMOS_ONE_WINDOW_SECONDS, build_tiny_model, sung_tone
from core.audio.io import save_audio
from core.convert import VoiceModel
from core.errors import UserError
from tests.bench_scripts import load_bench


@pytest.fixture(scope="module")
def sweep():
    return load_bench("bench_sampler_sweep")


def test_variants_parse_and_refuse(sweep):
    assert sweep.parse_variant("teacher:50:floor=1.0:churn=40") == sweep.Variant("teacher", 50, 1.0, 40.0)
    assert sweep.parse_variant("student:4") == sweep.Variant("student", 4)
    assert sweep.parse_variant("teacher:4:churn=0").churn == 0.0  # the ODE, not "the model's own"
    assert sweep.parse_variant("teacher:8:floor=0.4").label == "teacher:8:floor=0.4"
    assert sweep.parse_variant("teacher:3:churn=0:rho=20") == sweep.Variant("teacher", 3, None, 0.0, 20.0)
    assert sweep.parse_variant("teacher:3:rho=20").label == "teacher:3:rho=20"
    assert sweep.parse_variant("teacher:50:guidance=0") == sweep.Variant("teacher", 50, guidance=0.0)
    assert sweep.parse_variant("teacher:50:churn=0:guidance=1.5").label == "teacher:50:churn=0:guidance=1.5"
    for bad in ("teacher", "teacher:0", "heun:4", "student:2:floor=1", "teacher:4:churn=x", "teacher:4:floor=-1",
                "teacher:4:rho=0", "teacher:4:rho=-7", "student:1:rho=3", "teacher:4:sigma=3", "student:1:guidance=1",
                "teacher:4:guidance=-1"):
        with pytest.raises(UserError):
            sweep.parse_variant(bad)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(model file, one sung source, the model's first singer)."""
    root = tmp_path_factory.mktemp("sweep")
    model_path = root / "tiny.safetensors"
    build_tiny_model(model_path)
    source = root / "src.wav"
    save_audio(source, sung_tone(DNSMOS_ONE_WINDOW_SECONDS, hz=220.0), 24000)
    return model_path, source, VoiceModel.load(model_path, "cpu").singers.names[0]


def test_a_run_reports_every_variant_against_the_first_and_restores_the_teacher(sweep, tiny, capsys):
    model_path, source, singer = tiny
    code = sweep.main(["--model", str(model_path), "--sources", str(source), "--singers", singer,
                       "--variants", "teacher:3", "teacher:3:floor=1.5", "teacher:3:churn=0", "teacher:3:rho=2",
                       "teacher:3", "student:1",
                       "--max-seconds", str(DNSMOS_ONE_WINDOW_SECONDS), "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    rows = {i: row for i, row in enumerate(result["variants"])}
    assert result["pairs"] == 1 and "against_first" not in rows[0]
    assert all(rows[i]["scores"] != rows[0]["scores"] for i in (1, 2, 3))
    # the plain sampler again, after the floor, churn and rho variants: they were undone
    assert rows[4]["scores"] == rows[0]["scores"]
    assert rows[4]["against_first"]["mean_difference"] == 0.0
    assert all(1.0 <= s <= 5.0 for row in rows.values() for s in row["scores"])


@pytest.mark.slow  # ~5 s: several seeded sweeps
def test_seeds_are_draws_of_one_variant_and_compared_draw_by_draw(sweep, tiny, capsys):
    model_path, source, singer = tiny
    runs = {}
    for seeds in (["0"], ["1"], ["0", "1"]):
        assert sweep.main(["--model", str(model_path), "--sources", str(source), "--singers", singer,
                           "--variants", "teacher:3", "teacher:3:churn=0", "--seeds", *seeds,
                           "--max-seconds", str(DNSMOS_ONE_WINDOW_SECONDS), "--json"]) == 0
        runs[" ".join(seeds)] = json.loads(capsys.readouterr().out)
    first = [run["variants"][0]["scores"][0] for run in (runs["0"], runs["1"])]
    assert first[0] != first[1]  # another seed, another draw of the churned teacher
    both = runs["0 1"]["variants"]
    assert both[0]["seed_means"] == pytest.approx(first)
    assert both[0]["scores"][0] == pytest.approx(sum(first) / 2)
    assert "against_first_by_seed" in both[1] and "against_first_by_seed" not in runs["0"]["variants"][1]
    ode = [run["variants"][1]["scores"][0] for run in (runs["0"], runs["1"])]
    by_seed = both[1]["against_first_by_seed"]
    assert by_seed["mean_difference"] == pytest.approx((ode[0] - first[0] + ode[1] - first[1]) / 2)


def test_an_unknown_singer_is_one_line(sweep, tmp_path, capsys):
    build_tiny_model(tmp_path / "tiny.safetensors")
    source = tmp_path / "src.wav"
    save_audio(source, sung_tone(0.5, hz=220.0), 24000)
    code = sweep.main(["--model", str(tmp_path / "tiny.safetensors"), "--sources", str(source),
                       "--singers", "nobody", "--variants", "student:1"])
    assert code != 0 and "no singer nobody" in capsys.readouterr().err


def test_guidance_variants_guide_the_teacher_and_a_teacher_without_dropout_refuses_them(sweep, tiny, tmp_path, capsys):
    model_path, source, singer = tiny
    args = ["--sources", str(source), "--singers", singer, "--max-seconds", str(DNSMOS_ONE_WINDOW_SECONDS), "--json"]
    assert sweep.main(["--model", str(model_path), "--variants", "teacher:3", "teacher:3:guidance=1", *args]) != 0
    assert "singer_dropout_prob" in capsys.readouterr().err
    guidable = tmp_path / "guidable.safetensors"
    build_tiny_model(guidable, overrides={"train.singer_dropout_prob": 0.15})
    assert sweep.main(["--model", str(guidable), "--variants", "teacher:3", "teacher:3:guidance=1.5", "teacher:3",
                       *args]) == 0
    rows = json.loads(capsys.readouterr().out)["variants"]
    assert rows[1]["scores"] != rows[0]["scores"]  # the model's own guidance is 0: 1.5 is another sampler
    assert rows[2]["scores"] == rows[0]["scores"]  # and it was undone
