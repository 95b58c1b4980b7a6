/* drains, drains:add, drains:remove: where an app's log lines are
 * forwarded (syslog://, syslog+tls://, https://).  pierd checks the URLs;
 * each drain has a token (d.UUID) that the receiving end sees as the
 * syslog hostname, so that it can tell apps apart. */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "lib/util.h"

static const char *get_str(const json_t *obj, const char *key)
{
        const char *s = json_string_value(json_object_get(obj, key));

        return s ? s : "";
}

/* "/apps/APP/log-drains" or "/apps/APP/log-drains/URL-OR-ID" (encoded:
 * a URL's slashes travel as %2F), malloc'd. */
static int drains_path(const char *app, const char *which, char **ret)
{
        return app_item_path(app, "/log-drains", which, ret);
}

/* The one URL (or id) argument of drains:add and drains:remove. */
static int drain_arg(struct cli *cli, const char *what, const char **ret)
{
        if (cli->argc != 1)
                return cli_usage_error(cli, cli->argc ? "too many arguments" : "%s", what);
        if (!*cli->argv[0])
                return cli_usage_error(cli, "%s", what);
        *ret = cli->argv[0];
        return 0;
}

int cmd_drains(struct cli *cli)
{
        _cleanup_free_ char *path = NULL;
        json_t *list = NULL;
        const char *app;
        int r;

        if (cli->argc > 0)
                return cli_usage_error(cli, "drains takes no arguments; see drains:add");
        r = cli_app(cli, &app);
        if (r < 0)
                return r;
        r = drains_path(app, NULL, &path);
        if (r < 0)
                return r;
        r = api_call(cli, "GET", path, NULL, &list, NULL);
        if (r < 0)
                return r;
        if (!json_is_array(list)) {
                json_decref(list);
                cli_error("pierd sent something other than a list of drains");
                return -EBADMSG;
        }
        if (cli->json)
                r = print_json(list);
        else if (json_array_size(list) == 0)
                printf("%s has no drains.\n", app);
        else {
                /* As Heroku's CLI: the URL and, in parentheses, the token. */
                printf("=== Drains\n");
                for (size_t i = 0; i < json_array_size(list); i++) {
                        const json_t *d = json_array_get(list, i);
                        printf("%s (%s)\n", get_str(d, "url"), get_str(d, "token"));
                }
        }
        json_decref(list);
        return r;
}

int cmd_drains_add(struct cli *cli)
{
        _cleanup_free_ char *path = NULL;
        const char *app, *url;
        json_t *body, *drain = NULL;
        int r;

        r = drain_arg(cli, "which URL? e.g. syslog://logs.example.com:514", &url);
        if (r < 0)
                return r;
        r = cli_app(cli, &app);
        if (r < 0)
                return r;
        r = drains_path(app, NULL, &path);
        if (r < 0)
                return r;
        body = json_pack("{s:s}", "url", url);
        if (!body) {
                cli_error("out of memory");
                return -ENOMEM;
        }
        r = api_call(cli, "POST", path, body, &drain, NULL);
        json_decref(body);
        if (r < 0)
                return r;
        if (cli->json)
                r = print_json(drain);
        else
                printf("Successfully added drain %s\n", get_str(drain, "url"));
        json_decref(drain);
        return r;
}

int cmd_drains_remove(struct cli *cli)
{
        _cleanup_free_ char *path = NULL;
        const char *app, *which;
        json_t *drain = NULL;
        int r;

        r = drain_arg(cli, "which drain? give its URL or id (see `pier drains`)", &which);
        if (r < 0)
                return r;
        r = cli_app(cli, &app);
        if (r < 0)
                return r;
        r = drains_path(app, which, &path);
        if (r < 0)
                return r;
        r = api_call(cli, "DELETE", path, NULL, &drain, NULL);
        if (r < 0)
                return r;
        if (cli->json)
                r = print_json(drain);
        else
                printf("Successfully removed drain %s\n", get_str(drain, "url"));
        json_decref(drain);
        return r;
}
