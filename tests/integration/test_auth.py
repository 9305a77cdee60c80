"""Signup, login, me and admin user management through HTTP."""
import base64
import json
import uuid


def name(prefix="user"):
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def test_signup_login_me(suite):
    u = name()
    r = suite.signup(u, "correct-horse-1")
    assert r.status == 201, r.body
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["user"]["username"] == u
    assert body["user"]["role"] == "user"
    assert body["expires_in"] == 86400

    token = suite.login(u, "correct-horse-1")
    me = suite.request("GET", "/api/auth/me", token=token)
    assert me.status == 200
    assert me.json()["username"] == u
    assert me.json()["role"] == "user"
    assert me.json()["id"] == body["user"]["id"]


def test_usernames_are_case_insensitive(suite):
    u = name("Mixed")
    assert suite.signup(u).status == 201
    assert suite.signup(u.upper()).status == 409
    assert suite.login(u.upper(), "correct-horse-1")


def test_wrong_password_and_unknown_user_are_401(suite):
    u = name()
    suite.signup(u, "correct-horse-1")
    for who, pw in ((u, "wrong-password-1"), (name(), "correct-horse-1")):
        r = suite.request("POST", "/api/auth/login",
                          {"username": who, "password": pw})
        assert r.status == 401
        assert r.json()["error"] == "invalid_credentials"


def test_duplicate_username_409_changes_nothing(suite):
    u = name()
    assert suite.signup(u, "first-password-1").status == 201
    r = suite.signup(u, "second-password-2")
    assert r.status == 409
    assert r.json()["error"] == "username_taken"
    # The first password still works, the second does not.
    assert suite.login(u, "first-password-1")
    r = suite.request("POST", "/api/auth/login",
                      {"username": u, "password": "second-password-2"})
    assert r.status == 401


def test_signup_cannot_make_agent_or_admin(suite):
    for role in ("agent", "admin", "superuser"):
        u = name()
        r = suite.request("POST", "/api/auth/signup",
                          {"username": u, "password": "correct-horse-1",
                           "role": role})
        assert r.status == 403, (role, r.body)
        # Nothing was created.
        r = suite.request("POST", "/api/auth/login",
                          {"username": u, "password": "correct-horse-1"})
        assert r.status == 401
    r = suite.request("POST", "/api/auth/signup",
                      {"username": name(), "password": "correct-horse-1",
                       "role": "user"})
    assert r.status == 201


def test_bad_input(suite):
    cases = [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (json.dumps({"username": {"$ne": None},
                     "password": "correct-horse-1"}).encode(),
         "application/json", 400),
        (json.dumps({"username": "abc", "password": {"$gt": ""}}).encode(),
         "application/json", 400),
        (json.dumps({"username": 12345, "password": "x" * 10}).encode(),
         "application/json", 400),
        (json.dumps({"password": "correct-horse-1"}).encode(),
         "application/json", 400),
        (json.dumps({"username": "ab", "password": "correct-horse-1"}).encode(),
         "application/json", 400),
        (json.dumps({"username": "bad name!", "password": "correct-horse-1"}
                    ).encode(), "application/json", 400),
        (json.dumps({"username": name(), "password": "short"}).encode(),
         "application/json", 400),
        (json.dumps({"username": name(), "password": "x" * 129}).encode(),
         "application/json", 400),
        (b"username=a&password=b", "application/x-www-form-urlencoded", 415),
        (b"x" * 70000, "application/json", 413),
    ]
    for raw, ctype, want in cases:
        r = suite.request("POST", "/api/auth/signup", raw=raw,
                          headers={"Content-Type": ctype})
        assert r.status == want, (raw[:60], r.status, r.body)
        body = r.json()
        assert body["error"] and body["detail"]


def test_unknown_route_and_wrong_method(suite):
    r = suite.request("GET", "/api/nope")
    assert r.status == 404 and r.json()["error"] == "not_found"
    r = suite.request("GET", "/api/auth/login")
    assert r.status == 405 and r.json()["error"] == "method_not_allowed"
    r = suite.request("DELETE", "/api/health")
    assert r.status == 405


def forge(payload, alg="HS256", sig=b"x"):
    def b64(d):
        return base64.urlsafe_b64encode(d).rstrip(b"=").decode()
    head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    return f"{head}.{b64(json.dumps(payload).encode())}.{b64(sig)}"


