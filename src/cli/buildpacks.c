/* buildpacks, buildpacks:set, buildpacks:add, buildpacks:remove,
 * buildpacks:clear.
 *
 * pierd keeps an app's buildpacks as one ordered list that a PUT replaces
 * whole, so a change is: GET the list, edit it here, PUT it back.  The
 * edits are the Heroku CLI's, for muscle memory: set replaces the first
 * entry (or the one at -i), add appends (or inserts before the one at -i),
 * an index past the end appends, and a buildpack is never listed twice.
 * The list is edited as a JSON array of the URLs, the PUT's "updates" in
 * the making. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "lib/util.h"

/* The URL (or built-in name) of an installation
 * {"ordinal": 0, "buildpack": {"url": ..., "name": ...}}, or NULL. */
static const char *installation_url(const json_t *installation)
{
        return json_string_value(
            json_object_get(json_object_get(installation, "buildpack"), "url"));
}

/* GET /apps/APP/buildpack-installations: the answer as it came in
 * *ret_raw (for --json), the URLs in order in *ret_urls (new references,
 * either may be NULL). */
static int fetch_buildpacks(struct cli *cli, const char *app, json_t **ret_raw, json_t **ret_urls)
{
        _cleanup_free_ char *path = NULL;
        json_t *raw = NULL, *urls;
        int r;

        r = app_path(app, "/buildpack-installations", &path);
        if (r < 0)
                return r;
        r = api_call(cli, "GET", path, NULL, &raw, NULL);
        if (r < 0)
                return r;
        urls = json_array();
        if (!urls) {
                json_decref(raw);
                cli_error("out of memory");
                return -ENOMEM;
        }
        for (size_t i = 0; json_is_array(raw) && i < json_array_size(raw); i++) {
                const char *url = installation_url(json_array_get(raw, i));

                if (!url)
                        break;
                if (json_array_append_new(urls, json_string(url)) < 0) {
                        json_decref(urls);
                        json_decref(raw);
                        cli_error("out of memory");
                        return -ENOMEM;
                }
        }
        if (!json_is_array(raw) || json_array_size(urls) != json_array_size(raw)) {
                json_decref(urls);
                json_decref(raw);
                cli_error("pierd sent something other than a list of buildpacks");
                return -EBADMSG;
        }
        if (ret_raw)
                *ret_raw = TAKE_PTR(raw);
        if (ret_urls)
                *ret_urls = TAKE_PTR(urls);
        json_decref(urls);
        json_decref(raw);
        return 0;
}

/* PUT the URLs as the app's buildpacks; *ret gets pierd's answer, the new
 * list of installations. */
static int put_buildpacks(struct cli *cli, const char *app, const json_t *urls, json_t **ret)
{
        _cleanup_free_ char *path = NULL;
        json_t *body, *updates, *result = NULL;
        int r;

        body = json_object();
        updates = json_array();
        if (!body || !updates || json_object_set(body, "updates", updates) < 0)
                goto oom;
        for (size_t i = 0; i < json_array_size(urls); i++) {
                json_t *u = json_pack("{s:O}", "buildpack", json_array_get(urls, i));

                if (!u || json_array_append_new(updates, u) < 0)
                        goto oom;
        }
        r = app_path(app, "/buildpack-installations", &path);
        if (r >= 0)
                r = api_call(cli, "PUT", path, body, &result, NULL);
        json_decref(updates);
        json_decref(body);
        if (r < 0)
                return r;
        if (!json_is_array(result)) {
                json_decref(result);
                cli_error("pierd sent something other than a list of buildpacks");
                return -EBADMSG;
        }
        *ret = result;
        return 0;
oom:
        json_decref(updates);
        json_decref(body);
        cli_error("out of memory");
        return -ENOMEM;
}

/* "1. python" lines, each after INDENT. */
static void print_numbered(const json_t *installations, const char *indent)
{
        for (size_t i = 0; i < json_array_size(installations); i++) {
                const char *url = installation_url(json_array_get(installations, i));

                printf("%s%zu. %s\n", indent, i + 1, url ? url : "");
        }
}

/* What the next release will use, after a change; ACTION is "set",
 * "added" or "removed". */
static int print_update(const struct cli *cli, const char *app, const json_t *installations,
                        const char *action)
{
        size_t n = json_array_size(installations);

        if (cli->json)
                return print_json(installations);
        if (n == 0)
                printf("Buildpack %s. Next release on %s will detect buildpacks normally.\n",
                       action, app);
        else if (n == 1) {
                const char *url = installation_url(json_array_get(installations, 0));

                printf("Buildpack %s. Next release on %s will use %s.\n", action, app,
                       url ? url : "");
                printf("Run `git push %s main` to create a new release using this buildpack.\n",
                       GIT_REMOTE);
        } else {
                printf("Buildpack %s. Next release on %s will use:\n", action, app);
                print_numbered(installations, "  ");
                printf("Run `git push %s main` to create a new release using these buildpacks.\n",
                       GIT_REMOTE);
        }
        return 0;
}

/* The position of BUILDPACK in URLS, or -1. */
static ssize_t find_url(const json_t *urls, const char *buildpack)
{
        for (size_t i = 0; i < json_array_size(urls); i++)
                if (streq(json_string_value(json_array_get(urls, i)), buildpack))
                        return (ssize_t)i;
        return -1;
}

/* -i/--index: 1-based, 0 when not given. */
static int parse_index(const struct cli *cli, size_t *ret)
{
        const char *s = cli_opt(cli, "index");
        int64_t i;

        if (!s) {
                *ret = 0;
                return 0;
        }
        if (safe_atoi64(s, &i) < 0 || i < 1)
                return cli_usage_error(cli, "invalid index '%s': give a position, 1 or more", s);
        *ret = (size_t)i;
        return 0;
}

