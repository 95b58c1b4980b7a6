/* The pierd HTTP API: routing, auth, JSON in and out.  See api.h and
 * docs/api.md. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/base64.h"
#include "lib/jsonscan.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/rand.h"
#include "lib/sha256.h"
#include "lib/strbuf.h"
#include "lib/timefmt.h"
#include "lib/utf8.h"
#include "lib/util.h"
#include "pierd/api.h"
#include "pierd/api-int.h"
#include "pierd/attach.h"
#include "pierd/drains.h"
#include "pierd/dynos.h"
#include "pierd/git.h"
#include "pierd/loghub.h"

/* Limits on what a client controls (STYLE.md §7). */
#define BODY_MAX       (1024 * 1024) /* bytes of request body */
/* Open API connections at most (pierd raises its file limit to fit). */
#define API_CONNECTIONS_MAX 4000
#define JSON_DEPTH_MAX 32
#define GENERATE_TRIES 16 /* random app names before giving up */

/* ---- replies ---- */

static const char *error_id(unsigned status)
{
        switch (status) {
        case 400: return "bad_request";
        case 401: return "unauthorized";
        case 403: return "forbidden";
        case 404: return "not_found";
        case 405: return "method_not_allowed";
        case 409: return "conflict";
        case 413: return "request_entity_too_large";
        case 422: return "invalid_params";
        default: return "internal_error";
        }
}

/* Sets an error reply; returns the status for `return fail(...)`. */
unsigned fail(struct call *c, unsigned status, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        json_decref(c->out);
        c->out = json_pack("{s:s, s:s}", "id", error_id(status), "message",
                           msg ? msg : "out of memory");
        c->status = status;
        return status;
}

/* A store error as the client should see it. */
unsigned fail_store(struct call *c, int r, const char *what)
{
        if (r == -ENOMEM)
                return fail(c, 500, "out of memory while %s; try again", what);
        log_error_errno(r, "%s: %m (%s)", what, store_errmsg(c->api->store));
        return fail(c, 500, "the state store failed while %s; see pierd's log", what);
}

/* The reply body for j: compact JSON and a newline (readable with curl). */
static char *dump_json(json_t *j, size_t *ret_len)
{
        char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (!text)
                return NULL;
        size_t len = strlen(text);
        char *withnl = realloc(text, len + 2);
        if (!withnl) {
                free(text);
                return NULL;
        }
        withnl[len++] = '\n';
        withnl[len] = '\0';
        *ret_len = len;
        return withnl;
}

/* Sends `text` (taking it over; NULL means out of memory). */
static enum MHD_Result send_body(struct MHD_Connection *conn, unsigned status, char *text,
                                 size_t len, int64_t release_version, const char *allow)
{
        if (!text) {
                status = 500;
                text = strdup("{\"id\":\"internal_error\",\"message\":\"out of memory\"}\n");
                if (!text)
                        return MHD_NO;
                len = strlen(text);
        }
        struct MHD_Response *resp =
                MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
                free(text);
                return MHD_NO;
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        if (release_version > 0) {
                char v[24];
                snprintf(v, sizeof(v), "%" PRId64, release_version);
                MHD_add_response_header(resp, "Pier-Release-Version", v);
        }
        if (allow)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
        enum MHD_Result ret = MHD_queue_response(conn, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status, json_t *j,
                                 int64_t release_version, const char *allow)
{
        size_t len = 0;
        char *text = dump_json(j, &len);
        return send_body(conn, status, text, len, release_version, allow);
}

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, const char *msg,
                                  const char *allow)
{
        _cleanup_(json_decrefp) json_t *j =
                json_pack("{s:s, s:s}", "id", error_id(status), "message", msg);
        return send_json(conn, status, j, 0, allow);
}

/* ---- JSON shapes ---- */

static json_t *time_json(int64_t usec)
{
        char buf[32];
        if (usec <= 0)
                return json_null();
        time_iso8601(usec, buf);
        return json_string(buf);
}

static json_t *user_json(const char *user)
{
        return json_pack("{s:s}", "email", user);
}

/* The app shape is written straight into a buffer: listing 1,000 apps
 * through jansson trees cost ~12 ms, this ~1 ms. */
static int put_json_string(struct strbuf *sb, const char *s)
{
        int r = strbuf_addch(sb, '"');
        for (const unsigned char *p = (const unsigned char *)s; r >= 0 && *p; p++) {
                if (*p == '"' || *p == '\\')
                        r = strbuf_addf(sb, "\\%c", *p);
                else if (*p < 0x20)
                        r = strbuf_addf(sb, "\\u%04x", *p);
                else
                        r = strbuf_addch(sb, (char)*p);
        }
        return r < 0 ? r : strbuf_addch(sb, '"');
}

static int put_json_time(struct strbuf *sb, int64_t usec)
{
        char buf[32];
        if (usec <= 0)
                return strbuf_addstr(sb, "null");
        time_iso8601(usec, buf);
        return strbuf_addf(sb, "\"%s\"", buf);
}

static int app_write(struct strbuf *sb, const struct api *a, const struct app *app)
{
        char port[8] = "";
        if (a->router_port != 80)
                snprintf(port, sizeof(port), ":%u", a->router_port);
        int r = strbuf_addf(sb, "{\"id\":\"%s\",\"name\":", app->id);
        if (r >= 0)
                r = put_json_string(sb, app->name);
        if (r >= 0)
                r = strbuf_addstr(sb, ",\"created_at\":");
        if (r >= 0)
                r = put_json_time(sb, app->created_at);
        if (r >= 0)
                r = strbuf_addstr(sb, ",\"updated_at\":");
        if (r >= 0)
                r = put_json_time(sb, app->updated_at);
        if (r >= 0)
                r = strbuf_addstr(sb, ",\"released_at\":");
        if (r >= 0)
                r = put_json_time(sb, app->released_at);
        if (r >= 0)
                r = strbuf_addstr(sb, ",\"owner\":{\"email\":");
        if (r >= 0)
                r = put_json_string(sb, app->owner);
        /* name, domain and url are checked at their source: no escaping. */
        if (r >= 0)
                r = strbuf_addf(sb,
                                "},\"stack\":{\"name\":\"debian-12\"},"
                                "\"web_url\":\"http://%s.%s%s/\",\"git_url\":\"%s/%s.git\","
                                "\"maintenance\":%s}",
                                app->name, a->domain, port, a->url, app->name,
                                app->maintenance ? "true" : "false");
        return r;
}

static json_t *app_json(const struct api *a, const struct app *app)
{
        struct strbuf sb = STRBUF_INIT;
        json_t *j = NULL;
        if (app_write(&sb, a, app) >= 0)
                j = json_loadb(sb.buf, sb.len, JSON_PRESERVE_ORDER, NULL);
        strbuf_release(&sb);
        return j;
}

static json_t *release_json(const struct release *r)
{
        json_t *slug = r->slug_id ? json_pack("{s:s}", "id", r->slug_id) : json_null();
        return json_pack("{s:s, s:I, s:s, s:s, s:b, s:o, s:o, s:o, s:o}", "id", r->id, "version",
                         (json_int_t)r->version, "description", r->description, "status",
                         r->status, "current", r->current, "created_at",
                         time_json(r->created_at), "updated_at", time_json(r->updated_at),
                         "user", user_json(r->user), "slug", slug);
}

/* Values that are not UTF-8 cannot be JSON strings: they travel as
 * {"base64": "..."} (docs/api.md). */
static json_t *config_value_json(const struct config_var *v)
{
        if (utf8_valid(v->value, v->value_len))
                return json_stringn(v->value, v->value_len);
        _cleanup_free_ char *b64 = NULL;
        if (base64_encode(v->value, v->value_len, &b64) < 0)
                return NULL;
        return json_pack("{s:s}", "base64", b64);
}

static json_t *config_json(const struct config *cfg)
{
        json_t *o = json_object();
        for (size_t i = 0; o && i < cfg->n; i++)
                if (json_object_set_new(o, cfg->vars[i].key, config_value_json(&cfg->vars[i])) < 0)
                        o = (json_decref(o), NULL);
        return o;
}

static json_t *token_json(const struct token *t, const char *secret)
{
        json_t *j = json_pack("{s:s, s:[s], s:s, s:o, s:o}", "id", t->id, "scope", t->scope,
                              "description", t->description, "created_at",
                              time_json(t->created_at), "user", user_json(t->user));
        if (j && secret)
                json_object_set_new(j, "access_token", json_pack("{s:s}", "token", secret));
        return j;
}

/* ---- handlers ---- */

/* Finds the app named by the route's first capture, or fails with 404. */
int load_app(struct call *c, struct app **ret)
{
        int r = store_app_get(c->api->store, c->param[0], ret);
        if (r == -ENOENT)
                return fail(c, 404, "couldn't find that app: %s", c->param[0]), r;
        if (r < 0)
                return fail_store(c, r, "loading the app"), r;
        return 0;
}

/* An event in the app's log as app[api] (SPEC §6): "Set FOO config vars by
 * USER", "Release v7 created by USER". */
__attribute__((format(printf, 3, 4))) static void app_event(struct call *c, const struct app *app,
                                                            const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        log_info("%s: %s", app->name, msg);
        loghub_append(c->api->hub, app->id, "app", "api", msg, (size_t)n);
}

static unsigned h_health(struct call *c)
{
        c->out = json_pack("{s:s, s:s}", "status", "ok", "version", PIER_VERSION);
        return 200;
}

static unsigned h_account(struct call *c)
{
        c->out = json_pack("{s:s, s:s, s:[s]}", "id", c->token->id, "email", c->token->user,
                           "scope", c->token->scope);
        return 200;
}

