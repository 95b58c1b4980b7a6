#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/sandbox.h"
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

struct argv {
        char **v;
        size_t n, alloc;
        bool oom;
};

static void add(struct argv *a, const char *s)
{
        char *copy;

        if (a->oom)
                return;
        if (a->n + 2 > a->alloc) {
                size_t alloc = a->alloc ? a->alloc * 2 : 64;
                char **grown = reallocarray(a->v, alloc, sizeof(char *));

                if (!grown) {
                        a->oom = true;
                        return;
                }
                a->v = grown;
                a->alloc = alloc;
        }
        copy = strdup(s);
        if (!copy) {
                a->oom = true;
                return;
        }
        a->v[a->n++] = copy;
        a->v[a->n] = NULL;
}

/* Adds "PREFIX<v>", e.g. "--reuid=1000". */
static void add_num(struct argv *a, const char *prefix, unsigned long v)
{
        char buf[64];

        (void)snprintf(buf, sizeof(buf), "%s%lu", prefix, v);
        add(a, buf);
}

int sandbox_argv(const struct sandbox *sb, const char *const *command, char ***ret)
{
        struct argv a = {0};

        add(&a, sb->bwrap);
        add(&a, "--unshare-pid");
        add(&a, "--unshare-ipc");
        add(&a, "--unshare-uts");
        add(&a, "--die-with-parent");
        add(&a, "--new-session");
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
                        add(&a, "--symlink");
                        add(&a, target);
                        add(&a, host_dirs[i]);
                } else if (S_ISDIR(st.st_mode)) {
                        add(&a, "--ro-bind");
                        add(&a, host_dirs[i]);
                        add(&a, host_dirs[i]);
                }
        }
        add(&a, "--proc");
        add(&a, "/proc");
        add(&a, "--dev");
        add(&a, "/dev");
        /* Privileged bwrap makes its tmpfs root's, mode 0755: the app's
         * uid needs them writable, sticky, as on any host. */
        add(&a, "--perms");
        add(&a, "1777");
        add(&a, "--tmpfs");
        add(&a, "/dev/shm");
        add(&a, "--perms");
        add(&a, "1777");
        add(&a, "--tmpfs");
        add(&a, "/tmp");
        for (size_t i = 0; i < sb->n_mounts; i++) {
                add(&a, sb->mounts[i].writable ? "--bind" : "--ro-bind");
                add(&a, sb->mounts[i].src);
                add(&a, sb->mounts[i].dest);
        }
        add(&a, "--chdir");
        add(&a, sb->chdir ? sb->chdir : "/");
        add(&a, "--clearenv");
        for (size_t i = 0; sb->env && i < sb->env->n; i++) {
                const char *e = sb->env->entries[i], *eq = strchr(e, '=');
                _cleanup_free_ char *name = strndup(e, (size_t)(eq - e));

                if (!name) {
                        a.oom = true;
                        break;
                }
                add(&a, "--setenv");
                add(&a, name);
                add(&a, eq + 1);
        }
        if (sb->drop) {
                add(&a, "--cap-add");
                add(&a, "CAP_SETUID");
                add(&a, "--cap-add");
                add(&a, "CAP_SETGID");
                add(&a, "--cap-add");
                add(&a, "CAP_SETPCAP");
                add(&a, "--");
                add(&a, sb->setpriv);
                add_num(&a, "--reuid=", (unsigned long)sb->uid);
                add_num(&a, "--regid=", (unsigned long)sb->uid);
                add(&a, "--clear-groups");
                add(&a, "--inh-caps=-all");
                add(&a, "--bounding-set=-all");
                add(&a, "--no-new-privs");
        }
        add(&a, "--");
        for (const char *const *c = command; *c; c++)
                add(&a, *c);

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
