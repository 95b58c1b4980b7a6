/* Running a command in a bubblewrap sandbox as the app's uid.
 *
 * The sandbox: new pid, ipc and uts namespaces (the network is shared:
 * builds fetch packages), a new session, dies with us; the host's /usr,
 * /bin, /sbin, /lib*, /etc read-only (symlinks stay symlinks), fresh /proc,
 * /dev, /dev/shm and /tmp (mode 1777), plus the caller's mounts; the
 * environment is exactly the given list.  Nothing else of the host is
 * visible: not PIER_HOME, not pierd's state.
 *
 * As root, bwrap runs privileged (it sets up the mounts as root, so the
 * bind sources need not be reachable by the app's uid -- PIER_HOME usually
 * sits under /root, mode 0700) with CAP_SETUID, CAP_SETGID and CAP_SETPCAP
 * only, and the command starts under setpriv(1), which switches to
 * uid = gid = the app's uid with no supplementary groups, clears every
 * capability set including the bounding set and sets no_new_privs before
 * anything of the app runs.  Not as root (tests, development), bwrap runs
 * unprivileged with a user namespace and the command runs as we are.
 *
 * Bind sources must be paths the app cannot redirect: directories made by
 * root whose parents are root's (the app may own the directory itself, not
 * the path to it), since privileged bwrap follows symlinks in them.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "builder/envblock.h"
#include "builder/proc.h"

#define SANDBOX_MAX_MOUNTS 8

struct sandbox_mount {
        const char *src;
        const char *dest;
        bool writable;
};

struct sandbox {
        const char *bwrap;   /* absolute path */
        const char *setpriv; /* absolute path; used when drop is set */
        uid_t uid;
        bool drop; /* we are root: switch to uid inside */
        struct sandbox_mount mounts[SANDBOX_MAX_MOUNTS];
        size_t n_mounts;
        const char *chdir; /* inside; NULL: / */
        const struct env_list *env;
};

/* Builds the argv (malloc'd strings in a NULL-terminated malloc'd array;
 * free with strv_free()) that runs COMMAND (NULL-terminated) in the
 * sandbox. */
int sandbox_argv(const struct sandbox *sb, const char *const *command, char ***ret);

void strv_free(char **v);

/* Starts COMMAND in the sandbox; stdout is a pipe, stderr a pipe too or,
 * when merge_stderr is set, the same pipe as stdout.  See proc.h. */
int sandbox_spawn(const struct sandbox *sb, const char *const *command, bool merge_stderr,
                  struct proc *ret);
