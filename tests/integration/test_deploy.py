"""The files operators deploy with: Dockerfile, docker-compose.yml, deploy/k8s.

There is no Docker engine or cluster here, so nothing is built or started in
a container. What is checked instead: the compose file renders (and refuses
to without its secrets), nothing in it stops `--scale`, the bus addresses of
both sides agree, every variable is a documented one; the manifests pass
yamllint and strict schema validation (kubernetes-validate, schemas bundled)
and fit together (selectors, ports, Secret keys, probes, autoscalers); the
Dockerfile passes hadolint, its runtime stage installs a package for every
shared library the binaries link, its build stage every -dev package; the
container scripts pass shellcheck; and the runtime stage's files and ENV,
laid out in a temporary folder instead of /app, run the real services
through the image's entry point on a tcp:// bus as in containers, where the
containers' health check is tried for each service.
The tools come from scripts/check-deploy.sh (pinned) and scripts/deps.sh.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import DAEMONS, Suite, free_port

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
K8S = os.path.join(TOP, "deploy", "k8s")
COMPOSE = os.path.join(TOP, "docker-compose.yml")
DOCKERFILE = os.path.join(TOP, "Dockerfile")
SERVICES = ["gateway", "intent-agent", "support-agent", "escalation",
            "metrics"]
SCALED = ["intent-agent", "support-agent"]
STORE_USERS = ["gateway", "support-agent", "escalation", "metrics"]
# The gateway listens on these, each daemon dials its own.
GATEWAY_ADDRS = {"INTENT_ADDR": "intent-agent", "SUPPORT_ADDR": "support-agent",
                 "ESCALATION_ADDR": "escalation",
                 "METRICS_ADDR": "metrics", "NOTIFY_ADDR": "escalation"}
REQUIRED = ["JWT_SECRET", "ADMIN_PASSWORD", "MONGO_PASSWORD"]


# ---- tools and helpers ------------------------------------------------------

@pytest.fixture(scope="module")
def tools():
    """The pinned venv of scripts/check-deploy.sh (made once)."""
    out = subprocess.run([os.path.join(TOP, "scripts", "check-deploy.sh"),
                          "--tools"], check=True, capture_output=True,
                         text=True, timeout=600)
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def compose_bin():
    path = shutil.which("docker-compose")
    assert path, "docker-compose is missing: run scripts/deps.sh"
    return path


def load_yaml(tools, path=None, text=None):
    """Every document of a YAML file (the venv's PyYAML, as JSON)."""
    code = ("import json, sys, yaml\n"
            "src = open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin\n"
            "json.dump([d for d in yaml.safe_load_all(src) if d is not None],"
            " sys.stdout)\n")
    args = [os.path.join(tools, "python"), "-c", code] + ([path] if path else [])
    out = subprocess.run(args, input=text, capture_output=True, text=True,
                         check=True, timeout=60)
    return json.loads(out.stdout)


def env_file(tmp_path, **values):
    """.env.example with values filled in (or emptied)."""
    lines = []
    for line in open(os.path.join(TOP, ".env.example")):
        name = line.split("=", 1)[0]
        if name in values:
            line = f"{name}={values.pop(name)}\n"
        lines.append(line)
    lines += [f"{k}={v}\n" for k, v in values.items()]
    path = tmp_path / "env"
    path.write_text("".join(lines))
    return str(path)


FILLED = {"JWT_SECRET": "0123456789abcdef" * 4, "ADMIN_PASSWORD": "admin-pw-1234",
          "MONGO_PASSWORD": "mongo-pw-1234"}


def compose(compose_bin, envfile, *args):
    # Only the env file speaks: nothing from the caller's environment.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/tmp"}
    return subprocess.run([compose_bin, "--env-file", envfile, "-f", COMPOSE,
                           "--project-directory", TOP, *args], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def rendered(tools, compose_bin, tmp_path_factory):
    """`docker-compose config` with the example's values filled in."""
    envfile = env_file(tmp_path_factory.mktemp("compose"), **FILLED)
    r = compose(compose_bin, envfile, "config")
    assert r.returncode == 0, r.stderr
    return load_yaml(tools, text=r.stdout)[0]


def env_of(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    return env


def documented_vars():
    doc = open(os.path.join(TOP, "docs", "configuration.md")).read()
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", doc, re.M))


def tcp_port(url):
    m = re.fullmatch(r"tcp://([^:/]+):(\d+)", url or "")
    assert m, f"not a tcp:// URL: {url!r}"
    return m.group(1), int(m.group(2))


@pytest.fixture(scope="module")
def k8s(tools):
    """Every document of deploy/k8s/*.yaml, by (kind, name)."""
    docs = {}
    for name in sorted(os.listdir(K8S)):
        if name.endswith(".yaml"):
            for d in load_yaml(tools, os.path.join(K8S, name)):
                key = (d["kind"], d["metadata"]["name"]) \
                    if "metadata" in d else (d["kind"], name)
                assert key not in docs, f"{key} twice"
                docs[key] = d
    return docs


WORKLOADS = ("Deployment", "StatefulSet")


def workloads(k8s):
    """{name: manifest} of every Deployment and StatefulSet."""
    return {n: d for (k, n), d in k8s.items() if k in WORKLOADS}


def container(deploy):
    cs = deploy["spec"]["template"]["spec"]["containers"]
    assert len(cs) == 1
    return cs[0]


def dockerfile_stages():
    """{stage name: text} of the Dockerfile, continuation lines joined."""
    text = open(DOCKERFILE).read().replace("\\\n", " ")
    stages, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line, re.I)
        if m:
            cur = m.group(1)
            stages[cur] = ""
        elif cur:
            stages[cur] += line + "\n"
    return stages


def apt_packages(stage_text):
    pkgs = set()
    for m in re.finditer(r"apt-get install ([^&;]*)", stage_text):
        pkgs |= {w for w in m.group(1).split() if not w.startswith("-")}
    return pkgs


# ---- docker-compose.yml -----------------------------------------------------

def test_compose_config_validates(compose_bin, tmp_path):
    r = compose(compose_bin, env_file(tmp_path, **FILLED), "config", "-q")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("name", REQUIRED)
def test_compose_refuses_to_run_without_secret(compose_bin, tmp_path, name):
    r = compose(compose_bin, env_file(tmp_path, **{**FILLED, name: ""}),
                "config", "-q")
    assert r.returncode != 0
    assert name in r.stderr, r.stderr


def test_env_example_holds_no_secret():
    values = dict(line.rstrip("\n").split("=", 1)
                  for line in open(os.path.join(TOP, ".env.example"))
                  if "=" in line and not line.startswith("#"))
    assert set(REQUIRED) <= set(values)
    for name in REQUIRED:
        assert values[name] == "", f"{name} has a value in .env.example"


def test_compose_nothing_stops_scaling(rendered):
    """`up --scale intent-agent=3 --scale support-agent=3` needs no fixed
    container name, host port, host name or instance name on the agents."""
    published = []
    for name, svc in rendered["services"].items():
        assert "container_name" not in svc, name
        for p in svc.get("ports") or []:
            published.append(str(p.get("published") if isinstance(p, dict)
                                 else p.split(":")[-2]))
    assert len(published) == len(set(published)), published
    for name in SCALED:
        svc = rendered["services"][name]
        for key in ("ports", "hostname", "container_name"):
            assert key not in svc, f"{name} has {key}"
        nets = svc.get("networks")
        if isinstance(nets, dict):
            for net in nets.values():
                assert not set(net or {}) & {"ipv4_address", "ipv6_address"}
        assert "INSTANCE" not in env_of(svc), name
    gw = rendered["services"]["gateway"]
    assert [p["target"] for p in gw["ports"]] == [8080]


def test_compose_services(rendered):
    services = rendered["services"]
    assert set(services) == set(SERVICES) | {"mongo"}
    images = {services[s]["image"] for s in SERVICES}
    assert len(images) == 1, images
    for name in SERVICES:
        svc = services[name]
        assert svc.get("build"), name
        assert svc["command"] == [name], name
        assert svc["restart"] == "unless-stopped", name
        assert svc["healthcheck"]["test"] == [
            "CMD", "/app/sbin/healthcheck", name], name
        deps = svc.get("depends_on") or {}
        assert all("condition" in d for d in deps.values()), name
        if name in STORE_USERS:
            assert deps["mongo"]["condition"] == "service_healthy", name
            assert "MONGO_URI" in env_of(svc), name
    mongo = services["mongo"]
    assert mongo["image"] == "mongo:7"
    assert mongo["restart"] == "unless-stopped"
    assert "mongosh" in mongo["healthcheck"]["test"]
    assert "ping" in " ".join(mongo["healthcheck"]["test"])
    vols = [v if isinstance(v, str) else f"{v['source']}:{v['target']}"
            for v in mongo["volumes"]]
    assert any(v.split(":")[1] == "/data/db" and v.split(":")[0] in
               rendered.get("volumes", {}) for v in vols), vols


def test_compose_bus_addresses_agree(rendered):
    services = rendered["services"]
    gw = env_of(services["gateway"])
    assert gw["LISTEN_ADDR"] == "0.0.0.0" and gw["PORT"] == "8080"
    for var, daemon in GATEWAY_ADDRS.items():
        host, port = tcp_port(gw[var])
        assert host == "0.0.0.0", (var, gw[var])
        assert env_of(services[daemon])[var] == f"tcp://gateway:{port}", var
    host, events = tcp_port(env_of(services["metrics"])["EVENTS_ADDR"])
    assert host == "0.0.0.0"
    for name in SERVICES:
        if name != "metrics":
            assert env_of(services[name])["EVENTS_ADDR"] == \
                f"tcp://metrics:{events}", name


# ---- every variable is a documented one --------------------------------------

def test_every_variable_is_documented(rendered, k8s):
    used = {}
    for name in SERVICES:
        for var in env_of(rendered["services"][name]):
            used.setdefault(var, "docker-compose.yml")
    for key, doc in k8s.items():
        if key[0] == "ConfigMap":
            for var in doc["data"]:
                used.setdefault(var, f"configmap {key[1]}")
        if key[0] == "Secret":
            for var in doc.get("stringData", {}):
                used.setdefault(var, f"secret {key[1]}")
        if key[0] in WORKLOADS:
            for e in container(doc).get("env", []):
                used.setdefault(e["name"], f"deployment {key[1]}")
    for m in re.finditer(r"^\s*([A-Z][A-Z0-9_]*)=", open(DOCKERFILE).read(),
                         re.M):
        if m.group(1) not in ("PATH", "DEBIAN_FRONTEND",
                              "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"):
            used.setdefault(m.group(1), "Dockerfile")
    missing = {v: w for v, w in used.items() if v not in documented_vars()}
    assert not missing, f"not in docs/configuration.md: {missing}"


# ---- deploy/k8s --------------------------------------------------------------

def test_yamllint(tools):
    conf = ("{extends: default, rules: {line-length: {max: 160}, "
            "document-start: disable, truthy: {check-keys: false}, "
            "comments: {min-spaces-from-content: 1}}}")
    files = [COMPOSE] + [os.path.join(K8S, f) for f in sorted(os.listdir(K8S))
                         if f.endswith(".yaml")]
    r = subprocess.run([os.path.join(tools, "yamllint"), "-s", "-d", conf,
                        *files], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("version", ["1.28.0", "1.37.0"])
def test_k8s_schema(tools, version):
    files = [os.path.join(K8S, f) for f in sorted(os.listdir(K8S))
             if f.endswith(".yaml") and f != "kustomization.yaml"]
    r = subprocess.run([os.path.join(tools, "kubernetes-validate"), "--strict",
                        "--quiet", "-k", version, *files],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ERROR" not in r.stdout + r.stderr, r.stdout + r.stderr


def test_k8s_kustomization_lists_everything_but_the_secret(tools):
    kust = load_yaml(tools, os.path.join(K8S, "kustomization.yaml"))[0]
    res = kust["resources"]
    manifests = {f for f in os.listdir(K8S) if f.endswith(".yaml")} - {
        "kustomization.yaml", "secret.example.yaml"}
    assert set(res) == manifests
    assert "secret.example.yaml" not in res


def test_k8s_deployments(k8s):
    deploys = workloads(k8s)
    assert set(deploys) == set(SERVICES)
    assert {n for (k, n) in k8s if k == "StatefulSet"} == {"gateway"}
    for name, d in deploys.items():
        spec = d["spec"]["template"]["spec"]
        c = container(d)
        assert c["args"] == [name], name
        assert c["image"].split(":")[0] == "support-suite", name
        assert c.get("readinessProbe") and c.get("livenessProbe"), name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert c["securityContext"]["readOnlyRootFilesystem"] is True, name
        mounts = {m["mountPath"] for m in c["volumeMounts"]}
        assert "/var/lib/support" in mounts, name
        assert c["resources"]["requests"]["cpu"], name
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert d["spec"]["selector"]["matchLabels"].items() <= labels.items()
        if name != "gateway":
            # Ready: dialed into every gateway; alive: into any of them.
            check = ["/app/sbin/healthcheck", name]
            assert c["readinessProbe"]["exec"]["command"] == check, name
            for probe in ("startupProbe", "livenessProbe"):
                assert c[probe]["exec"]["command"] == check + ["--live"], name
    assert deploys["metrics"]["spec"]["replicas"] == 1
    assert deploys["metrics"]["spec"]["strategy"]["type"] == "Recreate"
    gw = deploys["gateway"]["spec"]
    assert gw["replicas"] >= 2 and gw["serviceName"] == "gateway-bus"
    assert gw["updateStrategy"]["type"] == "RollingUpdate"
    assert container(deploys["gateway"])["readinessProbe"]["httpGet"][
        "port"] == "http"


def test_k8s_autoscalers(k8s):
    hpas = {n: d for (k, n), d in k8s.items()
            if k == "HorizontalPodAutoscaler"}
    assert set(hpas) == set(SCALED)
    for name, h in hpas.items():
        ref = h["spec"]["scaleTargetRef"]
        assert (ref["kind"], ref["name"]) == ("Deployment", name)
        assert ("Deployment", name) in k8s
        assert h["spec"]["minReplicas"] >= 1
        assert h["spec"]["maxReplicas"] > h["spec"]["minReplicas"]


def test_k8s_disruption_budgets(k8s):
    """What runs two or more at once loses at most one pod to a drain."""
    pdbs = {n: d for (k, n), d in k8s.items() if k == "PodDisruptionBudget"}
    assert set(pdbs) == set(SCALED) | {"gateway"}
    for name, pdb in pdbs.items():
        assert pdb["spec"]["maxUnavailable"] == 1, name
        labels = workloads(k8s)[name]["spec"]["template"]["metadata"][
            "labels"]
        assert pdb["spec"]["selector"]["matchLabels"].items() \
            <= labels.items(), name


def test_k8s_references_resolve(k8s):
    secret = k8s[("Secret", "support-secrets")]
    deploys = workloads(k8s)
    for name, d in deploys.items():
        c = container(d)
        for ref in c.get("envFrom", []):
            assert ("ConfigMap", ref["configMapRef"]["name"]) in k8s, name
        for e in c.get("env", []):
            sk = e.get("valueFrom", {}).get("secretKeyRef")
            if sk:
                assert sk["name"] == "support-secrets", name
                assert sk["key"] in secret["stringData"], (name, sk["key"])
        if name in STORE_USERS:
            assert "MONGO_URI" in {e["name"] for e in c["env"]}, name
    for (kind, name), svc in k8s.items():
        if kind != "Service":
            continue
        sel = svc["spec"]["selector"]
        targets = [d for d in deploys.values()
                   if sel.items() <= d["spec"]["template"]["metadata"]
                   ["labels"].items()]
        assert len(targets) == 1, name
        ports = {p["name"]: p["containerPort"]
                 for p in container(targets[0]).get("ports", [])}
        for p in svc["spec"]["ports"]:
            assert p["targetPort"] in ports, (name, p)
            assert ports[p["targetPort"]] == p["port"], (name, p)


def test_k8s_bus_addresses_agree(k8s):
    """Each daemon dials every gateway replica by its name on the headless
    Service; users reach HTTP through the other Service."""
    cm = k8s[("ConfigMap", "support-config")]["data"]
    sts = k8s[("StatefulSet", "gateway")]
    gw = container(sts)
    gw_env = {e["name"]: e.get("value") for e in gw["env"]}
    gw_ports = {p["containerPort"] for p in gw["ports"]}
    bus = k8s[("Service", "gateway-bus")]["spec"]
    assert bus["clusterIP"] == "None" and bus["publishNotReadyAddresses"]
    assert sts["spec"]["serviceName"] == "gateway-bus"
    bus_ports = {p["port"] for p in bus["ports"]}
    for var in GATEWAY_ADDRS:
        host, port = tcp_port(gw_env[var])
        assert host == "0.0.0.0", var
        assert cm[var].split(",") == [
            f"tcp://gateway-{i}.gateway-bus:{port}"
            for i in range(sts["spec"]["replicas"])], var
        assert port in gw_ports and port in bus_ports, var
    assert bus_ports == gw_ports - {8080}
    assert [p["port"] for p in k8s[("Service", "gateway")]["spec"]
            ["ports"]] == [8080]
    m = container(k8s[("Deployment", "metrics")])
    host, events = tcp_port({e["name"]: e.get("value")
                             for e in m["env"]}["EVENTS_ADDR"])
    assert host == "0.0.0.0"
    assert cm["EVENTS_ADDR"] == f"tcp://metrics:{events}"
    assert [p["port"] for p in k8s[("Service", "metrics")]["spec"]["ports"]] \
        == [events]


def test_k8s_bus_ports_only_for_the_suite(k8s):
    """The bus has no authentication: the network policies open the bus
    ports to the suite's pods only, HTTP to everyone."""
    suite = {"app.kubernetes.io/name": "support-suite"}
    for name in ("gateway", "metrics"):
        pol = k8s[("NetworkPolicy", name)]["spec"]
        labels = workloads(k8s)[name]["spec"]["template"]["metadata"][
            "labels"]
        assert pol["podSelector"]["matchLabels"].items() <= labels.items()
        bus = {p["containerPort"] for p in
               container(workloads(k8s)[name])["ports"]
               if p["name"] != "http"}
        restricted, open_ = set(), set()
        for rule in pol["ingress"]:
            ports = {p["port"] for p in rule["ports"]}
            if rule.get("from"):
                assert [f["podSelector"]["matchLabels"]
                        for f in rule["from"]] == [suite]
                restricted |= ports
            else:
                open_ |= ports
        assert restricted == bus, name
        assert open_ == ({8080} if name == "gateway" else set()), name
    daemons = k8s[("NetworkPolicy", "daemons")]["spec"]
    assert "ingress" not in daemons and daemons["policyTypes"] == ["Ingress"]


def test_k8s_secret_template_is_unusable(k8s):
    """The template's placeholders are refused: the gateway stops on a
    JWT_SECRET under 32 bytes and creates no admin with a short password."""
    data = k8s[("Secret", "support-secrets")]["stringData"]
    assert len(data["JWT_SECRET"]) < 32
    assert len(data["ADMIN_PASSWORD"]) < 8


# ---- Dockerfile and the container scripts ------------------------------------

def test_hadolint(tools):
    r = subprocess.run([os.path.join(tools, "hadolint"), DOCKERFILE],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_shellcheck(tools):
    files = [os.path.join(TOP, "deploy", "docker", f)
             for f in ("entrypoint.sh", "healthcheck.sh")] + [
        os.path.join(TOP, "scripts", "check-deploy.sh")]
    r = subprocess.run([os.path.join(tools, "shellcheck"), *files],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def debian_package(lib):
    """The Debian package holding a shared library, by its soname."""
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True,
                         check=True).stdout
    paths = re.findall(rf"^\s*{re.escape(lib)} \(.*?x86-64.*?\) => (\S+)",
                       out, re.M) or re.findall(
        rf"^\s*{re.escape(lib)} .*=> (\S+)", out, re.M)
    assert paths, f"{lib} not found by ldconfig"
    real = os.path.realpath(paths[0])
    for cand in (real, real.replace("/usr/lib/", "/lib/", 1),
                 paths[0], paths[0].replace("/usr/lib/", "/lib/", 1)):
        r = subprocess.run(["dpkg", "-S", cand], capture_output=True,
                           text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0].strip()
    raise AssertionError(f"no Debian package holds {lib} ({real})")


def test_runtime_stage_has_every_shared_library():
    # The binaries of the plain build (a sanitizer build adds its runtimes).
    bin_dir = os.path.join(TOP, "build", "bin")
    if not os.path.exists(os.path.join(bin_dir, "gateway")):
        bin_dir = os.path.join(TOP, os.environ.get("BIN_DIR", "build/bin"))
    needed = set()
    for svc in SERVICES:
        out = subprocess.run(["readelf", "-d", os.path.join(bin_dir, svc)],
                             capture_output=True, text=True, check=True).stdout
        needed |= set(re.findall(r"\(NEEDED\).*\[(.+)\]", out))
    needed = {n for n in needed if not re.match(r"lib(a|ub|l|t)san", n)}
    runtime = apt_packages(dockerfile_stages()["runtime"])
    in_base = {"libc6", "libgcc-s1", "zlib1g", "libstdc++6"}
    missing = {lib: pkg for lib in sorted(needed)
               for pkg in [debian_package(lib)]
               if pkg not in runtime | in_base}
    assert not missing, f"runtime stage lacks {missing}"


def test_build_stage_has_every_build_package():
    deps = open(os.path.join(TOP, "scripts", "deps.sh")).read()
    listed = set(re.search(r'PKGS="([^"]*)"', deps).group(1).split())
    # test-only: unit tests (cmocka) and the fuzzers (clang runtime)
    want = {p for p in listed if p.endswith("-dev")
            and p not in ("libcmocka-dev", "libclang-rt-14-dev")}
    want |= {"build-essential", "pkg-config", "protobuf-c-compiler",
             "python3", "python3-pip"}
    have = apt_packages(dockerfile_stages()["build"])
    assert want <= have, f"build stage lacks {sorted(want - have)}"


def test_dockerfile_copies_what_exists_and_env_points_into_it():
    text = open(DOCKERFILE).read().replace("\\\n", " ")
    dests = []
    for m in re.finditer(r"^COPY\s+(.*)$", text, re.M):
        words = m.group(1).split()
        from_stage = any(w.startswith("--from=") for w in words)
        args = [w for w in words if not w.startswith("--")]
        *srcs, dest = args
        dests.append(dest)
        if from_stage:
            continue
        for src in srcs:
            if src == ".":
                continue
            assert os.path.exists(os.path.join(TOP, src)), src
            assert not src.startswith(("build/", "var/", ".env")), src
    for var in ("STATIC_DIR", "DOCS_DIR", "ENCODER_DIR", "INTENT_MODEL",
                "KNOWLEDGE_FILE"):
        val = re.search(rf"\b{var}=(\S+)", text).group(1)
        assert any(val == d.rstrip("/") or val.startswith(d) for d in dests), \
            (var, val)
    # The files the gateway serves from DOCS_DIR.
    for f in ("openapi.json", "api.html", "api.js"):
        assert f"docs/{f}" in text, f


def test_dockerfile_model_layer_builds_from_its_own_files(tmp_path):
    """The weights' layer sees only Makefile, mk/ and the fetch script:
    make must find its rule with nothing else there."""
    shutil.copy(os.path.join(TOP, "Makefile"), tmp_path)
    shutil.copytree(os.path.join(TOP, "mk"), tmp_path / "mk")
    (tmp_path / "scripts").mkdir()
    shutil.copy(os.path.join(TOP, "scripts", "fetch-model.sh"),
                tmp_path / "scripts")
    r = subprocess.run(["make", "-n", "build/model/minilm/model.safetensors"],
                       cwd=tmp_path, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert "fetch-model.sh" in r.stdout


def test_ui_stage_has_what_it_builds_from():
    fe = os.path.join(TOP, "frontend")
    if os.path.exists(os.path.join(fe, "package.json")):
        # npm ci needs the lock file.
        assert os.path.exists(os.path.join(fe, "package-lock.json"))
    else:
        assert os.path.exists(os.path.join(fe, "public", "index.html"))


def test_dockerignore_keeps_secrets_and_build_output_out():
    lines = {l.strip() for l in open(os.path.join(TOP, ".dockerignore"))}
    for pattern in (".env", ".env.*", "build/", "var/",
                    "frontend/node_modules/", ".git"):
        assert pattern in lines, pattern
    assert "!.env.example" in lines


# ---- the image's layout and health check, against the real services ---------

def runtime_layout(root):
    """The runtime stage's /app, made under ROOT from the Dockerfile's COPY
    lines (what the build and ui stages make: this build's binaries and
    encoder files, the UI's dist or public folder), and its ENV with /app
    moved there."""
    app = os.path.join(root, "app")
    bin_dir = os.path.join(TOP, os.environ.get("BIN_DIR", "build/bin"))
    ui = os.path.join(TOP, "frontend", "dist")
    if not os.path.exists(os.path.join(ui, "index.html")):
        ui = os.path.join(TOP, "frontend", "public")
    made = {("build", "/src/build/bin/"): bin_dir,
            ("build", "/src/build/model/minilm/"):
                os.path.join(TOP, "build", "model", "minilm"),
            ("ui", "/ui/"): ui}
    stage = dockerfile_stages()["runtime"]
    for m in re.finditer(r"^COPY\s+(.*)$", stage, re.M):
        words = m.group(1).split()
        stage_from = [w[7:] for w in words if w.startswith("--from=")]
        *srcs, dest = [w for w in words if not w.startswith("--")]
        assert dest.startswith("/app/"), dest
        for src in srcs:
            if stage_from:
                key = (stage_from[0], src)
                assert key in made, f"teach this test what {key} holds"
                src_path = made[key]
            else:
                src_path = os.path.join(TOP, src)
            target = os.path.join(app, dest[len("/app/"):])
            if dest.endswith("/") and os.path.isfile(src_path):
                target = os.path.join(target, os.path.basename(src_path))
            os.makedirs(os.path.dirname(target.rstrip("/")), exist_ok=True)
            if os.path.isdir(src_path):
                shutil.copytree(src_path, target, dirs_exist_ok=True)
            else:
                shutil.copy2(src_path, target)
    entry = os.path.join(app, "sbin", "entrypoint")
    text = open(entry).read().replace("/app/", app + "/")
    open(entry, "w").write(text)
    env = {}
    for m in re.finditer(r"^ENV\s+(.*)$", stage, re.M):
        for k, v in re.findall(r"([A-Z_][A-Z0-9_]*)=(\S+)", m.group(1)):
            env[k] = v.replace("/app/", app + "/").replace(
                "$PATH", os.environ.get("PATH", ""))
    return app, env


class ImageSuite(Suite):
    """The suite started as the image starts it: its entry point, from /."""

    def __init__(self, root, store_uri, app, env):
        super().__init__(root, store_uri, env)
        self.app = app

    def start(self, name, key=None, env=None):
        key = key or name
        log = open(os.path.join(self.root, key + ".log"), "ab")
        self.logs[key] = log
        self.procs[key] = subprocess.Popen(
            [os.path.join(self.app, "sbin", "entrypoint"), name], cwd="/",
            env=dict(self.env, **(env or {})), stdout=log,
            stderr=subprocess.STDOUT)
        return self.procs[key]


def healthcheck(app, env, *args):
    return subprocess.run([os.path.join(app, "sbin", "healthcheck"), *args],
                          env=env, capture_output=True, text=True, timeout=30)


def test_image_layout_runs_the_suite_on_a_tcp_bus(store_uri):
    """The runtime stage's files and ENV (under a temporary folder instead
    of /app) run the whole suite through the entry point, from /, on
    tcp:// bus addresses as in containers (loopback here): healthy, the UI
    and the API docs served. The containers' health check passes for each
    service; a stopped daemon fails its own check and the gateway's, while
    the gateway's --live check still passes."""
    root = tempfile.mkdtemp(prefix="suite-image-")
    app, env = runtime_layout(root)
    assert env["VAR_DIR"] == "/var/lib/support"
    ports = {var: free_port() for var in GATEWAY_ADDRS}
    env.update({var: f"tcp://127.0.0.1:{p}" for var, p in ports.items()})
    env["EVENTS_ADDR"] = f"tcp://127.0.0.1:{free_port()}"
    env["LISTEN_ADDR"] = "127.0.0.1"      # not 0.0.0.0 on a test machine
    del env["VAR_DIR"], env["PORT"]      # the suite's own
    s = ImageSuite(root, store_uri, app, env)
    try:
        for d in DAEMONS:
            s.start(d)
        s.start("gateway")
        s.wait_healthy()
        for path in ("/", "/docs", "/openapi.json"):
            assert s.request("GET", path).status == 200, path
        assert b"<html" in s.request("GET", "/").body.lower()
        chat = s.request("POST", "/api/chat", {"message": "hello there"})
        assert chat.status == 200, chat.body
        env = dict(s.env)
        deadline = time.monotonic() + 30
        for svc in SERVICES:
            while True:
                r = healthcheck(app, env, svc)
                if r.returncode == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert r.returncode == 0, (svc, r.stderr)
        # Listing a second gateway, which nobody runs: not ready (it does
        # not serve every gateway), yet alive (it serves one).
        two = dict(env, SUPPORT_ADDR=f"{env['SUPPORT_ADDR']}, "
                   f"tcp://127.0.0.1:{free_port()}")
        r = healthcheck(app, two, "support-agent")
        assert r.returncode == 1 and "every gateway" in r.stderr, r.stderr
        assert healthcheck(app, two, "support-agent", "--live").returncode == 0
        s.stop("intent-agent")
        deadline = time.monotonic() + 15
        while healthcheck(app, env, "intent-agent").returncode == 0:
            assert time.monotonic() < deadline, "still connected"
            time.sleep(0.2)
        r = healthcheck(app, env, "intent-agent")
        assert "not connected" in r.stderr
        s.wait_health("degraded")
        assert healthcheck(app, env, "gateway").returncode == 1
        assert healthcheck(app, env, "gateway", "--live").returncode == 0
        assert healthcheck(app, env, "support-agent").returncode == 0
        s.stop("metrics", signal.SIGTERM)
        assert healthcheck(app, env, "metrics").returncode == 1
    finally:
        s.stop_all()
        shutil.rmtree(root, ignore_errors=True)
