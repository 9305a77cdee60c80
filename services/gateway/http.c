#include "http.h"

#include "log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <civetweb.h>

static const char *
reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 422:
        return "Unprocessable Entity";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Status";
    }
}

/* Headers every response carries. */
static const char security_headers[]
    = "X-Content-Type-Options: nosniff\r\n"
      "Referrer-Policy: no-referrer\r\n"
      "X-Frame-Options: DENY\r\n"
      "Content-Security-Policy: default-src 'self'; img-src 'self' data:; "
      "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'\r\n"
      "Cross-Origin-Opener-Policy: same-origin\r\n"
      "Permissions-Policy: camera=(), microphone=(), geolocation=()\r\n";

/* The decimal digits of u, at least width of them (zeros in front),
 * written backwards so that they end at end; returns where they start. */
static char *
digits(char *end, unsigned long long u, int width)
{
    char *p = end;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0 || end - p < width);
    return p;
}

/*
 * A response's head, put together with copies: a format with a dozen %s
 * cost more than the routing, JWT check and logging context together.
 */
struct head {
    char buf[2048];
    size_t n;
    bool full;
};

static void
head_put(struct head *h, const char *s, size_t len)
{
    if (h->full || len > sizeof(h->buf) - h->n) {
        h->full = true;
        return;
    }
    memcpy(h->buf + h->n, s, len);
    h->n += len;
}

#define HEAD_LIT(h, lit) head_put((h), (lit), sizeof(lit) - 1)

static void
head_str(struct head *h, const char *s)
{
    head_put(h, s, strlen(s));
}

static void
head_uint(struct head *h, size_t v)
{
    char d[24], *end = d + sizeof(d);
    char *p = digits(end, v, 1);

    head_put(h, p, (size_t)(end - p));
}

void
http_raw(struct req *r, int status, const char *content_type, const char *body,
    size_t len, const char *extra_headers)
{
    struct head h = {.n = 0, .full = false};

    HEAD_LIT(&h, "HTTP/1.1 ");
    head_uint(&h, (size_t)status);
    HEAD_LIT(&h, " ");
    head_str(&h, reason(status));
    HEAD_LIT(&h, "\r\nContent-Type: ");
    head_str(&h, content_type);
    HEAD_LIT(&h, "\r\nContent-Length: ");
    head_uint(&h, len);
    HEAD_LIT(&h, "\r\nCache-Control: no-store\r\nX-Request-Id: ");
    head_str(&h, r->request_id);
    HEAD_LIT(&h, "\r\n");
    if (r->span.trace_id[0]) {
        char tp[TRACEPARENT_LEN + 1] = "";
        trace_format(tp, sizeof(tp), r->span.trace_id, r->span.span_id);
        HEAD_LIT(&h, "traceparent: ");
        head_str(&h, tp);
        HEAD_LIT(&h, "\r\n");
    }
    HEAD_LIT(&h, security_headers);
    if (r->cors_origin != NULL) {
        HEAD_LIT(&h, "Access-Control-Allow-Origin: ");
        head_str(&h, r->cors_origin);
        HEAD_LIT(&h, "\r\nVary: Origin\r\n");
    }
    if (extra_headers != NULL)
        head_str(&h, extra_headers);
    HEAD_LIT(&h, "\r\n");
    if (h.full) {
        /* Only our own extra headers could do it: a bug, not bad input. */
        log_error("a response's headers were over %zu bytes", sizeof(h.buf));
        h = (struct head) {.n = 0, .full = false};
        HEAD_LIT(&h,
            "HTTP/1.1 500 Internal Server Error\r\n"
            "Content-Length: 0\r\n\r\n");
        status = 500;
        len = 0;
    }
    /*
     * One buffer, one write: with Nagle, split writes cost 40 ms each. A
     * small response is put together on the stack, a larger one on the
     * heap: civetweb's threads have 100 KiB stacks.
     */
    char small[4096];
    size_t total = h.n + len;
    char *buf = total <= sizeof(small) ? small : malloc(total);
    if (buf == NULL) {
        mg_write(r->conn, h.buf, h.n);
        mg_write(r->conn, body, len);
    } else {
        memcpy(buf, h.buf, h.n);
        if (len)
            memcpy(buf + h.n, body, len);
        mg_write(r->conn, buf, total);
        if (buf != small)
            free(buf);
    }
    r->status = status;
}

