"""`comosvc train student`: consistency distillation of a teacher model file into a one-step student.

The teacher (and its content encoder, if built-in) are frozen. The student
starts as a copy of the teacher (or, with --init, as another model file's
student); its EMA (mu = cfg.edm.ema_decay) is the
distillation target and is updated after every optimiser step (both are in
the training checkpoint, so --resume is exact). The model file written holds
the teacher, the student and every other part of the teacher file (content
encoder, vocoder).

What to watch: the raw loss compares NEIGHBOURING grid points with fresh noise
against a moving EMA target; at the start it is the teacher's own step-to-step
change, and its batch mean swings with which noise levels were drawn (about
250x between mid and extreme levels), so it stays nearly flat while the
student learns. Distillation aims at the teacher's ODE solution, so each
checkpoint also measures `val_to_teacher_l1`: the log-mel L1 between the
student's one-step output and the teacher's (N - 1)-step Euler solution from
the SAME sigma_max noise on fixed validation clips (TeacherGap). It is in the
checkpoint log lines, TensorBoard, and the summary's `validation` (and
`validation_start`, taken before the first step), beside `val_consistency`:
the training loss itself with fixed noise over every link (ValidationConsistency).

With train.student_singer_weight > 0 a cross-singer classifier loss is added
(core/train/singer_loss.py) and checkpoints also report `val_singer_heard`.
With train.student_adversarial_weight > 0 a discriminator learns alongside and
the student is also trained to pass for real mels (core/train/adversarial.py).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, NamedTuple

import torch
from torch import nn

from core.audio.mel import denormalize, normalize
from core.config import Config
from core.data.dataset import Batch, CachedDataset, collate
from core.errors import UserError
from core.model.acoustic import AcousticModel
from core.model.conditioning import ConditionInputs
from core.model.edm import NoiseSchedule, distillation_low_end
from core.model.guidance import check_guidable
from core.model.mel_discriminator import MelDiscriminator
from core.model.losses import consistency_distillation_loss, ema_update, make_student, one_step_outputs
from core.model.singer_classifier import SingerClassifier
from core.train.adversarial import (DISCRIMINATOR_BETAS, DISCRIMINATOR_LR, DiscriminatorCheck, discriminator_loss,
                                    generator_loss)
from core.train.distributed import setup_runtime, teardown, weight_divergence
from core.train.loop import LoopSettings, default_dirs, run_loop, try_resume
from core.train.singer_loss import CrossSingerCheck, cross_singer_loss, train_singer_classifier
from core.train.state import TrainState
from core.train.teacher import RunOptions, crop_frames, load_training_data, validate_acoustic


class StudentLosses(NamedTuple):
    distillation: torch.Tensor
    singer_ce: torch.Tensor | None = None  # with a singer classifier
    singer_heard: float | None = None  # the share already heard as the asked-for singer
    one_step: torch.Tensor | None = None  # with the adversarial term: the one-step mels, with gradient


class StudentSystem(nn.Module):
    """Holds only the trainable student, so DDP syncs exactly its gradients."""

    def __init__(self, student: AcousticModel) -> None:
        super().__init__()
        self.student = student

    def forward(self, target: torch.Tensor, inputs: ConditionInputs, mask: torch.Tensor, ema: AcousticModel,
                teacher: AcousticModel, n_points: int, noise: torch.Generator,
                classifier: SingerClassifier | None = None, singer_draw: torch.Generator | None = None,
                adversarial: bool = False) -> StudentLosses:
        distillation = consistency_distillation_loss(self.student, ema, teacher, target, inputs, n_points, mask, noise)
        singer_ce, heard = (cross_singer_loss(self.student, classifier, inputs, mask, singer_draw, noise)
                            if classifier is not None else (None, None))
        one_step = one_step_outputs(self.student, inputs, noise) if adversarial else None
        return StudentLosses(distillation, singer_ce, heard, one_step)


def distilled_teacher_steps(cfg: Config) -> int:
    """Teacher evaluations in the ODE run the student learns: the N - 1 Euler links of the grid, and with
    a floor one more, the D(x, floor) that ends the teacher's floored sampler (same grid points)."""
    links = max(cfg.edm.distill_steps - 1, 1)
    return links + 1 if cfg.edm.teacher_floor > 0 else links


