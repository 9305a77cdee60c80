"""The human review queue through HTTP: escalate, claim, resolve, deliver."""
import uuid

import pytest

from conftest import Stream, new_user


def pending(suite, token, **q):
    qs = "&".join(f"{k}={v}" for k, v in q.items())
    r = suite.request("GET", "/api/hitl/escalations/pending?" + qs,
                      token=token)
    assert r.status == 200, r.body
    return r.json()


def complain(suite, token, text="This is unacceptable, my order arrived "
             "broken and nobody answers. I want to file a complaint!"):
    r = suite.request("POST", "/api/chat", {"message": text}, token=token,
                      timeout=30)
    assert r.status == 200, r.body
    b = r.json()
    assert b["escalated"] is True, b
    return b


def find_item(suite, agent, conversation_id):
    items = pending(suite, agent, limit=200)["escalations"]
    mine = [i for i in items if i["conversation_id"] == conversation_id]
    assert len(mine) == 1, items
    return mine[0]


def test_escalate_claim_edit_deliver_hand_back(suite):
    customer, _ = new_user(suite, "user")
    agent_a, name_a = new_user(suite, "agent")
    agent_b, _ = new_user(suite, "agent")
    b = complain(suite, customer)
    cid = b["conversation_id"]
    item = find_item(suite, agent_a, cid)
    assert item["status"] == "pending"
    assert item["reason"].startswith("policy")
    assert item["ai_draft"]
    assert item["intent"] == "complaint"

    # While a person owns it, the AI stays silent and nothing new is queued.
    r = suite.request("POST", "/api/chat", {"message": "hello? anyone?",
                                            "conversation_id": cid},
                      token=customer)
    assert r.status == 200
    assert r.json()["escalation_reason"] == "human_owned"
    assert r.json()["agent_type"] == "human"
    find_item(suite, agent_a, cid)

    # The detail has the whole transcript.
    d = suite.request("GET", f"/api/hitl/escalations/{item['id']}",
                      token=agent_a).json()
    texts = [m["text"] for m in d["transcript"]]
    assert "hello? anyone?" in texts

    # A claims; B gets 409 naming A, and cannot resolve it either.
    r = suite.request("POST", f"/api/hitl/escalations/{item['id']}/claim",
                      token=agent_a)
    assert r.status == 200 and r.json()["claimed_by"] == name_a
    r = suite.request("POST", f"/api/hitl/escalations/{item['id']}/claim",
                      token=agent_b)
    assert r.status == 409 and name_a in r.json()["detail"]
    r = suite.request("POST", f"/api/hitl/escalations/{item['id']}/approve",
                      {}, token=agent_b)
    assert r.status == 409

    # A edits; the reply reaches the conversation; it goes back to the AI.
    reply = "I'm so sorry. I have sent a replacement today, tracking follows."
    r = suite.request("POST", f"/api/hitl/escalations/{item['id']}/edit",
                      {"reply": reply, "notes": "replacement sent",
                       "hand_back": True}, token=agent_a)
    assert r.status == 200, r.body
    assert r.json()["status"] == "resolved"
    assert r.json()["resolution"] == "edited"
    h = suite.request("GET", f"/api/chat/history?conversation_id={cid}",
                      token=customer).json()
    assert h["messages"][-1]["role"] == "agent"
    assert h["messages"][-1]["text"] == reply
    assert h["status"] == "ai"
    # Resolving twice: 409; the queue no longer lists it.
    r = suite.request("POST", f"/api/hitl/escalations/{item['id']}/approve",
                      {}, token=agent_a)
    assert r.status == 409
    assert all(i["id"] != item["id"]
               for i in pending(suite, agent_a, limit=200)["escalations"])
    # The AI answers again.
    r = suite.request("POST", "/api/chat", {"message": "where is my order?",
                                            "conversation_id": cid},
                      token=customer).json()
    assert r["escalated"] is False
    # The audit log holds every step, who and what, before and after.
    log = suite.request("GET", f"/api/admin/audit?target={item['id']}",
                        token=suite.admin_token()).json()["entries"]
    steps = [(e["who"], e["action"], e["before"], e["after"])
             for e in reversed(log)]
    assert steps == [(name_a, "claim", "pending", "claimed"),
                     (name_a, "edit", "claimed", "resolved")], steps
    assert suite.request("GET", "/api/admin/audit",
                         token=agent_a).status == 403


