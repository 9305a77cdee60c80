#!/bin/sh
# Install what the suite needs on Debian 12 when it is missing; a no-op
# (one dpkg query) when everything is there.
set -eu

PKGS="build-essential pkg-config libnng-dev libprotobuf-c-dev protobuf-c-compiler
libcivetweb-dev libmongoc-dev libbson-dev libcurl4-openssl-dev libcjson-dev
libjwt-dev libargon2-dev libssl-dev libcmocka-dev libopenblas-dev liblinear-dev postgresql
golang-go python3 python3-pytest python3-pip python3-venv unzip clang-format wrk bc
clang libclang-rt-14-dev nodejs npm chromium fonts-dejavu-core"
# The deployment checks (tests/integration/test_deploy.py): a venv for the
# pinned tools of scripts/check-deploy.sh, and `docker-compose config`.
PKGS="$PKGS python3-venv docker-compose"

# For whichever python3 runs the tests (pinned): the Prometheus text parser
# they check /metrics with, and the MongoDB driver the fault tests read the
# store back with (the seed app's version, bench/seed/requirements.txt).
python_deps() {
    python3 -c 'import prometheus_client, pymongo' 2>/dev/null && return 0
    echo "deps: installing prometheus-client and pymongo for python3"
    set -- 'prometheus-client==0.16.0' 'pymongo==4.20.0' 'dnspython==2.9.2'
    python3 -m pip install -q --disable-pip-version-check "$@" 2>/dev/null ||
        python3 -m pip install -q --disable-pip-version-check \
            --break-system-packages "$@"
}

missing=""
for p in $PKGS; do
    # golang-go is not needed when a Go toolchain is already on PATH.
    if [ "$p" = golang-go ] && command -v go >/dev/null 2>&1; then continue; fi
    # The web UI builds with the Node.js on PATH (20.19 or newer) when there is one.
    if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
    if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
    if [ "$p" = python3-pytest ] && python3 -c 'import pytest' 2>/dev/null; then continue; fi
    if [ "$p" = python3-pip ] && python3 -m pip --version >/dev/null 2>&1; then continue; fi
    if [ "$p" = python3-venv ] && python3 -c 'import ensurepip, venv' 2>/dev/null; then continue; fi
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
        missing="$missing $p"
done
[ -z "$missing" ] && { python_deps; exit 0; }

echo "deps: installing Debian packages:$missing"
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "deps: need root (or sudo) to install:$missing" >&2
    exit 1
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
python_deps