static unsigned h_apps_list(struct call *c)
{
        _cleanup_(app_list_freep) struct app_list *l = NULL;
        int r = store_app_list(c->api->store, &l);
        if (r < 0)
                return fail_store(c, r, "listing apps");
        struct strbuf sb = STRBUF_INIT;
        r = strbuf_addch(&sb, '[');
        for (size_t i = 0; r >= 0 && i < l->n; i++) {
                if (i > 0)
                        r = strbuf_addch(&sb, ',');
                if (r >= 0)
                        r = app_write(&sb, c->api, &l->apps[i]);
        }
        if (r >= 0)
                r = strbuf_addstr(&sb, "]\n");
        if (r < 0) {
                strbuf_release(&sb);
                return fail(c, 500, "out of memory");
        }
        c->raw = strbuf_detach(&sb, &c->raw_len);
        return 200;
}

static unsigned h_apps_create(struct call *c)
{
        json_t *name = c->body ? json_object_get(c->body, "name") : NULL;
        if (name && !json_is_null(name) && !json_is_string(name))
                return fail(c, 400, "name must be a string");

        _cleanup_(app_freep) struct app *app = NULL;
        int r;
        if (name && json_is_string(name)) {
                const char *n = json_string_value(name);
                if (!app_name_valid(n))
                        return fail(c, 422, "invalid app name \"%s\": %s", n, APP_NAME_RULE);
                r = store_app_create(c->api->store, n, c->token->user, &app);
                if (r == -EEXIST)
                        return fail(c, 409, "name %s is already taken", n);
        } else {
                r = -EEXIST;
                for (int i = 0; i < GENERATE_TRIES && r == -EEXIST; i++) {
                        char n[32];
                        r = app_name_generate(n);
                        if (r >= 0)
                                r = store_app_create(c->api->store, n, c->token->user, &app);
                }
        }
        if (r < 0)
                return fail_store(c, r, "creating the app");
        log_info("app %s created by %s", app->name, c->token->user);
        supervisor_converge(c->api->sup, app->id); /* the router learns of it */
        c->out = app_json(c->api, app);
        return 201;
}

static unsigned h_app_info(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        c->out = app_json(c->api, app);
        return 200;
}

static unsigned h_app_update(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        char id[sizeof(app->id)];
        memcpy(id, app->id, sizeof(id));
        json_t *name = c->body ? json_object_get(c->body, "name") : NULL;
        json_t *maint = c->body ? json_object_get(c->body, "maintenance") : NULL;
        if (!name && !maint)
                return fail(c, 422, "nothing to change: give {\"name\": \"NEWNAME\"} or "
                                    "{\"maintenance\": true|false}");
        if (name && !json_is_string(name))
                return fail(c, 400, "name must be a string");
        if (maint && !json_is_boolean(maint))
                return fail(c, 400, "maintenance must be true or false");
        /* Both are checked before either is applied. */
        const char *n = name ? json_string_value(name) : app->name;
        if (!app_name_valid(n))
                return fail(c, 422, "invalid app name \"%s\": %s", n, APP_NAME_RULE);
        bool changed = false;
        if (!streq(n, app->name)) {
                int r = store_app_rename(c->api->store, app->id, n);
                if (r == -EEXIST)
                        return fail(c, 409, "name %s is already taken", n);
                if (r < 0)
                        return fail_store(c, r, "renaming the app");
                log_info("app %s renamed to %s by %s", app->name, n, c->token->user);
                changed = true;
        }
        if (maint && json_is_true(maint) != app->maintenance) {
                int r = store_app_set_maintenance(c->api->store, app->id, json_is_true(maint));
                if (r < 0)
                        return fail_store(c, r, "changing maintenance mode");
                log_info("%s: maintenance mode %s by %s", n, json_is_true(maint) ? "on" : "off",
                         c->token->user);
                changed = true;
        }
        if (changed)
                supervisor_converge(c->api->sup, app->id); /* the router learns of it */
        app_free(TAKE_PTR(app));
        int r = store_app_get(c->api->store, id, &app);
        if (r < 0)
                return fail_store(c, r, "loading the app");
        c->out = app_json(c->api, app);
        return 200;
}

static unsigned h_app_destroy(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        int r = store_app_destroy(c->api->store, app->id);
        if (r < 0)
                return fail_store(c, r, "destroying the app");
        supervisor_app_removed(c->api->sup, app->id);
        loghub_app_removed(c->api->hub, app->id);
        if (c->api->drains)
                drains_app_removed(c->api->drains, app->id);
        git_remove_app_data(&c->api->git, app->id);
        log_info("app %s destroyed by %s", app->name, c->token->user);
        c->out = app_json(c->api, app);
        return 200;
}

static unsigned h_config_get(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        _cleanup_(config_freep) struct config *cfg = NULL;
        int r = store_config_get(c->api->store, app->id, &cfg);
        if (r < 0)
                return fail_store(c, r, "reading config vars");
        c->out = config_json(cfg);
        return 200;
}

/* "Set A, B config vars", "Remove C config vars" or both (SPEC.md §1). */
static int config_description(const struct config *changes, char **ret)
{
        struct strbuf set = STRBUF_INIT, removed = STRBUF_INIT, d = STRBUF_INIT;
        int r = 0;
        for (size_t i = 0; i < changes->n && r >= 0; i++) {
                struct strbuf *sb = changes->vars[i].value ? &set : &removed;
                if (sb->len)
                        r = strbuf_addstr(sb, ", ");
                if (r >= 0)
                        r = strbuf_addstr(sb, changes->vars[i].key);
        }
        if (r >= 0 && set.len && removed.len)
                r = strbuf_addf(&d, "Set %s config vars, remove %s config vars", set.buf,
                                removed.buf);
        else if (r >= 0 && set.len)
                r = strbuf_addf(&d, "Set %s config vars", set.buf);
        else if (r >= 0)
                r = strbuf_addf(&d, "Remove %s config vars", removed.len ? removed.buf : "no");
        strbuf_release(&set);
        strbuf_release(&removed);
        if (r < 0) {
                strbuf_release(&d);
                return r;
        }
        *ret = strbuf_detach(&d, NULL);
        return *ret ? 0 : -ENOMEM;
}

/* Turns the PATCH body into a change set, or fails the call. */
static int parse_config_changes(struct call *c, struct config *changes)
{
        if (!c->body || !json_is_object(c->body))
                return fail(c, 400, "the body must be a JSON object of config vars"), -EINVAL;
        size_t n = json_object_size(c->body);
        if (n == 0)
                return fail(c, 422, "no config vars given"), -EINVAL;
        changes->vars = calloc(n, sizeof(*changes->vars));
        if (!changes->vars)
                return fail(c, 500, "out of memory"), -ENOMEM;

        const char *key;
        json_t *value;
        json_object_foreach(c->body, key, value) {
                if (!config_key_valid(key))
                        return fail(c, 422, "invalid config var name \"%s\": %s", key,
                                    CONFIG_KEY_RULE),
                               -EINVAL;
                struct config_var *v = &changes->vars[changes->n++];
                v->key = strdup(key);
                if (!v->key)
                        return fail(c, 500, "out of memory"), -ENOMEM;
                if (json_is_null(value))
                        continue;
                if (json_is_string(value)) {
                        v->value_len = json_string_length(value);
                        v->value = malloc(v->value_len + 1);
                        if (!v->value)
                                return fail(c, 500, "out of memory"), -ENOMEM;
                        memcpy(v->value, json_string_value(value), v->value_len + 1);
                } else if (json_is_object(value) && json_is_string(json_object_get(value, "base64")) &&
                           json_object_size(value) == 1) {
                        json_t *b = json_object_get(value, "base64");
                        void *raw;
                        if (base64_decode(json_string_value(b), json_string_length(b), &raw,
                                          &v->value_len) < 0)
                                return fail(c, 422, "the base64 value of %s is not valid base64",
                                            key),
                                       -EINVAL;
                        v->value = raw;
                } else
                        return fail(c, 400,
                                    "the value of %s must be a string, {\"base64\": \"...\"} or "
                                    "null",
                                    key),
                               -EINVAL;
                if (memchr(v->value, '\0', v->value_len))
                        return fail(c, 422, "the value of %s contains a NUL byte, which "
                                            "environment variables cannot hold", key),
                               -EINVAL;
        }
        return 0;
}

static int release_start(struct call *c, const struct app *app, int64_t version,
                         struct release **ret);

static unsigned h_config_update(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        _cleanup_(config_freep) struct config *changes = calloc(1, sizeof(*changes));
        if (!changes)
                return fail(c, 500, "out of memory");
        if (parse_config_changes(c, changes) < 0)
                return c->status;
        _cleanup_free_ char *description = NULL;
        if (config_description(changes, &description) < 0)
                return fail(c, 500, "out of memory");

        int64_t version;
        int r = store_config_update(c->api->store, app->id, changes, c->token->user, description,
                                    &version);
        if (r == -E2BIG)
                return fail(c, 422,
                            "config vars of %s would exceed %d bytes (names plus values); "
                            "remove some first",
                            app->name, STORE_CONFIG_MAX_BYTES);
        if (r < 0)
                return fail_store(c, r, "changing config vars");
        app_event(c, app, "%s by %s", description, c->token->user);
        app_event(c, app, "Release v%" PRId64 " created by %s", version, c->token->user);
        r = release_start(c, app, version, NULL);
        if (r < 0)
                log_error_errno(r, "%s: starting v%" PRId64 ": %m", app->name, version);

        _cleanup_(config_freep) struct config *cfg = NULL;
        r = store_config_get(c->api->store, app->id, &cfg);
        if (r < 0)
                return fail_store(c, r, "reading config vars");
        c->out = config_json(cfg);
        c->release_version = version;
        return 200;
}