def distillation_grid_record(cfg: Config) -> dict[str, float]:
    """What fixes the distillation grid (and the teacher's singer guidance, when there is one), kept in the
    train-state so --resume cannot switch grids unseen."""
    schedule = NoiseSchedule.from_config(cfg.edm)
    record = {"low_end": distillation_low_end(schedule), "sigma_max": schedule.sigma_max,
              "rho": schedule.rho, "points": cfg.edm.distill_steps}
    if cfg.edm.singer_guidance > 0:  # absent at 0, so train-states from before guidance still resume
        record["singer_guidance"] = cfg.edm.singer_guidance
    return record


def guide_teacher(teacher: AcousticModel, trained: Config, cfg: Config) -> None:
    """Give the teacher this run's `edm.singer_guidance` (its file keeps the value it was trained with, 0).
    Guidance needs a teacher that learnt to denoise without a singer (model/guidance.py)."""
    scale = cfg.edm.singer_guidance
    check_guidable(scale, trained.train.singer_dropout_prob)
    teacher.denoiser.schedule = dataclasses.replace(teacher.schedule, singer_guidance=scale)


def check_resumed_grid(path: Path, stored: dict | None, wanted: dict[str, float]) -> None:
    """A train-state distilled on another grid (or one made before grids were recorded) is refused."""
    if stored == wanted:
        return
    made = "before train-states recorded their grid" if stored is None else f"on the grid {stored}"
    raise UserError(f"{path} was distilled {made}; this run's grid is {wanted}. Resume with the config it was "
                    f"made with, or delete {path} to distil the student afresh")


class TeacherGap:
    """|student one-step - teacher ODE solution| in log10 mel on fixed clips, with the same noise.

    The teacher's run over the distillation grid from sigma_max z (N - 1 Euler
    steps ending at 0; with a floor, N - 1 steps to the floor, then D(x, floor))
    is computed once; the
    student is then scored against it with the same z (same seed), which is
    exactly the map consistency distillation teaches it.
    """

    def __init__(self, teacher: AcousticModel, data: CachedDataset, cfg: Config, content_fn,
                 device: torch.device, clips: int = 2, seed: int = 0) -> None:
        self.cfg, self.seed = cfg, seed
        self.items: list[tuple[ConditionInputs, torch.Tensor]] = []
        with torch.no_grad():
            for index in range(min(clips, len(data.clips))):
                batch = data.whole(index).to(device)
                inputs = ConditionInputs(content_fn(batch), batch.f0, batch.loudness, batch.singer, batch.key_shift)
                # churn 0: the student learns the teacher's deterministic ODE, whatever the teacher samples with.
                reference = teacher.sample_teacher(inputs, steps=distilled_teacher_steps(cfg), seed=seed, churn=0.0)
                self.items.append((inputs, denormalize(reference, cfg.audio)))

    def __call__(self, student: AcousticModel) -> float | None:
        if not self.items:
            return None
        was_training = student.training
        student.eval()
        with torch.no_grad():
            gaps = [float((denormalize(student.sample(inputs, 1, seed=self.seed), self.cfg.audio) - ref).abs().mean())
                    for inputs, ref in self.items]
        student.train(was_training)
        return sum(gaps) / len(gaps)


