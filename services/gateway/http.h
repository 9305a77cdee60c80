/*
 * http.h - the gateway's HTTP layer over civetweb: one request context per
 * call, a route table, JSON bodies in and out, and responses written in one
 * buffer (headers and body together, so Nagle never splits them).
 */
#ifndef GATEWAY_HTTP_H
#define GATEWAY_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "trace.h"

struct mg_connection;
struct gateway;

enum role { ROLE_NONE = 0, ROLE_USER = 1, ROLE_AGENT = 2, ROLE_ADMIN = 3 };

/* The caller, once the bearer token has been checked. */
struct principal {
    char user_id[32];
    char username[64];
    enum role role;
    long token_version;
};

struct req {
    struct mg_connection *conn;
    struct gateway *gw;
    const char *method;
    const char *path;
    const char *query;
    const char *params[4]; /* values of {x} path segments, in order */
    char param_buf[4][128];
    int nparams;
    char request_id[40];
    char client[64];         /* the client's address (http_client_addr) */
    const char *cors_origin; /* echoed in Access-Control-Allow-Origin */
    struct principal who;    /* role ROLE_NONE: anonymous */
    int status;              /* set when the response is written */
    struct span span;        /* the request's root span (API requests) */
};

/* Route handlers return nothing: they always write a response. */
typedef void (*route_fn)(struct req *r);

/* Which request-rate limits a route counts against (throttle.h). */
enum limit_kind { LIMIT_NONE = 0, LIMIT_LOGIN, LIMIT_CHAT };

struct route {
    const char *method;
    const char *pattern; /* "/api/hitl/escalations/{id}/approve" */
    route_fn fn;
    enum role min_role; /* ROLE_NONE: public */
    bool untraced;      /* no span: see begin_trace() in gateway.c */
};

/*
 * Find the route for method + path. Returns the route, or NULL with
 * *path_known set when the path exists under another method (405).
 */
const struct route *http_route(
    const struct route *routes, size_t n, struct req *r, bool *path_known);

/* Write a JSON response: status, body (consumed: freed here). */
void http_json(struct req *r, int status, cJSON *body);

/*
 * Numbers that cJSON would print through printf and check with sscanf
 * (anything not an int: millisecond timestamps, latencies): an integer,
 * and a value rounded to `places` decimals (0-6), written digit by digit.
 * Non-finite values are null, as cJSON writes them; a value too large for
 * exact digits goes to cJSON. Return the item, NULL on allocation failure.
 */
cJSON *json_add_int(cJSON *o, const char *key, long long v);
cJSON *json_add_fixed(cJSON *o, const char *key, double v, int places);

/* Write {"error": error, "detail": detail} with status. */
void http_error(
    struct req *r, int status, const char *error, const char *detail);

/* The same with extra header lines ("Retry-After: 1\r\n"). */
void http_error_hdr(struct req *r, int status, const char *error,
    const char *detail, const char *extra_headers);

/* Write raw bytes with a content type (static files, Prometheus text). */
void http_raw(struct req *r, int status, const char *content_type,
    const char *body, size_t len, const char *extra_headers);

/*
 * Read and parse the JSON object body. On failure writes the error
 * response itself (413 too large, 415 not JSON, 400 malformed or not an
 * object) and returns NULL; otherwise the caller owns the cJSON.
 */
cJSON *http_read_json(struct req *r, long max_body);

/*
 * Field accessors for a parsed body. A wrong type is an error (400 written,
 * returns -1); a missing optional field gives 0 and leaves *out NULL.
 */
int http_field_string(struct req *r, const cJSON *obj, const char *name,
    bool required, const char **out);

/* The query parameter `name` decoded into out (size n); false if absent. */
bool http_query(const struct req *r, const char *name, char *out, size_t n);

/*
 * The whole-number query parameter name within [min, max] into *out (def
 * when absent). Returns 0, or -1 with a 400 written.
 */
int http_query_long(
    struct req *r, const char *name, long min, long max, long def, long *out);

/* A request header, or NULL. */
const char *http_header(const struct req *r, const char *name);

/*
 * The client's address into out (size n): the TCP peer, or, when
 * trust_proxy (the gateway sits behind a reverse proxy that appends it),
 * the last entry of X-Forwarded-For when it is a plain address.
 */
void http_client_addr(
    const struct req *r, bool trust_proxy, char *out, size_t n);

/*
 * Whether origin is in the comma-separated list `allowed` (exact match,
 * "*" for any). Empty list: none.
 */
bool http_origin_allowed(const char *allowed, const char *origin);

#endif
