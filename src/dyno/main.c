/* pier-dyno: starts one dyno.  pierd runs
 *
 *     pier-dyno --slug DIR --name web.1 --app-uid N --cgroup pier/APPID/web.1
 *               --memory BYTES --pids N --env-file FILE -- COMMAND
 *
 * with stdout and stderr on the pipe it reads, and this process becomes
 * (exec) the outer bwrap, so pierd's child is the dyno and its exit status
 * is the app's.  As root, the normal case:
 *
 *  1. the cgroup NAME is created with the hard memory limit at 2 x --memory
 *     (SPEC §4: R15 at 2x kills) and pids.max, and we join it: everything
 *     the dyno starts stays in it;
 *  2. in a private mount namespace of our own: a tmpfs on /run/pier-dyno,
 *     the slug bound read-only at lower/, and an overlayfs (lower + upper/
 *     owned by the app's uid) at merged/: a writable, throw-away /app over
 *     the shared read-only slug.  (Debian 12's bwrap 0.8 has no overlay
 *     options.)  Where overlayfs fails, the slug is copied into the tmpfs
 *     instead.  These mounts exist only in that namespace, so they vanish
 *     with the dyno's last process, kill -9 included: nothing leaks onto the
 *     host, and /run/pier-dyno stays an empty directory there;
 *  3. exec bwrap: new pid, ipc, uts (and cgroup) namespaces, the host's
 *     network; the host's /usr, /etc (and /bin, /lib*, /sbin: symlinks into
 *     /usr where the host has them) read-only; fresh /proc and /dev; private
 *     /tmp and /dev/shm; merged/ at /app; nothing else of the host (not
 *     PIER_HOME, not other apps, not /root, /home, /var, /srv, /run);
 *     exactly the env file's environment plus HOME=/app, DYNO and a default
 *     PATH; then setpriv switches to uid = gid = the app's uid with no
 *     groups, no capabilities (bounding set included) and no_new_privs, and
 *     /bin/sh sources the .sh files in /app/.profile.d and execs
 *     bash -c COMMAND (see PROFILE_WRAPPER for why bash).
 *
 * With --unisolated (pierd says so when bwrap or root is missing): a plain
 * process in its own session in the slug dir, with the same environment
 * (HOME is the slug dir there) and the same .profile.d wrapper; no
 * cgroups, no namespaces, no uid switch.
 *
 * Attached one-offs (`pier run`): with --attach, stdin, stdout and stderr
 * are pierd's (pipes it splices to the client) and go to the app as they
 * are, without the output relay: a dyno whose client went away is stopped
 * anyway.  With --tty they are a pty slave: bwrap then runs without
 * --new-session (which would leave the app without a controlling
 * terminal: no ^C, no job control) and `setsid --ctty` makes the pty the
 * controlling terminal of the app's own session inside the sandbox.  The
 * session bwrap would have made protects a terminal the sandbox shares
 * with its caller (TIOCSTI); here pierd's spawn already made a new session
 * with no terminal, and the pty is the dyno's own.
 *
 * Set-up errors: one line on stderr ("pier-dyno: ...") and exit 127, which
 * pierd reports as the dyno's crash.  The lines are plain, without log.h's
 * timestamp and level, since pierd shows them as the dyno's own output.
 *
 * How pierd stops a dyno (dyno/cgroup.h; tests/e2e/test_dyno_sandbox.py):
 *
 *   1. dyno_cgroup_signal(NAME, SIGTERM, true, &n): SIGTERM to every
 *      process in the cgroup except those whose comm is "bwrap" or
 *      "pier-dyno" (the relay ignores it; n == 0 means the app has not
 *      started yet, and pierd sends SIGKILL at once instead).  The
 *      sandbox's pid 1 is bwrap's reaper, which ignores SIGTERM from outside
 *      its pid namespace anyway, and the outer bwrap (pierd's child) must
 *      live on to pass the app's exit status on: when the app exits, pid 1
 *      exits with its status, the kernel kills whatever else is left in the
 *      pid namespace, and the outer bwrap exits with the same status (128 +
 *      N when the app died of signal N).
 *   2. After the grace period (SPEC: 30 s, R12), dyno_cgroup_signal(NAME,
 *      SIGKILL, false, &n): everything, bwrap included; pierd sees its child
 *      killed by SIGKILL.
 *   3. Once its child is reaped, dyno_cgroup_remove(NAME).
 *
 * R14: dyno_cgroup_memory(NAME, &usage, &limit, &oom_killed) -- usage over
 * the quota (limit / 2) is R14.  R15 is the kernel's OOM kill at the hard
 * limit; oom_killed turns true, and pierd should then SIGKILL the rest of
 * the dyno (on v1 the kernel kills only the largest process; on v2
 * memory.oom.group makes it kill them all).  After a restart, pierd finds
 * orphaned dynos with dyno_cgroup_list("pier/APPID") (and "pier" for apps).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dyno/cgroup.h"
#include "dyno/envfile.h"
#include "lib/spawn.h"
#include "lib/strbuf.h"
#include "lib/argv.h"
#include "lib/util.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* pierd logs this as the crash reason; it is also what a shell returns for
 * "command not found", so it reads naturally in `pier ps`. */