/* "7", "v7" or a release id. */
static int load_release(struct call *c, const struct app *app, struct release **ret)
{
        const char *spec = c->param[1];
        int64_t version;
        int r;
        if (safe_atoi64(spec[0] == 'v' ? spec + 1 : spec, &version) >= 0)
                r = store_release_get(c->api->store, app->id, version, ret);
        else
                r = store_release_get_by_id(c->api->store, app->id, spec, ret);
        if (r == -ENOENT)
                return fail(c, 404, "couldn't find release %s of %s", spec, app->name), r;
        if (r < 0)
                return fail_store(c, r, "loading the release"), r;
        return 0;
}

static unsigned h_releases_list(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        _cleanup_(release_list_freep) struct release_list *l = NULL;
        int r = store_release_list(c->api->store, app->id, &l);
        if (r < 0)
                return fail_store(c, r, "listing releases");
        c->out = json_array();
        for (size_t i = 0; c->out && i < l->n; i++)
                json_array_append_new(c->out, release_json(&l->releases[i]));
        return 200;
}

static unsigned h_release_info(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        _cleanup_(release_freep) struct release *rel = NULL;
        if (load_app(c, &app) < 0 || load_release(c, app, &rel) < 0)
                return c->status;
        c->out = release_json(rel);
        return 200;
}

static unsigned h_release_config(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        _cleanup_(release_freep) struct release *rel = NULL;
        if (load_app(c, &app) < 0 || load_release(c, app, &rel) < 0)
                return c->status;
        _cleanup_(config_freep) struct config *cfg = NULL;
        int r = store_release_config(c->api->store, app->id, rel->version, &cfg);
        if (r < 0)
                return fail_store(c, r, "reading the release's config vars");
        c->out = config_json(cfg);
        return 200;
}

static json_t *slug_json(const struct slug *sl)
{
        json_error_t err;
        json_t *pt = json_loads(sl->process_types, 0, &err);
        return json_pack("{s:s, s:s, s:I, s:o, s:s, s:o}", "id", sl->id, "commit", sl->commit,
                         "size", (json_int_t)sl->size, "process_types",
                         pt ? pt : json_object(), "buildpack_provided_description",
                         sl->buildpack, "created_at", time_json(sl->created_at));
}

static bool uuid_like(const char *s)
{
        if (strlen(s) != 36)
                return false;
        for (size_t i = 0; i < 36; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;
                if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
                        return false;
        }
        return true;
}

/* A release from a build: the slug file must already be in place. */
static unsigned create_deploy(struct call *c, const struct app *app, json_t *slug)
{
        json_t *id = json_object_get(slug, "id"), *commit = json_object_get(slug, "commit"),
               *size = json_object_get(slug, "size"), *pt = json_object_get(slug, "process_types"),
               *bp = json_object_get(slug, "buildpack"),
               *desc = json_object_get(c->body, "description");
        if (!json_is_string(id) || !json_is_string(commit) || !json_is_integer(size) ||
            !json_is_object(pt) || (bp && !json_is_string(bp)) || (desc && !json_is_string(desc)))
                return fail(c, 400,
                            "slug wants {id, commit, size, process_types, buildpack} and "
                            "description a string");
        if (!uuid_like(json_string_value(id)))
                return fail(c, 422, "slug id must be a lowercase UUID");
        const char *sha = json_string_value(commit);
        if (strlen(sha) < 4 || strlen(sha) > 64 || sha[strspn(sha, "0123456789abcdef")])
                return fail(c, 422, "slug commit must be a git commit id (lowercase hex)");
        if (json_integer_value(size) < 0)
                return fail(c, 422, "slug size must not be negative");
        const char *key;
        json_t *v;
        json_object_foreach(pt, key, v) {
                if (!process_type_valid(key, strlen(key)) || !json_is_string(v))
                        return fail(c, 422, "process type %s is invalid", key);
        }

        _cleanup_free_ char *path = NULL, *pt_text = NULL, *description = NULL;
        if (asprintf(&path, "%s/slugs/%s/%s.tar.zst", c->api->home, app->id,
                     json_string_value(id)) < 0)
                return fail(c, 500, "out of memory");
        if (access(path, R_OK) < 0)
                return fail(c, 422, "slug %s is not in place", json_string_value(id));
        pt_text = json_dumps(pt, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (desc)
                description = strdup(json_string_value(desc));
        else if (asprintf(&description, "Deploy %.7s", json_string_value(commit)) < 0)
                description = NULL;
        if (!pt_text || !description)
                return fail(c, 500, "out of memory");

        struct slug sl = {
                .commit = (char *)json_string_value(commit),
                .size = json_integer_value(size),
                .process_types = pt_text,
                .buildpack = (char *)(bp ? json_string_value(bp) : ""),
        };
        snprintf(sl.id, sizeof(sl.id), "%s", json_string_value(id));
        int64_t version;
        int r = store_release_deploy(c->api->store, app->id, &sl, c->token->user, description,
                                     &version);
        if (r == -EEXIST)
                return fail(c, 409, "slug %s was released already", sl.id);
        if (r < 0)
                return fail_store(c, r, "making the release");
        app_event(c, app, "%s by %s", description, c->token->user);
        app_event(c, app, "Release v%" PRId64 " created by %s", version, c->token->user);
        return version;
}

static unsigned create_rollback(struct call *c, const struct app *app, json_t *target)
{
        if (!json_is_string(target))
                return fail(c, 400, "release must be a string: \"v3\", \"3\" or an id");
        c->param[1] = json_string_value(target);
        _cleanup_(release_freep) struct release *rel = NULL;
        if (load_release(c, app, &rel) < 0)
                return c->status;
        if (!rel->slug_id)
                return fail(c, 422,
                            "v%" PRId64 " of %s has no code to roll back to: it was made "
                            "before the first push",
                            rel->version, app->name);
        if (!streq(rel->status, "succeeded"))
                return fail(c, 422,
                            "v%" PRId64 " of %s is %s: roll back to a release that went live",
                            rel->version, app->name, rel->status);
        int64_t version;
        int r = store_release_rollback(c->api->store, app->id, rel->version, c->token->user,
                                       &version);
        if (r < 0)
                return fail_store(c, r, "rolling back");
        app_event(c, app, "Rollback to v%" PRId64 " by %s", rel->version, c->token->user);
        app_event(c, app, "Release v%" PRId64 " created by %s", version, c->token->user);
        return version;
}

static int default_formation(struct call *c, const struct app *app, const struct release *rel);

/* A release command running for a pending release (SPEC §3). */
struct release_run {
        struct release_run *next;
        struct api *api; /* NULL once the api is gone (pierd stops) */
        struct store *store;
        struct supervisor *sup;
        char app_id[37];
        char app_name[64];
        int64_t version;
};

/* The release dyno is gone: exit 0 → the release succeeded and goes live;
 * anything else (failed, killed at the timeout, never ran) → failed, and
 * the release before it runs on. */
static void on_release_exit(void *ud, int status)
{
        struct release_run *rr = ud;
        if (rr->api)
                for (struct release_run **p = &rr->api->release_runs; *p; p = &(*p)->next)
                        if (*p == rr) {
                                *p = rr->next;
                                break;
                        }
        const char *st = status == 0 ? "succeeded" : "failed";
        int r = store_release_set_status(rr->store, rr->app_id, rr->version, st);
        if (r < 0)
                log_error_errno(r, "%s: marking v%" PRId64 " %s: %m", rr->app_name, rr->version,
                                st);
        else
                log_info("%s: release command of v%" PRId64 " exited with status %d: %s",
                         rr->app_name, rr->version, status, st);
        if (rr->api)
                rr->api->generation++;
        if (r >= 0 && status == 0 && rr->api)
                supervisor_converge(rr->sup, rr->app_id);
        free(rr);
}

static int start_release_command(struct call *c, const struct app *app,
                                 const struct release *rel)
{
        _cleanup_(json_decrefp) json_t *pt = json_loads(rel->process_types, 0, NULL);
        const char *command = json_string_value(json_object_get(pt, "release"));
        if (!command)
                return -EINVAL;
        struct release_run *rr = calloc(1, sizeof(*rr));
        if (!rr)
                return -ENOMEM;
        rr->api = c->api;
        rr->store = c->api->store;
        rr->sup = c->api->sup;
        snprintf(rr->app_id, sizeof(rr->app_id), "%s", app->id);
        snprintf(rr->app_name, sizeof(rr->app_name), "%s", app->name);
        rr->version = rel->version;
        rr->next = c->api->release_runs;
        c->api->release_runs = rr;
        char name[80];
        int r = supervisor_run(c->api->sup, app->id, rel->version, command, "release",
                               on_release_exit, rr, name);
        if (r < 0) {
                on_release_exit(rr, -1);
                return r;
        }
        /* Who reads the command's output (the push, the CLI, pier
         * releases:output) finds its dyno by this line (docs/api.md). */
        app_event(c, app, RELEASE_COMMAND_EVENT "%s", rel->version, name);
        return 0;
}

/* A new release goes live: at once, or with a release command (SPEC §3)
 * when that succeeded (on_release_exit).  *ret: the release as it is now. */
static int release_start(struct call *c, const struct app *app, int64_t version,
                         struct release **ret)
{
        _cleanup_(release_freep) struct release *rel = NULL;
        int r = store_release_get(c->api->store, app->id, version, &rel);
        if (r < 0)
                return r;
        if (!streq(rel->status, "pending")) {
                supervisor_converge(c->api->sup, app->id);
                if (ret)
                        *ret = TAKE_PTR(rel);
                return 0;
        }
        if (start_release_command(c, app, rel) < 0)
                log_error("%s: the release command of v%" PRId64 " could not start", app->name,
                          version);
        if (!ret)
                return 0;
        /* It may have ended already: report the release as it is. */
        return store_release_get(c->api->store, app->id, version, ret);
}

static unsigned h_releases_create(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        json_t *slug = c->body ? json_object_get(c->body, "slug") : NULL;
        json_t *target = c->body ? json_object_get(c->body, "release") : NULL;
        if (!slug == !target)
                return fail(c, 400, "give either {\"slug\": {...}} (a build) or "
                                    "{\"release\": \"vN\"} (a rollback)");
        unsigned v = slug ? (json_is_object(slug) ? create_deploy(c, app, slug)
                                                  : fail(c, 400, "slug must be an object"))
                          : create_rollback(c, app, target);
        if (c->out)
                return c->status; /* an error */
        _cleanup_(release_freep) struct release *rel = NULL;
        int r = store_release_get(c->api->store, app->id, v, &rel);
        if (r >= 0 && slug)
                r = default_formation(c, app, rel);
        release_free(TAKE_PTR(rel));
        if (r >= 0)
                r = release_start(c, app, v, &rel);
        if (r < 0)
                return fail_store(c, r, "loading the new release");
        c->out = release_json(rel);
        c->release_version = rel->version;
        return 201;
}

/* PATCH a release: the build marks one failed when its dynos never came
 * up, so that the one before it is current again. */
static unsigned h_release_update(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        _cleanup_(release_freep) struct release *rel = NULL;
        if (load_app(c, &app) < 0 || load_release(c, app, &rel) < 0)
                return c->status;
        json_t *st = c->body ? json_object_get(c->body, "status") : NULL;
        if (!json_is_string(st))
                return fail(c, 400, "give {\"status\": \"failed\"}");
        if (!streq(json_string_value(st), "failed"))
                return fail(c, 422, "a release can only be marked failed");
        /* The first release (no code) stays: a config change keeps the
         * code of the newest release that did not fail, at worst none. */
        if (!rel->slug_id)
                return fail(c, 422, "v%" PRId64 " has no code: it cannot fail", rel->version);
        int r = store_release_fail(c->api->store, app->id, rel->version);
        if (r < 0)
                return fail_store(c, r, "marking the release failed");
        log_info("%s: v%" PRId64 " marked failed by %s", app->name, rel->version,
                 c->token->user);
        supervisor_converge(c->api->sup, app->id);
        int64_t version = rel->version;
        release_free(TAKE_PTR(rel));
        r = store_release_get(c->api->store, app->id, version, &rel);
        if (r < 0)
                return fail_store(c, r, "loading the release");
        c->out = release_json(rel);
        return 200;
}

static unsigned h_slug_info(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        _cleanup_(slug_freep) struct slug *sl = NULL;
        int r = store_slug_get(c->api->store, app->id, c->param[1], &sl);
        if (r == -ENOENT)
                return fail(c, 404, "couldn't find slug %s of %s", c->param[1], app->name);
        if (r < 0)
                return fail_store(c, r, "loading the slug");
        c->out = slug_json(sl);
        return 200;
}

static json_t *buildpacks_json(const struct buildpack_list *l)
{
        json_t *a = json_array();
        for (size_t i = 0; a && i < l->n; i++) {
                const char *name = strchr(l->urls[i], '/') ? strrchr(l->urls[i], '/') + 1
                                                           : l->urls[i];
                json_array_append_new(a, json_pack("{s:I, s:{s:s, s:s}}", "ordinal",
                                                   (json_int_t)i, "buildpack", "url",
                                                   l->urls[i], "name", name));
        }
        return a;
}

static unsigned h_buildpacks_get(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        _cleanup_(buildpack_list_freep) struct buildpack_list *l = NULL;
        int r = store_buildpacks_get(c->api->store, app->id, &l);
        if (r < 0)
                return fail_store(c, r, "reading buildpacks");
        c->out = buildpacks_json(l);
        return 200;
}

/* A buildpack URL: nothing that could smuggle an option into `git clone`
 * or a path out of the buildpacks dir. */
static bool buildpack_valid(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > 1024 || s[0] == '-' || strstr(s, ".."))
                return false;
        /* What pier-build clones (src/builder/bpspec.c). */
        if (!strneq(s, "https://", 8) && !strneq(s, "http://", 7) && !strneq(s, "git://", 6))
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
                        return false;
        return true;
}

