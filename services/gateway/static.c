/*
 * static.c - files of the web UI under STATIC_DIR, and the API docs
 * (/docs, /openapi.json) under DOCS_DIR. A path can never leave its folder:
 * ".." segments are refused and the resolved path must stay below the root.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gateway.h"

#define STATIC_MAX (16L << 20)

static const struct {
    const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
    {".map", "application/json"},
};

static const char *
content_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

/* Serve root/rel if it is a regular file below root. 0 sent, -1 not found. */
static int
send_file(struct req *r, const char *root, const char *rel)
{
    /* realpath() allocates: civetweb's threads have 100 KiB stacks. */
    char *real_root = realpath(root, NULL), *want = NULL, *real = NULL;
    char *buf = NULL;
    struct stat st;
    FILE *f = NULL;
    int rv = -1;

    if (real_root == NULL || asprintf(&want, "%s/%s", real_root, rel) < 0) {
        want = NULL;
        goto out;
    }
    if ((real = realpath(want, NULL)) == NULL)
        goto out;
    size_t n = strlen(real_root);
    if (strncmp(real, real_root, n) != 0 || real[n] != '/')
        goto out;
    if (stat(real, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > STATIC_MAX)
        goto out;
    if ((f = fopen(real, "rb")) == NULL)
        goto out;
    buf = malloc((size_t)st.st_size + 1);
    size_t got = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
    if (buf == NULL || got != (size_t)st.st_size)
        http_error(r, 500, "internal", "cannot read the file");
    else
        http_raw(r, 200, content_type(real), buf, got, NULL);
    rv = 0;
out:
    if (f != NULL)
        fclose(f);
    free(buf);
    free(real);
    free(want);
    free(real_root);
    return rv;
}

static bool
safe_path(const char *p)
{
    if (strstr(p, "..") != NULL || strchr(p, '\\') != NULL
        || strstr(p, "//") != NULL)
        return false;
    for (; *p; p++)
        if ((unsigned char)*p < 0x20)
            return false;
    return true;
}

void
static_serve(struct req *r)
{
    const struct config *cfg = r->gw->cfg;

    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        http_error(r, 405, "method_not_allowed", "only GET here");
        return;
    }
    if (strcmp(r->path, "/openapi.json") == 0) {
        if (send_file(r, cfg->docs_dir, "openapi.json") != 0)
            http_error(r, 404, "not_found", "openapi.json is missing");
        return;
    }
    if (strcmp(r->path, "/docs") == 0 || strcmp(r->path, "/docs/") == 0) {
        if (send_file(r, cfg->docs_dir, "api.html") != 0)
            http_error(r, 404, "not_found", "the docs page is missing");
        return;
    }
    if (strcmp(r->path, "/docs/api.js") == 0) {
        if (send_file(r, cfg->docs_dir, "api.js") != 0)
            http_error(r, 404, "not_found", "the docs script is missing");
        return;
    }
    if (!safe_path(r->path)) {
        http_error(r, 404, "not_found", "no such file");
        return;
    }
    const char *rel = r->path + 1;
    if (*rel == '\0')
        rel = "index.html";
    if (send_file(r, cfg->static_dir, rel) == 0)
        return;
    /* Client-side routes (no file extension) get the app's page. */
    const char *last = strrchr(r->path, '/');
    if (strchr(last, '.') == NULL
        && send_file(r, cfg->static_dir, "index.html") == 0)
        return;
    http_error(r, 404, "not_found", "no such file");
}