#define EXIT_SETUP 127

/* The host directory our private tmpfs is mounted on.  The directory
 * itself is shared by all dynos and stays empty on the host. */
#define SCRATCH "/run/pier-dyno"

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* Sources .profile.d after the config vars are in the environment (SPEC
 * §2), then runs the Procfile command through a shell, by exec: $0 is the
 * command, $1 the app dir (read before any profile script could `set --`).
 *
 * The shell is bash where there is one (Debian: always), as on Heroku:
 * bash -c execs the last command of the string, so the app itself is the
 * sandbox's main process.  dash does not: it would stay as the app's
 * parent, die at once of pierd's SIGTERM, and bwrap's reaper, seeing its
 * child gone, would end the pid namespace -- SIGKILLing the app in the
 * middle of its graceful shutdown. */
#define PROFILE_WRAPPER(shell)                                                                     \
        "__pier_d=$1; shift; "                                                                     \
        "for __pier_f in \"$__pier_d\"/.profile.d/*.sh; do "                                       \
        "[ -r \"$__pier_f\" ] && . \"$__pier_f\"; "                                                \
        "done; "                                                                                   \
        "unset __pier_d __pier_f; "                                                                \
        "exec " shell " -c \"$0\""

static const char *profile_wrapper(void)
{
        return access("/bin/bash", X_OK) == 0 ? PROFILE_WRAPPER("/bin/bash")
                                              : PROFILE_WRAPPER("/bin/sh");
}

/* Host directories of the stack.  On Debian 12 /bin, /sbin and /lib* are
 * symlinks into /usr, which the sandbox repeats as symlinks. */
static const char *const stack_dirs[] = {
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc",
};

/* Files in /etc that may point outside /etc and /usr (resolv.conf into
 * /run on systemd-resolved hosts): their target is bound as well. */
static const char *const etc_links[] = {"/etc/resolv.conf", "/etc/hosts", "/etc/localtime"};

static const char *const setpriv_paths[] = {"/usr/bin/setpriv", "/bin/setpriv"};
static const char *const setsid_paths[] = {"/usr/bin/setsid", "/bin/setsid"};

struct options {
        const char *slug;
        const char *name;
        const char *cgroup;
        const char *env_file;
        const char *command;
        uint64_t memory; /* the quota; the hard limit is twice that */
        uint64_t pids;
        uid_t uid;
        bool have_uid;
        bool unisolated;
        bool attach; /* stdio as given: no output relay */
        bool tty;    /* stdin is a pty: it becomes the controlling terminal */
};

static int fail(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int r, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        (void)vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (r != 0)
                fprintf(stderr, "pier-dyno: %s: %s\n", msg, strerror(r < 0 ? -r : r));
        else
                fprintf(stderr, "pier-dyno: %s\n", msg);
        return EXIT_SETUP;
}

