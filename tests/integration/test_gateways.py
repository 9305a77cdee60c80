"""Two gateways in front of one set of daemons, as with two gateway replicas:
each daemon instance dials both (a comma-separated address list), a user and
a conversation move freely between them, escalation notices reach the
streams of both, one gateway killed leaves the other serving, and gateways
starting together make the first admin once."""
import contextlib
import os
import shutil
import signal
import tempfile
import time

import pytest

from conftest import DAEMONS, Load, Stream, Suite, new_user

BUS = ["INTENT_ADDR", "SUPPORT_ADDR", "ESCALATION_ADDR", "METRICS_ADDR",
       "NOTIFY_ADDR"]


def listen_env(run, tag):
    """The bus addresses gateway `tag` listens on."""
    return {v: f"ipc://{run}/{tag}-{v.lower()}.ipc" for v in BUS}


@contextlib.contextmanager
def gateways(store_uri, gw_extra=None):
    """The daemons dialing two gateways, a and b, started at once on an
    empty database; gw_extra adds to both gateways' environment."""
    root = tempfile.mkdtemp(prefix="suite-")
    common = {"JWT_SECRET": "two-gateways-share-this-signing-key-0123",
              "RATE_CHAT_IP": "0"}
    a = Suite(root, store_uri, common)
    b = Suite(root, store_uri, common)
    run = os.path.join(a.var, "run")
    os.makedirs(run, exist_ok=True)
    a.gw_env = dict(listen_env(run, "a"), **(gw_extra or {}))
    b.gw_env = dict(listen_env(run, "b"), **(gw_extra or {}))
    dial = {v: f"{a.gw_env[v]}, {b.gw_env[v]}" for v in BUS}
    try:
        for d in DAEMONS:
            a.start(d, env=dial)
        a.start("gateway", env=a.gw_env)
        b.start("gateway", key="gateway-b", env=b.gw_env)
        a.wait_healthy()
        b.wait_healthy()
        yield a, b
    finally:
        b.stop_all()
        a.stop_all()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def two_gateways(store_uri):
    with gateways(store_uri) as ab:
        yield ab


def chat(gw, text, **more):
    r = gw.request("POST", "/api/chat", dict(message=text, **more),
                   timeout=30)
    assert r.status == 200, r.body
    return r.json()


def test_two_gateways_share_daemons_users_and_conversations(two_gateways):
    a, b = two_gateways
    for gw in (a, b):
        deps = gw.request("GET", "/api/health").json()["dependencies"]
        for svc in ("intent-agent", "support-agent", "escalation", "metrics"):
            assert deps[svc]["instances"] == 1, (svc, deps)

    # Signed in on one, recognised by the other.
    customer, name = new_user(a, "user")
    me = b.request("GET", "/api/auth/me", token=customer)
    assert me.status == 200 and me.json()["username"] == name, me.body

    # A guest starts on a, goes on on b; the history is whole on either.
    first = chat(a, "where is my order?")
    assert first["intent"] == "question"
    cid, tok = first["conversation_id"], first["conversation_token"]
    second = chat(b, "I want a refund", conversation_id=cid,
                  conversation_token=tok)
    assert second["conversation_id"] == cid
    h = b.request("GET", f"/api/chat/history?conversation_id={cid}"
                  f"&conversation_token={tok}").json()["messages"]
    assert [m["text"] for m in h if m["role"] == "user"] == [
        "where is my order?", "I want a refund"]

    # An agent watching the queue on b sees a complaint made on a.
    agent, _ = new_user(a, "agent")
    queue = Stream(b, "/api/hitl/stream", agent)
    try:
        c = chat(a, "This is unacceptable, I want to file a complaint!")
        assert c["escalated"] is True, c
        queue.wait_for(lambda e: e[0] == "escalation"
                       and e[1]["kind"] == "created"
                       and e[1]["escalation"]["conversation_id"]
                       == c["conversation_id"])
    finally:
        queue.close()


def test_one_gateway_killed_the_other_serves_on(two_gateways):
    a, b = two_gateways
    with Load(b, threads=3) as load:
        time.sleep(1.5)
        a.stop("gateway", sig=signal.SIGKILL)
        time.sleep(3)
    assert not load.bad and load.refused == 0, (load.bad, load.refused)
    assert len(load.ok) > 10, len(load.ok)
    assert not [x for _, x in load.ok if x.get("intent_unavailable")]

    # Started again, the daemons dial back in by themselves.
    t0 = time.monotonic()
    a.start("gateway", env=a.gw_env)
    a.wait_healthy(timeout=30)
    print(f"\ngateway a healthy again {time.monotonic() - t0:.2f} s after "
          f"its start; b answered {len(load.ok)} chats meanwhile, 0 failed")
    again = chat(a, "the app crashes on login")
    assert again["intent"] == "technical", again


def test_first_admin_made_once_by_gateways_starting_together(store_uri):
    """No ADMIN_USERNAME: each gateway finds no admin and makes one; the
    store lets one win, and the other says so instead of warning."""
    with gateways(store_uri, {"ADMIN_USERNAME": "", "ADMIN_PASSWORD": ""}) \
            as (a, b):
        logs = ""
        for name in ("gateway", "gateway-b"):
            with open(os.path.join(a.root, name + ".log"), errors="replace") \
                    as f:
                logs += f.read()
        assert logs.count("First admin created") == 1, logs
        assert "taken by a non-admin" not in logs, logs
        lines = open(os.path.join(a.var, "admin-password")).read().split()
        password = lines[lines.index("password:") + 1]
        for gw in (a, b):
            assert gw.login("admin", password)
