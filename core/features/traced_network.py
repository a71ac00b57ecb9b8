"""Run a feature network through a TorchScript trace of itself: the same ops, no Python between them.

FCPE's network is many small torch calls. Eagerly, Python runs between each two, holding the
interpreter lock: that overhead is a third of its cost per live block, and it keeps the pitch
thread (core/convert/stream.py) from overlapping with the content encoder, which needs the lock
for its own small calls. A trace replays the recorded ops in C++ with the lock released. The
network has no branch on its input's values, and its one on a size holds for every window of two
frames or more, so one trace made on a dummy input serves every length with the same numbers
(tests/test_pitch.py; BENCHMARKS.md, "The pitch tracker on its own thread").
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

WARM_RUNS = 3


def warm_trace(network: nn.Module, *example: torch.Tensor) -> torch.jit.ScriptModule:
    """A trace of `network` recorded on `example`, its first runs done."""
    with torch.inference_mode():
        traced = torch.jit.trace(network.eval(), example, check_trace=False)
        # TorchScript profiles a graph's first runs and optimises it on the next (60 and 25 ms for FCPE,
        # where a run then takes 6): done here, at load, not in a live block, whose deadline it would miss.
        for _ in range(WARM_RUNS):
            traced(*example)
    return traced


def run_through_trace(network: nn.Module, example: torch.Tensor) -> torch.jit.ScriptModule:
    """Make `network(x)` (and its own `self.forward(x)`) call a trace of it recorded on `example`; the trace."""
    with warnings.catch_warnings():
        # FCPE's one Python branch on a size is a norm's check that a channel has more than one value:
        # true for any window of two frames or more, so baking it in changes nothing.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = warm_trace(network, example)

    def forward(x: torch.Tensor, *unused) -> torch.Tensor:
        return traced(x)

    # An instance attribute: callers that reach the network as `self.forward(x)` get the trace too.
    network.forward = forward
    return traced
