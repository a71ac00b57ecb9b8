"""Wiring JACK ports for the latency probe: find a stream's own ports, connect them to each other.

PortAudio's JACK clients register ports named like `PortAudio:in_0` / `PortAudio-01:out_1` and
connect them to the system ports on their own. Which ports a stream got is found by listing
the ports before and after it opens (jack_lsp); connections are made with jack_connect and
jack_disconnect, the JACK tools that scripts/setup.sh installs (jackd2).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass

from core.errors import UserError

_TOOLS = ("jack_lsp", "jack_connect", "jack_disconnect")


@dataclass(frozen=True)
class StreamPorts:
    inputs: tuple[str, ...]   # the stream's input ports: what it records or the engine hears
    outputs: tuple[str, ...]  # the stream's output ports: what it plays


def check_jack_tools() -> None:
    missing = [tool for tool in _TOOLS if shutil.which(tool) is None]
    if missing:
        raise UserError(f"{', '.join(missing)} not found: the latency probe wires JACK ports with the JACK tools "
                        "(install jackd2, as scripts/setup.sh does)")


_TOOL_TIMEOUT_S = 10
_TOOL_ATTEMPTS = 3  # a JACK tool can stall while the server waits on a busy client to take a graph change


def _jack(*argv: str) -> subprocess.CompletedProcess:
    for attempt in range(_TOOL_ATTEMPTS):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=_TOOL_TIMEOUT_S)
        except OSError as exc:
            raise UserError(f"{argv[0]} failed: {exc}") from None
        except subprocess.TimeoutExpired:
            if attempt + 1 == _TOOL_ATTEMPTS:
                raise UserError(f"{argv[0]} did not answer in {_TOOL_TIMEOUT_S} s, {_TOOL_ATTEMPTS} times: "
                                "the JACK server is stalled") from None
    raise AssertionError("unreachable")


def connections() -> dict[str, list[str]]:
    """Every port the JACK server has, with the ports it is connected to (jack_lsp -c)."""
    result = _jack("jack_lsp", "-c")
    if result.returncode != 0:
        raise UserError("jack_lsp cannot reach the JACK server: is it running (and is JACK_DEFAULT_SERVER right)?")
    ports: dict[str, list[str]] = {}
    current = None
    for line in result.stdout.splitlines():
        if not line.strip():
            continue
        if line[0].isspace() and current is not None:
            ports[current].append(line.strip())
        else:
            current = line.strip()
            ports[current] = []
    return ports


def new_stream_ports(before: set[str], wait_s: float = 2.0) -> StreamPorts:
    """The PortAudio ports that appeared since `before` (a stream just opened registers them)."""
    deadline = time.monotonic() + wait_s
    while True:
        added = sorted(set(connections()) - before)
        inputs = tuple(p for p in added if ":in_" in p)
        outputs = tuple(p for p in added if ":out_" in p)
        if inputs and outputs:
            return StreamPorts(inputs, outputs)
        if time.monotonic() > deadline:
            raise UserError("the stream opened but no new JACK ports appeared for it (jack_lsp lists "
                            f"{', '.join(added) or 'none'} as new); cannot wire the probe")
        time.sleep(0.02)


def wire(pairs: list[tuple[str, str]], ports: StreamPorts | None = None, *more: StreamPorts) -> None:
    """Disconnect every port of the given streams from whatever it was connected to (PortAudio's
    auto-connections to the system ports), then connect each (output, input) pair."""
    table = connections()
    for stream in (ports, *more):
        if stream is None:
            continue
        for port in (*stream.inputs, *stream.outputs):
            for other in table.get(port, []):
                _jack("jack_disconnect", port, other)
    for source, sink in pairs:
        result = _jack("jack_connect", source, sink)
        if result.returncode != 0:
            reason = (result.stderr or result.stdout).strip().splitlines()
            raise UserError(f"jack_connect {source} {sink} failed: {reason[-1] if reason else 'no reason given'}")


def hardware_latency(ports: StreamPorts) -> int:
    """Frames JACK says the sound card adds around a stream: the capture latency of the system port
    feeding its input + the playback latency of the one its output feeds (0 where none is connected).
    Call it before `wire` moves the stream off the system ports."""
    table = connections()
    capture = max((_latency(p, "capture") for i in ports.inputs[:1] for p in table.get(i, [])), default=0)
    playback = max((_latency(p, "playback") for o in ports.outputs[:1] for p in table.get(o, [])), default=0)
    return capture + playback


def _latency(port: str, kind: str) -> int:
    """The larger end of a port's capture or playback latency range (jack_lsp -l), in frames."""
    current = None
    for line in _jack("jack_lsp", "-l", port).stdout.splitlines():  # the filter matches substrings too
        if line and not line[0].isspace():
            current = line.strip()
        elif current == port and f"port {kind} latency" in line:
            return int(line.split("[")[1].split("]")[0].split()[-1])
    return 0
