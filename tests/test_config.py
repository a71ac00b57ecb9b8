import dataclasses

import pytest

from core.config import available_configs, load_config
from core.errors import ConfigError


def test_paper_config_holds_the_papers_constants():
    c = load_config("paper")
    assert (c.audio.sample_rate, c.audio.n_fft, c.audio.hop_length, c.audio.n_mels) == (24000, 512, 128, 80)
    assert (c.audio.fmin, c.audio.fmax) == (30.0, 12000.0)
    assert (c.model.residual_layers, c.model.residual_channels, c.model.cond_channels) == (20, 512, 256)
    assert (c.edm.sigma_min, c.edm.sigma_max, c.edm.sigma_data, c.edm.rho) == (0.002, 80.0, 0.5, 7.0)
    assert c.edm.distill_steps == 25 and c.edm.ema_decay == 0.95


def test_smaller_sizes_inherit_everything_else_from_paper():
    paper, live, tiny = (load_config(n) for n in ("paper", "live", "tiny"))
    assert {"paper", "live", "tiny"} <= set(available_configs())
    assert live.audio == paper.audio
    # The small sizes change sigma_data (below our mels' measured std, 0.31) and end the teacher's
    # sampler where their denoiser still works, with churn, distil on a 3-point grid and start the
    # student from less noise: see live.yaml.
    assert tiny.edm == live.edm == paper.edm.__class__(**{**paper.edm.__dict__, "sigma_data": 0.2,
                                                          "teacher_floor": 0.4, "teacher_churn": 20.0,
                                                          "distill_steps": 3, "student_latent_scale": 0.6})
    assert tiny.model.residual_channels < live.model.residual_channels < paper.model.residual_channels


def test_overrides_apply_and_unknown_keys_are_refused(tmp_path):
    c = load_config("tiny", {"model.residual_layers": 3})
    assert c.model.residual_layers == 3
    with pytest.raises(ConfigError, match="unknown config key"):
        load_config("tiny", {"model.no_such_key": 1})
    bad = tmp_path / "bad.yaml"
    bad.write_text("inherit: paper\nmodel:\n  residual_layers: many\n")
    with pytest.raises(ConfigError, match="model.residual_layers"):
        load_config(str(bad))


def test_a_float_written_with_an_exponent_and_no_dot_is_a_float(tmp_path):
    # PyYAML reads `3e-5` as text (YAML 1.1 wants `3.0e-5`); --set and config files both get this.
    assert load_config("tiny", {"train.teacher_lr": "3e-5"}).train.teacher_lr == 3e-5
    written = tmp_path / "lr.yaml"
    written.write_text("inherit: tiny\ntrain:\n  student_lr: 2E+0\n")
    assert load_config(str(written)).train.student_lr == 2.0
    with pytest.raises(ConfigError, match="train.teacher_lr"):
        load_config("tiny", {"train.teacher_lr": "3e"})


@pytest.mark.parametrize("key", ["edm.teacher_churn", "edm.teacher_floor", "edm.student_latent_scale"])
def test_a_negative_or_nan_sampler_setting_is_refused_when_the_config_is_built(key):
    for bad in (-1.0, float("nan")):
        with pytest.raises(ConfigError, match=f"'{key}' must be >= 0"):
            load_config("live", {key: bad})
    assert load_config("live", {key: 0.0}) is not None


def test_the_band_limit_share_is_a_probability_and_old_model_files_read_it_as_off():
    from core.config import from_stored_dict

    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ConfigError, match="train.content_band_limit_prob"):
            load_config("live", {"train.content_band_limit_prob": bad})
    assert load_config("live", {"train.content_band_limit_prob": 1.0}).train.content_band_limit_prob == 1.0
    stored = dataclasses.asdict(load_config("live", {"train.content_band_limit_prob": 0.5}))
    del stored["train"]["content_band_limit_prob"]  # a file written before the key existed
    assert from_stored_dict(stored).train.content_band_limit_prob == 0.0
