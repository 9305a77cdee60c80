#include "throttle.h"

#include <stdio.h>

#include "clock.h"
#include "gateway.h"
#include "ratelimit.h"

static void
too_many(struct req *r, const char *limit, int wait, const char *detail)
{
    char hdr[48];

    snprintf(hdr, sizeof hdr, "Retry-After: %d\r\n", wait > 0 ? wait : 1);
    bus_event(r->gw->events, "rate_limited", 1, "limit", limit, NULL);
    http_error_hdr(r, 429, "rate_limited", detail, hdr);
}

static int
take(struct req *r, const char *prefix, const char *id, int per_min,
    const char *detail)
{
    char key[RATELIMIT_KEY_MAX];

    snprintf(key, sizeof key, "%s:%s", prefix, id);
    int wait = ratelimit_take(r->gw->limits, key, per_min, clock_mono_ms());
    if (wait == 0)
        return 0;
    too_many(r, prefix, wait, detail);
    return -1;
}

int
limits_check(struct req *r, enum limit_kind kind)
{
    const struct config *cfg = r->gw->cfg;

    if (r->gw->limits == NULL)
        return 0;
    switch (kind) {
    case LIMIT_LOGIN:
        return take(r, "login_ip", r->client, cfg->rate_login_ip,
            "too many sign-in attempts from your address, try again later");
    case LIMIT_CHAT:
        if (take(r, "chat_ip", r->client, cfg->rate_chat_ip,
                "too many messages from your address, slow down")
            != 0)
            return -1;
        if (r->who.user_id[0] != '\0'
            && take(r, "chat_user", r->who.user_id, cfg->rate_chat_user,
                   "too many messages from your account, slow down")
                != 0)
            return -1;
        return 0;
    default:
        return 0;
    }
}

static void
fail_key(const struct req *r, const char *username, char *key, size_t n)
{
    snprintf(key, n, "login_fail:%s|%s", username, r->client);
}

int
limits_login_begin(struct req *r, const char *username)
{
    const struct config *cfg = r->gw->cfg;
    char key[RATELIMIT_KEY_MAX];

    if (r->gw->limits == NULL)
        return 0;
    fail_key(r, username, key, sizeof key);
    int wait = ratelimit_locked(r->gw->limits, key, clock_mono_ms());
    if (wait > 0) {
        too_many(r, "login_locked", wait,
            "too many failed sign-ins for this account from your address, "
            "wait before trying again");
        return -1;
    }
    return take(r, "login_user", username, cfg->rate_login_user,
        "too many sign-in attempts for this account, try again later");
}

void
limits_login_end(struct req *r, const char *username, bool ok)
{
    const struct config *cfg = r->gw->cfg;
    char key[RATELIMIT_KEY_MAX];

    if (r->gw->limits == NULL)
        return;
    fail_key(r, username, key, sizeof key);
    if (ok)
        ratelimit_clear(r->gw->limits, key);
    else
        ratelimit_fail(r->gw->limits, key, cfg->login_fail_max,
            cfg->login_lock_s, clock_mono_ms());
}
