/*
 * api_auth.c - /api/auth/{signup,login,me} and /api/admin/users.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "gateway.h"
#include "throttle.h"
#include "log.h"
#include "sessions.h"
#include "users.h"

/* Reply with a token for u: {access_token, token_type, expires_in, user}. */
static void
token_reply(struct req *r, int status, const struct user *u)
{
    struct principal p;
    char token[1024];
    int64_t exp;

    memset(&p, 0, sizeof(p));
    snprintf(p.user_id, sizeof(p.user_id), "%s", u->id);
    snprintf(p.username, sizeof(p.username), "%s", u->username);
    p.role = u->role;
    p.token_version = u->token_version;
    if (auth_issue(r->gw->auth, &p, token, sizeof(token), &exp) != 0) {
        http_error(r, 500, "internal", "cannot issue a token");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "access_token", token);
    cJSON_AddStringToObject(o, "token_type", "bearer");
    cJSON_AddNumberToObject(o, "expires_in", r->gw->cfg->jwt_ttl_s);
    cJSON_AddItemToObject(o, "user", users_json(u));
    http_json(r, status, o);
}

static void
store_down(struct req *r)
{
    http_error_hdr(r, 503, "store_unavailable",
        "the database is unavailable, try again shortly", "Retry-After: 2\r\n");
}

static void
busy(struct req *r)
{
    http_error_hdr(r, 503, "busy", "too many sign-ins at once, try again",
        "Retry-After: 1\r\n");
}

/*
 * Read {username, password[, role]} and validate them. Returns 0 with the
 * canonical name in name, or -1 with the error written.
 */
static int
read_credentials(struct req *r, cJSON **doc, char *name, const char **password,
    const char **role, bool check_password)
{
    const char *uname, *why;

    *doc = http_read_json(r, r->gw->cfg->max_body);
    if (*doc == NULL)
        return -1;
    if (http_field_string(r, *doc, "username", true, &uname) != 0
        || http_field_string(r, *doc, "password", true, password) != 0
        || http_field_string(r, *doc, "role", false, role) != 0)
        goto fail;
    if (users_check_name(uname, name, &why) != 0
        || (check_password && users_check_password(*password, &why) != 0)) {
        http_error(r, 400, "invalid_request", why);
        goto fail;
    }
    return 0;
fail:
    cJSON_Delete(*doc);
    *doc = NULL;
    return -1;
}

static void
create_user(struct req *r, const char *name, const char *password,
    enum role role, bool with_token)
{
    char hash[AUTH_HASH_MAX];
    struct user u;
    int rv;

    /* Cheap check first, so a taken name costs no hash. */
    rv = users_find_name(r->gw->store, name, &u);
    if (rv == 0) {
        http_error(r, 409, "username_taken", "this username is taken");
        return;
    }
    if (rv != STORE_NOTFOUND) {
        store_down(r);
        return;
    }
    rv = auth_hash(r->gw->auth, password, hash);
    if (rv == AUTH_BUSY) {
        busy(r);
        return;
    }
    if (rv != 0) {
        http_error(r, 500, "internal", "cannot hash the password");
        return;
    }
    rv = users_create(r->gw->store, name, hash, role, &u);
    if (rv == STORE_DUP) {
        http_error(r, 409, "username_taken", "this username is taken");
        return;
    }
    if (rv != 0) {
        store_down(r);
        return;
    }
    log_info("user created: %s (%s)", u.username, auth_role_name(role));
    if (with_token)
        token_reply(r, 201, &u);
    else
        http_json(r, 201, users_json(&u));
}

void
api_signup(struct req *r)
{
    char name[USERNAME_MAX + 1];
    const char *password, *role;
    cJSON *doc;

    if (read_credentials(r, &doc, name, &password, &role, true) != 0)
        return;
    if (limits_check(r, LIMIT_LOGIN) != 0) {
        cJSON_Delete(doc);
        return;
    }
    /* Public signup makes customers only; agents and admins come from an admin.
     */
    if (role != NULL && strcmp(role, "user") != 0) {
        http_error(r, 403, "forbidden",
            "signup creates customer accounts; an admin creates "
            "agents and admins");
    } else {
        create_user(r, name, password, ROLE_USER, true);
    }
    cJSON_Delete(doc);
}

void
api_login(struct req *r)
{
    char name[USERNAME_MAX + 1];
    const char *password, *role;
    struct user u;
    cJSON *doc;
    int rv;

    if (read_credentials(r, &doc, name, &password, &role, false) != 0) {
        return;
    }
    if (limits_check(r, LIMIT_LOGIN) != 0 || limits_login_begin(r, name) != 0)
        goto out;
    rv = users_find_name(r->gw->store, name, &u);
    if (rv != 0 && rv != STORE_NOTFOUND) {
        store_down(r);
        goto out;
    }
    /* An unknown name costs a hash too, so timing tells nothing. */
    rv = auth_verify(r->gw->auth, rv == 0 ? u.hash : NULL, password);
    if (rv == AUTH_BUSY) {
        busy(r);
        goto out;
    }
    limits_login_end(r, name, rv == 0);
    if (rv != 0) {
        http_error(r, 401, "invalid_credentials", "wrong username or password");
        goto out;
    }
    if (u.disabled) {
        http_error(r, 403, "account_disabled", "this account is disabled");
        goto out;
    }
    token_reply(r, 200, &u);
out:
    cJSON_Delete(doc);
}

