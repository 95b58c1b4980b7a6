/* config, config:get, config:set, config:unset.
 *
 * A config value is any bytes but NUL: spaces, quotes, `=`, newlines and
 * text in any encoding go to pierd and come back byte for byte.  So values
 * are handled as (pointer, length) and written with fwrite(). */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "lib/names.h"
#include "lib/strbuf.h"
#include "lib/util.h"

struct var {
        char *key;
        char *value; /* NULL for config:unset */
        size_t len;
};

static void vars_free(struct var *vars, size_t n)
{
        for (size_t i = 0; vars && i < n; i++) {
                free(vars[i].key);
                free(vars[i].value);
        }
        free(vars);
}

static int var_cmp(const void *a, const void *b)
{
        return strcmp(((const struct var *)a)->key, ((const struct var *)b)->key);
}

/* The vars of a config-vars object, decoded, sorted by key. */
static int vars_from_json(const json_t *obj, struct var **ret, size_t *ret_n)
{
        size_t n = 0, size = json_object_size(obj);
        struct var *vars;
        int r;

        if (!json_is_object(obj)) {
                cli_error("pierd sent config vars that are not a JSON object");
                return -EBADMSG;
        }
        vars = calloc(size ? size : 1, sizeof(*vars));
        if (!vars)
                goto oom;
        for (void *it = json_object_iter((json_t *)obj); it;
             it = json_object_iter_next((json_t *)obj, it)) {
                const char *key = json_object_iter_key(it);
                const json_t *v = json_object_iter_value(it);

                if (json_is_null(v))
                        continue;
                vars[n].key = strdup(key);
                if (!vars[n].key) {
                        vars_free(vars, n);
                        goto oom;
                }
                r = config_value_decode(v, &vars[n].value, &vars[n].len);
                n++;
                if (r < 0) {
                        vars_free(vars, n);
                        return r;
                }
        }
        qsort(vars, n, sizeof(*vars), var_cmp);
        *ret = vars;
        *ret_n = n;
        return 0;
oom:
        cli_error("out of memory");
        return -ENOMEM;
}

