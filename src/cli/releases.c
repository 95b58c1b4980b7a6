/* releases, releases:info. */

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
        const char *app, *which;
        json_int_t version;
        int r;

        if (cli->argc > 1)
                return cli_usage_error(cli, "releases:info takes one release, e.g. v3");
        r = cli_app(cli, &app);
        if (r < 0)
                return r;

        if (cli->argc == 1) {
                /* "v3", "3" or an id.  pierd takes all three; asking for
                 * "3" makes its answer the same for "v3" and "3". */
                which = cli->argv[0];
                if (which[0] == 'v' && which[1] &&
                    strspn(which + 1, "0123456789") == strlen(which + 1))
                        which++;
                if (strbuf_addstr(&sb, "/releases") < 0 || url_add_segment(&sb, which) < 0 ||
                    !(suffix = strbuf_detach(&sb, NULL)))
                        goto oom;
                r = app_path(app, suffix, &path);
                if (r < 0)
                        return r;
                r = api_call(cli, "GET", path, NULL, &release, NULL);
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
        path = mfree(path);
        suffix = mfree(suffix);
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
