/*
 * libFuzzer harness: the gateway's JSON -> protobuf path of POST /api/chat.
 * The input is a request body: parsed as http_read_json() parses it (a
 * JSON object, NUL-terminated length, no trailing bytes), its fields read
 * as http_field_string() reads them, the message run through the
 * guardrails (guard.c with the shipped model when found, its PII
 * redaction), and the requests the gateway sends on (intent classify,
 * support draft, escalation create) packed and unpacked again.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "escalation.pb-c.h"
#include "guard.h"
#include "intent.pb-c.h"
#include "support.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guard *guard;

static struct guard *
get_guard(void)
{
    if (guard == NULL) {
        char err[256];
        struct guard_opts o = {.max_chars = 2000,
            .deny_list = "free money,wire transfer",
            .model_path = getenv("GUARD_MODEL") ? getenv("GUARD_MODEL")
                                                : "models/guard/injection.bin"};
        if (guard_new(&guard, &o, err, sizeof err) != 0) {
            o.model_path = NULL; /* run from elsewhere: no detector */
            if (guard_new(&guard, &o, err, sizeof err) != 0)
                abort();
        }
    }
    return guard;
}

static const char *
field(const cJSON *o, const char *name)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(f) ? f->valuestring : NULL;
}

static void
send_on(const char *text, const char *conv)
{
    Intent__ClassifyRequest in = INTENT__CLASSIFY_REQUEST__INIT;
    Support__DraftRequest dr = SUPPORT__DRAFT_REQUEST__INIT;
    Escalation__CreateRequest cr = ESCALATION__CREATE_REQUEST__INIT;
    Escalation__Item it = ESCALATION__ITEM__INIT;
    uint8_t *buf;
    size_t n;

    in.text = (char *)text;
    in.want_embedding = 1;
    n = intent__classify_request__get_packed_size(&in);
    buf = malloc(n + 1);
    intent__classify_request__pack(&in, buf);
    Intent__ClassifyRequest *i2
        = intent__classify_request__unpack(NULL, n, buf);
    if (i2 == NULL || strcmp(i2->text, text) != 0)
        abort();
    intent__classify_request__free_unpacked(i2, NULL);
    free(buf);

    dr.message = (char *)text;
    dr.conversation_id = (char *)conv;
    dr.intent = (char *)"other";
    n = support__draft_request__get_packed_size(&dr);
    buf = malloc(n + 1);
    support__draft_request__pack(&dr, buf);
    Support__DraftRequest *d2 = support__draft_request__unpack(NULL, n, buf);
    if (d2 == NULL || strcmp(d2->message, text) != 0)
        abort();
    support__draft_request__free_unpacked(d2, NULL);
    free(buf);

    it.conversation_id = (char *)conv;
    it.customer_message = (char *)text;
    cr.item = &it;
    n = escalation__create_request__get_packed_size(&cr);
    buf = malloc(n + 1);
    escalation__create_request__pack(&cr, buf);
    Escalation__CreateRequest *c2
        = escalation__create_request__unpack(NULL, n, buf);
    if (c2 == NULL || c2->item == NULL
        || strcmp(c2->item->customer_message, text) != 0)
        abort();
    escalation__create_request__free_unpacked(c2, NULL);
    free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0; /* MAX_BODY */
    char *body = malloc(size + 1);
    memcpy(body, data, size);
    body[size] = '\0';
    cJSON *doc = memchr(body, '\0', size) != NULL
        ? NULL
        : cJSON_ParseWithLengthOpts(body, size + 1, NULL, 1);
    free(body);
    if (doc == NULL)
        return 0;
    const char *msg = field(doc, "message");
    const char *conv = field(doc, "conversation_id");
    if (cJSON_IsObject(doc) && msg != NULL) {
        struct guard_result res;
        if (guard_check(get_guard(), msg, strlen(msg), &res) != 0)
            abort();
        if (res.reason == GUARD_OK) {
            if (res.text == NULL || strlen(res.text) > 12 * strlen(msg) + 1)
                abort();
            send_on(res.text, conv ? conv : "");
            cJSON *reply = cJSON_CreateObject();
            guard_annotate(&res, reply);
            char *out = cJSON_PrintUnformatted(reply);
            cJSON_free(out);
            cJSON_Delete(reply);
        } else if (res.text != NULL) {
            abort(); /* a blocked message is never passed on */
        }
        guard_result_release(&res);
    }
    cJSON_Delete(doc);
    return 0;
}
