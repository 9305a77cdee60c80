#include "pii.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const names[PII_KINDS] = {"secret", "email", "iban",
    "credit_card", "ssn", "ip_address", "phone", "password"};
static const char *const holders[PII_KINDS] = {"[SECRET]", "[EMAIL]", "[IBAN]",
    "[CARD]", "[SSN]", "[IP]", "[PHONE]", "[PASSWORD]"};

const char *
pii_kind_name(enum pii_kind k)
{
    return k < PII_KINDS ? names[k] : "?";
}

const char *
pii_placeholder(enum pii_kind k)
{
    return k < PII_KINDS ? holders[k] : "[REDACTED]";
}

static bool
dig(int c)
{
    return c >= '0' && c <= '9';
}

static bool
alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
alnum(int c)
{
    return dig(c) || alpha(c);
}

/* A byte that may be part of a word: letters, digits, '_', non-ASCII. */
static bool
wordc(int c)
{
    return alnum(c) || c == '_' || c >= 0x80;
}

/* A character of a key or token. */
static bool
tokc(int c)
{
    return alnum(c) || c == '_' || c == '-';
}

struct scan {
    const unsigned char *t; /* the text */
    const char *low;        /* its ASCII lower-case copy */
    size_t len;
    bool *taken;
    struct pii_span *spans;
    size_t n, max;
};

static int
at(const struct scan *s, size_t i)
{
    return i < s->len ? s->t[i] : 0;
}

/* The byte before i, 0 at the start. */
static int
before(const struct scan *s, size_t i)
{
    return i > 0 ? s->t[i - 1] : 0;
}

static bool
free_range(const struct scan *s, size_t a, size_t b)
{
    for (size_t i = a; i < b; i++)
        if (s->taken[i])
            return false;
    return true;
}

static void
add(struct scan *s, size_t a, size_t b, enum pii_kind k)
{
    if (b <= a || !free_range(s, a, b))
        return;
    for (size_t i = a; i < b; i++)
        s->taken[i] = true;
    if (s->n < s->max) {
        s->spans[s->n].start = a;
        s->spans[s->n].end = b;
        s->spans[s->n].kind = k;
        s->n++;
    }
}

/* ---- checks --------------------------------------------------------------
 */

int
pii_luhn_ok(const char *digits, size_t n)
{
    int sum = 0;
    bool dbl = false;

    for (size_t i = n; i-- > 0;) {
        int d = digits[i] - '0';
        if (d < 0 || d > 9)
            return 0;
        if (dbl && (d *= 2) > 9)
            d -= 9;
        sum += d;
        dbl = !dbl;
    }
    return n > 0 && sum % 10 == 0;
}

int
pii_iban_ok(const char *s, size_t n)
{
    unsigned rem = 0;

    if (n < 15 || n > 34 || !alpha(s[0]) || !alpha(s[1]) || !dig(s[2])
        || !dig(s[3]))
        return 0;
    /* the first four characters go last; letters are 10..35 */
    for (size_t k = 0; k < n; k++) {
        int c = (unsigned char)s[(k + 4) % n];
        if (dig(c)) {
            rem = (rem * 10 + (unsigned)(c - '0')) % 97;
        } else if (alpha(c)) {
            unsigned v = (unsigned)((c | 0x20) - 'a' + 10);
            rem = (rem * 100 + v) % 97;
        } else {
            return 0;
        }
    }
    return rem == 1;
}

/* ---- secrets -------------------------------------------------------------
 */

static void
find_pem(struct scan *s)
{
    static const char begin[] = "-----begin ";
    const char *p = s->low;

    while ((p = strstr(p, begin)) != NULL) {
        size_t a = (size_t)(p - s->low);
        const char *eol = strchr(p, '\n');
        const char *key = strstr(p, "private key-----");
        if (key == NULL || (eol != NULL && key > eol)) {
            p += sizeof begin - 1;
            continue;
        }
        const char *end = strstr(key + 16, "-----end ");
        size_t b = s->len;
        if (end != NULL) {
            const char *close = strstr(end + 9, "-----");
            b = close ? (size_t)(close - s->low) + 5 : s->len;
        }
        add(s, a, b, PII_SECRET);
        p = s->low + b;
        if (b >= s->len)
            break;
    }
}