void
http_json(struct req *r, int status, cJSON *body)
{
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;

    if (text == NULL) {
        static const char oom[] = "{\"error\":\"internal\"}";
        http_raw(r, 500, "application/json", oom, sizeof(oom) - 1, NULL);
    } else {
        http_raw(r, status, "application/json", text, strlen(text), NULL);
    }
    cJSON_free(text);
    cJSON_Delete(body);
}

cJSON *
json_add_int(cJSON *o, const char *key, long long v)
{
    char buf[24], *end = buf + sizeof(buf) - 1;
    unsigned long long u
        = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

    *end = '\0';
    char *p = digits(end, u, 1);
    if (v < 0)
        *--p = '-';
    return cJSON_AddRawToObject(o, key, p);
}

cJSON *
json_add_fixed(cJSON *o, const char *key, double v, int places)
{
    static const double scale[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
    char buf[40], *end = buf + sizeof(buf) - 1;

    if (!isfinite(v))
        return cJSON_AddNullToObject(o, key);
    if (places < 0)
        places = 0;
    if (places > 6)
        places = 6;
    double scaled = round(fabs(v) * scale[places]);
    if (scaled >= 9007199254740992.0) /* 2^53: no longer exact */
        return cJSON_AddNumberToObject(o, key, v);
    unsigned long long u = (unsigned long long)scaled;
    unsigned long long unit = (unsigned long long)scale[places];
    unsigned long long frac = u % unit;
    char *p = end;
    *end = '\0';
    if (frac != 0) {
        int n = places;
        while (frac % 10 == 0) { /* no trailing zeros */
            frac /= 10;
            n--;
        }
        p = digits(p, frac, n);
        *--p = '.';
    }
    p = digits(p, u / unit, 1);
    if (v < 0 && u != 0)
        *--p = '-';
    return cJSON_AddRawToObject(o, key, p);
}

void
http_error_hdr(struct req *r, int status, const char *error, const char *detail,
    const char *extra_headers)
{
    cJSON *o = cJSON_CreateObject();
    char *text;

    cJSON_AddStringToObject(o, "error", error);
    cJSON_AddStringToObject(o, "detail", detail ? detail : error);
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text == NULL) {
        http_raw(r, status, "application/json", "{}", 2, extra_headers);
        return;
    }
    http_raw(r, status, "application/json", text, strlen(text), extra_headers);
    cJSON_free(text);
}

void
http_error(struct req *r, int status, const char *error, const char *detail)
{
    http_error_hdr(r, status, error, detail, NULL);
}

/*
 * Match path against pattern, filling params. A literal segment is compared
 * a character at a time, so a route that differs in its first letters costs
 * a few instructions: every request walks the whole table.
 */
static bool
match(const char *pattern, const char *path, struct req *r)
{
    const char *p = pattern, *s = path;
    int np = 0;

    for (;;) {
        if (*p != '/' || *s != '/')
            return *p == '\0' && *s == '\0';
        p++;
        s++;
        size_t pl = *p == '{' ? strcspn(p, "/") : 0;
        if (pl > 2 && p[pl - 1] == '}') {
            size_t sl = strcspn(s, "/");
            if (sl == 0 || sl >= sizeof(r->param_buf[0]) || np >= 4)
                return false;
            memcpy(r->param_buf[np], s, sl);
            r->param_buf[np][sl] = '\0';
            r->params[np] = r->param_buf[np];
            np++;
            p += pl;
            s += sl;
        } else {
            /* Equal as far as p's segment goes; if either stopped short,
             * the check at the top of the loop refuses it. */
            while (*p != '/' && *p != '\0' && *p == *s) {
                p++;
                s++;
            }
        }
        r->nparams = np;
    }
}

const struct route *
http_route(
    const struct route *routes, size_t n, struct req *r, bool *path_known)
{
    *path_known = false;
    for (size_t i = 0; i < n; i++) {
        if (!match(routes[i].pattern, r->path, r))
            continue;
        if (strcmp(routes[i].method, r->method) == 0)
            return &routes[i];
        *path_known = true;
    }
    return NULL;
}

const char *
http_header(const struct req *r, const char *name)
{
    return mg_get_header(r->conn, name);
}

