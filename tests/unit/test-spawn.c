/* spawn(): exit codes, exec failures, fd plumbing, environment, pidfd. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/spawn.h"
#include "lib/util.h"
#include "test.h"

static void test_exit_status(void)
{
        const char *argv[] = {"sh", "-c", "exit 3", NULL};
        struct spawn_opts o = {.argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
        int status = -1;
        CHECK(spawn_wait(&o, &status) == 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
}

static void test_exec_failure_is_an_error(void)
{
        const char *argv[] = {"/nonexistent/program", NULL};
        struct spawn_opts o = {.argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
        pid_t pid = 0;
        CHECK(spawn(&o, &pid, NULL) == -ENOENT);
        CHECK(pid == 0);
        const char *argv2[] = {"true", NULL};
        struct spawn_opts o2 = {.argv = argv2, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1,
                                .cwd = "/nonexistent-dir"};
        CHECK(spawn(&o2, &pid, NULL) == -ENOENT);
        struct spawn_opts o3 = {.argv = NULL};
        CHECK(spawn(&o3, &pid, NULL) == -EINVAL);
}

static void test_fds_env_cwd(void)
{
        int in[2], out[2];
        CHECK(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0);
        CHECK(write(in[1], "abc", 3) == 3);
        close(in[1]);
        const char *argv[] = {"sh", "-c", "read x; echo \"$x $FOO $(pwd)\"; echo err >&2", NULL};
        const char *envp[] = {"FOO=bar baz", "PATH=/usr/bin:/bin", NULL};
        /* stdout and stderr to the same pipe */
        struct spawn_opts o = {.argv = argv, .envp = envp, .stdin_fd = in[0], .stdout_fd = out[1],
                               .stderr_fd = out[1], .cwd = "/tmp"};
        int status = -1;
        CHECK(spawn_wait(&o, &status) == 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(out[1]);
        char buf[128] = "";
        ssize_t n = read(out[0], buf, sizeof(buf) - 1);
        CHECK(n > 0);
        buf[n > 0 ? n : 0] = '\0';
        CHECK_STREQ(buf, "abc bar baz /tmp\nerr\n");
        close(in[0]);
        close(out[0]);
}

static void test_pidfd_and_signals_reset(void)
{
        /* A blocked signal in the parent must not stay blocked in the child. */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigprocmask(SIG_BLOCK, &set, NULL);
        const char *argv[] = {"sleep", "30", NULL};
        struct spawn_opts o = {.argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1,
                               .new_session = true};
        pid_t pid = 0;
        int pidfd = -1;
        CHECK(spawn(&o, &pid, &pidfd) == 0);
        CHECK(pid > 0 && pidfd >= 0);
        CHECK(getsid(pid) == pid);
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        CHECK(poll(&p, 1, 50) == 0); /* still running */
        CHECK(kill(pid, SIGTERM) == 0);
        CHECK(poll(&p, 1, 5000) == 1);
        int status = 0;
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
        close(pidfd);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
}

int main(void)
{
        RUN(test_exit_status);
        RUN(test_exec_failure_is_an_error);
        RUN(test_fds_env_cwd);
        RUN(test_pidfd_and_signals_reset);
        return test_done();
}
