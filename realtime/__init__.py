"""The live engine: everything between the sound card and the converter.

Modules, one idea each:
- ring.py         lock-free single-producer/single-consumer sample ring (the callback's only tool)
- resampler.py    streaming polyphase resampler with carried state (device rate <-> 24 kHz)
- gate.py         noise gate (hysteresis, hold, smooth gain, onset kept)
- sola.py         SOLA alignment + crossfade of overlapping converter chunks
- converter.py    THE converter interface (Converter, ConverterControls, ConvertResult)
- standin.py      WORLD-based stand-in converter used until a trained model is plugged in
- plugins.py      plugin host: Plugin interface, gain/gate/limiter, pedalboard effects and VST3,
                  ConverterPlugin (sliding window context|region|lookahead + SOLA), PluginChain
- engine.py       Engine: device_io (callback side), compute_block/finish_block (worker side),
                  latency scheduling (pad/drop, never creep), live controls, snapshots
- engine_spec.py  what an engine is built from (plain, picklable values) and the builder
- engine_process.py  the engine in a spawned process: control and snapshot pipes, a spare kept ahead of Start
- simulator.py    SimulatedBackend: the same engine against a virtual device clock
- devices.py      SoundDeviceBackend (PortAudio): the stream, and ending a run whose device vanished
- device_query.py device listing, defaults, rate checks, and one-line messages that name the device
- simulate.py     one simulated run + report (CLI `simulate`, tests, bench)
- offline.py      whole-file reference conversion and the streamed-vs-offline comparison
- roundtrip.py    chirp round-trip measurement through real devices (CLI `latency --devices-only`)
- latency_probe*.py  end-to-end latency through the running engine: the probe's stream, JACK wiring,
                  probe signals and their analysis (CLI `latency`)
- presets.py      Preset dataclass; values live in configs/presets/*.yaml

Plugging in the real model: write a class with the attributes and methods of
`realtime.converter.Converter` (uses_sola=False for the one-step student + a
vocoder that carries its state; `extra_latency_samples` = the vocoder's delay),
then pass it to `Engine(converter, preset, backend)` or `engine.swap_converter`.
"""
