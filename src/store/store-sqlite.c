/* The state store on SQLite: WAL mode, synchronous=FULL (a committed change
 * survives a crash of the process or the machine), foreign keys on, and a
 * schema version in PRAGMA user_version with forward-only migrations run at
 * open.  See store.h for the contract. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "lib/rand.h"
#include "lib/timefmt.h"
#include "lib/util.h"
#include "store/store.h"

struct store {
        sqlite3 *db;
};

/* Each entry moves the schema from version i to i+1.  Never edit one that
 * has shipped: add a new one. */
static const char *const migrations[] = {
        /* 1: apps, config vars, releases, tokens */
        "CREATE TABLE apps ("
        "  id TEXT PRIMARY KEY,"
        "  name TEXT NOT NULL UNIQUE,"
        "  owner TEXT NOT NULL,"
        "  created_at INTEGER NOT NULL,"
        "  updated_at INTEGER NOT NULL,"
        "  maintenance INTEGER NOT NULL DEFAULT 0,"
        "  release_seq INTEGER NOT NULL DEFAULT 0"
        ");"
        "CREATE TABLE config_vars ("
        "  app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
        "  key TEXT NOT NULL,"
        "  value BLOB NOT NULL,"
        "  PRIMARY KEY (app_id, key)"
        ") WITHOUT ROWID;"
        "CREATE TABLE releases ("
        "  id TEXT PRIMARY KEY,"
        "  app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
        "  version INTEGER NOT NULL,"
        "  description TEXT NOT NULL,"
        "  user TEXT NOT NULL,"
        "  status TEXT NOT NULL,"
        "  slug_id TEXT,"
        "  process_types TEXT NOT NULL DEFAULT '{}',"
        "  created_at INTEGER NOT NULL,"
        "  updated_at INTEGER NOT NULL,"
        "  UNIQUE (app_id, version)"
        ");"
        "CREATE TABLE release_config ("
        "  release_id TEXT NOT NULL REFERENCES releases(id) ON DELETE CASCADE,"
        "  key TEXT NOT NULL,"
        "  value BLOB NOT NULL,"
        "  PRIMARY KEY (release_id, key)"
        ") WITHOUT ROWID;"
        "CREATE TABLE tokens ("
        "  id TEXT PRIMARY KEY,"
        "  hash TEXT NOT NULL UNIQUE,"
        "  user TEXT NOT NULL,"
        "  scope TEXT NOT NULL,"
        "  description TEXT NOT NULL DEFAULT '',"
        "  created_at INTEGER NOT NULL"
        ");",
        /* 2: deploys — slugs, buildpacks, an unprivileged uid per app */
        "CREATE TABLE slugs ("
        "  id TEXT PRIMARY KEY,"
        "  app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
        "  commit_sha TEXT NOT NULL,"
        "  size INTEGER NOT NULL,"
        "  process_types TEXT NOT NULL,"
        "  buildpack TEXT NOT NULL,"
        "  created_at INTEGER NOT NULL"
        ");"
        "CREATE TABLE app_buildpacks ("
        "  app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
        "  ordinal INTEGER NOT NULL,"
        "  url TEXT NOT NULL,"
        "  PRIMARY KEY (app_id, ordinal)"
        ") WITHOUT ROWID;"
        "ALTER TABLE apps ADD COLUMN uid INTEGER NOT NULL DEFAULT 0;"
        "UPDATE apps SET uid = 100000 + rowid;" /* STORE_APP_UID_BASE */
        /* released_at kept with the app: listing apps is a plain scan */
        "ALTER TABLE apps ADD COLUMN released_at INTEGER NOT NULL DEFAULT 0;"
        "UPDATE apps SET released_at = (SELECT MAX(created_at) FROM releases"
        "  WHERE app_id = apps.id AND status = 'succeeded');",
        /* 3: the formation — how many dynos of each process type, what size */
        "CREATE TABLE formation ("
        "  app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
        "  type TEXT NOT NULL,"
        "  quantity INTEGER NOT NULL,"
        "  size TEXT NOT NULL DEFAULT 'standard-1x',"
        "  PRIMARY KEY (app_id, type)"
        ") WITHOUT ROWID;",
        /* 4: custom domains — a hostname belongs to at most one app */
        "CREATE TABLE domains ("
        "  id TEXT PRIMARY KEY,"
        "  app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
        "  hostname TEXT NOT NULL UNIQUE,"
        "  created_at INTEGER NOT NULL"
        ");"
        "CREATE INDEX domains_by_app ON domains (app_id, hostname);",
        /* 5: log drains — each URL once per app, a token each */
        "CREATE TABLE drains ("
        "  id TEXT PRIMARY KEY,"
        "  app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,"
        "  url TEXT NOT NULL,"
        "  token TEXT NOT NULL UNIQUE,"
        "  created_at INTEGER NOT NULL,"
        "  UNIQUE (app_id, url)"
        ");",
};

const char *store_errmsg(struct store *s)
{
        return sqlite3_errmsg(s->db);
}

static int sql_error(int rc)
{
        switch (rc & 0xff) { /* extended codes: the primary is the low byte */
        case SQLITE_OK:
        case SQLITE_DONE:
        case SQLITE_ROW:
                return 0;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        default:
                return -EIO;
        }
}

static int exec(struct store *s, const char *sql)
{
        return sql_error(sqlite3_exec(s->db, sql, NULL, NULL, NULL));
}

static void finalizep(sqlite3_stmt **st)
{
        sqlite3_finalize(*st);
}
#define _cleanup_stmt_ __attribute__((cleanup(finalizep)))

/* Prepare `sql` and bind the arguments described by `types`:
 * 's' const char * (NULL binds NULL), 'i' int64_t,
 * 'b' const void * then size_t (a blob). */