/* A built-in buildpack's name, also as Heroku's "heroku/python": the
 * name it is stored as, or NULL when pierd has no such buildpack. */
static const char *builtin_buildpack(const struct api *a, const char *s)
{
        if (strneq(s, "heroku/", 7))
                s += 7;
        if (!*s || strchr(s, '/') || s[0] == '.')
                return NULL;
        _cleanup_free_ char *detect = NULL;
        if (asprintf(&detect, "%s/%s/bin/detect", a->buildpacks_dir, s) < 0)
                return NULL;
        return access(detect, X_OK) == 0 ? s : NULL;
}

static int name_cmp(const void *x, const void *y)
{
        return strcmp(*(char *const *)x, *(char *const *)y);
}

/* "make, nodejs, ..." for an error message. */
static char *builtin_buildpacks_list(const struct api *a)
{
        struct strbuf sb = STRBUF_INIT;
        DIR *d = opendir(a->buildpacks_dir);
        char *names[32];
        size_t n = 0;
        for (struct dirent *de; d && n < ELEMENTSOF(names) && (de = readdir(d));)
                if (de->d_name[0] != '.' && builtin_buildpack(a, de->d_name) &&
                    (names[n] = strdup(de->d_name)))
                        n++;
        if (d)
                closedir(d);
        qsort(names, n, sizeof(char *), name_cmp);
        for (size_t i = 0; i < n; i++) {
                (void)strbuf_addf(&sb, "%s%s", sb.len ? ", " : "", names[i]);
                free(names[i]);
        }
        return strbuf_detach(&sb, NULL);
}

static unsigned h_buildpacks_set(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        json_t *updates = c->body ? json_object_get(c->body, "updates") : NULL;
        if (!json_is_array(updates))
                return fail(c, 400, "give {\"updates\": [{\"buildpack\": \"NAME or URL\"}]}");
        if (json_array_size(updates) > 16)
                return fail(c, 422, "at most 16 buildpacks");
        struct buildpack_list l = {.n = 0};
        const char *urls[16];
        size_t i;
        json_t *u;
        json_array_foreach(updates, i, u) {
                json_t *b = json_object_get(u, "buildpack");
                if (!json_is_string(b))
                        return fail(c, 400, "each update wants {\"buildpack\": \"...\"}");
                const char *v = json_string_value(b);
                if (strstr(v, "://") && !buildpack_valid(v))
                        return fail(c, 422,
                                    "buildpack URL \"%s\" is not one pier can clone: give an "
                                    "https://, http:// or git:// URL",
                                    v);
                if (!strstr(v, "://") && !(v = builtin_buildpack(c->api, v))) {
                        _cleanup_free_ char *names = builtin_buildpacks_list(c->api);
                        return fail(c, 422,
                                    "there is no built-in buildpack \"%s\"; the built-in ones "
                                    "are %s; or give a git URL",
                                    json_string_value(b), names ? names : "none");
                }
                urls[l.n++] = v;
        }
        l.urls = (char **)urls;
        int r = store_buildpacks_set(c->api->store, app->id, &l);
        if (r < 0)
                return fail_store(c, r, "setting buildpacks");
        c->out = buildpacks_json(&l);
        return 200;
}

/* SPEC §4: the first deploy of an app with a web type scales web to 1;
 * other types start at 0.  Types already in the formation keep theirs. */
static int default_formation(struct call *c, const struct app *app, const struct release *rel)
{
        _cleanup_(json_decrefp) json_t *pt = json_loads(rel->process_types, 0, NULL);
        _cleanup_(formation_freep) struct formation *f = NULL;
        int r = store_formation_get(c->api->store, app->id, &f);
        if (r < 0 || !pt)
                return r;
        struct formation_item items[64];
        struct formation add = {.n = 0, .items = items};
        const char *type;
        json_t *v;
        json_object_foreach(pt, type, v) {
                bool have = false;
                for (size_t i = 0; i < f->n; i++)
                        have = have || streq(f->items[i].type, type);
                /* The release command runs once per release, not as dynos. */
                if (have || add.n == ELEMENTSOF(items) || streq(type, "release"))
                        continue;
                items[add.n++] = (struct formation_item){
                        .type = (char *)type, .quantity = streq(type, "web") ? 1 : 0};
        }
        return add.n ? store_formation_update(c->api->store, app->id, &add) : 0;
}

static json_t *formation_json(const struct formation *f, const json_t *pt)
{
        json_t *list = json_array();
        for (size_t i = 0; list && i < f->n; i++) {
                if (streq(f->items[i].type, "release"))
                        continue; /* from before it was refused */
                const char *cmd = json_string_value(json_object_get(pt, f->items[i].type));
                json_array_append_new(list, json_pack("{s:s, s:i, s:s, s:s?}", "type",
                                                      f->items[i].type, "quantity",
                                                      f->items[i].quantity, "size",
                                                      f->items[i].size, "command", cmd));
        }
        return list;
}

/* The current release's process types (an empty object when none). */
static json_t *current_process_types(struct call *c, const struct app *app)
{
        _cleanup_(release_list_freep) struct release_list *l = NULL;
        if (store_release_list(c->api->store, app->id, &l) < 0)
                return json_object();
        for (size_t i = 0; i < l->n; i++)
                if (l->releases[i].current) {
                        json_t *pt = json_loads(l->releases[i].process_types, 0, NULL);
                        return pt ? pt : json_object();
                }
        return json_object();
}

