/* The `pier` git remote of the repository in the current directory, and
 * the credential settings that let git push to it without a prompt.
 *
 * git runs as a child with an argv array (posix_spawnp, never a shell):
 * stdin from /dev/null, signal mask and handlers reset.  Probes (is this a
 * work tree? what is the remote's URL?) capture stdout and silence stderr;
 * changes let git's stderr through so that the user sees why one failed. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/names.h"
#include "lib/strbuf.h"
#include "lib/util.h"

extern char **environ;

/* `git config --get` prints one URL, --get-regexp the URLs of all remotes:
 * anything longer is not that. */
#define GIT_OUTPUT_MAX (64u * 1024)

/* `git config` exits 5 when asked to unset a key that is not there. */
#define GIT_CONFIG_NO_SUCH_KEY 5

enum {
        GIT_QUIET = 1 << 0,   /* stderr to /dev/null */
        GIT_CAPTURE = 1 << 1, /* stdout into *ret_out */
};

/* Runs git with ARGV (argv[0] is "git").  Returns 0 with the exit status in
 * *ret_status (-1 when killed by a signal), and with GIT_CAPTURE the
 * output in *ret_out; or a negative errno when git could not run (-ENOENT:
 * no git installed). */
static int git_run(const char *const *argv, unsigned flags, char **ret_out, int *ret_status)
{
        posix_spawn_file_actions_t actions;
        posix_spawnattr_t attr;
        sigset_t none, all;
        int pipefd[2] = {-EBADF, -EBADF};
        struct strbuf out = STRBUF_INIT;
        bool too_long = false;
        int r, status;
        pid_t pid;

        if ((flags & GIT_CAPTURE) && pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;

        r = posix_spawn_file_actions_init(&actions);
        if (r != 0)
                goto fail_pipe;
        r = posix_spawnattr_init(&attr);
        if (r != 0) {
                posix_spawn_file_actions_destroy(&actions);
                goto fail_pipe;
        }

        r = posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        if (r == 0 && (flags & GIT_CAPTURE))
                /* dup2() leaves the copy without O_CLOEXEC: git inherits
                 * exactly stdout, the pipe's own fds close on exec. */
                r = posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDOUT_FILENO);
        if (r == 0 && (flags & GIT_QUIET))
                r = posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY,
                                                     0);
        sigemptyset(&none);
        sigfillset(&all);
        if (r == 0)
                r = posix_spawnattr_setsigmask(&attr, &none);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(&attr, &all);
        if (r == 0)
                r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        /* glibc's posix_spawnp reports a failed exec (git missing) as its
         * return value, so no extra error pipe is needed. */
        if (r == 0)
                r = posix_spawnp(&pid, "git", &actions, &attr, (char *const *)argv, environ);
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
        if (r != 0)
                goto fail_pipe;

        if (flags & GIT_CAPTURE) {
                char buf[4096];

                close(pipefd[1]);
                pipefd[1] = -EBADF;
                for (;;) {
                        ssize_t n = read(pipefd[0], buf, sizeof(buf));

                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                break;
                        /* Keep reading past the limit so that git does not
                         * block on a full pipe. */
                        if (too_long || out.len + (size_t)n > GIT_OUTPUT_MAX) {
                                too_long = true;
                                continue;
                        }
                        if (strbuf_add(&out, buf, (size_t)n) < 0)
                                too_long = true;
                }
                close(pipefd[0]);
                pipefd[0] = -EBADF;
        }

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        strbuf_release(&out);
                        return -errno;
                }

        if (flags & GIT_CAPTURE) {
                if (too_long) {
                        strbuf_release(&out);
                        return -EFBIG;
                }
                *ret_out = strbuf_detach(&out, NULL);
                if (!*ret_out)
                        return -ENOMEM;
        }
        *ret_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        return 0;

fail_pipe:
        if (pipefd[0] >= 0)
                close(pipefd[0]);
        if (pipefd[1] >= 0)
                close(pipefd[1]);
        return -r;
}

bool git_in_work_tree(void)
{
        static const char *const argv[] = {"git", "rev-parse", "--is-inside-work-tree", NULL};
        _cleanup_free_ char *out = NULL;
        int status;

        if (git_run(argv, GIT_QUIET | GIT_CAPTURE, &out, &status) < 0)
                return false;
        return status == 0 && streq(out, "true\n");
}

