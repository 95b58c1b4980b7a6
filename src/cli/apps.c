/* apps, apps:create, apps:info, apps:open, apps:rename, apps:destroy. */

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "lib/util.h"

static const char *get_str(const json_t *obj, const char *key)
{
        const char *s = json_string_value(json_object_get(obj, key));

        return s ? s : "";
}

static const char *get_email(const json_t *obj, const char *key)
{
        return get_str(json_object_get(obj, key), "email");
}

/* "http://myapp.localhost:8080/ | http://127.0.0.1:5000/myapp.git" */
static void print_urls(const json_t *app)
{
        printf("%s | %s\n", get_str(app, "web_url"), get_str(app, "git_url"));
}

/* Whether the current repository's `pier` remote names APP. */
static bool remote_points_at(const char *app)
{
        _cleanup_free_ char *url = NULL, *name = NULL;

        if (git_remote_url(GIT_REMOTE, &url) < 0 || git_url_app_name(url, &name) < 0)
                return false;
        return streq(name, app);
}

int cmd_apps(struct cli *cli)
{
        json_t *apps = NULL, *account = NULL;
        size_t i;
        int r;

        if (cli->argc > 0)
                return cli_usage_error(cli, "apps takes no arguments");
        r = api_call(cli, "GET", "/apps", NULL, &apps, NULL);
        if (r < 0)
                return r;
        if (!json_is_array(apps)) {
                cli_error("pierd sent something other than a list of apps");
                r = -EBADMSG;
                goto out;
        }
        if (cli->json) {
                r = print_json(apps);
                goto out;
        }
        if (json_array_size(apps) == 0) {
                printf("You have no apps.\n");
                goto out;
        }
        r = api_call(cli, "GET", "/account", NULL, &account, NULL);
        if (r < 0)
                goto out;
        printf("=== %s Apps\n", get_str(account, "email"));
        for (i = 0; i < json_array_size(apps); i++)
                printf("%s\n", get_str(json_array_get(apps, i), "name"));
out:
        json_decref(account);
        json_decref(apps);
        return r;
}

int cmd_apps_create(struct cli *cli)
{
        const char *name = cli->argc > 0 ? cli->argv[0] : NULL, *git_url;
        json_t *body, *app = NULL;
        bool in_repo;
        int r;

        /* pierd checks the name (and says the rule when it is bad). */
        if (cli->argc > 1)
                return cli_usage_error(cli, "too many arguments");

        body = name ? json_pack("{s:s}", "name", name) : json_object();
        if (!body) {
                cli_error("out of memory");
                return -ENOMEM;
        }
        r = api_call(cli, "POST", "/apps", body, &app, NULL);
        json_decref(body);
        if (r < 0)
                return r;

        if (cli->json)
                r = print_json(app);
        else {
                printf("Creating %s... done\n", get_str(app, "name"));
                print_urls(app);
        }

        git_url = get_str(app, "git_url");
        in_repo = r >= 0 && *git_url && git_in_work_tree();
        if (in_repo) {
                r = git_remote_connect(GIT_REMOTE, git_url, cli->api_url);
                if (r >= 0 && !cli->json)
                        printf("Git remote %s added\n", GIT_REMOTE);
        }
        json_decref(app);
        return r;
}

int cmd_apps_info(struct cli *cli)
{
        _cleanup_free_ char *path = NULL, *created = NULL, *released = NULL;
        const char *name;
        json_t *app = NULL;
        int r;

        if (cli->argc > 0)
                return cli_usage_error(cli, "apps:info takes no arguments; use --app NAME");
        r = cli_app(cli, &name);
        if (r < 0)
                return r;
        r = app_path(name, "", &path);
        if (r < 0)
                return r;
        r = api_call(cli, "GET", path, NULL, &app, NULL);
        if (r < 0)
                return r;
        if (cli->json) {
                r = print_json(app);
                goto out;
        }
        r = format_time(json_string_value(json_object_get(app, "created_at")), false, &created);
        if (r >= 0)
                r = format_time(json_string_value(json_object_get(app, "released_at")), false,
                                &released);
        if (r < 0)
                goto out;

        const char *git_url = get_str(app, "git_url"), *owner = get_email(app, "owner"),
                   *stack = get_str(json_object_get(app, "stack"), "name"),
                   *web_url = get_str(app, "web_url");
        const struct field fields[] = {
            {"Git URL", git_url, strlen(git_url)},
            {"Owner", owner, strlen(owner)},
            {"Stack", stack, strlen(stack)},
            {"Created At", created, strlen(created)},
            {"Released At", released, strlen(released)},
            {"Web URL", web_url, strlen(web_url)},
        };
        printf("=== %s\n", get_str(app, "name"));
        print_fields(fields, ELEMENTSOF(fields), 0);
out:
        json_decref(app);
        return r;
}