class ValidationConsistency:
    """The distillation loss itself on fixed validation crops, every grid link, fixed noise.

    The training loss draws one link per item, and its batch mean swings with
    the draw; this is the same loss (student vs EMA target after one teacher
    step) averaged over all N - 1 links with the same noise at every
    checkpoint, so its curve shows the trend the raw loss hides.
    """

    def __init__(self, data: CachedDataset, cfg: Config, content_fn, device: torch.device,
                 clips: int = 2, seed: int = 0) -> None:
        self.cfg, self.device, self.seed = cfg, device, seed
        links = max(cfg.edm.distill_steps - 1, 1)
        self.links = torch.arange(links, device=device)
        self.items: list[tuple[torch.Tensor, ConditionInputs, torch.Tensor]] = []
        with torch.no_grad():
            for index in range(min(clips, len(data.clips))):
                batch = collate([data.clips[index]] * links, crop_frames(cfg),
                                torch.Generator().manual_seed(seed + index)).to(device)
                inputs = ConditionInputs(content_fn(batch), batch.f0, batch.loudness, batch.singer, batch.key_shift)
                self.items.append((normalize(batch.mel, cfg.audio), inputs, batch.mask))

    def __call__(self, student: AcousticModel, ema: AcousticModel, teacher: AcousticModel) -> float | None:
        if not self.items:
            return None
        was_training = student.training
        student.eval()
        with torch.no_grad():
            losses = [float(consistency_distillation_loss(
                student, ema, teacher, mel, inputs, self.cfg.edm.distill_steps, mask,
                torch.Generator(self.device).manual_seed(self.seed + 1), links=self.links))
                for mel, inputs, mask in self.items]
        student.train(was_training)
        return sum(losses) / len(losses)


def content_of(encoder: nn.Module | None, batch: Batch, band_limit: tuple[Config, torch.Generator] | None = None
               ) -> torch.Tensor:
    """Frozen content codes: the built-in encoder on the perturbed mel, or the cached code. With
    `band_limit` (the config and a generator), a share train.content_band_limit_prob of the mels are
    band-limited first, as the teacher's were in training (features/perturb.py)."""
    if encoder is None:
        return batch.content
    mel = batch.mel_perturbed
    if band_limit is not None:
        from core.features.perturb import random_mel_band_limit

        cfg, generator = band_limit
        mel = random_mel_band_limit(mel, cfg.audio, cfg.train.content_band_limit_prob, generator)
    with torch.no_grad():
        return encoder.forward_mel(mel)


def load_teacher_file(path: str | Path):
    from core.features.content import CONTENT_PREFIX, encoder_from_tensors
    from core.checkpoint import with_prefix
    from core.model.model_file import load_model

    bundle = load_model(path, parts=["teacher"])
    encoder = None
    if "content" in bundle.extra_parts:
        meta = bundle.metadata.get("content", {})
        encoder = encoder_from_tensors(with_prefix(bundle.extra_parts["content"], CONTENT_PREFIX), meta,
                                       bundle.config.audio)
        encoder.requires_grad_(False)
    return bundle, encoder


# The extra loss weights a train-state records, each under its config key: resuming with another value (or
# with the term switched on or off) would load modules the run does not have, or lack ones it needs. The
# band-limit share also decides whether the state holds its generator.
RESUMED_WEIGHTS = {"singer_weight": "student_singer_weight", "adversarial_weight": "student_adversarial_weight",
                   "band_limit_prob": "content_band_limit_prob"}


def check_resumed_weights(path: Path, weights: dict[str, float]) -> None:
    """A train-state made with other extra-loss weights is refused before it is loaded."""
    from core.train.state import recorded_extra

    extra = recorded_extra(path)
    if extra is None:
        return
    for name, key in RESUMED_WEIGHTS.items():
        stored, weight = float(extra.get(name, 0.0)), weights[name]
        if stored != weight:
            raise UserError(f"{path} was distilled with train.{key}={stored:g}; this run has {weight:g}. Resume "
                            f"with --set train.{key}={stored:g}, or delete {path} to distil the student afresh")