int git_remote_url(const char *remote, char **ret_url)
{
        _cleanup_free_ char *key = NULL, *out = NULL;
        struct strbuf sb = STRBUF_INIT;
        size_t len;
        int r, status;

        /* Outside a repository `git config --get` would read the user's
         * global config, which names no app. */
        if (!git_in_work_tree())
                return -ENOENT;

        r = strbuf_addf(&sb, "remote.%s.url", remote);
        if (r < 0)
                return r;
        key = strbuf_detach(&sb, NULL);
        if (!key)
                return -ENOMEM;

        const char *const argv[] = {"git", "config", "--get", key, NULL};
        r = git_run(argv, GIT_QUIET | GIT_CAPTURE, &out, &status);
        if (r < 0)
                return r;
        if (status != 0)
                return -ENOENT;
        len = strlen(out);
        while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r'))
                out[--len] = '\0';
        if (len == 0)
                return -ENOENT;
        *ret_url = TAKE_PTR(out);
        return 0;
}

static int git_change(const char *const *argv)
{
        int r, status;

        r = git_run(argv, 0, NULL, &status);
        if (r < 0) {
                cli_error("running git: %s", strerror(-r));
                return r;
        }
        if (status != 0) {
                cli_error("`git %s %s %s` failed", argv[1], argv[2], argv[3]);
                return -EIO;
        }
        return 0;
}

int git_remote_set(const char *remote, const char *url)
{
        _cleanup_free_ char *old = NULL;

        if (git_remote_url(remote, &old) >= 0) {
                const char *const argv[] = {"git", "remote", "set-url", remote, url, NULL};
                return git_change(argv);
        }
        const char *const argv[] = {"git", "remote", "add", remote, url, NULL};
        return git_change(argv);
}

int git_remote_remove(const char *remote)
{
        const char *const argv[] = {"git", "remote", "remove", remote, NULL};

        return git_change(argv);
}

int git_url_app_name(const char *url, char **ret_name)
{
        size_t len = strlen(url), start;
        char *name;

        while (len > 0 && url[len - 1] == '/')
                len--;
        if (len < 4 || !strneq(url + len - 4, ".git", 4))
                return -EINVAL;
        len -= 4;
        start = len;
        /* "http://host/NAME.git", or scp-like "host:NAME.git". */
        while (start > 0 && url[start - 1] != '/' && url[start - 1] != ':')
                start--;
        name = strndup(url + start, len - start);
        if (!name)
                return -ENOMEM;
        if (!app_name_valid(name)) {
                free(name);
                return -EINVAL;
        }
        *ret_name = name;
        return 0;
}

/* Runs ARGV, a `git config --local` command that changes KEY.  With
 * ret_status, git's exit status is the caller's to judge (and git's
 * stderr is silenced); without, any status but 0 is reported as a
 * failure. */
static int git_config_change(const char *key, const char *const *argv, int *ret_status)
{
        int r, status;

        r = git_run(argv, ret_status ? GIT_QUIET : 0, NULL, &status);
        if (r < 0) {
                cli_error("running git: %s", strerror(-r));
                return r;
        }
        if (ret_status) {
                *ret_status = status;
                return 0;
        }
        if (status != 0) {
                cli_error("changing %s in this repository's git config failed", key);
                return -EIO;
        }
        return 0;
}

static int credential_key(const char *api_url, const char *name, char **ret)
{
        struct strbuf sb = STRBUF_INIT;

        /* git splits "credential.http://h:5000.helper" at its first and
         * last dot: the URL in the middle may hold dots of its own. */
        if (strbuf_addf(&sb, "credential.%s.%s", api_url, name) < 0 ||
            !(*ret = strbuf_detach(&sb, NULL))) {
                strbuf_release(&sb);
                cli_error("out of memory");
                return -ENOMEM;
        }
        return 0;
}

/* "!'/usr/local/bin/pier' git-credential": git runs a helper that starts
 * with '!' with the shell, so the path is single-quoted for sh (a ' in it
 * becomes '\''). */