cJSON *
http_read_json(struct req *r, long max_body)
{
    const struct mg_request_info *ri = mg_get_request_info(r->conn);
    const char *ct = http_header(r, "Content-Type");
    char *buf;
    long len = 0;
    cJSON *doc;

    if (ri->content_length > max_body) {
        http_error(
            r, 413, "payload_too_large", "the request body is too large");
        return NULL;
    }
    if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0
        || (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
        http_error(r, 415, "unsupported_media_type",
            "send the body as application/json");
        return NULL;
    }
    if ((buf = malloc((size_t)max_body + 1)) == NULL) {
        http_error(r, 503, "busy", "out of memory");
        return NULL;
    }
    for (;;) {
        int k = mg_read(r->conn, buf + len, (size_t)(max_body + 1 - len));
        if (k <= 0)
            break;
        len += k;
        if (len > max_body) {
            free(buf);
            http_error(
                r, 413, "payload_too_large", "the request body is too large");
            return NULL;
        }
    }
    buf[len] = '\0';
    /* With the NUL counted, cJSON also refuses trailing garbage. */
    doc = memchr(buf, '\0', (size_t)len) != NULL
        ? NULL
        : cJSON_ParseWithLengthOpts(buf, (size_t)len + 1, NULL, 1);
    free(buf);
    if (doc == NULL) {
        http_error(r, 400, "invalid_json", "the body is not valid JSON");
        return NULL;
    }
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        http_error(r, 400, "invalid_json", "the body must be a JSON object");
        return NULL;
    }
    return doc;
}

int
http_field_string(struct req *r, const cJSON *obj, const char *name,
    bool required, const char **out)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, name);
    char detail[160];

    *out = NULL;
    if (f == NULL || cJSON_IsNull(f)) {
        if (!required)
            return 0;
        snprintf(detail, sizeof(detail), "field '%s' is required", name);
        http_error(r, 400, "invalid_request", detail);
        return -1;
    }
    if (!cJSON_IsString(f)) {
        snprintf(detail, sizeof(detail), "field '%s' must be a string", name);
        http_error(r, 400, "invalid_request", detail);
        return -1;
    }
    *out = f->valuestring;
    return 0;
}

bool
http_query(const struct req *r, const char *name, char *out, size_t n)
{
    if (r->query == NULL)
        return false;
    return mg_get_var(r->query, strlen(r->query), name, out, n) >= 0;
}

int
http_query_long(
    struct req *r, const char *name, long min, long max, long def, long *out)
{
    char buf[32], *end, detail[128];

    if (!http_query(r, name, buf, sizeof(buf))) {
        *out = def;
        return 0;
    }
    errno = 0;
    long v = strtol(buf, &end, 10);
    if (errno != 0 || end == buf || *end != '\0' || v < min || v > max) {
        snprintf(detail, sizeof(detail),
            "query '%s' must be a whole number from %ld to %ld", name, min,
            max);
        http_error(r, 400, "invalid_request", detail);
        return -1;
    }
    *out = v;
    return 0;
}

void
http_client_addr(const struct req *r, bool trust_proxy, char *out, size_t n)
{
    const struct mg_request_info *ri = mg_get_request_info(r->conn);
    const char *xff = trust_proxy ? http_header(r, "X-Forwarded-For") : NULL;

    const char *peer = ri && ri->remote_addr[0] ? ri->remote_addr : "-";
    size_t plen = strnlen(peer, n - 1);

    memcpy(out, peer, plen);
    out[plen] = '\0';
    if (xff == NULL)
        return;
    const char *last = strrchr(xff, ',');
    last = last ? last + 1 : xff;
    last += strspn(last, " ");
    size_t len = strcspn(last, " ");
    /* an address only: hex digits, '.', ':' */
    if (len == 0 || len >= n || len >= 46
        || strspn(last, "0123456789abcdefABCDEF.:") < len)
        return;
    memcpy(out, last, len);
    out[len] = '\0';
}

bool
http_origin_allowed(const char *allowed, const char *origin)
{
    size_t olen;

    if (allowed == NULL || origin == NULL || *origin == '\0')
        return false;
    olen = strlen(origin);
    for (const char *p = allowed; *p;) {
        p += strspn(p, " ");
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m > 0 && p[m - 1] == ' ')
            m--;
        if ((m == 1 && p[0] == '*') || (m == olen && memcmp(p, origin, m) == 0))
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}
