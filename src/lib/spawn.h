/* Starting child processes the careful way (git's run-command.c, skalibs'
 * cspawn): fork, then in the child only async-signal-safe calls — reset the
 * signal mask and dispositions, move the given fds to 0/1/2, chdir, maybe
 * setsid, exec — and an exec failure reported back through a close-on-exec
 * pipe, so spawn() returns -errno instead of a child that exits 127.
 *
 * The fds in spawn_opts stay owned by the caller (spawn() only dup2()s them
 * in the child); -1 means /dev/null.  argv and envp are NULL-terminated;
 * envp NULL means the caller's environment.  argv[0] is looked up in PATH
 * when it has no '/'.  On success *ret_pid is the child's pid and, when
 * ret_pidfd is not NULL, *ret_pidfd a pidfd for it (O_CLOEXEC; readable
 * when the child exits; the caller closes it and reaps the child).
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct spawn_opts {
        const char *const *argv;
        const char *const *envp;
        int stdin_fd, stdout_fd, stderr_fd;
        const char *cwd;
        bool new_session;
};

int spawn(const struct spawn_opts *o, pid_t *ret_pid, int *ret_pidfd);

/* spawn() and wait for the child; *ret_status is the waitpid() status. */
int spawn_wait(const struct spawn_opts *o, int *ret_status);