static int credential_helper_command(char **ret)
{
        char path[PATH_MAX];
        struct strbuf sb = STRBUF_INIT;
        ssize_t n;
        int r;

        /* The running binary, wherever $PATH found it: the helper must be
         * this pier, talking to the pierd this pier talks to. */
        n = readlink("/proc/self/exe", path, sizeof(path));
        if (n < 0 || (size_t)n >= sizeof(path)) {
                r = n < 0 ? -errno : -ENAMETOOLONG;
                cli_error("finding the path of the pier binary in /proc/self/exe: %s",
                          strerror(-r));
                return r;
        }
        path[n] = '\0';

        r = strbuf_addstr(&sb, "!'");
        for (const char *p = path; r >= 0 && *p; p++)
                r = *p == '\'' ? strbuf_addstr(&sb, "'\\''") : strbuf_addch(&sb, *p);
        if (r >= 0)
                r = strbuf_addstr(&sb, "' git-credential");
        if (r < 0 || !(*ret = strbuf_detach(&sb, NULL))) {
                strbuf_release(&sb);
                cli_error("out of memory");
                return -ENOMEM;
        }
        return 0;
}

static int credential_setup(const char *api_url)
{
        _cleanup_free_ char *helper_key = NULL, *user_key = NULL, *helper = NULL;
        int r;

        r = credential_key(api_url, "helper", &helper_key);
        if (r >= 0)
                r = credential_key(api_url, "username", &user_key);
        if (r >= 0)
                r = credential_helper_command(&helper);
        if (r < 0)
                return r;

        /* An empty helper empties the list that git has collected so far
         * (from the system and global config) for this URL; ours follows.
         * --replace-all makes running this again give the same two
         * lines. */
        const char *const reset[] = {"git",      "config", "--local", "--replace-all",
                                     helper_key, "",       NULL};
        const char *const add[] = {"git", "config", "--local", "--add", helper_key, helper, NULL};
        const char *const user[] = {
            "git", "config", "--local", "--replace-all", user_key, GIT_CREDENTIAL_USER, NULL};
        r = git_config_change(helper_key, reset, NULL);
        if (r >= 0)
                r = git_config_change(helper_key, add, NULL);
        if (r >= 0)
                r = git_config_change(user_key, user, NULL);
        return r;
}

static int credential_remove(const char *api_url)
{
        static const char *const names[] = {"helper", "username"};
        int r, status;

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ char *key = NULL;

                r = credential_key(api_url, names[i], &key);
                if (r < 0)
                        return r;
                const char *const argv[] = {"git", "config", "--local", "--unset-all", key, NULL};
                r = git_config_change(key, argv, &status);
                if (r < 0)
                        return r;
                if (status != 0 && status != GIT_CONFIG_NO_SUCH_KEY) {
                        cli_error("removing %s from this repository's git config failed", key);
                        return -EIO;
                }
        }
        return 0;
}

/* Whether any remote of this repository has a URL at API_URL. */
static bool any_remote_at(const char *api_url)
{
        static const char *const argv[] = {
            "git", "config", "--local", "--get-regexp", "^remote\\..*\\.url$", NULL};
        _cleanup_free_ char *out = NULL;
        char *line, *next;
        int status;

        if (git_run(argv, GIT_QUIET | GIT_CAPTURE, &out, &status) < 0 || status != 0)
                return false;
        /* "remote.NAME.url URL" lines. */
        for (line = out; *line; line = next) {
                char *space;

                next = strchrnul(line, '\n');
                if (*next)
                        *next++ = '\0';
                space = strchr(line, ' ');
                if (space && url_same_origin(space + 1, api_url))
                        return true;
        }
        return false;
}

int git_remote_connect(const char *remote, const char *url, const char *api_url)
{
        int r;

        r = git_remote_set(remote, url);
        if (r < 0)
                return r;
        /* pierd names its public address in git URLs (--public-url); the
         * helper hands the token only to the API's own address. */
        if (!url_same_origin(url, api_url))
                cli_error("warning: %s is not at the API's address %s, so git will ask for a "
                          "password there: give it an API token",
                          url, api_url);
        return credential_setup(api_url);
}

int git_remote_disconnect(const char *remote, const char *api_url)
{
        int r;

        r = git_remote_remove(remote);
        if (r < 0)
                return r;
        if (any_remote_at(api_url))
                return 0;
        return credential_remove(api_url);
}