static int vprepare(struct store *s, sqlite3_stmt **ret, const char *sql, const char *types,
                    va_list ap)
{
        sqlite3_stmt *st;
        int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return sql_error(rc);

        for (int i = 0; types[i] && rc == SQLITE_OK; i++) {
                switch (types[i]) {
                case 's':
                        rc = sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1,
                                               SQLITE_TRANSIENT);
                        break;
                case 'i':
                        rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
                        break;
                case 'b': {
                        const void *p = va_arg(ap, const void *);
                        size_t n = va_arg(ap, size_t);
                        rc = sqlite3_bind_blob64(st, i + 1, p, n, SQLITE_TRANSIENT);
                        break;
                }
                default:
                        rc = SQLITE_MISUSE;
                }
        }
        if (rc != SQLITE_OK) {
                sqlite3_finalize(st);
                return sql_error(rc);
        }
        *ret = st;
        return 0;
}

static int prepare(struct store *s, sqlite3_stmt **ret, const char *sql, const char *types, ...)
{
        va_list ap;
        va_start(ap, types);
        int r = vprepare(s, ret, sql, types, ap);
        va_end(ap);
        return r;
}

/* Run a statement that returns no rows. */
static int run(struct store *s, const char *sql, const char *types, ...)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        va_list ap;
        va_start(ap, types);
        int r = vprepare(s, &st, sql, types, ap);
        va_end(ap);
        if (r < 0)
                return r;
        int rc = sqlite3_step(st);
        return rc == SQLITE_DONE ? 0 : sql_error(rc);
}

/* Make room for one more element in a growing array. */
static int grow(void *arrayp, size_t *alloc, size_t n, size_t size)
{
        if (n < *alloc)
                return 0;
        size_t na = *alloc ? *alloc * 2 : 16;
        void *p = reallocarray(*(void **)arrayp, na, size);
        if (!p)
                return -ENOMEM;
        *(void **)arrayp = p;
        *alloc = na;
        return 0;
}

/* Steps `st` to its end, appending each row to a growing array of
 * `size`-byte items made by from_row().  On failure *n counts only the
 * items made whole, so the caller's free function can free them. */
static int read_rows(sqlite3_stmt *st, void *arrayp, size_t *n, size_t size,
                     int (*from_row)(sqlite3_stmt *st, void *item))
{
        size_t alloc = 0;
        int rc, r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                r = grow(arrayp, &alloc, *n, size);
                if (r < 0)
                        return r;
                r = from_row(st, (char *)*(void **)arrayp + *n * size);
                if (r < 0)
                        return r;
                (*n)++;
        }
        return rc == SQLITE_DONE ? 0 : sql_error(rc);
}

/* Steps `st` once: the row as a new `size`-byte item made by from_row(),
 * in *(void **)retp; -ENOENT when there is none. */
static int read_one(sqlite3_stmt *st, size_t size, int (*from_row)(sqlite3_stmt *st, void *item),
                    void *retp)
{
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return sql_error(rc);
        void *item = malloc(size);
        if (!item)
                return -ENOMEM;
        int r = from_row(st, item);
        if (r < 0) {
                free(item);
                return r;
        }
        *(void **)retp = item;
        return 0;
}

static int begin(struct store *s)
{
        /* IMMEDIATE takes the write lock up front, so two writers never
         * both read the same release_seq. */
        return exec(s, "BEGIN IMMEDIATE");
}

static int commit(struct store *s)
{
        return exec(s, "COMMIT");
}

static void rollback(struct store *s)
{
        if (!sqlite3_get_autocommit(s->db))
                (void)exec(s, "ROLLBACK");
}

static char *col_strdup(sqlite3_stmt *st, int col)
{
        const unsigned char *t = sqlite3_column_text(st, col);
        return strdup(t ? (const char *)t : "");
}

static void col_copy_id(sqlite3_stmt *st, int col, char buf[static 37])
{
        const unsigned char *t = sqlite3_column_text(st, col);
        snprintf(buf, 37, "%s", t ? (const char *)t : "");
}

/* ---- open / migrate ---- */

int store_schema_version(struct store *s)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        if (prepare(s, &st, "PRAGMA user_version", "") < 0)
                return -EIO;
        if (sqlite3_step(st) != SQLITE_ROW)
                return -EIO;
        return sqlite3_column_int(st, 0);
}

static int migrate(struct store *s)
{
        int r = begin(s);
        if (r < 0)
                return r;
        int version = store_schema_version(s);
        if (version < 0) {
                rollback(s);
                return version;
        }
        if ((size_t)version > ELEMENTSOF(migrations)) {
                /* Made by a newer pier: refuse rather than guess. */
                rollback(s);
                return -EPROTO;
        }
        for (size_t v = (size_t)version; v < ELEMENTSOF(migrations); v++) {
                r = exec(s, migrations[v]);
                if (r < 0)
                        goto fail;
                char pragma[64];
                snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %zu", v + 1);
                r = exec(s, pragma);
                if (r < 0)
                        goto fail;
        }
        return commit(s);
fail:
        rollback(s);
        return r;
}

int store_open(const char *path, struct store **ret)
{
        struct store *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        int rc = sqlite3_open_v2(path, &s->db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                         SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
                                 NULL);
        int r = sql_error(rc);
        if (r < 0)
                goto fail;
        sqlite3_busy_timeout(s->db, 5000);
        r = exec(s, "PRAGMA journal_mode = WAL");
        if (r >= 0)
                r = exec(s, "PRAGMA synchronous = FULL");
        if (r >= 0)
                r = exec(s, "PRAGMA foreign_keys = ON");
        if (r >= 0)
                r = migrate(s);
        if (r < 0)
                goto fail;
        *ret = s;
        return 0;
fail:
        store_close(s);
        return r;
}

struct store *store_close(struct store *s)
{
        if (!s)
                return NULL;
        sqlite3_close_v2(s->db);
        free(s);
        return NULL;
}

