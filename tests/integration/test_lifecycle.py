"""Health, daemons dying and coming back, scaling by starting one more."""
import signal
import time


def test_health_names_every_dependency(suite):
    r = suite.request("GET", "/api/health")
    assert r.status == 200
    h = r.json()
    assert h["status"] == "healthy"
    assert h["service"] == "ai-customer-support"
    for dep in ("store", "intent-agent", "support-agent", "escalation",
                "metrics"):
        assert h["dependencies"][dep]["status"] == "up", dep
    assert h["dependencies"]["intent-agent"]["instances"] == 1


def test_daemon_killed_degraded_then_restarted_healthy(fresh_suite):
    s = fresh_suite
    s.stop("escalation", sig=signal.SIGKILL)
    h = s.wait_health("degraded", timeout=10)
    assert h["dependencies"]["escalation"]["status"] == "down"
    assert h["dependencies"]["escalation"]["instances"] == 0
    r = s.request("GET", "/api/health")
    assert r.status == 503
    s.start("escalation")
    h = s.wait_healthy(timeout=15)
    assert h["dependencies"]["escalation"]["instances"] == 1


def test_second_instance_joins_and_sigterm_exits_zero(fresh_suite):
    s = fresh_suite
    s.start("intent-agent", key="intent-agent-2")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        h = s.request("GET", "/api/health").json()
        if h["dependencies"]["intent-agent"]["instances"] == 2:
            break
        time.sleep(0.1)
    assert h["dependencies"]["intent-agent"]["instances"] == 2
    assert s.stop("intent-agent-2") == 0
    h = s.wait_healthy()
    assert h["dependencies"]["intent-agent"]["instances"] == 1
    for key in ("support-agent", "metrics", "escalation", "intent-agent",
                "gateway"):
        assert s.stop(key) == 0, key


def test_help_lists_configuration(suite):
    import subprocess
    from conftest import BIN_DIR
    import os
    import re
    from conftest import TOP
    doc = open(os.path.join(TOP, "docs", "configuration.md")).read()
    for svc in ("gateway", "intent-agent", "support-agent", "escalation",
                "metrics"):
        out = subprocess.run([f"{BIN_DIR}/{svc}", "--help"],
                             capture_output=True, text=True, timeout=10)
        assert out.returncode == 0
        assert "VAR_DIR" in out.stdout
        # Every variable a binary reads is documented.
        for var in re.findall(r"^  ([A-Z][A-Z0-9_]+) ", out.stdout, re.M):
            assert f"`{var}`" in doc, f"{var} missing from configuration.md"
    out = subprocess.run([f"{BIN_DIR}/gateway"], capture_output=True,
                         text=True, timeout=10,
                         env={"PORT": "notaport", "PATH": "/usr/bin"})
    assert out.returncode == 2 and "PORT" in out.stderr


def test_store_down_503_then_recovers():
    """PostgreSQL stopped under FerretDB: 503s naming the store, then back."""
    import os
    import shutil
    import subprocess
    import tempfile
    from conftest import TOP, Suite
    devstore = os.path.join(TOP, "scripts", "devstore.sh")
    d = tempfile.mkdtemp(prefix="suite-store-")
    root = tempfile.mkdtemp(prefix="suite-")
    s = None
    try:
        out = subprocess.run([devstore, "start", d], check=True, text=True,
                             capture_output=True, timeout=120).stdout
        uri = out.strip().splitlines()[-1].split("=", 1)[1]
        s = Suite(root, uri)
        s.start_all()
        token = s.signup("storedown").json()["access_token"]
        subprocess.run([devstore, "pg-stop", d], check=True, timeout=60)
        h = s.wait_health("degraded", timeout=30)
        assert h["dependencies"]["store"]["status"] == "down"
        r = s.request("POST", "/api/chat", {"message": "hello"}, token=token)
        assert r.status == 503 and r.json()["error"] == "store_unavailable"
        assert r.headers.get("Retry-After")
        r = s.request("POST", "/api/auth/login",
                      {"username": "storedown", "password": "correct-horse-1"})
        assert r.status == 503
        subprocess.run([devstore, "pg-start", d], check=True, timeout=60)
        s.wait_healthy(timeout=60)
        r = s.request("POST", "/api/chat", {"message": "hello"}, token=token,
                      timeout=30)
        assert r.status == 200, r.body
        for key in list(s.procs):
            assert s.procs[key].poll() is None, f"{key} died"
    finally:
        if s is not None:
            s.stop_all()
        subprocess.run([devstore, "destroy", d], capture_output=True,
                       timeout=60)
        shutil.rmtree(root, ignore_errors=True)
