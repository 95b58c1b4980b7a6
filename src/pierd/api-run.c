/* One-off dynos: POST /apps/APP/dynos (run.NNNN, detached or attached) and
 * GET /apps/APP/dynos/NAME/attach, the upgraded connection an attached
 * run's client splices its terminal to (attach.h; docs/api.md "Attached
 * runs"). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/attachproto.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/util.h"
#include "pierd/api-int.h"
#include "pierd/attach.h"
#include "pierd/dynos.h"

/* The client's environment for the dyno ("env": {"TERM": ...}): a few
 * short values, not a second config. */
#define RUN_ENV_MAX       32
#define RUN_ENV_VALUE_MAX 1024
#define COMMAND_MAX       (32 * 1024)

static void strv_free(char **v)
{
        for (char **p = v; p && *p; p++)
                free(*p);
        free(v);
}

static void strv_freep(char ***v)
{
        strv_free(*v);
}

/* "env": {"KEY": "value"} as KEY=value strings, NULL-terminated. */
static int parse_env(struct call *c, const json_t *env, char ***ret)
{
        *ret = NULL;
        if (!env)
                return 0;
        if (!json_is_object(env) || json_object_size(env) > RUN_ENV_MAX) {
                fail(c, 422, "env must be an object of at most %d string values",
                     RUN_ENV_MAX);
                return -EINVAL;
        }
        char **v = calloc(json_object_size(env) + 1, sizeof(char *));
        if (!v) {
                fail(c, 500, "out of memory");
                return -ENOMEM;
        }
        size_t n = 0;
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)env, key, val) {
                const char *s = json_string_value(val);
                if (!config_key_valid(key) || !s || json_string_length(val) != strlen(s) ||
                    strlen(s) > RUN_ENV_VALUE_MAX) {
                        strv_free(v);
                        fail(c, 422,
                             "env: %s must be a name like a config var's with a string value "
                             "of at most %d bytes and no NUL",
                             key, RUN_ENV_VALUE_MAX);
                        return -EINVAL;
                }
                if (asprintf(&v[n], "%s=%s", key, s) < 0) {
                        v[n] = NULL;
                        strv_free(v);
                        fail(c, 500, "out of memory");
                        return -ENOMEM;
                }
                n++;
        }
        *ret = v;
        return 0;
}

/* A window size, 0 when absent; -1 (failed) when out of range. */
static int parse_size(struct call *c, const char *what, const json_t *v, unsigned *ret)
{
        *ret = 0;
        if (!v)
                return 0;
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > ATTACH_WINSIZE_MAX) {
                fail(c, 422, "%s must be a number from 1 to %d", what, ATTACH_WINSIZE_MAX);
                return -1;
        }
        *ret = (unsigned)json_integer_value(v);
        return 0;
}

/* POST /apps/APP/dynos {"command", "attach", "tty", "rows", "cols", "env"}:
 * a one-off dyno run.NNNN of the current release. */
