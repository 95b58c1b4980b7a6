/* pier: main(), the command table and the command-line parser.
 *
 * The line is `pier COMMAND [ARGS] [FLAGS]`; global flags (-a/--app,
 * --api, --json, -h/--help, --version) may stand anywhere, before or after
 * the command.  The command is the first argument that is neither a flag
 * nor a global flag's value.  The rest is parsed knowing the command's own
 * options, so that `-d --json` gives -d the value "--json".  `--` ends the
 * flags. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/cli.h"
#include "lib/names.h"
#include "lib/util.h"

/* Options are declared inline: compound literals at file scope have static
 * storage. */
#define OPTIONS(...) ((const struct cli_option[]){__VA_ARGS__, {0}})

/* What config:set, config:unset and rollback add to their help. */
#define RELEASE_COMMAND_HELP                                                                       \
        "With a `release` command in the Procfile, its output follows; when it\n"                  \
        "fails (exit 1), the dynos stay on the release before."

static const struct cli_command commands[] = {
    {"login", cmd_login, "login [--api URL] [--token TOKEN]", "log in to pierd and store the token",
     "The token comes from --token, else from stdin (prompted when it is a terminal),\n"
     "else, when pierd runs on this machine, from $PIER_HOME/admin-token\n"
     "(default ~/.local/share/pier/admin-token).  It is checked with pierd, then\n"
     "stored with the API URL in ~/.config/pier/credentials.",
     OPTIONS({"token", 0, true}), 0},
    {"logout", cmd_logout, "logout", "forget the stored token", NULL, NULL, 0},
    {"auth:whoami", cmd_whoami, "auth:whoami", "show who the token belongs to", NULL, NULL, 0},

    {"apps", cmd_apps, "apps", "list your apps", "Also `pier apps:list`.", NULL, 0},
    {"apps:create", cmd_apps_create, "apps:create [NAME]", "create an app",
     "Without NAME pierd picks one.  Inside a git work tree it also adds the\n"
     "git remote `pier` for the app (or points it there).",
     NULL, 0},
    {"apps:info", cmd_apps_info, "apps:info", "show an app", NULL, NULL, CMD_APP},
    {"apps:open", cmd_apps_open, "apps:open", "open the app in a web browser",
     "Prints the app's URL, and opens it with xdg-open when there is a desktop\n"
     "session (DISPLAY or WAYLAND_DISPLAY).  Also `pier open`.",
     NULL, CMD_APP},
    {"apps:rename", cmd_apps_rename, "apps:rename NEWNAME", "rename an app",
     "Updates the git remote `pier` when it pointed at the old name.", NULL, CMD_APP},
    {"apps:destroy", cmd_apps_destroy, "apps:destroy --confirm NAME",
     "destroy an app and all its data",
     "Removes the git remote `pier` when it pointed at that app.", OPTIONS({"confirm", 0, true}),
     CMD_APP},
    {"git:remote", cmd_git_remote, "git:remote -a APP [-r REMOTE]",
     "point a git remote of this repository at an app",
     "Adds the remote (default `pier`) or points it at the app's git URL, and\n"
     "makes git take the password for pierd from `pier git-credential`, so that\n"
     "`git push pier main` does not ask for one.\n"
     "-r, --remote REMOTE   the remote's name (default pier)",
     OPTIONS({"remote", 'r', true}), CMD_APP},

    {"config", cmd_config, "config [--shell]", "show the config vars",
     "--shell prints KEY='value' lines, quoted for a POSIX shell.", OPTIONS({"shell", 's', false}),
     CMD_APP},
    {"config:get", cmd_config_get, "config:get KEY", "print one config var's value",
     "Prints the raw value and a newline; nothing when KEY is unset.", NULL, CMD_APP},
    {"config:set", cmd_config_set, "config:set KEY=VALUE...", "set config vars and restart the app",
     "Each argument is split at its first `=`; the value may hold anything but "
     "NUL.\n" RELEASE_COMMAND_HELP,
     NULL, CMD_APP},
    {"config:unset", cmd_config_unset, "config:unset KEY...",
     "remove config vars and restart the app", RELEASE_COMMAND_HELP, NULL, CMD_APP},

    {"releases", cmd_releases, "releases [-n N]", "list releases, newest first",
     "-n, --num N   show at most N releases (default 15)", OPTIONS({"num", 'n', true}), CMD_APP},
    {"releases:info", cmd_releases_info, "releases:info [vN]",
     "show a release and its config vars (default: the current one)", NULL, NULL, CMD_APP},
    {"releases:output", cmd_releases_output, "releases:output [vN]",
     "show the output of a release's release command (default: the newest release)",
     "Follows it while the command runs.  The output is read from the app's log,\n"
     "which keeps its last 1,500 lines.",
     NULL, CMD_APP},
    {"rollback", cmd_rollback, "rollback [vN]",
     "roll back to an earlier release (default: the one before the current)",
     "Makes a new release with vN's slug and config vars; add-ons stay as they "
     "are.\n" RELEASE_COMMAND_HELP,
     NULL, CMD_APP},

    {"ps", cmd_ps, "ps [TYPE...]", "list the app's dynos",
     "One section per process type: its size, command and dynos, each with its\n"
     "state and since when.  With TYPEs, only those.",
     NULL, CMD_APP},
    {"ps:scale", cmd_ps_scale, "ps:scale TYPE=N|TYPE+N|TYPE-N[:SIZE]...",
     "change how many dynos of each process type run",
     "web=3 runs three web dynos, web+1 one more, web-1 one less; :SIZE\n"
     "(standard-1x or standard-2x) also sets their size.  Several changes at\n"
     "once: `pier ps:scale web=2 worker=1`.  Without arguments: the formation.",
     NULL, CMD_APP},
    {"ps:type", cmd_ps_type, "ps:type [TYPE=SIZE...|SIZE]", "show or change dyno sizes",
     "Sizes: standard-1x (512 MB) and standard-2x (1 GB).  A SIZE alone\n"
     "applies to every process type.  Also `pier ps:resize`.",
     NULL, CMD_APP},
    {"ps:restart", cmd_ps_restart, "ps:restart [TYPE|DYNO]",
     "restart all dynos, those of a process type, or one",
     "TYPE is a process type (web), DYNO one dyno (web.1).  Also `pier restart`.", NULL, CMD_APP},
    {"ps:stop", cmd_ps_stop, "ps:stop TYPE|DYNO", "stop dynos (the formation starts them again)",
     "As on Heroku, a stopped formation dyno is started again; scale to 0 to keep\n"
     "it down.  Also `pier stop`.",
     NULL, CMD_APP},
    {"run", cmd_run, "run [--detach] [--no-tty] COMMAND...", "run a one-off dyno (run.1234)",
     "Runs COMMAND in a new dyno of the current release, not part of the\n"
     "formation and never restarted, attached to this terminal: your input goes\n"
     "to it, its output comes back (not to the logs), and pier exits with its\n"
     "exit status.  When stdin is a terminal the dyno gets one too (`pier run\n"
     "bash`): keys, ^C and the window size go through.  Otherwise stdin is\n"
     "passed on to its end, and ^C (SIGINT) is sent to the dyno's processes.\n"
     "Closing pier stops the dyno.\n"
     "A process type's name first (`pier run worker 42`) runs that type's\n"
     "command (with the words after it).  Put `--` before a COMMAND with options\n"
     "of its own.\n"
     "-d, --detach   run in the background; the output goes to\n"
     "               `pier logs -p run.1234`\n"
     "--no-tty       no terminal for the dyno, even when stdin is one",
     OPTIONS({"detach", 'd', false}, {"no-tty", 0, false}), CMD_APP},
    {"logs", cmd_logs, "logs [-t] [-n N] [-s SOURCE] [-d DYNO]",
     "show the app's log lines, or follow them",
     "-n, --num N        the last N lines (default 100, at most 1500)\n"
     "-t, --tail         then every new line as it comes, until Ctrl-C\n"
     "-s, --source SRC   only lines from app (the dynos' output) or heroku\n"
     "                   (the platform)\n"
     "-d, --dyno DYNO    only lines of a dyno (web.1) or a process type (web);\n"
     "                   also -p, --ps, --process-type TYPE (web and web.N)\n"
     "--json             the lines as JSON strings (with --tail, one per line)",
     OPTIONS({"num", 'n', true}, {"source", 's', true}, {"dyno", 'd', true}, {"ps", 'p', true},
             {"tail", 't', false}, {"process-type", 0, true}),
     CMD_APP},

    {"buildpacks", cmd_buildpacks, "buildpacks", "show the app's buildpacks",
     "An app without buildpacks has them detected at each build.", NULL, CMD_APP},
    {"buildpacks:set", cmd_buildpacks_set, "buildpacks:set NAME|URL [-i INDEX]",
     "set the buildpack (the first one, or the one at INDEX)",
     "NAME is a built-in buildpack (python, nodejs, static, make, procfile), URL a\n"
     "git URL.\n"
     "-i, --index INDEX   the 1-based position to replace; past the end appends",
     OPTIONS({"index", 'i', true}), CMD_APP},
    {"buildpacks:add", cmd_buildpacks_add, "buildpacks:add NAME|URL [-i INDEX]",
     "add a buildpack (at the end, or at INDEX)",
     "The buildpacks run in order at each build.\n"
     "-i, --index INDEX   the 1-based position to insert at; past the end appends",
     OPTIONS({"index", 'i', true}), CMD_APP},
    {"buildpacks:remove", cmd_buildpacks_remove, "buildpacks:remove [NAME|URL] [-i INDEX]",
     "remove a buildpack",
     "Give the buildpack or its position, not both.\n"
     "-i, --index INDEX   the 1-based position to remove",
     OPTIONS({"index", 'i', true}), CMD_APP},
    {"buildpacks:clear", cmd_buildpacks_clear, "buildpacks:clear",
     "remove all buildpacks; builds detect them again", NULL, NULL, CMD_APP},

    {"maintenance", cmd_maintenance, "maintenance", "show whether maintenance mode is on",
     "Prints on or off.", NULL, CMD_APP},
    {"maintenance:on", cmd_maintenance_on, "maintenance:on", "put the app in maintenance mode",
     "Every request to the app gets the maintenance page (503, H80); its dynos\n"
     "keep running.",
     NULL, CMD_APP},
    {"maintenance:off", cmd_maintenance_off, "maintenance:off",
     "take the app out of maintenance mode", NULL, NULL, CMD_APP},

    {"domains", cmd_domains, "domains", "list the app's domains",
     "The app's own APP.DOMAIN, then its custom domains.", NULL, CMD_APP},
    {"domains:add", cmd_domains_add, "domains:add HOSTNAME", "add a custom domain to the app",
     "The router then sends requests for HOSTNAME (any case, any port) to the\n"
     "app; point the name's DNS at this machine.  A hostname belongs to one app.",
     NULL, CMD_APP},
    {"domains:remove", cmd_domains_remove, "domains:remove HOSTNAME",
     "remove a custom domain from the app", NULL, NULL, CMD_APP},
    {"domains:clear", cmd_domains_clear, "domains:clear", "remove all custom domains from the app",
     NULL, NULL, CMD_APP},

    {"drains", cmd_drains, "drains", "list the app's log drains",
     "Each drain's URL and, in parentheses, its token (d.UUID): the receiving end\n"
     "sees the token as the syslog hostname of every line.",
     NULL, CMD_APP},
    {"drains:add", cmd_drains_add, "drains:add URL", "forward the app's log lines to URL",
     "URL is syslog://HOST:PORT or syslog+tls://HOST:PORT (RFC 5424 over TCP or\n"
     "TLS), or an https:// (or http://) URL that gets logplex-1 POSTs.",
     NULL, CMD_APP},
    {"drains:remove", cmd_drains_remove, "drains:remove URL|ID", "stop forwarding to a log drain",
     NULL, NULL, CMD_APP},

    {"authorizations", cmd_authorizations, "authorizations", "list API tokens", NULL, NULL, 0},
    {"authorizations:create", cmd_authorizations_create,
     "authorizations:create [-s read|global] [-d DESCRIPTION] [--short]", "create an API token",
     "The token is shown once; pierd keeps only its hash.\n"
     "-s, --scope SCOPE        read or global (default global; comma-separated list)\n"
     "-d, --description TEXT   what the token is for\n"
     "--short                  print the token only",
     OPTIONS({"scope", 's', true}, {"description", 'd', true}, {"short", 0, false}), 0},
    {"authorizations:revoke", cmd_authorizations_revoke, "authorizations:revoke ID",
     "revoke an API token", NULL, NULL, 0},

    {"help", cmd_help, "help [COMMAND]", "list the commands, or show one command's usage", NULL,
     NULL, 0},
    {"version", cmd_version, "version", "show the pier version", NULL, NULL, 0},

    {"git-credential", cmd_git_credential, "git-credential get|store|erase",
     "git credential helper: gives git the API token for pierd",
     "Plumbing, run by git (git:remote and apps:create set it up).  For `get` it\n"
     "reads git's request on stdin and, when it is for pierd's URL, answers\n"
     "username=pier and password=TOKEN; `store` and `erase` do nothing.",
     NULL, CMD_HIDDEN},
};

