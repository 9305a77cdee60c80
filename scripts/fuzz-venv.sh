#!/bin/sh
# A Python virtual environment with the API fuzzer (schemathesis, from PyPI)
# under build/, made once; prints its python. CI machines start clean, so
# the tests call this themselves.
#   scripts/fuzz-venv.sh [DIR]      default build/venv-fuzz
set -eu
dir=${1:-build/venv-fuzz}
version=4.32.5
if [ ! -x "$dir/bin/schemathesis" ] ||
    ! "$dir/bin/python" -c "import schemathesis, sys; sys.exit(schemathesis.__version__ != '$version')" 2>/dev/null; then
    rm -rf "$dir"
    if ! python3 -m venv "$dir" >/dev/null 2>&1; then
        # Debian ships venv without ensurepip until python3-venv is there.
        echo "fuzz-venv: installing python3-venv" >&2
        if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO=sudo; fi
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
            --no-install-recommends python3-venv >&2
        rm -rf "$dir"
        python3 -m venv "$dir" >&2
    fi
    "$dir/bin/python" -m pip install -q --disable-pip-version-check \
        "schemathesis==$version" >&2
fi
echo "$dir/bin/python"
