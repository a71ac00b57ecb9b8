"""A singer's own recording re-made by the model: the mel the vocoder gets in conversion, aligned with real audio.

Vocoders trained only on mels of real audio meet something else in use: the acoustic model's mels,
a little smoother in places and rougher in others. Fine-tuning the vocoder on mels the model made
from the training recordings themselves ("ground-truth aligned", as HiFi-GAN did after Tacotron 2)
pairs each such mel with the audio it should become (`comosvc train vocoder --aligned-to MODEL`).

The mel is made as offline conversion makes it (core.convert.offline): the config's pitch tracker
over the whole clip with unvoiced gaps interpolated, the model's content encoder, frame loudness,
the recording's own singer and no transposition, and the one-step student (or the teacher's
`steps`-step sampler where the file has no student).
"""

from __future__ import annotations

import numpy as np
import torch

from core.audio.mel import denormalize
from core.features.loudness import frame_rms
from core.features.pitch import interpolate_unvoiced
from core.model.conditioning import ConditionInputs


@torch.inference_mode()
def reconstruct_log_mel(model, audio: np.ndarray, singer: str, seed: int = 0, teacher_steps: int = 4) -> torch.Tensor:
    """(n_mels, frames) log10 mel of `audio` (at the model's rate) re-made as `singer` by the model."""
    hop = model.hop_length
    frames = len(audio) // hop
    if frames < 1:
        raise ValueError("a recording shorter than one frame has no mel")
    audio = np.ascontiguousarray(audio[: frames * hop], dtype=np.float32)
    track = model.pitch_extractor().extract(audio, frames)
    voiced = np.asarray(track.voiced, bool) & (np.asarray(track.f0) > 0)
    f0 = torch.from_numpy(interpolate_unvoiced(track.f0, voiced).astype(np.float32))
    samples = torch.from_numpy(audio).to(model.device)
    content = model.content_encoder.encode(samples, frames)
    loudness = frame_rms(samples, hop, frames)
    inputs = ConditionInputs.single(content, f0, loudness, model.singers.id(singer), 0.0).to(model.device)
    if model.generator is not model.teacher:
        mel = model.generator.window(inputs, 0, 0, 0, seed, 1)
    else:
        mel = model.teacher.sample_teacher(inputs, teacher_steps, 0, seed)
    return denormalize(mel[0], model.config.audio).cpu()