struct prefix {
    const char *p;
    size_t min; /* shortest whole token */
    bool digit; /* must hold a digit */
};

static const struct prefix prefixes[] = {
    {"sk-", 20, true},
    {"sk_live_", 20, false},
    {"sk_test_", 20, false},
    {"rk_live_", 20, false},
    {"rk_test_", 20, false},
    {"pk_live_", 20, false},
    {"AKIA", 20, false},
    {"ASIA", 20, false},
    {"ghp_", 30, false},
    {"gho_", 30, false},
    {"ghu_", 30, false},
    {"ghs_", 30, false},
    {"ghr_", 30, false},
    {"github_pat_", 30, false},
    {"glpat-", 20, false},
    {"xoxb-", 15, false},
    {"xoxp-", 15, false},
    {"xoxa-", 15, false},
    {"xoxr-", 15, false},
    {"xoxs-", 15, false},
    {"AIza", 35, false},
    {"hf_", 30, false},
    {"npm_", 36, false},
};

static bool
has_digit(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (dig(p[i]))
            return true;
    return false;
}

static bool
has_alpha(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (alpha(p[i]))
            return true;
    return false;
}

/* Length of the JWT at i (three base64url parts), or 0. */
static size_t
jwt_len(const struct scan *s, size_t i)
{
    size_t j = i, parts = 0, plen = 0;

    if (strncmp((const char *)s->t + i, "eyJ", 3) != 0)
        return 0;
    while (j < s->len) {
        int c = s->t[j];
        if (tokc(c)) {
            plen++;
        } else if (c == '.' && plen >= 4 && parts < 2) {
            parts++;
            plen = 0;
        } else {
            break;
        }
        j++;
    }
    return parts == 2 && j - i >= 24 ? j - i : 0;
}

static void
find_tokens(struct scan *s)
{
    for (size_t i = 0; i < s->len; i++) {
        if (!tokc(s->t[i]) || tokc(before(s, i)) || before(s, i) == '.')
            continue;
        size_t j = i;
        while (j < s->len && tokc(s->t[j]))
            j++;
        size_t n = jwt_len(s, i);
        if (n > 0) {
            add(s, i, i + n, PII_SECRET);
            i += n - 1;
            continue;
        }
        /* SendGrid: SG.<22>.<43> */
        if (strncmp((const char *)s->t + i, "SG.", 3) == 0) {
            size_t k = i + 3;
            while (k < s->len && (tokc(s->t[k]) || s->t[k] == '.'))
                k++;
            if (k - i >= 60) {
                add(s, i, k, PII_SECRET);
                i = k - 1;
                continue;
            }
        }
        for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++) {
            size_t pl = strlen(prefixes[p].p);
            if (j - i < prefixes[p].min
                || strncmp((const char *)s->t + i, prefixes[p].p, pl) != 0)
                continue;
            if (prefixes[p].digit && !has_digit(s->t + i + pl, j - i - pl))
                continue;
            add(s, i, j, PII_SECRET);
            break;
        }
        i = j - 1 < i ? i : j - 1;
    }
}

/* Skip spaces from i; returns the new index. */
static size_t
skip_sp(const struct scan *s, size_t i)
{
    while (i < s->len && (s->t[i] == ' ' || s->t[i] == '\t'))
        i++;
    return i;
}

/* A key word at i that starts and ends at word boundaries. */
static bool
word_at(const struct scan *s, size_t i, const char *w)
{
    size_t n = strlen(w);
    return i + n <= s->len && strncmp(s->low + i, w, n) == 0
        && !alnum(before(s, i)) && !alnum(at(s, i + n));
}

/* Set by after_key(): the separator was "to" ("changed my pin to ..."). */
static _Thread_local bool last_verb_to;