static void usage(FILE *f)
{
        fputs("usage: pier-dyno --slug DIR --name DYNO [--app-uid N] [--cgroup NAME]\n"
              "                 [--memory BYTES] [--pids N] [--env-file FILE] [--unisolated]\n"
              "                 [--attach] [--tty] -- COMMAND\n",
              f);
}

static int parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
        int64_t v;
        int r = safe_atoi64(s, &v);

        if (r < 0)
                return r;
        if (v <= 0 || (uint64_t)v > max)
                return -ERANGE;
        *ret = (uint64_t)v;
        return 0;
}

/* A dyno name is also the sandbox's hostname: web.1, run.4821. */
static bool dyno_name_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > 63)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];

                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-'))
                        return false;
        }
        return true;
}

/* 0, or the exit status to return (usage errors included). */
static int parse_args(int argc, char **argv, struct options *o)
{
        enum {
                OPT_SLUG = 256,
                OPT_NAME,
                OPT_UID,
                OPT_CGROUP,
                OPT_MEMORY,
                OPT_PIDS,
                OPT_ENV,
                OPT_UNISOLATED,
                OPT_ATTACH,
                OPT_TTY
        };
        static const struct option longopts[] = {
            {"slug", required_argument, NULL, OPT_SLUG},
            {"name", required_argument, NULL, OPT_NAME},
            {"app-uid", required_argument, NULL, OPT_UID},
            {"cgroup", required_argument, NULL, OPT_CGROUP},
            {"memory", required_argument, NULL, OPT_MEMORY},
            {"pids", required_argument, NULL, OPT_PIDS},
            {"env-file", required_argument, NULL, OPT_ENV},
            {"unisolated", no_argument, NULL, OPT_UNISOLATED},
            {"attach", no_argument, NULL, OPT_ATTACH},
            {"tty", no_argument, NULL, OPT_TTY},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        uint64_t v;
        int c;

        while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
                switch (c) {
                case OPT_SLUG:
                        o->slug = optarg;
                        break;
                case OPT_NAME:
                        o->name = optarg;
                        break;
                case OPT_UID:
                        if (parse_u64(optarg, 0x7fffffff, &v) < 0)
                                return fail(0, "--app-uid: not a uid above 0: %s", optarg);
                        o->uid = (uid_t)v;
                        o->have_uid = true;
                        break;
                case OPT_CGROUP:
                        if (!dyno_cgroup_name_valid(optarg))
                                return fail(0, "--cgroup: not a cgroup name: %s", optarg);
                        o->cgroup = optarg;
                        break;
                case OPT_MEMORY:
                        /* Twice this must still fit. */
                        if (parse_u64(optarg, UINT64_MAX / 4, &o->memory) < 0)
                                return fail(0, "--memory: not a byte count: %s", optarg);
                        break;
                case OPT_PIDS:
                        if (parse_u64(optarg, 4194304, &o->pids) < 0)
                                return fail(0, "--pids: not a process count: %s", optarg);
                        break;
                case OPT_ENV:
                        o->env_file = optarg;
                        break;
                case OPT_UNISOLATED:
                        o->unisolated = true;
                        break;
                case OPT_ATTACH:
                        o->attach = true;
                        break;
                case OPT_TTY:
                        o->attach = o->tty = true;
                        break;
                case 'h':
                        usage(stdout);
                        exit(EXIT_SUCCESS);
                default:
                        usage(stderr);
                        return EXIT_SETUP;
                }
        }
        if (argc - optind != 1) {
                usage(stderr);
                return fail(0, "expected exactly one COMMAND after the options");
        }
        o->command = argv[optind];
        if (!o->slug || !o->name) {
                usage(stderr);
                return fail(0, "--slug and --name are required");
        }
        if (!dyno_name_valid(o->name))
                return fail(0, "--name: not a dyno name: %s", o->name);
        if (!o->cgroup && (o->memory || o->pids))
                return fail(0, "--memory and --pids need --cgroup");
        if (o->tty && !isatty(STDIN_FILENO))
                return fail(0, "--tty: stdin is not a terminal");
        return 0;
}

