#!/usr/bin/env bash
# One-step set-up on a fresh Debian/Ubuntu machine: system packages, then the
# virtual environment .venv at the repository root with the app installed in it.
# Safe to re-run: apt and pip skip what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(
    libportaudio2 libsndfile1          # sounddevice, soundfile
    jackd2                             # JACK dummy server for the headless audio tests
    espeak-ng flite festival           # TTS voices for the synthetic corpus
    festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
    festvox-italp16k festvox-itapc16k festvox-czech-dita festvox-czech-krb festvox-czech-machac
    festvox-czech-ph festvox-suopuhe-lj festvox-suopuhe-mv festvox-ru festvox-ca-ona-hts
    sox                                # listening checks
    alsa-utils asterisk-core-sounds-en-wav asterisk-core-sounds-it-wav   # real voices for bench_quality
    asterisk-core-sounds-fr-wav asterisk-core-sounds-ru-wav asterisk-prompt-it-menardi-wav
    fillets-ng-data-cs fillets-ng-data-nl   # full-band real voices for bench_quality
    asterisk-prompt-es-co asterisk-prompt-fr-armelle ktuberling-data   # real voices in the default model's training
    libgl1 libegl1 libxkbcommon0 libfontconfig1 libdbus-1-3   # Qt offscreen
)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    # jackd2 asks about realtime priority in a debconf prompt; answer it ahead.
    echo "jackd2 jackd/tweak_rt_limits boolean false" | $SUDO debconf-set-selections 2>/dev/null || true
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${SYSTEM_PACKAGES[@]}" >/dev/null
else
    echo "setup: apt-get not found; install these system packages by hand: ${SYSTEM_PACKAGES[*]}" >&2
fi

# torch's CUDA build makes the venv about 8 GB, and pip unpacks the wheels on the way: say so
# up front instead of failing halfway with "No space left on device".
NEED_GB=10
if ! ls -d .venv/lib/python3*/site-packages/torch >/dev/null 2>&1; then
    free_gb=$(df -Pk . | awk 'NR==2 {print int($4 / 1048576)}')
    if [ "$free_gb" -lt "$NEED_GB" ]; then
        echo "setup: only ${free_gb} GB free on $(df -P . | awk 'NR==2 {print $6}'); the virtual environment needs about ${NEED_GB} GB (torch). Free some space and re-run." >&2
        exit 1
    fi
fi

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --upgrade pip
# torch and torchaudio first, as a matched pair, so that nothing else picks another torch.
.venv/bin/pip install -q "torch==2.9.1" "torchaudio==2.9.1"
.venv/bin/pip install -q -e ".[dev]"
echo "setup: done. Activate with: source .venv/bin/activate"