def test_tokens_checked(suite):
    for token in (None, "garbage", forge({"sub": "x", "role": "admin",
                                          "username": "x", "exp": 9999999999}),
                  forge({"sub": "x", "role": "admin", "username": "x",
                         "exp": 9999999999}, alg="none", sig=b"")):
        r = suite.request("GET", "/api/auth/me", token=token)
        assert r.status == 401, token
        assert r.headers.get("WWW-Authenticate") == "Bearer"
    r = suite.request("GET", "/api/auth/me",
                      headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert r.status == 401


def test_tampered_role_is_refused(suite):
    u = name()
    token = suite.signup(u).json()["access_token"]
    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "admin"
    forged = ".".join([head, base64.urlsafe_b64encode(
        json.dumps(claims).encode()).rstrip(b"=").decode(), sig])
    assert suite.request("GET", "/api/admin/users", token=forged).status == 401


def test_admin_creates_agents_and_lists_users(suite):
    admin = suite.admin_token()
    agent = name("agent")
    r = suite.request("POST", "/api/admin/users",
                      {"username": agent, "password": "agent-password-1",
                       "role": "agent"}, token=admin)
    assert r.status == 201, r.body
    assert r.json()["role"] == "agent"
    token = suite.login(agent, "agent-password-1")
    assert suite.request("GET", "/api/auth/me",
                         token=token).json()["role"] == "agent"

    r = suite.request("GET", "/api/admin/users?role=agent&limit=200",
                      token=admin)
    assert r.status == 200
    names = [u["username"] for u in r.json()["users"]]
    assert agent in names
    assert all(u["role"] == "agent" for u in r.json()["users"])
    assert "password_hash" not in r.text if hasattr(r, "text") else True
    assert b"argon2" not in r.body

    # Bad input to the admin endpoints.
    for body in ({"username": name(), "password": "agent-password-1"},
                 {"username": name(), "password": "agent-password-1",
                  "role": "root"},
                 {"username": name(), "password": "agent-password-1",
                  "role": ["admin"]}):
        assert suite.request("POST", "/api/admin/users", body,
                             token=admin).status == 400
    assert suite.request("GET", "/api/admin/users?limit=0",
                         token=admin).status == 400
    assert suite.request("GET", "/api/admin/users?limit=abc",
                         token=admin).status == 400
    assert suite.request("GET", "/api/admin/users?role=x",
                         token=admin).status == 400


def test_roles_enforced_on_admin_endpoints(suite):
    user = suite.signup(name()).json()["access_token"]
    admin = suite.admin_token()
    agent_name = name("agent")
    suite.request("POST", "/api/admin/users",
                  {"username": agent_name, "password": "agent-password-1",
                   "role": "agent"}, token=admin)
    agent = suite.login(agent_name, "agent-password-1")
    for token, want in ((None, 401), (user, 403), (agent, 403), (admin, 200)):
        assert suite.request("GET", "/api/admin/users",
                             token=token).status == want
    r = suite.request("POST", "/api/admin/users",
                      {"username": name(), "password": "agent-password-1",
                       "role": "admin"}, token=user)
    assert r.status == 403


def test_docs_and_openapi_served(suite):
    r = suite.request("GET", "/openapi.json")
    assert r.status == 200
    spec = r.json()
    assert spec["openapi"].startswith("3.")
    for path in ("/api/health", "/api/auth/signup", "/api/auth/login",
                 "/api/auth/me", "/api/admin/users", "/api/chat",
                 "/api/chat/history", "/api/hitl/escalations/pending",
                 "/api/hitl/escalations/{id}/claim"):
        assert path in spec["paths"], path
    r = suite.request("GET", "/docs")
    assert r.status == 200 and b"openapi.json" in r.body
    r = suite.request("GET", "/")
    assert r.status == 200 and b"<html" in r.body.lower()
    # Paths never leave the UI folder (unknown routes get the app's page).
    for path in ("/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                 "/..%2f..%2fetc%2fpasswd", "/assets/../../../etc/passwd",
                 "/%2e%2e%5c%2e%2e%5cetc%5cpasswd"):
        r = suite.request("GET", path)
        assert b"root:" not in r.body, path
        assert r.status in (200, 404), path
    assert suite.request("GET", "/missing.js").status == 404
