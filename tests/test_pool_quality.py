"""bench/pool_quality.py: bench_quality.py runs of several sets and seeds, pooled as sets x draws."""

import contextlib
import io
import json
import shutil

import numpy as np
import pytest

from convert_fixtures import DNSMOS_ONE_WINDOW_SECONDS, SINGERS, build_tiny_model, sung_tone
from core.audio.io import save_audio
from tests.bench_scripts import load_bench

pytestmark = pytest.mark.slow  # the shared fixture runs bench_quality.py four times (~7 s)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Real bench_quality.py outputs: two sets of one source each, seeds 0 and 1, a tiny model of two singers."""
    root = tmp_path_factory.mktemp("pool")
    build_tiny_model(root / "tiny.safetensors")
    targets = root / "targets"
    for singer, hz in zip(SINGERS, (330.0, 150.0)):
        (targets / singer).mkdir(parents=True)
        for i in range(2):
            save_audio(targets / singer / f"{i}.wav", sung_tone(1.0, hz=hz + 10 * i), 24000)
    paths = {}
    bench = load_bench("bench_quality")
    for index, hz in enumerate((220.0, 180.0)):
        source = root / f"src{index}.wav"
        save_audio(source, sung_tone(DNSMOS_ONE_WINDOW_SECONDS, hz=hz), 24000)
        for seed in (0, 1):
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                code = bench.main(["--model", str(root / "tiny.safetensors"), "--sources", str(source),
                                   "--targets-dir", str(targets), "--eval-f0", "dio", "--steps", "1",
                                   "--seed", str(seed), "--max-seconds", str(DNSMOS_ONE_WINDOW_SECONDS), "--json"])
            assert code == 0
            paths[index, seed] = root / f"set{index}_seed{seed}.json"
            paths[index, seed].write_text(printed.getvalue())
    return root, paths


