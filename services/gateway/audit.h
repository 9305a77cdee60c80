/*
 * audit.h - the audit_log collection (owned by the gateway): one document
 * per agent or admin action - who, what, on which item, the state before
 * and after, when. Never blocks an action: a failed write is logged.
 */
#ifndef GATEWAY_AUDIT_H
#define GATEWAY_AUDIT_H

#include <cjson/cJSON.h>

#include "store.h"

/* Record that `who` did `action` on `target`, taking it from state
 * `before` to `after`. */
void audit_record(struct store *s, const char *who, const char *action,
    const char *target, const char *before, const char *after);

/* The newest entries (at most limit), optionally about one target: *out a
 * JSON array. 0 or a store_err. */
int audit_list(struct store *s, const char *target, int limit, cJSON **out);

#endif
