"""The singer loss of student distillation: another singer's content must come out in the asked-for voice.

Distillation only ever shows the student a singer's own content with that
singer's id, yet in conversion the content is someone else's. Where the
student is unsure (sibling voices: two Festival males, the three voices made
from one speaker), its output drifts toward whichever singer the content
sounds most like. This loss asks for the other case directly:

1. `train_singer_classifier`: a SingerClassifier learns the cache's singers
   from their real mels (range, key and volume copies included), then is frozen.
2. `cross_singer_loss`: each batch item is converted to a different singer
   (its own content, F0 and loudness; a random other id), in one student step
   from sigma_max noise, and the frozen classifier's cross-entropy toward the
   asked-for singer is the loss. The distillation loss beside it keeps the
   output on the teacher's path.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from core.audio.mel import normalize
from core.config import Config
from core.data.dataset import CachedDataset
from core.model.conditioning import ConditionInputs
from core.model.losses import one_step_outputs
from core.model.singer_classifier import SingerClassifier

CLASSIFIER_LR = 1e-3
CLASSIFIER_BATCH = 16


def train_singer_classifier(train: CachedDataset, val: CachedDataset, cfg: Config, crop: int, steps: int,
                            seed: int, device: torch.device,
                            log: Callable[[str], None] = print) -> tuple[SingerClassifier, float | None]:
    """A frozen classifier of the cache's singers, and its top-1 on the validation clips (None without any).

    Seeded on its own: the caller's global random state is left as it was.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        classifier = SingerClassifier(cfg.audio.n_mels, len(train.singers.names)).to(device)
    optimiser = torch.optim.AdamW(classifier.parameters(), lr=CLASSIFIER_LR)
    generator = torch.Generator().manual_seed(seed)
    classifier.train()
    for _ in range(steps):
        batch = train.batch(CLASSIFIER_BATCH, crop, generator).to(device)
        loss = F.cross_entropy(classifier(normalize(batch.mel, cfg.audio), batch.mask), batch.singer)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    classifier.requires_grad_(False).eval()
    accuracy = classifier_accuracy(classifier, val, cfg, device)
    if accuracy is not None:
        log(f"singer classifier: {steps} steps, top-1 {accuracy:.0%} on {len(val.clips)} validation clips")
    return classifier, accuracy


@torch.no_grad()
def classifier_accuracy(classifier: SingerClassifier, data: CachedDataset, cfg: Config,
                        device: torch.device) -> float | None:
    """Top-1 over whole clips; None for an empty set."""
    if not data.clips:
        return None
    right = 0
    for index in range(len(data.clips)):
        batch = data.whole(index).to(device)
        logits = classifier(normalize(batch.mel, cfg.audio), batch.mask)
        right += int(logits.argmax(-1).item() == batch.singer.item())
    return right / len(data.clips)


def other_singers(singer: torch.Tensor, n_singers: int, generator: torch.Generator) -> torch.Tensor:
    """For each id, a uniformly drawn different id."""
    offset = torch.randint(1, n_singers, singer.shape, generator=generator).to(singer.device)
    return (singer + offset) % n_singers


def cross_singer_loss(student: nn.Module, classifier: SingerClassifier, inputs: ConditionInputs,
                      mask: torch.Tensor, generator: torch.Generator,
                      noise_generator: torch.Generator | None = None) -> tuple[torch.Tensor, float]:
    """(cross-entropy toward the asked-for singers, the share the classifier already hears as them)."""
    n_singers = getattr(student, "module", student).conditioner.n_singers
    asked = other_singers(inputs.singer, n_singers, generator)
    mel = one_step_outputs(student, replace(inputs, singer=asked), noise_generator)
    logits = classifier(mel, mask)
    heard = float((logits.argmax(-1) == asked).float().mean())
    return F.cross_entropy(logits, asked), heard


class CrossSingerCheck:
    """The share of fixed validation conversions the frozen classifier hears as the asked-for singer.

    Each clip is converted to one fixed other singer with fixed sigma_max noise,
    so the figure moves only with the student's weights.
    """

    def __init__(self, classifier: SingerClassifier, data: CachedDataset, cfg: Config, content_fn,
                 device: torch.device, clips: int = 16, seed: int = 0) -> None:
        self.classifier, self.seed = classifier, seed
        self.items: list[tuple[ConditionInputs, torch.Tensor]] = []
        n_singers = len(data.singers.names)
        draw = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for index in range(min(clips, len(data.clips))):
                batch = data.whole(index).to(device)
                inputs = ConditionInputs(content_fn(batch), batch.f0, batch.loudness, batch.singer, batch.key_shift)
                self.items.append((replace(inputs, singer=other_singers(batch.singer, n_singers, draw)), batch.mask))

    def __call__(self, student: nn.Module) -> float | None:
        if not self.items:
            return None
        was_training = student.training
        student.eval()
        with torch.no_grad():
            heard = [int(self.classifier(student.sample(inputs, 1, seed=self.seed), mask).argmax(-1).item()
                         == int(inputs.singer.item())) for inputs, mask in self.items]
        student.train(was_training)
        return sum(heard) / len(heard)