/* The Heroku CLI's other names for the same commands. */
static const struct {
        const char *alias, *name;
} aliases[] = {
    {"apps:list", "apps"},
    {"create", "apps:create"},
    {"destroy", "apps:destroy"},
    {"info", "apps:info"},
    {"open", "apps:open"},
    {"rename", "apps:rename"},
    {"config:add", "config:set"},
    {"config:remove", "config:unset"},
    {"releases:rollback", "rollback"},
    {"scale", "ps:scale"},
    {"dyno:scale", "ps:scale"},
    {"ps:resize", "ps:type"},
    {"dyno:type", "ps:type"},
    {"dyno:resize", "ps:type"},
    {"restart", "ps:restart"},
    {"dyno:restart", "ps:restart"},
    {"stop", "ps:stop"},
    {"dyno:stop", "ps:stop"},
    {"ps:kill", "ps:stop"},
    {"dyno:kill", "ps:stop"},
};

/* Flags every command accepts.  Their index selects the field of struct
 * cli they fill (see set_global()). */
enum { G_APP, G_API, G_JSON, G_HELP, G_VERSION };
static const struct cli_option global_options[] = {
    [G_APP] = {"app", 'a', true},        [G_API] = {"api", 0, true},
    [G_JSON] = {"json", 0, false},       [G_HELP] = {"help", 'h', false},
    [G_VERSION] = {"version", 0, false},
};

