#!/usr/bin/env python3
"""Review-queue figures against a running suite (bench/hitl.sh starts it).

    hitl_client.py URL ADMIN_TOKEN AGENT_TOKEN N_ITEMS N_STREAMS

1. N_ITEMS complaint chats make N_ITEMS escalations.
2. Claim and approve all of them with 16 concurrent keep-alive clients:
   requests/s for each.
3. N_STREAMS agents' SSE streams open at once; one more escalation is
   created; the time until every stream has received its notice.
"""
import asyncio
import http.client
import json
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor


def main():
    url, admin, agent, n, streams = sys.argv[1:6]
    n, streams = int(n), int(streams)
    host = urllib.parse.urlparse(url)
    conns = {}

    def req(method, path, body=None, token=None):
        import threading
        c = conns.get(threading.get_ident())
        if c is None:
            c = conns[threading.get_ident()] = http.client.HTTPConnection(
                host.hostname, host.port, timeout=60)
        h = {"Content-Type": "application/json"}
        if token:
            h["Authorization"] = "Bearer " + token
        c.request(method, path, json.dumps(body) if body is not None else None, h)
        r = c.getresponse()
        return r.status, r.read()

    complaint = {"message": "This is unacceptable, I want to file a complaint "
                            "about your terrible service"}
    with ThreadPoolExecutor(16) as ex:
        list(ex.map(lambda _: req("POST", "/api/chat", complaint), range(n)))
    st, body = req("GET", f"/api/hitl/escalations/pending?limit=200", token=agent)
    ids = [e["id"] for e in json.loads(body)["escalations"]]
    while len(ids) < n:
        st, body = req("GET", f"/api/hitl/escalations/pending?limit=200&offset={len(ids)}",
                       token=agent)
        more = [e["id"] for e in json.loads(body)["escalations"]]
        if not more:
            break
        ids += more
    for action in ("claim", "approve"):
        t0 = time.monotonic()
        with ThreadPoolExecutor(16) as ex:
            codes = list(ex.map(lambda i: req(
                "POST", f"/api/hitl/escalations/{i}/{action}",
                {} if action == "approve" else None, agent)[0], ids))
        dt = time.monotonic() - t0
        ok = sum(c == 200 for c in codes)
        print(f"{action:8} {len(ids)} items: {ok} ok, {len(ids) / dt:7.1f} requests/s")

    async def fanout():
        ready, got = [], []
        done = asyncio.Event()

        async def stream():
            r, w = await asyncio.open_connection(host.hostname, host.port)
            w.write((f"GET /api/hitl/stream HTTP/1.1\r\nHost: x\r\n"
                     f"Authorization: Bearer {agent}\r\n\r\n").encode())
            await w.drain()
            while True:
                line = await r.readline()
                if not line:
                    return
                if line.startswith(b": stream open"):
                    ready.append(1)
                if line.startswith(b"event: escalation"):
                    got.append(time.monotonic())
                    if len(got) == streams:
                        done.set()
                    w.close()
                    return

        tasks = [asyncio.create_task(stream()) for _ in range(streams)]
        while len(ready) < streams:
            await asyncio.sleep(0.05)
        t0 = time.monotonic()
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: req("POST", "/api/chat", complaint))
        await asyncio.wait_for(done.wait(), 30)
        print(f"fan-out  {streams} streams: all had the notice "
              f"{(max(got) - t0) * 1000:.0f} ms after the chat was sent "
              f"(first {(min(got) - t0) * 1000:.0f} ms)")
        for t in tasks:
            t.cancel()

    asyncio.run(fanout())
    del admin


main()
