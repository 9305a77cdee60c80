#!/usr/bin/env python3
"""A fake OpenAI-compatible chat-completions server for tests (stdlib only).

    server.py [--port N | N] [--delay SECONDS] [--script FILE]

Listens on 127.0.0.1 (port 0: a free one) and prints "PORT <n>" first. POST /v1/chat/completions answers like OpenAI:
- a prompt asking for an intent label gets a label from keyword rules;
- any other prompt gets JSON {"reply", "handoff", "reason"}: the reply is the
  first knowledge snippet's answer found in the system prompt, handoff is
  true for complaint-like messages.
Control endpoints (for tests): POST /_script [steps...] queues scripted
answers consumed one per call, each {"status", "delay", "content",
"retry_after", "malformed", "huge", "drop"} plus "chunked" (huge as a
chunked body, no Content-Length), "body" (a raw body string), "headers"
({name: value} added to the reply); --script FILE preloads such a list;
POST /_config {"delay"}; GET /_stats {"calls", "in_flight", "peak"} (peak
completions open at once since the last reset);
GET /_requests lists every call but the control ones (method, path,
headers with lower-case names, JSON body or null); POST /_reset clears the
calls, the script and the delay.
asyncio, so hundreds of slow calls can be open at once.
"""
import argparse
import asyncio
import json
import re
import sys

STATE = {"script": [], "requests": [], "delay": 0.0, "calls": 0,
         "in_flight": 0, "peak": 0}

INTENT_RULES = [
    ("refund", ("refund", "money back", "reimburse")),
    ("billing", ("charged", "charge", "invoice", "payment", "bill")),
    ("technical", ("crash", "error", "login", "log in", "app", "password")),
    ("complaint", ("terrible", "complaint", "angry", "disgrace", "unacceptable")),
    ("greeting", ("hello", "hi ", "hey", "good morning")),
    ("question", ("where", "how", "when", "what", "?")),
]


def last_user(messages):
    for m in reversed(messages):
        if m.get("role") == "user":
            return str(m.get("content", ""))
    return ""


def default_content(body):
    messages = body.get("messages", [])
    system = " ".join(str(m.get("content", "")) for m in messages
                      if m.get("role") == "system")
    text = last_user(messages).lower()
    if "label" in system.lower() and "intent" in system.lower():
        for label, words in INTENT_RULES:
            if any(w in text + " " for w in words):
                return label
        return "other"
    m = re.search(r"^answer:[ \t]*(.+)$", system, re.M)
    reply = m.group(1).strip() if m else "Thanks for your message, I am happy to help."
    handoff = any(w in text for w in ("terrible", "complaint", "angry",
                                      "unacceptable", "lawyer"))
    return json.dumps({"reply": reply, "handoff": handoff,
                       "reason": "complaint" if handoff else ""})


def completion(content):
    return json.dumps({
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 0,
        "model": "fake", "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant",
                                                  "content": content}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1,
                  "total_tokens": 2}}).encode()


async def respond(writer, status, body, ctype="application/json", extra="",
                  chunked=False):
    reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized",
              404: "Not Found", 408: "Request Timeout",
              429: "Too Many Requests", 500: "Internal Server Error",
              502: "Bad Gateway", 503: "Service Unavailable"}.get(status,
                                                                  "Status")
    length = ("Transfer-Encoding: chunked\r\n" if chunked
              else f"Content-Length: {len(body)}\r\n")
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\n"
            f"{length}{extra}\r\n").encode()
    if not chunked:
        writer.write(head + body)
        await writer.drain()
        return
    writer.write(head)
    for i in range(0, len(body), 16384):
        part = body[i:i + 16384]
        writer.write(b"%x\r\n%s\r\n" % (len(part), part))
        await writer.drain()
    writer.write(b"0\r\n\r\n")
    await writer.drain()


def record(method, path, headers, body):
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        parsed = None
    STATE["requests"].append({"method": method, "path": path,
                              "headers": headers, "body": parsed})
    return parsed


async def handle_completion(writer, parsed):
    step = STATE["script"].pop(0) if STATE["script"] else {}
    STATE["calls"] += 1
    STATE["in_flight"] += 1
    STATE["peak"] = max(STATE["peak"], STATE["in_flight"])
    try:
        return await answer(writer, parsed, step)
    finally:
        STATE["in_flight"] -= 1


async def answer(writer, parsed, step):
    await asyncio.sleep(step.get("delay", STATE["delay"]))
    if step.get("drop"):
        writer.close()
        return False
    status = step.get("status", 200)
    extra = "".join(f"{k}: {v}\r\n"
                    for k, v in step.get("headers", {}).items())
    if "retry_after" in step:
        extra += f"Retry-After: {step['retry_after']}\r\n"
    chunked = bool(step.get("chunked"))
    if step.get("huge"):
        await respond(writer, status, b"x" * int(step["huge"]), extra=extra,
                      chunked=chunked)
    elif step.get("malformed"):
        await respond(writer, status, b"{not json at all", extra=extra)
    elif "body" in step:
        await respond(writer, status, str(step["body"]).encode(), extra=extra,
                      chunked=chunked)
    elif status != 200:
        body = (completion(step["content"]) if "content" in step
                else b'{"error":{"message":"scripted"}}')
        await respond(writer, status, body, extra=extra)
    else:
        content = step.get("content")
        if content is None:
            content = default_content(parsed or {})
        await respond(writer, 200, completion(content), extra=extra,
                      chunked=chunked)
    return True


async def serve(reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            method, path, _ = line.decode("latin-1").split(" ", 2)
            headers = {}
            while True:
                h = await reader.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                k, _, v = h.decode("latin-1").partition(":")
                headers[k.strip().lower()] = v.strip()
            n = int(headers.get("content-length", "0") or 0)
            body = await reader.readexactly(n) if n else b""
            if not path.startswith("/_"):
                parsed = record(method, path, headers, body)
            if method == "POST" and path == "/v1/chat/completions":
                if not await handle_completion(writer, parsed or {}):
                    return
            elif method == "POST" and path == "/_script":
                STATE["script"].extend(json.loads(body))
                await respond(writer, 200, b"{}")
            elif method == "POST" and path == "/_config":
                STATE["delay"] = float(json.loads(body).get("delay", 0))
                await respond(writer, 200, b"{}")
            elif path == "/_stats":
                stats = {k: STATE[k] for k in ("calls", "in_flight", "peak")}
                await respond(writer, 200, json.dumps(stats).encode())
            elif path == "/_requests":
                await respond(writer, 200, json.dumps(STATE["requests"]).encode())
            elif method == "POST" and path == "/_reset":
                STATE.update(script=[], requests=[], delay=0.0, calls=0,
                             peak=STATE["in_flight"])
                await respond(writer, 200, b"{}")
            else:
                await respond(writer, 404, b'{"error":"not found"}')
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass
    finally:
        writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port_arg", nargs="?", type=int, metavar="PORT")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--script", help="JSON file: a list of scripted steps")
    a = ap.parse_args()
    if a.port_arg is not None:
        a.port = a.port_arg
    STATE["delay"] = a.delay
    if a.script:
        with open(a.script, encoding="utf-8") as f:
            STATE["script"] = list(json.load(f))
    srv = await asyncio.start_server(serve, "127.0.0.1", a.port, backlog=2048)
    print("PORT", srv.sockets[0].getsockname()[1], flush=True)
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
