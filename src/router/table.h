/* The routing table: hostname -> app -> web dynos.
 *
 * A table is immutable once built and reference-counted (single-threaded:
 * each router worker owns its tables; the count is a plain integer).  The
 * worker holds one reference for "the current table"; every request in
 * flight holds another, so a reload swaps the whole table at once while
 * requests keep the table they started with.  table_unref() frees it when
 * the last reference goes.
 *
 * Where tables come from is not this file's business: table_parse() takes
 * the JSON text, whatever delivered it (a file named by --table, or the file
 * that watch.c keeps up to date from pierd's GET /router/table):
 *
 *     {"version": 7,
 *      "apps": [{"id": "6f1c...", "name": "myapp",
 *                "hosts": ["myapp.localhost", "www.example.com", "*.example.org"],
 *                "maintenance": false, "crashed": false, "deployed": true,
 *                "starting": false,
 *                "dynos": [{"name": "web.1", "port": 41001}]}]}
 *
 * "version" (pierd's, optional) is not used for routing, only reported by
 * table_version(): 0 when absent.  Every app is also reachable at NAME.DOMAIN when a domain is given.
 * "id" (optional) is what access-log lines name the app by (default: the
 * name).  "deployed" (default true): false when nothing was ever deployed
 * (H81).  "starting" (default false): web dynos are booting, none is up yet
 * (requests wait for one, then H20).  A host "*.example.org" matches any
 * one label in its place ("a.example.org", not "a.b.example.org" nor
 * "example.org"), as DNS wildcards do; an exact host wins over a wildcard.
 * Unknown keys are ignored; wrong types, bad names and bad ports are errors
 * (the caller keeps its previous table).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TABLE_MAX_APPS      100000
#define TABLE_MAX_DYNOS     1000 /* per app */
#define TABLE_MAX_HOSTS     1000 /* per app */
#define TABLE_HOST_MAX      253
#define TABLE_DYNO_NAME_MAX 31

struct table_dyno {
        char name[TABLE_DYNO_NAME_MAX + 1];
        uint16_t port; /* on 127.0.0.1 */
};

struct table_app {
        char *name;
        char *id; /* "id", or NULL: the name stands for it */
        bool maintenance;
        bool crashed;
        bool deployed;
        bool starting;
        struct table_dyno *dynos;
        uint32_t n_dynos;
        /* The one mutable field: the router worker's count of requests
         * waiting for a dyno of this app (its backlog).  The parser sets 0;
         * the worker moves waiting requests to a new table and counts them
         * there. */
        uint32_t n_waiting;
};

struct table;

/* Returns 0 or -EINVAL (with *ret_error a static description) / -ENOMEM.
 * The new table has one reference. */
int table_parse(const char *json, size_t len, const char *domain, struct table **ret,
                const char **ret_error);

struct table *table_ref(struct table *t);
void table_unref(struct table *t);

size_t table_n_apps(const struct table *t);
uint64_t table_version(const struct table *t);

/* host: lowercase, no port, len bytes (not NUL-terminated).  An exact host
 * first, then "*." and the host without its first label.  NULL when the
 * host is not in the table. */
struct table_app *table_lookup(const struct table *t, const char *host, size_t len);

/* The app named name (NUL-terminated), or NULL. */
struct table_app *table_lookup_app(const struct table *t, const char *name);
