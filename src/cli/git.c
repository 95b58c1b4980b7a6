/* The `pier` git remote of the repository in the current directory.
 *
 * git runs as a child with an argv array (posix_spawnp, never a shell):
 * stdin from /dev/null, signal mask and handlers reset.  Probes (is this a
 * work tree? what is the remote's URL?) capture stdout and silence stderr;
 * changes let git's stderr through so that the user sees why one failed. */

#include <errno.h>
#include <fcntl.h>
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

/* `git config --get` prints one URL: anything longer is not one. */
#define GIT_OUTPUT_MAX (64u * 1024)

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