/* Heroku's `open`: the app's URL in a browser when there is a desktop
 * session to show one; the URL is printed either way (a server has no
 * browser, and the URL is what one wants there). */
int cmd_apps_open(struct cli *cli)
{
        _cleanup_free_ char *path = NULL;
        const char *name;
        json_t *app = NULL;
        int r;

        if (cli->argc > 0)
                return cli_usage_error(cli, "apps:open takes no arguments; use --app NAME");
        r = cli_app(cli, &name);
        if (r >= 0)
                r = app_path(name, "", &path);
        if (r >= 0)
                r = api_call(cli, "GET", path, NULL, &app, NULL);
        if (r < 0)
                return r;
        const char *url = get_str(app, "web_url");
        if (!*url) {
                json_decref(app);
                cli_error("pierd sent no web_url for %s", name);
                return -EBADMSG;
        }
        printf("%s\n", url);
        fflush(stdout);
        const char *display = getenv("DISPLAY"), *wayland = getenv("WAYLAND_DISPLAY");
        if ((display && *display) || (wayland && *wayland)) {
                char *argv[] = {"xdg-open", (char *)url, NULL};
                pid_t pid;
                if (posix_spawnp(&pid, "xdg-open", NULL, NULL, argv, environ) == 0)
                        (void)waitpid(pid, NULL, 0);
        }
        json_decref(app);
        return 0;
}

int cmd_apps_rename(struct cli *cli)
{
        _cleanup_free_ char *path = NULL;
        const char *old, *new_name, *git_url;
        json_t *body, *app = NULL;
        int r;

        if (cli->argc != 1)
                return cli_usage_error(cli, cli->argc ? "too many arguments"
                                                      : "what should the new name be?");
        new_name = cli->argv[0];
        r = cli_app(cli, &old);
        if (r < 0)
                return r;
        if (streq(old, new_name)) {
                cli_error("%s is already called %s", old, new_name);
                return -EEXIST;
        }
        r = app_path(old, "", &path);
        if (r < 0)
                return r;
        body = json_pack("{s:s}", "name", new_name);
        if (!body) {
                cli_error("out of memory");
                return -ENOMEM;
        }
        r = api_call(cli, "PATCH", path, body, &app, NULL);
        json_decref(body);
        if (r < 0)
                return r;

        if (cli->json)
                r = print_json(app);
        else {
                printf("Renaming %s to %s... done\n", old, new_name);
                print_urls(app);
        }
        git_url = get_str(app, "git_url");
        if (r >= 0 && *git_url && remote_points_at(old)) {
                r = git_remote_connect(GIT_REMOTE, git_url, cli->api_url);
                if (r >= 0 && !cli->json)
                        printf("Git remote %s updated\n", GIT_REMOTE);
        }
        /* Heroku's words: other checkouts still point at the old name. */
        if (r >= 0 && !cli->json)
                printf("!    Don't forget to update git remotes for all other local checkouts "
                       "of the app.\n");
        json_decref(app);
        return r;
}

int cmd_apps_destroy(struct cli *cli)
{
        _cleanup_free_ char *path = NULL;
        const char *name, *confirm = cli_opt(cli, "confirm");
        int r;

        /* Heroku also takes the app as an argument: `apps:destroy myapp`. */
        if (cli->argc > 1)
                return cli_usage_error(cli, "too many arguments");
        if (cli->argc == 1) {
                if (cli->app_flag && !streq(cli->app_flag, cli->argv[0]))
                        return cli_usage_error(cli, "two different apps given: '%s' and '%s'",
                                               cli->app_flag, cli->argv[0]);
                cli->app_flag = cli->argv[0];
        }
        r = cli_app(cli, &name);
        if (r < 0)
                return r;
        if (!confirm || !streq(confirm, name)) {
                cli_error("this destroys %s and all its data, and cannot be undone. To proceed, "
                          "re-run this command with `--confirm %s`",
                          name, name);
                return -EPERM;
        }
        r = app_path(name, "", &path);
        if (r < 0)
                return r;
        r = api_call(cli, "DELETE", path, NULL, NULL, NULL);
        if (r < 0)
                return r;
        printf("Destroying %s (including all add-ons)... done\n", name);

        if (remote_points_at(name)) {
                r = git_remote_disconnect(GIT_REMOTE, cli->api_url);
                if (r >= 0)
                        printf("Git remote %s removed\n", GIT_REMOTE);
        }
        return r;
}
