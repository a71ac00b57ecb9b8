"""Varied English sentences built from word lists: a few hundred thousand combinations, no downloads."""

from __future__ import annotations

import numpy as np

_SUBJECTS = ("the river", "my heart", "a lonely sailor", "the morning sun", "our old friend", "the silver moon",
             "a gentle wind", "a child", "your shadow", "the city lights", "a little bird", "the northern sky",
             "every dreamer", "the summer rain", "the weary traveller", "a golden field")
_VERBS = ("carries", "remembers", "follows", "calls to", "dances with", "waits for", "sings about", "wanders through",
          "shines upon", "holds", "whispers to", "runs across", "dreams of", "leans toward", "finds", "forgets")
_OBJECTS = ("the distant hills", "a broken promise", "the open sea", "the empty road", "an ancient song",
            "the falling snow", "a quiet harbour", "the winter stars", "the evening bells", "a yellow door",
            "the midnight train", "the mountain pass", "a paper boat", "the autumn leaves", "the fading light")
_ENDINGS = ("", "tonight", "once again", "forever more", "until the dawn", "in the dark", "far away from home",
            "when the day is done", "without a word", "before the morning comes", "all along the way")


def make_sentence(rng: np.random.Generator) -> str:
    """One sentence: subject, verb, object and an optional ending, picked by `rng`."""
    words = [_SUBJECTS[rng.integers(len(_SUBJECTS))], _VERBS[rng.integers(len(_VERBS))],
             _OBJECTS[rng.integers(len(_OBJECTS))], _ENDINGS[rng.integers(len(_ENDINGS))]]
    text = " ".join(w for w in words if w)
    return text[0].upper() + text[1:] + "."
