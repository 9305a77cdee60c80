"""Group-committed inserts (common/store_batch.c) against the real store:
the C test binary runs here with the session's store."""
import os
import subprocess

from conftest import TOP


def test_store_batch_against_the_store(store_uri):
    exe = os.path.join(TOP, "build", "tests", "common", "test_store_batch")
    env = dict(os.environ, STORE_TEST_URI=store_uri)
    r = subprocess.run([exe], env=env, capture_output=True, text=True,
                       timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "[  PASSED  ] 3 test(s)." in out, out
    assert "SKIPPED" not in out, out
    print(out.strip().splitlines()[-1])