def start_from_student(student: AcousticModel, ema: AcousticModel, path: str | Path, singers: list[str],
                       cfg: Config, log: Callable[[str], None] = print) -> None:
    """--init: the student and its EMA start from the student of a model file.

    Its singers may differ from the teacher's: known singers keep their row, and a singer the file does
    not have takes the teacher's row for it. The teacher was trained with that row; a new random one
    (as `train teacher --init` makes) would be a code the teacher never saw, so the student would start
    from a voice that its distillation targets do not have.
    """
    from core.model.model_file import load_model
    from core.model.singer_transfer import SINGER_TABLE_KEY, transfer_singers

    bundle = load_model(path, parts=["student"])
    # Same shapes are not enough: another dilation, mel range or content encoder would load silently.
    # The singer count may differ: the singer table is re-made below.
    stored = bundle.config.replace({"model.n_singers": cfg.model.n_singers})
    for part in ("audio", "features", "model"):
        if getattr(stored, part) != getattr(cfg, part):
            raise UserError(f"--init {path} has other '{part}' settings than the teacher; start from a student "
                            "of this teacher's config")
    state = bundle.student.state_dict()
    if bundle.singers.names != list(singers):
        teacher_table = student.state_dict()[SINGER_TABLE_KEY]  # the student is still the teacher's copy
        state, transfer = transfer_singers(state, bundle.singers.names, singers,
                                           new_row=lambda name: teacher_table[singers.index(name)])
        log(f"--init {path}: {transfer.describe()}; new singers take the teacher's row")
    try:
        student.load_state_dict(state)
    except RuntimeError as exc:
        raise UserError(f"--init {path}: its student is not the teacher's size ({str(exc).splitlines()[0]})") from None
    ema.load_state_dict(student.state_dict())


