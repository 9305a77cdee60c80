#!/usr/bin/env bash
# Run the unit tests (one cmocka binary per module) and the integration
# tests (pytest: real store, real processes), then one summary line.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
BIN_DIR=${BIN_DIR:-build/bin}
TEST_DIR=${TEST_DIR:-build/tests}
what=${1:-all}
passed=0
failed=0
failed_names=()

if [ "$what" = all ] || [ "$what" = unit ]; then
    echo "== unit tests"
    while IFS= read -r t; do
        out=$("$t" 2>&1)
        rc=$?
        printf '%s\n' "$out" | grep -E '^\[  (PASSED|FAILED|  OK|SKIPPED) ' | sed "s|^|  $(basename "$t"): |" | grep -v '  OK ' || true
        p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
        f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
        passed=$((passed + ${p:-0}))
        failed=$((failed + ${f:-0}))
        if [ $rc -ne 0 ] && [ -z "$f" ]; then
            failed=$((failed + 1))
        fi
        if [ $rc -ne 0 ]; then
            failed_names+=("$(basename "$t")")
            printf '%s\n' "$out" | tail -n 30
        fi
    done < <(find "$TEST_DIR" -type f -name 'test_*' -perm -u+x | sort)
fi

if [ "$what" = all ] || [ "$what" = integration ]; then
    echo "== integration tests"
    xml=$(mktemp)
    BIN_DIR="$BIN_DIR" python3 -m pytest -q -p no:cacheprovider \
        --junitxml="$xml" tests/integration
    read -r p f < <(python3 - "$xml" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    r = ET.parse(sys.argv[1]).getroot()
    s = r if r.tag == 'testsuite' else r.find('testsuite')
    t, fl, e, sk = (int(s.get(k, 0)) for k in ('tests', 'failures', 'errors', 'skipped'))
    print(t - fl - e - sk, fl + e)
except Exception:
    print(0, 1)
PY
)
    rm -f "$xml"
    passed=$((passed + p))
    failed=$((failed + f))
    [ "$f" -eq 0 ] || failed_names+=("integration")
fi

echo
[ ${#failed_names[@]} -eq 0 ] || echo "failing: ${failed_names[*]}"
echo "summary: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
