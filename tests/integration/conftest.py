"""Integration fixtures: a real local store and the real processes.

Each test session gets its own PostgreSQL + FerretDB in a temporary folder
(scripts/devstore.sh) and starts the five services from build/bin on a free
port with ipc:// bus addresses under a temporary VAR_DIR. Everything is
stopped at the end, failures included.
"""
import collections
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN_DIR = os.path.join(TOP, os.environ.get("BIN_DIR", "build/bin"))
DAEMONS = ["metrics", "escalation", "intent-agent", "support-agent"]
ADMIN = ("root-admin", "admin-password-123")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


class Suite:
    """The running services, with helpers to drive the HTTP API."""

    def __init__(self, root, mongo_uri, extra_env=None):
        self.root = root
        self.var = os.path.join(root, "var")
        os.makedirs(self.var, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ)
        self.env.update({
            "VAR_DIR": self.var,
            "PORT": str(self.port),
            "MONGO_URI": mongo_uri,
            "MONGO_DB": "test_" + os.path.basename(root).replace("-", "_"),
            "ADMIN_USERNAME": ADMIN[0],
            "ADMIN_PASSWORD": ADMIN[1],
            "LOG_LEVEL": "info",
        })
        self.env.update(extra_env or {})
        self.procs = {}
        self.logs = {}

    def start(self, name, key=None, env=None):
        """Start build/bin/name as `key`; env adds to the suite's own."""
        key = key or name
        log = open(os.path.join(self.root, key + ".log"), "ab")
        self.logs[key] = log
        self.procs[key] = subprocess.Popen(
            [os.path.join(BIN_DIR, name)], cwd=TOP,
            env=dict(self.env, **(env or {})),
            stdout=log, stderr=subprocess.STDOUT)
        return self.procs[key]

    def start_all(self):
        for d in DAEMONS:
            self.start(d)
        self.start("gateway")
        self.wait_healthy()

    def stop(self, key, sig=signal.SIGTERM, timeout=15):
        p = self.procs.pop(key, None)
        if p is None:
            return None
        p.send_signal(sig)
        try:
            return p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            return p.wait()

    def stop_all(self):
        for key in list(self.procs):
            self.stop(key)
        for log in self.logs.values():
            log.close()

    def wait_healthy(self, timeout=None):
        # Sanitizer builds index the knowledge base several times slower.
        timeout = timeout or float(os.environ.get("HEALTH_TIMEOUT", "60"))
        return self.wait_health("healthy", timeout)

    def wait_health(self, status, timeout=30):
        end = time.monotonic() + timeout
        last = None
        while time.monotonic() < end:
            try:
                last = self.request("GET", "/api/health", timeout=3)
                if last.json().get("status") == status:
                    return last.json()
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        raise AssertionError(f"health never became {status}: "
                             f"{last.body if last else 'no answer'}"
                             f"{self.log_tails()}")

    def log_tails(self, lines=15):
        """The last lines of every process log in the suite's folder, for
        a failure's message (the folder is removed after the test)."""
        out = [self.proc_states()]
        for name in sorted(os.listdir(self.root)):
            if not name.endswith(".log"):
                continue
            with open(os.path.join(self.root, name), "rb") as f:
                text = f.read().decode("utf-8", "replace").splitlines()
            tail = text[-lines:]
            # The bus's link and listener lines are few and say who was
            # connected to whom: all of them, however busy the log.
            links = [ln for ln in text[:-lines] if " bus: " in ln][-40:]
            if links:
                out.append(f"\n--- {name} (its bus lines before the tail)\n"
                           + "\n".join(links))
            out.append(f"\n--- {name} (last {lines} lines)\n"
                       + "\n".join(tail))
        return "".join(out)

    def proc_states(self):
        """One line: each process the suite started, running or how it
        ended (a daemon that crashed says so before any log tail)."""
        states = []
        for key, p in sorted(self.procs.items()):
            rc = p.poll()
            if rc is None:
                states.append(f"{key} running")
            elif rc < 0:
                states.append(f"{key} killed by signal {-rc}")
            else:
                states.append(f"{key} exited {rc}")
        return "\nprocesses: " + ", ".join(states)

    def request(self, method, path, body=None, token=None, headers=None,
                raw=None, timeout=10):
        h = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        if token:
            h["Authorization"] = "Bearer " + token
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers=h)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return Response(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            return Response(e.code, e.headers, e.read())

    def signup(self, username, password="correct-horse-1"):
        return self.request("POST", "/api/auth/signup",
                            {"username": username, "password": password})

    def login(self, username, password):
        r = self.request("POST", "/api/auth/login",
                         {"username": username, "password": password})
        assert r.status == 200, r.body
        return r.json()["access_token"]

    def admin_token(self):
        return self.login(*ADMIN)


def new_user(suite, role):
    """A new account: a customer signs up, an admin creates the others."""
    name = f"{role}{uuid.uuid4().hex[:8]}"
    if role == "user":
        return suite.signup(name).json()["access_token"], name
    admin = suite.admin_token()
    r = suite.request("POST", "/api/admin/users",
                      {"username": name, "password": "agent-password-1",
                       "role": role}, token=admin)
    assert r.status == 201, r.body
    return suite.login(name, "agent-password-1"), name


class Stream:
    """Reads server-sent events on a thread of its own."""

    def __init__(self, suite, path, token=None):
        headers = {"Authorization": "Bearer " + token} if token else {}
        req = urllib.request.Request(suite.url + path, headers=headers)
        self.resp = urllib.request.urlopen(req, timeout=60)
        self.events = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        name = None
        try:
            for raw in self.resp:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    self.events.append((name, json.loads(line[6:])))
        except Exception:
            pass

    def wait_for(self, pred, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for e in list(self.events):
                if pred(e):
                    return e
            time.sleep(0.05)
        raise AssertionError(f"no such event in {self.events}")

    def close(self):
        # Shut the socket: the reader thread and the server's stream end.
        try:
            self.resp.fp.raw._sock.shutdown(socket.SHUT_RDWR)
        except (AttributeError, OSError):
            pass


# What a chat load posts, in turn, each made unique by a suffix.
MESSAGES = ["where is my order?", "I want a refund for my blender",
            "my card was charged twice", "the app crashes on login",
            "hello", "how long does delivery to Germany take?"]


class Load:
    """Guest chats from a few threads; every answer is kept for checking.
    rate: at most that many chats a second in all (None: as fast as the
    threads go), spread evenly over the threads."""

    def __init__(self, suite, threads=4, messages=MESSAGES, timeout=30,
                 rate=None):
        self.suite = suite
        self.messages = messages
        self.timeout = timeout
        self.period = threads / rate if rate else 0.0
        self.stop = threading.Event()
        self.ok, self.bad, self.refused = [], collections.Counter(), 0
        self.ok_at, self.bad_at = [], []
        self.slowest = 0.0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,))
                        for i in range(threads)]

    def run(self, k):
        i = k
        # thread k starts k periods / threads in, then one chat a period
        due = time.monotonic() + self.period * k / len(self.threads)
        while not self.stop.is_set():
            if self.period:
                if self.stop.wait(max(0.0, due - time.monotonic())):
                    break
                due = max(due + self.period, time.monotonic() - self.period)
            text = f"{self.messages[i % len(self.messages)]} #{k}-{i}"
            i += len(self.threads)
            t0 = time.monotonic()
            try:
                r = self.suite.request("POST", "/api/chat", {"message": text},
                                       timeout=self.timeout)
            except (urllib.error.URLError, ConnectionError, OSError):
                with self.lock:
                    self.refused += 1
                time.sleep(0.05)
                continue
            with self.lock:
                self.slowest = max(self.slowest, time.monotonic() - t0)
                if r.status == 200:
                    self.ok.append((text, r.json()))
                    self.ok_at.append(time.monotonic())
                else:
                    self.bad[(r.status, r.body[:80])] += 1
                    self.bad_at.append((time.monotonic(), r))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()