const struct cli_command *cli_find_command(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(aliases); i++)
                if (streq(name, aliases[i].alias))
                        name = aliases[i].name;
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(name, commands[i].name))
                        return &commands[i];
        return NULL;
}

void cli_error(const char *fmt, ...)
{
        va_list ap;

        fflush(stdout);
        fputs("pier: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

void cli_print_usage(const struct cli_command *cmd, FILE *f)
{
        fprintf(f, "Usage: pier %s\n\n%s\n", cmd->usage, cmd->summary);
        if (cmd->help)
                fprintf(f, "\n%s\n", cmd->help);
        if (cmd->flags & CMD_APP)
                fputs("\n-a, --app NAME   the app (default: from the git remote `pier`)\n", f);
}

void cli_print_help(FILE *f)
{
        size_t width = 0;

        fputs("Usage: pier COMMAND [ARGS] [FLAGS]\n\nCommands:\n", f);
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (!(commands[i].flags & CMD_HIDDEN))
                        width = MAX(width, strlen(commands[i].name));
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (!(commands[i].flags & CMD_HIDDEN))
                        fprintf(f, "  %-*s  %s\n", (int)width, commands[i].name,
                                commands[i].summary);
        fputs("\nFlags, anywhere on the line:\n"
              "  -a, --app NAME   the app to work on (default: from the git remote `pier`)\n"
              "  --api URL        the pierd API (default: $PIER_API_URL, the stored login,\n"
              "                   else " PIER_DEFAULT_API ")\n"
              "  --json           print the API's JSON (listing and info commands)\n"
              "  -h, --help       show a command's usage\n"
              "  --version        show the pier version\n"
              "\nSee 'pier help COMMAND' for one command.\n",
              f);
}

int cli_usage_error(const struct cli *cli, const char *fmt, ...)
{
        va_list ap;

        fflush(stdout);
        fputs("pier: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\n", stderr);
        if (cli->cmd)
                cli_print_usage(cli->cmd, stderr);
        else
                fputs("See 'pier help'.\n", stderr);
        return -EINVAL;
}

const char *cli_opt(const struct cli *cli, const char *name)
{
        const struct cli_option *o = cli->cmd ? cli->cmd->options : NULL;

        for (size_t i = 0; o && o[i].name; i++)
                if (streq(o[i].name, name))
                        return cli->opt_values[i];
        /* Asking for an option the table does not declare is a bug. */
        abort();
}

int cli_app(struct cli *cli, const char **ret_app)
{
        _cleanup_free_ char *url = NULL;
        char *name = NULL;

        if (cli->app) {
                *ret_app = cli->app;
                return 0;
        }
        if (cli->app_flag) {
                if (!*cli->app_flag)
                        return cli_usage_error(cli, "--app needs an app name");
                name = strdup(cli->app_flag);
                if (!name) {
                        cli_error("out of memory");
                        return -ENOMEM;
                }
        } else if (git_remote_url(GIT_REMOTE, &url) < 0 || git_url_app_name(url, &name) < 0) {
                cli_error("no app specified. Run this command from an app folder or specify which "
                          "app to use with --app APP.");
                return -EINVAL;
        }
        cli->app = name;
        *ret_app = name;
        return 0;
}

void cli_done(struct cli *cli)
{
        if (cli->curl)
                curl_easy_cleanup(cli->curl);
        cli->curl = NULL;
        cli->api_url = mfree(cli->api_url);
        cli->token = mfree(cli->token);
        cli->app = mfree(cli->app);
        cli->argv = mfree(cli->argv);
}

static void set_global(struct cli *cli, size_t idx, const char *value)
{
        switch (idx) {
        case G_APP:
                cli->app_flag = value;
                break;
        case G_API:
                cli->api_flag = value;
                break;
        case G_JSON:
                cli->json = true;
                break;
        case G_HELP:
                cli->help = true;
                break;
        case G_VERSION:
                cli->version = true;
                break;
        }
}

/* Finds the option ARG names among the globals (*ret_global = true) and the
 * command's options.  For "--name=value" and "-xVALUE" *ret_inline gets the
 * value.  Returns the index, or -ENOENT. */
static int match_option(const struct cli_command *cmd, const char *arg, bool *ret_global,
                        const char **ret_inline)
{
        const struct cli_option *tables[2] = {global_options, cmd ? cmd->options : NULL};
        size_t sizes[2] = {ELEMENTSOF(global_options), SIZE_MAX};

        for (size_t t = 0; t < 2; t++) {
                const struct cli_option *o = tables[t];

                for (size_t i = 0; o && i < sizes[t] && o[i].name; i++) {
                        const char *inl = NULL;

                        if (arg[1] == '-') {
                                size_t n = strlen(o[i].name);

                                if (!strneq(arg + 2, o[i].name, n))
                                        continue;
                                if (arg[2 + n] == '=' && o[i].has_arg)
                                        inl = arg + 3 + n;
                                else if (arg[2 + n] != '\0')
                                        continue;
                        } else {
                                if (!o[i].short_name || arg[1] != o[i].short_name)
                                        continue;
                                if (arg[2] != '\0') {
                                        if (!o[i].has_arg)
                                                continue;
                                        inl = arg + 2;
                                }
                        }
                        *ret_global = t == 0;
                        *ret_inline = inl;
                        return (int)i;
                }
        }
        return -ENOENT;
}

static bool is_flag(const char *arg)
{
        return arg[0] == '-' && arg[1] != '\0';
}

/* The index of the command name in argv, or argc when there is none. */
static int find_command(int argc, char **argv)
{
        for (int i = 1; i < argc; i++) {
                bool global;
                const char *inl;
                int idx;

                if (streq(argv[i], "--"))
                        return i + 1 < argc ? i + 1 : argc;
                if (!is_flag(argv[i]))
                        return i;
                idx = match_option(NULL, argv[i], &global, &inl);
                if (idx >= 0 && global_options[idx].has_arg && !inl)
                        i++;
        }
        return argc;
}

static int parse_command_line(struct cli *cli, int argc, char **argv)
{
        int cmd_idx = find_command(argc, argv);
        bool dashdash = false;

        if (cmd_idx < argc) {
                cli->cmd = cli_find_command(argv[cmd_idx]);
                if (!cli->cmd) {
                        cli_error("'%s' is not a pier command. See 'pier help'.", argv[cmd_idx]);
                        return -EINVAL;
                }
        }

        cli->argv = calloc((size_t)argc + 1, sizeof(char *));
        if (!cli->argv) {
                cli_error("out of memory");
                return -ENOMEM;
        }

        for (int i = 1; i < argc; i++) {
                const char *arg = argv[i], *value;
                bool global;
                int idx;

                if (i == cmd_idx)
                        continue;
                if (dashdash || !is_flag(arg)) {
                        cli->argv[cli->argc++] = argv[i];
                        continue;
                }
                if (streq(arg, "--")) {
                        dashdash = true;
                        continue;
                }

                idx = match_option(cli->cmd, arg, &global, &value);
                if (idx < 0)
                        return cli_usage_error(cli, "unknown option '%s'", arg);

                const struct cli_option *o =
                    global ? &global_options[idx] : &cli->cmd->options[idx];
                if (o->has_arg && !value) {
                        if (i + 1 >= argc || i + 1 == cmd_idx)
                                return cli_usage_error(cli, "option '%s' needs a value", arg);
                        value = argv[++i];
                } else if (!o->has_arg)
                        value = "";

                if (global)
                        set_global(cli, (size_t)idx, value);
                else if ((size_t)idx < CLI_OPTIONS_MAX)
                        cli->opt_values[idx] = value;
        }
        return 0;
}

/* Output goes to a pipe or file as often as to a terminal: a write error
 * (disk full, closed pipe) must not go unnoticed. */
static int flush_stdout(void)
{
        if (fflush(stdout) != 0 || ferror(stdout)) {
                if (errno == EPIPE)
                        return -EPIPE;
                cli_error("writing the output failed: %s", strerror(errno ? errno : EIO));
                return -EIO;
        }
        return 0;
}

static int run(struct cli *cli)
{
        int r;

        if (cli->version)
                return cmd_version(cli);
        if (!cli->cmd) {
                /* `pier` alone, or only flags: the command list. */
                cli_print_help(stdout);
                return 0;
        }
        if (cli->help) {
                cli_print_usage(cli->cmd, stdout);
                return 0;
        }
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                cli_error("initializing libcurl failed");
                return -EIO;
        }
        r = cli->cmd->run(cli);
        /* The curl handle goes before libcurl itself. */
        cli_done(cli);
        curl_global_cleanup();
        return r;
}

int main(int argc, char **argv)
{
        struct cli cli = {0};
        int r;

        r = parse_command_line(&cli, argc, argv);
        if (r >= 0)
                r = run(&cli);
        cli_done(&cli);

        if (flush_stdout() < 0)
                r = -EIO;
        return r < 0 ? 1 : cli.exit_status;
}
