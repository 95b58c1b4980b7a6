/* The pier command line: shared context, option lookup, the API client, git
 * helpers and output helpers used by the verb files (apps.c, config.c, ...).
 *
 * Lifecycle: main() (pier.c) owns one `struct cli`.  It parses the command
 * line into it (the strings point into argv, nothing is copied), runs one
 * command, then calls cli_done() which frees what was resolved lazily (API
 * URL, token, app name, the curl handle).
 *
 * Errors: every function here that can fail returns 0 or a negative errno
 * and has ALREADY told the user (`pier: MESSAGE` on stderr).  A command
 * returns such a value to main(), which turns any negative value into exit
 * status 1 without printing anything more.  A command that finds its
 * arguments wrong returns cli_usage_error(), which prints the message and
 * the command's usage.
 *
 * Output: results go to stdout, errors to stderr.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <curl/curl.h>
#include <jansson.h>

#include "lib/strbuf.h"

#ifndef PIER_VERSION
#define PIER_VERSION "0.0.0"
#endif

#define PIER_DEFAULT_API "http://127.0.0.1:5000"

/* The most options a single command declares (globals not counted). */
#define CLI_OPTIONS_MAX 8

struct cli;

struct cli_option {
        const char *name; /* long name without the dashes: "confirm" */
        char short_name;  /* 'n', or 0 for none */
        bool has_arg;
};

enum {
        /* The command works on one app (-a, else the git remote). */
        CMD_APP = 1 << 0,
        /* Plumbing that other programs run (git's credential helper): left
         * out of the command list, still shown by `pier help COMMAND`. */
        CMD_HIDDEN = 1 << 1,
};

struct cli_command {
        const char *name;
        int (*run)(struct cli *cli);
        const char *usage;                /* after "pier ": "releases [-n N]" */
        const char *summary;              /* one line for the command list */
        const char *help;                 /* more lines for `pier help CMD`, or NULL */
        const struct cli_option *options; /* terminated by {0} or NULL */
        unsigned flags;
};

struct cli {
        const struct cli_command *cmd;

        /* Global flags (pointing into argv). */
        const char *app_flag; /* -a/--app */
        const char *api_flag; /* --api */
        bool json;
        bool help;
        bool version;

        /* The command's own options, indexed as cmd->options; NULL when
         * absent, "" for a given flag without argument. */
        const char *opt_values[CLI_OPTIONS_MAX];

        /* Positional arguments, the command name not included. */
        int argc;
        char **argv;

        /* The exit status of a command that succeeded (pier run passes the
         * dyno's on); failures exit 1. */
        int exit_status;

        /* Resolved on first use, owned. */
        char *api_url;
        char *token;
        char *app;
        CURL *curl;
};

void cli_done(struct cli *cli);

/* The value of the command's option NAME (as declared in its table entry),
 * "" for a flag that was given, NULL when absent. */
const char *cli_opt(const struct cli *cli, const char *name);

/* Prints `pier: MESSAGE` and the command's usage to stderr; returns
 * -EINVAL. */