def test_release_then_other_agent_approves_keeping_it(suite):
    customer, _ = new_user(suite, "user")
    agent_a, _ = new_user(suite, "agent")
    agent_b, name_b = new_user(suite, "agent")
    cid = complain(suite, customer)["conversation_id"]
    item = find_item(suite, agent_a, cid)
    base = f"/api/hitl/escalations/{item['id']}"
    assert suite.request("POST", base + "/claim", token=agent_a).status == 200
    assert suite.request("POST", base + "/release",
                         token=agent_b).status == 409
    assert suite.request("POST", base + "/release",
                         token=agent_a).status == 200
    assert suite.request("POST", base + "/claim", token=agent_b).status == 200
    r = suite.request("POST", base + "/approve", {"hand_back": False},
                      token=agent_b)
    assert r.status == 200 and r.json()["resolution"] == "approved"
    assert r.json()["final_reply"] == item["ai_draft"]
    assert r.json()["resolved_by"] == name_b
    h = suite.request("GET", f"/api/chat/history?conversation_id={cid}",
                      token=customer).json()
    assert h["status"] == "human"
    assert h["messages"][-1]["text"] == item["ai_draft"]


def test_bad_input_and_roles(suite):
    customer, _ = new_user(suite, "user")
    agent, _ = new_user(suite, "agent")
    cid = complain(suite, customer)["conversation_id"]
    item = find_item(suite, agent, cid)
    base = f"/api/hitl/escalations/{item['id']}"
    # Customers and strangers never see the queue.
    assert suite.request("GET", "/api/hitl/escalations/pending",
                         token=customer).status == 403
    assert suite.request("GET",
                         "/api/hitl/escalations/pending").status == 401
    assert suite.request("POST", base + "/claim",
                         token=customer).status == 403
    # Unknown and malformed ids.
    assert suite.request("GET", "/api/hitl/escalations/e_0000",
                         token=agent).status == 404
    assert suite.request("GET", "/api/hitl/escalations/..%2Fetc",
                         token=agent).status == 404
    assert suite.request("POST", "/api/hitl/escalations/nope/claim",
                         token=agent).status == 404
    # Empty or wrong-typed replies: 400, and nothing changes.
    for body in ({"reply": ""}, {"reply": "   "}, {"reply": 5},
                 {"reply": "ok", "hand_back": "yes"}, {}):
        r = suite.request("POST", base + "/edit", body, token=agent)
        assert r.status == 400, (body, r.body)
    r = suite.request("POST", base + "/reject", raw=b"{bad",
                      headers={"Content-Type": "application/json"},
                      token=agent)
    assert r.status == 400
    assert find_item(suite, agent, cid)["status"] == "pending"
    # Bad list parameters.
    for q in ("status=nope", "limit=0", "limit=x", "offset=-1"):
        r = suite.request("GET", "/api/hitl/escalations/pending?" + q,
                          token=agent)
        assert r.status == 400, q
    # Reject with the alternative reply.
    r = suite.request("POST", base + "/reject",
                      {"reply": "We cannot offer that, but here is what we "
                                "can do instead."}, token=agent)
    assert r.status == 200 and r.json()["resolution"] == "rejected"


def test_creation_is_idempotent_by_request_id(suite):
    agent, _ = new_user(suite, "agent")
    rid = uuid.uuid4().hex
    ids = set()
    for _ in range(2):
        customer, _ = new_user(suite, "user")
        r = suite.request("POST", "/api/chat",
                          {"message": "I want to file a complaint about "
                                      "your terrible service"},
                          token=customer, headers={"X-Request-Id": rid})
        assert r.json()["escalated"] is True
    items = pending(suite, agent, limit=200)["escalations"]
    ids = [i["id"] for i in items if i["id"] == "e_" + rid]
    assert len(ids) == 1


def test_escalation_down_when_needed_503_message_kept(fresh_suite):
    import signal
    s = fresh_suite
    customer, _ = new_user(s, "user")
    s.stop("escalation", sig=signal.SIGKILL)
    s.wait_health("degraded")
    r = s.request("POST", "/api/chat",
                  {"message": "I want to file a complaint about your "
                              "terrible service"}, token=customer)
    assert r.status == 503
    assert r.json()["error"] == "escalation_unavailable"
    assert r.headers.get("Retry-After")
    # An ordinary question is still answered by the AI meanwhile.
    r = s.request("POST", "/api/chat", {"message": "how long does a refund "
                                                    "take?"}, token=customer)
    assert r.status == 200 and r.json()["escalated"] is False


