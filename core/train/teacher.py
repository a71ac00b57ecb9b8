"""`comosvc train teacher`: the EDM teacher, with the built-in content encoder trained jointly.

Per step: a batch of random crops (core.data.dataset); content codes from the
built-in encoder on a PERTURBED mel of the clip (formant/pitch/EQ perturbed at
preprocessing, plus a fresh random mel EQ here), or the cached frozen code
(imported ContentVec); EDM loss on the normalised target mel. With two or
more singers a speaker adversary behind gradient reversal reads the codes
(weight `adversary_weight`), so the encoder learns to hide the singer; the
singer then reaches the model only through its embedding. After training a
linear speaker probe on held-out clips measures what leaks (core.train.leakage).

The model file holds the teacher and, under "content", the encoder
(metadata "content" = the encoder's file metadata), see core.model.model_file.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from core.audio.mel import normalize
from core.config import Config
from core.data.dataset import Batch, CachedDataset
from core.errors import UserError
from core.model.acoustic import AcousticModel
from core.model.conditioning import ConditionInputs
from core.model.guidance import drop_singers
from core.model.losses import edm_loss, ema_update
from core.train.distributed import Runtime, setup_runtime, teardown, weight_divergence
from core.train.loop import LoopSettings, default_dirs, log_mel_image, run_loop, try_resume
from core.train.state import TrainState


@dataclass(frozen=True)
class RunOptions:
    """What every acoustic trainer takes besides data and config."""

    steps: int
    resume: bool = False
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    checkpoint_every: int | None = None
    log_every: int | None = None
    progress: bool = True
    max_minutes: float | None = None
    batch_size: int | None = None
    tensorboard: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def crop_frames(cfg: Config) -> int:
    return max(int(round(cfg.train.crop_seconds * cfg.audio.sample_rate / cfg.audio.hop_length)), 1)


def check_cache(data: CachedDataset, cfg: Config) -> None:
    m = data.manifest
    if m["n_mels"] != cfg.audio.n_mels or m["hop_length"] != cfg.audio.hop_length or m["sample_rate"] != cfg.audio.sample_rate:
        raise UserError(f"the feature cache was made for {m['n_mels']} mels / hop {m['hop_length']} / {m['sample_rate']} Hz, "
                        f"the '{cfg.name}' config needs {cfg.audio.n_mels} / {cfg.audio.hop_length} / {cfg.audio.sample_rate}")
    if m["content"] == "frozen" and m["content_dim"] != cfg.features.content_dim:
        raise UserError(f"the cached content codes are {m['content_dim']}-d; the config expects {cfg.features.content_dim}")
    if m["content"] == "builtin" and cfg.features.content_encoder != "builtin":
        raise UserError("the cache was made for the built-in content encoder but the config names "
                        f"'{cfg.features.content_encoder}'; pass --set features.content_encoder=builtin or re-run preprocess")


class TeacherSystem(nn.Module):
    """Teacher + optional built-in encoder + optional speaker adversary; forward returns the loss."""

    def __init__(self, acoustic: AcousticModel, encoder: nn.Module | None, adversary: nn.Module | None,
                 cfg: Config, adversary_weight: float, mel_eq_db: float) -> None:
        super().__init__()
        self.acoustic, self.encoder, self.adversary = acoustic, encoder, adversary
        self.audio_cfg = cfg.audio
        self.band_limit_prob = cfg.train.content_band_limit_prob
        self.singer_dropout_prob = cfg.train.singer_dropout_prob
        self.adversary_weight, self.mel_eq_db = adversary_weight, mel_eq_db

    def content(self, batch: Batch, generator: torch.Generator | None) -> torch.Tensor:
        if self.encoder is None:
            return batch.content
        mel = batch.mel_perturbed
        if generator is not None and self.mel_eq_db > 0:
            from core.features.perturb import random_mel_eq

            mel = random_mel_eq(mel.cpu(), self.mel_eq_db, generator).to(mel.device)
        if generator is not None and self.band_limit_prob > 0:
            from core.features.perturb import random_mel_band_limit

            mel = random_mel_band_limit(mel, self.audio_cfg, self.band_limit_prob, generator)
        return self.encoder.forward_mel(mel)

    def forward(self, batch: Batch, noise: torch.Generator, eq: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        codes = self.content(batch, eq)
        singer = batch.singer
        if self.singer_dropout_prob > 0:  # some crops without their singer, for singer guidance (guidance.py)
            singer = drop_singers(singer, self.acoustic.conditioner.n_singers, self.singer_dropout_prob, noise)
        inputs = ConditionInputs(codes, batch.f0, batch.loudness, singer, batch.key_shift)
        target = normalize(batch.mel, self.audio_cfg)
        loss = edm_loss(self.acoustic, target, inputs, batch.mask, noise)
        parts = {"edm": loss.detach()}
        if self.adversary is not None:
            weights = batch.mask[:, :, None]
            logits = (self.adversary(codes) * weights).sum(1) / weights.sum(1).clamp_min(1.0)
            adversary = F.cross_entropy(logits, batch.singer)
            loss = loss + self.adversary_weight * adversary
            parts["adversary_ce"] = adversary.detach()
        return loss, parts


def build_teacher_system(cfg: Config, data: CachedDataset, adversary_weight: float, mel_eq_db: float) -> TeacherSystem:
    n = len(data.singers)
    acoustic = AcousticModel.from_config(cfg, n)
    encoder = adversary = None
    if data.content_kind == "builtin":
        from core.features.content_builtin import BuiltinContentEncoder, SpeakerAdversary

        encoder = BuiltinContentEncoder.from_config(cfg)
        if n >= 2 and adversary_weight > 0:
            adversary = SpeakerAdversary(encoder.dim, n)
    return TeacherSystem(acoustic, encoder, adversary, cfg, adversary_weight, mel_eq_db)


def measure_leakage(encoder: nn.Module, data: CachedDataset, fallback: CachedDataset | None = None) -> dict[str, Any] | None:
    """Linear speaker probe on the frozen codes of held-out clips (their unperturbed mel)."""
    from core.train.leakage import speaker_probe

    sets = [d for d in (data, fallback) if d is not None and len(d.clips)]
    for candidate in sets:
        singers = [c.singer for c in candidate.clips]
        if len(set(singers)) >= 2 and min(singers.count(s) for s in set(singers)) >= 2:
            with torch.no_grad():
                codes = [encoder.forward_mel(c.mel[None])[0] for c in candidate.clips]
            result = speaker_probe(codes, singers)
            report = result.to_dict()
            report["clips_from"] = "validation" if candidate is data else "training (too few validation clips)"
            return report
    return None


def load_training_data(cache: str | Path, cfg: Config) -> tuple[CachedDataset, CachedDataset]:
    """The cache's training and validation sets, checked against the config (teacher and student)."""
    train = CachedDataset(cache, "train")
    val = CachedDataset(cache, "val", originals_only=True)
    check_cache(train, cfg)
    train.require("training")
    return train, val