static int read_env_file(const char *path, struct dyno_env **ret)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        struct stat st;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if (st.st_size > DYNO_ENV_MAX_SIZE)
                return -E2BIG;
        buf = malloc((size_t)st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (len < (size_t)st.st_size) {
                ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        return dyno_env_parse(buf, len, ret);
}

/* The dyno's environment: the env file's pairs, then DYNO (unless given),
 * HOME (always APP_DIR, as on Heroku) and PATH (unless given). */
static int build_env(const struct options *o, const char *app_dir, struct dyno_env **ret)
{
        _cleanup_(dyno_env_freep) struct dyno_env *env = NULL;
        int r;

        if (o->env_file) {
                r = read_env_file(o->env_file, &env);
                if (r < 0)
                        return fail(r, "reading --env-file %s", o->env_file);
        } else {
                r = dyno_env_parse("", 0, &env);
                if (r < 0)
                        return fail(r, "allocating the environment");
        }
        if (!dyno_env_get(env, "DYNO"))
                r = dyno_env_set(env, "DYNO", o->name);
        if (r >= 0)
                r = dyno_env_set(env, "HOME", app_dir);
        if (r >= 0 && !dyno_env_get(env, "PATH"))
                r = dyno_env_set(env, "PATH", DEFAULT_PATH);
        if (r < 0)
                return fail(r, "setting up the environment");
        *ret = TAKE_PTR(env);
        return 0;
}

/* Looks NAME up in our PATH (pierd's), then in the usual places.  bwrap
 * runs on the host, so any of them will do. */
static int find_program(const char *name, char ret[static PATH_MAX])
{
        const char *path = getenv("PATH");
        struct strbuf dirs = STRBUF_INIT;
        char *save = NULL;
        int r;

        r = strbuf_addf(&dirs, "%s:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                        path ? path : "");
        if (r < 0)
                return r;
        r = -ENOENT;
        for (char *d = strtok_r(dirs.buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                int n = snprintf(ret, PATH_MAX, "%s/%s", d, name);

                if (d[0] == '/' && n > 0 && n < PATH_MAX && access(ret, X_OK) == 0) {
                        r = 0;
                        break;
                }
        }
        strbuf_release(&dirs);
        return r;
}

static void add_stack(struct argv *a)
{
        for (size_t i = 0; i < ELEMENTSOF(stack_dirs); i++) {
                char target[PATH_MAX];
                struct stat st;
                ssize_t n;

                if (lstat(stack_dirs[i], &st) < 0)
                        continue;
                if (S_ISLNK(st.st_mode)) {
                        n = readlink(stack_dirs[i], target, sizeof(target) - 1);
                        if (n <= 0)
                                continue;
                        target[n] = '\0';
                        argv_add(a, "--symlink");
                        argv_add(a, target);
                        argv_add(a, stack_dirs[i]);
                } else if (S_ISDIR(st.st_mode)) {
                        argv_add(a, "--ro-bind");
                        argv_add(a, stack_dirs[i]);
                        argv_add(a, stack_dirs[i]);
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(etc_links); i++) {
                _cleanup_free_ char *real = realpath(etc_links[i], NULL);

                if (!real || strneq(real, "/etc/", 5) || strneq(real, "/usr/", 5))
                        continue;
                argv_add(a, "--ro-bind-try");
                argv_add(a, real);
                argv_add(a, real);
        }
}

/* A memfd, inherited across exec, holding the host's PATH plus LINE: bwrap
 * --ro-bind-data FD reads it.  -errno on failure. */
static int etc_with_line(const char *path, const char *line)
{
        _cleanup_close_ int fd = memfd_create("pier-dyno-etc", 0);
        if (fd < 0)
                return -errno;
        _cleanup_close_ int in = open(path, O_RDONLY | O_CLOEXEC);
        char buf[65536];
        ssize_t n;
        while (in >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
                if (write(fd, buf, (size_t)n) != n)
                        return -EIO;
        size_t len = strlen(line);
        if (write(fd, line, len) != (ssize_t)len || lseek(fd, 0, SEEK_SET) < 0)
                return -EIO;
        return TAKE_FD(fd);
}

/* bwrap's options (a memfd gives them to bwrap, see run_isolated()). */
static int bwrap_options(const struct options *o, const char *app_src, const struct dyno_env *env,
                         struct argv *a)
{
        argv_add(a, "--unshare-pid");
        argv_add(a, "--unshare-ipc");
        argv_add(a, "--unshare-uts");
        argv_add(a, "--unshare-cgroup-try");
        argv_add(a, "--hostname");
        argv_add(a, o->name);
        /* No --die-with-parent: pierd may restart while its dynos run on.
         * With a tty: see the top (setsid --ctty in sandbox_command()). */
        if (!o->tty)
                argv_add(a, "--new-session");
        add_stack(a);
        /* The app's uid gets a name in there (whoami, bash's prompt: not
         * "I have no name!"): the host's passwd and group plus "dyno". */
        char line[128];
        (void)snprintf(line, sizeof(line), "dyno:x:%u:%u:pier dyno:/app:/bin/bash\n",
                       (unsigned)o->uid, (unsigned)o->uid);
        int pfd = etc_with_line("/etc/passwd", line);
        (void)snprintf(line, sizeof(line), "dyno:x:%u:\n", (unsigned)o->uid);
        int gfd = etc_with_line("/etc/group", line);
        if (pfd >= 0 && gfd >= 0) {
                argv_add(a, "--perms");
                argv_add(a, "0644");
                argv_add(a, "--ro-bind-data");
                argv_addf(a, "%d", pfd);
                argv_add(a, "/etc/passwd");
                argv_add(a, "--perms");
                argv_add(a, "0644");
                argv_add(a, "--ro-bind-data");
                argv_addf(a, "%d", gfd);
                argv_add(a, "/etc/group");
        }
        argv_add(a, "--proc");
        argv_add(a, "/proc");
        argv_add(a, "--dev");
        argv_add(a, "/dev");
        /* Privileged bwrap makes its tmpfs root's, mode 0755; the app's uid
         * needs them writable and sticky, as on any host. */
        argv_add(a, "--perms");
        argv_add(a, "1777");
        argv_add(a, "--tmpfs");
        argv_add(a, "/dev/shm");
        argv_add(a, "--perms");
        argv_add(a, "1777");
        argv_add(a, "--tmpfs");
        argv_add(a, "/tmp");
        argv_add(a, "--bind");
        argv_add(a, app_src);
        argv_add(a, "/app");
        argv_add(a, "--chdir");
        argv_add(a, "/app");
        argv_add(a, "--clearenv");
        for (size_t i = 0; i < env->n; i++) {
                argv_add(a, "--setenv");
                argv_add(a, env->names[i]);
                argv_add(a, env->values[i]);
        }
        /* All setpriv needs to become the app; it drops these too. */
        argv_add(a, "--cap-add");
        argv_add(a, "CAP_SETUID");
        argv_add(a, "--cap-add");
        argv_add(a, "CAP_SETGID");
        argv_add(a, "--cap-add");
        argv_add(a, "CAP_SETPCAP");
        return a->oom ? -ENOMEM : 0;
}

/* What bwrap runs: setpriv, then the .profile.d wrapper around COMMAND. */
static int sandbox_command(const struct options *o, const char *bwrap, const char *setpriv,
                           const char *setsid, const char *fdstr, struct argv *a)
{
        argv_add(a, bwrap);
        argv_add(a, "--args");
        argv_add(a, fdstr);
        argv_add(a, "--");
        if (o->tty) {
                /* Not a process group leader in there, so it does not
                 * fork: it is setsid(), TIOCSCTTY on stdin, exec. */
                argv_add(a, setsid);
                argv_add(a, "--ctty");
        }
        argv_add(a, setpriv);
        argv_addf(a, "--reuid=%u", (unsigned)o->uid);
        argv_addf(a, "--regid=%u", (unsigned)o->uid);
        argv_add(a, "--clear-groups");
        argv_add(a, "--inh-caps=-all");
        argv_add(a, "--bounding-set=-all");
        argv_add(a, "--no-new-privs");
        argv_add(a, "--");
        argv_add(a, "/bin/sh");
        argv_add(a, "-c");
        argv_add(a, profile_wrapper());
        argv_add(a, o->command);
        argv_add(a, "/app");
        return a->oom ? -ENOMEM : 0;
}

/* A memfd, inherited across exec, holding A's strings NUL-terminated:
 * bwrap --args FD reads it (and closes it before it runs the command). */
static int args_fd(const struct argv *a)
{
        _cleanup_close_ int fd = memfd_create("pier-dyno-args", 0);

        if (fd < 0)
                return -errno;
        for (size_t i = 0; i < a->n; i++) {
                const char *p = a->v[i];
                size_t left = strlen(p) + 1;

                while (left > 0) {
                        ssize_t n = write(fd, p, left);

                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0)
                                return -errno;
                        p += n;
                        left -= (size_t)n;
                }
        }
        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        return TAKE_FD(fd);
}

static int make_dir(const char *parent, const char *name, char ret[static PATH_MAX])
{
        int n = snprintf(ret, PATH_MAX, "%s/%s", parent, name);

        if (n < 0 || n >= PATH_MAX)
                return -ENAMETOOLONG;
        return mkdir(ret, 0755) < 0 ? -errno : 0;
}

/* The copy fallback for kernels without overlayfs: the whole slug into the
 * (private) tmpfs.  Slow for big slugs, hence only a fallback. */
static int copy_slug(const char *from, const char *to)
{
        const char *argv[] = {"cp", "-a", "-T", "--", from, to, NULL};
        const char *envp[] = {"PATH=" DEFAULT_PATH, "LC_ALL=C", NULL};
        struct spawn_opts so = {
            .argv = argv, .envp = envp, .stdin_fd = -1, .stdout_fd = 2, .stderr_fd = 2};
        int status, r;

        r = spawn_wait(&so, &status);
        if (r < 0)
                return r;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* Step 2 (see the top): leaves the writable app dir's path in ret. */
static int make_app_dir(const struct options *o, char ret[static PATH_MAX])
{
        char lower[PATH_MAX], upper[PATH_MAX], work[PATH_MAX], merged[PATH_MAX];
        char opts[3 * PATH_MAX + 64];
        struct stat st;
        int r, n;

        if (unshare(CLONE_NEWNS) < 0)
                return fail(-errno, "unsharing the mount namespace");
        /* Nothing we mount may propagate back to the host. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return fail(-errno, "making / private");
        if (mkdir(SCRATCH, 0700) < 0 && errno != EEXIST)
                return fail(-errno, "creating %s", SCRATCH);
        /* Root's own directory, not something planted there. */
        if (lstat(SCRATCH, &st) < 0)
                return fail(-errno, "%s", SCRATCH);
        if (!S_ISDIR(st.st_mode) || st.st_uid != 0)
                return fail(0, "%s: not a directory owned by root", SCRATCH);
        if (mount("pier-dyno", SCRATCH, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
                return fail(-errno, "mounting a tmpfs on %s", SCRATCH);

        if ((r = make_dir(SCRATCH, "lower", lower)) < 0 ||
            (r = make_dir(SCRATCH, "upper", upper)) < 0 ||
            (r = make_dir(SCRATCH, "work", work)) < 0 ||
            (r = make_dir(SCRATCH, "merged", merged)) < 0)
                return fail(r, "creating directories in %s", SCRATCH);
        /* Bound first, so that overlayfs never has to parse the slug's path
         * (',' and ':' are special in its options). */
        if (mount(o->slug, lower, NULL, MS_BIND | MS_REC, NULL) < 0)
                return fail(-errno, "binding the slug %s", o->slug);
        if (mount(NULL, lower, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
                  NULL) < 0)
                return fail(-errno, "making the slug read-only");
        /* The app writes as its uid: the overlay's root takes the upper
         * dir's owner. */
        if (chown(upper, o->uid, o->uid) < 0)
                return fail(-errno, "chown %s", upper);

        n = snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
        if (n < 0 || (size_t)n >= sizeof(opts))
                return fail(-ENAMETOOLONG, "overlayfs options");
        if (mount("overlay", merged, "overlay", MS_NOSUID | MS_NODEV, opts) < 0) {
                fprintf(stderr,
                        "pier-dyno: overlayfs not available (%s); copying the slug instead\n",
                        strerror(errno));
                r = copy_slug(lower, merged);
                if (r < 0)
                        return fail(r, "copying the slug into %s", merged);
                if (chown(merged, o->uid, o->uid) < 0)
                        return fail(-errno, "chown %s", merged);
        }
        memcpy(ret, merged, PATH_MAX);
        return 0;
}

static void reset_signals(void)
{
        sigset_t none;

        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < NSIG; sig++) {
                struct sigaction sa = {.sa_handler = SIG_DFL};

                if (sig != SIGKILL && sig != SIGSTOP)
                        (void)sigaction(sig, &sa, NULL);
        }
}

/* Passes in to stdout until in ends: spliced from pipe to pipe (no copy
 * through here), else read and written; once stdout fails (pierd is gone)
 * the rest is read and dropped. */
__attribute__((noreturn)) static void relay(int in)
{
        bool out_ok = true, use_splice = true;
        char buf[4096];
        for (;;) {
                ssize_t n;
                if (out_ok && use_splice) {
                        n = splice(in, NULL, STDOUT_FILENO, NULL, 1 << 20, SPLICE_F_MOVE);
                        if (n > 0)
                                continue;
                        if (n == 0)
                                _exit(0);
                        if (errno == EINTR)
                                continue;
                        if (errno == EINVAL)
                                use_splice = false; /* stdout is not a pipe */
                        else
                                out_ok = false;
                        continue;
                }
                n = read(in, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        _exit(0);
                for (ssize_t off = 0; out_ok && off < n;) {
                        ssize_t w = write(STDOUT_FILENO, buf + off, (size_t)(n - off));
                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w <= 0)
                                out_ok = false;
                        else
                                off += w;
                }
        }
}

/* The app's output goes through a relay process of ours instead of
 * straight into pierd's pipe: when pierd goes away (killed, restarted),
 * that pipe breaks, and an app writing to it would die of SIGPIPE in the
 * middle of serving requests.  The relay passes the output on while pierd
 * reads it and drops it when nobody does; it ignores SIGTERM (the app
 * decides when the dyno ends) and exits when the app's side is closed. */
static int setup_relay(void)
{
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(p[0]);
                close(p[1]);
                return r;
        }
        if (pid == 0) {
                close(p[1]);
                (void)signal(SIGPIPE, SIG_IGN);
                (void)signal(SIGTERM, SIG_IGN);
                (void)signal(SIGINT, SIG_IGN);
                (void)signal(SIGHUP, SIG_IGN);
                relay(p[0]);
        }
        if (dup2(p[1], STDOUT_FILENO) < 0 || dup2(p[1], STDERR_FILENO) < 0) {
                int r = -errno;
                close(p[0]);
                close(p[1]);
                return r;
        }
        close(p[0]);
        close(p[1]);
        return 0;
}

static int run_isolated(const struct options *o)
{
        __attribute__((cleanup(dyno_env_freep))) struct dyno_env *env = NULL;
        char bwrap[PATH_MAX], app[PATH_MAX], fdstr[16];
        const char *setpriv = NULL, *setsid = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct argv a = {0};
        char *empty_env[] = {NULL};
        int r;

        if (geteuid() != 0)
                return fail(0, "needs root to sandbox the dyno (pierd passes --unisolated "
                               "where it is not root)");
        if (!o->have_uid)
                return fail(0, "--app-uid is required when running as root");
        r = find_program("bwrap", bwrap);
        if (r < 0)
                return fail(r, "bwrap (bubblewrap) not found; install it, or run pierd so "
                               "that it starts dynos --unisolated");
        for (size_t i = 0; i < ELEMENTSOF(setpriv_paths) && !setpriv; i++)
                if (access(setpriv_paths[i], X_OK) == 0)
                        setpriv = setpriv_paths[i];
        if (!setpriv)
                return fail(-ENOENT, "setpriv (util-linux) not found in /usr/bin");
        for (size_t i = 0; i < ELEMENTSOF(setsid_paths) && o->tty && !setsid; i++)
                if (access(setsid_paths[i], X_OK) == 0)
                        setsid = setsid_paths[i];
        if (o->tty && !setsid)
                return fail(-ENOENT, "setsid (util-linux) not found in /usr/bin");
        r = build_env(o, "/app", &env);
        if (r != 0)
                return r;

        /* Step 1: the limits hold from the first instruction of the app. */
        if (o->cgroup) {
                r = dyno_cgroup_create(o->cgroup, o->memory * 2, o->pids);
                if (r < 0)
                        return fail(r, "creating cgroup %s", o->cgroup);
                r = dyno_cgroup_attach(o->cgroup, 0);
                if (r < 0)
                        return fail(r, "joining cgroup %s", o->cgroup);
        }

        r = make_app_dir(o, app);
        if (r != 0)
                return r;

        r = bwrap_options(o, app, env, &a);
        if (r < 0) {
                argv_done(&a);
                return fail(r, "building the bwrap command line");
        }
        /* The options go through a memfd: on the command line the config
         * vars (secrets) would be readable by every local user in
         * /proc/PID/cmdline.  bwrap reads it and closes it. */
        fd = args_fd(&a);
        argv_done(&a);
        if (fd < 0)
                return fail(fd, "passing the options to bwrap");
        (void)snprintf(fdstr, sizeof(fdstr), "%d", fd);
        r = sandbox_command(o, bwrap, setpriv, setsid, fdstr, &a);
        if (r < 0) {
                argv_done(&a);
                return fail(r, "building the bwrap command line");
        }
        r = o->attach ? 0 : setup_relay();
        if (r < 0) {
                argv_done(&a);
                return fail(r, "starting the output relay");
        }
        reset_signals();
        execve(bwrap, a.v, empty_env);
        r = -errno;
        argv_done(&a);
        return fail(r, "executing %s", bwrap);
}

static int run_unisolated(const struct options *o)
{
        __attribute__((cleanup(dyno_env_freep))) struct dyno_env *env = NULL;
        __attribute__((cleanup(dyno_env_strv_freep))) char **envp = NULL;
        _cleanup_free_ char *dir = NULL;
        int r;

        dir = realpath(o->slug, NULL);
        if (!dir)
                return fail(-errno, "slug directory %s", o->slug);
        r = build_env(o, dir, &env);
        if (r != 0)
                return r;
        r = dyno_env_strv(env, &envp);
        if (r < 0)
                return fail(r, "setting up the environment");
        /* Already a session leader is fine: pierd may have made us one. */
        if (setsid() < 0 && getsid(0) != getpid())
                return fail(-errno, "setsid");
        if (o->tty && ioctl(STDIN_FILENO, TIOCSCTTY, 0) < 0)
                return fail(-errno, "making the pty the controlling terminal");
        if (chdir(dir) < 0)
                return fail(-errno, "chdir %s", dir);

        if (!o->attach) {
                fprintf(stderr, "pier-dyno: running UNISOLATED (no bwrap/root)\n");
                fflush(stderr);
        }
        {
                char *argv[] = {"sh", "-c", (char *)profile_wrapper(), (char *)o->command,
                                dir,  NULL};

                r = o->attach ? 0 : setup_relay();
                if (r < 0)
                        return fail(r, "starting the output relay");
                reset_signals();
                execve("/bin/sh", argv, envp);
        }
        return fail(-errno, "executing /bin/sh");
}

int main(int argc, char **argv)
{
        struct options o = {0};
        struct stat st;
        int r;

        /* Nothing pierd has open may reach the app. */
        (void)close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
        umask(022);

        r = parse_args(argc, argv, &o);
        if (r != 0)
                return r;
        if (stat(o.slug, &st) < 0)
                return fail(-errno, "slug directory %s", o.slug);
        if (!S_ISDIR(st.st_mode))
                return fail(-ENOTDIR, "slug directory %s", o.slug);
        if (o.slug[0] != '/')
                return fail(0, "--slug must be an absolute path: %s", o.slug);

        if (o.unisolated)
                return run_unisolated(&o);
        return run_isolated(&o);
}
