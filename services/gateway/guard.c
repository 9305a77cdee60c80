#include "guard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

struct guard {
    int max_chars;
    bool have_model;
    struct injection_model model;
    double threshold;
    char *deny[GUARD_DENY_MAX_PHRASES]; /* normalised, " phrase " */
    int ndeny;
};

/* ---- cleaning ------------------------------------------------------------
 */

/* Bytes of the invisible or control character at s (len left), or 0. */
static size_t
strip_len(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];

    if (c < 0x20)
        return c == '\t' || c == '\n' ? 0 : 1;
    if (c == 0x7f)
        return 1;
    if (c == 0xc2 && len >= 2 && (s[1] <= 0x9f || s[1] == 0xad))
        return 2; /* C1 controls, soft hyphen */
    if (c == 0xe2 && len >= 3 && s[1] == 0x80
        && ((s[2] >= 0x8b && s[2] <= 0x8f) || (s[2] >= 0xaa && s[2] <= 0xae)))
        return 3; /* zero-width, LRM/RLM, bidi embeddings and overrides */
    if (c == 0xe2 && len >= 3 && s[1] == 0x81
        && ((s[2] >= 0xa0 && s[2] <= 0xa4) || (s[2] >= 0xa6 && s[2] <= 0xa9)))
        return 3; /* word joiner, invisible operators, bidi isolates */
    if (c == 0xef && len >= 3 && s[1] == 0xbb && s[2] == 0xbf)
        return 3; /* BOM / zero-width no-break space */
    return 0;
}

static bool
space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n';
}

int
guard_clean(const char *s, size_t len, struct guard_text *out)
{
    const unsigned char *u = (const unsigned char *)s;
    char *t = malloc(len + 1);
    size_t n = 0, chars = 0;

    memset(out, 0, sizeof *out);
    if (t == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < len;) {
        size_t k = strip_len(u + i, len - i);
        if (k > 0) {
            i += k;
            continue;
        }
        t[n++] = (char)u[i++];
    }
    /* trim */
    size_t a = 0;
    while (a < n && space((unsigned char)t[a]))
        a++;
    while (n > a && space((unsigned char)t[n - 1]))
        n--;
    memmove(t, t + a, n - a);
    n -= a;
    t[n] = '\0';
    for (size_t i = 0; i < n; i++)
        chars += ((unsigned char)t[i] & 0xc0) != 0x80;
    out->text = t;
    out->len = n;
    out->chars = chars;
    return 0;
}

void
guard_text_release(struct guard_text *t)
{
    free(t->text);
    memset(t, 0, sizeof *t);
}

/* ---- set-up --------------------------------------------------------------
 */

/* " words of s " normalised as the detector sees text; NULL if blank. */
static char *
normalised(const char *s)
{
    size_t cap = 2 * strlen(s) + 4;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    out[0] = ' ';
    size_t n = features_normalise(s, out + 1, cap - 2);
    if (n == 0) {
        free(out);
        return NULL;
    }
    out[n + 1] = ' ';
    out[n + 2] = '\0';
    return out;
}

int
guard_new(
    struct guard **gp, const struct guard_opts *o, char *err, size_t errlen)
{
    struct guard *g = calloc(1, sizeof *g);
    const char *list = o->deny_list ? o->deny_list : "";

    if (g == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    g->max_chars = o->max_chars;
    if (strlen(list) > GUARD_DENY_MAX_BYTES) {
        snprintf(err, errlen, "GUARD_DENY_LIST: longer than %d bytes",
            GUARD_DENY_MAX_BYTES);
        goto fail;
    }
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        char phrase[GUARD_DENY_MAX_BYTES + 1];
        memcpy(phrase, p, n);
        phrase[n] = '\0';
        char *norm = normalised(phrase);
        if (norm != NULL) {
            if (g->ndeny == GUARD_DENY_MAX_PHRASES) {
                free(norm);
                snprintf(err, errlen, "GUARD_DENY_LIST: more than %d phrases",
                    GUARD_DENY_MAX_PHRASES);
                goto fail;
            }
            g->deny[g->ndeny++] = norm;
        }
        p += n + (p[n] == ',');
    }
    if (o->model_path != NULL && o->model_path[0] != '\0') {
        int rc = injection_model_load(&g->model, o->model_path);
        if (rc != 0) {
            snprintf(err, errlen, "GUARD_MODEL %s: %s", o->model_path,
                rc == -EINVAL ? "not a valid model file" : strerror(-rc));
            goto fail;
        }
        g->have_model = true;
        g->threshold
            = o->threshold > 0 ? o->threshold : (double)g->model.threshold;
    }
    *gp = g;
    return 0;
fail:
    guard_free(g);
    return -1;
}