/* "KEY: value" lines, values aligned one column after the longest "KEY:". */
static int print_vars(const struct var *vars, size_t n)
{
        struct field *fields = calloc(n ? n : 1, sizeof(*fields));

        if (!fields) {
                cli_error("out of memory");
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                fields[i] =
                    (struct field){vars[i].key, vars[i].value ? vars[i].value : "", vars[i].len};
        print_fields(fields, n, 0);
        free(fields);
        return 0;
}

/* KEY='value', the value quoted for a POSIX shell: inside single quotes
 * everything is literal but the single quote, written as '\''. */
static void print_shell(const struct var *v)
{
        fputs(v->key, stdout);
        fputs("='", stdout);
        for (size_t i = 0; i < v->len; i++) {
                if (v->value[i] == '\'')
                        fputs("'\\''", stdout);
                else
                        fputc(v->value[i], stdout);
        }
        fputs("'\n", stdout);
}

int config_print(const json_t *config)
{
        struct var *vars = NULL;
        size_t n = 0;
        int r;

        r = vars_from_json(config, &vars, &n);
        if (r >= 0)
                r = print_vars(vars, n);
        vars_free(vars, n);
        return r;
}

/* GET /apps/APP/config-vars into *ret (new reference). */
static int fetch_config(struct cli *cli, const char *app, json_t **ret)
{
        _cleanup_free_ char *path = NULL;
        int r;

        r = app_path(app, "/config-vars", &path);
        if (r < 0)
                return r;
        return api_call(cli, "GET", path, NULL, ret, NULL);
}

int cmd_config(struct cli *cli)
{
        struct var *vars = NULL;
        json_t *config = NULL;
        const char *app;
        size_t n = 0;
        int r;

        if (cli->argc > 0)
                return cli_usage_error(cli, "config takes no arguments; see config:get");
        r = cli_app(cli, &app);
        if (r < 0)
                return r;
        r = fetch_config(cli, app, &config);
        if (r < 0)
                return r;
        if (cli->json) {
                r = print_json(config);
                goto out;
        }
        r = vars_from_json(config, &vars, &n);
        if (r < 0)
                goto out;
        if (cli_opt(cli, "shell")) {
                for (size_t i = 0; i < n; i++)
                        print_shell(&vars[i]);
        } else if (n == 0)
                printf("%s has no config vars.\n", app);
        else {
                printf("=== %s Config Vars\n", app);
                r = print_vars(vars, n);
        }
out:
        vars_free(vars, n);
        json_decref(config);
        return r;
}

int cmd_config_get(struct cli *cli)
{
        _cleanup_free_ char *value = NULL;
        const char *app, *key;
        json_t *config = NULL, *v;
        size_t len;
        int r;

        if (cli->argc != 1)
                return cli_usage_error(cli, cli->argc ? "config:get takes one KEY"
                                                      : "which config var? Give its KEY");
        key = cli->argv[0];
        if (!config_key_valid(key)) {
                cli_error("invalid config var name \"%s\": %s", key, CONFIG_KEY_RULE);
                return -EINVAL;
        }
        r = cli_app(cli, &app);
        if (r < 0)
                return r;
        r = fetch_config(cli, app, &config);
        if (r < 0)
                return r;
        if (!json_is_object(config)) {
                json_decref(config);
                cli_error("pierd sent config vars that are not a JSON object");
                return -EBADMSG;
        }
        v = json_object_get(config, key);
        /* Unset: print nothing and succeed, as Heroku does. */
        if (v && !json_is_null(v)) {
                r = config_value_decode(v, &value, &len);
                if (r >= 0) {
                        fwrite(value, 1, len, stdout);
                        fputc('\n', stdout);
                }
        }
        json_decref(config);
        return r;
}

/* "A, B" */
static int join_keys(const struct var *vars, size_t n, char **ret)
{
        struct strbuf sb = STRBUF_INIT;
        int r = strbuf_addstr(&sb, "");

        for (size_t i = 0; r >= 0 && i < n; i++) {
                if (i > 0)
                        r = strbuf_addstr(&sb, ", ");
                if (r >= 0)
                        r = strbuf_addstr(&sb, vars[i].key);
        }
        if (r >= 0)
                *ret = strbuf_detach(&sb, NULL);
        if (r < 0 || !*ret) {
                strbuf_release(&sb);
                cli_error("out of memory");
                return -ENOMEM;
        }
        return 0;
}

/* One PATCH with all of VARS (a NULL value removes the key), then the
 * "Setting A, B and restarting myapp... done, v5" line.  VERB is
 * "Setting" or "Unsetting". */
static int patch_config(struct cli *cli, const char *app, const char *verb, const struct var *vars,
                        size_t n, int64_t *ret_version)
{
        _cleanup_free_ char *path = NULL, *keys = NULL;
        json_t *body, *result = NULL, *v;
        int64_t version = -1;
        int r;

        body = json_object();
        if (!body)
                goto oom;
        for (size_t i = 0; i < n; i++) {
                if (!vars[i].value)
                        v = json_null();
                else {
                        r = config_value_encode(vars[i].value, vars[i].len, &v);
                        if (r < 0) {
                                json_decref(body);
                                return r;
                        }
                }
                if (json_object_set_new(body, vars[i].key, v) < 0) {
                        json_decref(body);
                        goto oom;
                }
        }

        r = app_path(app, "/config-vars", &path);
        if (r >= 0)
                r = join_keys(vars, n, &keys);
        if (r >= 0)
                r = api_call(cli, "PATCH", path, body, &result, &version);
        json_decref(body);
        if (r < 0)
                return r;

        if (cli->json)
                r = print_json(result);
        else {
                printf("%s %s and restarting %s... done", verb, keys, app);
                if (version > 0)
                        printf(", v%" PRIi64, version);
                fputc('\n', stdout);
        }
        json_decref(result);
        *ret_version = version;
        return r;
oom:
        cli_error("out of memory");
        return -ENOMEM;
}

/* Index of KEY in vars[0..n), or n. */
static size_t vars_find(const struct var *vars, size_t n, const char *key)
{
        size_t i;

        for (i = 0; i < n; i++)
                if (streq(vars[i].key, key))
                        break;
        return i;
}

int cmd_config_set(struct cli *cli)
{
        struct var *vars = NULL;
        const char *app;
        size_t n = 0;
        int r;

        if (cli->argc == 0)
                return cli_usage_error(cli, "what should be set? Give KEY=VALUE");
        vars = calloc((size_t)cli->argc, sizeof(*vars));
        if (!vars)
                goto oom;
        for (int a = 0; a < cli->argc; a++) {
                const char *arg = cli->argv[a], *eq = strchr(arg, '=');
                _cleanup_free_ char *key = NULL;
                char *value;
                size_t i;

                if (!eq) {
                        r = cli_usage_error(cli, "'%s' has no '=': use KEY=VALUE", arg);
                        goto out;
                }
                key = strndup(arg, (size_t)(eq - arg));
                value = strdup(eq + 1);
                if (!key || !value) {
                        free(value);
                        goto oom;
                }
                if (!config_key_valid(key)) {
                        free(value);
                        cli_error("invalid config var name \"%s\": %s", key, CONFIG_KEY_RULE);
                        r = -EINVAL;
                        goto out;
                }
                /* KEY given twice: the last value wins, the first place
                 * stays. */
                i = vars_find(vars, n, key);
                if (i == n)
                        vars[n++].key = TAKE_PTR(key);
                free(vars[i].value);
                vars[i].value = value;
                vars[i].len = strlen(value);
        }

        int64_t version = -1;
        r = cli_app(cli, &app);
        if (r >= 0)
                r = patch_config(cli, app, "Setting", vars, n, &version);
        if (r >= 0 && !cli->json)
                r = print_vars(vars, n);
        if (r >= 0 && !cli->json && version > 0)
                r = release_follow(cli, app, version, true);
out:
        vars_free(vars, n);
        return r;
oom:
        vars_free(vars, n);
        cli_error("out of memory");
        return -ENOMEM;
}

int cmd_config_unset(struct cli *cli)
{
        struct var *vars = NULL;
        const char *app;
        size_t n = 0;
        int r;

        if (cli->argc == 0)
                return cli_usage_error(cli, "what should be unset? Give a KEY");
        vars = calloc((size_t)cli->argc, sizeof(*vars));
        if (!vars) {
                cli_error("out of memory");
                return -ENOMEM;
        }
        for (int a = 0; a < cli->argc; a++) {
                const char *key = cli->argv[a];

                if (!config_key_valid(key)) {
                        cli_error("invalid config var name \"%s\": %s", key, CONFIG_KEY_RULE);
                        r = -EINVAL;
                        goto out;
                }
                if (vars_find(vars, n, key) < n)
                        continue;
                vars[n].key = strdup(key);
                if (!vars[n].key) {
                        cli_error("out of memory");
                        r = -ENOMEM;
                        goto out;
                }
                n++;
        }
        int64_t version = -1;
        r = cli_app(cli, &app);
        if (r >= 0)
                r = patch_config(cli, app, "Unsetting", vars, n, &version);
        if (r >= 0 && !cli->json && version > 0)
                r = release_follow(cli, app, version, true);
out:
        vars_free(vars, n);
        return r;
}