int cli_usage_error(const struct cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints `pier: MESSAGE` to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The app this command works on: -a/--app, else the app named by the
 * current repository's `pier` remote.  *ret_app points into cli. */
int cli_app(struct cli *cli, const char **ret_app);

/* Fills cli->api_url and cli->token (when not already set) from --api,
 * $PIER_API_URL, $PIER_TOKEN, the credentials file and the default. */
int cli_resolve_api(struct cli *cli);

/* Usage of one command, or the whole command list, on f. */
void cli_print_usage(const struct cli_command *cmd, FILE *f);
void cli_print_help(FILE *f);
const struct cli_command *cli_find_command(const char *name);

/* ---- client.c: the pierd API ---------------------------------------- */

struct api_reply {
        long status;
        json_t *body;            /* parsed JSON, or NULL when empty */
        int64_t release_version; /* Pier-Release-Version, -1 when absent */
};

void api_reply_done(struct api_reply *reply);

/* Sends METHOD PATH (already percent-encoded) with BODY (may be NULL, not
 * consumed) and waits for the answer, whatever its status.  Returns 0 with
 * *ret_reply filled (the caller calls api_reply_done()), or a negative
 * errno when no HTTP answer arrived (reported). */
int api_request(struct cli *cli, const char *method, const char *path, json_t *body,
                struct api_reply *ret_reply);

/* GET PATH as a stream: the body goes to on_data as it arrives (it returns
 * len to go on, anything else to stop: -ECANCELED).  No time limit, but a
 * connection silent for idle_s seconds is given up.  Returns 0 with the
 * status in *ret_reply (and, for a non-2xx answer, the error body); or,
 * NOT reported (the caller may retry): -ECONNREFUSED when pierd could not
 * be reached, -ECONNRESET when the stream broke or went silent; other
 * errors are reported. */
int api_stream(struct cli *cli, const char *path, unsigned idle_s,
               size_t (*on_data)(const char *data, size_t len, void *ud), void *ud,
               struct api_reply *ret_reply);

/* As api_request(), but anything but a 2xx answer is reported (the API's
 * message, or the 401 hint) and returned as a negative errno.  ret_body
 * and ret_release_version may be NULL. */
int api_call(struct cli *cli, const char *method, const char *path, json_t *body, json_t **ret_body,
             int64_t *ret_release_version);

/* Reports a non-2xx reply as `pier: MESSAGE`; returns a negative errno. */
int api_report_error(struct cli *cli, const struct api_reply *reply);

/* Appends "/" and S percent-encoded (RFC 3986 unreserved kept) to SB. */
int url_add_segment(struct strbuf *sb, const char *s);

/* "/apps/APP" + SUFFIX (SUFFIX already encoded, may be ""), malloc'd. */
int app_path(const char *app, const char *suffix, char **ret);

/* "/apps/APP" + COLLECTION ("/domains") + "/" + ITEM percent-encoded
 * (ITEM NULL: the collection itself), malloc'd. */
int app_item_path(const char *app, const char *collection, const char *item, char **ret);

/* The credentials file: $XDG_CONFIG_HOME/pier/credentials, else
 * ~/.config/pier/credentials. */
int credentials_path(char **ret);
/* Reads it; a missing file gives 0 with both outputs NULL. */
int credentials_load(char **ret_api, char **ret_token);
/* Writes it atomically with mode 0600, making its directories 0700. */
int credentials_store(const char *api, const char *token);
/* Removes it; a missing file is fine. */
int credentials_remove(void);

/* A token is sent in a header: printable ASCII without spaces only. */
bool token_valid(const char *token);

/* Whether URLs A and B have the same scheme, host (any case) and port (the
 * scheme's default when none is given), as git compares the URL of a
 * credential.URL.* setting.  An unparsable URL matches nothing. */
bool url_same_origin(const char *a, const char *b);

/* ---- git.c: the `pier` remote of the current repository -------------- */

#define GIT_REMOTE "pier"
/* The user name git sends with the token; pierd ignores it. */
#define GIT_CREDENTIAL_USER "pier"

bool git_in_work_tree(void);
/* The remote's URL in *ret_url, or -ENOENT when there is no such remote (or
 * no repository, or no git).  Probes quietly. */
int git_remote_url(const char *remote, char **ret_url);
/* Adds the remote or, when it exists, points it at URL. */
int git_remote_set(const char *remote, const char *url);
int git_remote_remove(const char *remote);
/* git_remote_set(), then makes git in this repository take the password
 * for API_URL (scheme, host and port) from `pier git-credential`, run as
 * this very binary, so that a push never prompts.  Helpers from the user's
 * global config are switched off for that URL: they would be asked first,
 * and would keep a copy of the token. */
int git_remote_connect(const char *remote, const char *url, const char *api_url);
/* git_remote_remove(), then undoes git_remote_connect()'s credential
 * settings unless another remote of this repository still points at
 * API_URL. */
int git_remote_disconnect(const char *remote, const char *api_url);
/* The app name in a git URL ending in "/NAME.git", malloc'd; -EINVAL when
 * the URL does not name a valid app. */
int git_url_app_name(const char *url, char **ret_name);

/* ---- output helpers (output.c) --------------------------------------- */

/* Writes JSON pretty-printed, keys in API order, and a newline. */
int print_json(const json_t *json);

struct field {
        const char *label;
        const char *value;
        size_t value_len;
};

/* Prints "LABEL: VALUE" lines, the values starting one column after the
 * longest "LABEL:", or at column MIN_WIDTH + 1 when that is further.
 * Values are written raw (they may hold any byte). */
void print_fields(const struct field *fields, size_t n, size_t min_width);

/* "2026/11/26 12:00:00 +0000 (~ 5m ago)" for an ISO-8601 time, malloc'd;
 * the raw string when it does not parse. */
int format_time(const char *iso, bool with_ago, char **ret);

/* Number of characters (UTF-8 code points) in s. */
size_t display_width(const char *s);

/* Writes s and then pad spaces up to width characters. */
void print_padded(const char *s, size_t width);

/* Config values travel as JSON strings, or {"base64": "..."} when they are
 * not UTF-8.  config_value_decode gives malloc'd bytes, NUL-terminated, with
 * their length; config_value_encode gives a new reference. */
int config_value_decode(const json_t *v, char **ret, size_t *ret_len);
int config_value_encode(const char *value, size_t len, json_t **ret);

/* Prints the vars of a config-vars object as "KEY: value" lines, sorted by
 * key, the values aligned (config.c). */
int config_print(const json_t *config);

/* ---- the commands ---------------------------------------------------- */

int cmd_login(struct cli *cli);
int cmd_logout(struct cli *cli);
int cmd_whoami(struct cli *cli);
int cmd_authorizations(struct cli *cli);
int cmd_authorizations_create(struct cli *cli);
int cmd_authorizations_revoke(struct cli *cli);

int cmd_apps(struct cli *cli);
int cmd_apps_create(struct cli *cli);
int cmd_apps_info(struct cli *cli);
int cmd_apps_open(struct cli *cli);
int cmd_apps_rename(struct cli *cli);
int cmd_apps_destroy(struct cli *cli);

int cmd_config(struct cli *cli);
int cmd_config_get(struct cli *cli);
int cmd_config_set(struct cli *cli);
int cmd_config_unset(struct cli *cli);

int cmd_releases(struct cli *cli);
int cmd_releases_info(struct cli *cli);
int cmd_releases_output(struct cli *cli);
int cmd_rollback(struct cli *cli);

int cmd_ps(struct cli *cli);
int cmd_ps_scale(struct cli *cli);
int cmd_ps_type(struct cli *cli);
int cmd_ps_restart(struct cli *cli);
int cmd_ps_stop(struct cli *cli);

int cmd_logs(struct cli *cli);
/* Prints the output of vVERSION's release command, following it while it
 * runs.  after_change (config:set, rollback just made vVERSION): first
 * "Running release command..." if there is one, and -ECHILD (reported)
 * when it failed.  Otherwise (releases:output): says so when there is no
 * output. */
int release_follow(struct cli *cli, const char *app, int64_t version, bool after_change);
int cmd_run(struct cli *cli);

int cmd_buildpacks(struct cli *cli);
int cmd_buildpacks_set(struct cli *cli);
int cmd_buildpacks_add(struct cli *cli);
int cmd_buildpacks_remove(struct cli *cli);
int cmd_buildpacks_clear(struct cli *cli);

int cmd_maintenance(struct cli *cli);
int cmd_maintenance_on(struct cli *cli);
int cmd_maintenance_off(struct cli *cli);

int cmd_domains(struct cli *cli);
int cmd_domains_add(struct cli *cli);
int cmd_domains_remove(struct cli *cli);
int cmd_domains_clear(struct cli *cli);

int cmd_drains(struct cli *cli);
int cmd_drains_add(struct cli *cli);
int cmd_drains_remove(struct cli *cli);

int cmd_git_remote(struct cli *cli);
int cmd_git_credential(struct cli *cli);

int cmd_help(struct cli *cli);
int cmd_version(struct cli *cli);