/* ---- apps ---- */

void app_free(struct app *a)
{
        if (!a)
                return;
        free(a->name);
        free(a->owner);
        free(a);
}

void app_list_free(struct app_list *l)
{
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++) {
                free(l->apps[i].name);
                free(l->apps[i].owner);
        }
        free(l->apps);
        free(l);
}

#define APP_COLUMNS                                                                                \
        "a.id, a.name, a.owner, a.created_at, a.updated_at, a.maintenance, a.released_at, a.uid"

static int app_from_row(sqlite3_stmt *st, void *item)
{
        struct app *a = item;
        col_copy_id(st, 0, a->id);
        a->name = col_strdup(st, 1);
        a->owner = col_strdup(st, 2);
        a->created_at = sqlite3_column_int64(st, 3);
        a->updated_at = sqlite3_column_int64(st, 4);
        a->maintenance = sqlite3_column_int(st, 5) != 0;
        a->released_at = sqlite3_column_int64(st, 6);
        a->uid = (uint32_t)sqlite3_column_int64(st, 7);
        if (!a->name || !a->owner) {
                free(a->name);
                free(a->owner);
                return -ENOMEM;
        }
        return 0;
}

int store_app_get(struct store *s, const char *name_or_id, struct app **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, &st, "SELECT " APP_COLUMNS " FROM apps a WHERE a.name = ?1 OR a.id = ?1",
                        "s", name_or_id);
        if (r < 0)
                return r;
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return sql_error(rc);
        struct app *a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        r = app_from_row(st, a);
        if (r < 0) {
                free(a);
                return r;
        }
        *ret = a;
        return 0;
}

int store_app_list(struct store *s, struct app_list **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, &st, "SELECT " APP_COLUMNS " FROM apps a ORDER BY a.name", "");
        if (r < 0)
                return r;
        struct app_list *l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        r = read_rows(st, &l->apps, &l->n, sizeof(struct app), app_from_row);
        if (r < 0) {
                app_list_free(l);
                return r;
        }
        *ret = l;
        return 0;
}

/* Inside a transaction: the next release version of an app. */
static int next_version(struct store *s, const char *app_id, int64_t *ret)
{
        int r = run(s, "UPDATE apps SET release_seq = release_seq + 1 WHERE id = ?", "s", app_id);
        if (r < 0)
                return r;
        if (sqlite3_changes(s->db) != 1)
                return -ENOENT;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        r = prepare(s, &st, "SELECT release_seq FROM apps WHERE id = ?", "s", app_id);
        if (r < 0)
                return r;
        if (sqlite3_step(st) != SQLITE_ROW)
                return -EIO;
        *ret = sqlite3_column_int64(st, 0);
        return 0;
}

/* SPEC §3: a release whose process types have a release command is
 * pending until that command succeeded, whatever made it (a build, a
 * config change, a rollback). */
static int release_pending(struct store *s, const char *process_types, bool *ret)
{
        *ret = false;
        if (!process_types)
                return 0;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, &st,
                        "SELECT CASE WHEN json_valid(?1)"
                        " THEN json_type(?1, '$.release') = 'text' ELSE 0 END",
                        "s", process_types);
        if (r < 0)
                return r;
        int rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return sql_error(rc);
        *ret = sqlite3_column_int(st, 0) != 0;
        return 0;
}

/* Inside a transaction: a new release of the app with its current config
 * vars as the snapshot. */
static int release_insert(struct store *s, const char *app_id, const char *description,
                          const char *user, const char *slug_id, const char *process_types,
                          int64_t *ret_version)
{
        bool pending;
        int r = release_pending(s, process_types, &pending);
        if (r < 0)
                return r;
        const char *status = pending ? "pending" : "succeeded";
        int64_t version;
        r = next_version(s, app_id, &version);
        if (r < 0)
                return r;
        char id[37];
        r = uuid_v4(id);
        if (r < 0)
                return r;
        int64_t now = now_usec();
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        r = prepare(s, &st,
                    "INSERT INTO releases (id, app_id, version, description, user, status,"
                    " slug_id, process_types, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    "ssisssssii", id, app_id, version, description, user, status, slug_id,
                    process_types ? process_types : "{}", now, now);
        if (r < 0)
                return r;
        if (!slug_id)
                sqlite3_bind_null(st, 7);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
                return sql_error(rc);
        r = run(s,
                "INSERT INTO release_config (release_id, key, value)"
                " SELECT ?, key, value FROM config_vars WHERE app_id = ?",
                "ss", id, app_id);
        if (r < 0)
                return r;
        /* A pending release is not current (yet): released_at stays. */
        if (streq(status, "succeeded"))
                r = run(s, "UPDATE apps SET updated_at = ?, released_at = ? WHERE id = ?", "iis",
                        now, now, app_id);
        else
                r = run(s, "UPDATE apps SET updated_at = ? WHERE id = ?", "is", now, app_id);
        if (r < 0)
                return r;
        if (ret_version)
                *ret_version = version;
        return 0;
}

static int release_insert_keep_slug(struct store *s, const char *app_id,
                                    const char *description, const char *user,
                                    int64_t *ret_version)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, &st,
                        "SELECT slug_id, process_types FROM releases WHERE app_id = ?"
                        " AND status != 'failed' ORDER BY version DESC LIMIT 1",
                        "s", app_id);
        if (r < 0)
                return r;
        int rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return rc == SQLITE_DONE ? -ENOENT : sql_error(rc);
        const char *slug = (const char *)sqlite3_column_text(st, 0);
        const char *pt = (const char *)sqlite3_column_text(st, 1);
        return release_insert(s, app_id, description, user, slug, pt, ret_version);
}