def test_sets_and_seeds_are_pooled_as_the_runs_count_them(runs, capsys):
    root, paths = runs
    pool = load_bench("pool_quality")
    assert pool.main([str(p) for p in paths.values()] + ["--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["seeds"] == [0, 1] and result["sets"] == 2
    sampler = result["samplers"]["1"]
    assert sampler["complete"]
    for seed in (0, 1):
        own = [json.loads(paths[s, seed].read_text()) for s in (0, 1)]
        # bench_quality's own identification of each run, pooled by hand
        hits = sum(round(r["by_steps"]["1"]["singer_id"]["top1"] * r["by_steps"]["1"]["singer_id"]["n"]) for r in own)
        pooled = sampler["by_seed"][str(seed)]
        assert pooled["pairs"] == 2 * len(SINGERS) and pooled["top1"] == hits
        ratios = [np.mean([p["dnsmos"]["ovrl"] for p in r["pairs"]]) / r["source_dnsmos_ovrl_mean"] for r in own]
        assert pooled["lowest_set_dnsmos_ratio"] == pytest.approx(min(ratios))
    first = sampler["sets"][0]
    assert first["top1_mean"] == pytest.approx(np.mean([first["by_seed"][s]["top1"] for s in ("0", "1")]))
    shares = [sampler["by_seed"][s]["top1_share"] for s in ("0", "1")]
    assert sampler["top1_share_mean"] == pytest.approx(np.mean(shares))
    assert pool.main([str(p) for p in paths.values()]) == 0
    assert "top-1 over the seeds" in capsys.readouterr().out


def test_each_singer_is_pooled_over_every_run_beside_its_ceiling(runs, capsys, tmp_path):
    root, paths = runs
    pool = load_bench("pool_quality")
    own = [json.loads(p.read_text()) for p in paths.values()]
    # a ceiling as bench_identity_ceiling.py writes it: one singer found in 3 of 4, the other never
    ceiling = tmp_path / "ceiling.json"
    ceiling.write_text(json.dumps({"at_source_pitch_by_singer": {
        SINGERS[0]: {"top1": 3, "n": 4, "heard_as": {SINGERS[1]: 1}},
        SINGERS[1]: {"top1": 0, "n": 4, "heard_as": {SINGERS[0]: 4}}}}))
    assert pool.main([str(p) for p in paths.values()] + ["--ceiling", str(ceiling), "--json"]) == 0
    sampler = json.loads(capsys.readouterr().out)["samplers"]["1"]
    for singer, share in zip(SINGERS, (0.75, 0.0)):
        row = sampler["by_singer"][singer]
        mine = [p for r in own for p in r["pairs"] if p["singer"] == singer]
        assert row["pairs"] == len(mine) == 4  # two sets x two seeds
        assert row["top1"] == sum(p["nearest_singer"] == singer for p in mine)
        assert sum(row["heard_as"].values()) == row["pairs"] - row["top1"]
        assert row["ceiling_share"] == share
    # the first draw against the second, pair by pair, counted by hand
    same = sum(a["nearest_singer"] == b["nearest_singer"]
               for s in (0, 1) for a, b in zip(json.loads(paths[s, 0].read_text())["pairs"],
                                               json.loads(paths[s, 1].read_text())["pairs"]))
    agreement = sampler["draw_agreement"]["0-1"]
    assert agreement["pairs"] == 2 * len(SINGERS) and agreement["same_share"] == pytest.approx(same / 4)
    assert pool.main([str(p) for p in paths.values()] + ["--ceiling", str(ceiling)]) == 0
    printed = capsys.readouterr().out
    assert "(ceiling 75%)" in printed and "heard as the same singer in draws 0-1" in printed
    assert pool.main([str(paths[0, 0])] + ["--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samplers"]["1"]["draw_agreement"] is None  # one draw


def test_runs_that_cannot_be_pooled_are_one_error_line(runs, capsys, tmp_path):
    root, paths = runs
    pool = load_bench("pool_quality")
    first = json.loads(paths[0, 0].read_text())

    def fails(files, *flags):
        assert pool.main([str(f) for f in files] + list(flags)) != 0
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and len(err.splitlines()) == 1
        return err

    transposed = tmp_path / "auto.json"
    transposed.write_text(json.dumps({**first, "auto_transpose": True, "auto_transpose_mode": "semitones"}))
    assert "transposition" in fails([paths[0, 0], transposed])
    other_model = tmp_path / "other.safetensors"
    build_tiny_model(other_model, medians={s: 200.0 for s in SINGERS})
    assert "model" in fails([paths[0, 0], _rewritten(tmp_path, first, model=str(other_model))])
    copy = tmp_path / "copy.safetensors"
    shutil.copy(root / "tiny.safetensors", copy)  # the same bytes elsewhere: the same model
    assert pool.main([str(paths[0, 0]), str(_rewritten(tmp_path, first, model=str(copy), seed=1))]) == 0
    capsys.readouterr()
    assert "repeats" in fails([paths[0, 0], paths[0, 0]])
    assert "teacher-4" in fails([paths[0, 0]], "--steps", "teacher-4")
    broken = tmp_path / "broken.json"
    broken.write_text('{"pairs": [')
    assert "not JSON" in fails([broken])
    assert "no such file" in fails([tmp_path / "absent.json"])
    old_ceiling = tmp_path / "old_ceiling.json"
    old_ceiling.write_text(json.dumps({"at_source_pitch": {"top1": 0.5, "n": 4}}))
    assert "per-singer" in fails([paths[0, 0]], "--ceiling", str(old_ceiling))
    assert "no such file" in fails([paths[0, 0]], "--ceiling", str(tmp_path / "absent_ceiling.json"))


def _rewritten(folder, run, **changes):
    """A copy of a run's JSON with some fields changed, as a new file in folder."""
    path = folder / f"run_{len(list(folder.iterdir()))}.json"
    path.write_text(json.dumps({**run, **changes}))
    return path
