/* pier run: one-off dynos (run.1234) of the app's current release. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "lib/strbuf.h"
#include "lib/util.h"

/* `pier run web`: a process type's name alone runs that type's command. */
static int expand_type(struct cli *cli, const char *app, const char *word, char **ret)
{
        _cleanup_free_ char *path = NULL;
        json_t *reply = NULL;
        *ret = NULL;
        if (strspn(word, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
            strlen(word))
                return 0;
        if (asprintf(&path, "/apps/%s/formation", app) < 0)
                return -ENOMEM;
        int r = api_call(cli, "GET", path, NULL, &reply, NULL);
        if (r < 0)
                return r;
        size_t i;
        json_t *it;
        json_array_foreach(reply, i, it) {
                const char *type = json_string_value(json_object_get(it, "type"));
                const char *command = json_string_value(json_object_get(it, "command"));
                if (type && command && streq(type, word)) {
                        *ret = strdup(command);
                        break;
                }
        }
        json_decref(reply);
        return 0;
}

int cmd_run(struct cli *cli)
{
        _cleanup_free_ char *path = NULL, *expanded = NULL;
        const char *app;
        int r;

        if (cli->argc < 1)
                return cli_usage_error(cli, "what should run? Give a command");
        if (!cli_opt(cli, "detach")) {
                cli_error("attached runs are not supported yet; use `pier run --detach "
                          "COMMAND` and `pier logs -p run.NNNN`");
                return -ENOTSUP;
        }
        r = cli_app(cli, &app);
        if (r < 0)
                return r;

        struct strbuf sb = STRBUF_INIT;
        for (int i = 0; i < cli->argc; i++)
                if ((i && strbuf_addch(&sb, ' ') < 0) || strbuf_addstr(&sb, cli->argv[i]) < 0) {
                        strbuf_release(&sb);
                        cli_error("out of memory");
                        return -ENOMEM;
                }
        _cleanup_free_ char *command = strbuf_detach(&sb, NULL);
        if (!command)
                return -ENOMEM;
        if (cli->argc == 1) {
                r = expand_type(cli, app, command, &expanded);
                if (r < 0)
                        return r;
        }
        const char *cmd = expanded ? expanded : command;

        if (asprintf(&path, "/apps/%s/dynos", app) < 0)
                return -ENOMEM;
        json_t *body = json_pack("{s:s, s:b}", "command", cmd, "attach", 0);
        json_t *reply = NULL;
        if (!body)
                return -ENOMEM;
        printf("Running `%s` on %s... ", cmd, app);
        fflush(stdout);
        r = api_call(cli, "POST", path, body, &reply, NULL);
        json_decref(body);
        if (r < 0) {
                printf("failed\n");
                return r;
        }
        const char *name = json_string_value(json_object_get(reply, "name"));
        const char *state = json_string_value(json_object_get(reply, "state"));
        if (cli->json) {
                printf("\n");
                char *s = json_dumps(reply, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                if (s)
                        printf("%s\n", s);
                free(s);
        } else {
                printf("%s, %s\n", state && streq(state, "starting") ? "starting" : "up",
                       name ? name : "?");
                printf("Run `pier logs -p %s` to view the output.\n", name ? name : "?");
        }
        json_decref(reply);
        return 0;
}