void
api_me(struct req *r)
{
    struct user u;
    int rv = users_find_id(r->gw->store, r->who.user_id, &u);

    if (rv == STORE_NOTFOUND || (rv == 0 && u.disabled)) {
        http_error(r, 401, "invalid_token", "the account no longer exists");
        return;
    }
    if (rv != 0) {
        store_down(r);
        return;
    }
    http_json(r, 200, users_json(&u));
}

void
api_admin_users_create(struct req *r)
{
    char name[USERNAME_MAX + 1];
    const char *password, *role_s;
    cJSON *doc;

    if (read_credentials(r, &doc, name, &password, &role_s, true) != 0)
        return;
    enum role role = auth_role_parse(role_s);
    if (role_s == NULL || role == ROLE_NONE)
        http_error(r, 400, "invalid_request",
            "field 'role' must be user, agent or admin");
    else
        create_user(r, name, password, role, false);
    cJSON_Delete(doc);
}

void
api_admin_users_list(struct req *r)
{
    char role_s[16];
    enum role only = ROLE_NONE;
    long limit, offset;
    cJSON *arr;
    int64_t total;

    if (http_query_long(r, "limit", 1, 200, 50, &limit) != 0
        || http_query_long(r, "offset", 0, 1000000, 0, &offset) != 0)
        return;
    if (http_query(r, "role", role_s, sizeof(role_s))
        && (only = auth_role_parse(role_s)) == ROLE_NONE) {
        http_error(r, 400, "invalid_request",
            "query 'role' must be user, agent or admin");
        return;
    }
    if (users_list(r->gw->store, only, (int)limit, (int)offset, &arr, &total)
        != 0) {
        store_down(r);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "users", arr);
    cJSON_AddNumberToObject(o, "total", (double)total);
    cJSON_AddNumberToObject(o, "limit", (double)limit);
    cJSON_AddNumberToObject(o, "offset", (double)offset);
    http_json(r, 200, o);
}

void
api_password_change(struct req *r)
{
    const char *cur, *next, *why;
    char hash[AUTH_HASH_MAX];
    struct user u;
    long tv;
    int rv;

    cJSON *doc = http_read_json(r, r->gw->cfg->max_body);
    if (doc == NULL)
        return;
    if (http_field_string(r, doc, "current_password", true, &cur) != 0
        || http_field_string(r, doc, "new_password", true, &next) != 0)
        goto out;
    if (users_check_password(next, &why) != 0) {
        http_error(r, 400, "invalid_request", why);
        goto out;
    }
    if (limits_check(r, LIMIT_LOGIN) != 0
        || limits_login_begin(r, r->who.username) != 0)
        goto out;
    rv = users_find_id(r->gw->store, r->who.user_id, &u);
    if (rv == STORE_NOTFOUND || (rv == 0 && u.disabled)) {
        http_error(r, 401, "invalid_token", "the account no longer exists");
        goto out;
    }
    if (rv != 0) {
        store_down(r);
        goto out;
    }
    rv = auth_verify(r->gw->auth, u.hash, cur);
    if (rv == AUTH_BUSY) {
        busy(r);
        goto out;
    }
    limits_login_end(r, r->who.username, rv == 0);
    if (rv != 0) {
        http_error(
            r, 403, "invalid_credentials", "the current password is not right");
        goto out;
    }
    rv = auth_hash(r->gw->auth, next, hash);
    if (rv == AUTH_BUSY) {
        busy(r);
        goto out;
    }
    if (rv != 0) {
        http_error(r, 500, "internal", "cannot hash the password");
        goto out;
    }
    rv = users_set_password(r->gw->store, u.id, hash, &tv);
    if (rv != 0) {
        store_down(r);
        goto out;
    }
    sessions_forget(r->gw->sessions, u.id);
    u.token_version = tv;
    log_info("password changed: %s (older tokens revoked)", u.username);
    token_reply(r, 200, &u);
out:
    cJSON_Delete(doc);
}

/* POST /api/admin/users/{id}/disable and /enable. */
static void
set_disabled(struct req *r, bool disabled)
{
    const char *id = r->params[0];
    struct user u;
    int rv;

    if (strcmp(id, r->who.user_id) == 0) {
        http_error(r, 409, "conflict",
            "an admin cannot disable or enable their own account");
        return;
    }
    rv = users_find_id(r->gw->store, id, &u);
    if (rv == STORE_NOTFOUND) {
        http_error(r, 404, "not_found", "no such user");
        return;
    }
    if (rv != 0 || users_set_disabled(r->gw->store, u.id, disabled) != 0) {
        store_down(r);
        return;
    }
    sessions_forget(r->gw->sessions, u.id);
    audit_record(r->gw->store, r->who.username,
        disabled ? "user_disable" : "user_enable", u.id,
        u.disabled ? "disabled" : "enabled", disabled ? "disabled" : "enabled");
    log_info("user %s %s by %s (tokens revoked)", u.username,
        disabled ? "disabled" : "enabled", r->who.username);
    u.disabled = disabled;
    http_json(r, 200, users_json(&u));
}

void
api_admin_user_disable(struct req *r)
{
    set_disabled(r, true);
}

void
api_admin_user_enable(struct req *r)
{
    set_disabled(r, false);
}
