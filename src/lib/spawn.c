/* See spawn.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/spawn.h"
#include "lib/util.h"

extern char **environ;

/* In the child: make fd land on target, even when fd is one of 0..2. */
static int move_fd(int fd, int target)
{
        if (fd == target)
                return fcntl(fd, F_SETFD, 0); /* keep it across exec */
        return dup2(fd, target) < 0 ? -1 : 0;
}

static void child_fail(int errfd, int err)
{
        /* Best effort: the parent treats a short read as success only when
         * it reads nothing at all. */
        ssize_t n = write(errfd, &err, sizeof(err));
        (void)n;
        _exit(127);
}

static void child(const struct spawn_opts *o, int errfd, int nullfd)
{
        sigset_t all;
        sigemptyset(&all);
        if (sigprocmask(SIG_SETMASK, &all, NULL) < 0)
                child_fail(errfd, errno);
        for (int sig = 1; sig < NSIG; sig++) {
                if (sig == SIGKILL || sig == SIGSTOP)
                        continue;
                struct sigaction sa = {.sa_handler = SIG_DFL};
                (void)sigaction(sig, &sa, NULL);
        }

        int fds[3] = {o->stdin_fd, o->stdout_fd, o->stderr_fd};
        /* dup2 in two steps so that e.g. stdout_fd == 0 is not clobbered
         * before it is moved: first lift them all above 2. */
        for (int i = 0; i < 3; i++) {
                int fd = fds[i] >= 0 ? fds[i] : nullfd;
                int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (high < 0)
                        child_fail(errfd, errno);
                fds[i] = high;
        }
        for (int i = 0; i < 3; i++)
                if (move_fd(fds[i], i) < 0)
                        child_fail(errfd, errno);

        if (o->new_session && setsid() < 0)
                child_fail(errfd, errno);
        if (o->cwd && chdir(o->cwd) < 0)
                child_fail(errfd, errno);

        char *const *envp = o->envp ? (char *const *)o->envp : environ;
        execvpe(o->argv[0], (char *const *)o->argv, envp);
        child_fail(errfd, errno);
}

int spawn(const struct spawn_opts *o, pid_t *ret_pid, int *ret_pidfd)
{
        if (!o->argv || !o->argv[0])
                return -EINVAL;

        _cleanup_close_ int nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (nullfd < 0)
                return -errno;
        int errpipe[2];
        if (pipe2(errpipe, O_CLOEXEC) < 0)
                return -errno;

        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(errpipe[0]);
                close(errpipe[1]);
                return r;
        }
        if (pid == 0) {
                close(errpipe[0]);
                child(o, errpipe[1], nullfd);
        }

        close(errpipe[1]);
        int err = 0;
        ssize_t n;
        do
                n = read(errpipe[0], &err, sizeof(err));
        while (n < 0 && errno == EINTR);
        close(errpipe[0]);
        if (n > 0) {
                /* The child failed before or at exec and has exited. */
                (void)waitpid(pid, NULL, 0);
                return err > 0 ? -err : -EIO;
        }

        if (ret_pidfd) {
                int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
                if (pidfd < 0) {
                        int r = -errno;
                        kill(pid, SIGKILL);
                        (void)waitpid(pid, NULL, 0);
                        return r;
                }
                /* pidfd_open() fds are close-on-exec already. */
                *ret_pidfd = pidfd;
        }
        *ret_pid = pid;
        return 0;
}

int spawn_wait(const struct spawn_opts *o, int *ret_status)
{
        pid_t pid;
        int r = spawn(o, &pid, NULL);
        if (r < 0)
                return r;
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (ret_status)
                *ret_status = status;
        return 0;
}
