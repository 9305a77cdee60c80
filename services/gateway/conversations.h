/*
 * conversations.h - the conversations and messages collections (owned by
 * the gateway).
 *
 * The request path touches only the small conversations collection plus
 * inserts into messages: a conversation document carries the recent window
 * of turns the support agent needs, trimmed here (FerretDB ignores $slice),
 * so no chat ever scans messages.
 */
#ifndef GATEWAY_CONVERSATIONS_H
#define GATEWAY_CONVERSATIONS_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "store.h"
#include "store_batch.h"

#define CONV_ID_LEN 26 /* "c_" + 24 hex */
#define CONV_WINDOW 10 /* turns kept in the recent window */
#define CONV_TEXT_MAX 8192

struct turn {
    char role[12]; /* user, assistant, agent, system */
    char *text;    /* owned */
    int64_t at;
};

struct conversation {
    char id[CONV_ID_LEN + 1];
    char user_id[32];       /* owner; empty for a guest */
    char guest_hash[65];    /* sha256 hex of the guest token */
    char status[16];        /* "ai", or "human" while a person owns it */
    char loaded_status[16]; /* as stored when loaded (conv_save checks) */
    int64_t created_at, updated_at;
    struct turn recent[CONV_WINDOW];
    int nrecent;
    bool is_new; /* created by this request, not stored yet */
};

/* Release the texts of c. */
void conv_release(struct conversation *c);

/*
 * Start a conversation in memory for user_id (or a guest: guest_token
 * gets a new random token, 64 hex + NUL). Not stored until conv_save.
 */
int conv_new(struct conversation *c, const char *user_id, char *guest_token);

/*
 * Load conversation id for its owner: user_id must match, or for a guest
 * conversation sha256(guest_token) must. 0, STORE_NOTFOUND (also: not the
 * owner, so its existence is not revealed) or STORE_DOWN.
 */
int conv_load(struct store *s, const char *id, const char *user_id,
    const char *guest_token, struct conversation *c);

/* Load conversation id whoever owns it (agents and admins). 0,
 * STORE_NOTFOUND or STORE_DOWN. */
int conv_get(struct store *s, const char *id, struct conversation *c);

/* Append a turn to the window (copying text), dropping the oldest. */
void conv_push(
    struct conversation *c, const char *role, const char *text, int64_t at);

/*
 * Write the conversation: insert when new (through inserts, group-committed
 * like messages), else one update by _id of the
 * window, status and times - applied only if its stored status is still
 * the one loaded: STORE_CONFLICT when someone (a person taking it over)
 * changed it meanwhile. 0 or a store_err.
 */
int conv_save(
    struct store *s, struct store_batch *inserts, struct conversation *c);

/* A stored message. */
struct message {
    char id[25];
    const char *conversation_id;
    const char *role;
    const char *text;
    int64_t at;
    const char *request_id;
    const char *intent; /* NULL: not classified */
    double confidence;
    bool escalated;
    const char *agent_type;
};

/* Give m a fresh id (24 hex). */
void msg_new_id(struct message *m);

/*
 * Insert one message and wait until it is stored; concurrent inserts go
 * to the store together (store_batch.h). 0 or a store_err.
 */
int msg_insert(struct store_batch *b, const struct message *m);

/*
 * Messages of a conversation, oldest first: at most limit, those created
 * before `before` ms when before > 0. *out gets a JSON array.
 */
int msg_history(struct store *s, const char *conversation_id, int64_t before,
    int limit, cJSON **out);

/*
 * Copy the string field key of a stored document into o as name (at most
 * CONV_TEXT_MAX bytes; straight from the BSON, no stack buffer: civetweb's
 * threads have small stacks). Absent or not a string: nothing added.
 */
void conv_json_string(
    cJSON *o, const char *name, const bson_t *doc, const char *key);

/* The date at key of a stored document into o as name, ISO 8601. */
void conv_json_time(
    cJSON *o, const char *name, const bson_t *doc, const char *key);

/* Create the messages index (conversation + time); idempotent. */
int conv_init(struct store *s);

#endif