unsigned h_dynos_run(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        json_t *cmd = c->body ? json_object_get(c->body, "command") : NULL;
        json_t *attach = c->body ? json_object_get(c->body, "attach") : NULL;
        json_t *tty = c->body ? json_object_get(c->body, "tty") : NULL;
        if (!json_is_string(cmd) || !*json_string_value(cmd) ||
            (attach && !json_is_boolean(attach)) || (tty && !json_is_boolean(tty)))
                return fail(c, 400, "give {\"command\": \"...\", \"attach\": false}");
        const char *command = json_string_value(cmd);
        if (json_string_length(cmd) != strlen(command) || strlen(command) > COMMAND_MAX)
                return fail(c, 422, "the command must be at most %d bytes, without NUL",
                            COMMAND_MAX);
        unsigned rows, cols;
        if (parse_size(c, "rows", json_object_get(c->body, "rows"), &rows) < 0 ||
            parse_size(c, "cols", json_object_get(c->body, "cols"), &cols) < 0)
                return c->status;
        _cleanup_(strv_freep) char **env = NULL;
        if (parse_env(c, json_object_get(c->body, "env"), &env) < 0)
                return c->status;
        if (json_is_true(tty) && !json_is_true(attach))
                return fail(c, 422, "a tty needs \"attach\": true");

        _cleanup_(release_list_freep) struct release_list *l = NULL;
        int r = store_release_list(c->api->store, app->id, &l);
        if (r < 0)
                return fail_store(c, r, "listing releases");
        const struct release *cur = NULL;
        for (size_t i = 0; i < l->n && !cur; i++)
                if (l->releases[i].current)
                        cur = &l->releases[i];
        if (!cur || !cur->slug_id)
                return fail(c, 422, "%s has no release to run yet: deploy it first", app->name);
        char name[80];
        if (json_is_true(attach)) {
                struct attach_spec spec = {
                        .app_id = app->id,
                        .release = cur->version,
                        .command = command,
                        .token_id = c->token->id,
                        .tty = json_is_true(tty),
                        .rows = rows,
                        .cols = cols,
                        .tty_uid = app->uid,
                        .env = env,
                };
                r = attach_run(c->api->loop, c->api->sup, &spec, name);
                if (r == -EMFILE)
                        return fail(c, 422, "too many attached runs at once; try again later");
        } else {
                struct run_opts o = {.type_label = "run", .stdio = {-1, -1, -1}, .env = env};
                r = supervisor_run_opts(c->api->sup, app->id, cur->version, command, &o, NULL,
                                        NULL, name);
        }
        if (r < 0)
                return fail(c, 500, "starting the dyno failed: %s", strerror(-r));
        log_info("%s: %s runs `%s` as %s%s", app->name, c->token->user, command, name,
                 json_is_true(attach) ? " (attached)" : "");
        _cleanup_(json_decrefp) json_t *all = supervisor_dynos_json(c->api->sup, app->id);
        size_t i;
        json_t *d;
        json_array_foreach(all, i, d) {
                if (streq(json_string_value(json_object_get(d, "name")), name)) {
                        c->out = json_copy(d);
                        break;
                }
        }
        if (!c->out) /* it could not even start and is gone already */
                c->out = json_pack("{s:s, s:s, s:s, s:s, s:{s:I}}", "name", name, "type", "run",
                                   "state", "down", "command", command, "release", "version",
                                   (json_int_t)cur->version);
        if (c->out && json_is_true(attach)) {
                _cleanup_free_ char *url = NULL;
                if (asprintf(&url, "%s/apps/%s/dynos/%s/attach", c->api->url, app->name, name) <
                    0)
                        return fail(c, 500, "out of memory");
                json_object_set_new(c->out, "attach_url", json_string(url));
        }
        return 201;
}

static void wake_api(void *ud)
{
        api_wake(ud);
}

/* cls is the session's serial, not a pointer: the session may be gone by
 * the time the 101 is out. */
static void on_upgraded(void *cls, struct MHD_Connection *conn, void *con_cls,
                        const char *extra_in, size_t extra_in_size, MHD_socket sock,
                        struct MHD_UpgradeResponseHandle *urh)
{
        attach_upgraded((uint64_t)(uintptr_t)cls, sock, extra_in, extra_in_size, urh);
}

/* Whether a comma-separated header value has `token` (any case). */
static bool header_has(const char *value, const char *token)
{
        size_t n = strlen(token);
        for (const char *p = value; p && *p;) {
                p += strspn(p, " \t,");
                size_t len = strcspn(p, ",");
                size_t end = len;
                while (end && (p[end - 1] == ' ' || p[end - 1] == '\t'))
                        end--;
                if (end == n && strncasecmp(p, token, n) == 0)
                        return true;
                p += len;
        }
        return false;
}

/* GET /apps/APP/dynos/NAME/attach with Connection: Upgrade and Upgrade:
 * pier-attach: 101, then the frames of lib/attachproto.h. */
unsigned h_dynos_attach(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        const char *conn = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, "Connection");
        const char *upgrade = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, "Upgrade");
        if (!conn || !upgrade || !header_has(conn, "upgrade") ||
            strcasecmp(upgrade, ATTACH_PROTOCOL) != 0)
                return fail(c, 400,
                            "attach needs Connection: Upgrade and Upgrade: " ATTACH_PROTOCOL
                            " (pier run does that)");
        uint64_t serial;
        int r = attach_claim(app->id, c->param[1], c->token->id, wake_api, c->api, &serial);
        if (r == -ENOENT)
                return fail(c, 404, "no dyno %s of %s is waiting for its client", c->param[1],
                            app->name);
        if (r == -EPERM)
                return fail(c, 403, "only the token that started %s may attach to it",
                            c->param[1]);
        if (r == -EALREADY)
                return fail(c, 409, "a client is attached to %s already", c->param[1]);
        c->response = MHD_create_response_for_upgrade(on_upgraded, (void *)(uintptr_t)serial);
        if (!c->response)
                return fail(c, 500, "out of memory");
        MHD_add_response_header(c->response, MHD_HTTP_HEADER_UPGRADE, ATTACH_PROTOCOL);
        MHD_add_response_header(c->response, MHD_HTTP_HEADER_CONNECTION, "Upgrade");
        log_info("%s: %s attached to %s", app->name, c->token->user, c->param[1]);
        return 101;
}