def ema_decay_at(step: int, decay: float) -> float:
    """EMA decay with a warm-up: early weights are a poor average, so the EMA follows them closely at first."""
    return min(decay, (1.0 + step) / (10.0 + step))


def init_from_model_file(system: TeacherSystem, path: str | Path, cfg: Config, singers: list[str],
                         cache: str | Path, log: Callable[[str], None] = print) -> tuple[dict[str, dict], dict[str, Any]]:
    """Start from the teacher (and built-in encoder) of a model file with the same config.

    Its singers may differ from the cache's: singers in both keep their learnt row, new ones get a random
    row of their own (core.model.singer_transfer). Returns the parts and metadata the new file keeps:
    its vocoder and the singers' F0 medians (the cache's own when the singers differ), so that a teacher
    and student trained on from a complete model are complete again.
    """
    from core.convert.voice_model import SINGER_F0_KEY
    from core.model.model_file import load_model
    from core.model.singer_transfer import transfer_singers
    from core.train.singer_stats import singer_f0_medians

    bundle = load_model(path, parts=["teacher"])
    stored = dataclasses.replace(bundle.config.model, n_singers=cfg.model.n_singers)
    if stored != cfg.model or bundle.config.features.content_dim != cfg.features.content_dim:
        raise UserError(f"--init {path} has another model size than the '{cfg.name}' config")
    state = bundle.teacher.state_dict()
    same_singers = bundle.singers.names == list(singers)
    if not same_singers:
        state, transfer = transfer_singers(state, bundle.singers.names, singers)
        log(f"--init {path}: {transfer.describe()}")
    system.acoustic.load_state_dict(state)
    if system.encoder is not None:
        if "content" not in bundle.extra_parts:
            raise UserError(f"--init {path} holds no built-in content encoder")
        system.encoder.network.load_state_dict(bundle.extra_parts["content"])
    kept_parts, kept_meta = parts_to_keep(bundle)
    if not same_singers:
        kept_meta[SINGER_F0_KEY] = singer_f0_medians(cache)  # auto-transpose's medians for the new singers
    return kept_parts, kept_meta


