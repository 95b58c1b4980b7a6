/* maintenance, maintenance:on, maintenance:off.
 *
 * Maintenance mode is a flag of the app (PATCH /apps/APP {"maintenance":
 * true}); while it is on, pier-router answers every request for the app
 * with the maintenance page (H80) and the dynos keep running. */

#include <errno.h>
#include <stdio.h>

#include <jansson.h>

#include "cli/cli.h"
#include "lib/util.h"

/* The app's JSON in *ret, after setting maintenance to *on when on is not
 * NULL. */
static int maintenance_call(struct cli *cli, const char *app, const bool *on, json_t **ret)
{
        _cleanup_free_ char *path = NULL;
        json_t *body = NULL;
        int r;

        r = app_path(app, "", &path);
        if (r < 0)
                return r;
        if (on) {
                body = json_pack("{s:b}", "maintenance", *on);
                if (!body) {
                        cli_error("out of memory");
                        return -ENOMEM;
                }
        }
        r = api_call(cli, on ? "PATCH" : "GET", path, body, ret, NULL);
        json_decref(body);
        if (r < 0)
                return r;
        if (!json_is_boolean(json_object_get(*ret, "maintenance"))) {
                json_decref(*ret);
                *ret = NULL;
                cli_error("pierd sent an app without its maintenance flag");
                return -EBADMSG;
        }
        return 0;
}

int cmd_maintenance(struct cli *cli)
{
        json_t *app_json = NULL;
        const char *app;
        int r;

        if (cli->argc > 0)
                return cli_usage_error(cli, "maintenance takes no arguments; see "
                                            "maintenance:on and maintenance:off");
        r = cli_app(cli, &app);
        if (r < 0)
                return r;
        r = maintenance_call(cli, app, NULL, &app_json);
        if (r < 0)
                return r;
        if (cli->json)
                r = print_json(app_json);
        else
                printf("%s\n",
                       json_is_true(json_object_get(app_json, "maintenance")) ? "on" : "off");
        json_decref(app_json);
        return r;
}

static int set_maintenance(struct cli *cli, bool on)
{
        json_t *app_json = NULL;
        const char *app;
        int r;

        if (cli->argc > 0)
                return cli_usage_error(cli, "too many arguments");
        r = cli_app(cli, &app);
        if (r < 0)
                return r;
        r = maintenance_call(cli, app, &on, &app_json);
        if (r < 0)
                return r;
        if (cli->json)
                r = print_json(app_json);
        else
                printf("%s maintenance mode for %s... done\n", on ? "Enabling" : "Disabling", app);
        json_decref(app_json);
        return r;
}

int cmd_maintenance_on(struct cli *cli)
{
        return set_maintenance(cli, true);
}

int cmd_maintenance_off(struct cli *cli)
{
        return set_maintenance(cli, false);
}
