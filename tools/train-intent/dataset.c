#include "dataset.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "intent.h"

static int
cmp_row(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    int c = strcmp(x->source, y->source);
    if (c == 0)
        c = strcmp(x->text, y->text);
    if (c == 0)
        c = (x->intent > y->intent) - (x->intent < y->intent);
    return c;
}

/* Read one line of at most cap - 1 bytes into buf; *over set when longer
   (the rest of the line is consumed). Returns 0 at EOF, else 1. */
static int
read_line(FILE *f, char *buf, size_t cap, int *over)
{
    size_t n = 0;
    int ch, any = 0;

    *over = 0;
    while ((ch = getc(f)) != EOF) {
        any = 1;
        if (ch == '\n')
            break;
        if (n + 1 < cap)
            buf[n++] = (char)ch;
        else
            *over = 1;
    }
    buf[n] = '\0';
    return any;
}

static int
add_row(struct dataset *ds, const char *src, const char *text, int intent)
{
    if (ds->n == ds->cap) {
        size_t ncap = ds->cap ? 2 * ds->cap : 1024;
        struct row *nr = realloc(ds->rows, ncap * sizeof *nr);
        if (nr == NULL)
            return -ENOMEM;
        ds->rows = nr;
        ds->cap = ncap;
    }
    struct row *r = &ds->rows[ds->n];
    r->source = strdup(src);
    r->text = strdup(text);
    r->intent = intent;
    if (r->source == NULL || r->text == NULL) {
        free(r->source);
        free(r->text);
        return -ENOMEM;
    }
    ds->n++;
    return 0;
}

int
dataset_read(struct dataset *ds, const char *path)
{
    FILE *f;
    char *buf;
    int over, rc = 0;

    f = fopen(path, "r");
    if (f == NULL)
        return -errno;
    buf = malloc(DATASET_MAX_LINE + 1);
    if (buf == NULL) {
        fclose(f);
        return -ENOMEM;
    }
    while (rc == 0 && read_line(f, buf, DATASET_MAX_LINE + 1, &over)) {
        if (buf[0] == '\0' && !over)
            continue;
        cJSON *j = over ? NULL : cJSON_Parse(buf);
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "source");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "text");
        const cJSON *i = cJSON_GetObjectItemCaseSensitive(j, "intent");
        int intent = cJSON_IsString(i) ? intent_parse(i->valuestring) : -1;
        if (cJSON_IsString(t) && intent >= 0 && ds->n < DATASET_MAX_ROWS)
            rc = add_row(ds, cJSON_IsString(s) ? s->valuestring : "-",
                t->valuestring, intent);
        else
            ds->skipped++;
        cJSON_Delete(j);
    }
    if (rc == 0 && ferror(f))
        rc = -EIO;
    free(buf);
    fclose(f);
    if (rc < 0) {
        dataset_free(ds);
        return rc;
    }
    if (ds->n > 1)
        qsort(ds->rows, ds->n, sizeof *ds->rows, cmp_row);
    return 0;
}

void
dataset_free(struct dataset *ds)
{
    for (size_t i = 0; i < ds->n; i++) {
        free(ds->rows[i].source);
        free(ds->rows[i].text);
    }
    free(ds->rows);
    memset(ds, 0, sizeof *ds);
}

int
dataset_source_in(const char *source, const char *spec)
{
    size_t sl = strlen(source);
    const char *p = spec;

    while (*p) {
        const char *e = strchr(p, '+');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == sl && strncmp(p, source, l) == 0)
            return 1;
        if (e == NULL)
            break;
        p = e + 1;
    }
    return 0;
}

int
dataset_write_jsonl(
    const struct dataset *ds, const size_t *sel, size_t n, const char *path)
{
    FILE *f = fopen(path, "w");
    int rc = 0;

    if (f == NULL)
        return -errno;
    for (size_t k = 0; k < n && rc == 0; k++) {
        const struct row *r = &ds->rows[sel[k]];
        cJSON *o = cJSON_CreateObject();
        char *s = NULL;
        if (o != NULL && cJSON_AddStringToObject(o, "source", r->source)
            && cJSON_AddStringToObject(o, "text", r->text)
            && cJSON_AddStringToObject(o, "intent", intent_name(r->intent)))
            s = cJSON_PrintUnformatted(o);
        if (s == NULL || fprintf(f, "%s\n", s) < 0)
            rc = -EIO;
        cJSON_free(s);
        cJSON_Delete(o);
    }
    if (fclose(f) != 0 && rc == 0)
        rc = -EIO;
    return rc;
}
