/* Routing table: a small strict JSON reader and an open-addressing host
 * index.  See table.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/jsonscan.h"
#include "lib/util.h"
#include "router/table.h"

#define JSON_MAX_DEPTH 16

struct host_slot {
        const char *host; /* NULL: empty slot */
        uint32_t len;
        uint32_t hash;
        struct table_app *app;
};

struct table {
        unsigned refs;
        uint64_t version;
        struct table_app *apps;
        size_t n_apps;
        struct host_slot *slots;
        size_t n_slots; /* a power of two */
        struct host_slot *names; /* app names -> apps, for table_lookup_app() */
        size_t n_names;          /* a power of two */
        char **strings; /* every host string we allocated */
        size_t n_strings, alloc_strings;
};

/* ---- a tiny JSON cursor ------------------------------------------------ */

struct json {
        const char *p, *end;
        const char *error;
};

static void ws(struct json *j)
{
        while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
                j->p++;
}

static bool eat(struct json *j, char c)
{
        ws(j);
        if (j->p < j->end && *j->p == c) {
                j->p++;
                return true;
        }
        return false;
}

static int jfail(struct json *j, const char *why)
{
        if (!j->error)
                j->error = why;
        return -EINVAL;
}

/* Reads a string into a malloc'd NUL-terminated copy.  Escapes are decoded;
 * \u escapes must be ASCII (names, hosts and ports are). */
static int jstring(struct json *j, char **ret)
{
        if (!eat(j, '"'))
                return jfail(j, "expected a string");
        size_t cap = 16, n = 0;
        char *s = malloc(cap);
        if (!s)
                return -ENOMEM;
        for (;;) {
                if (j->p >= j->end) {
                        free(s);
                        return jfail(j, "unterminated string");
                }
                char c = *j->p++;
                if (c == '"')
                        break;
                if ((unsigned char)c < 0x20) {
                        free(s);
                        return jfail(j, "control character in a string");
                }
                if (c == '\\') {
                        if (j->p >= j->end) {
                                free(s);
                                return jfail(j, "bad escape");
                        }
                        char e = *j->p++;
                        switch (e) {
                        case '"': case '\\': case '/': c = e; break;
                        case 'b': c = '\b'; break;
                        case 'f': c = '\f'; break;
                        case 'n': c = '\n'; break;
                        case 'r': c = '\r'; break;
                        case 't': c = '\t'; break;
                        case 'u': {
                                unsigned v = 0;
                                for (int i = 0; i < 4; i++) {
                                        char h = j->p < j->end ? *j->p++ : 0;
                                        v <<= 4;
                                        if (h >= '0' && h <= '9') v |= (unsigned)(h - '0');
                                        else if (h >= 'a' && h <= 'f') v |= (unsigned)(h - 'a' + 10);
                                        else if (h >= 'A' && h <= 'F') v |= (unsigned)(h - 'A' + 10);
                                        else { free(s); return jfail(j, "bad \\u escape"); }
                                }
                                if (v == 0 || v > 0x7f) {
                                        free(s);
                                        return jfail(j, "non-ASCII \\u escape");
                                }
                                c = (char)v;
                                break;
                        }
                        default:
                                free(s);
                                return jfail(j, "bad escape");
                        }
                }
                if (n + 1 >= cap) {
                        char *t = realloc(s, cap *= 2);
                        if (!t) {
                                free(s);
                                return -ENOMEM;
                        }
                        s = t;
                }
                s[n++] = c;
        }
        s[n] = '\0';
        *ret = s;
        return 0;
}

static int jskip(struct json *j, unsigned depth);

static int jskip_string(struct json *j)
{
        _cleanup_free_ char *s = NULL;
        return jstring(j, &s);
}