int store_app_create(struct store *s, const char *name, const char *owner, struct app **ret)
{
        char id[37];
        int r = uuid_v4(id);
        if (r < 0)
                return r;
        int64_t now = now_usec();

        r = begin(s);
        if (r < 0)
                return r;
        r = run(s,
                "INSERT INTO apps (id, name, owner, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                "sssii", id, name, owner, now, now);
        if (r < 0)
                goto fail;
        r = run(s, "UPDATE apps SET uid = 100000 + rowid WHERE id = ?", "s", id);
        if (r < 0)
                goto fail;
        r = release_insert(s, id, "Initial release", owner, NULL, NULL, NULL);
        if (r < 0)
                goto fail;
        r = commit(s);
        if (r < 0)
                goto fail;
        return ret ? store_app_get(s, id, ret) : 0;
fail:
        rollback(s);
        return r;
}

int store_app_rename(struct store *s, const char *app_id, const char *new_name)
{
        int r = run(s, "UPDATE apps SET name = ?, updated_at = ? WHERE id = ?", "sis", new_name,
                    now_usec(), app_id);
        if (r < 0)
                return r;
        return sqlite3_changes(s->db) == 1 ? 0 : -ENOENT;
}

int store_app_set_maintenance(struct store *s, const char *app_id, bool on)
{
        int r = run(s, "UPDATE apps SET maintenance = ?, updated_at = ? WHERE id = ?", "iis",
                    (int64_t)on, now_usec(), app_id);
        if (r < 0)
                return r;
        return sqlite3_changes(s->db) == 1 ? 0 : -ENOENT;
}

int store_app_destroy(struct store *s, const char *app_id)
{
        /* ON DELETE CASCADE takes config vars, releases and their
         * snapshots, domains, ... along, in the same statement's
         * transaction. */
        int r = run(s, "DELETE FROM apps WHERE id = ?", "s", app_id);
        if (r < 0)
                return r;
        return sqlite3_changes(s->db) == 1 ? 0 : -ENOENT;
}

/* ---- config vars ---- */

void config_free(struct config *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < c->n; i++) {
                free(c->vars[i].key);
                free(c->vars[i].value);
        }
        free(c->vars);
        free(c);
}

static int config_from_stmt(sqlite3_stmt *st, struct config **ret)
{
        struct config *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        size_t alloc = 0;
        int rc, r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                r = grow(&c->vars, &alloc, c->n, sizeof(struct config_var));
                if (r < 0)
                        goto fail;
                struct config_var *v = &c->vars[c->n];
                size_t len = (size_t)sqlite3_column_bytes(st, 1);
                const void *blob = sqlite3_column_blob(st, 1);
                v->key = col_strdup(st, 0);
                v->value = malloc(len + 1);
                if (!v->key || !v->value) {
                        free(v->key);
                        free(v->value);
                        r = -ENOMEM;
                        goto fail;
                }
                if (len)
                        memcpy(v->value, blob, len);
                v->value[len] = '\0';
                v->value_len = len;
                c->n++;
        }
        if (rc != SQLITE_DONE) {
                r = sql_error(rc);
                goto fail;
        }
        *ret = c;
        return 0;
fail:
        config_free(c);
        return r;
}

int store_config_get(struct store *s, const char *app_id, struct config **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, &st, "SELECT key, value FROM config_vars WHERE app_id = ? ORDER BY key",
                        "s", app_id);
        if (r < 0)
                return r;
        return config_from_stmt(st, ret);
}

/* Bytes of names plus values of an app's config vars. */
static int config_size(struct store *s, const char *app_id, int64_t *ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, &st,
                        "SELECT COALESCE(SUM(LENGTH(CAST(key AS BLOB)) + LENGTH(value)), 0)"
                        " FROM config_vars WHERE app_id = ?",
                        "s", app_id);
        if (r < 0)
                return r;
        if (sqlite3_step(st) != SQLITE_ROW)
                return -EIO;
        *ret = sqlite3_column_int64(st, 0);
        return 0;
}

int store_config_update(struct store *s, const char *app_id, const struct config *changes,
                        const char *user, const char *description, int64_t *ret_version)
{
        int r = begin(s);
        if (r < 0)
                return r;
        for (size_t i = 0; i < changes->n; i++) {
                const struct config_var *v = &changes->vars[i];
                if (v->value)
                        r = run(s,
                                "INSERT INTO config_vars (app_id, key, value) VALUES (?, ?, ?)"
                                " ON CONFLICT (app_id, key) DO UPDATE SET value = excluded.value",
                                "ssb", app_id, v->key, (const void *)v->value, v->value_len);
                else
                        r = run(s, "DELETE FROM config_vars WHERE app_id = ? AND key = ?", "ss",
                                app_id, v->key);
                if (r < 0)
                        goto fail;
        }

        int64_t total;
        r = config_size(s, app_id, &total);
        if (r < 0)
                goto fail;
        if (total > STORE_CONFIG_MAX_BYTES) {
                r = -E2BIG;
                goto fail;
        }

        /* A config change keeps the code: the new release runs the slug and
         * process types of the newest release that did not fail — one still
         * pending (its release command running) included, or the deploy
         * would be undone when this release goes live after it. */
        r = release_insert_keep_slug(s, app_id, description, user, ret_version);
        if (r < 0)
                goto fail;
        r = commit(s);
        if (r < 0)
                goto fail;
        return 0;
fail:
        rollback(s);
        return r;
}

/* ---- releases ---- */

static void release_clear(struct release *r)
{
        free(r->description);
        free(r->user);
        free(r->status);
        free(r->slug_id);
        free(r->process_types);
}

void release_free(struct release *r)
{
        if (!r)
                return;
        release_clear(r);
        free(r);
}

void release_list_free(struct release_list *l)
{
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                release_clear(&l->releases[i]);
        free(l->releases);
        free(l);
}

#define RELEASE_COLUMNS                                                                            \
        "r.id, r.app_id, r.version, r.description, r.user, r.status, r.slug_id,"                  \
        " r.process_types, r.created_at, r.updated_at,"                                            \
        " r.version = (SELECT MAX(version) FROM releases WHERE app_id = r.app_id"                 \
        "  AND status = 'succeeded')"

