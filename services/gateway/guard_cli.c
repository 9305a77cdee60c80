#include "guard_cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One line into buf (cap bytes); *over set when it was longer (the rest is
   read and dropped). Returns 0 at EOF with nothing read, else 1. */
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
answer(FILE *out, const char *reason, const struct guard_result *res)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "action", reason ? "block" : "allow");
    if (reason)
        cJSON_AddStringToObject(o, "reason", reason);
    else
        cJSON_AddNullToObject(o, "reason");
    if (res != NULL && res->text != NULL)
        cJSON_AddStringToObject(o, "redacted", res->text);
    else
        cJSON_AddNullToObject(o, "redacted");
    cJSON *kinds = cJSON_AddArrayToObject(o, "removed");
    for (int k = 0; res != NULL && k < PII_KINDS; k++)
        if (res->redacted & (1u << k))
            cJSON_AddItemToArray(kinds, cJSON_CreateString(pii_kind_name(k)));
    if (res != NULL && res->score >= 0)
        cJSON_AddNumberToObject(o, "score", round(res->score * 10000) / 10000);
    else
        cJSON_AddNullToObject(o, "score");
    char *line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (line == NULL)
        return -1;
    int rc = fprintf(out, "%s\n", line) < 0 || fflush(out) != 0 ? -1 : 0;
    cJSON_free(line);
    return rc;
}

int
guard_cli_run(FILE *in, FILE *out, const struct guard *g)
{
    char *buf = malloc(GUARD_CLI_MAX_LINE);
    int over, rc = 0;

    if (buf == NULL)
        return -1;
    while (rc == 0 && read_line(in, buf, GUARD_CLI_MAX_LINE, &over)) {
        if (over) {
            rc = answer(out, "too_long", NULL);
            continue;
        }
        if (buf[strspn(buf, " \t\r")] == '\0')
            continue; /* blank lines are not inputs */
        cJSON *j = cJSON_Parse(buf);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "text");
        if (!cJSON_IsObject(j) || !cJSON_IsString(t)) {
            cJSON_Delete(j);
            rc = answer(out, "invalid_input", NULL);
            continue;
        }
        struct guard_result res;
        if (guard_check(g, t->valuestring, strlen(t->valuestring), &res) != 0) {
            cJSON_Delete(j);
            rc = -1;
            break;
        }
        rc = answer(out,
            res.reason == GUARD_OK ? NULL : guard_reason_name(res.reason),
            &res);
        guard_result_release(&res);
        cJSON_Delete(j);
    }
    if (ferror(in))
        rc = -1;
    free(buf);
    return rc;
}
