/*
 * audit.h - the audit_log collection (owned by the gateway): one document
 * per agent or admin action - who, what, on which item, the state after,
 * when. Never blocks an action: a failed write is logged.
 */
#ifndef GATEWAY_AUDIT_H
#define GATEWAY_AUDIT_H

#include "store.h"

/* Record that `who` did `action` on `target`, leaving it in state `after`. */
void audit_record(struct store *s, const char *who, const char *action,
    const char *target, const char *after);

#endif
