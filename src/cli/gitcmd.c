/* git:remote and git-credential: what lets `git push pier main` deploy
 * without asking for a password.
 *
 * git:remote points a remote of the current repository at the app and
 * makes git take the password for pierd's URL from `pier git-credential`
 * (git.c does the git config).  git-credential speaks git's credential
 * helper protocol (gitcredentials(7), git-credential(1)): git writes
 * "key=value" lines and a blank line or EOF to its stdin; for `get` it
 * answers with username= and password= lines, or with nothing to let git
 * go on without it.  pierd takes any user name and an API token as the
 * password. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "lib/strbuf.h"
#include "lib/util.h"

/* What git sends is a handful of short lines (protocol, host, path,
 * username, wwwauth[]=...); these bounds are far above that. */
#define CREDENTIAL_LINES_MAX 64
#define CREDENTIAL_LINE_MAX  4096

int cmd_git_remote(struct cli *cli)
{
        _cleanup_free_ char *path = NULL;
        const char *remote = cli_opt(cli, "remote"), *app, *git_url;
        json_t *info = NULL;
        int r;

        if (cli->argc > 0)
                return cli_usage_error(cli, "git:remote takes no arguments; use -a APP");
        if (!remote)
                remote = GIT_REMOTE;
        /* git would take "-x" for an option of `git remote add`. */
        if (!*remote || remote[0] == '-')
                return cli_usage_error(cli, "'%s' is not a remote name", remote);
        if (!git_in_work_tree()) {
                cli_error("not inside a git repository: cd into the app's repository (or run "
                          "`git init`) and run this again");
                return -ENOENT;
        }
        r = cli_app(cli, &app);
        if (r < 0)
                return r;
        r = app_path(app, "", &path);
        if (r < 0)
                return r;
        r = api_call(cli, "GET", path, NULL, &info, NULL);
        if (r < 0)
                return r;
        git_url = json_string_value(json_object_get(info, "git_url"));
        if (!git_url || !*git_url) {
                json_decref(info);
                cli_error("pierd did not say where %s's git repository is", app);
                return -EBADMSG;
        }
        r = git_remote_connect(remote, git_url, cli->api_url);
        if (r >= 0)
                printf("set git remote %s to %s\n", remote, git_url);
        json_decref(info);
        return r;
}

/* One line of git's request into LINE, without its newline.  *ret_end
 * tells that the input ended (EOF after the line, or nothing read). */
static int read_line(FILE *f, struct strbuf *line, bool *ret_end)
{
        int c;

        strbuf_reset(line);
        *ret_end = false;
        while ((c = fgetc(f)) != EOF && c != '\n') {
                /* "host=a\0b" must not pass for "host=a". */
                if (c == '\0')
                        return -EBADMSG;
                if (line->len >= CREDENTIAL_LINE_MAX)
                        return -EFBIG;
                if (strbuf_addch(line, (char)c) < 0)
                        return -ENOMEM;
        }
        if (ferror(f))
                return -EIO;
        *ret_end = c == EOF;
        return 0;
}

/* Reads git's request up to a blank line or EOF and keeps the values of
 * "protocol" and "host" (NULL when absent); the rest is ignored. */
static int read_request(char **ret_protocol, char **ret_host)
{
        _cleanup_free_ char *protocol = NULL, *host = NULL;
        struct strbuf line = STRBUF_INIT;
        bool end = false;
        int r = 0;

        for (size_t n = 0; !end;) {
                char **slot, *eq;

                r = read_line(stdin, &line, &end);
                if (r < 0 || line.len == 0)
                        break;
                if (++n > CREDENTIAL_LINES_MAX) {
                        r = -E2BIG;
                        break;
                }
                eq = strchr(line.buf, '=');
                if (!eq)
                        continue;
                *eq = '\0';
                if (streq(line.buf, "protocol"))
                        slot = &protocol;
                else if (streq(line.buf, "host"))
                        slot = &host;
                else
                        continue;
                free(*slot);
                *slot = strdup(eq + 1);
                if (!*slot) {
                        r = -ENOMEM;
                        break;
                }
        }
        strbuf_release(&line);
        if (r < 0)
                return r;
        *ret_protocol = TAKE_PTR(protocol);
        *ret_host = TAKE_PTR(host);
        return 0;
}

/* Whether git asks for PROTOCOL://HOST (HOST may carry a port) and that is
 * where API_URL points. */
static bool request_for_api(const char *protocol, const char *host, const char *api_url)
{
        _cleanup_free_ char *url = NULL;
        struct strbuf sb = STRBUF_INIT;

        if (!protocol || !host || !*protocol || !*host)
                return false;
        /* Only a scheme and a host[:port] go into the URL, nothing that
         * could make it mean another host (a user@, a path, a fragment). */
        if (strspn(protocol, "abcdefghijklmnopqrstuvwxyz") != strlen(protocol))
                return false;
        for (const char *p = host; *p; p++)
                if ((unsigned char)*p <= ' ' || *p == 0x7f || strchr("/\\@?#", *p))
                        return false;
        if (strbuf_addf(&sb, "%s://%s/", protocol, host) < 0 || !(url = strbuf_detach(&sb, NULL))) {
                strbuf_release(&sb);
                return false;
        }
        return url_same_origin(url, api_url);
}

int cmd_git_credential(struct cli *cli)
{
        _cleanup_free_ char *protocol = NULL, *host = NULL;
        const char *operation;
        int r;

        if (cli->argc != 1)
                return cli_usage_error(cli, "git-credential takes one operation: get, store or "
                                            "erase");
        operation = cli->argv[0];
        /* gitcredentials(7): a helper ignores operations it does not know.
         * pierd's tokens live in pier's own credentials file, so there is
         * nothing to store or erase; the request is read all the same, as
         * git writes it before it waits for the helper. */
        if (!streq(operation, "get")) {
                if (streq(operation, "store") || streq(operation, "erase"))
                        (void)read_request(&protocol, &host);
                return 0;
        }

        r = read_request(&protocol, &host);
        if (r == -EBADMSG)
                cli_error("git-credential: git's request holds a NUL byte; ignoring it");
        else if (r == -EFBIG)
                cli_error("git-credential: git's request has a line over %d bytes; ignoring it",
                          CREDENTIAL_LINE_MAX);
        else if (r == -E2BIG)
                cli_error("git-credential: git's request has over %d lines; ignoring it",
                          CREDENTIAL_LINES_MAX);
        else if (r < 0)
                cli_error("git-credential: reading git's request: %s", strerror(-r));
        if (r < 0)
                return r;
        r = cli_resolve_api(cli);
        if (r < 0)
                return r;
        /* Another host: not ours to answer, and never gets the token. */
        if (!request_for_api(protocol, host, cli->api_url))
                return 0;
        if (!cli->token) {
                cli_error("no API token for %s: run `pier login`", cli->api_url);
                return 0;
        }
        /* A newline in it would add a line to the answer. */
        if (!token_valid(cli->token)) {
                cli_error("the token holds characters a token cannot have; run `pier login` "
                          "again");
                return -EINVAL;
        }
        printf("username=%s\npassword=%s\n", GIT_CREDENTIAL_USER, cli->token);
        return 0;
}
