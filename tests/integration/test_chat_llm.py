"""The chat pipeline in LLM mode, against the fake OpenAI-compatible server."""


def chat(suite, message, **extra):
    body = {"message": message}
    body.update(extra)
    return suite.request("POST", "/api/chat", body, timeout=30)


def support_calls(fake):
    return [r for r in fake.requests()
            if "label" not in r["body"]["messages"][0]["content"].lower()]


def test_reply_grounded_on_knowledge_and_history(llm_suite, fake_llm):
    fake_llm.control("/_reset", {})
    first = chat(llm_suite, "hello").json()
    r = chat(llm_suite, "my parcel never came",
             conversation_id=first["conversation_id"],
             conversation_token=first["conversation_token"])
    assert r.status == 200, r.body
    b = r.json()
    assert not b["escalated"]
    calls = support_calls(fake_llm)
    assert calls, "the support agent never called the LLM"
    req = calls[-1]
    assert req["headers"]["authorization"] == "Bearer sk-test-key"
    body = req["body"]
    assert body["model"] == "fake-model"
    assert body["temperature"] == 0.2
    msgs = body["messages"]
    assert msgs[0]["role"] == "system"
    # Grounded: the retrieved entry is in the prompt, and the reply is it.
    assert "[shipping-lost-parcel]" in msgs[0]["content"], [m["content"][:80] for m in msgs[1:]]
    assert "shipping-lost-parcel" in msgs[0]["content"]
    # History: the earlier turn, then the message.
    assert [m["role"] for m in msgs[1:]] == ["user", "assistant", "user"]
    assert msgs[1]["content"] == "hello"
    assert msgs[-1]["content"] == "my parcel never came"
    assert b["response"] in msgs[0]["content"]


def test_model_handoff_is_a_structured_field(llm_suite, fake_llm):
    fake_llm.control("/_script", [{"content": '{"reply": "Let me get a '
                                   'colleague.", "handoff": true, "reason": '
                                   '"needs account access"}'}])
    b = chat(llm_suite, "where is my order?").json()
    assert b["escalated"] is True
    assert b["escalation_reason"] == "model_handoff"
    # A reply that merely mentions a human is not a handover.
    fake_llm.control("/_script", [{"content": '```json\n{"reply": "A human '
                                   'could also help, but: it ships in 2 days.'
                                   '", "handoff": false}\n```'}])
    b = chat(llm_suite, "where is my order?").json()
    assert b["escalated"] is False
    assert b["response"].startswith("A human could also help")


def test_llm_failures_fall_back_to_built_in(llm_suite, fake_llm):
    for step in ({"status": 500}, {"malformed": True},
                 {"content": "I am not JSON"}, {"delay": 5}):
        fake_llm.control("/_reset", {})
        steps = [step] * 3 if "status" in step else [step]
        fake_llm.control("/_script", steps)
        r = chat(llm_suite, "how long does a refund take?")
        assert r.status == 200, (step, r.body)
        b = r.json()
        assert "working days" in b["response"], (step, b)
        assert b["escalated"] is False, (step, b)


def test_complaint_policy_applies_in_llm_mode(llm_suite, fake_llm):
    fake_llm.control("/_reset", {})
    b = chat(llm_suite, "This is unacceptable, I want to file a complaint "
                        "about your terrible service").json()
    assert b["escalated"] is True
    assert b["intent"] == "complaint"


import pytest

from conftest import running_suite


@pytest.fixture(scope="module")
def intent_llm_suite(store_uri, fake_llm):
    with running_suite(store_uri, {"LLM_BASE_URL": fake_llm.url,
                                   "INTENT_MODE": "llm",
                                   "LLM_TIMEOUT_MS": "2000"}) as s:
        yield s


def test_intent_from_the_llm_with_fallback(intent_llm_suite, fake_llm):
    s = intent_llm_suite
    fake_llm.control("/_reset", {})
    # The intent call comes first: the model's label is used.
    fake_llm.control("/_script", [{"content": "billing"}])
    b = chat(s, "hello there").json()
    assert b["intent"] == "billing"
    intent_calls = [r for r in fake_llm.requests()
                    if "label" in r["body"]["messages"][0]["content"]]
    assert intent_calls[0]["body"]["temperature"] == 0.3
    assert intent_calls[0]["body"]["messages"][1]["content"] == "hello there"
    # Outside the seven labels, an error, a timeout: the built-in model.
    for step in ({"content": "banana"}, {"status": 400}, {"delay": 3}):
        fake_llm.control("/_reset", {})
        fake_llm.control("/_script", [step])
        b = chat(s, "the app crashes on login").json()
        assert b["intent"] == "technical", (step, b)


def test_ai_never_talks_over_a_human(llm_suite, fake_llm):
    """A person takes the conversation while the AI is still drafting."""
    import threading
    import time
    s = llm_suite
    cid = chat(s, "hello").json()
    conv, tok = cid["conversation_id"], cid["conversation_token"]
    fake_llm.control("/_reset", {})
    fake_llm.control("/_script", [
        {"delay": 2.5},  # the slow draft of the first message
        {"content": '{"reply": "A colleague will help.", "handoff": true, '
                    '"reason": "account access"}'},
    ])
    slow = {}

    def first():
        slow["r"] = chat(s, "where is my order?", conversation_id=conv,
                         conversation_token=tok)

    t = threading.Thread(target=first)
    t.start()
    time.sleep(0.5)
    b = chat(s, "can you check my account please", conversation_id=conv,
             conversation_token=tok).json()
    assert b["escalated"] is True, b
    t.join(30)
    late = slow["r"].json()
    assert late["escalated"] is True, late
    assert late["escalation_reason"] == "human_owned"
    h = s.request("GET", f"/api/chat/history?conversation_id={conv}"
                  f"&conversation_token={tok}").json()
    assert h["status"] == "human"
    assert all("shipped" not in m["text"] for m in h["messages"]
               if m["role"] == "assistant" and m["text"] != late["response"])
