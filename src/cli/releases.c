/* releases, releases:info, releases:output, rollback. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "lib/strbuf.h"
#include "lib/util.h"

/* Heroku's `releases` shows the newest 15 unless told otherwise. */
#define RELEASES_DEFAULT 15

enum { COL_VERSION, COL_DESCRIPTION, COL_USER, COL_TIME, COL_MAX };

static const char *get_str(const json_t *obj, const char *key)
{
        const char *s = json_string_value(json_object_get(obj, key));

        return s ? s : "";
}

static json_int_t release_version(const json_t *release)
{
        return json_is_integer(json_object_get(release, "version"))
                   ? json_integer_value(json_object_get(release, "version"))
                   : 0;
}

/* The release marked current, or NULL. */
static const json_t *find_current(const json_t *releases)
{
        for (size_t i = 0; i < json_array_size(releases); i++) {
                const json_t *r = json_array_get(releases, i);

                if (json_is_true(json_object_get(r, "current")))
                        return r;
        }
        return NULL;
}

static int fetch_releases(struct cli *cli, const char *app, json_t **ret)
{
        _cleanup_free_ char *path = NULL;
        json_t *list = NULL;
        int r;

        r = app_path(app, "/releases", &path);
        if (r < 0)
                return r;
        r = api_call(cli, "GET", path, NULL, &list, NULL);
        if (r < 0)
                return r;
        if (!json_is_array(list)) {
                json_decref(list);
                cli_error("pierd sent something other than a list of releases");
                return -EBADMSG;
        }
        *ret = list;
        return 0;
}

/* "v3" or "3" as "3", which pierd answers the same way; anything else (an
 * id) as it is.  Points into WHICH. */
static const char *release_param(const char *which)
{
        if (which[0] == 'v' && which[1] && strspn(which + 1, "0123456789") == strlen(which + 1))
                return which + 1;
        return which;
}

/* GET /apps/APP/releases/WHICH into *ret (new reference). */
static int fetch_release(struct cli *cli, const char *app, const char *which, json_t **ret)
{
        _cleanup_free_ char *path = NULL, *suffix = NULL;
        struct strbuf sb = STRBUF_INIT;
        int r;

        if (strbuf_addstr(&sb, "/releases") < 0 || url_add_segment(&sb, release_param(which)) < 0 ||
            !(suffix = strbuf_detach(&sb, NULL))) {
                strbuf_release(&sb);
                cli_error("out of memory");
                return -ENOMEM;
        }
        r = app_path(app, suffix, &path);
        if (r < 0)
                return r;
        return api_call(cli, "GET", path, NULL, ret, NULL);
}

