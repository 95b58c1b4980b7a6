#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/sandbox.h"
#include "lib/argv.h"
#include "lib/util.h"

/* The host's system directories; on Debian 12 /bin, /sbin and /lib* are
 * symlinks into /usr, which the sandbox must repeat as symlinks. */
static const char *const host_dirs[] = {
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc",
};

void strv_free(char **v)
{
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);

int sandbox_argv(const struct sandbox *sb, const char *const *command, char ***ret)
{
        struct argv a = {0};

        argv_add(&a, sb->bwrap);
        argv_add(&a, "--unshare-pid");
        argv_add(&a, "--unshare-ipc");
        argv_add(&a, "--unshare-uts");
        argv_add(&a, "--die-with-parent");
        argv_add(&a, "--new-session");
        for (size_t i = 0; i < ELEMENTSOF(host_dirs); i++) {
                char target[PATH_MAX];
                struct stat st;
                ssize_t n;

                if (lstat(host_dirs[i], &st) < 0)
                        continue;
                if (S_ISLNK(st.st_mode)) {
                        n = readlink(host_dirs[i], target, sizeof(target) - 1);
                        if (n <= 0)
                                continue;
                        target[n] = '\0';
                        argv_add(&a, "--symlink");
                        argv_add(&a, target);
                        argv_add(&a, host_dirs[i]);
                } else if (S_ISDIR(st.st_mode)) {
                        argv_add(&a, "--ro-bind");
                        argv_add(&a, host_dirs[i]);
                        argv_add(&a, host_dirs[i]);
                }
        }
        argv_add(&a, "--proc");
        argv_add(&a, "/proc");
        argv_add(&a, "--dev");
        argv_add(&a, "/dev");
        /* Privileged bwrap makes its tmpfs root's, mode 0755: the app's
         * uid needs them writable, sticky, as on any host. */
        argv_add(&a, "--perms");
        argv_add(&a, "1777");
        argv_add(&a, "--tmpfs");
        argv_add(&a, "/dev/shm");
        argv_add(&a, "--perms");
        argv_add(&a, "1777");
        argv_add(&a, "--tmpfs");
        argv_add(&a, "/tmp");
        for (size_t i = 0; i < sb->n_mounts; i++) {
                argv_add(&a, sb->mounts[i].writable ? "--bind" : "--ro-bind");
                argv_add(&a, sb->mounts[i].src);
                argv_add(&a, sb->mounts[i].dest);
        }
        argv_add(&a, "--chdir");
        argv_add(&a, sb->chdir ? sb->chdir : "/");
        argv_add(&a, "--clearenv");
        for (size_t i = 0; sb->env && i < sb->env->n; i++) {
                const char *e = sb->env->entries[i], *eq = strchr(e, '=');
                _cleanup_free_ char *name = strndup(e, (size_t)(eq - e));

                if (!name) {
                        a.oom = true;
                        break;
                }
                argv_add(&a, "--setenv");
                argv_add(&a, name);
                argv_add(&a, eq + 1);
        }
        if (sb->drop) {
                argv_add(&a, "--cap-add");
                argv_add(&a, "CAP_SETUID");
                argv_add(&a, "--cap-add");
                argv_add(&a, "CAP_SETGID");
                argv_add(&a, "--cap-add");
                argv_add(&a, "CAP_SETPCAP");
                argv_add(&a, "--");
                argv_add(&a, sb->setpriv);
                argv_addf(&a, "--reuid=%lu", (unsigned long)sb->uid);
                argv_addf(&a, "--regid=%lu", (unsigned long)sb->uid);
                argv_add(&a, "--clear-groups");
                argv_add(&a, "--inh-caps=-all");
                argv_add(&a, "--bounding-set=-all");
                argv_add(&a, "--no-new-privs");
        }
        argv_add(&a, "--");
        for (const char *const *c = command; *c; c++)
                argv_add(&a, *c);

        if (a.oom) {
                strv_free(a.v);
                return -ENOMEM;
        }
        *ret = a.v;
        return 0;
}

int sandbox_spawn(const struct sandbox *sb, const char *const *command, bool merge_stderr,
                  struct proc *ret)
{
        static char *const envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", NULL};
        __attribute__((cleanup(strv_freep))) char **argv = NULL;
        struct proc_spec spec;
        int r;

        r = sandbox_argv(sb, command, &argv);
        if (r < 0)
                return r;
        spec = (struct proc_spec){
            .path = sb->bwrap,
            .argv = argv,
            .envp = envp,
            .cwd_fd = -1,
            .out = PROC_IO_PIPE,
            .err = merge_stderr ? PROC_IO_STDOUT : PROC_IO_PIPE,
        };
        return proc_spawn(&spec, ret);
}
