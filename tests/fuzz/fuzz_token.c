/*
 * libFuzzer harness: the gateway's bearer-token check (auth.c). Any bytes
 * as a token: the HS256-only header check, libjwt's decode and the claims
 * read must never crash, and nothing not signed with the key may pass.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct auth *auth;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char key[] = "fuzzing-secret-0123456789abcdef0123";
    if (auth == NULL) {
        struct auth_opts o = {.secret = key,
            .secret_len = strlen(key),
            .ttl_s = 60,
            .m_kib = 8192,
            .t_cost = 1,
            .workers = 1};
        if (auth_new(&auth, &o) != 0)
            abort();
    }
    char *tok = malloc(size + 1);
    memcpy(tok, data, size);
    tok[size] = '\0';
    struct principal p;
    int rv = auth_check(auth, tok, &p);
    if (rv == 0
        && (p.role == ROLE_NONE || strlen(p.user_id) >= sizeof p.user_id))
        abort();
    free(tok);
    return 0;
}
