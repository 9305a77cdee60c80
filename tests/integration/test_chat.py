"""The chat pipeline through HTTP: gateway -> intent-agent -> support-agent."""
import json
import signal
import uuid

import pytest


def chat(suite, message, token=None, **extra):
    body = {"message": message}
    body.update(extra)
    return suite.request("POST", "/api/chat", body, token=token, timeout=30)


def user_token(suite):
    u = "chat" + uuid.uuid4().hex[:10]
    return suite.signup(u).json()["access_token"]


@pytest.mark.parametrize("message,intent", [
    ("hello", "greeting"),
    ("I want a refund", "refund"),
    ("my card was charged twice", "billing"),
    ("the app crashes on login", "technical"),
])
def test_built_in_answers_with_the_right_intent(suite, message, intent):
    r = chat(suite, message, token=user_token(suite))
    assert r.status == 200, r.body
    b = r.json()
    assert b["intent"] == intent, b
    assert 0 < b["confidence"] <= 1
    assert b["response"].strip()
    for key in ("agent_type", "escalated", "timestamp", "conversation_id",
                "message_id"):
        assert key in b, key


def test_where_is_my_order_is_answered(suite):
    b = chat(suite, "where is my order?", token=user_token(suite)).json()
    assert b["intent"] in ("question", "other")
    assert not b["escalated"]
    assert "order" in b["response"].lower()


def test_conversation_continues_and_history_is_private(suite):
    token = user_token(suite)
    first = chat(suite, "hello", token=token).json()
    cid = first["conversation_id"]
    second = chat(suite, "where is my order?", token=token,
                  conversation_id=cid).json()
    assert second["conversation_id"] == cid
    h = suite.request("GET", f"/api/chat/history?conversation_id={cid}",
                      token=token)
    assert h.status == 200
    msgs = h.json()["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant"] * 2
    assert msgs[0]["text"] == "hello"
    assert msgs[2]["text"] == "where is my order?"
    # Someone else, or nobody, cannot read or continue it.
    other = user_token(suite)
    assert suite.request("GET", f"/api/chat/history?conversation_id={cid}",
                         token=other).status == 404
    assert suite.request("GET",
                         f"/api/chat/history?conversation_id={cid}"
                         ).status == 404
    assert chat(suite, "hi", token=other, conversation_id=cid).status == 404


def test_guest_chat_with_conversation_token(suite):
    first = chat(suite, "hello")
    assert first.status == 200
    b = first.json()
    cid, tok = b["conversation_id"], b["conversation_token"]
    assert len(tok) == 64
    r = chat(suite, "where is my order?", conversation_id=cid,
             conversation_token=tok)
    assert r.status == 200 and "conversation_token" not in r.json()
    assert chat(suite, "hi", conversation_id=cid,
                conversation_token="0" * 64).status == 404
    assert chat(suite, "hi", conversation_id=cid).status == 404
    h = suite.request("GET", f"/api/chat/history?conversation_id={cid}"
                      f"&conversation_token={tok}")
    assert h.status == 200 and len(h.json()["messages"]) == 4


def test_bad_input_changes_nothing(suite):
    token = user_token(suite)
    cid = chat(suite, "hello", token=token).json()["conversation_id"]
    bad = [
        ({"message": ""}, 400),
        ({"message": "   \n "}, 400),
        ({"message": 42}, 400),
        ({"message": ["hi"]}, 400),
        ({"message": {"$ne": None}}, 400),
        ({}, 400),
        ({"message": "x" * 2001}, 400),
        ({"message": "hi", "conversation_id": 5}, 400),
        ({"message": "hi", "conversation_id": "c_" + "0" * 24}, 404),
        ({"message": "hi", "conversation_id": "../../etc"}, 404),
    ]
    for body, want in bad:
        if "conversation_id" not in body:
            body = dict(body, conversation_id=cid)
        r = suite.request("POST", "/api/chat", body, token=token)
        assert r.status == want, (body, r.body)
        assert r.json()["error"]
    for raw, ctype, want in ((b"{bad", "application/json", 400),
                             (b"message=hi", "text/plain", 415),
                             (json.dumps({"message": "x" * 70000}).encode(),
                              "application/json", 413),
                             (b'{"message": "\xff\xfe"}', "application/json",
                              400)):
        r = suite.request("POST", "/api/chat", raw=raw, token=token,
                          headers={"Content-Type": ctype})
        assert r.status == want, (raw[:40], r.status, r.body)
    h = suite.request("GET", f"/api/chat/history?conversation_id={cid}",
                      token=token).json()
    assert len(h["messages"]) == 2
    for q in ("", "?conversation_id=" + cid + "&limit=0",
              "?conversation_id=" + cid + "&limit=x"):
        assert suite.request("GET", "/api/chat/history" + q,
                             token=token).status == 400


def test_degrades_when_agents_are_down(fresh_suite):
    s = fresh_suite
    token = user_token(s)
    s.stop("intent-agent", sig=signal.SIGKILL)
    s.wait_health("degraded")
    r = chat(s, "my card was charged twice", token=token)
    assert r.status == 200, r.body
    b = r.json()
    assert b["intent"] == "other" and b["intent_unavailable"] is True
    first = b["conversation_id"]
    s.stop("support-agent", sig=signal.SIGKILL)
    r = chat(s, "where is my order?", token=token)
    assert r.status == 200, r.body
    b = r.json()
    assert b["escalated"] is True
    assert b["escalation_reason"] == "agent_unavailable"
    # The customer's messages were kept.
    for cid, text in ((first, "my card was charged twice"),
                      (b["conversation_id"], "where is my order?")):
        h = s.request("GET", "/api/chat/history?conversation_id=" + cid,
                      token=token).json()
        assert [m["text"] for m in h["messages"] if m["role"] == "user"] == [
            text]
    s.start("intent-agent")
    s.start("support-agent")
    s.wait_healthy()
    b = chat(s, "the app crashes on login", token=token).json()
    assert b["intent"] == "technical" and "intent_unavailable" not in b