void
guard_free(struct guard *g)
{
    if (g == NULL)
        return;
    for (int i = 0; i < g->ndeny; i++)
        free(g->deny[i]);
    injection_model_free(&g->model);
    free(g);
}

/* ---- checking ------------------------------------------------------------
 */

static bool
denied(const struct guard *g, const char *text)
{
    if (g->ndeny == 0)
        return false;
    char *norm = normalised(text);
    bool hit = false;
    for (int i = 0; norm != NULL && i < g->ndeny && !hit; i++)
        hit = strstr(norm, g->deny[i]) != NULL;
    free(norm);
    return hit;
}

int
guard_check(const struct guard *g, const char *msg, size_t len,
    struct guard_result *res)
{
    struct guard_text t;

    memset(res, 0, sizeof *res);
    res->score = -1;
    if (!utf8_valid(msg, len, NULL)) {
        res->reason = GUARD_INVALID_UTF8;
        return 0;
    }
    if (guard_clean(msg, len, &t) != 0)
        return -ENOMEM;
    res->chars = t.chars;
    if (t.len == 0)
        res->reason = GUARD_EMPTY;
    else if (t.chars > (size_t)g->max_chars)
        res->reason = GUARD_TOO_LONG;
    else if (denied(g, t.text))
        res->reason = GUARD_DENY_LIST;
    if (res->reason == GUARD_OK && g->have_model) {
        res->score = injection_score(&g->model, t.text);
        if (res->score < 0) {
            guard_text_release(&t);
            return -ENOMEM;
        }
        if (res->score >= g->threshold)
            res->reason = GUARD_INJECTION;
    }
    if (res->reason == GUARD_OK) {
        res->text = pii_redact(t.text, t.len, &res->redacted, &res->nredacted);
        if (res->text == NULL) {
            guard_text_release(&t);
            return -ENOMEM;
        }
    }
    guard_text_release(&t);
    return 0;
}

void
guard_result_release(struct guard_result *res)
{
    free(res->text);
    res->text = NULL;
}

const char *
guard_reason_name(enum guard_reason r)
{
    switch (r) {
    case GUARD_OK:
        return "";
    case GUARD_INVALID_UTF8:
        return "invalid_utf8";
    case GUARD_EMPTY:
        return "empty";
    case GUARD_TOO_LONG:
        return "too_long";
    case GUARD_DENY_LIST:
        return "deny_list";
    case GUARD_INJECTION:
        return "prompt_injection";
    }
    return "?";
}

const char *
guard_reply(enum guard_reason r)
{
    switch (r) {
    case GUARD_DENY_LIST:
        return "Sorry, I can't help with that message. If you need help "
               "with an order, a payment or your account, please tell me "
               "about it in your own words.";
    case GUARD_INJECTION:
        return "Sorry, I can't follow instructions that try to change how "
               "I work. If you need help with an order, a payment or your "
               "account, please describe the problem and I'll gladly help.";
    case GUARD_TOO_LONG:
        return "Sorry, that message is too long for me. Could you shorten "
               "it?";
    default:
        return "Sorry, I couldn't read that message. Could you write it "
               "again?";
    }
}

/* What the customer reads, e.g. "a card number and an email address". */
static const char *const spoken[PII_KINDS] = {"an access key or token",
    "an email address", "a bank account number (IBAN)", "a card number",
    "a social security number", "an IP address", "a phone number",
    "a password"};

void
guard_annotate(const struct guard_result *res, cJSON *reply)
{
    char notice[512];
    size_t n = 0;
    int left = 0, done = 0;

    if (res->redacted == 0 || reply == NULL)
        return;
    cJSON *arr = cJSON_AddArrayToObject(reply, "redacted");
    for (int k = 0; k < PII_KINDS; k++) {
        if (res->redacted & (1u << k)) {
            cJSON_AddItemToArray(arr, cJSON_CreateString(pii_kind_name(k)));
            left++;
        }
    }
    n = (size_t)snprintf(notice, sizeof notice, "For your safety, we removed ");
    for (int k = 0; k < PII_KINDS && n < sizeof notice; k++) {
        if (!(res->redacted & (1u << k)))
            continue;
        done++;
        const char *joint = done == 1 ? "" : done == left ? " and " : ", ";
        n += (size_t)snprintf(
            notice + n, sizeof notice - n, "%s%s", joint, spoken[k]);
    }
    if (n < sizeof notice)
        snprintf(notice + n, sizeof notice - n,
            " from your message before it was saved. Please never share "
            "these in the chat.");
    cJSON_AddStringToObject(reply, "notice", notice);
}