static unsigned h_formation_get(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        _cleanup_(formation_freep) struct formation *f = NULL;
        int r = store_formation_get(c->api->store, app->id, &f);
        if (r < 0)
                return fail_store(c, r, "reading the formation");
        _cleanup_(json_decrefp) json_t *pt = current_process_types(c, app);
        c->out = formation_json(f, pt);
        return 200;
}

#define FORMATION_MAX_QUANTITY 100 /* dynos of one type */

/* "Scaled to web@3:standard-1x worker@1:standard-2x by USER": the types
 * the change touched, as they are now. */
static void scaled_event(struct call *c, const struct app *app, const struct formation *ch,
                         const struct formation *f)
{
        struct strbuf sb = STRBUF_INIT;
        for (size_t i = 0; i < f->n; i++) {
                bool touched = false;
                for (size_t j = 0; j < ch->n && !touched; j++)
                        touched = streq(ch->items[j].type, f->items[i].type);
                if (touched)
                        strbuf_addf(&sb, "%s%s@%d:%s", sb.len ? " " : "", f->items[i].type,
                                    f->items[i].quantity, f->items[i].size);
        }
        if (sb.buf)
                app_event(c, app, "Scaled to %s by %s", sb.buf, c->token->user);
        strbuf_release(&sb);
}

/* POST /apps/APP/build-events {"event": "started"|"failed"}: pier-build
 * tells the app's log about its build (its output goes to the push). */
static unsigned h_build_event(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        json_t *ev = c->body ? json_object_get(c->body, "event") : NULL;
        const char *e = json_string_value(ev);
        if (!e || (!streq(e, "started") && !streq(e, "failed")))
                return fail(c, 400, "give {\"event\": \"started\"} or {\"event\": \"failed\"}");
        if (streq(e, "started"))
                app_event(c, app, "Build started by %s", c->token->user);
        else
                app_event(c, app, "Build failed -- check your build output");
        c->out = json_pack("{s:s}", "event", e);
        return 201;
}

static unsigned h_formation_update(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        json_t *updates = c->body ? json_object_get(c->body, "updates") : NULL;
        if (!json_is_array(updates) || json_array_size(updates) == 0 ||
            json_array_size(updates) > 64)
                return fail(c, 400, "give {\"updates\": [{\"type\": \"web\", \"quantity\": 2}]}");
        _cleanup_(json_decrefp) json_t *pt = current_process_types(c, app);
        struct formation_item items[64];
        struct formation ch = {.n = 0, .items = items};
        size_t i;
        json_t *u;
        json_array_foreach(updates, i, u) {
                json_t *type = json_object_get(u, "type"), *q = json_object_get(u, "quantity"),
                       *size = json_object_get(u, "size");
                if (!json_is_string(type) || (q && !json_is_integer(q)) ||
                    (size && !json_is_string(size)) || (!q && !size))
                        return fail(c, 400, "each update wants a type and a quantity or a size");
                const char *t = json_string_value(type);
                if (streq(t, "release"))
                        return fail(c, 422,
                                    "release is the release phase's command: it runs once for "
                                    "each new release, not as dynos");
                if (!json_object_get(pt, t))
                        return fail(c, 422,
                                    "no %s process type in the current release of %s; its "
                                    "Procfile defines the types it can run",
                                    t, app->name);
                json_int_t n = q ? json_integer_value(q) : -1;
                if (q && (n < 0 || n > FORMATION_MAX_QUANTITY))
                        return fail(c, 422, "quantity must be 0 to %d", FORMATION_MAX_QUANTITY);
                const char *sz = size ? json_string_value(size) : NULL;
                if (sz && !streq(sz, "standard-1x") && !streq(sz, "standard-2x"))
                        return fail(c, 422, "unknown size %s: use standard-1x or standard-2x", sz);
                items[ch.n++] = (struct formation_item){
                        .type = (char *)t, .quantity = (int)n, .size = (char *)sz};
        }
        int r = store_formation_update(c->api->store, app->id, &ch);
        if (r < 0)
                return fail_store(c, r, "changing the formation");
        supervisor_converge(c->api->sup, app->id);
        _cleanup_(formation_freep) struct formation *f = NULL;
        r = store_formation_get(c->api->store, app->id, &f);
        if (r < 0)
                return fail_store(c, r, "reading the formation");
        scaled_event(c, app, &ch, f);
        c->out = formation_json(f, pt);
        return 200;
}

static unsigned h_dynos_list(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        c->out = supervisor_dynos_json(c->api->sup, app->id);
        return 200;
}

/* DELETE /apps/APP/dynos[/DYNO-OR-TYPE]: restart (as Heroku's API). */
static unsigned h_dynos_restart(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        int r = supervisor_restart(c->api->sup, app->id, c->param[1]);
        if (r == -ENOENT && c->param[1])
                return fail(c, 404, "no dyno or process type %s running on %s", c->param[1],
                            app->name);
        c->out = json_object();
        return 202;
}

static unsigned h_dynos_stop(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        int r = supervisor_stop(c->api->sup, app->id, c->param[1]);
        if (r == -ENOENT)
                return fail(c, 404, "no dyno or process type %s running on %s", c->param[1],
                            app->name);
        c->out = json_object();
        return 202;
}

/* ---- custom domains ---- */

#define HOSTNAME_MAX 253 /* RFC 1035: 255 octets on the wire, 253 as text */
#define HOSTNAME_RULE                                                                              \
        "hostnames are DNS names: at least two labels separated by dots, each 1 to 63 "            \
        "letters, digits and dashes, not starting or ending with a dash, at most 253 "             \
        "characters, no trailing dot; \"*.\" may stand as the first label only "                   \
        "(*.example.com)"

/* h (already lower-cased) against HOSTNAME_RULE. */
static bool hostname_valid(const char *h)
{
        size_t n = strlen(h), labels = 0;
        if (n == 0 || n > HOSTNAME_MAX)
                return false;
        bool wildcard = h[0] == '*' && h[1] == '.';
        const char *p = wildcard ? h + 2 : h;
        for (;;) {
                size_t len = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-");
                if (len == 0 || len > 63 || p[0] == '-' || p[len - 1] == '-')
                        return false;
                labels++;
                if (p[len] == '\0')
                        break;
                if (p[len] != '.')
                        return false;
                p += len + 1; /* a trailing dot leaves an empty label: refused */
        }
        /* "*.com" would claim a whole top-level domain. */
        return labels >= 2;
}

static json_t *domain_json(const char *id, const char *hostname, const char *kind,
                           int64_t created_at)
{
        return json_pack("{s:s, s:s, s:s, s:o}", "id", id, "hostname", hostname, "kind", kind,
                         "created_at", time_json(created_at));
}

/* The app's own APP.DOMAIN: it is not in the store, and has the app's id. */
static json_t *default_domain_json(const struct api *a, const struct app *app)
{
        _cleanup_free_ char *host = NULL;
        if (asprintf(&host, "%s.%s", app->name, a->domain) < 0)
                return NULL;
        return domain_json(app->id, host, "heroku", app->created_at);
}

/* Whether h is the platform's domain or under it: those names are the
 * apps' own (a custom domain there could take another app's traffic). */
static bool under_platform_domain(const struct api *a, const char *h)
{
        size_t n = strlen(h), dn = strlen(a->domain);
        return strcasecmp(h, a->domain) == 0 ||
               (n > dn + 1 && h[n - dn - 1] == '.' && strcasecmp(h + n - dn, a->domain) == 0);
}

