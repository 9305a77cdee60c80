"""The web UI in a real browser against the real suite.

The suite is started as the integration tests start it (a private local
store and the five processes, tests/integration/conftest.py); then
ui.e2e.mjs drives Debian's Chromium through playwright-core, step by step.
Each step is one test here. Screenshots (desktop and phone width) go to
build/screenshots/ (E2E_SCREENSHOTS to change it).
"""
import importlib.util
import json
import os
import shutil
import subprocess
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

_spec = importlib.util.spec_from_file_location(
    "suite_fixtures", os.path.join(TOP, "tests", "integration", "conftest.py"))
_suite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_suite)
store_uri = _suite.store_uri  # the session's private store (a fixture)

STEPS = [
    "sign_up_page",
    "customer_chat_answered",
    "agent_created_via_admin_api",
    "agent_login_queue_live",
    "complaint_escalated",
    "agent_sees_escalation_arrive_live",
    "agent_claims_edits_approves",
    "customer_sees_human_reply_live",
    "conflict_explained",
    "guest_chat",
    "admin_monitoring",
    "monitoring_charts_with_sample_data",
    "monitoring_latency_single_points",
    "admin_users",
    "keyboard_only_sign_in",
    "accessibility_checks",
    "no_page_errors",
]


@pytest.fixture(scope="module")
def run(store_uri):
    """Run every browser step once against a fresh suite; their results."""
    assert os.path.exists(CHROMIUM), \
        f"{CHROMIUM} is missing: scripts/deps.sh installs Debian's chromium"
    playwright = os.path.join(TOP, "frontend", "node_modules", "playwright-core")
    assert os.path.isdir(playwright), "frontend/node_modules is missing: make frontend"
    index = os.path.join(TOP, "frontend", "dist", "index.html")
    assert os.path.exists(index), "frontend/dist is missing: make frontend"
    out = os.environ.get("E2E_SCREENSHOTS",
                         os.path.join(TOP, "build", "screenshots"))
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out, exist_ok=True)
    fd, results = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    with _suite.running_suite(store_uri) as s:
        env = dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1")
        p = subprocess.run(
            ["node", os.path.join(HERE, "ui.e2e.mjs"), "--url", s.url,
             "--admin", ":".join(_suite.ADMIN), "--out", out,
             "--results", results, "--chromium", CHROMIUM],
            cwd=TOP, env=env, capture_output=True, text=True, timeout=900)
    print(p.stdout)
    print(p.stderr)
    try:
        with open(results) as f:
            steps = {r["name"]: r for r in json.load(f)}
    except (OSError, ValueError):
        steps = {}
    finally:
        os.unlink(results)
    return {"steps": steps, "output": p.stdout + p.stderr, "rc": p.returncode}


@pytest.mark.parametrize("name", STEPS)
def test_step(run, name):
    r = run["steps"].get(name)
    assert r is not None, "the browser run never got to this step:\n" + run["output"][-3000:]
    assert r["ok"], r.get("error")


def test_every_step_is_listed(run):
    assert set(run["steps"]) <= set(STEPS), sorted(set(run["steps"]) - set(STEPS))
    assert run["rc"] == 0 or any(not r["ok"] for r in run["steps"].values()), run["output"][-3000:]


def test_screenshots_of_each_screen(run):
    out = os.environ.get("E2E_SCREENSHOTS", os.path.join(TOP, "build", "screenshots"))
    for screen in ("login", "signup", "chat", "chat-escalated", "chat-human-reply",
                   "chat-guest", "review-queue", "review-detail", "monitoring",
                   "monitoring-sample", "trace-sample", "users"):
        for width in ("desktop", "phone"):
            path = os.path.join(out, f"{screen}-{width}.png")
            assert os.path.getsize(path) > 5000, path
