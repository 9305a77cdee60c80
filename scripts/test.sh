#!/usr/bin/env bash
# Run the unit tests (one cmocka binary per module), the integration tests
# (pytest: real store, real processes), the web UI's component tests (Vitest)
# and its end-to-end tests (pytest + Debian's Chromium driven by
# playwright-core against the real suite), then one summary line.
#   scripts/test.sh [all|unit|integration|frontend|e2e]
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
        # A hung test fails with its name instead of holding CI to its limit.
        out=$(timeout -k 10 600 "$t" 2>&1)
        rc=$?
        [ $rc -ne 124 ] || out="$out
$(basename "$t"): timed out after 600 s"
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

# Passed and failed counts of a JUnit XML report (pytest's or Vitest's).
junit_counts() {
    python3 - "$1" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    r = ET.parse(sys.argv[1]).getroot()
    suites = [r] if r.tag == 'testsuite' else r.findall('testsuite')
    p = f = 0
    for s in suites:
        t, fl, e, sk = (int(s.get(k, 0)) for k in ('tests', 'failures', 'errors', 'skipped'))
        p += t - fl - e - sk
        f += fl + e
    print(p, f if suites else 1)
except Exception:
    print(0, 1)
PY
}

# Add a JUnit report's counts to the totals; name the part when it failed.
count_junit() {
    local p f
    read -r p f < <(junit_counts "$1")
    rm -f "$1"
    passed=$((passed + p))
    failed=$((failed + f))
    [ "$f" -eq 0 ] || failed_names+=("$2")
}

if [ "$what" = all ] || [ "$what" = integration ]; then
    echo "== integration tests"
    xml=$(mktemp)
    BIN_DIR="$BIN_DIR" python3 -m pytest -q -p no:cacheprovider \
        --junitxml="$xml" tests/integration
    count_junit "$xml" integration
fi

if [ "$what" = all ] || [ "$what" = frontend ]; then
    echo "== web UI component tests"
    xml=$(mktemp)
    (cd frontend && node_modules/.bin/vitest run --reporter=dot \
        --reporter=junit --outputFile.junit="$xml")
    count_junit "$xml" frontend
fi

if [ "$what" = all ] || [ "$what" = e2e ]; then
    echo "== end-to-end tests (Chromium)"
    xml=$(mktemp)
    BIN_DIR="$BIN_DIR" PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 python3 -m pytest -q \
        -p no:cacheprovider --junitxml="$xml" tests/e2e
    count_junit "$xml" e2e
    echo "  screenshots: ${E2E_SCREENSHOTS:-build/screenshots}/"
fi

echo
[ ${#failed_names[@]} -eq 0 ] || echo "failing: ${failed_names[*]}"
echo "summary: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