def parts_to_keep(bundle) -> tuple[dict[str, dict], dict[str, Any]]:
    """The parts and metadata a teacher file takes over unchanged: the vocoder and the singers' F0 medians."""
    from core.convert.voice_model import SINGER_F0_KEY

    kept_parts, kept_meta = {}, {}
    if "vocoder" in bundle.extra_parts:
        kept_parts["vocoder"], kept_meta["vocoder"] = bundle.extra_parts["vocoder"], bundle.metadata["vocoder"]
    if SINGER_F0_KEY in bundle.metadata:
        kept_meta[SINGER_F0_KEY] = bundle.metadata[SINGER_F0_KEY]
    return kept_parts, kept_meta


# The settings that define what the teacher learns. A train-state records them, and --resume with other
# values is refused: the run would go on under a different objective with no trace of it in the file.
# To change one deliberately, start a new run from a finished model file with --init.
OBJECTIVE_KEYS = ("edm.sigma_data", "edm.p_mean", "edm.p_std", "train.content_band_limit_prob",
                  "train.singer_dropout_prob")


def objective_record(cfg: Config) -> dict[str, float]:
    return {key: float(cfg.value(key)) for key in OBJECTIVE_KEYS}


def check_resumed_objective(path: Path, objective: dict[str, float], out: str | Path) -> None:
    """A train-state made under other objective settings is refused before it is loaded.

    A state written before they were recorded is resumed as it always was.
    """
    from core.train.state import recorded_extra

    stored = (recorded_extra(path) or {}).get("objective")
    if not stored:
        return
    changed = [key for key in OBJECTIVE_KEYS if key in stored and float(stored[key]) != objective[key]]
    if changed:
        was = [f"{key}={float(stored[key])!r}" for key in changed]  # exact, so the advice matches on retry
        now = ", ".join(f"{key}={objective[key]!r}" for key in changed)
        raise UserError(f"{path} was trained with {', '.join(was)}; this run has {now}. Resume with "
                        f"{' '.join('--set ' + item for item in was)}, or delete {path} to train afresh; "
                        f"to go on from the weights under the new settings, start a new run without --resume "
                        f"from a finished model file (train teacher --init MODEL, e.g. {out} once it exists)")


def train_teacher(cache: str | Path, out: str | Path, cfg: Config, options: RunOptions,
                  adversary_weight: float = 0.1, mel_eq_db: float = 6.0,
                  log: Callable[[str], None] = print, init: str | Path | None = None) -> dict[str, Any]:
    from core.model.model_file import save_model

    runtime = setup_runtime(options.device, options.amp)
    try:
        torch.manual_seed(options.seed)
        train, val = load_training_data(cache, cfg)
        system = build_teacher_system(cfg, train, adversary_weight, mel_eq_db)
        kept_parts, kept_meta = {}, {}
        if init is not None:
            # On --resume the checkpoint's weights then replace these; the file still gives its vocoder.
            kept_parts, kept_meta = init_from_model_file(system, init, cfg, train.singers.names, cache, log)
        elif options.resume and Path(out).exists():
            # Resumed without --init: keep what this run's own last file took over from its --init.
            from core.model.model_file import load_model
            kept_parts, kept_meta = parts_to_keep(load_model(out, parts=["teacher"]))
        system = system.to(runtime.device)
        # The EMA of the teacher's weights is what is validated, saved and sampled.
        teacher_ema = (copy.deepcopy(system.acoustic).requires_grad_(False).eval()
                       if cfg.train.teacher_ema_decay > 0 else None)
        wrapped = runtime.wrap(system)
        optimizer = torch.optim.AdamW(system.parameters(), lr=cfg.train.teacher_lr, weight_decay=cfg.train.weight_decay)
        data_gen = torch.Generator().manual_seed(options.seed * 1009 + runtime.rank)
        eq_gen = torch.Generator().manual_seed(options.seed * 1009 + runtime.rank + 500)
        noise_gen = torch.Generator(runtime.device).manual_seed(options.seed * 1009 + runtime.rank + 1000)
        modules = {"system": system, **({"teacher_ema": teacher_ema} if teacher_ema is not None else {})}
        state = TrainState(0, modules, {"adamw": optimizer},
                           {"data": data_gen, "eq": eq_gen, "noise": noise_gen})
        ckpt, logs = default_dirs(out)
        objective = objective_record(cfg)
        if options.resume:
            check_resumed_objective(ckpt, objective, out)
        try_resume(state, ckpt, options.resume, log if runtime.is_main else (lambda m: None))
        state.extra = {**state.extra, "objective": objective}
        if runtime.rank > 0:  # ranks draw different batches after a resume too
            for g in (data_gen, eq_gen):
                g.manual_seed(options.seed * 1009 + runtime.rank + state.step * 7)
        batch_size, crop = options.batch_size or cfg.train.batch_size, crop_frames(cfg)

        def step_fn(step: int) -> dict[str, float]:
            batch = train.batch(batch_size, crop, data_gen).to(runtime.device)
            system.train()
            with runtime.autocast():
                loss, parts = wrapped(batch, noise_gen, eq_gen)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(system.parameters(), 1.0)
            optimizer.step()
            if teacher_ema is not None:
                ema_update(teacher_ema, system.acoustic, ema_decay_at(step, cfg.train.teacher_ema_decay))
            return {"loss": float(loss.detach()), **{k: float(v) for k, v in parts.items()}}

        def validate(writer, step: int) -> dict[str, float]:
            sampled = teacher_ema if teacher_ema is not None else system.acoustic
            return validate_acoustic(sampled, system, val, cfg, writer, step, "teacher", runtime.device)

        settings = LoopSettings(options.steps, ckpt, options.checkpoint_every or cfg.train.checkpoint_every,
                                options.log_every or cfg.train.log_every, logs if options.tensorboard else None,
                                options.progress, options.max_minutes, "teacher", log)
        summary = run_loop(state, step_fn, settings, runtime, validate)
        if runtime.distributed:
            summary["rank_weight_divergence"] = weight_divergence(system, runtime)
        if runtime.is_main:
            system.eval()
            extra_parts = dict(kept_parts)
            extra_meta = {**kept_meta, "training": {"stage": "teacher", "steps": state.step}}
            if system.encoder is not None:
                encoder = system.encoder.cpu()
                state_dict, meta = encoder.file_parts()
                extra_parts["content"], extra_meta["content"] = state_dict, meta
                leakage = measure_leakage(encoder, val, CachedDataset(cache, "train", originals_only=True))
                if leakage is not None:
                    summary["leakage"] = leakage
                    log(f"speaker probe on the content code: accuracy {leakage['accuracy']:.3f} "
                        f"(chance {leakage['chance']:.3f}, {leakage['accuracy'] / max(leakage['chance'], 1e-9):.1f}x)")
                    extra_meta["training"]["leakage"] = leakage
            saved = teacher_ema if teacher_ema is not None else system.acoustic
            save_model(out, cfg, train.singers, teacher=saved.cpu(), extra_parts=extra_parts,
                       extra_metadata=extra_meta)
        runtime.barrier()
        return summary
    finally:
        teardown(runtime)


