#include "queue.h"

#include <string.h>

#include "log.h"

int
queue_init(struct queue *q, struct store *store)
{
    bson_t *keys
        = BCON_NEW("status", BCON_INT32(1), "created_at", BCON_INT32(1));
    int rv;

    q->store = store;
    rv = store_ensure_index(store, "escalations", "status_age", keys, false);
    bson_destroy(keys);
    if (rv != 0)
        log_error("cannot create the escalations indexes");
    return rv;
}

void
queue_handle(struct bus_call *call, void *arg)
{
    (void)arg;
    bus_call_reply(call, BUS_NOT_FOUND, "unknown method", NULL);
}
