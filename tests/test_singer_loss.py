"""The cross-singer classifier loss of student distillation (core/train/singer_loss.py) and `train student --init`."""

import pytest
import torch

from core.data.preprocess import preprocess
from core.data.dataset import CachedDataset
from core.errors import ModelFileError, UserError
from core.model.acoustic import AcousticModel
from core.model.conditioning import ConditionInputs
from core.model.model_file import load_model
from core.model.singer_classifier import SingerClassifier
from core.train.singer_loss import classifier_accuracy, cross_singer_loss, other_singers, train_singer_classifier
from core.train.student import train_student
from core.train.teacher import train_teacher
from tests.student_fixtures import cache, teacher  # noqa: F401 (fixtures)
from tests.student_fixtures import run_options as _options
from tests.test_data_fixtures import make_corpus, micro_config


def test_other_singers_never_repeats_the_singer_and_reaches_every_other():
    singer = torch.arange(5).repeat(200)
    other = other_singers(singer, 5, torch.Generator().manual_seed(0))
    assert not torch.any(other == singer)
    for s in range(5):
        assert set(other[singer == s].tolist()) == set(range(5)) - {s}


def test_classifier_ignores_level_and_padding():
    torch.manual_seed(0)
    classifier = SingerClassifier(8, 3).eval()
    mel = torch.randn(1, 8, 40)
    mask = torch.ones(1, 40)
    louder = classifier(mel + 0.7, mask)
    assert torch.allclose(classifier(mel, mask), louder, atol=1e-5)
    padded = torch.cat([mel, torch.full((1, 8, 10), 3.0)], -1)
    pad_mask = torch.cat([mask, torch.zeros(1, 10)], -1)
    # Frames past the mask change the result only through the convolutions' edge (they are zeroed first).
    assert torch.allclose(classifier(padded, pad_mask), classifier(torch.cat([mel, torch.zeros(1, 8, 10)], -1), pad_mask))


def test_classifier_learns_the_cache_singers(cache):
    cfg = micro_config()
    train, val = CachedDataset(cache, "train"), CachedDataset(cache, "val", originals_only=True)
    assert len(val.clips) == 4  # two held-out clips per singer
    untrained = SingerClassifier(cfg.audio.n_mels, 2).eval()
    before = torch.get_rng_state()
    classifier, accuracy = train_singer_classifier(train, val, cfg, 32, 60, 0, torch.device("cpu"), log=lambda m: None)
    assert torch.equal(torch.get_rng_state(), before)  # seeded on its own, the caller's random state untouched
    again, _ = train_singer_classifier(train, val, cfg, 32, 60, 0, torch.device("cpu"), log=lambda m: None)
    assert all(torch.equal(p, q) for p, q in zip(classifier.parameters(), again.parameters()))
    assert not any(p.requires_grad for p in classifier.parameters())
    # The micro corpus's two singers differ in timbre: trained, it tells every held-out clip apart.
    assert accuracy == 1.0
    assert classifier_accuracy(untrained, val, cfg, torch.device("cpu")) <= 0.75
    assert classifier_accuracy(classifier, CachedDataset(cache, "val", originals_only=True), cfg,
                               torch.device("cpu")) == accuracy


def test_cross_singer_loss_gradient_moves_output_toward_the_asked_singer():
    torch.manual_seed(0)
    cfg = micro_config()
    model = AcousticModel.from_config(cfg, 2)
    torch.nn.init.normal_(model.network.output_projection.weight, std=0.1)  # zero at init; a trained one is not
    classifier = SingerClassifier(cfg.audio.n_mels, 2).requires_grad_(False).eval()
    classifier.head.weight.mul_(10.0)  # a classifier that tells mels apart (a random one barely does)
    frames = 24
    inputs = ConditionInputs(torch.randn(4, frames, cfg.features.content_dim), torch.full((4, frames), 200.0),
                             torch.full((4, frames), 0.1), torch.tensor([0, 1, 0, 1]), torch.zeros(4))
    mask = torch.ones(4, frames)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        loss, heard = cross_singer_loss(model, classifier, inputs, mask, torch.Generator().manual_seed(1),
                                        torch.Generator().manual_seed(2))
        assert 0.0 <= heard <= 1.0
        losses.append(float(loss.detach()))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert losses[-1] < losses[0] * 0.8
    assert heard == 1.0
    assert next(iter(classifier.parameters())).grad is None  # the classifier stays frozen


