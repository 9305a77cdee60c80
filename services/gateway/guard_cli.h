/*
 * guard_cli.h - `gateway --guard`: the chat's guardrails over JSON lines.
 *
 * Reads one JSON object {"text": ...} per line and writes one line per
 * input, in order: {"action": "allow"|"block", "reason": null|"...",
 * "redacted": text with sensitive data replaced (null when blocked),
 * "removed": [kinds], "score": p(injection) or null}. A line that is not
 * such an object is blocked with reason "invalid_input"; a line over
 * GUARD_CLI_MAX_LINE bytes with "too_long".
 */
#ifndef GATEWAY_GUARD_CLI_H
#define GATEWAY_GUARD_CLI_H

#include <stdio.h>

#include "guard.h"

#define GUARD_CLI_MAX_LINE (1 << 20)

/* Run until EOF on in. 0, or -1 on a read/write error. */
int guard_cli_run(FILE *in, FILE *out, const struct guard *g);

#endif
