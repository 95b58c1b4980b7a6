/* The state store: the only source of truth for apps, config vars,
 * releases, custom domains, log drains and API tokens.
 *
 * One `struct store` is one open database (SQLite in WAL mode today,
 * PostgreSQL later behind the same calls).  Every call that changes state
 * is one transaction: on any error nothing of it is kept.  Calls return 0
 * or a negative errno:
 *
 *   -ENOENT   no such app / release / token
 *   -EEXIST   name (or hostname) taken
 *   -E2BIG    a limit is exceeded (config size, domains per app)
 *   -EIO      the database failed (store_errmsg() says how)
 *
 * Objects handed out (`struct app`, `struct release`, lists, ...) belong to
 * the caller, who frees them with the matching *_free() (NULL is fine).
 * Output parameters are untouched on failure.  Times are microseconds since
 * the epoch (UTC).  Not thread-safe: one loop owns the store.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_CONFIG_MAX_BYTES (32 * 1024) /* keys + values per app */
/* Each app's builds and dynos run as their own unprivileged uid (and gid),
 * STORE_APP_UID_BASE + a number, far above the uids Debian hands out. */
#define STORE_APP_UID_BASE 100000

struct store;

int store_open(const char *path, struct store **ret);
struct store *store_close(struct store *s);
/* The last database error in words, for logs. */
const char *store_errmsg(struct store *s);
/* The schema version after migrations. */
int store_schema_version(struct store *s);

/* ---- apps ---- */

struct app {
        char id[37];
        char *name;
        char *owner; /* user (email-like) who created it */
        int64_t created_at;
        int64_t updated_at;
        int64_t released_at; /* of the current release */
        bool maintenance;
        uint32_t uid;
};

struct app_list {
        size_t n;
        struct app *apps;
};

/* Creates the app and its release v1 "Initial release". */
int store_app_create(struct store *s, const char *name, const char *owner, struct app **ret);
/* By name or by id. */
int store_app_get(struct store *s, const char *name_or_id, struct app **ret);
int store_app_list(struct store *s, struct app_list **ret); /* sorted by name */
int store_app_rename(struct store *s, const char *app_id, const char *new_name);
/* Maintenance mode: the router answers every request with H80. */
int store_app_set_maintenance(struct store *s, const char *app_id, bool on);
/* Removes the app and everything that belongs to it. */
int store_app_destroy(struct store *s, const char *app_id);
void app_free(struct app *a);
void app_list_free(struct app_list *l);

/* ---- config vars ---- */

struct config_var {
        char *key;
        char *value; /* NUL-terminated; may be NULL in a change set: unset */
        size_t value_len;
};

struct config {
        size_t n;
        struct config_var *vars; /* sorted by key */
};

int store_config_get(struct store *s, const char *app_id, struct config **ret);
/* Applies `changes` (value NULL = remove) and makes a new release with
 * `description` (pending when it has a release command, see
 * store_release_deploy), all in one transaction.  -E2BIG when the result
 * would exceed STORE_CONFIG_MAX_BYTES. */
int store_config_update(struct store *s, const char *app_id, const struct config *changes,
                        const char *user, const char *description, int64_t *ret_version);
void config_free(struct config *c);

/* ---- releases ---- */

struct release {
        char id[37];
        char app_id[37];
        int64_t version;
        char *description;
        char *user;
        char *status; /* "succeeded", "pending", "failed" */
        char *slug_id; /* NULL until a build made one */
        char *process_types; /* JSON object text, "{}" when none */
        int64_t created_at;
        int64_t updated_at;
        bool current;
};

struct release_list {
        size_t n;
        struct release *releases; /* newest first */
};

int store_release_list(struct store *s, const char *app_id, struct release_list **ret);
/* By version number or by id. */
int store_release_get(struct store *s, const char *app_id, int64_t version, struct release **ret);
int store_release_get_by_id(struct store *s, const char *app_id, const char *id,
                            struct release **ret);
/* The config vars as they were in that release. */
int store_release_config(struct store *s, const char *app_id, int64_t version,
                         struct config **ret);
/* A release of a slug the builder made (its file already in place):
 * records the slug and makes the release with the current config vars. */
struct slug {
        char id[37];
        char *commit;
        int64_t size;
        char *process_types; /* JSON object text */
        char *buildpack;     /* e.g. "Python" */
        int64_t created_at;
};
/* Every new release whose process types have a "release" command (SPEC
 * §3) is made "pending": it is not current until store_release_set_status()
 * says it succeeded.  That holds for deploys, config changes and rollbacks
 * alike. */
int store_release_deploy(struct store *s, const char *app_id, const struct slug *slug,
                         const char *user, const char *description, int64_t *ret_version);
/* A pending release → "succeeded" (current now, if it is the newest) or
 * "failed".  -ENOENT when there is no such pending release. */
int store_release_set_status(struct store *s, const char *app_id, int64_t version,
                             const char *status);
/* A new release with version `version`'s slug and config vars; the app's
 * config vars are set back to those.  Description "Rollback to vN". */
int store_release_rollback(struct store *s, const char *app_id, int64_t version,
                           const char *user, int64_t *ret_version);
/* Marks a release failed (its web dynos never came up): the newest
 * succeeded release before it is current again. */
int store_release_fail(struct store *s, const char *app_id, int64_t version);
/* At start: a release still pending lost its release command with the
 * pierd that ran it (killed), so it failed.  *ret_n: how many. */