/*
 * After a key word ending at i: spaces, then optionally "is", "was", ":",
 * "=" (with spaces); returns where the value starts, *sep set when one
 * was found.
 */
static size_t
after_key(const struct scan *s, size_t i, bool *sep, bool *punct)
{
    static const char *const verbs[] = {"is now", "is", "was", "to", "="};
    *sep = false;
    *punct = false;
    last_verb_to = false;
    i = skip_sp(s, i);
    if (at(s, i) == ':' || at(s, i) == '=') {
        *sep = *punct = true;
        return skip_sp(s, i + 1);
    }
    for (size_t v = 0; v < sizeof verbs / sizeof verbs[0]; v++) {
        if (word_at(s, i, verbs[v])) {
            *sep = true;
            last_verb_to = strcmp(verbs[v], "to") == 0;
            i = skip_sp(s, i + strlen(verbs[v]));
            if (at(s, i) == ':') {
                *punct = true;
                i = skip_sp(s, i + 1);
            }
            return i;
        }
    }
    return i;
}

static void
find_keyed_tokens(struct scan *s)
{
    static const char *const keys[] = {"api key", "api-key", "api_key",
        "apikey", "access token", "access_token", "auth token", "token",
        "secret", "client secret", "client_secret", "secret key", "secret_key",
        "access key", "access_key", "bearer"};

    for (size_t i = 0; i < s->len; i++) {
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            if (!word_at(s, i, keys[k]))
                continue;
            bool sep, punct;
            size_t v = after_key(s, i + strlen(keys[k]), &sep, &punct);
            if (at(s, v) == '"' || at(s, v) == '\'')
                v++;
            size_t e = v;
            while (e < s->len
                && (tokc(s->t[e]) || s->t[e] == '.' || s->t[e] == '/'
                    || s->t[e] == '+' || s->t[e] == '='))
                e++;
            while (e > v && (s->t[e - 1] == '.' || s->t[e - 1] == '='))
                e--;
            if (e - v >= 16 && has_digit(s->t + v, e - v)
                && has_alpha(s->t + v, e - v))
                add(s, v, e, PII_SECRET);
            break;
        }
    }
}

/* ---- email ---------------------------------------------------------------
 */