/* A copy of s in lower case (hostnames are case-insensitive). */
static char *lowercase_dup(const char *s)
{
        char *d = strdup(s);
        for (char *p = d; p && *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        *p = (char)(*p - 'A' + 'a');
        return d;
}

static unsigned h_domains_list(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        _cleanup_(domain_list_freep) struct domain_list *l = NULL;
        int r = store_domain_list(c->api->store, app->id, &l);
        if (r < 0)
                return fail_store(c, r, "listing domains");
        c->out = json_array();
        if (c->out)
                json_array_append_new(c->out, default_domain_json(c->api, app));
        for (size_t i = 0; c->out && i < l->n; i++)
                json_array_append_new(c->out,
                                      domain_json(l->domains[i].id, l->domains[i].hostname,
                                                  "custom", l->domains[i].created_at));
        return 200;
}

static unsigned h_domains_add(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        json_t *h = c->body ? json_object_get(c->body, "hostname") : NULL;
        if (!json_is_string(h))
                return fail(c, 400, "give {\"hostname\": \"www.example.com\"}");
        /* A NUL inside would cut the name short unnoticed. */
        if (json_string_length(h) != strlen(json_string_value(h)) ||
            json_string_length(h) > HOSTNAME_MAX)
                return fail(c, 422, "invalid hostname: %s", HOSTNAME_RULE);
        _cleanup_free_ char *host = lowercase_dup(json_string_value(h));
        if (!host)
                return fail(c, 500, "out of memory");
        if (!hostname_valid(host))
                return fail(c, 422, "invalid hostname \"%s\": %s", host, HOSTNAME_RULE);
        if (under_platform_domain(c->api, host))
                return fail(c, 422,
                            "%s is under pier's own domain %s, whose names are the apps' "
                            "own; %s already answers at %s.%s",
                            host, c->api->domain, app->name, app->name, c->api->domain);

        _cleanup_(domain_freep) struct domain *d = NULL;
        int r = store_domain_add(c->api->store, app->id, host, &d);
        if (r == -EEXIST) {
                _cleanup_(domain_freep) struct domain *other = NULL;
                _cleanup_(app_freep) struct app *owner = NULL;
                if (store_domain_find(c->api->store, host, &other) >= 0 &&
                    streq(other->app_id, app->id))
                        return fail(c, 409, "%s is already a domain of %s", host, app->name);
                if (other && store_app_get(c->api->store, other->app_id, &owner) >= 0)
                        return fail(c, 409,
                                    "%s is already a domain of app %s; remove it there first",
                                    host, owner->name);
                return fail(c, 409, "%s is already a domain of another app", host);
        }
        if (r == -E2BIG)
                return fail(c, 422, "%s has %d custom domains already, the most an app may have",
                            app->name, STORE_DOMAINS_MAX);
        if (r < 0)
                return fail_store(c, r, "adding the domain");
        log_info("%s: domain %s added by %s", app->name, host, c->token->user);
        supervisor_converge(c->api->sup, app->id); /* the router learns of it */
        c->out = domain_json(d->id, d->hostname, "custom", d->created_at);
        return 201;
}

static unsigned h_domains_remove(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        _cleanup_free_ char *host = lowercase_dup(c->param[1]);
        if (!host)
                return fail(c, 500, "out of memory");
        _cleanup_(json_decrefp) json_t *def = default_domain_json(c->api, app);
        if (!def)
                return fail(c, 500, "out of memory");
        if (streq(host, app->id) ||
            streq(host, json_string_value(json_object_get(def, "hostname"))))
                return fail(c, 422, "%s is the app's own domain and cannot be removed",
                            json_string_value(json_object_get(def, "hostname")));
        _cleanup_(domain_freep) struct domain *d = NULL;
        int r = store_domain_get(c->api->store, app->id, host, &d);
        if (r >= 0)
                r = store_domain_remove(c->api->store, app->id, d->id);
        if (r == -ENOENT)
                return fail(c, 404, "couldn't find domain %s on %s", c->param[1], app->name);
        if (r < 0)
                return fail_store(c, r, "removing the domain");
        log_info("%s: domain %s removed by %s", app->name, d->hostname, c->token->user);
        supervisor_converge(c->api->sup, app->id);
        c->out = domain_json(d->id, d->hostname, "custom", d->created_at);
        return 200;
}

/* ---- the routing table, long-polled by pier-router ---- */

#define WATCH_WAIT_MS 25000 /* a watch answers at least this often */

static void watcher_free(struct watcher *w)
{
        struct api *a = w->api;
        if (w->prev)
                w->prev->next = w->next;
        else if (a->watchers == w)
                a->watchers = w->next;
        if (w->next)
                w->next->prev = w->prev;
        loop_timer_free(w->timer);
        if (w->req)
                w->req->watch = NULL;
        free(w);
}

static void wake(void *userdata);

static void watcher_resume(struct watcher *w)
{
        MHD_resume_connection(w->conn);
        wake(w->api);
}

static void on_watch_timeout(struct loop_timer *t, void *userdata)
{
        struct watcher *w = userdata;
        w->expired = true;
        watcher_resume(w);
}

void api_table_changed(struct api *a)
{
        for (struct watcher *w = a->watchers; w; w = w->next)
                if (!w->expired) {
                        w->expired = true;
                        watcher_resume(w);
                }
}

static unsigned h_router_table(struct call *c)
{
        struct api *a = c->api;
        const char *since = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "since");
        int64_t v = 0;
        if (since && safe_atoi64(since, &v) < 0)
                return fail(c, 400, "since must be a table version");
        struct watcher *w = c->req->watch;
        bool newer = (uint64_t)v < supervisor_table_version(a->sup);
        if (!since || newer || (w && w->expired)) {
                if (w)
                        watcher_free(w);
                c->out = supervisor_table_json(a->sup);
                return 200;
        }
        if (!w) {
                w = calloc(1, sizeof(*w));
                if (!w)
                        return fail(c, 500, "out of memory");
                w->api = a;
                w->conn = c->conn;
                w->req = c->req;
                if (loop_add_timer(a->loop, (uint64_t)mono_usec() + WATCH_WAIT_MS * 1000ull,
                                   on_watch_timeout, w, &w->timer) < 0) {
                        free(w);
                        return fail(c, 500, "out of memory");
                }
                w->next = a->watchers;
                if (a->watchers)
                        a->watchers->prev = w;
                a->watchers = w;
                c->req->watch = w;
        }
        MHD_suspend_connection(c->conn);
        c->parked = true;
        return 0;
}

static unsigned h_tokens_list(struct call *c)
{
        _cleanup_(token_list_freep) struct token_list *l = NULL;
        int r = store_token_list(c->api->store, &l);
        if (r < 0)
                return fail_store(c, r, "listing authorizations");
        c->out = json_array();
        for (size_t i = 0; c->out && i < l->n; i++)
                json_array_append_new(c->out, token_json(&l->tokens[i], NULL));
        return 200;
}

static unsigned h_tokens_create(struct call *c)
{
        const char *scope = "global", *description = "";
        json_t *s = c->body ? json_object_get(c->body, "scope") : NULL;
        json_t *d = c->body ? json_object_get(c->body, "description") : NULL;
        if (s) {
                if (!json_is_array(s) || json_array_size(s) != 1 ||
                    !json_is_string(json_array_get(s, 0)))
                        return fail(c, 400, "scope must be [\"global\"] or [\"read\"]");
                scope = json_string_value(json_array_get(s, 0));
                if (!streq(scope, "global") && !streq(scope, "read"))
                        return fail(c, 422, "unknown scope \"%s\": use global or read", scope);
        }
        if (d) {
                if (!json_is_string(d))
                        return fail(c, 400, "description must be a string");
                description = json_string_value(d);
        }

        char secret[65], hash[65];
        int r = token_new(secret);
        if (r < 0)
                return fail(c, 500, "no randomness for a token");
        sha256_hex(secret, strlen(secret), hash);
        _cleanup_(token_freep) struct token *t = NULL;
        r = store_token_create(c->api->store, hash, c->token->user, scope, description, &t);
        if (r < 0)
                return fail_store(c, r, "creating the authorization");
        log_info("authorization %s (%s) created by %s", t->id, scope, c->token->user);
        c->out = token_json(t, secret);
        return 201;
}

static unsigned h_tokens_delete(struct call *c)
{
        _cleanup_(token_list_freep) struct token_list *l = NULL;
        int r = store_token_list(c->api->store, &l);
        if (r < 0)
                return fail_store(c, r, "listing authorizations");
        for (size_t i = 0; i < l->n; i++) {
                if (!streq(l->tokens[i].id, c->param[0]))
                        continue;
                r = store_token_delete(c->api->store, l->tokens[i].id);
                if (r < 0)
                        return fail_store(c, r, "revoking the authorization");
                c->out = token_json(&l->tokens[i], NULL);
                return 200;
        }
        return fail(c, 404, "couldn't find authorization %s", c->param[0]);
}

/* ---- routing ---- */

enum {
        ROUTE_OPEN = 1 << 0,    /* no token needed */
        ROUTE_SECRET = 1 << 1,  /* config vars: not for read-only tokens */
        ROUTE_GLOBAL = 1 << 2,  /* token management: global tokens only */
        ROUTE_BODY = 1 << 3,    /* takes a JSON body */
};

struct route {
        const char *method;
        const char *pattern; /* ":x" matches one path segment */
        unsigned (*fn)(struct call *c);
        unsigned flags;
};

static const struct route routes[] = {
        {"GET", "/health", h_health, ROUTE_OPEN},
        {"GET", "/account", h_account, 0},
        {"GET", "/apps", h_apps_list, 0},
        {"POST", "/apps", h_apps_create, ROUTE_BODY},
        {"GET", "/apps/:app", h_app_info, 0},
        {"PATCH", "/apps/:app", h_app_update, ROUTE_BODY},
        {"DELETE", "/apps/:app", h_app_destroy, 0},
        {"GET", "/apps/:app/config-vars", h_config_get, ROUTE_SECRET},
        {"PATCH", "/apps/:app/config-vars", h_config_update, ROUTE_SECRET | ROUTE_BODY},
        {"GET", "/apps/:app/releases", h_releases_list, 0},
        {"POST", "/apps/:app/releases", h_releases_create, ROUTE_BODY},
        {"POST", "/apps/:app/build-events", h_build_event, ROUTE_BODY},
        {"GET", "/apps/:app/slugs/:slug", h_slug_info, 0},
        {"GET", "/apps/:app/formation", h_formation_get, 0},
        {"PATCH", "/apps/:app/formation", h_formation_update, ROUTE_BODY},
        {"GET", "/apps/:app/dynos", h_dynos_list, 0},
        {"POST", "/apps/:app/dynos", h_dynos_run, ROUTE_BODY},
        {"DELETE", "/apps/:app/dynos", h_dynos_restart, 0},
        {"DELETE", "/apps/:app/dynos/:dyno", h_dynos_restart, 0},
        {"POST", "/apps/:app/dynos/:dyno/actions/stop", h_dynos_stop, 0},
        {"GET", "/apps/:app/dynos/:dyno/attach", h_dynos_attach, ROUTE_SECRET},
        {"GET", "/apps/:app/log-lines", h_log_lines, ROUTE_SECRET},
        {"GET", "/apps/:app/log-stream", h_log_stream, ROUTE_SECRET},
        {"GET", "/apps/:app/domains", h_domains_list, 0},
        {"POST", "/apps/:app/domains", h_domains_add, ROUTE_BODY},
        {"DELETE", "/apps/:app/domains/:domain", h_domains_remove, 0},
        {"GET", "/apps/:app/log-drains", h_drains_list, ROUTE_SECRET},
        {"POST", "/apps/:app/log-drains", h_drains_add, ROUTE_BODY},
        {"DELETE", "/apps/:app/log-drains/:drain*", h_drains_remove, 0},
        {"GET", "/router/table", h_router_table, 0},
        {"GET", "/apps/:app/buildpack-installations", h_buildpacks_get, 0},
        {"PUT", "/apps/:app/buildpack-installations", h_buildpacks_set, ROUTE_BODY},
        {"GET", "/apps/:app/releases/:release", h_release_info, 0},
        {"PATCH", "/apps/:app/releases/:release", h_release_update, ROUTE_BODY},
        {"GET", "/apps/:app/releases/:release/config-vars", h_release_config, ROUTE_SECRET},
        {"GET", "/oauth/authorizations", h_tokens_list, ROUTE_GLOBAL},
        {"POST", "/oauth/authorizations", h_tokens_create, ROUTE_GLOBAL | ROUTE_BODY},
        {"DELETE", "/oauth/authorizations/:id", h_tokens_delete, ROUTE_GLOBAL},
};