int store_release_fail_pending(struct store *s, int *ret_n);
int store_slug_get(struct store *s, const char *app_id, const char *slug_id, struct slug **ret);
void slug_free(struct slug *s);
void release_free(struct release *r);
void release_list_free(struct release_list *l);

/* ---- buildpacks ---- */

struct buildpack_list {
        size_t n;
        char **urls; /* in order; a built-in name or a git URL */
};
int store_buildpacks_get(struct store *s, const char *app_id, struct buildpack_list **ret);
int store_buildpacks_set(struct store *s, const char *app_id, const struct buildpack_list *l);
void buildpack_list_free(struct buildpack_list *l);

/* ---- formation ---- */

struct formation_item {
        char *type;
        int quantity; /* in a change set: -1 = leave as is */
        char *size;   /* "standard-1x", "standard-2x"; in a change set NULL = leave */
};

struct formation {
        size_t n;
        struct formation_item *items; /* sorted by type */
};

int store_formation_get(struct store *s, const char *app_id, struct formation **ret);
/* Applies the changes in one transaction (types not yet there are added). */
int store_formation_update(struct store *s, const char *app_id, const struct formation *changes);
void formation_free(struct formation *f);

/* ---- custom domains ---- */

/* At most this many custom domains per app: the routing table carries
 * them all, and pier-router takes at most 1000 hosts an app. */
#define STORE_DOMAINS_MAX 100

struct domain {
        char id[37];
        char app_id[37];
        char *hostname; /* as given: the caller checks and lower-cases it */
        int64_t created_at;
};

struct domain_list {
        size_t n;
        struct domain *domains; /* sorted by hostname */
};

int store_domain_list(struct store *s, const char *app_id, struct domain_list **ret);
/* -EEXIST: some app (this one or another) has the hostname already;
 * -E2BIG: the app has STORE_DOMAINS_MAX already. */
int store_domain_add(struct store *s, const char *app_id, const char *hostname,
                     struct domain **ret);
/* The app's domain by hostname or by id; -ENOENT when it has none such. */
int store_domain_get(struct store *s, const char *app_id, const char *hostname_or_id,
                     struct domain **ret);
/* Whichever app has the hostname (for saying who has it); -ENOENT. */
int store_domain_find(struct store *s, const char *hostname, struct domain **ret);
/* By hostname or id; -ENOENT when the app has no such domain. */
int store_domain_remove(struct store *s, const char *app_id, const char *hostname_or_id);
void domain_free(struct domain *d);
void domain_list_free(struct domain_list *l);

/* ---- log drains ---- */

/* At most this many drains per app: each holds a queue of lines in pierd. */
#define STORE_DRAINS_MAX 20

struct drain {
        char id[37];
        char app_id[37];
        char *url;      /* as given: the caller checks it (lib/drainurl.h) */
        char token[39]; /* "d.<uuid>", made by the store: the drain's name at
                           the receiving end */
        int64_t created_at;
};

struct drain_list {
        size_t n;
        struct drain *drains; /* oldest first */
};

int store_drain_list(struct store *s, const char *app_id, struct drain_list **ret);
/* Every app's drains, by app (pierd loads them at start). */
int store_drain_list_all(struct store *s, struct drain_list **ret);
/* -EEXIST: the app has that URL already; -E2BIG: it has STORE_DRAINS_MAX;
 * -ENOENT: no such app. */
int store_drain_add(struct store *s, const char *app_id, const char *url, struct drain **ret);
/* The app's drain by URL, id or token; -ENOENT when it has none such. */
int store_drain_get(struct store *s, const char *app_id, const char *url_or_id,
                    struct drain **ret);
int store_drain_remove(struct store *s, const char *app_id, const char *url_or_id);
void drain_free(struct drain *d);
void drain_list_free(struct drain_list *l);

/* ---- API tokens ---- */

struct token {
        char id[37];
        char *user;
        char *scope; /* "global" or "read" */
        char *description;
        int64_t created_at;
};

struct token_list {
        size_t n;
        struct token *tokens;
};

/* Only the hash of a token is ever stored (hex SHA-256). */
int store_token_create(struct store *s, const char *hash_hex, const char *user,
                       const char *scope, const char *description, struct token **ret);
int store_token_find(struct store *s, const char *hash_hex, struct token **ret);
int store_token_list(struct store *s, struct token_list **ret);
int store_token_delete(struct store *s, const char *id);
int store_token_count(struct store *s, int64_t *ret);
void token_free(struct token *t);
void token_list_free(struct token_list *l);

/* For __attribute__((cleanup)): `_cleanup_(app_freep) struct app *a = NULL;` */
static inline void app_freep(struct app **p) { app_free(*p); }
static inline void app_list_freep(struct app_list **p) { app_list_free(*p); }
static inline void config_freep(struct config **p) { config_free(*p); }
static inline void release_freep(struct release **p) { release_free(*p); }
static inline void release_list_freep(struct release_list **p) { release_list_free(*p); }
static inline void slug_freep(struct slug **p) { slug_free(*p); }
static inline void buildpack_list_freep(struct buildpack_list **p) { buildpack_list_free(*p); }
static inline void formation_freep(struct formation **p) { formation_free(*p); }
static inline void domain_freep(struct domain **p) { domain_free(*p); }
static inline void domain_list_freep(struct domain_list **p) { domain_list_free(*p); }
static inline void drain_freep(struct drain **p) { drain_free(*p); }
static inline void drain_list_freep(struct drain_list **p) { drain_list_free(*p); }
static inline void token_freep(struct token **p) { token_free(*p); }
static inline void token_list_freep(struct token_list **p) { token_list_free(*p); }
