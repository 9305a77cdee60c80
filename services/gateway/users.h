/*
 * users.h - the users collection (owned by the gateway): validation of
 * names and passwords, creation, look-ups, listing.
 */
#ifndef GATEWAY_USERS_H
#define GATEWAY_USERS_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "auth.h"
#include "http.h"
#include "store.h"

#define USERNAME_MIN 3
#define USERNAME_MAX 32
#define PASSWORD_MIN 8
#define PASSWORD_MAX 128

struct user {
    char id[25]; /* ObjectId, hex */
    char username[USERNAME_MAX + 1];
    enum role role;
    char hash[AUTH_HASH_MAX];
    int64_t created_at; /* Unix ms */
    bool disabled;
    long token_version;
};

/* Create the unique index on username (idempotent). 0 or a store_err. */
int users_init(struct store *s);

/*
 * Check a username and write its canonical (lower-case) form into out
 * (USERNAME_MAX + 1). Returns 0, or -1 with *why set to a sentence.
 */
int users_check_name(const char *name, char *out, const char **why);

/* Check a password's length and content. 0, or -1 with *why set. */
int users_check_password(const char *password, const char **why);

/* Insert a user. 0 with *out filled, STORE_DUP or STORE_DOWN. */
int users_create(struct store *s, const char *username, const char *hash,
    enum role role, struct user *out);

/* Look up by canonical name / by id. 0, STORE_NOTFOUND or STORE_DOWN. */
int users_find_name(struct store *s, const char *username, struct user *out);
int users_find_id(struct store *s, const char *id, struct user *out);

/*
 * Set a new password hash and bump the user's token_version, so every
 * token issued before stops working. 0, STORE_NOTFOUND or STORE_DOWN;
 * *tv_out (may be NULL) gets the new version.
 */
int users_set_password(
    struct store *s, const char *id, const char *hash, long *tv_out);

/*
 * Disable (or enable) an account. Either way its token_version is bumped:
 * tokens issued before stop working. 0, STORE_NOTFOUND or STORE_DOWN.
 */
int users_set_disabled(struct store *s, const char *id, bool disabled);

/* Whether any admin exists. 0 with *yes set, or STORE_DOWN. */
int users_admin_exists(struct store *s, bool *yes);

/*
 * A page of users, oldest first, optionally only one role (ROLE_NONE: all):
 * *out gets a JSON array of public user objects, *total the count.
 */
int users_list(struct store *s, enum role only, int limit, int skip,
    cJSON **out, int64_t *total);

/* The public JSON of a user: id, username, role, created_at. */
cJSON *users_json(const struct user *u);

#endif
