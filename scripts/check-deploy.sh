#!/bin/sh
# Check the deployment files (Dockerfile, docker-compose.yml, deploy/k8s):
#
#   scripts/check-deploy.sh           set up the tools, run the checks
#   scripts/check-deploy.sh --tools   set up the tools only; print their bin dir
#
# The checks are tests/integration/test_deploy.py, which `make test` runs
# with the other integration tests (and which calls `--tools` itself). The
# tools: docker-compose from Debian (scripts/deps.sh) for `config`, and a
# venv in build/deploy-tools with the wheels pinned by sha256 in
# deploy/check-requirements.txt (kubernetes-validate with its bundled
# schemas, yamllint, hadolint, shellcheck), made once and again only when
# that file changes. No Docker engine or cluster is needed: nothing is built
# or run in a container here.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
venv="$top/build/deploy-tools"
req="$top/deploy/check-requirements.txt"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)

if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "check-deploy: installing the pinned tools into build/deploy-tools" >&2
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/python" -m pip install -q --disable-pip-version-check \
        --no-deps --only-binary=:all: --require-hashes -r "$req" >&2
    echo "$want" >"$stamp"
fi

if [ "${1:-}" = --tools ]; then
    echo "$venv/bin"
    exit 0
fi
cd "$top"
exec python3 -m pytest -q -p no:cacheprovider tests/integration/test_deploy.py "$@"
