/* domains, domains:add, domains:remove, domains:clear.
 *
 * An app answers at APP.DOMAIN (Heroku's "Heroku Domain") and at its
 * custom domains, which pier-router routes to it as well.  pierd checks
 * the hostnames (and lower-cases them); the CLI only keeps out what would
 * not stay one path segment on the way. */

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

static bool is_custom(const json_t *domain)
{
        return streq(get_str(domain, "kind"), "custom");
}

/* "/apps/APP/domains" or "/apps/APP/domains/HOSTNAME", malloc'd. */
static int domains_path(const char *app, const char *hostname, char **ret)
{
        return app_item_path(app, "/domains", hostname, ret);
}

/* GET /apps/APP/domains: the list, checked to be one. */
static int fetch_domains(struct cli *cli, const char *app, json_t **ret)
{
        _cleanup_free_ char *path = NULL;
        json_t *list = NULL;
        int r;

        r = domains_path(app, NULL, &path);
        if (r < 0)
                return r;
        r = api_call(cli, "GET", path, NULL, &list, NULL);
        if (r < 0)
                return r;
        if (!json_is_array(list)) {
                json_decref(list);
                cli_error("pierd sent something other than a list of domains");
                return -EBADMSG;
        }
        *ret = list;
        return 0;
}

/* The one HOSTNAME argument of domains:add and domains:remove.  "." and
 * ".." are no hostnames, and an HTTP client would fold them into the path
 * ("/apps/APP/domains/.." is "/apps/APP"). */
static int hostname_arg(struct cli *cli, const char **ret)
{
        if (cli->argc != 1)
                return cli_usage_error(cli, cli->argc ? "too many arguments"
                                                      : "which hostname? e.g. www.example.com");
        const char *h = cli->argv[0];
        if (!*h || streq(h, ".") || streq(h, ".."))
                return cli_usage_error(cli, "'%s' is not a hostname", h);
        *ret = h;
        return 0;
}

int cmd_domains(struct cli *cli)
{
        json_t *list = NULL;
        const char *app;
        size_t i, n_custom = 0;
        int r;

        if (cli->argc > 0)
                return cli_usage_error(cli, "domains takes no arguments; see domains:add");
        r = cli_app(cli, &app);
        if (r < 0)
                return r;
        r = fetch_domains(cli, app, &list);
        if (r < 0)
                return r;
        if (cli->json) {
                r = print_json(list);
                json_decref(list);
                return r;
        }
        printf("=== %s Heroku Domain\n", app);
        for (i = 0; i < json_array_size(list); i++)
                if (!is_custom(json_array_get(list, i)))
                        printf("%s\n", get_str(json_array_get(list, i), "hostname"));
                else
                        n_custom++;
        if (n_custom > 0) {
                printf("\n=== %s Custom Domains\nDomain Name\n", app);
                for (i = 0; i < json_array_size(list); i++)
                        if (is_custom(json_array_get(list, i)))
                                printf("%s\n", get_str(json_array_get(list, i), "hostname"));
        }
        json_decref(list);
        return 0;
}

int cmd_domains_add(struct cli *cli)
{
        _cleanup_free_ char *path = NULL;
        const char *app, *hostname;
        json_t *body, *domain = NULL;
        int r;

        r = hostname_arg(cli, &hostname);
        if (r < 0)
                return r;
        r = cli_app(cli, &app);
        if (r < 0)
                return r;
        r = domains_path(app, NULL, &path);
        if (r < 0)
                return r;
        body = json_pack("{s:s}", "hostname", hostname);
        if (!body) {
                cli_error("out of memory");
                return -ENOMEM;
        }
        r = api_call(cli, "POST", path, body, &domain, NULL);
        json_decref(body);
        if (r < 0)
                return r;
        if (cli->json)
                r = print_json(domain);
        else
                printf("Adding %s to %s... done\n", get_str(domain, "hostname"), app);
        json_decref(domain);
        return r;
}

int cmd_domains_remove(struct cli *cli)
{
        _cleanup_free_ char *path = NULL;
        const char *app, *hostname;
        json_t *domain = NULL;
        int r;

        r = hostname_arg(cli, &hostname);
        if (r < 0)
                return r;
        r = cli_app(cli, &app);
        if (r < 0)
                return r;
        r = domains_path(app, hostname, &path);
        if (r < 0)
                return r;
        r = api_call(cli, "DELETE", path, NULL, &domain, NULL);
        if (r < 0)
                return r;
        if (cli->json)
                r = print_json(domain);
        else
                printf("Removing %s from %s... done\n", get_str(domain, "hostname"), app);
        json_decref(domain);
        return r;
}

/* As Heroku's: one DELETE per custom domain (the app's own stays). */
int cmd_domains_clear(struct cli *cli)
{
        json_t *list = NULL, *removed = NULL;
        const char *app;
        int r;

        if (cli->argc > 0)
                return cli_usage_error(cli, "domains:clear takes no arguments");
        r = cli_app(cli, &app);
        if (r < 0)
                return r;
        r = fetch_domains(cli, app, &list);
        if (r < 0)
                return r;
        removed = json_array();
        if (!removed) {
                json_decref(list);
                cli_error("out of memory");
                return -ENOMEM;
        }
        for (size_t i = 0; r >= 0 && i < json_array_size(list); i++) {
                const json_t *d = json_array_get(list, i);
                _cleanup_free_ char *path = NULL;
                json_t *gone = NULL;

                if (!is_custom(d))
                        continue;
                /* By id: it names the domain whatever its spelling. */
                r = domains_path(app, get_str(d, "id"), &path);
                if (r >= 0)
                        r = api_call(cli, "DELETE", path, NULL, &gone, NULL);
                if (r >= 0 && json_array_append_new(removed, gone) < 0) {
                        cli_error("out of memory");
                        r = -ENOMEM;
                }
        }
        if (r >= 0) {
                if (cli->json)
                        r = print_json(removed);
                else
                        printf("Removing all domains from %s... done\n", app);
        }
        json_decref(removed);
        json_decref(list);
        return r;
}