def train_student(cache: str | Path, teacher_path: str | Path, out: str | Path, options: RunOptions,
                  overrides: dict[str, Any] | None = None, log: Callable[[str], None] = print,
                  init: str | Path | None = None) -> dict[str, Any]:
    from core.model.model_file import save_model

    bundle, encoder = load_teacher_file(teacher_path)
    cfg: Config = bundle.config.replace(overrides or {})
    runtime = setup_runtime(options.device, options.amp)
    try:
        torch.manual_seed(options.seed)
        train, val = load_training_data(cache, cfg)
        if train.singers.names != bundle.singers.names:
            raise UserError(f"the teacher was trained on singers {bundle.singers.names}, the cache has "
                            f"{train.singers.names}; distil with the teacher's own cache")
        if (encoder is None) != (train.content_kind == "frozen"):
            raise UserError("the teacher's content encoder and the cache's content features do not match")
        teacher = bundle.teacher.to(runtime.device)
        guide_teacher(teacher, bundle.config, cfg)
        if encoder is not None:
            encoder = encoder.to(runtime.device).eval()
        student, ema = make_student(teacher)
        if init is not None:
            start_from_student(student, ema, init, bundle.singers.names, cfg, log)
        system = StudentSystem(student)
        wrapped = runtime.wrap(system)
        optimizer = torch.optim.AdamW(student.parameters(), lr=cfg.train.student_lr, weight_decay=cfg.train.weight_decay)
        data_gen = torch.Generator().manual_seed(options.seed * 1009 + runtime.rank)
        noise_gen = torch.Generator(runtime.device).manual_seed(options.seed * 1009 + runtime.rank + 1000)
        singer_weight = cfg.train.student_singer_weight
        if singer_weight > 0 and len(train.singers.names) < 2:
            raise UserError("train.student_singer_weight > 0 needs a cache of at least two singers (it converts "
                            "each clip to another singer)")
        adversarial_weight = cfg.train.student_adversarial_weight
        if adversarial_weight > 0 and runtime.distributed:
            raise UserError("train.student_adversarial_weight > 0 is not built for several GPUs (the discriminator "
                            "would differ per rank); distil on one device")
        modules: dict[str, nn.Module] = {"student": student, "ema": ema}
        optimizers: dict[str, torch.optim.Optimizer] = {"adamw": optimizer}
        generators = {"data": data_gen, "noise": noise_gen}
        discriminator: MelDiscriminator | None = None
        if adversarial_weight > 0:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(options.seed + 3000)
                discriminator = MelDiscriminator(cfg.audio.n_mels, len(train.singers.names)).to(runtime.device)
            modules["discriminator"] = discriminator
            optimizers["adamw_discriminator"] = torch.optim.AdamW(discriminator.parameters(), lr=DISCRIMINATOR_LR,
                                                                  betas=DISCRIMINATOR_BETAS)
        if singer_weight > 0:
            # Trained after a fresh start (below) or restored with the rest of the state on --resume.
            with torch.random.fork_rng(devices=[]):
                modules["singer_classifier"] = SingerClassifier(cfg.audio.n_mels, len(train.singers.names)).to(runtime.device)
            generators["singer"] = torch.Generator().manual_seed(options.seed * 1009 + runtime.rank + 2000)
        if cfg.train.content_band_limit_prob > 0 and encoder is not None:
            generators["band"] = torch.Generator().manual_seed(options.seed * 1009 + runtime.rank + 2500)
        band_limit = (cfg, generators["band"]) if "band" in generators else None
        state = TrainState(0, modules, optimizers, generators)
        ckpt, logs = default_dirs(out)
        grid = distillation_grid_record(cfg)
        weights = {"singer_weight": singer_weight, "adversarial_weight": adversarial_weight,
                   "band_limit_prob": cfg.train.content_band_limit_prob}
        state.extra = {"distillation_grid": grid, **weights}
        if options.resume:
            check_resumed_weights(ckpt, weights)
        resumed = try_resume(state, ckpt, options.resume, log if runtime.is_main else (lambda m: None))
        if resumed:
            check_resumed_grid(ckpt, state.extra.get("distillation_grid"), grid)
            state.extra = {**state.extra, "distillation_grid": grid, **weights}
        classifier = modules.get("singer_classifier")
        if classifier is not None:
            if not resumed:
                trained, _ = train_singer_classifier(train, val, cfg, crop_frames(cfg), cfg.train.singer_classifier_steps,
                                                     options.seed, runtime.device,
                                                     log if runtime.is_main else (lambda m: None))
                classifier.load_state_dict(trained.state_dict())
            classifier.requires_grad_(False).eval()
        if runtime.rank > 0:
            data_gen.manual_seed(options.seed * 1009 + runtime.rank + state.step * 7)
            if "singer" in generators:  # the state holds rank 0's draws; each rank asks for its own singers
                generators["singer"].manual_seed(options.seed * 1009 + runtime.rank + 2000 + state.step * 7)
            if "band" in generators:
                generators["band"].manual_seed(options.seed * 1009 + runtime.rank + 2500 + state.step * 7)
        batch_size, crop = options.batch_size or cfg.train.batch_size, crop_frames(cfg)

        def step_fn(step: int) -> dict[str, float]:
            batch = train.batch(batch_size, crop, data_gen).to(runtime.device)
            codes = content_of(encoder, batch, band_limit)
            inputs = ConditionInputs(codes, batch.f0, batch.loudness, batch.singer, batch.key_shift)
            student.train()
            figures: dict[str, float] = {}
            real = normalize(batch.mel, cfg.audio)
            with runtime.autocast():
                losses = wrapped(real, inputs, batch.mask, ema, teacher, cfg.edm.distill_steps, noise_gen, classifier,
                                 generators.get("singer"), discriminator is not None)
                loss = losses.distillation
                if losses.singer_ce is not None:
                    figures = {"distillation": float(loss.detach()), "singer_ce": float(losses.singer_ce.detach()),
                               "singer_heard": losses.singer_heard}
                    loss = loss + singer_weight * losses.singer_ce
                if discriminator is not None:
                    figures = {**figures, "distillation": float(losses.distillation.detach()),
                               **train_discriminator(real, losses.one_step, inputs, batch.mask)}
                    if step >= cfg.train.adversarial_warmup_steps:
                        adversarial = generator_loss(discriminator, losses.one_step, inputs, batch.mask)
                        figures["adversarial"] = float(adversarial.detach())
                        loss = loss + adversarial_weight * adversarial
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
            optimizer.step()
            ema_update(ema, student, cfg.edm.ema_decay)
            return {"loss": float(loss.detach()), **figures}

        def train_discriminator(real: torch.Tensor, one_step: torch.Tensor, inputs: ConditionInputs,
                                mask: torch.Tensor) -> dict[str, float]:
            """One discriminator step on the batch's real mels against the student's (detached) one-step ones."""
            d_loss, real_score, fake_score = discriminator_loss(discriminator, real, one_step.detach(), inputs, mask)
            optimizers["adamw_discriminator"].zero_grad(set_to_none=True)
            d_loss.backward()
            optimizers["adamw_discriminator"].step()
            return {"discriminator": float(d_loss.detach()), "score_real": real_score, "score_one_step": fake_score}

        def content_fn(batch: Batch) -> torch.Tensor:
            return content_of(encoder, batch)

        held_out = val if val.clips else train
        gap = TeacherGap(teacher, held_out, cfg, content_fn, runtime.device) if runtime.is_main else None
        consistency = ValidationConsistency(held_out, cfg, content_fn, runtime.device) if runtime.is_main else None
        singer_check = (CrossSingerCheck(classifier, held_out, cfg, content_fn, runtime.device)
                        if runtime.is_main and classifier is not None else None)
        judged = (DiscriminatorCheck(held_out, cfg, content_fn, runtime.device)
                  if runtime.is_main and discriminator is not None else None)

        def validate(writer, step: int) -> dict[str, float]:
            result = validate_acoustic(student, None, val, cfg, writer, step, "student", runtime.device,
                                       content_fn=content_fn, steps=1)
            extra = {"val_consistency": consistency(student, ema, teacher) if consistency is not None else None,
                     "val_to_teacher_l1": gap(student) if gap is not None else None,
                     "val_singer_heard": singer_check(student) if singer_check is not None else None,
                     **(judged(discriminator, student) if judged is not None else {})}
            for name, value in extra.items():
                if value is not None:
                    result[name] = value
                    if writer is not None:
                        writer.add_scalar(f"student/{name}", value, step)
            return result

        start: dict[str, float] = {}
        start_step = state.step
        if runtime.is_main:
            start = validate(None, state.step)
            log(f"student step {state.step} " + " ".join(f"{k} {v:.4f}" for k, v in start.items()))

        settings = LoopSettings(options.steps, ckpt, options.checkpoint_every or cfg.train.checkpoint_every,
                                options.log_every or cfg.train.log_every, logs if options.tensorboard else None,
                                options.progress, options.max_minutes, "student", log)
        summary = run_loop(state, step_fn, settings, runtime, validate)
        summary["validation_start"] = {"step": start_step, **start}
        if runtime.distributed:
            summary["rank_weight_divergence"] = weight_divergence(student, runtime)
        if runtime.is_main:
            from core.convert.voice_model import SINGER_F0_KEY

            # The teacher file's other parts (encoder, vocoder) and singer F0 medians go into the student's file.
            extra_meta = {k: v for k, v in bundle.metadata.items() if k in bundle.extra_parts or k == SINGER_F0_KEY}
            training = dict(bundle.metadata.get("training", {}))
            training.update(stage="student", student_steps=state.step)
            extra_meta["training"] = training
            save_model(out, cfg, bundle.singers, teacher=teacher.cpu(), student=student.cpu().eval(),
                       extra_parts=bundle.extra_parts, extra_metadata=extra_meta)
        runtime.barrier()
        return summary
    finally:
        teardown(runtime)