/* Does `path` match `pattern`?  Captures go to param[], pointing into
 * `path`, whose '/' after a capture are overwritten with NUL — so the
 * caller passes a scratch copy. */
static bool route_match(const char *pattern, char *path, const char *param[2])
{
        size_t np = 0;
        const char *p = pattern;
        char *s = path;
        while (*p && *s) {
                if (*p == ':') {
                        /* ":name*" at the end takes the rest, slashes and
                         * all (a drain URL, decoded from %2F). */
                        size_t pn = strcspn(p, "/");
                        bool rest = p[pn] == '\0' && p[pn - 1] == '*';
                        size_t n = rest ? strlen(s) : strcspn(s, "/");
                        if (n == 0 || np >= 2)
                                return false;
                        param[np++] = s;
                        p += strcspn(p, "/");
                        s += n;
                        if (*s == '/' && *p == '/') {
                                *s++ = '\0';
                                p++;
                        }
                        continue;
                }
                if (*p != *s)
                        return false;
                p++;
                s++;
        }
        return *p == '\0' && *s == '\0';
}

/* The route for method+url; *ret_allow lists the methods when only the
 * method is wrong (405). */
static const struct route *route_find(const char *method, const char *url, char *scratch,
                                      size_t scratch_size, const char *param[2],
                                      struct strbuf *allow)
{
        const struct route *found = NULL;
        for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
                snprintf(scratch, scratch_size, "%s", url);
                const char *p[2] = {NULL, NULL};
                if (!route_match(routes[i].pattern, scratch, p))
                        continue;
                if (streq(routes[i].method, method)) {
                        found = &routes[i];
                        break;
                }
                if (allow->len)
                        strbuf_addstr(allow, ", ");
                strbuf_addstr(allow, routes[i].method);
        }
        if (found) {
                /* Match again so that param[] points into the final scratch. */
                snprintf(scratch, scratch_size, "%s", url);
                route_match(found->pattern, scratch, param);
        }
        return found;
}

/* The token of the request, or NULL (with the reply's message). */
static int authenticate(struct api *a, struct MHD_Connection *conn, struct token **ret)
{
        const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        if (!h || strncasecmp(h, "Bearer ", 7) != 0)
                return -ENOKEY;
        const char *secret = h + 7;
        while (*secret == ' ')
                secret++;
        char hash[65];
        sha256_hex(secret, strlen(secret), hash);
        return store_token_find(a->store, hash, ret);
}

static bool scope_allows(const struct token *t, const char *method, unsigned flags)
{
        if (streq(t->scope, "global"))
                return true;
        /* "read": look, but not at secrets, and change nothing. */
        return streq(method, "GET") && !(flags & (ROUTE_SECRET | ROUTE_GLOBAL));
}

static enum MHD_Result handle(struct api *a, struct MHD_Connection *conn, const char *url,
                              const char *method, struct request *req)
{
        /* Paths are short (the longest: a drain URL, at most 512 bytes, in
         * DELETE .../log-drains/URL); a longer one cannot match any route. */
        char scratch[1024];
        if (strlen(url) >= sizeof(scratch))
                return send_error(conn, 404, "no such path", NULL);
        /* Tolerate one trailing slash: "/apps/" is "/apps". */
        _cleanup_free_ char *path = strdup(url);
        if (!path)
                return MHD_NO;
        size_t len = strlen(path);
        if (len > 1 && path[len - 1] == '/')
                path[len - 1] = '\0';

        const char *param[2] = {NULL, NULL};
        struct strbuf allow = STRBUF_INIT;
        const struct route *rt = route_find(method, path, scratch, sizeof(scratch), param, &allow);
        if (!rt) {
                enum MHD_Result ret;
                if (allow.len) {
                        _cleanup_free_ char *msg = NULL;
                        if (asprintf(&msg, "%s is not allowed on %s; use %s", method, path,
                                     allow.buf) < 0)
                                msg = NULL;
                        ret = send_error(conn, 405, msg ? msg : "method not allowed", allow.buf);
                } else
                        ret = send_error(conn, 404, "no such path: see docs/api.md", NULL);
                strbuf_release(&allow);
                return ret;
        }
        strbuf_release(&allow);

        _cleanup_(token_freep) struct token *token = NULL;
        if (!(rt->flags & ROUTE_OPEN)) {
                int r = authenticate(a, conn, &token);
                if (r == -ENOKEY)
                        return send_error(conn, 401,
                                          "authentication required: send Authorization: Bearer "
                                          "TOKEN (run `pier login`)",
                                          NULL);
                if (r == -ENOENT)
                        return send_error(conn, 401, "invalid token: run `pier login` again",
                                          NULL);
                if (r < 0) {
                        log_error_errno(r, "checking a token: %m (%s)", store_errmsg(a->store));
                        return send_error(conn, 500, "the state store failed; see pierd's log",
                                          NULL);
                }
                if (!scope_allows(token, method, rt->flags))
                        return send_error(conn, 403,
                                          "this token's scope does not allow that; use a token "
                                          "with scope global",
                                          NULL);
        }

        if (req->too_large)
                return send_error(conn, 413, "the request body is over 1 MiB", NULL);

        _cleanup_(json_decrefp) json_t *body = NULL;
        if ((rt->flags & ROUTE_BODY) && req->body.len > 0) {
                if (!json_depth_ok(req->body.buf, req->body.len, JSON_DEPTH_MAX))
                        return send_error(conn, 400, "the JSON body is nested too deeply", NULL);
                json_error_t err;
                body = json_loadb(req->body.buf, req->body.len, JSON_REJECT_DUPLICATES, &err);
                if (!body) {
                        _cleanup_free_ char *msg = NULL;
                        if (asprintf(&msg, "the body is not valid JSON: %s (at byte %d)",
                                     err.text, err.position) < 0)
                                msg = NULL;
                        return send_error(conn, 400, msg ? msg : "the body is not valid JSON",
                                          NULL);
                }
                if (!json_is_object(body))
                        return send_error(conn, 400, "the body must be a JSON object", NULL);
        }

        struct call c = {
                .api = a,
                .req = req,
                .conn = conn,
                .method = method,
                .token = token,
                .param = {param[0], param[1]},
                .body = body,
        };
        if (!streq(method, "GET"))
                a->generation++;
        bool cacheable = rt->fn == h_apps_list;
        if (cacheable && a->apps_body && a->apps_body_generation == a->generation) {
                char *copy = malloc(a->apps_body_len);
                if (copy)
                        memcpy(copy, a->apps_body, a->apps_body_len);
                return send_body(conn, 200, copy, a->apps_body_len, 0, NULL);
        }

        unsigned status = rt->fn(&c);
        if (c.parked)
                return MHD_YES; /* resumed later, then handled again */
        if (c.response) {
                json_decref(c.out);
                enum MHD_Result ret = MHD_queue_response(conn, status, c.response);
                MHD_destroy_response(c.response);
                return ret;
        }
        size_t body_len = c.raw_len;
        char *text = c.raw ? c.raw : dump_json(c.out, &body_len);
        json_decref(c.out);
        if (cacheable && status == 200 && text) {
                free(a->apps_body);
                a->apps_body = malloc(body_len);
                if (a->apps_body)
                        memcpy(a->apps_body, text, body_len);
                a->apps_body_len = body_len;
                a->apps_body_generation = a->generation;
        }
        return send_body(conn, status, text, body_len, c.release_version, NULL);
}

/* ---- the deadline on request heads ---- */

/* A client has HEAD_TIMEOUT_S from connecting, or from the end of its
 * previous request, to send a whole request head; then the connection is
 * shut.  So that a slowloris (heads sent a line now and then) cannot hold
 * the connection slots.  Requests being handled (log tails, git pushes,
 * attached runs) have no such limit. */
#define HEAD_TIMEOUT_S 10

struct api_conn {
        struct api_conn *prev, *next;
        struct MHD_Connection *conn;
        int64_t head_since; /* mono_usec(); 0 while a request is handled */
};

static struct api_conn *api_conn_of(struct MHD_Connection *conn)
{
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
        struct api *a = cls;
        struct api_conn *ac = *socket_context;
        if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
                ac = calloc(1, sizeof(*ac));
                if (!ac)
                        return; /* no deadline for this one */
                ac->conn = conn;
                ac->head_since = mono_usec();
                ac->next = a->conns;
                if (a->conns)
                        a->conns->prev = ac;
                a->conns = ac;
                *socket_context = ac;
                return;
        }
        if (!ac)
                return;
        if (ac->prev)
                ac->prev->next = ac->next;
        else
                a->conns = ac->next;
        if (ac->next)
                ac->next->prev = ac->prev;
        free(ac);
        *socket_context = NULL;
}

