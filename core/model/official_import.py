"""Import a model trained with the official CoMoSVC code into one model file of ours.

The folder is the official repository after training:

    configs/diffusion.yaml          the training config (speaker map, sizes)
    logs/teacher/model_<step>.pt    the EDM teacher       (env.expdir)
    logs/teacher/config.yaml        the config it trained with
    logs/como/model_<step>.pt       the distilled student (env.comodir)
    logs/como/config.yaml

Either run may be missing (a teacher not yet distilled imports alone). Each
run's own config.yaml is used, as the official inference does; the training
config stands in where it is missing. The checkpoints are pickles: they are
read with torch's weights-only loader (core.features.content_pickle), which
builds tensors and plain containers and nothing else. Every key must be one
the official model has (core.model.official_layout), every tensor must fit the
config, and the content encoder and vocoder files must fit the model, before
anything is written; the output is written atomically.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from core.checkpoint import load_model_file, split_prefix
from core.config import Config
from core.errors import ModelFileError, UserError
from core.features.content import CONTENT_KIND, CONTENT_PREFIX, encoder_from_tensors
from core.features.content_pickle import load_checkpoint_weights_only
from core.model.acoustic import AcousticModel
from core.model.official_config import OfficialSettings, parse_settings, read_yaml, run_folders
from core.model.official_layout import NETWORK, acoustic_state, check_container
from core.vocoder.base import Vocoder

TRAINING_CONFIG = Path("configs") / "diffusion.yaml"
RUN_CONFIG = "config.yaml"
CONTENT_LAYER = 12  # 'vec768l12': ContentVec's layer 12
_CHECKPOINT = re.compile(r"^model_(\d+)\.pt$")


@dataclass(frozen=True)
class OfficialRun:
    """One run folder's chosen checkpoint and the config it goes with."""

    role: str  # "teacher" or "student"
    checkpoint: Path
    step: int
    config_path: Path
    settings: OfficialSettings


@dataclass
class ImportReport:
    out: str
    singers: list[str]
    teacher_step: int | None
    student_step: int | None
    n_mels: int
    parameters: int
    notes: list[str] = field(default_factory=list)


def checkpoint_steps(folder: Path) -> dict[int, Path]:
    """{step: path} of the model_<step>.pt files in a run folder."""
    if not folder.is_dir():
        return {}
    return {int(m.group(1)): p for p in folder.iterdir() if (m := _CHECKPOINT.match(p.name)) and p.is_file()}


def find_runs(root: Path, step: int | None = None, teacher_step: int | None = None) -> list[OfficialRun]:
    """The teacher and/or student runs to import; `step` picks the student's checkpoint
    (the teacher's when there is no student), `teacher_step` the teacher's; default the newest."""
    if not root.is_dir():
        raise UserError(f"{root} is not a folder (give the official CoMoSVC folder that holds configs/ and logs/)")
    training_path = root / TRAINING_CONFIG
    training = read_yaml(training_path) if training_path.is_file() else None
    teacher_dir, student_dir = (root / d for d in run_folders(training))
    if not teacher_dir.is_dir() and not student_dir.is_dir():
        raise UserError(
            f"{root} has no run folders ({os.path.relpath(teacher_dir, root)}, {os.path.relpath(student_dir, root)}): "
            "not an official CoMoSVC folder after training"
        )
    found = {"teacher": checkpoint_steps(teacher_dir), "student": checkpoint_steps(student_dir)}
    folders = {"teacher": teacher_dir, "student": student_dir}
    if not found["teacher"] and not found["student"]:
        raise UserError(f"no model_<step>.pt in {teacher_dir} or {student_dir}")
    wanted = {"teacher": teacher_step, "student": step}
    if not found["student"]:
        if step is not None and teacher_step is not None:
            raise UserError(f"--step {step} names a student checkpoint, but {student_dir} holds none")
        wanted["teacher"] = teacher_step if teacher_step is not None else step
    runs = []
    for role in ("teacher", "student"):
        steps = found[role]
        if not steps:
            if role == "teacher" and teacher_step is not None:
                raise UserError(f"--teacher-step {teacher_step}: {teacher_dir} holds no checkpoints")
            continue
        chosen = wanted[role] if wanted[role] is not None else max(steps)
        if chosen not in steps:
            listed = ", ".join(str(s) for s in sorted(steps))
            raise UserError(f"{folders[role]} has no model_{chosen}.pt (steps there: {listed})")
        config_path = folders[role] / RUN_CONFIG
        if not config_path.is_file():
            if training is None:
                raise UserError(f"no config for {folders[role]}: neither {config_path} nor {training_path} exists")
            config_path = training_path
        settings = parse_settings(read_yaml(config_path), config_path)
        runs.append(OfficialRun(role, steps[chosen], chosen, config_path, settings))
    if len(runs) == 2 and runs[0].settings.network_key() != runs[1].settings.network_key():
        raise ModelFileError(
            f"{runs[0].config_path} and {runs[1].config_path} describe different models or speakers; "
            "the student must be distilled from this teacher"
        )
    return runs


def read_checkpoint(path: Path) -> object:
    """torch's weights-only loader: tensors and plain containers, nothing that names code."""
    try:
        return load_checkpoint_weights_only(path)
    except ModelFileError as exc:
        # torch explains a refusal over many lines; the user gets the first.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable"
        raise ModelFileError(
            f"{first} (an official checkpoint holds only tensors, numbers and containers)"
        ) from None