static int jskip(struct json *j, unsigned depth)
{
        if (depth > JSON_MAX_DEPTH)
                return jfail(j, "nested too deep");
        ws(j);
        if (j->p >= j->end)
                return jfail(j, "unexpected end");
        char c = *j->p;
        if (c == '"')
                return jskip_string(j);
        if (c == '{' || c == '[') {
                char close = c == '{' ? '}' : ']';
                j->p++;
                if (eat(j, close))
                        return 0;
                do {
                        if (c == '{') {
                                int r = jskip_string(j);
                                if (r < 0)
                                        return r;
                                if (!eat(j, ':'))
                                        return jfail(j, "expected ':'");
                        }
                        int r = jskip(j, depth + 1);
                        if (r < 0)
                                return r;
                } while (eat(j, ','));
                return eat(j, close) ? 0 : jfail(j, "expected ',' or a closing bracket");
        }
        const char *s = j->p;
        while (j->p < j->end && (strchr("+-.eE", *j->p) || (*j->p >= '0' && *j->p <= '9') ||
                                 (*j->p >= 'a' && *j->p <= 'z')))
                j->p++;
        size_t n = (size_t)(j->p - s);
        if (n == 0)
                return jfail(j, "unexpected character");
        if ((n == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "null", 4))) ||
            (n == 5 && !memcmp(s, "false", 5)))
                return 0;
        if (s[0] == '-' || (s[0] >= '0' && s[0] <= '9'))
                return 0;
        return jfail(j, "unexpected literal");
}

static int jbool(struct json *j, bool *ret)
{
        ws(j);
        if ((size_t)(j->end - j->p) >= 4 && !memcmp(j->p, "true", 4)) {
                j->p += 4;
                *ret = true;
                return 0;
        }
        if ((size_t)(j->end - j->p) >= 5 && !memcmp(j->p, "false", 5)) {
                j->p += 5;
                *ret = false;
                return 0;
        }
        return jfail(j, "expected true or false");
}

static int jport(struct json *j, uint16_t *ret)
{
        ws(j);
        unsigned v = 0, n = 0;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9' && n < 6) {
                v = v * 10 + (unsigned)(*j->p++ - '0');
                n++;
        }
        if (n == 0 || v == 0 || v > 65535 || (j->p < j->end && strchr(".eE", *j->p)))
                return jfail(j, "a port must be an integer from 1 to 65535");
        *ret = (uint16_t)v;
        return 0;
}

/* pierd's table version: a plain non-negative integer. */
static int jversion(struct json *j, uint64_t *ret)
{
        ws(j);
        uint64_t v = 0;
        unsigned n = 0;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
                if (++n > 19) /* up to 10^19 - 1: fits in 64 bits */
                        return jfail(j, "version too large");
                v = v * 10 + (uint64_t)(*j->p++ - '0');
        }
        if (n == 0 || (j->p < j->end && strchr(".eE", *j->p)))
                return jfail(j, "version must be a non-negative integer");
        *ret = v;
        return 0;
}

/* Iterates over the members of an object: returns 1 with the key, 0 at the
 * end, < 0 on error. */
static int jmember(struct json *j, bool first, char **ret_key)
{
        if (first) {
                if (!eat(j, '{'))
                        return jfail(j, "expected an object");
                if (eat(j, '}'))
                        return 0;
        } else {
                if (eat(j, '}'))
                        return 0;
                if (!eat(j, ','))
                        return jfail(j, "expected ',' or '}'");
        }
        int r = jstring(j, ret_key);
        if (r < 0)
                return r;
        if (!eat(j, ':')) {
                *ret_key = mfree(*ret_key);
                return jfail(j, "expected ':'");
        }
        return 1;
}

/* Same for arrays: 1 before each element, 0 at the end. */
static int jelement(struct json *j, bool first)
{
        if (first) {
                if (!eat(j, '['))
                        return jfail(j, "expected an array");
                if (eat(j, ']'))
                        return 0;
                return 1;
        }
        if (eat(j, ']'))
                return 0;
        if (!eat(j, ','))
                return jfail(j, "expected ',' or ']'");
        return 1;
}

/* ---- building ---------------------------------------------------------- */

static bool host_valid(const char *h)
{
        size_t n = strlen(h), i = 0;
        if (n == 0 || n > TABLE_HOST_MAX)
                return false;
        if (h[0] == '*') {
                /* a wildcard: "*." then a name, "*" as the first label only */
                if (n < 3 || h[1] != '.' || h[2] == '.')
                        return false;
                i = 2;
        }
        for (; i < n; i++) {
                char c = h[i];
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                      c == '_'))
                        return false;
        }
        return true;
}