def test_student_with_singer_loss_resumes_exactly_and_logs_its_figures(cache, teacher, tmp_path):
    overrides = {"train.student_singer_weight": 0.5, "train.singer_classifier_steps": 5}
    lines: list[str] = []
    a = train_student(cache, teacher, tmp_path / "a.safetensors", _options(4), overrides=overrides, log=lines.append)
    assert any("singer classifier: 5 steps" in line for line in lines)
    assert "val_singer_heard" in a["validation"]
    train_student(cache, teacher, tmp_path / "b.safetensors", _options(2), overrides=overrides, log=lambda m: None)
    train_student(cache, teacher, tmp_path / "b.safetensors", _options(4, resume=True), overrides=overrides,
                  log=lambda m: None)
    x, y = load_model(tmp_path / "a.safetensors"), load_model(tmp_path / "b.safetensors")
    for (key, p), q in zip(x.student.state_dict().items(), y.student.state_dict().values()):
        assert torch.equal(p, q), key
    plain = train_student(cache, teacher, tmp_path / "c.safetensors", _options(4), log=lambda m: None)
    assert "val_singer_heard" not in plain["validation"]
    # The same run, the same draws and classifier, with the singer term weighted next to nothing: the
    # term itself, not only the extra noise draws, moves the weights.
    faint = {**overrides, "train.student_singer_weight": 1e-12}
    train_student(cache, teacher, tmp_path / "d.safetensors", _options(4), overrides=faint, log=lambda m: None)
    z = load_model(tmp_path / "d.safetensors")
    assert any(not torch.equal(p, q) for p, q in zip(x.student.state_dict().values(), z.student.state_dict().values()))

    # A train-state made with another singer weight (on or off) is refused before it is loaded, file untouched.
    state_file = tmp_path / "b.train-state.safetensors"
    before = state_file.read_bytes()
    for other in ({}, faint):
        with pytest.raises(UserError, match="student_singer_weight=0.5"):
            train_student(cache, teacher, tmp_path / "b.safetensors", _options(6, resume=True), overrides=other,
                          log=lambda m: None)
    assert state_file.read_bytes() == before
    with pytest.raises(UserError, match="student_singer_weight=0;"):
        train_student(cache, teacher, tmp_path / "c.safetensors", _options(6, resume=True), overrides=overrides,
                      log=lambda m: None)


def test_singer_loss_needs_two_singers(tmp_path):
    root = make_corpus(tmp_path / "data", singers=1, files=4)
    cache = tmp_path / "cache"
    preprocess(root, cache, micro_config(), progress=False, log=lambda m: None)
    teacher = tmp_path / "teacher.safetensors"
    train_teacher(cache, teacher, micro_config(), _options(1), log=lambda m: None)
    with pytest.raises(UserError, match="at least two singers"):
        train_student(cache, teacher, tmp_path / "s.safetensors", _options(1),
                      overrides={"train.student_singer_weight": 0.5}, log=lambda m: None)


def test_init_starts_the_student_from_a_model_files_student(cache, teacher, tmp_path):
    first = tmp_path / "first.safetensors"
    train_student(cache, teacher, first, _options(3), log=lambda m: None)
    again = tmp_path / "again.safetensors"
    train_student(cache, teacher, again, _options(0), log=lambda m: None, init=first)
    a, b = load_model(first), load_model(again)
    for (key, p), q in zip(a.student.state_dict().items(), b.student.state_dict().values()):
        assert torch.equal(p, q), key
    fresh = load_model(teacher)
    assert any(not torch.equal(p, q) for p, q in zip(a.student.state_dict().values(), fresh.teacher.state_dict().values()))
    with pytest.raises(ModelFileError, match="holds no student"):
        train_student(cache, teacher, tmp_path / "bad.safetensors", _options(0), log=lambda m: None, init=teacher)
    # A student of another config with the same shapes (another dilation) is refused, not loaded silently.
    redilated = tmp_path / "redilated.safetensors"
    train_student(cache, teacher, redilated, _options(1), overrides={"model.dilation": 2}, log=lambda m: None)
    with pytest.raises(UserError, match="other 'model' settings"):
        train_student(cache, teacher, tmp_path / "bad.safetensors", _options(0), log=lambda m: None, init=redilated)