static int release_from_row(sqlite3_stmt *st, void *item)
{
        struct release *r = item;
        *r = (struct release){0};
        col_copy_id(st, 0, r->id);
        col_copy_id(st, 1, r->app_id);
        r->version = sqlite3_column_int64(st, 2);
        r->description = col_strdup(st, 3);
        r->user = col_strdup(st, 4);
        r->status = col_strdup(st, 5);
        if (sqlite3_column_type(st, 6) != SQLITE_NULL && !(r->slug_id = col_strdup(st, 6)))
                goto oom;
        r->process_types = col_strdup(st, 7);
        r->created_at = sqlite3_column_int64(st, 8);
        r->updated_at = sqlite3_column_int64(st, 9);
        r->current = sqlite3_column_int(st, 10) != 0;
        if (!r->description || !r->user || !r->status || !r->process_types)
                goto oom;
        return 0;
oom:
        release_clear(r);
        return -ENOMEM;
}

int store_release_list(struct store *s, const char *app_id, struct release_list **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, &st,
                        "SELECT " RELEASE_COLUMNS " FROM releases r WHERE r.app_id = ?"
                        " ORDER BY r.version DESC",
                        "s", app_id);
        if (r < 0)
                return r;
        struct release_list *l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        r = read_rows(st, &l->releases, &l->n, sizeof(struct release), release_from_row);
        if (r < 0) {
                release_list_free(l);
                return r;
        }
        *ret = l;
        return 0;
}

int store_release_get(struct store *s, const char *app_id, int64_t version, struct release **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, &st,
                        "SELECT " RELEASE_COLUMNS
                        " FROM releases r WHERE r.app_id = ? AND r.version = ?",
                        "si", app_id, version);
        return r < 0 ? r : read_one(st, sizeof(struct release), release_from_row, ret);
}

int store_release_get_by_id(struct store *s, const char *app_id, const char *id,
                            struct release **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, &st,
                        "SELECT " RELEASE_COLUMNS " FROM releases r WHERE r.app_id = ? AND r.id = ?",
                        "ss", app_id, id);
        return r < 0 ? r : read_one(st, sizeof(struct release), release_from_row, ret);
}

int store_release_config(struct store *s, const char *app_id, int64_t version,
                         struct config **ret)
{
        _cleanup_(release_freep) struct release *rel = NULL;
        int r = store_release_get(s, app_id, version, &rel);
        if (r < 0)
                return r;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        r = prepare(s, &st,
                    "SELECT key, value FROM release_config WHERE release_id = ? ORDER BY key",
                    "s", rel->id);
        if (r < 0)
                return r;
        return config_from_stmt(st, ret);
}

/* A missing app fails a foreign key, which reads as -EEXIST: adds look
 * first, so that they say -ENOENT. */
static int app_exists(struct store *s, const char *app_id)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, &st, "SELECT 1 FROM apps WHERE id = ?", "s", app_id);
        if (r < 0)
                return r;
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                return 0;
        return rc == SQLITE_DONE ? -ENOENT : sql_error(rc);
}

/* ---- custom domains ---- */

void domain_free(struct domain *d)
{
        if (!d)
                return;
        free(d->hostname);
        free(d);
}

void domain_list_free(struct domain_list *l)
{
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                free(l->domains[i].hostname);
        free(l->domains);
        free(l);
}

#define DOMAIN_COLUMNS "id, app_id, hostname, created_at"

static int domain_from_row(sqlite3_stmt *st, void *item)
{
        struct domain *d = item;
        *d = (struct domain){0};
        col_copy_id(st, 0, d->id);
        col_copy_id(st, 1, d->app_id);
        d->hostname = col_strdup(st, 2);
        d->created_at = sqlite3_column_int64(st, 3);
        return d->hostname ? 0 : -ENOMEM;
}

int store_domain_list(struct store *s, const char *app_id, struct domain_list **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, &st,
                        "SELECT " DOMAIN_COLUMNS " FROM domains WHERE app_id = ? ORDER BY hostname",
                        "s", app_id);
        if (r < 0)
                return r;
        struct domain_list *l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        r = read_rows(st, &l->domains, &l->n, sizeof(struct domain), domain_from_row);
        if (r < 0) {
                domain_list_free(l);
                return r;
        }
        *ret = l;
        return 0;
}

int store_domain_add(struct store *s, const char *app_id, const char *hostname,
                     struct domain **ret)
{
        char id[37];
        int r = uuid_v4(id);
        if (r < 0)
                return r;
        /* The count and the insert in one write transaction: two adds
         * cannot both take the last place. */
        r = begin(s);
        if (r < 0)
                return r;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        r = prepare(s, &st, "SELECT COUNT(*) FROM domains WHERE app_id = ?", "s", app_id);
        if (r < 0)
                goto fail;
        if (sqlite3_step(st) != SQLITE_ROW) {
                r = -EIO;
                goto fail;
        }
        if (sqlite3_column_int64(st, 0) >= STORE_DOMAINS_MAX) {
                r = -E2BIG;
                goto fail;
        }
        sqlite3_finalize(TAKE_PTR(st));
        r = app_exists(s, app_id);
        if (r < 0)
                goto fail;
        r = run(s, "INSERT INTO domains (id, app_id, hostname, created_at) VALUES (?, ?, ?, ?)",
                "sssi", id, app_id, hostname, now_usec());
        if (r < 0)
                goto fail;
        r = commit(s);
        if (r < 0)
                goto fail;
        if (!ret)
                return 0;
        r = prepare(s, &st, "SELECT " DOMAIN_COLUMNS " FROM domains WHERE id = ?", "s", id);
        return r < 0 ? r : read_one(st, sizeof(struct domain), domain_from_row, ret);
fail:
        rollback(s);
        return r;
}

