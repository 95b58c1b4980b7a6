/* Log drains: GET/POST /apps/:app/log-drains, DELETE
 * /apps/:app/log-drains/:drain (docs/api.md "Log drains").  The store keeps
 * them; pierd's drains manager (drains.c) forwards the lines. */
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "lib/drainurl.h"
#include "lib/log.h"
#include "lib/timefmt.h"
#include "lib/util.h"
#include "pierd/api-int.h"
#include "pierd/drains.h"

/* As Heroku's log-drain object (less the add-on it may belong to). */
static json_t *drain_json(const struct drain *d)
{
        char created[32];
        time_iso8601(d->created_at, created);
        return json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", d->id, "url", d->url, "token",
                         d->token, "created_at", created, "updated_at", created);
}

unsigned h_drains_list(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        _cleanup_(drain_list_freep) struct drain_list *l = NULL;
        int r = store_drain_list(c->api->store, app->id, &l);
        if (r < 0)
                return fail_store(c, r, "listing log drains");
        c->out = json_array();
        for (size_t i = 0; c->out && i < l->n; i++)
                json_array_append_new(c->out, drain_json(&l->drains[i]));
        return 200;
}

unsigned h_drains_add(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        json_t *u = c->body ? json_object_get(c->body, "url") : NULL;
        if (!json_is_string(u))
                return fail(c, 400, "give {\"url\": \"syslog://logs.example.com:514\"}");
        const char *url = json_string_value(u);
        const char *why = NULL;
        struct drainurl parsed;
        if (drainurl_parse(url, json_string_length(u), &parsed, &why) < 0) {
                /* Quote the URL only when it is sane to print. */
                if (json_string_length(u) <= DRAINURL_MAX && !strpbrk(url, "\"\\"))
                        return fail(c, 422, "invalid drain URL \"%s\": %s; %s", url, why,
                                    DRAINURL_RULE);
                return fail(c, 422, "invalid drain URL: %s; %s", why, DRAINURL_RULE);
        }

        _cleanup_(drain_freep) struct drain *d = NULL;
        int r = store_drain_add(c->api->store, app->id, url, &d);
        if (r == -EEXIST)
                return fail(c, 409, "%s is already a log drain of %s", url, app->name);
        if (r == -E2BIG)
                return fail(c, 422, "%s has %d log drains already, the most an app may have",
                            app->name, STORE_DRAINS_MAX);
        if (r == -ENOENT)
                return fail(c, 404, "couldn't find that app");
        if (r < 0)
                return fail_store(c, r, "adding the log drain");
        log_info("%s: log drain %s added by %s", app->name, d->token, c->token->user);
        if (c->api->drains)
                (void)drains_add(c->api->drains, d); /* logged */
        c->out = drain_json(d);
        return 201;
}

unsigned h_drains_remove(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        const char *which = c->param[1];
        _cleanup_(drain_freep) struct drain *d = NULL;
        int r = store_drain_get(c->api->store, app->id, which, &d);
        if (r == -ENOENT) {
                /* The API strips one trailing slash from every path:
                 * "https://example.com/" arrives without it. */
                _cleanup_free_ char *slash = NULL;
                if (asprintf(&slash, "%s/", which) < 0)
                        return fail(c, 500, "out of memory");
                r = store_drain_get(c->api->store, app->id, slash, &d);
        }
        if (r >= 0)
                r = store_drain_remove(c->api->store, app->id, d->id);
        if (r == -ENOENT)
                return fail(c, 404, "couldn't find log drain %s on %s", which, app->name);
        if (r < 0)
                return fail_store(c, r, "removing the log drain");
        log_info("%s: log drain %s removed by %s", app->name, d->token, c->token->user);
        if (c->api->drains)
                drains_remove(c->api->drains, d->id);
        c->out = drain_json(d);
        return 200;
}