static void on_head_timer(struct loop_timer *t, void *userdata)
{
        struct api *a = userdata;
        int64_t now = mono_usec(), limit = now - (int64_t)HEAD_TIMEOUT_S * 1000000;
        for (struct api_conn *ac = a->conns; ac; ac = ac->next) {
                if (!ac->head_since || ac->head_since > limit)
                        continue;
                const union MHD_ConnectionInfo *ci =
                    MHD_get_connection_info(ac->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
                if (ci) /* MHD sees it end and closes it on its next run */
                        (void)shutdown(ci->connect_fd, SHUT_RDWR);
                ac->head_since = 0;
        }
        /* And MHD runs at least once a second: at its connection limit it
         * stops listening until its next run, which, once every connection
         * has gone, nothing else would bring. */
        loop_timer_set(a->timer, 1);
        loop_timer_set(t, (uint64_t)now + 1000000);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
        struct api *a = cls;
        struct request *req = *con_cls;

        if (!req) {
                struct api_conn *ac = api_conn_of(conn);
                if (ac)
                        ac->head_since = 0; /* the head is in */
                req = calloc(1, sizeof(*req));
                if (!req)
                        return MHD_NO;
                *con_cls = req;
                int r = git_request_new(&a->git, conn, url, method, &req->git);
                if (r < 0)
                        return MHD_NO;
                if (req->git)
                        return MHD_YES; /* maybe with an error already queued */
                /* Refuse an announced oversized body before reading it. */
                const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
                int64_t n;
                if (cl && safe_atoi64(cl, &n) >= 0 && n > BODY_MAX)
                        return send_error(conn, 413, "the request body is over 1 MiB", NULL);
                return MHD_YES;
        }

        if (req->git)
                return git_request_handle(req->git, upload_data, upload_data_size);

        if (*upload_data_size > 0) {
                if (!req->too_large && req->body.len + *upload_data_size <= BODY_MAX) {
                        if (strbuf_add(&req->body, upload_data, *upload_data_size) < 0)
                                return MHD_NO;
                } else {
                        /* Keep reading (and dropping) so the client gets
                         * its 413 instead of a reset. */
                        req->too_large = true;
                        strbuf_release(&req->body);
                }
                *upload_data_size = 0;
                return MHD_YES;
        }

        return handle(a, conn, url, method, req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
        struct api_conn *ac = api_conn_of(conn);
        if (ac)
                ac->head_since = mono_usec(); /* the next request's head */
        struct request *req = *con_cls;
        if (!req)
                return;
        strbuf_release(&req->body);
        git_request_free(req->git);
        if (req->watch)
                watcher_free(req->watch);
        free(req);
        *con_cls = NULL;
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt,
                                                              va_list ap)
{
        char buf[512];
        vsnprintf(buf, sizeof(buf), fmt, ap);
        buf[strcspn(buf, "\n")] = '\0';
        /* A client gone in the middle of a response (a log tail ended with
         * Ctrl-C) is routine. */
        if (strstr(buf, "no longer available for sending") || strstr(buf, "onnection reset"))
                log_debug("http: %s", buf);
        else
                log_warning("http: %s", buf);
}

/* ---- the daemon on our loop ---- */

/* After MHD_run(): when MHD wants to run next.  A connection resumed while
 * it ran (a handler's app[api] line wakes a log tail, say) needs another
 * run at once: MHD's own timeout does not know about it. */
static void schedule(struct api *a)
{
        MHD_UNSIGNED_LONG_LONG ms;
        if (a->wake_pending)
                loop_timer_set(a->timer, 1);
        else if (MHD_get_timeout(a->mhd, &ms) == MHD_YES)
                loop_timer_set(a->timer, (uint64_t)mono_usec() + (uint64_t)ms * 1000);
        else
                loop_timer_disable(a->timer);
}

static void wake(void *userdata)
{
        struct api *a = userdata;
        a->wake_pending = true;
        loop_timer_set(a->timer, 1); /* due at once */
}

void api_wake(struct api *a)
{
        wake(a);
}

static void on_io(struct loop_io *io, int fd, uint32_t revents, void *userdata)
{
        struct api *a = userdata;
        a->wake_pending = false;
        MHD_run(a->mhd);
        schedule(a);
}

static void on_timer(struct loop_timer *t, void *userdata)
{
        struct api *a = userdata;
        a->wake_pending = false;
        MHD_run(a->mhd);
        schedule(a);
}

/* "ADDR:PORT" or "[ADDR6]:PORT" into a socket address. */
static int parse_listen(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len)
{
        _cleanup_free_ char *host = NULL;
        const char *colon = strrchr(s, ':');
        if (!colon)
                return -EINVAL;
        uint16_t port;
        _cleanup_free_ char *portstr = strdup(colon + 1);
        if (!portstr || safe_atou16(portstr, &port) < 0)
                return -EINVAL;
        if (s[0] == '[') {
                if (colon == s || colon[-1] != ']')
                        return -EINVAL;
                host = strndup(s + 1, (size_t)(colon - s - 2));
        } else
                host = strndup(s, (size_t)(colon - s));
        if (!host)
                return -ENOMEM;

        struct sockaddr_storage ss = {0};
        struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        if (inet_pton(AF_INET, host[0] ? host : "127.0.0.1", &in4->sin_addr) == 1) {
                in4->sin_family = AF_INET;
                in4->sin_port = htons(port);
                *ret_len = sizeof(*in4);
        } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons(port);
                *ret_len = sizeof(*in6);
        } else
                return -EINVAL;
        *ret = ss;
        return 0;
}

int api_new(struct loop *l, struct store *s, const struct api_config *cfg, struct api **ret)
{
        struct sockaddr_storage ss;
        socklen_t sslen;
        int r = parse_listen(cfg->listen, &ss, &sslen);
        if (r < 0)
                return r;

        struct api *a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->loop = l;
        a->store = s;
        a->router_port = cfg->router_port;
        a->domain = strdup(cfg->domain);
        if (!a->domain) {
                r = -ENOMEM;
                goto fail;
        }

        a->mhd = MHD_start_daemon(
            MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE |
                (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
            0, NULL, NULL, on_request, a, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, a,
            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
            a, MHD_OPTION_NOTIFY_CONNECTION, on_connection, a,
            /* A connection silent for 60 s goes, like the router's; a
             * request head must be in within HEAD_TIMEOUT_S. */
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_CONNECTION_LIMIT,
            (unsigned)API_CONNECTIONS_MAX, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
            MHD_OPTION_END);
        if (!a->mhd) {
                r = -EADDRINUSE;
                goto fail;
        }

        const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        const union MHD_DaemonInfo *pinfo = MHD_get_daemon_info(a->mhd, MHD_DAEMON_INFO_BIND_PORT);
        if (!info || !pinfo) {
                r = -EIO;
                goto fail;
        }
        char host[INET6_ADDRSTRLEN] = "127.0.0.1";
        if (ss.ss_family == AF_INET)
                inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
        else
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
        if (cfg->public_url)
                a->url = strdup(cfg->public_url);
        else if (asprintf(&a->url, ss.ss_family == AF_INET6 ? "http://[%s]:%u" : "http://%s:%u",
                          host, pinfo->port) < 0)
                a->url = NULL;
        if (!a->url) {
                r = -ENOMEM;
                goto fail;
        }

        a->home = strdup(cfg->home);
        a->build_bin = strdup(cfg->build_bin);
        a->buildpacks_dir = strdup(cfg->buildpacks_dir);
        if (!a->home || !a->build_bin || !a->buildpacks_dir) {
                r = -ENOMEM;
                goto fail;
        }
        a->sup = cfg->sup;
        a->hub = cfg->hub;
        a->drains = cfg->drains;
        a->git = (struct git_env){
                .loop = l,
                .store = s,
                .home = a->home,
                .api_url = a->url,
                .domain = a->domain,
                .router_port = a->router_port,
                .build_bin = a->build_bin,
                .buildpacks_dir = a->buildpacks_dir,
                .build_timeout = cfg->build_timeout,
                .build_max_files = cfg->build_max_files,
                .boot_timeout = cfg->boot_timeout,
                .wake = wake,
                .wake_userdata = a,
        };

        r = loop_add_io(l, info->epoll_fd, EPOLLIN, on_io, a, &a->io);
        if (r < 0)
                goto fail;
        r = loop_add_timer(l, 0, on_timer, a, &a->timer);
        if (r >= 0)
                r = loop_add_timer(l, (uint64_t)mono_usec() + 1000000, on_head_timer, a,
                                   &a->head_timer);
        if (r < 0)
                goto fail;
        schedule(a);
        *ret = a;
        return 0;
fail:
        api_free(a);
        return r;
}

struct api *api_free(struct api *a)
{
        if (!a)
                return NULL;
        if (a->mhd) {
                /* MHD aborts when stopped with suspended connections: wake
                 * every parked one (long-polls answer with the table as it
                 * is, git responses end) and let MHD finish them first. */
                for (struct watcher *w = a->watchers; w; w = w->next)
                        if (!w->expired) {
                                w->expired = true;
                                MHD_resume_connection(w->conn);
                        }
                git_resume_all();
                api_logs_shutdown(a);
                attach_shutdown(); /* attached runs' connections */
                for (int i = 0; i < 8; i++)
                        MHD_run(a->mhd);
                MHD_stop_daemon(a->mhd);
        }
        loop_io_free(a->io);
        loop_timer_free(a->timer);
        loop_timer_free(a->head_timer);
        git_forget_children();
        /* Release commands still running end with the supervisor. */
        for (struct release_run *rr = a->release_runs; rr; rr = rr->next)
                rr->api = NULL;
        while (a->watchers)
                watcher_free(a->watchers);
        free(a->domain);
        free(a->url);
        free(a->home);
        free(a->build_bin);
        free(a->buildpacks_dir);
        free(a->apps_body);
        free(a);
        return NULL;
}

const char *api_url(const struct api *a)
{
        return a->url;
}
