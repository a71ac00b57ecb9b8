"""The denoiser's WaveNet through a TorchScript trace: exactly the eager numbers, only where it may be used."""

import copy

import numpy as np
import torch

from convert_fixtures import tiny_config
from core.convert.stream import ConversionStream
from core.model.acoustic import AcousticModel
from core.model.wavenet import _TRACES


def _network():
    torch.manual_seed(0)
    net = AcousticModel.from_config(tiny_config().replace({"model.residual_layers": 3})).network
    torch.nn.init.normal_(net.output_projection.weight, std=0.1)  # zero at init: nothing would reach the output
    return net.eval()


def _inputs(net, batch: int, frames: int, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    cond_channels = net.residual_layers[0].cond_projection.in_channels
    return (torch.randn(batch, net.input_projection.in_channels, frames, generator=gen),
            torch.rand(batch, generator=gen), torch.randn(batch, cond_channels, frames, generator=gen))


def test_traced_network_gives_the_eager_numbers_at_any_length_and_batch():
    net = _network()
    with torch.no_grad():
        eager = {(b, t): net(*_inputs(net, b, t)) for b, t in ((1, 9), (1, 64), (1, 131), (2, 40))}
    net.trace_for_inference(frames=64)
    assert net in _TRACES
    with torch.no_grad():
        for (b, t), expected in eager.items():
            torch.testing.assert_close(net(*_inputs(net, b, t)), expected, rtol=0, atol=0)


def test_the_trace_follows_weights_changed_in_place_and_training_stays_eager():
    net = _network()
    net.trace_for_inference()
    x = _inputs(net, 1, 30)
    with torch.no_grad():
        before = net(*x)
        net.output_projection.bias.add_(0.5)  # as an optimiser step changes a parameter
        after = net(*x)
    torch.testing.assert_close(after, before + 0.5, rtol=0, atol=1e-6)
    out = net(*x)  # gradients on: the eager network, whose graph reaches the parameters
    out.sum().backward()
    assert net.output_projection.weight.grad is not None


def test_weights_loaded_as_new_tensors_leave_the_trace_behind():
    net = _network()
    net.trace_for_inference()
    x = _inputs(net, 1, 30)
    state = {k: v + 0.01 if v.is_floating_point() else v for k, v in net.state_dict().items()}
    net.load_state_dict(state, assign=True)  # new tensors, not the ones the trace reads
    with torch.no_grad():
        eager_twin = _network()
        eager_twin.load_state_dict(state)
        torch.testing.assert_close(net(*x), eager_twin(*x), rtol=0, atol=0)
    assert net not in _TRACES
    moved = _network()
    moved.trace_for_inference()
    moved.half().float()  # its buffer is a new tensor now
    with torch.no_grad():
        moved(*x)
    assert moved not in _TRACES


def test_a_deep_copy_runs_its_own_weights():
    """The student is a deep copy of the teacher: a trace of the teacher must not run in its place."""
    net = _network()
    net.trace_for_inference()
    twin = copy.deepcopy(net)
    assert twin not in _TRACES
    with torch.no_grad():
        twin.output_projection.bias.add_(1.0)
        x = _inputs(net, 1, 20)
        assert not torch.allclose(twin(*x), net(*x))


def test_the_live_stream_traces_the_student_on_the_cpu_and_sounds_the_same(tmp_path):
    from convert_fixtures import build_tiny_model

    model = build_tiny_model(tmp_path / "tiny.safetensors")
    assert model.generator.network not in _TRACES
    audio = np.sin(2 * np.pi * 220 * np.arange(24000) / 24000).astype(np.float32) * 0.3
    # the same model eager: its stream made before any trace, with tracing kept off
    eager_model = build_tiny_model(tmp_path / "eager.safetensors")
    eager_model.generator.network.trace_for_inference = lambda frames=64: None
    eager = ConversionStream(eager_model, f0_method="dio", max_block_frames=8)
    traced = ConversionStream(model, f0_method="dio", max_block_frames=8)
    assert model.generator.network in _TRACES and eager_model.generator.network not in _TRACES
    block = 8 * model.hop_length
    for start in range(0, len(audio) - block + 1, block):
        np.testing.assert_array_equal(traced.push(audio[start:start + block]), eager.push(audio[start:start + block]))


def test_a_network_let_go_takes_its_trace_with_it():
    """Models swapped in and out of a running engine must not each leave a trace behind."""
    import gc

    net = _network()
    net.trace_for_inference(frames=16)
    gc.collect()  # networks of earlier tests, let go but not yet collected
    before = len(_TRACES)
    del net
    gc.collect()
    assert len(_TRACES) == before - 1