@torch.no_grad()
def validate_acoustic(model: AcousticModel, system: TeacherSystem | None, val: CachedDataset, cfg: Config, writer,
                      step: int, name: str, device: torch.device, content_fn=None, steps: int | None = None) -> dict[str, float]:
    """Sample the first validation clips; log-mel L1 to the truth; mel images (+ Griffin-Lim audio) to TensorBoard."""
    from core.audio.mel import denormalize

    if not val.clips:
        return {}
    model.eval()
    errors = []
    for index in range(min(2, len(val.clips))):
        batch = val.whole(index).to(device)
        if content_fn is not None:
            codes = content_fn(batch)
        elif system is not None and system.encoder is not None:
            codes = system.encoder.forward_mel(batch.mel_perturbed)
        else:
            codes = batch.content
        inputs = ConditionInputs(codes, batch.f0, batch.loudness, batch.singer, batch.key_shift)
        if steps is None:
            # churn 0: the same deterministic sampler as runs before churn, so the logged L1 compares
            mel = model.sample_teacher(inputs, steps=min(cfg.edm.teacher_steps, 10), churn=0.0)
        else:
            mel = model.sample(inputs, steps)
        log_mel = denormalize(mel, cfg.audio)[0]
        errors.append(float((log_mel - batch.mel[0]).abs().mean()))
        if writer is not None and index == 0:
            log_mel_image(writer, f"{name}/val_mel_generated", log_mel, step)
            log_mel_image(writer, f"{name}/val_mel_truth", batch.mel[0], step)
            try:
                from core.vocoder.griffin_lim import GriffinLimVocoder

                audio = GriffinLimVocoder(cfg.audio).synthesize(log_mel.cpu(), batch.f0[0].cpu())
                writer.add_audio(f"{name}/val_audio", audio.clamp(-1, 1)[None], step, cfg.audio.sample_rate)
            except Exception:  # noqa: BLE001 - audio previews are a convenience, never a reason to stop training
                pass
    model.train()
    result = {"val_mel_l1": sum(errors) / len(errors)}
    if writer is not None:
        writer.add_scalar(f"{name}/val_mel_l1", result["val_mel_l1"], step)
    return result
