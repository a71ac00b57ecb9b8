"""JACK's shared-memory leftovers: what keeps a dummy server from starting on a machine that ran the tests before."""

from __future__ import annotations

from pathlib import Path


def _jackd_running() -> bool:
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "jackd":
                return True
        except OSError:  # the process ended while we looked
            continue
    return False


def clear_stale_jack_registry() -> bool:
    """With no jackd running, remove JACK's shared-memory registry and our test servers' semaphores.

    Servers that tests kill (the device-loss tests) leave stale entries there. After many runs on one
    machine a second server beside a running one failed with "Failed to open server" until the
    registry was removed. With no server running nothing uses it, and jackd makes it again.
    False (nothing touched) while any jackd runs.
    """
    if _jackd_running():
        return False
    shm = Path("/dev/shm")
    for stale in [shm / "jack-shm-registry", *shm.glob("jack_sem.*_comosvc_*")]:
        stale.unlink(missing_ok=True)
    return True
