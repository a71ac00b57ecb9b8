"""`comosvc devices`: the audio host APIs and devices PortAudio sees."""

from __future__ import annotations

from cli.output import add_json_flag, print_json
from core.errors import UserError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "devices",
        help="list audio host APIs and input/output devices",
        description="List the PortAudio host APIs and devices (index, name, host API, channels, default "
        "sample rate); '>' marks the default input, '<' the default output.",
    )
    add_json_flag(parser)
    parser.set_defaults(func=run)


def load_sounddevice():
    """The sounddevice module, or a UserError saying PortAudio is missing."""
    try:
        import sounddevice
    except (OSError, ImportError) as exc:
        raise UserError(
            f"PortAudio is not available ({exc}); install the PortAudio library "
            "(Debian/Ubuntu: apt-get install libportaudio2) and the sounddevice package"
        ) from None
    return sounddevice


def list_devices() -> dict:
    """Host APIs, devices and the defaults as plain data."""
    sd = load_sounddevice()
    try:
        host_apis = list(sd.query_hostapis())
        devices = list(sd.query_devices())
        default_in, default_out = _defaults(sd)
    except sd.PortAudioError as exc:
        raise UserError(f"PortAudio could not list devices: {exc}") from None
    api_names = [api["name"] for api in host_apis]
    return {
        "portaudio": sd.get_portaudio_version()[1],
        "host_apis": [
            {"index": i, "name": api["name"], "devices": list(api["devices"]),
             "default_input": _device_or_none(api["default_input_device"]),
             "default_output": _device_or_none(api["default_output_device"])}
            for i, api in enumerate(host_apis)
        ],
        "devices": [
            {"index": i, "name": dev["name"], "host_api": api_names[dev["hostapi"]] if dev["hostapi"] < len(api_names) else None,
             "max_input_channels": int(dev["max_input_channels"]),
             "max_output_channels": int(dev["max_output_channels"]),
             "default_samplerate": float(dev["default_samplerate"]),
             "default_input": i == default_in, "default_output": i == default_out}
            for i, dev in enumerate(devices)
        ],
        "default_input": default_in,
        "default_output": default_out,
    }


def _defaults(sd) -> tuple[int | None, int | None]:
    device = sd.default.device
    pair = list(device) if isinstance(device, (list, tuple)) or hasattr(device, "__getitem__") else [device, device]
    return _device_or_none(pair[0]), _device_or_none(pair[1])


def _device_or_none(index) -> int | None:
    try:
        value = int(index)
    except (TypeError, ValueError):
        return None
    return value if value >= 0 else None


def run(args) -> int:
    info = list_devices()
    if args.json:
        print_json(info)
        return 0
    print(info["portaudio"])
    print("host APIs: " + (", ".join(f"{a['index']}: {a['name']} ({len(a['devices'])} devices)"
                                      for a in info["host_apis"]) or "none"))
    if not info["devices"]:
        print("no audio devices found (no sound card, or no JACK server running)")
        return 0
    for dev in info["devices"]:
        mark = (">" if dev["default_input"] else " ") + ("<" if dev["default_output"] else " ")
        print(f"{mark} {dev['index']:3d}  {dev['name']}  [{dev['host_api']}]  "
              f"in {dev['max_input_channels']}, out {dev['max_output_channels']}, "
              f"{dev['default_samplerate']:.0f} Hz")
    return 0