int store_domain_get(struct store *s, const char *app_id, const char *hostname_or_id,
                     struct domain **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, &st,
                        "SELECT " DOMAIN_COLUMNS " FROM domains WHERE app_id = ?1"
                        " AND (hostname = ?2 OR id = ?2)",
                        "ss", app_id, hostname_or_id);
        return r < 0 ? r : read_one(st, sizeof(struct domain), domain_from_row, ret);
}

int store_domain_find(struct store *s, const char *hostname, struct domain **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, &st, "SELECT " DOMAIN_COLUMNS " FROM domains WHERE hostname = ?", "s",
                        hostname);
        return r < 0 ? r : read_one(st, sizeof(struct domain), domain_from_row, ret);
}

int store_domain_remove(struct store *s, const char *app_id, const char *hostname_or_id)
{
        int r = run(s, "DELETE FROM domains WHERE app_id = ?1 AND (hostname = ?2 OR id = ?2)",
                    "ss", app_id, hostname_or_id);
        if (r < 0)
                return r;
        return sqlite3_changes(s->db) == 1 ? 0 : -ENOENT;
}

/* ---- log drains ---- */

void drain_free(struct drain *d)
{
        if (!d)
                return;
        free(d->url);
        free(d);
}

void drain_list_free(struct drain_list *l)
{
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                free(l->drains[i].url);
        free(l->drains);
        free(l);
}

#define DRAIN_COLUMNS "id, app_id, url, token, created_at"

static int drain_from_row(sqlite3_stmt *st, void *item)
{
        struct drain *d = item;
        *d = (struct drain){0};
        col_copy_id(st, 0, d->id);
        col_copy_id(st, 1, d->app_id);
        d->url = col_strdup(st, 2);
        const unsigned char *t = sqlite3_column_text(st, 3);
        snprintf(d->token, sizeof(d->token), "%s", t ? (const char *)t : "");
        d->created_at = sqlite3_column_int64(st, 4);
        return d->url ? 0 : -ENOMEM;
}

static int drain_list_query(struct store *s, const char *app_id, struct drain_list **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = app_id ? prepare(s, &st,
                                 "SELECT " DRAIN_COLUMNS " FROM drains WHERE app_id = ?"
                                 " ORDER BY created_at, url",
                                 "s", app_id)
                       : prepare(s, &st,
                                 "SELECT " DRAIN_COLUMNS " FROM drains"
                                 " ORDER BY app_id, created_at, url",
                                 "");
        if (r < 0)
                return r;
        struct drain_list *l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        r = read_rows(st, &l->drains, &l->n, sizeof(struct drain), drain_from_row);
        if (r < 0) {
                drain_list_free(l);
                return r;
        }
        *ret = l;
        return 0;
}

int store_drain_list(struct store *s, const char *app_id, struct drain_list **ret)
{
        return drain_list_query(s, app_id, ret);
}

int store_drain_list_all(struct store *s, struct drain_list **ret)
{
        return drain_list_query(s, NULL, ret);
}

int store_drain_add(struct store *s, const char *app_id, const char *url, struct drain **ret)
{
        char id[37], tok[37];
        int r = uuid_v4(id);
        if (r >= 0)
                r = uuid_v4(tok);
        if (r < 0)
                return r;
        char token[sizeof(((struct drain *)0)->token)];
        snprintf(token, sizeof(token), "d.%s", tok);
        /* The checks and the insert in one write transaction. */
        r = begin(s);
        if (r < 0)
                return r;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        r = app_exists(s, app_id);
        if (r < 0)
                goto fail;
        r = prepare(s, &st,
                    "SELECT COUNT(*), COALESCE(SUM(url = ?2), 0) FROM drains WHERE app_id = ?1",
                    "ss", app_id, url);
        if (r < 0)
                goto fail;
        if (sqlite3_step(st) != SQLITE_ROW) {
                r = -EIO;
                goto fail;
        }
        if (sqlite3_column_int64(st, 1) > 0) {
                r = -EEXIST;
                goto fail;
        }
        if (sqlite3_column_int64(st, 0) >= STORE_DRAINS_MAX) {
                r = -E2BIG;
                goto fail;
        }
        sqlite3_finalize(TAKE_PTR(st));
        r = run(s, "INSERT INTO drains (id, app_id, url, token, created_at) VALUES (?, ?, ?, ?, ?)",
                "ssssi", id, app_id, url, token, now_usec());
        if (r < 0)
                goto fail;
        r = commit(s);
        if (r < 0)
                goto fail;
        if (!ret)
                return 0;
        r = prepare(s, &st, "SELECT " DRAIN_COLUMNS " FROM drains WHERE id = ?", "s", id);
        return r < 0 ? r : read_one(st, sizeof(struct drain), drain_from_row, ret);
fail:
        rollback(s);
        return r;
}

int store_drain_get(struct store *s, const char *app_id, const char *url_or_id,
                    struct drain **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, &st,
                        "SELECT " DRAIN_COLUMNS " FROM drains WHERE app_id = ?1"
                        " AND (url = ?2 OR id = ?2 OR token = ?2)",
                        "ss", app_id, url_or_id);
        return r < 0 ? r : read_one(st, sizeof(struct drain), drain_from_row, ret);
}

int store_drain_remove(struct store *s, const char *app_id, const char *url_or_id)
{
        int r = run(s,
                    "DELETE FROM drains WHERE app_id = ?1 AND (url = ?2 OR id = ?2 OR token = ?2)",
                    "ss", app_id, url_or_id);
        if (r < 0)
                return r;
        return sqlite3_changes(s->db) == 1 ? 0 : -ENOENT;
}

/* ---- tokens ---- */

static void token_clear(struct token *t)
{
        free(t->user);
        free(t->scope);
        free(t->description);
}

