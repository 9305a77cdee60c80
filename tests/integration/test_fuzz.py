"""The libFuzzer harnesses (tests/fuzz/, built by mk/fuzz.mk with clang
-fsanitize=fuzzer,address,undefined) run a few seconds each: no crash, no
leak, no undefined behaviour. `make fuzz FUZZ_TIME=600` runs them longer."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import TOP

FUZZ_DIR = os.path.join(TOP, "build", "fuzz")
SECONDS = os.environ.get("FUZZ_SECONDS", "3")
TARGETS = ["fuzz_chat_json", "fuzz_token", "fuzz_pii",
           "fuzz_intent_request", "fuzz_support_request",
           "fuzz_escalation_request", "fuzz_metrics_request"]


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_harness(target, tmp_path):
    exe = os.path.join(FUZZ_DIR, target)
    if not os.path.exists(exe):
        pytest.fail(f"{exe} is not built: clang and libclang-rt-14-dev are "
                    "needed (scripts/deps.sh installs them)")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    seeds = os.path.join(TOP, "tests", "fuzz", "seeds", target)
    if os.path.isdir(seeds):
        for f in os.listdir(seeds):
            shutil.copy(os.path.join(seeds, f), corpus)
    p = subprocess.run([exe, f"-max_total_time={SECONDS}", "-max_len=8192",
                        "-print_final_stats=1", f"-artifact_prefix={tmp_path}/",
                        str(corpus)], cwd=TOP, capture_output=True, text=True,
                       timeout=int(SECONDS) * 10 + 60)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-4000:]
    runs = int(re.search(r"stat::number_of_executed_units: (\d+)", out)[1])
    assert runs > 100, out[-2000:]
    print(f"{target}: {runs} executions in {SECONDS} s, no crash")
