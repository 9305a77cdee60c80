/*
 * pii.h - finding and redacting sensitive data in a customer's message
 * before it is stored or sent to an agent or an LLM.
 *
 * Detectors (hand-written scanners; each checks what can be checked):
 *   card      13-19 digits, spaces or dashes between groups, Luhn-valid
 *   email     local@domain.tld
 *   phone     7-15 digits with a leading '+', parentheses or separators,
 *             or 10-15 digits in one run; dates and ids are left alone
 *   iban      country code, check digits, 11-30 letters/digits, mod-97
 *   ssn       ddd-dd-dddd (or spaced), valid area/group/serial
 *   ip        IPv4 dotted quads, IPv6 (inet_pton)
 *   secret    API keys and tokens of common providers (OpenAI, Anthropic,
 *             AWS, GitHub, GitLab, Slack, Stripe, Google, Hugging Face,
 *             npm, SendGrid), JWTs, PEM private keys, "Bearer ..." and
 *             "api key/token/secret is|:|= ..." values
 *   password  the value in "my password is ...", "password: ...", ...
 *
 * Spans never overlap: detectors run in the order above from the most
 * specific (secrets first), and a later one skips bytes already taken.
 */
#ifndef GATEWAY_PII_H
#define GATEWAY_PII_H

#include <stddef.h>

enum pii_kind {
    PII_SECRET,
    PII_EMAIL,
    PII_IBAN,
    PII_CARD,
    PII_SSN,
    PII_IP,
    PII_PHONE,
    PII_PASSWORD,
    PII_KINDS,
};

struct pii_span {
    size_t start, end; /* byte offsets, end exclusive */
    enum pii_kind kind;
};

/* Longest text scanned; the rest is passed through unscanned. */
#define PII_MAX_TEXT (64 * 1024)

/*
 * Find the sensitive spans of text (len bytes) into spans (at most max),
 * sorted by start. Returns how many were found (those past max are lost:
 * callers give room for len + 1 spans, more than can exist).
 */
size_t pii_find(
    const char *text, size_t len, struct pii_span *spans, size_t max);

/*
 * A copy of text with every span replaced by its placeholder. Returns the
 * new NUL-terminated string (caller frees) or NULL (out of memory);
 * *kinds gets a bit (1 << kind) per kind removed, *count the spans.
 */
char *pii_redact(const char *text, size_t len, unsigned *kinds, int *count);

/* "credit_card", "email", ... and "[CARD]", "[EMAIL]", ... */
const char *pii_kind_name(enum pii_kind k);
const char *pii_placeholder(enum pii_kind k);

/* Luhn and IBAN mod-97 checks, over digits/alphanumerics only. */
int pii_luhn_ok(const char *digits, size_t n);
int pii_iban_ok(const char *s, size_t n);

#endif