void token_free(struct token *t)
{
        if (!t)
                return;
        token_clear(t);
        free(t);
}

void token_list_free(struct token_list *l)
{
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                token_clear(&l->tokens[i]);
        free(l->tokens);
        free(l);
}

#define TOKEN_COLUMNS "id, user, scope, description, created_at"

static int token_from_row(sqlite3_stmt *st, void *item)
{
        struct token *t = item;
        *t = (struct token){0};
        col_copy_id(st, 0, t->id);
        t->user = col_strdup(st, 1);
        t->scope = col_strdup(st, 2);
        t->description = col_strdup(st, 3);
        t->created_at = sqlite3_column_int64(st, 4);
        if (!t->user || !t->scope || !t->description) {
                token_clear(t);
                return -ENOMEM;
        }
        return 0;
}

int store_token_create(struct store *s, const char *hash_hex, const char *user,
                       const char *scope, const char *description, struct token **ret)
{
        char id[37];
        int r = uuid_v4(id);
        if (r < 0)
                return r;
        r = run(s,
                "INSERT INTO tokens (id, hash, user, scope, description, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                "sssssi", id, hash_hex, user, scope, description ? description : "",
                now_usec());
        if (r < 0)
                return r;
        if (!ret)
                return 0;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        r = prepare(s, &st, "SELECT " TOKEN_COLUMNS " FROM tokens WHERE id = ?", "s", id);
        return r < 0 ? r : read_one(st, sizeof(struct token), token_from_row, ret);
}

int store_token_find(struct store *s, const char *hash_hex, struct token **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, &st, "SELECT " TOKEN_COLUMNS " FROM tokens WHERE hash = ?", "s",
                        hash_hex);
        return r < 0 ? r : read_one(st, sizeof(struct token), token_from_row, ret);
}

int store_token_list(struct store *s, struct token_list **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, &st, "SELECT " TOKEN_COLUMNS " FROM tokens ORDER BY created_at, id", "");
        if (r < 0)
                return r;
        struct token_list *l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        r = read_rows(st, &l->tokens, &l->n, sizeof(struct token), token_from_row);
        if (r < 0) {
                token_list_free(l);
                return r;
        }
        *ret = l;
        return 0;
}

int store_token_delete(struct store *s, const char *id)
{
        int r = run(s, "DELETE FROM tokens WHERE id = ?", "s", id);
        if (r < 0)
                return r;
        return sqlite3_changes(s->db) == 1 ? 0 : -ENOENT;
}

int store_token_count(struct store *s, int64_t *ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, &st, "SELECT COUNT(*) FROM tokens", "");
        if (r < 0)
                return r;
        if (sqlite3_step(st) != SQLITE_ROW)
                return -EIO;
        *ret = sqlite3_column_int64(st, 0);
        return 0;
}

/* ---- deploys ---- */

void slug_free(struct slug *sl)
{
        if (!sl)
                return;
        free(sl->commit);
        free(sl->process_types);
        free(sl->buildpack);
        free(sl);
}

int store_slug_get(struct store *s, const char *app_id, const char *slug_id, struct slug **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, &st,
                        "SELECT id, commit_sha, size, process_types, buildpack, created_at"
                        " FROM slugs WHERE app_id = ? AND id = ?",
                        "ss", app_id, slug_id);
        if (r < 0)
                return r;
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return sql_error(rc);
        struct slug *sl = calloc(1, sizeof(*sl));
        if (!sl)
                return -ENOMEM;
        col_copy_id(st, 0, sl->id);
        sl->commit = col_strdup(st, 1);
        sl->size = sqlite3_column_int64(st, 2);
        sl->process_types = col_strdup(st, 3);
        sl->buildpack = col_strdup(st, 4);
        sl->created_at = sqlite3_column_int64(st, 5);
        if (!sl->commit || !sl->process_types || !sl->buildpack) {
                slug_free(sl);
                return -ENOMEM;
        }
        *ret = sl;
        return 0;
}

int store_release_deploy(struct store *s, const char *app_id, const struct slug *slug,
                         const char *user, const char *description, int64_t *ret_version)
{
        int r = begin(s);
        if (r < 0)
                return r;
        r = run(s,
                "INSERT INTO slugs (id, app_id, commit_sha, size, process_types, buildpack,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                "sssissi", slug->id, app_id, slug->commit, slug->size, slug->process_types,
                slug->buildpack, now_usec());
        if (r < 0)
                goto fail;
        r = release_insert(s, app_id, description, user, slug->id, slug->process_types,
                           ret_version);
        if (r < 0)
                goto fail;
        return commit(s);
fail:
        rollback(s);
        return r;
}

int store_release_rollback(struct store *s, const char *app_id, int64_t version,
                           const char *user, int64_t *ret_version)
{
        int r = begin(s);
        if (r < 0)
                return r;
        _cleanup_(release_freep) struct release *target = NULL;
        r = store_release_get(s, app_id, version, &target);
        if (r < 0)
                goto fail;
        /* The config vars go back to the target's, then the new release
         * snapshots them like any other. */
        r = run(s, "DELETE FROM config_vars WHERE app_id = ?", "s", app_id);
        if (r < 0)
                goto fail;
        r = run(s,
                "INSERT INTO config_vars (app_id, key, value)"
                " SELECT ?, key, value FROM release_config WHERE release_id = ?",
                "ss", app_id, target->id);
        if (r < 0)
                goto fail;
        char description[48];
        snprintf(description, sizeof(description), "Rollback to v%" PRId64, version);
        r = release_insert(s, app_id, description, user, target->slug_id, target->process_types,
                           ret_version);
        if (r < 0)
                goto fail;
        return commit(s);
fail:
        rollback(s);
        return r;
}

/* ---- buildpacks ---- */

void buildpack_list_free(struct buildpack_list *l)
{
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                free(l->urls[i]);
        free(l->urls);
        free(l);
}