def test_add_to_knowledge_answers_the_same_question_next_time(suite):
    import time
    customer, _ = new_user(suite, "user")
    agent, _ = new_user(suite, "agent")
    question = ("This is unacceptable! I was promised a loyalty voucher for "
                "my tenth order and never got it. I want to file a complaint.")
    cid = complain(suite, customer, question)["conversation_id"]
    item = find_item(suite, agent, cid)
    answer = ("Loyalty vouchers are emailed within 48 hours of the tenth "
              "delivery; I have just re-sent yours to your account email.")
    r = suite.request("POST", f"/api/hitl/escalations/{item['id']}/edit",
                      {"reply": answer, "add_to_knowledge": True},
                      token=agent)
    assert r.status == 200, r.body
    # The support agents re-index within seconds; then no human is needed.
    other, _ = new_user(suite, "user")
    deadline = time.monotonic() + 20
    while True:
        b = suite.request("POST", "/api/chat", {"message": question},
                          token=other, timeout=30).json()
        if not b["escalated"] or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert b["escalated"] is False, b
    assert b["response"] == answer
    r = suite.request("POST", f"/api/hitl/escalations/{item['id']}/edit",
                      {"reply": "x", "add_to_knowledge": "yes"}, token=agent)
    assert r.status == 400


def test_claim_expiry_and_sla_breach(store_uri):
    import time
    from conftest import running_suite
    with running_suite(store_uri, {"CLAIM_TTL_S": "1", "SLA_S": "1"}) as s:
        customer, _ = new_user(s, "user")
        agent_a, _ = new_user(s, "agent")
        agent_b, name_b = new_user(s, "agent")
        cid = complain(s, customer)["conversation_id"]
        item = find_item(s, agent_a, cid)
        base = f"/api/hitl/escalations/{item['id']}"
        assert s.request("POST", base + "/claim", token=agent_a).status == 200
        assert s.request("POST", base + "/claim", token=agent_b).status == 409
        time.sleep(1.5)
        # A vanished agent does not block the queue.
        r = s.request("POST", base + "/claim", token=agent_b)
        assert r.status == 200 and r.json()["claimed_by"] == name_b
        late = pending(s, agent_a, breached="true")["escalations"]
        assert [i["id"] for i in late] == [item["id"]]
        assert late[0]["sla_breached"] is True
        assert s.request("GET", "/api/hitl/escalations/pending?breached=x",
                         token=agent_a).status == 400


def test_live_streams_deliver_queue_changes_and_human_replies(suite):
    customer, _ = new_user(suite, "user")
    agent, _ = new_user(suite, "agent")
    queue = Stream(suite, "/api/hitl/stream", agent)
    try:
        b = complain(suite, customer)
        cid = b["conversation_id"]
        created = queue.wait_for(
            lambda e: e[0] == "escalation" and e[1]["kind"] == "created"
            and e[1]["escalation"]["conversation_id"] == cid)
        eid = created[1]["escalation"]["id"]
        chat = Stream(suite, f"/api/chat/stream?conversation_id={cid}",
                      customer)
        try:
            assert suite.request("POST", f"/api/hitl/escalations/{eid}/claim",
                                 token=agent).status == 200
            queue.wait_for(lambda e: e[1].get("kind") == "claimed")
            reply = "Hello, this is Sam from support; I have fixed it."
            assert suite.request("POST", f"/api/hitl/escalations/{eid}/edit",
                                 {"reply": reply}, token=agent).status == 200
            msg = chat.wait_for(lambda e: e[0] == "message")
            assert msg[1]["text"] == reply and msg[1]["role"] == "agent"
            queue.wait_for(lambda e: e[1].get("kind") == "resolved")
        finally:
            chat.close()
    finally:
        queue.close()
    # Streams are for their owners and agents only.
    other, _ = new_user(suite, "user")
    assert suite.request("GET", f"/api/chat/stream?conversation_id={cid}",
                         token=other).status == 404
    assert suite.request("GET", "/api/chat/stream", token=other).status == 400
    assert suite.request("GET", "/api/hitl/stream",
                         token=customer).status == 403
    assert suite.request("GET", "/api/hitl/stream").status == 401
    assert suite.request("GET", "/api/hitl/stream?access_token=forged"
                         ).status == 401
