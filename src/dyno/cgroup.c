/* See cgroup.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "dyno/cgroup.h"
#include "lib/util.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

/* Bounds on what we read from the kernel and on how hard we try. */
#define CG_FILE_MAX      (1024 * 1024) /* cgroup.procs of a pids-limited dyno is small */
#define CG_MAX_PIDS      65536
#define CG_SIGNAL_PASSES 16
#define CG_REMOVE_DEPTH  16
#define CG_LIST_MAX      100000

/* v1 reports "no limit" as PAGE_COUNTER_MAX pages, i.e. just under 2^63. */
#define V1_UNLIMITED ((uint64_t)INT64_MAX & ~(uint64_t)0xfff)

struct layout {
        bool v2;
        size_t n;
        const char *roots[2];
};

static bool is_fs(const char *path, long magic)
{
        struct statfs sfs;

        return statfs(path, &sfs) == 0 && (long)sfs.f_type == magic;
}

/* Reads a whole (small) file into a NUL-terminated malloc'd buffer. */
static int read_file(const char *path, char **ret)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, alloc = 0;

        if (fd < 0)
                return -errno;
        for (;;) {
                ssize_t n;

                if (len + 1 >= alloc) {
                        size_t a = alloc ? alloc * 2 : 4096;
                        char *grown;

                        if (a > CG_FILE_MAX)
                                return -EFBIG;
                        grown = realloc(buf, a);
                        if (!grown)
                                return -ENOMEM;
                        buf = grown;
                        alloc = a;
                }
                n = read(fd, buf + len, alloc - len - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        return 0;
}

static int write_file(const char *path, const char *s)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        size_t len = strlen(s);
        ssize_t n;

        if (fd < 0)
                return -errno;
        do
                n = write(fd, s, len);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        return (size_t)n == len ? 0 : -EIO;
}

static int write_u64(const char *path, uint64_t v)
{
        char buf[32];

        (void)snprintf(buf, sizeof(buf), "%" PRIu64, v);
        return write_file(path, buf);
}