static bool
local_c(int c)
{
    return alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static void
find_emails(struct scan *s)
{
    for (size_t i = 1; i + 1 < s->len; i++) {
        if (s->t[i] != '@')
            continue;
        size_t a = i;
        while (a > 0 && local_c(s->t[a - 1]))
            a--;
        while (a < i && s->t[a] == '.')
            a++;
        size_t b = i + 1, last_dot = 0;
        while (
            b < s->len && (alnum(s->t[b]) || s->t[b] == '-' || s->t[b] == '.'))
            b++;
        while (b > i + 1 && (s->t[b - 1] == '.' || s->t[b - 1] == '-'))
            b--;
        for (size_t k = i + 1; k < b; k++)
            if (s->t[k] == '.')
                last_dot = k;
        if (a == i || last_dot == 0 || last_dot == i + 1 || b - last_dot < 3)
            continue;
        bool tld_alpha = true;
        for (size_t k = last_dot + 1; k < b; k++)
            tld_alpha &= alpha(s->t[k]);
        if (tld_alpha)
            add(s, a, b, PII_EMAIL);
    }
}

/* ---- IBAN ----------------------------------------------------------------
 */

static void
find_ibans(struct scan *s)
{
    char buf[40];

    for (size_t i = 0; i + 15 <= s->len; i++) {
        /* lower-case only when written in one piece */
        bool caps = s->t[i] >= 'A' && s->t[i] <= 'Z' && s->t[i + 1] >= 'A'
            && s->t[i + 1] <= 'Z';
        if (alnum(before(s, i)) || !alpha(s->t[i]) || !alpha(s->t[i + 1])
            || !dig(s->t[i + 2]) || !dig(s->t[i + 3]))
            continue;
        /* alphanumerics, single spaces between groups allowed */
        size_t n = 0, j = i, ends[40], nends = 0;
        while (j < s->len && n < 34) {
            if (alnum(s->t[j])) {
                buf[n++] = (char)s->t[j++];
                if (!alnum(at(s, j)))
                    ends[nends++] = j;
                else if (n >= 15 && nends < 40)
                    ends[nends++] = j;
            } else if (caps && s->t[j] == ' ' && alnum(at(s, j + 1))
                && n >= 4) {
                j++;
            } else {
                break;
            }
        }
        /* the longest prefix that ends a group and passes mod-97 */
        for (size_t e = nends; e-- > 0;) {
            size_t m = 0;
            for (size_t k = i; k < ends[e]; k++)
                m += alnum(s->t[k]);
            if (alnum(at(s, ends[e])) || !pii_iban_ok(buf, m))
                continue;
            add(s, i, ends[e], PII_IBAN);
            i = ends[e];
            break;
        }
    }
}

/* ---- digit runs: cards, SSNs, phones -------------------------------------
 */

struct run {
    size_t a, b;      /* span */
    char digits[24];  /* the first 23 digits */
    size_t nd;        /* digits in all */
    size_t groups[8]; /* digits per group (the first 8) */
    size_t ends[8];   /* where each of them ends */
    size_t ng;
    int seps;    /* separators between groups */
    char sep;    /* the first separator, 0 if none */
    bool mixed;  /* several kinds of separator */
    bool plus;   /* leading '+' */
    bool parens; /* '(' ... ')' */
    int dots;
};

/* Digits with single separators from `allowed` between them, from i. */
static void
digit_run(const struct scan *s, size_t i, const char *allowed, struct run *r)
{
    size_t j = i, g = 0;

    memset(r, 0, sizeof *r);
    r->a = i;
    if (at(s, j) == '+' && strchr(allowed, '(')) {
        r->plus = true;
        j++;
    }
    for (;;) {
        int c = at(s, j);
        if (dig(c)) {
            if (r->nd < sizeof r->digits - 1)
                r->digits[r->nd] = (char)c;
            r->nd++;
            g++;
            j++;
            r->b = j;
            continue;
        }
        if (c == 0 || strchr(allowed, c) == NULL)
            break;
        /* a separator (or two, as in ") " and " (") then a digit */
        size_t k = j;
        int n = 0;
        while (k < s->len && s->t[k] != 0 && strchr(allowed, s->t[k]) != NULL
            && !dig(s->t[k]) && n < 2) {
            if (s->t[k] == '(' || s->t[k] == ')')
                r->parens = true;
            k++;
            n++;
        }
        if (!dig(at(s, k)) || (n == 2 && s->t[j] != ')' && s->t[k - 1] != '('))
            break;
        if (g > 0) {
            if (r->ng < 8) {
                r->ends[r->ng] = j;
                r->groups[r->ng++] = g;
            }
            g = 0;
        }
        char sc = (char)s->t[j] == ')' || (char)s->t[j] == '(' ? ' '
                                                               : (char)s->t[j];
        if (r->sep == 0)
            r->sep = sc;
        else if (r->sep != sc)
            r->mixed = true;
        r->dots += sc == '.';
        r->seps++;
        j = k;
    }
    if (g > 0 && r->ng < 8) {
        r->ends[r->ng] = r->b;
        r->groups[r->ng++] = g;
    }
    r->digits[r->nd < sizeof r->digits - 1 ? r->nd : sizeof r->digits - 1]
        = '\0';
}

/* The run at i starts a number (not inside a word or another number). */
static bool
number_start(const struct scan *s, size_t i)
{
    int p = before(s, i);
    if (p == ',' && i >= 2 && dig(s->t[i - 2]))
        return false; /* 1,234,567 */
    return !wordc(p) && p != '.' && p != '-' && p != '+' && p != '/';
}

static bool
number_end(const struct scan *s, size_t b)
{
    int c = at(s, b);
    return !wordc(c) && !(c == '.' && dig(at(s, b + 1)))
        && !(c == ',' && dig(at(s, b + 1))) && c != '/' && c != '@';
}

/* Words after which a number is an identifier (an order number), not a
   card or a phone. */
static const char *const id_words[] = {"order", "purchase", "invoice", "ticket",
    "tracking", "reference", "ref", "case", "flight", "booking", "reservation",
    "confirmation", "transaction", "shipment", "parcel", "package", "item",
    "sku", "receipt", "claim", "serial", "model"};

static bool
after_id_word(const struct scan *s, size_t a)
{
    size_t i = a;
    /* skip "#", ":", "no.", "number", "id" and spaces back to a word */
    for (int step = 0; step < 4 && i > 0; step++) {
        while (i > 0 && strchr(" #:.", s->t[i - 1]) != NULL)
            i--;
        size_t j = i;
        while (j > 0 && alpha(s->t[j - 1]))
            j--;
        if (j == i)
            return false;
        for (size_t k = 0; k < sizeof id_words / sizeof id_words[0]; k++) {
            size_t n = strlen(id_words[k]);
            if (i - j == n && strncmp(s->low + j, id_words[k], n) == 0)
                return true;
        }
        if (!((i - j == 2 && strncmp(s->low + j, "no", 2) == 0)
                || (i - j == 6 && strncmp(s->low + j, "number", 6) == 0)
                || (i - j == 2 && strncmp(s->low + j, "id", 2) == 0)))
            return false;
        i = j;
    }
    return false;
}

static void
find_cards(struct scan *s)
{
    struct run r;

    for (size_t i = 0; i < s->len; i++) {
        if (!dig(s->t[i]) || !number_start(s, i))
            continue;
        digit_run(s, i, " -", &r);
        if (after_id_word(s, i)) {
            i = r.b > i ? r.b - 1 : i;
            continue;
        }
        if (r.nd >= 13 && r.nd <= 19 && !r.mixed && number_end(s, r.b)
            && pii_luhn_ok(r.digits, r.nd)) {
            add(s, r.a, r.b, PII_CARD);
        } else {
            /* a card followed by another number: end at a group */
            size_t nd = 0;
            for (size_t g = 0; g < r.ng; g++) {
                nd += r.groups[g];
                if (nd >= 13 && nd <= 19 && pii_luhn_ok(r.digits, nd)) {
                    add(s, r.a, r.ends[g], PII_CARD);
                    break;
                }
            }
        }
        i = r.b > i ? r.b - 1 : i;
    }
}

static void
find_ssns(struct scan *s)
{
    for (size_t i = 0; i + 11 <= s->len; i++) {
        const unsigned char *t = s->t + i;
        if (!number_start(s, i) || !dig(t[0]) || !dig(t[1]) || !dig(t[2])
            || (t[3] != '-' && t[3] != ' ') || !dig(t[4]) || !dig(t[5])
            || t[6] != t[3] || !dig(t[7]) || !dig(t[8]) || !dig(t[9])
            || !dig(t[10]) || !number_end(s, i + 11))
            continue;
        int area = (t[0] - '0') * 100 + (t[1] - '0') * 10 + (t[2] - '0');
        bool group0 = t[4] == '0' && t[5] == '0';
        bool serial0
            = t[7] == '0' && t[8] == '0' && t[9] == '0' && t[10] == '0';
        if (area == 0 || area == 666 || area >= 900 || group0 || serial0)
            continue;
        add(s, i, i + 11, PII_SSN);
    }
}

static void
find_ips(struct scan *s)
{
    char buf[64];

    for (size_t i = 0; i < s->len; i++) {
        int c = s->t[i];
        bool hex = dig(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if ((!hex && c != ':') || wordc(before(s, i)) || before(s, i) == ':'
            || before(s, i) == '.')
            continue;
        size_t j = i, colons = 0, dots = 0;
        while (j < s->len && j - i < sizeof buf - 1) {
            int d = s->t[j];
            if (dig(d) || (d >= 'a' && d <= 'f') || (d >= 'A' && d <= 'F'))
                ;
            else if (d == ':')
                colons++;
            else if (d == '.' && dig(at(s, j + 1)))
                dots++;
            else
                break;
            j++;
        }
        if (wordc(at(s, j)))
            continue;
        memcpy(buf, s->t + i, j - i);
        buf[j - i] = '\0';
        unsigned char addr[16];
        if ((colons == 0 && dots == 3 && inet_pton(AF_INET, buf, addr) == 1)
            || (colons >= 2 && j - i >= 6
                && inet_pton(AF_INET6, buf, addr) == 1)) {
            add(s, i, j, PII_IP);
            i = j - 1;
        }
    }
}

/* A date such as 2024-01-31, 31.01.2024 or 01-31-2024. */
static bool
looks_like_date(const struct run *r)
{
    if (r->ng < 3 || r->sep == ' ')
        return false;
    size_t a = r->groups[0], b = r->groups[1], c = r->groups[2];
    if (a == 4 && b <= 2 && c <= 2)
        return true; /* 2024-01-31, maybe with a time */
    return r->ng == 3
        && ((a <= 2 && b <= 2 && c == 4) || (a <= 2 && b <= 2 && c == 2));
}

/* Words that make a number before them part of an address. */
static const char *const street_words[] = {"street", "st", "st.", "avenue",
    "ave", "road", "rd", "drive", "dr", "lane", "ln", "way", "place", "pl",
    "square", "sq", "boulevard", "blvd", "close", "court", "ct", "rue", "str",
    "str.", "strasse", "straße", "terrace", "crescent", "highway", "hwy",
    "parkway", "circle", "alley", "plaza", "via", "calle", "avenida"};

/* The number ending at b is followed, within three words, by a street
   word, or it follows "apt", "suite", "unit", "no." */
static bool
in_address(const struct scan *s, size_t a, size_t b)
{
    size_t i = b;
    for (int w = 0; w < 3 && i < s->len; w++) {
        while (i < s->len && s->t[i] == ' ')
            i++;
        size_t j = i;
        while (
            j < s->len && s->t[j] != ' ' && s->t[j] != '\n' && s->t[j] != ',')
            j++;
        for (size_t k = 0; k < sizeof street_words / sizeof street_words[0];
             k++)
            if (j - i == strlen(street_words[k])
                && strncmp(s->low + i, street_words[k], j - i) == 0)
                return true;
        if (j == i || (j < s->len && s->t[j] != ' '))
            break;
        i = j;
    }
    static const char *const units[]
        = {"apt. ", "apt ", "suite ", "unit ", "no. ", "flat "};
    for (size_t k = 0; k < sizeof units / sizeof units[0]; k++) {
        size_t n = strlen(units[k]);
        if (a >= n && strncmp(s->low + a - n, units[k], n) == 0)
            return true;
    }
    return false;
}

/* "x123" or "ext. 123" after a phone number: its extension's end, or b. */
static size_t
extension(const struct scan *s, size_t b)
{
    size_t i = b;
    if (at(s, i) == 'x')
        i++;
    else if (strncmp(s->low + b, "ext", 3) == 0)
        i = skip_sp(s, b + 3 + (at(s, b + 3) == '.'));
    else
        return b;
    size_t j = i;
    while (j < s->len && dig(s->t[j]) && j - i < 6)
        j++;
    return j > i && !wordc(at(s, j)) ? j : b;
}

static void
find_phones(struct scan *s)
{
    struct run r;

    for (size_t i = 0; i < s->len; i++) {
        int c = s->t[i];
        if ((!dig(c) && c != '+' && c != '(') || !number_start(s, i))
            continue;
        size_t start = i;
        if (c == '(' && !dig(at(s, i + 1)))
            continue;
        if (c == '(') {
            digit_run(s, i + 1, " -.()", &r);
            r.a = start;
            r.parens = true;
        } else {
            digit_run(s, i, " -.()", &r);
        }
        if (r.b == 0) {
            continue;
        }
        size_t ext = extension(s, r.b);
        bool ok = r.nd >= 7 && r.nd <= 15 && (ext > r.b || number_end(s, r.b))
            && free_range(s, r.a, ext) && !in_address(s, r.a, r.b)
            && !after_id_word(s, r.a);
        if (ok && r.seps == 0 && !r.plus && !r.parens)
            ok = r.nd >= 10; /* one run: long enough not to be an id */
        /* a date and time ("2024-01-31 12:30"), not a number */
        if (ok && at(s, r.b) == ':' && dig(at(s, r.b + 1)))
            ok = false;
        /* two groups: "17031 2202 Main St" or ZIP+4 unless it reads like
           a phone ("99 668472", "020 7946") */
        if (ok && r.ng == 2 && !r.plus && !r.parens)
            ok = r.groups[0] <= 3 || r.digits[0] == '0'
                || (r.groups[0] == 4 && r.groups[1] == 4);
        if (ok && r.seps > 0 && !r.plus) {
            size_t big = 0;
            for (size_t g = 0; g < r.ng; g++)
                big = r.groups[g] > big ? r.groups[g] : big;
            ok = big <= (r.digits[0] == '0' || r.parens ? 8u : 6u)
                && !looks_like_date(&r) && (r.dots == 0 || r.dots >= 2);
        }
        if (ok)
            add(s, r.a, ext, PII_PHONE);
        i = r.b > i ? r.b - 1 : i;
    }
}

/* ---- passwords -----------------------------------------------------------
 */

/* Words after "password is" that describe it rather than give it. */
static const char *const not_values[] = {"not", "wrong", "incorrect", "invalid",
    "expired", "expiring", "too", "being", "still", "no", "the", "a", "an",
    "my", "your", "reset", "correct", "working", "broken", "locked", "rejected",
    "blocked", "weak", "required", "missing", "changed", "changing", "lost",
    "forgotten", "forgot", "case", "same", "different", "also", "already",
    "very", "really", "now", "just", "stuck", "saved", "stored", "secure",
    "safe", "short", "long", "strong", "compromised", "hacked", "leaked",
    "stolen", "right", "ok", "okay", "fine", "good", "bad", "there", "here",
    "in", "on", "for", "of", "and", "or", "but", "it", "this", "that", "what",
    "which", "why", "how", "when", "where", "who", "empty", "blank", "needed",
    "necessary", "accepted", "recognized", "recognised", "valid", "set",
    "updated", "sensitive", "displayed", "shown", "visible", "asked",
    "requested", "sent", "mandatory", "optional", "unknown", "tied", "linked",
    "associated", "at", "to", "from", "with", "without", "by", "as", "if", "so",
    "because", "since", "after", "before", "please", "help", "i", "we", "you",
    "he", "she", "they", "been", "be", "was", "were", "are", "is", "has",
    "have", "had", "do", "does", "did", "can", "cant", "cannot", "could",
    "will", "would", "should", "might", "may", "must", "supposed", "expected",
    "all", "any", "some", "only", "even", "never", "always", "ever", "more",
    "less", "one", "two", "same", "like", "something", "anything", "nothing",
    "new", "old", "current", "temporary", "default", "sent", "emailed", "mine",
    "yours", "probably", "definitely", "due", "going", "getting", "get", "got",
    "used", "using", "unchanged", "different", "hidden", "encrypted", "hashed",
    "public", "private", "secret", "changed.", "required.", "about", "over",
    "under", "less"};

static bool
is_not_value(const char *low, size_t n)
{
    char w[24];
    if (n == 0 || n >= sizeof w)
        return n == 0;
    memcpy(w, low, n);
    w[n] = '\0';
    for (size_t k = 0; k < sizeof not_values / sizeof not_values[0]; k++)
        if (strcmp(w, not_values[k]) == 0)
            return true;
    return false;
}

static void
find_passwords(struct scan *s)
{
    static const char *const keys[]
        = {"password", "passwort", "passwd", "pass word", "pwd", "passcode",
            "passphrase", "pin", "pin code", "pin number"};

    for (size_t i = 0; i < s->len; i++) {
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            if (!word_at(s, i, keys[k]))
                continue;
            bool sep, punct;
            size_t v = after_key(s, i + strlen(keys[k]), &sep, &punct);
            if (!sep)
                break;
            bool quoted = at(s, v) == '"' || at(s, v) == '\'';
            v += quoted;
            size_t e = v;
            while (e < s->len && s->t[e] != '\n' && e - v < 128
                && (quoted ? s->t[e] != '"' && s->t[e] != '\''
                           : s->t[e] != ' ' && s->t[e] != '\t'))
                e++;
            /* trailing punctuation is the sentence's, not the password's */
            while (!quoted && e > v && strchr(".,;!?)\"'", s->t[e - 1]) != NULL)
                e--;
            if (e - v == 0)
                break;
            bool letters_only = true;
            for (size_t q = v; q < e; q++)
                letters_only &= alpha(s->t[q]);
            bool pin = keys[k][0] == 'p' && keys[k][1] == 'i';
            if (pin) {
                bool digits = e - v >= 4 && e - v <= 8;
                for (size_t q = v; q < e; q++)
                    digits &= dig(s->t[q]);
                if (digits)
                    add(s, v, e, PII_PASSWORD);
                break;
            }
            if (!quoted && !punct && letters_only
                && (e - v < 4 || last_verb_to
                    || is_not_value(s->low + v, e - v)))
                break;
            if (!quoted && punct && letters_only
                && is_not_value(s->low + v, e - v))
                break;
            add(s, v, e, PII_PASSWORD);
            break;
        }
    }
}

/* ---- public --------------------------------------------------------------
 */

static int
cmp_span(const void *a, const void *b)
{
    const struct pii_span *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

size_t
pii_find(const char *text, size_t len, struct pii_span *spans, size_t max)
{
    struct scan s;
    char *low;

    if (len > PII_MAX_TEXT)
        len = PII_MAX_TEXT;
    low = malloc(len + 1);
    bool *taken = calloc(len + 1, sizeof *taken);
    if (low == NULL || taken == NULL) {
        free(low);
        free(taken);
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        /* NULs (never in a checked message) end the string functions */
        low[i] = c == 0              ? ' '
            : (c >= 'A' && c <= 'Z') ? (char)(c + 32)
                                     : (char)c;
    }
    low[len] = '\0';
    s = (struct scan) {
        (const unsigned char *)text, low, len, taken, spans, 0, max};
    find_pem(&s);
    find_tokens(&s);
    find_keyed_tokens(&s);
    find_emails(&s);
    find_ibans(&s);
    find_cards(&s);
    find_ssns(&s);
    find_ips(&s);
    find_phones(&s);
    find_passwords(&s);
    qsort(spans, s.n, sizeof *spans, cmp_span);
    free(low);
    free(taken);
    return s.n;
}

char *
pii_redact(const char *text, size_t len, unsigned *kinds, int *count)
{
    size_t max = len + 1; /* a span holds at least one byte */
    struct pii_span *sp = malloc(max * sizeof *sp);
    char *out;

    *kinds = 0;
    *count = 0;
    if (sp == NULL)
        return NULL;
    size_t n = pii_find(text, len, sp, max);
    /* a placeholder is at most 10 bytes */
    size_t cap = len + n * 12 + 1;
    if ((out = malloc(cap)) == NULL) {
        free(sp);
        return NULL;
    }
    size_t o = 0, from = 0;
    for (size_t k = 0; k < n; k++) {
        const char *h = pii_placeholder(sp[k].kind);
        size_t hl = strlen(h);
        memcpy(out + o, text + from, sp[k].start - from);
        o += sp[k].start - from;
        memcpy(out + o, h, hl);
        o += hl;
        from = sp[k].end;
        *kinds |= 1u << sp[k].kind;
    }
    memcpy(out + o, text + from, len - from);
    o += len - from;
    out[o] = '\0';
    *count = (int)n;
    free(sp);
    return out;
}
