"""How long the worker's switch to a pitch tracker takes, with and without the tracker prepared first.

The engine prepares a tracker on a thread of its own (Engine.set_f0_method) and switches when it is
made; this times what the worker itself then pays (stream.set_f0_method), both ways, default model.

    .venv/bin/python bench/bench_f0_switch.py
"""
import time, torch
torch.set_num_threads(1)
from realtime.model_converter import make_converter
for prepared in (False, True):
    conv = make_converter(None)
    conv.prepare(block=1024, context=4800, lookahead=384)
    for name in ("crepe-full", "crepe", "fcpe"):
        if prepared:
            conv.prepare_f0_method(name)
        t = time.perf_counter(); conv.stream.set_f0_method(name); dt = time.perf_counter() - t
        print(f"{name} prepared={prepared}: worker's switch {1000*dt:.1f} ms")
