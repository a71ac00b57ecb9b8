"""Feature retrieval: the k-means index, the blend toward a singer's codes, the model-file part,
building it from a training cache, and the conversion paths that use it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.convert import VoiceModel, convert_audio
from core.convert.stream import ConversionStream
from core.errors import ModelFileError, UserError
from core.features.retrieval import SingerIndex, check_retrieval_ratio, kmeans
from core.train.retrieval_index import add_index, singer_codes, write_index
from tests.convert_fixtures import SINGERS, build_tiny_model, sung_tone


def _clusters(centres: list[list[float]], per: int = 50, spread: float = 0.01, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.cat([torch.tensor(c) + spread * torch.randn(per, len(c), generator=generator) for c in centres])


def test_kmeans_finds_separated_clusters():
    centres = [[0.0, 0.0], [5.0, 0.0], [0.0, 5.0], [5.0, 5.0]]
    found = kmeans(_clusters(centres), 4)
    for centre in torch.tensor(centres):
        assert torch.min(torch.linalg.norm(found - centre, dim=1)) < 0.05


def test_kmeans_keeps_few_codes_as_they_are():
    codes = torch.randn(3, 4)
    assert torch.equal(kmeans(codes, 8), codes)


def test_blend_moves_codes_toward_the_singers_own():
    near_a, near_b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    index = SingerIndex([near_a, near_b])
    codes = torch.tensor([[0.6, 0.4], [0.2, 0.1]])
    assert torch.equal(index.blend(codes, 0, 0.0), codes)
    assert torch.allclose(index.blend(codes, 0, 1.0), near_a.expand(2, -1))
    half = index.blend(codes, 1, 0.5)
    assert torch.allclose(half, 0.5 * codes + 0.5 * near_b)


def test_blend_weights_the_nearest_codes_most():
    table = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    index = SingerIndex([table])
    out = index.blend(torch.tensor([[1.0, 0.0]]), 0, 1.0, neighbours=2)
    # inverse-square weights of squared distances 1 and 81: almost all on the first code
    assert 0.0 < out[0, 0] < 0.01


def test_ratio_must_lie_in_0_to_1():
    assert check_retrieval_ratio(0.25) == 0.25
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(UserError, match="between 0 and 1"):
            check_retrieval_ratio(bad)


def test_file_part_round_trip_and_mismatch():
    index = SingerIndex([torch.randn(5, 3), torch.randn(7, 3)])
    part = index.file_part()
    assert all(t.dtype == torch.float16 for t in part.values())
    back = SingerIndex.from_file_part(part, 2, 3, "m")
    assert torch.allclose(back.tables[1], index.tables[1], atol=1e-2)
    with pytest.raises(ModelFileError, match="2 singers"):
        SingerIndex.from_file_part({"0": part["0"]}, 2, 3, "m")
    with pytest.raises(ModelFileError, match="4-d"):
        SingerIndex.from_file_part(part, 2, 4, "m")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("retrieval") / "tiny.safetensors"
    return build_tiny_model(path)


def test_a_model_without_an_index_refuses_retrieval(tiny):
    assert tiny.retrieval is None
    with pytest.raises(UserError, match="no retrieval index"):
        ConversionStream(tiny, singer=SINGERS[0], retrieval=0.5)


def test_write_index_adds_the_part_and_keeps_the_rest(tiny, tmp_path):
    dim = tiny.content_encoder.dim
    index = SingerIndex([torch.randn(6, dim), torch.randn(4, dim)])
    out = tmp_path / "indexed.safetensors"
    write_index(tiny.path, index, out)
    loaded = VoiceModel.load(out)
    assert [len(t) for t in loaded.retrieval.tables] == [6, 4]
    for a, b in zip(loaded.generator.state_dict().values(), tiny.generator.state_dict().values()):
        assert torch.equal(a, b)
    again = SingerIndex([torch.randn(2, dim), torch.randn(2, dim)])
    write_index(out, again, out)  # replaces the old index in place
    assert [len(t) for t in VoiceModel.load(out).retrieval.tables] == [2, 2]


def test_conversion_with_retrieval_changes_the_output_and_stays_block_independent(tiny, tmp_path):
    dim = tiny.content_encoder.dim
    out = tmp_path / "indexed.safetensors"
    far = [10.0 * torch.randn(16, dim) for _ in SINGERS]  # far from the tone's own codes
    write_index(tiny.path, SingerIndex(far), out)
    model = VoiceModel.load(out)
    audio = sung_tone(1.0)
    plain, _, _ = convert_audio(model, audio, 24000, SINGERS[0])
    pulled, _, _ = convert_audio(model, audio, 24000, SINGERS[0], retrieval=1.0)
    scale = float(np.max(np.abs(plain)))  # a random tiny model plays quietly
    assert scale > 0 and np.max(np.abs(plain - pulled)) > 0.02 * scale
    other_blocks, _, _ = convert_audio(model, audio, 24000, SINGERS[0], retrieval=1.0, block_seconds=0.3)
    assert np.max(np.abs(other_blocks - pulled)) < 1e-3 * scale


def _write_cache(root, model, singers_frames: dict[str, int]):
    """A preprocess cache with one train clip and one key copy per singer (random log-mels)."""
    from core.data.cache import ClipFeatures, save_clip, write_manifest

    clips = []
    n_mels = model.config.audio.n_mels
    for name, frames in singers_frames.items():
        for augment in ("none", "key"):
            rel = f"clips/{name}/{augment}.npz"
            (root / "clips" / name).mkdir(parents=True, exist_ok=True)
            mel = np.random.default_rng(len(clips)).uniform(-5, 0, (n_mels, frames)).astype(np.float32)
            save_clip(root / rel, ClipFeatures(mel=mel, f0=np.full(frames, 200, np.float32),
                                               voiced=np.ones(frames, bool), loudness=np.ones(frames, np.float32),
                                               key_shift=0.0))
            clips.append({"id": f"{name}/{augment}", "singer": name, "split": "train", "file": rel,
                          "frames": frames, "augment": augment})
    write_manifest(root, {"format_version": 1, "singers": list(singers_frames), "clips": clips})


def test_index_from_a_cache_uses_the_models_encoder_and_skips_shifted_copies(tiny, tmp_path):
    _write_cache(tmp_path, tiny, {SINGERS[0]: 40, SINGERS[1]: 30})
    codes = singer_codes(tiny, tmp_path)
    assert [len(c) for c in codes] == [40, 30]  # the key copies are left out
    out = tmp_path / "indexed.safetensors"
    index = add_index(tiny.path, tmp_path, out, count=8)
    assert [len(t) for t in index.tables] == [8, 8]
    assert VoiceModel.load(out).retrieval is not None


def test_index_from_a_cache_without_a_singer_is_refused(tiny, tmp_path):
    _write_cache(tmp_path, tiny, {SINGERS[0]: 40})
    with pytest.raises(UserError, match=SINGERS[1]):
        singer_codes(tiny, tmp_path)


def test_index_and_convert_commands(tiny, tmp_path, capsys):
    import soundfile as sf

    from cli.main import main

    cache = tmp_path / "cache"
    _write_cache(cache, tiny, {SINGERS[0]: 40, SINGERS[1]: 30})
    song = tmp_path / "song.wav"
    sf.write(song, sung_tone(0.5), 24000)
    assert main(["convert", str(song), "--model", tiny.path, "--singer", SINGERS[0], "--retrieval", "0.5"]) == 2
    assert "holds no retrieval index" in capsys.readouterr().err
    indexed = tmp_path / "indexed.safetensors"
    assert main(["index", tiny.path, str(cache), "--out", str(indexed), "--codes", "4"]) == 0
    assert "2 singers, 4 codes each" in capsys.readouterr().out
    assert main(["index", tiny.path, str(cache), "--out", str(indexed)]) == 2  # exists, no --force
    assert "--force" in capsys.readouterr().err
    assert main(["convert", str(song), "--model", str(indexed), "--singer", SINGERS[0], "--retrieval", "1.5"]) == 2
    assert "between 0 and 1" in capsys.readouterr().err
    out = tmp_path / "out"
    assert main(["convert", str(song), "--model", str(indexed), "--singer", SINGERS[0], "--retrieval", "0.5",
                 "--out", str(out)]) == 0
    assert sf.info(str(out / f"song_{SINGERS[0]}.wav")).frames == 12000


def test_the_live_engine_takes_the_ratio_and_refuses_it_without_an_index(tiny, tmp_path):
    from realtime.engine import Engine
    from realtime.engine_process import engine_info
    from realtime.model_converter import ModelConverter
    from realtime.presets import load_preset
    from realtime.simulate import simulate
    from realtime.simulator import SimulatedBackend
    from realtime.standin import StandInConverter

    audio = sung_tone(1.0, 48000)
    for plain in (StandInConverter(), ModelConverter(tiny)):
        engine = Engine(plain, load_preset("balanced"), SimulatedBackend(audio, samplerate=48000, blocksize=256))
        engine.set_retrieval(0.0)
        with pytest.raises(UserError, match="no retrieval index"):
            engine.set_retrieval(0.5)
        assert engine_info(engine)["retrieval_available"] is False
    out = tmp_path / "indexed.safetensors"
    write_index(tiny.path, SingerIndex([10.0 * torch.randn(16, tiny.content_encoder.dim) for _ in SINGERS]), out)
    converter = ModelConverter(VoiceModel.load(out))
    controls = {"singer": SINGERS[0], "retrieval": 0.8}
    report, _ = simulate(converter, load_preset("balanced"), audio, 48000, controls=controls, compute_ms=1.0,
                         on_engine=lambda e: pytest.raises(UserError, e.set_retrieval, 1.2))
    assert converter.stream.retrieval == pytest.approx(0.8)
    assert report.xruns == 0