int cmd_buildpacks(struct cli *cli)
{
        json_t *raw = NULL;
        const char *app;
        int r;

        if (cli->argc > 0)
                return cli_usage_error(cli, "buildpacks takes no arguments; see buildpacks:set");
        r = cli_app(cli, &app);
        if (r < 0)
                return r;
        r = fetch_buildpacks(cli, app, &raw, NULL);
        if (r < 0)
                return r;
        if (cli->json)
                r = print_json(raw);
        else if (json_array_size(raw) == 0)
                printf("%s has no Buildpack URL set.\n", app);
        else if (json_array_size(raw) == 1) {
                printf("=== %s Buildpack URL\n", app);
                printf("%s\n", installation_url(json_array_get(raw, 0)));
        } else {
                printf("=== %s Buildpack URLs\n", app);
                print_numbered(raw, "");
        }
        json_decref(raw);
        return r;
}

/* buildpacks:set and buildpacks:add: the same checks, a different edit. */
static int set_or_add(struct cli *cli, bool add)
{
        json_t *urls = NULL, *result = NULL, *bp = NULL;
        const char *app, *buildpack;
        size_t index, pos, n;
        int r;

        if (cli->argc != 1)
                return cli_usage_error(cli, cli->argc ? "give one buildpack"
                                                      : "which buildpack? Give a NAME or URL");
        buildpack = cli->argv[0];
        r = parse_index(cli, &index);
        if (r < 0)
                return r;
        r = cli_app(cli, &app);
        if (r < 0)
                return r;
        r = fetch_buildpacks(cli, app, NULL, &urls);
        if (r < 0)
                return r;

        if (find_url(urls, buildpack) >= 0) {
                cli_error("the buildpack %s is already set on %s", buildpack, app);
                r = -EEXIST;
                goto out;
        }
        n = json_array_size(urls);
        /* set: the first entry, or the one at INDEX; add: the end, or
         * before the one at INDEX.  Past the end is the end. */
        if (index == 0)
                pos = add ? n : 0;
        else
                pos = MIN(index - 1, n);
        bp = json_string(buildpack);
        if (!bp) {
                /* Not UTF-8: pierd could not store it anyway. */
                cli_error("the buildpack name or URL '%s' is not valid UTF-8", buildpack);
                r = -EINVAL;
                goto out;
        }
        if (!add && pos < n)
                r = json_array_set(urls, pos, bp);
        else
                r = json_array_insert(urls, pos, bp);
        if (r < 0) {
                cli_error("out of memory");
                r = -ENOMEM;
                goto out;
        }
        r = put_buildpacks(cli, app, urls, &result);
        if (r >= 0)
                r = print_update(cli, app, result, add ? "added" : "set");
out:
        json_decref(bp);
        json_decref(result);
        json_decref(urls);
        return r;
}

int cmd_buildpacks_set(struct cli *cli)
{
        return set_or_add(cli, false);
}

int cmd_buildpacks_add(struct cli *cli)
{
        return set_or_add(cli, true);
}

int cmd_buildpacks_remove(struct cli *cli)
{
        json_t *urls = NULL, *result = NULL;
        const char *app, *buildpack = cli->argc > 0 ? cli->argv[0] : NULL;
        size_t index, n;
        ssize_t pos;
        int r;

        if (cli->argc > 1)
                return cli_usage_error(cli, "give one buildpack");
        r = parse_index(cli, &index);
        if (r < 0)
                return r;
        if (index > 0 && buildpack)
                return cli_usage_error(cli, "give either a buildpack or -i INDEX, not both");
        if (index == 0 && !buildpack)
                return cli_usage_error(cli, "which buildpack? Give a NAME or URL, or -i INDEX");
        r = cli_app(cli, &app);
        if (r < 0)
                return r;
        r = fetch_buildpacks(cli, app, NULL, &urls);
        if (r < 0)
                return r;

        n = json_array_size(urls);
        if (n == 0) {
                cli_error("%s has no buildpacks set; its next release will detect buildpacks "
                          "normally",
                          app);
                r = -ENOENT;
                goto out;
        }
        if (index > n) {
                if (n == 1)
                        cli_error("invalid index %zu: %s has one buildpack, so the only valid "
                                  "index is 1",
                                  index, app);
                else
                        cli_error("invalid index %zu: choose a value between 1 and %zu", index, n);
                r = -EINVAL;
                goto out;
        }
        pos = index > 0 ? (ssize_t)(index - 1) : find_url(urls, buildpack);
        if (pos < 0) {
                cli_error("the buildpack %s is not set on %s; nothing was removed", buildpack, app);
                r = -ENOENT;
                goto out;
        }
        if (json_array_remove(urls, (size_t)pos) < 0) {
                cli_error("out of memory");
                r = -ENOMEM;
                goto out;
        }
        r = put_buildpacks(cli, app, urls, &result);
        if (r >= 0)
                r = print_update(cli, app, result, "removed");
out:
        json_decref(result);
        json_decref(urls);
        return r;
}

int cmd_buildpacks_clear(struct cli *cli)
{
        json_t *urls, *result = NULL;
        const char *app;
        int r;

        if (cli->argc > 0)
                return cli_usage_error(cli, "buildpacks:clear takes no arguments");
        r = cli_app(cli, &app);
        if (r < 0)
                return r;
        urls = json_array();
        if (!urls) {
                cli_error("out of memory");
                return -ENOMEM;
        }
        r = put_buildpacks(cli, app, urls, &result);
        json_decref(urls);
        if (r < 0)
                return r;
        if (cli->json)
                r = print_json(result);
        else
                printf("Buildpacks cleared. Next release on %s will detect buildpacks normally.\n",
                       app);
        json_decref(result);
        return r;
}