#define HASH_SEED 2166136261u

/* FNV-1a; seed HASH_SEED, or the hash of a prefix to continue it. */
static uint32_t host_hash_from(uint32_t h, const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                h = (h ^ (uint8_t)s[i]) * 16777619u;
        return h;
}

static uint32_t host_hash(const char *s, size_t n)
{
        return host_hash_from(HASH_SEED, s, n);
}

static int keep_string(struct table *t, char *s)
{
        if (t->n_strings == t->alloc_strings) {
                size_t n = t->alloc_strings ? t->alloc_strings * 2 : 64;
                char **p = realloc(t->strings, n * sizeof(*p));
                if (!p)
                        return -ENOMEM;
                t->strings = p;
                t->alloc_strings = n;
        }
        t->strings[t->n_strings++] = s;
        return 0;
}

struct host_ref {
        char *host; /* owned by table->strings */
        size_t app;
};

struct builder {
        struct host_ref *hosts;
        size_t n_hosts, alloc_hosts;
};

static int add_host(struct table *t, struct builder *b, char *host, size_t app)
{
        for (char *p = host; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        *p = (char)(*p - 'A' + 'a');
        if (!host_valid(host)) {
                free(host);
                return -EINVAL;
        }
        int r = keep_string(t, host);
        if (r < 0) {
                free(host);
                return r;
        }
        if (b->n_hosts == b->alloc_hosts) {
                size_t n = b->alloc_hosts ? b->alloc_hosts * 2 : 64;
                struct host_ref *p = realloc(b->hosts, n * sizeof(*p));
                if (!p)
                        return -ENOMEM;
                b->hosts = p;
                b->alloc_hosts = n;
        }
        b->hosts[b->n_hosts++] = (struct host_ref){host, app};
        return 0;
}

static int parse_dyno(struct json *j, struct table_dyno *d)
{
        bool first = true, have_port = false;
        char *key = NULL;
        int r;
        d->name[0] = '\0';
        while ((r = jmember(j, first, &key)) > 0) {
                first = false;
                if (streq(key, "name")) {
                        _cleanup_free_ char *s = NULL;
                        r = jstring(j, &s);
                        if (r >= 0 && (!s[0] || strlen(s) > TABLE_DYNO_NAME_MAX ||
                                       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(s)))
                                r = jfail(j, "bad dyno name");
                        if (r >= 0)
                                memcpy(d->name, s, strlen(s) + 1);
                } else if (streq(key, "port")) {
                        r = jport(j, &d->port);
                        have_port = r >= 0;
                } else {
                        r = jskip(j, 3);
                }
                key = mfree(key);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        if (!have_port)
                return jfail(j, "a dyno needs a port");
        if (!d->name[0])
                memcpy(d->name, "web", 4);
        return 0;
}

static int parse_app(struct json *j, struct table *t, struct builder *b, size_t idx)
{
        struct table_app *a = &t->apps[idx];
        bool first = true;
        char *key = NULL;
        int r;
        while ((r = jmember(j, first, &key)) > 0) {
                first = false;
                if (streq(key, "name")) {
                        char *s = NULL;
                        r = jstring(j, &s);
                        if (r >= 0) {
                                free(a->name);
                                a->name = s;
                                if (!s[0] || strlen(s) > 63)
                                        r = jfail(j, "bad app name");
                        }
                } else if (streq(key, "id")) {
                        char *s = NULL;
                        r = jstring(j, &s);
                        if (r >= 0) {
                                free(a->id);
                                a->id = s;
                                /* it goes into log lines unquoted */
                                if (!s[0] || strlen(s) > 63 ||
                                    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(s))
                                        r = jfail(j, "bad app id");
                        }
                } else if (streq(key, "maintenance")) {
                        r = jbool(j, &a->maintenance);
                } else if (streq(key, "crashed")) {
                        r = jbool(j, &a->crashed);
                } else if (streq(key, "deployed")) {
                        r = jbool(j, &a->deployed);
                } else if (streq(key, "starting")) {
                        r = jbool(j, &a->starting);
                } else if (streq(key, "hosts")) {
                        bool f = true;
                        size_t n = 0;
                        while ((r = jelement(j, f)) > 0) {
                                f = false;
                                char *h = NULL;
                                r = jstring(j, &h);
                                if (r < 0)
                                        break;
                                if (++n > TABLE_MAX_HOSTS) {
                                        free(h);
                                        r = jfail(j, "too many hosts");
                                        break;
                                }
                                r = add_host(t, b, h, idx);
                                if (r == -EINVAL)
                                        r = jfail(j, "bad host name");
                                if (r < 0)
                                        break;
                        }
                } else if (streq(key, "dynos")) {
                        bool f = true;
                        while ((r = jelement(j, f)) > 0) {
                                f = false;
                                if (a->n_dynos >= TABLE_MAX_DYNOS) {
                                        r = jfail(j, "too many dynos");
                                        break;
                                }
                                if ((a->n_dynos & (a->n_dynos - 1)) == 0) {
                                        /* grow at 0, 1, 2, 4, 8, ... */
                                        size_t n = a->n_dynos ? a->n_dynos * 2 : 1;
                                        struct table_dyno *p = realloc(a->dynos, n * sizeof(*p));
                                        if (!p) {
                                                r = -ENOMEM;
                                                break;
                                        }
                                        a->dynos = p;
                                }
                                r = parse_dyno(j, &a->dynos[a->n_dynos]);
                                if (r < 0)
                                        break;
                                a->n_dynos++;
                        }
                } else {
                        r = jskip(j, 2);
                }
                key = mfree(key);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        if (!a->name)
                return jfail(j, "an app needs a name");
        return 0;
}

/* An open-addressing index at least twice as big as its keys; the first
 * app to claim a key keeps it. */
static int index_new(struct host_slot **ret, size_t *ret_n, size_t n_keys)
{
        size_t n = 16;
        while (n < n_keys * 2)
                n <<= 1;
        *ret = calloc(n, sizeof(**ret));
        if (!*ret)
                return -ENOMEM;
        *ret_n = n;
        return 0;
}

static void index_add(struct host_slot *slots, size_t n, const char *key, struct table_app *app)
{
        uint32_t len = (uint32_t)strlen(key), hash = host_hash(key, len);
        for (size_t s = hash & (n - 1);; s = (s + 1) & (n - 1)) {
                struct host_slot *slot = &slots[s];
                if (!slot->host) {
                        *slot = (struct host_slot){key, len, hash, app};
                        return;
                }
                if (slot->hash == hash && slot->len == len && !memcmp(slot->host, key, len))
                        return;
        }
}

static int index_hosts(struct table *t, struct builder *b)
{
        int r = index_new(&t->slots, &t->n_slots, b->n_hosts);
        if (r < 0)
                return r;
        for (size_t i = 0; i < b->n_hosts; i++)
                index_add(t->slots, t->n_slots, b->hosts[i].host, &t->apps[b->hosts[i].app]);
        r = index_new(&t->names, &t->n_names, t->n_apps);
        if (r < 0)
                return r;
        for (size_t i = 0; i < t->n_apps; i++)
                index_add(t->names, t->n_names, t->apps[i].name, &t->apps[i]);
        return 0;
}

static void table_free(struct table *t)
{
        if (!t)
                return;
        for (size_t i = 0; i < t->n_apps; i++) {
                free(t->apps[i].name);
                free(t->apps[i].id);
                free(t->apps[i].dynos);
        }
        free(t->apps);
        for (size_t i = 0; i < t->n_strings; i++)
                free(t->strings[i]);
        free(t->strings);
        free(t->slots);
        free(t->names);
        free(t);
}

int table_parse(const char *json, size_t len, const char *domain, struct table **ret,
                const char **ret_error)
{
        struct json j = {.p = json, .end = json + len};
        struct builder b = {0};
        struct table *t = calloc(1, sizeof(*t));
        size_t alloc_apps = 0;
        bool first = true, seen_apps = false;
        char *key = NULL;
        int r;

        if (!t)
                return -ENOMEM;
        t->refs = 1;
        if (!json_depth_ok(json, len, JSON_MAX_DEPTH)) {
                r = jfail(&j, "nested too deep");
                goto fail;
        }
        while ((r = jmember(&j, first, &key)) > 0) {
                first = false;
                if (streq(key, "apps")) {
                        bool f = true;
                        seen_apps = true;
                        while ((r = jelement(&j, f)) > 0) {
                                f = false;
                                if (t->n_apps >= TABLE_MAX_APPS) {
                                        r = jfail(&j, "too many apps");
                                        break;
                                }
                                if (t->n_apps == alloc_apps) {
                                        size_t n = alloc_apps ? alloc_apps * 2 : 16;
                                        struct table_app *p = realloc(t->apps, n * sizeof(*p));
                                        if (!p) {
                                                r = -ENOMEM;
                                                break;
                                        }
                                        t->apps = p;
                                        alloc_apps = n;
                                }
                                t->apps[t->n_apps] = (struct table_app){.deployed = true};
                                t->n_apps++;
                                r = parse_app(&j, t, &b, t->n_apps - 1);
                                if (r < 0)
                                        break;
                        }
                } else if (streq(key, "version")) {
                        r = jversion(&j, &t->version);
                } else {
                        r = jskip(&j, 1);
                }
                key = mfree(key);
                if (r < 0)
                        break;
        }
        if (r < 0)
                goto fail;
        ws(&j);
        if (j.p != j.end) {
                r = jfail(&j, "trailing data after the table");
                goto fail;
        }
        if (!seen_apps) {
                r = jfail(&j, "no \"apps\" array");
                goto fail;
        }
        if (domain && *domain) {
                for (size_t i = 0; i < t->n_apps; i++) {
                        size_t n = strlen(t->apps[i].name) + 1 + strlen(domain) + 1;
                        char *h = malloc(n);
                        if (!h) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        snprintf(h, n, "%s.%s", t->apps[i].name, domain);
                        r = add_host(t, &b, h, i);
                        if (r == -EINVAL)
                                r = 0; /* the name makes no host name: explicit hosts only */
                        if (r < 0)
                                goto fail;
                }
        }
        r = index_hosts(t, &b);
        if (r < 0)
                goto fail;
        free(b.hosts);
        *ret = t;
        return 0;
fail:
        if (ret_error)
                *ret_error = j.error ? j.error : "out of memory";
        free(b.hosts);
        table_free(t);
        return r;
}

struct table *table_ref(struct table *t)
{
        if (t)
                t->refs++;
        return t;
}

void table_unref(struct table *t)
{
        if (t && --t->refs == 0)
                table_free(t);
}

uint64_t table_version(const struct table *t)
{
        return t ? t->version : 0;
}

size_t table_n_apps(const struct table *t)
{
        return t ? t->n_apps : 0;
}

/* The slot of key (prefix, then s[0..n)), or NULL. */
static struct table_app *index_find(const struct host_slot *slots, size_t n_slots,
                                    const char *prefix, size_t plen, const char *s, size_t n)
{
        if (!n_slots)
                return NULL;
        uint32_t hash = host_hash_from(host_hash(prefix, plen), s, n);
        for (size_t i = hash & (n_slots - 1);; i = (i + 1) & (n_slots - 1)) {
                const struct host_slot *slot = &slots[i];
                if (!slot->host)
                        return NULL;
                if (slot->hash == hash && slot->len == plen + n &&
                    !memcmp(slot->host, prefix, plen) && !memcmp(slot->host + plen, s, n))
                        return slot->app;
        }
}

struct table_app *table_lookup(const struct table *t, const char *host, size_t len)
{
        if (!t || len == 0 || host[0] == '*') /* "*.example.com" is no name to ask for */
                return NULL;
        struct table_app *a = index_find(t->slots, t->n_slots, "", 0, host, len);
        if (a)
                return a;
        /* "a.example.com" -> "*.example.com": one label, as in DNS */
        const char *dot = memchr(host, '.', len);
        if (!dot || dot == host || dot + 1 == host + len)
                return NULL;
        return index_find(t->slots, t->n_slots, "*", 1, dot, len - (size_t)(dot - host));
}

struct table_app *table_lookup_app(const struct table *t, const char *name)
{
        return t ? index_find(t->names, t->n_names, "", 0, name, strlen(name)) : NULL;
}