def load_run(run: OfficialRun) -> tuple[AcousticModel, Config]:
    """Our acoustic model with the run's weights, and the config it was built from."""
    where = str(run.checkpoint)
    state = check_container(read_checkpoint(run.checkpoint), where)
    settings = run.settings
    projection = state.get(NETWORK + "input_projection.weight")
    if projection is None or projection.ndim != 3:
        raise ModelFileError(f"{where} has no {NETWORK}input_projection.weight: not an official CoMoSVC model")
    config = settings.to_config(n_mels=int(projection.shape[1]))
    ours = acoustic_state(
        state, where, run.role == "student", settings.speaker_rows, settings.single_speaker, settings.use_pitch_aug
    )
    model = AcousticModel.from_config(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(ours))
    if missing:
        raise ModelFileError(
            f"{where} lacks tensors its config ({run.config_path}) needs: {', '.join(missing[:3])}"
        )
    for key, tensor in ours.items():
        if key not in expected:
            raise ModelFileError(f"{where} has more than its config describes ({key})")
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise ModelFileError(
                f"{where} does not match {run.config_path}: {key} is {tuple(tensor.shape)}, "
                f"the config needs {tuple(expected[key].shape)}"
            )
    model.load_state_dict({k: v.float() for k, v in ours.items()})
    return model.eval(), config


def load_content(path: str | os.PathLike, config: Config) -> tuple[tuple[dict, dict], list[str]]:
    """(state, metadata) of a content-encoder file made by import-content, checked against the model."""
    tensors, meta = load_model_file(path, expect_kind=CONTENT_KIND)
    if meta.get("encoder") != "hubert":
        raise UserError(
            f"{path} is a '{meta.get('encoder')}' content encoder; an official CoMoSVC model needs ContentVec "
            "(make the file with 'comosvc import-content')"
        )
    encoder = encoder_from_tensors(tensors, meta, config.audio)  # proves the tensors build the network
    if encoder.dim != config.features.content_dim:
        raise UserError(
            f"{path} gives {encoder.dim}-d content, the model was trained on {config.features.content_dim}-d "
            "(data.encoder_out_channels)"
        )
    notes = []
    layers = (meta.get("shape") or {}).get("layers")
    if layers != CONTENT_LAYER:
        notes.append(f"the content encoder outputs layer {layers}; the official 'vec768l12' uses layer {CONTENT_LAYER}")
    part_meta = {k: v for k, v in meta.items() if k not in ("kind", "format_version")}
    return (split_prefix(tensors, CONTENT_PREFIX), part_meta), notes


def load_checked_vocoder(spec: str | None, config: Config) -> Vocoder:
    """The vocoder file (default: the imported NSF-HiFiGAN), checked against the model's mel."""
    from core.vocoder.registry import load_vocoder

    vocoder = load_vocoder(spec or "nsf-hifigan", config.audio)
    if not hasattr(vocoder, "state_dict"):
        raise UserError(f"the '{spec}' vocoder has no weights to put in a model file; give a vocoder file")
    audio = config.audio
    if not vocoder.fits(audio):
        raise UserError(
            f"the vocoder works at {vocoder.sample_rate} Hz / hop {vocoder.hop_length} / {vocoder.n_mels} mels, "
            f"the model at {audio.sample_rate} / {audio.hop_length} / {audio.n_mels}"
        )
    return vocoder


def import_official(
    root: str | os.PathLike,
    out: str | os.PathLike,
    content: str | os.PathLike | None,
    vocoder: str | None = None,
    step: int | None = None,
    teacher_step: int | None = None,
) -> ImportReport:
    """Check everything, then write one complete model file (atomically) to `out`."""
    from core.convert.voice_model import save_voice_model

    if content is None:
        raise UserError(
            "an official CoMoSVC model needs its content encoder: convert ContentVec with "
            "'comosvc import-content CHECKPOINT --out contentvec.safetensors' and pass --content contentvec.safetensors"
        )
    runs = find_runs(Path(root), step, teacher_step)
    models: dict[str, AcousticModel] = {}
    config: Config | None = None
    for run in runs:
        model, run_config = load_run(run)
        if config is not None and run_config.audio.n_mels != config.audio.n_mels:
            raise ModelFileError("the teacher and the student make mels of different sizes")
        models[run.role], config = model, run_config
    assert config is not None
    content_part, notes = load_content(content, config)
    voc = load_checked_vocoder(vocoder, config)
    settings = runs[0].settings
    if settings.encoder and settings.encoder != "vec768l12":
        notes.append(f"the model was trained on '{settings.encoder}' content; the official inference uses vec768l12")
    steps = {run.role: run.step for run in runs}
    source = {
        "format": "official-comosvc",
        "folder": Path(root).resolve().name,
        **{f"{run.role}_checkpoint": os.path.relpath(run.checkpoint, root) for run in runs},
        "speaker_ids": {name: sid for name, sid in settings.speakers},
    }
    save_voice_model(
        out, config, settings.singer_names, models.get("teacher"), models.get("student"), content_part, voc,
        singer_f0_median_hz={}, extra_metadata={"imported_from": source},
    )
    generator = models.get("student") or models["teacher"]
    return ImportReport(
        out=str(out),
        singers=settings.singer_names,
        teacher_step=steps.get("teacher"),
        student_step=steps.get("student"),
        n_mels=config.audio.n_mels,
        parameters=sum(p.numel() for p in generator.parameters()),
        notes=notes,
    )
