"""Which audio devices there are, and what is wrong with one, in words that name it.

Listing, resolving a user's device choice (index or part of a name), the system defaults, rate checks,
and the one-line messages for a device that is missing, refuses a rate or vanished. The stream itself
lives in realtime/devices.py.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from dataclasses import dataclass

from core.errors import UserError


def _sd():
    try:
        import sounddevice
    except (OSError, ImportError) as exc:
        raise UserError(f"PortAudio is not available ({exc}); install libportaudio2 and sounddevice") from None
    return sounddevice


DEVICE_BLOCKS = (16, 8192)  # device buffer sizes, in samples, that the live paths accept


def check_device_block(samples: int) -> None:
    low, high = DEVICE_BLOCKS
    if not low <= samples <= high:
        raise UserError(f"--device-block must be between {low} and {high} samples, got {samples}")


SAMPLE_RATES = (8000, 192000)  # device rates, in Hz, worth asking a device about


def check_samplerate(rate: int | None) -> None:
    low, high = SAMPLE_RATES
    if rate is not None and not low <= rate <= high:
        raise UserError(f"--samplerate must be between {low} and {high} Hz, got {rate}")


def default_device(kind: str) -> int | None:
    """The index of the system's default input or output device; None where PortAudio has none."""
    sd = _sd()
    try:
        index = int(sd.query_devices(kind=kind)["index"])
    except (sd.PortAudioError, KeyError, TypeError, ValueError):
        return None
    return index if index >= 0 else None


def device_label(index: int | None, kind: str) -> str:
    """The device a message is about, by name: an explicit index, or the default that None stands for."""
    sd = _sd()
    default = default_device(kind) if index is None else None
    if index is None and default is None:
        return f"the default {kind} device (none available)"
    try:
        name = sd.query_devices(index if index is not None else default)["name"]
    except sd.PortAudioError:
        name = "?"
    return f"{kind} device #{index} '{name}'" if index is not None else f"the default {kind} device '{name}'"


def devices_label(input_index: int | None, output_index: int | None) -> str:
    """'input device #0 'x'' for one duplex device, else both sides named."""
    text = device_label(input_index, "input")
    if input_index is not None and input_index == output_index:
        return text.replace("input device", "device", 1)
    return f"{text} and {device_label(output_index, 'output')}"


def open_failure(input_index: int | None, output_index: int | None, samplerate: int, exc: Exception) -> str:
    """The line for a stream PortAudio would not open; on JACK the usual cause is a server that went away."""
    reason = str(exc).split(" [PaErrorCode")[0]
    try:
        apis = _sd().query_hostapis()
        on_jack = any("JACK" in apis[_sd().query_devices(i)["hostapi"]]["name"]
                      for i in (input_index, output_index) if i is not None)
    except Exception:  # noqa: BLE001 - the hint is optional
        on_jack = False
    hint = "; is the JACK server still running?" if on_jack else ""
    return f"cannot open {devices_label(input_index, output_index)} at {samplerate} Hz: {reason}{hint}"


def check_devices(input_device, output_device, samplerate: int) -> None:
    """A UserError naming the device when either side is missing or refuses the rate (cheap: opens no stream)."""
    for kind, device in (("input", input_device), ("output", output_device)):
        problem = check_rate(device, samplerate, kind)
        if problem:
            raise UserError(problem)


def no_device_message(kind: str) -> str:
    return (f"{device_label(None, kind)}: PortAudio finds no {kind} device to use (no sound card, or no JACK "
            "server running); see 'comosvc devices'")


@contextlib.contextmanager
def quiet_portaudio():
    """PortAudio prints its own diagnostics to the C stderr when an open fails; our one line says it better."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def abandon_portaudio() -> None:
    """After a JACK server vanished, PortAudio can neither stop a stream nor terminate (it hangs or aborts):
    leave both to the end of the process rather than run sounddevice's exit handler."""
    sd = _sd()
    atexit.unregister(sd._exit_handler)


def close_streams(streams: list, timeout_s: float = 2.0) -> None:
    """Stop and close streams without letting a lost device block shutdown (PortAudio's stop can hang then)."""

    def close_all() -> None:
        for stream in streams:
            try:
                stream.stop()
                stream.close()
            except Exception:  # noqa: BLE001 - a lost device must not stop shutdown
                pass

    closer = threading.Thread(target=close_all, name="close-audio-streams", daemon=True)
    closer.start()
    closer.join(timeout_s)
    if closer.is_alive():
        abandon_portaudio()


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool
    is_default_output: bool


def list_host_apis() -> list[str]:
    return [api["name"] for api in _sd().query_hostapis()]


def list_devices() -> list[DeviceInfo]:
    sd = _sd()
    apis = list_host_apis()
    default_in, default_out = default_device("input"), default_device("output")
    return [DeviceInfo(i, d["name"], apis[d["hostapi"]], int(d["max_input_channels"]),
                       int(d["max_output_channels"]), float(d["default_samplerate"]), i == default_in, i == default_out)
            for i, d in enumerate(sd.query_devices())]


def resolve_device(device, kind: str) -> int | None:
    """A device index from an index, an exact name, or a unique part of a name; None = default."""
    if device is None or device == "":
        return None
    if isinstance(device, int) or (isinstance(device, str) and device.isdigit()):
        index = int(device)
        devices = list_devices()
        channels = "max_input_channels" if kind == "input" else "max_output_channels"
        if not 0 <= index < len(devices):
            listed = f"#0 to #{len(devices) - 1}" if devices else "none"
            raise UserError(f"no audio device #{index} (PortAudio lists {listed}); see 'comosvc devices'")
        if getattr(devices[index], channels) < 1:
            raise UserError(f"device #{index} '{devices[index].name}' has no {kind} channels; see 'comosvc devices'")
        return index
    channels = "max_input_channels" if kind == "input" else "max_output_channels"
    matches = [d for d in list_devices() if device.lower() in d.name.lower() and getattr(d, channels) > 0]
    exact = [d for d in matches if d.name == device]
    if len(exact) == 1 or len(matches) == 1:
        return (exact or matches)[0].index
    if not matches:
        raise UserError(f"no {kind} device matches '{device}'; see 'comosvc devices'")
    raise UserError(f"'{device}' matches several {kind} devices: {', '.join(d.name for d in matches)}")


def check_rate(device, samplerate: int, kind: str) -> str | None:
    """None if the device accepts the rate for one channel, else a message naming the device and why not."""
    sd = _sd()
    try:
        index = resolve_device(device, kind)
    except UserError as exc:
        return str(exc)
    if index is None and default_device(kind) is None:
        return no_device_message(kind)
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    try:
        check(device=index, samplerate=samplerate, channels=1, dtype="float32")
    except Exception as exc:  # noqa: BLE001 - PortAudio reports refusals in several exception types
        reason = str(exc).split(" [PaErrorCode")[0]
        try:
            usual = f"; its default rate is {sd.query_devices(index, kind)['default_samplerate']:.0f} Hz"
        except Exception:  # noqa: BLE001 - the device may be gone by now
            usual = ""
        return f"{device_label(index, kind)} refuses {samplerate} Hz ({reason}){usual}"
    return None