static int pathf(char buf[static PATH_MAX], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int pathf(char buf[static PATH_MAX], const char *fmt, ...)
{
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(buf, PATH_MAX, fmt, ap);
        va_end(ap);
        return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* Whether the cgroup2 mount at ROOT offers both controllers we need. */
static bool v2_usable(const char *root)
{
        _cleanup_free_ char *controllers = NULL;
        char path[PATH_MAX];
        bool memory = false, pids = false;

        if (!is_fs(root, CGROUP2_SUPER_MAGIC))
                return false;
        if (pathf(path, "%s/cgroup.controllers", root) < 0 || read_file(path, &controllers) < 0)
                return false;
        for (char *save = NULL, *w = strtok_r(controllers, " \n", &save); w;
             w = strtok_r(NULL, " \n", &save)) {
                memory |= streq(w, "memory");
                pids |= streq(w, "pids");
        }
        return memory && pids;
}

static int detect(struct layout *l)
{
        static const char *const v2_roots[] = {CGROUP_ROOT, CGROUP_ROOT "/unified"};

        for (size_t i = 0; i < ELEMENTSOF(v2_roots); i++)
                if (v2_usable(v2_roots[i])) {
                        *l = (struct layout){.v2 = true, .n = 1, .roots = {v2_roots[i]}};
                        return 0;
                }
        if (is_fs(CGROUP_ROOT "/memory", CGROUP_SUPER_MAGIC) &&
            is_fs(CGROUP_ROOT "/pids", CGROUP_SUPER_MAGIC)) {
                *l = (struct layout){.n = 2, .roots = {CGROUP_ROOT "/memory", CGROUP_ROOT "/pids"}};
                return 0;
        }
        return -EOPNOTSUPP;
}

static bool name_char_ok(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
}

bool dyno_cgroup_name_valid(const char *name)
{
        size_t len, comp = 0;

        if (!name)
                return false;
        len = strnlen(name, DYNO_CGROUP_NAME_MAX + 1);
        if (len == 0 || len > DYNO_CGROUP_NAME_MAX)
                return false;
        for (size_t i = 0; i <= len; i++) {
                if (i == len || name[i] == '/') {
                        const char *c = name + i - comp;

                        if (comp == 0 || (comp == 1 && c[0] == '.') ||
                            (comp == 2 && c[0] == '.' && c[1] == '.'))
                                return false;
                        comp = 0;
                        continue;
                }
                if (!name_char_ok(name[i]))
                        return false;
                comp++;
        }
        return true;
}

static int enable_controllers(const char *dir)
{
        char file[PATH_MAX];
        int r;

        r = pathf(file, "%s/cgroup.subtree_control", dir);
        if (r < 0)
                return r;
        return write_file(file, "+memory +pids");
}

/* mkdir -p ROOT/NAME, one component at a time; on v2 the root and every
 * parent first delegate memory and pids to their children. */
static int make_path(const char *root, const char *name, bool v2)
{
        char path[PATH_MAX];
        struct stat st;
        int r;

        r = pathf(path, "%s/%s", root, name);
        if (r < 0)
                return r;
        if (v2) {
                r = enable_controllers(root);
                if (r < 0)
                        return r;
        }
        for (char *p = path + strlen(root) + 1;;) {
                char *slash = strchr(p, '/');

                if (slash)
                        *slash = '\0';
                if (mkdir(path, 0755) < 0 && errno != EEXIST)
                        return -errno;
                if (!slash)
                        break;
                if (v2) {
                        r = enable_controllers(path);
                        if (r < 0)
                                return r;
                }
                *slash = '/';
                p = slash + 1;
        }
        /* An existing non-directory (a control file) is not a cgroup. */
        if (stat(path, &st) < 0)
                return -errno;
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int set_in(const char *dir, const char *file, uint64_t v, bool optional)
{
        char path[PATH_MAX];
        int r;

        r = pathf(path, "%s/%s", dir, file);
        if (r < 0)
                return r;
        r = write_u64(path, v);
        if (r < 0 && optional && (r == -ENOENT || r == -EINVAL || r == -EOPNOTSUPP))
                return 0;
        return r;
}

int dyno_cgroup_create(const char *name, uint64_t memory_max, uint64_t pids_max)
{
        struct layout l;
        char dir[PATH_MAX];
        int r;

        if (!dyno_cgroup_name_valid(name))
                return -EINVAL;
        r = detect(&l);
        if (r < 0)
                return r;
        for (size_t i = 0; i < l.n; i++) {
                r = make_path(l.roots[i], name, l.v2);
                if (r < 0)
                        return r;
        }

        if (l.v2) {
                r = pathf(dir, "%s/%s", l.roots[0], name);
                if (r < 0)
                        return r;
                if (memory_max > 0) {
                        r = set_in(dir, "memory.max", memory_max, false);
                        if (r < 0)
                                return r;
                        /* v1's memsw limit caps memory + swap; no swap at
                         * all is v2's nearest match. */
                        r = set_in(dir, "memory.swap.max", 0, true);
                        if (r < 0)
                                return r;
                        /* R15 kills the dyno, not just its largest process. */
                        r = set_in(dir, "memory.oom.group", 1, true);
                        if (r < 0)
                                return r;
                }
                if (pids_max > 0)
                        return set_in(dir, "pids.max", pids_max, false);
                return 0;
        }

        if (memory_max > 0) {
                r = pathf(dir, "%s/%s", l.roots[0], name);
                if (r < 0)
                        return r;
                /* The kernel insists on memsw >= limit at every moment:
                 * memsw first (fails harmlessly when lowering below the
                 * current limit), then the limit, then memsw again. */
                (void)set_in(dir, "memory.memsw.limit_in_bytes", memory_max, true);
                r = set_in(dir, "memory.limit_in_bytes", memory_max, false);
                if (r < 0)
                        return r;
                r = set_in(dir, "memory.memsw.limit_in_bytes", memory_max, true);
                if (r < 0)
                        return r;
        }
        if (pids_max > 0) {
                r = pathf(dir, "%s/%s", l.roots[1], name);
                if (r < 0)
                        return r;
                return set_in(dir, "pids.max", pids_max, false);
        }
        return 0;
}

int dyno_cgroup_attach(const char *name, pid_t pid)
{
        struct layout l;
        char path[PATH_MAX];
        int r;

        if (!dyno_cgroup_name_valid(name) || pid < 0)
                return -EINVAL;
        r = detect(&l);
        if (r < 0)
                return r;
        for (size_t i = 0; i < l.n; i++) {
                r = pathf(path, "%s/%s/cgroup.procs", l.roots[i], name);
                if (r < 0)
                        return r;
                r = write_u64(path, (uint64_t)(pid ? pid : getpid()));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A set of pids: append with pidset_add(), then pidset_sort() (which also
 * drops duplicates) before searching it with bsearch(). */
struct pidset {
        pid_t *v;
        size_t n, alloc;
};

static int cmp_pid(const void *a, const void *b)
{
        pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

        return x < y ? -1 : x > y;
}

static void pidset_sort(struct pidset *s)
{
        size_t out = 0;

        if (s->n == 0)
                return;
        qsort(s->v, s->n, sizeof(pid_t), cmp_pid);
        for (size_t i = 0; i < s->n; i++)
                if (out == 0 || s->v[out - 1] != s->v[i])
                        s->v[out++] = s->v[i];
        s->n = out;
}

static int pidset_add(struct pidset *s, pid_t pid)
{
        if (s->n >= CG_MAX_PIDS)
                return -E2BIG;
        if (s->n == s->alloc) {
                size_t a = s->alloc ? s->alloc * 2 : 64;
                pid_t *grown = reallocarray(s->v, a, sizeof(pid_t));

                if (!grown)
                        return -ENOMEM;
                s->v = grown;
                s->alloc = a;
        }
        s->v[s->n++] = pid;
        return 0;
}

/* Adds the pids in DIR/cgroup.procs to S. */
static int read_procs(const char *root, const char *name, struct pidset *s)
{
        _cleanup_free_ char *data = NULL;
        char path[PATH_MAX];
        int r;

        r = pathf(path, "%s/%s/cgroup.procs", root, name);
        if (r < 0)
                return r;
        r = read_file(path, &data);
        if (r < 0)
                return r;
        for (char *save = NULL, *w = strtok_r(data, "\n", &save); w;
             w = strtok_r(NULL, "\n", &save)) {
                int64_t v;

                if (safe_atoi64(w, &v) < 0 || v <= 0 || v > INT32_MAX)
                        continue;
                r = pidset_add(s, (pid_t)v);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* bwrap, or pier-dyno: the relay (which ignores SIGTERM), or pier-dyno
 * itself before it became bwrap.  Not the app's. */
static bool comm_is_sandbox(pid_t pid)
{
        char path[64], comm[32] = "";
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        (void)snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        n = read(fd, comm, sizeof(comm) - 1);
        if (n <= 0)
                return false;
        comm[n] = '\0';
        comm[strcspn(comm, "\n")] = '\0';
        return streq(comm, "bwrap") || streq(comm, "pier-dyno");
}

/* One pass of dyno_cgroup_signal(): signals the members not in DONE and
 * adds them to it.  *ret_found: in how many hierarchies NAME exists. */
static int signal_pass(const struct layout *l, const char *name, int sig, bool skip_bwrap,
                       struct pidset *done, size_t *ret_found)
{
        struct pidset now = {0};
        size_t found = 0;
        pid_t self = getpid();
        int r = 0;

        for (size_t i = 0; i < l->n; i++) {
                r = read_procs(l->roots[i], name, &now);
                if (r == -ENOENT) {
                        r = 0;
                        continue;
                }
                if (r < 0)
                        goto out;
                found++;
        }
        pidset_sort(&now);
        for (size_t i = 0, n_done = done->n; i < now.n; i++) {
                pid_t pid = now.v[i];

                /* done is sorted up to n_done; what we add stays after. */
                if (pid == self ||
                    (n_done > 0 && bsearch(&pid, done->v, n_done, sizeof(pid_t), cmp_pid)))
                        continue;
                if (skip_bwrap && comm_is_sandbox(pid))
                        continue;
                if (kill(pid, sig) < 0 && errno != ESRCH) {
                        r = -errno;
                        goto out;
                }
                r = pidset_add(done, pid);
                if (r < 0)
                        goto out;
        }
        pidset_sort(done);
        *ret_found = found;
out:
        free(now.v);
        return r;
}

int dyno_cgroup_signal(const char *name, int sig, bool skip_bwrap, unsigned *ret_count)
{
        struct pidset done = {0};
        struct layout l;
        int r;

        if (!dyno_cgroup_name_valid(name) || sig < 0 || sig >= NSIG)
                return -EINVAL;
        r = detect(&l);
        if (r < 0)
                return r;

        /* SIGKILL: children forked meanwhile are caught too.  Any other
         * signal goes once to who is there: a SIGTERM trap may start its
         * clean-up (a child), which must not get SIGTERM in turn. */
        unsigned passes = sig == SIGKILL ? CG_SIGNAL_PASSES : 1;
        for (unsigned pass = 0; pass < passes; pass++) {
                size_t before = done.n, found = 0;

                r = signal_pass(&l, name, sig, skip_bwrap, &done, &found);
                if (r < 0)
                        break;
                if (found == 0) {
                        /* Removed meanwhile is fine once we have started. */
                        if (pass == 0)
                                r = -ENOENT;
                        break;
                }
                if (done.n == before)
                        break;
        }
        if (r == 0 && ret_count)
                *ret_count = (unsigned)done.n;
        free(done.v);
        return r;
}

/* rmdir DIR after its child cgroups, deepest first. */
static int remove_tree(const char *dir, unsigned depth)
{
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (depth > CG_REMOVE_DEPTH)
                return -ELOOP;
        d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d))) {
                char sub[PATH_MAX];
                int q;

                if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                q = pathf(sub, "%s/%s", dir, de->d_name);
                if (q == 0)
                        q = remove_tree(sub, depth + 1);
                if (q < 0 && r == 0)
                        r = q;
        }
        closedir(d);
        if (rmdir(dir) < 0 && errno != ENOENT && r == 0)
                r = -errno;
        return r;
}

int dyno_cgroup_remove(const char *name)
{
        struct layout l;
        int r, ret = 0;

        if (!dyno_cgroup_name_valid(name))
                return -EINVAL;
        r = detect(&l);
        if (r < 0)
                return r;
        for (size_t i = 0; i < l.n; i++) {
                char dir[PATH_MAX];

                r = pathf(dir, "%s/%s", l.roots[i], name);
                if (r == 0)
                        r = remove_tree(dir, 0);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        return ret;
}

/* The number after "KEY " on a line of a flat-keyed file such as
 * memory.stat or memory.events; -ENOENT when there is no such line. */
static int keyed_value(const char *data, const char *key, uint64_t *ret)
{
        size_t klen = strlen(key);

        for (const char *line = data; line && *line;) {
                const char *eol = strchr(line, '\n');

                if (strneq(line, key, klen) && line[klen] == ' ') {
                        char num[32];
                        size_t n = (size_t)((eol ? eol : line + strlen(line)) - (line + klen + 1));
                        int64_t v;

                        if (n == 0 || n >= sizeof(num))
                                return -EINVAL;
                        memcpy(num, line + klen + 1, n);
                        num[n] = '\0';
                        if (safe_atoi64(num, &v) < 0 || v < 0)
                                return -EINVAL;
                        *ret = (uint64_t)v;
                        return 0;
                }
                line = eol ? eol + 1 : NULL;
        }
        return -ENOENT;
}

static int read_u64_in(const char *dir, const char *file, uint64_t *ret)
{
        _cleanup_free_ char *data = NULL;
        char path[PATH_MAX];
        int64_t v;
        int r;

        r = pathf(path, "%s/%s", dir, file);
        if (r < 0)
                return r;
        r = read_file(path, &data);
        if (r < 0)
                return r;
        data[strcspn(data, "\n")] = '\0';
        if (streq(data, "max")) {
                *ret = UINT64_MAX;
                return 0;
        }
        r = safe_atoi64(data, &v);
        if (r < 0)
                return r;
        if (v < 0)
                return -EINVAL;
        *ret = (uint64_t)v;
        return 0;
}

static int read_keyed_in(const char *dir, const char *file, const char *key, uint64_t *ret)
{
        _cleanup_free_ char *data = NULL;
        char path[PATH_MAX];
        int r;

        r = pathf(path, "%s/%s", dir, file);
        if (r < 0)
                return r;
        r = read_file(path, &data);
        if (r < 0)
                return r;
        return keyed_value(data, key, ret);
}

int dyno_cgroup_memory(const char *name, uint64_t *ret_usage, uint64_t *ret_limit,
                       bool *ret_oom_killed)
{
        uint64_t usage, limit, inactive = 0, kills = 0;
        struct layout l;
        char dir[PATH_MAX];
        int r;

        if (!dyno_cgroup_name_valid(name))
                return -EINVAL;
        r = detect(&l);
        if (r < 0)
                return r;
        r = pathf(dir, "%s/%s", l.roots[0], name);
        if (r < 0)
                return r;

        r = read_u64_in(dir, l.v2 ? "memory.current" : "memory.usage_in_bytes", &usage);
        if (r < 0)
                return r;
        r = read_u64_in(dir, l.v2 ? "memory.max" : "memory.limit_in_bytes", &limit);
        if (r < 0)
                return r;
        if (!l.v2 && limit >= V1_UNLIMITED)
                limit = UINT64_MAX;
        /* v1 has the hierarchical total_* counters; v2's are hierarchical
         * already.  A missing counter just means nothing to subtract. */
        r = read_keyed_in(dir, "memory.stat", l.v2 ? "inactive_file" : "total_inactive_file",
                          &inactive);
        if (r < 0 && r != -ENOENT)
                return r;
        r = read_keyed_in(dir, l.v2 ? "memory.events" : "memory.oom_control", "oom_kill", &kills);
        if (r < 0 && r != -ENOENT)
                return r;

        if (ret_usage)
                *ret_usage = usage > inactive ? usage - inactive : 0;
        if (ret_limit)
                *ret_limit = limit;
        if (ret_oom_killed)
                *ret_oom_killed = kills > 0;
        return 0;
}

void dyno_cgroup_names_free(char **names)
{
        if (!names)
                return;
        for (char **p = names; *p; p++)
                free(*p);
        free(names);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int dyno_cgroup_list(const char *parent, char ***ret_names)
{
        char **v = NULL;
        size_t n = 0, alloc = 0, out = 0;
        struct layout l;
        int r;

        if (!dyno_cgroup_name_valid(parent) || !ret_names)
                return -EINVAL;
        r = detect(&l);
        if (r < 0)
                return r;

        for (size_t i = 0; i < l.n; i++) {
                char dir[PATH_MAX];
                struct dirent *de;
                DIR *d;

                r = pathf(dir, "%s/%s", l.roots[i], parent);
                if (r < 0)
                        goto fail;
                d = opendir(dir);
                if (!d) {
                        if (errno == ENOENT)
                                continue;
                        r = -errno;
                        goto fail;
                }
                while ((de = readdir(d))) {
                        if (de->d_type != DT_DIR || streq(de->d_name, ".") ||
                            streq(de->d_name, ".."))
                                continue;
                        if (n + 2 > alloc) {
                                size_t a = alloc ? alloc * 2 : 16;
                                char **grown;

                                if (n >= CG_LIST_MAX) {
                                        r = -E2BIG;
                                        closedir(d);
                                        goto fail;
                                }
                                grown = reallocarray(v, a, sizeof(char *));
                                if (!grown) {
                                        r = -ENOMEM;
                                        closedir(d);
                                        goto fail;
                                }
                                v = grown;
                                alloc = a;
                        }
                        v[n] = strdup(de->d_name);
                        if (!v[n]) {
                                r = -ENOMEM;
                                closedir(d);
                                goto fail;
                        }
                        v[++n] = NULL;
                }
                closedir(d);
        }

        if (!v) {
                v = calloc(1, sizeof(char *));
                if (!v)
                        return -ENOMEM;
        }
        qsort(v, n, sizeof(char *), cmp_str);
        for (size_t i = 0; i < n; i++) {
                if (out > 0 && streq(v[out - 1], v[i])) {
                        free(v[i]);
                        continue;
                }
                v[out++] = v[i];
        }
        v[out] = NULL;
        *ret_names = v;
        return 0;

fail:
        dyno_cgroup_names_free(v);
        return r;
}