/* The text of one cell, malloc'd. */
static int cell_text(const json_t *release, int col, char **ret)
{
        struct strbuf sb = STRBUF_INIT;
        const char *status;
        int r;

        switch (col) {
        case COL_VERSION:
                r = strbuf_addf(&sb, "v%" JSON_INTEGER_FORMAT, release_version(release));
                break;
        case COL_DESCRIPTION:
                r = strbuf_addstr(&sb, get_str(release, "description"));
                /* A release that did not go live says so. */
                status = get_str(release, "status");
                if (r >= 0 && *status && !streq(status, "succeeded"))
                        r = strbuf_addf(&sb, " (%s)", status);
                break;
        case COL_USER:
                r = strbuf_addstr(&sb, get_str(json_object_get(release, "user"), "email"));
                break;
        default:
                return format_time(json_string_value(json_object_get(release, "created_at")), true,
                                   ret);
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

static int print_table(const json_t *releases, size_t n)
{
        size_t widths[COL_MAX] = {0};
        char **cells;
        int r = 0;

        cells = calloc(n * COL_MAX, sizeof(char *));
        if (!cells) {
                cli_error("out of memory");
                return -ENOMEM;
        }
        for (size_t i = 0; i < n && r >= 0; i++)
                for (int c = 0; c < COL_MAX && r >= 0; c++) {
                        r = cell_text(json_array_get(releases, i), c, &cells[i * COL_MAX + c]);
                        if (r >= 0)
                                widths[c] = MAX(widths[c], display_width(cells[i * COL_MAX + c]));
                }
        /* Columns padded to their widest cell, two spaces apart; nothing
         * trails the last one. */
        for (size_t i = 0; i < n && r >= 0; i++) {
                for (int c = 0; c < COL_MAX - 1; c++)
                        print_padded(cells[i * COL_MAX + c], widths[c] + 2);
                printf("%s\n", cells[i * COL_MAX + COL_MAX - 1]);
        }
        for (size_t i = 0; i < n * COL_MAX; i++)
                free(cells[i]);
        free(cells);
        return r;
}

int cmd_releases(struct cli *cli)
{
        const char *num = cli_opt(cli, "num"), *app;
        int64_t limit = RELEASES_DEFAULT;
        json_t *releases = NULL;
        const json_t *current;
        size_t n;
        int r;

        if (cli->argc > 0)
                return cli_usage_error(cli, "releases takes no arguments; see releases:info");
        if (num && (safe_atoi64(num, &limit) < 0 || limit < 1))
                return cli_usage_error(cli, "-n needs a number of releases, 1 or more");
        r = cli_app(cli, &app);
        if (r < 0)
                return r;
        r = fetch_releases(cli, app, &releases);
        if (r < 0)
                return r;

        n = MIN(json_array_size(releases), (size_t)limit);
        if (cli->json) {
                /* The newest N, as the table would show. */
                while (json_array_size(releases) > n)
                        json_array_remove(releases, json_array_size(releases) - 1);
                r = print_json(releases);
        } else if (n == 0)
                printf("%s has no releases.\n", app);
        else {
                current = find_current(releases);
                if (current)
                        printf("=== %s Releases - Current: v%" JSON_INTEGER_FORMAT "\n", app,
                               release_version(current));
                else
                        printf("=== %s Releases\n", app);
                r = print_table(releases, n);
        }
        json_decref(releases);
        return r;
}

int cmd_releases_info(struct cli *cli)
{
        _cleanup_free_ char *path = NULL, *when = NULL, *suffix = NULL;
        json_t *release = NULL, *releases = NULL;
        struct api_reply config = {0};
        struct strbuf sb = STRBUF_INIT;
        const char *app;
        json_int_t version;
        int r;

        if (cli->argc > 1)
                return cli_usage_error(cli, "releases:info takes one release, e.g. v3");
        r = cli_app(cli, &app);
        if (r < 0)
                return r;

        if (cli->argc == 1) {
                /* "v3", "3" or an id. */
                r = fetch_release(cli, app, cli->argv[0], &release);
                if (r < 0)
                        return r;
        } else {
                r = fetch_releases(cli, app, &releases);
                if (r < 0)
                        return r;
                release = (json_t *)find_current(releases);
                if (!release)
                        release = json_array_get(releases, 0);
                if (!release) {
                        json_decref(releases);
                        cli_error("%s has no releases", app);
                        return -ENOENT;
                }
                json_incref(release);
                json_decref(releases);
        }

        if (cli->json) {
                r = print_json(release);
                json_decref(release);
                return r;
        }

        version = release_version(release);
        if (strbuf_addf(&sb, "/releases/%" JSON_INTEGER_FORMAT "/config-vars", version) < 0 ||
            !(suffix = strbuf_detach(&sb, NULL))) {
                json_decref(release);
                goto oom;
        }
        r = app_path(app, suffix, &path);
        if (r >= 0)
                r = api_request(cli, "GET", path, NULL, &config);
        if (r >= 0)
                r = format_time(json_string_value(json_object_get(release, "created_at")), false,
                                &when);
        /* A read-only token may see releases but not config vars (403):
         * show what it may see. */
        if (r >= 0 && config.status != 403 && (config.status < 200 || config.status >= 300))
                r = api_report_error(cli, &config);
        if (r < 0) {
                api_reply_done(&config);
                json_decref(release);
                return r;
        }

        const char *by = get_str(json_object_get(release, "user"), "email"),
                   *change = get_str(release, "description"), *status = get_str(release, "status");
        const struct field fields[] = {
            {"By", by, strlen(by)},
            {"Change", change, strlen(change)},
            {"When", when, strlen(when)},
            {"Status", status, strlen(status)},
        };
        printf("=== Release v%" JSON_INTEGER_FORMAT "\n", version);
        /* docs/cli.md aligns these values at column 9, as Heroku does (its
         * list also has an "Add-ons:" line). */
        print_fields(fields, ELEMENTSOF(fields), strlen("Add-ons:"));
        if (config.status != 403) {
                printf("\n=== v%" JSON_INTEGER_FORMAT " Config vars\n", version);
                r = config_print(config.body);
        }
        api_reply_done(&config);
        json_decref(release);
        return r;
oom:
        strbuf_release(&sb);
        cli_error("out of memory");
        return -ENOMEM;
}

int cmd_releases_output(struct cli *cli)
{
        json_t *release = NULL, *releases = NULL;
        const char *app;
        int r;

        if (cli->argc > 1)
                return cli_usage_error(cli, "releases:output takes one release, e.g. v3");
        r = cli_app(cli, &app);
        if (r < 0)
                return r;
        if (cli->argc == 1)
                r = fetch_release(cli, app, cli->argv[0], &release);
        else {
                /* Heroku's default: the newest release. */
                r = fetch_releases(cli, app, &releases);
                release = json_incref(json_array_get(releases, 0));
                json_decref(releases);
        }
        if (r < 0)
                return r;
        json_int_t version = release_version(release);
        json_decref(release);
        if (version <= 0) {
                cli_error("%s has no such release", app);
                return -ENOENT;
        }
        return release_follow(cli, app, version, false);
}

/* The release a bare `rollback` goes back to: the newest one older than
 * CURRENT that went live with code (a slug).  NULL when there is none. */
static const json_t *find_previous(const json_t *releases, const json_t *current)
{
        json_int_t limit = release_version(current);
        const json_t *best = NULL;

        for (size_t i = 0; i < json_array_size(releases); i++) {
                const json_t *r = json_array_get(releases, i);
                json_int_t v = release_version(r);

                if (v <= 0 || v >= limit || !streq(get_str(r, "status"), "succeeded") ||
                    !json_is_object(json_object_get(r, "slug")))
                        continue; /* without a slug: nothing to roll back to */
                if (!best || v > release_version(best))
                        best = r;
        }
        return best;
}

int cmd_rollback(struct cli *cli)
{
        _cleanup_free_ char *path = NULL;
        json_t *target = NULL, *releases = NULL, *body = NULL, *release = NULL;
        const json_t *current;
        json_int_t version;
        char which[32];
        const char *app;
        int r;

        if (cli->argc > 1)
                return cli_usage_error(cli, "rollback takes one release, e.g. v3");
        r = cli_app(cli, &app);
        if (r < 0)
                return r;

        if (cli->argc == 1) {
                /* "v3", "3" or an id: asked first for the version to show. */
                r = fetch_release(cli, app, cli->argv[0], &target);
                if (r < 0)
                        return r;
        } else {
                r = fetch_releases(cli, app, &releases);
                if (r < 0)
                        return r;
                /* Newest first: without a release marked current, the
                 * newest one is. */
                current = find_current(releases);
                if (!current)
                        current = json_array_get(releases, 0);
                target = current ? (json_t *)find_previous(releases, current) : NULL;
                if (!target) {
                        if (current)
                                cli_error("%s has no release before v%" JSON_INTEGER_FORMAT
                                          " to roll back to",
                                          app, release_version(current));
                        else
                                cli_error("%s has no releases to roll back to", app);
                        json_decref(releases);
                        return -ENOENT;
                }
                json_incref(target);
                json_decref(releases);
        }

        version = release_version(target);
        json_decref(target);
        if (version <= 0) {
                cli_error("pierd sent a release without a version");
                return -EBADMSG;
        }
        (void)snprintf(which, sizeof(which), "v%" JSON_INTEGER_FORMAT, version);
        body = json_pack("{s:s}", "release", which);
        if (!body) {
                cli_error("out of memory");
                return -ENOMEM;
        }
        r = app_path(app, "/releases", &path);
        if (r >= 0)
                r = api_call(cli, "POST", path, body, &release, NULL);
        json_decref(body);
        if (r < 0)
                return r;

        if (cli->json)
                r = print_json(release);
        else {
                printf("Rolling back %s to v%" JSON_INTEGER_FORMAT
                       "... done, v%" JSON_INTEGER_FORMAT "\n",
                       app, version, release_version(release));
                /* Heroku's words: add-ons live outside releases. */
                printf("!    Warning: rollback affects code and config vars; it doesn't add or "
                       "remove addons.\n");
                fflush(stdout);
                r = release_follow(cli, app, release_version(release), true);
        }
        json_decref(release);
        return r;
}