@pytest.fixture(scope="session")
def store_uri():
    """A private PostgreSQL + FerretDB for this test session."""
    if os.environ.get("TEST_MONGO_URI"):
        yield os.environ["TEST_MONGO_URI"]
        return
    d = tempfile.mkdtemp(prefix="suite-store-")
    try:
        out = subprocess.run([os.path.join(TOP, "scripts", "devstore.sh"),
                              "start", d], check=True, capture_output=True,
                             text=True, timeout=120).stdout
        uri = [l for l in out.splitlines() if l.startswith("MONGO_URI=")][-1]
        yield uri.split("=", 1)[1]
    finally:
        subprocess.run([os.path.join(TOP, "scripts", "devstore.sh"),
                        "destroy", d], capture_output=True, timeout=60)
        shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def running_suite(store_uri, extra_env=None):
    """Start the whole suite in a folder of its own; stop and remove it."""
    root = tempfile.mkdtemp(prefix="suite-")
    s = Suite(root, store_uri, extra_env)
    try:
        s.start_all()
        yield s
    finally:
        s.stop_all()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def suite(store_uri):
    """The whole suite, shared by the tests of one module."""
    with running_suite(store_uri) as s:
        yield s


@pytest.fixture
def fresh_suite(store_uri):
    """A suite of its own, for tests that kill or restart services."""
    with running_suite(store_uri) as s:
        yield s


class FakeLLM:
    """tests/fake_llm/server.py on a free port, with its control calls."""

    def __init__(self):
        self.proc = subprocess.Popen(
            ["python3", os.path.join(TOP, "tests", "fake_llm", "server.py"),
             "--port", "0"], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("PORT "), line
        self.url = f"http://127.0.0.1:{line.split()[1]}"

    def control(self, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data,
                                     method="POST" if data else "GET")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")

    def requests(self):
        return self.control("/_requests")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture(scope="module")
def fake_llm():
    f = FakeLLM()
    try:
        yield f
    finally:
        f.stop()


@pytest.fixture(scope="module")
def llm_suite(store_uri, fake_llm):
    """The suite with both agents in LLM mode against the fake server."""
    with running_suite(store_uri, {"LLM_BASE_URL": fake_llm.url + "/v1",
                                   "LLM_API_KEY": "sk-test-key",
                                   "LLM_MODEL": "fake-model",
                                   "LLM_TIMEOUT_MS": "3000"}) as s:
        yield s