int store_buildpacks_get(struct store *s, const char *app_id, struct buildpack_list **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, &st, "SELECT url FROM app_buildpacks WHERE app_id = ? ORDER BY ordinal",
                        "s", app_id);
        if (r < 0)
                return r;
        struct buildpack_list *l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        size_t alloc = 0;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                r = grow(&l->urls, &alloc, l->n, sizeof(char *));
                if (r < 0)
                        goto fail;
                if (!(l->urls[l->n] = col_strdup(st, 0))) {
                        r = -ENOMEM;
                        goto fail;
                }
                l->n++;
        }
        if (rc != SQLITE_DONE) {
                r = sql_error(rc);
                goto fail;
        }
        *ret = l;
        return 0;
fail:
        buildpack_list_free(l);
        return r;
}

int store_buildpacks_set(struct store *s, const char *app_id, const struct buildpack_list *l)
{
        int r = begin(s);
        if (r < 0)
                return r;
        r = run(s, "DELETE FROM app_buildpacks WHERE app_id = ?", "s", app_id);
        for (size_t i = 0; r >= 0 && i < l->n; i++)
                r = run(s, "INSERT INTO app_buildpacks (app_id, ordinal, url) VALUES (?, ?, ?)",
                        "sis", app_id, (int64_t)i, l->urls[i]);
        if (r < 0) {
                rollback(s);
                return r;
        }
        return commit(s);
}

/* ---- formation ---- */

void formation_free(struct formation *f)
{
        if (!f)
                return;
        for (size_t i = 0; i < f->n; i++) {
                free(f->items[i].type);
                free(f->items[i].size);
        }
        free(f->items);
        free(f);
}

int store_formation_get(struct store *s, const char *app_id, struct formation **ret)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prepare(s, &st,
                        "SELECT type, quantity, size FROM formation WHERE app_id = ? ORDER BY type",
                        "s", app_id);
        if (r < 0)
                return r;
        struct formation *f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        size_t alloc = 0;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                r = grow(&f->items, &alloc, f->n, sizeof(struct formation_item));
                if (r < 0)
                        goto fail;
                struct formation_item *it = &f->items[f->n];
                it->type = col_strdup(st, 0);
                it->quantity = (int)sqlite3_column_int(st, 1);
                it->size = col_strdup(st, 2);
                f->n++;
                if (!it->type || !it->size) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        if (rc != SQLITE_DONE) {
                r = sql_error(rc);
                goto fail;
        }
        *ret = f;
        return 0;
fail:
        formation_free(f);
        return r;
}

int store_formation_update(struct store *s, const char *app_id, const struct formation *changes)
{
        int r = begin(s);
        if (r < 0)
                return r;
        for (size_t i = 0; r >= 0 && i < changes->n; i++) {
                const struct formation_item *it = &changes->items[i];
                if (it->quantity >= 0)
                        r = run(s,
                                "INSERT INTO formation (app_id, type, quantity) VALUES (?, ?, ?)"
                                " ON CONFLICT (app_id, type) DO UPDATE SET quantity = excluded.quantity",
                                "ssi", app_id, it->type, (int64_t)it->quantity);
                if (r >= 0 && it->size)
                        r = run(s,
                                "INSERT INTO formation (app_id, type, quantity, size) VALUES (?, ?, 0, ?)"
                                " ON CONFLICT (app_id, type) DO UPDATE SET size = excluded.size",
                                "sss", app_id, it->type, it->size);
        }
        if (r < 0) {
                rollback(s);
                return r;
        }
        return commit(s);
}

int store_release_set_status(struct store *s, const char *app_id, int64_t version,
                             const char *status)
{
        if (!streq(status, "succeeded") && !streq(status, "failed"))
                return -EINVAL;
        int r = begin(s);
        if (r < 0)
                return r;
        int64_t now = now_usec();
        r = run(s,
                "UPDATE releases SET status = ?, updated_at = ? WHERE app_id = ?"
                " AND version = ? AND status = 'pending'",
                "sisi", status, now, app_id, version);
        if (r >= 0 && sqlite3_changes(s->db) != 1)
                r = -ENOENT;
        /* released_at: when the current release (the newest succeeded one)
         * went live: now, if that is this one. */
        if (r >= 0 && streq(status, "succeeded"))
                r = run(s,
                        "UPDATE apps SET updated_at = ?1, released_at = ?1 WHERE id = ?2 AND"
                        " NOT EXISTS (SELECT 1 FROM releases WHERE app_id = ?2 AND"
                        " status = 'succeeded' AND version > ?3)",
                        "isi", now, app_id, version);
        if (r < 0) {
                rollback(s);
                return r;
        }
        return commit(s);
}

int store_release_fail_pending(struct store *s, int *ret_n)
{
        int r = run(s,
                    "UPDATE releases SET status = 'failed', updated_at = ?"
                    " WHERE status = 'pending'",
                    "i", now_usec());
        if (r < 0)
                return r;
        *ret_n = sqlite3_changes(s->db);
        return 0;
}

int store_release_fail(struct store *s, const char *app_id, int64_t version)
{
        int r = begin(s);
        if (r < 0)
                return r;
        r = run(s,
                "UPDATE releases SET status = 'failed', updated_at = ? WHERE app_id = ?"
                " AND version = ?",
                "isi", now_usec(), app_id, version);
        if (r >= 0 && sqlite3_changes(s->db) != 1)
                r = -ENOENT;
        if (r >= 0)
                r = run(s,
                        "UPDATE apps SET released_at = COALESCE((SELECT created_at FROM releases"
                        " WHERE app_id = ?1 AND status = 'succeeded' ORDER BY version DESC"
                        " LIMIT 1), 0) WHERE id = ?1",
                        "s", app_id);
        if (r < 0) {
                rollback(s);
                return r;
        }
        return commit(s);
}
