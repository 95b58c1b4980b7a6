#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/fsutil.h"
#include "lib/rand.h"
#include "lib/strbuf.h"
#include "lib/util.h"

static void closedirp(DIR **d)
{
        if (*d)
                (void)closedir(*d);
}

static bool dot_or_dotdot(const char *s)
{
        return s[0] == '.' && (s[1] == '\0' || (s[1] == '.' && s[2] == '\0'));
}

/* Opens the directory NAME under dir_fd as a DIR stream, not following a
 * symlink. */
static int open_dir_at(int dir_fd, const char *name, DIR **ret)
{
        int fd;
        DIR *d;

        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                int r = -errno;
                (void)close(fd);
                return r;
        }
        *ret = d;
        return 0;
}

static int walk(int fd, char *path, size_t len, unsigned depth, walk_fn fn, void *userdata)
{
        __attribute__((cleanup(closedirp))) DIR *d = NULL;
        int dfd, r;

        if (depth >= WALK_MAX_DEPTH)
                return -ELOOP;
        r = open_dir_at(fd, ".", &d);
        if (r < 0)
                return r;
        dfd = dirfd(d);

        for (;;) {
                struct dirent *de;
                struct stat st;
                size_t n;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno)
                                return -errno;
                        return 0;
                }
                if (dot_or_dotdot(de->d_name))
                        continue;
                if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT)
                                continue;
                        return -errno;
                }
                n = strlen(de->d_name);
                if (len + (len > 0) + n >= PATH_MAX)
                        return -ENAMETOOLONG;
                if (len > 0)
                        path[len] = '/';
                memcpy(path + len + (len > 0), de->d_name, n + 1);

                r = fn(dfd, de->d_name, path, &st, userdata);
                if (r < 0)
                        return r;
                if (r == WALK_CONTINUE && S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int sub = -EBADF;

                        sub = openat(dfd, de->d_name,
                                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0)
                                return -errno;
                        r = walk(sub, path, len + (len > 0) + n, depth + 1, fn, userdata);
                        if (r < 0)
                                return r;
                }
                path[len] = '\0';
        }
}

int walk_tree(int top_fd, walk_fn fn, void *userdata)
{
        char path[PATH_MAX] = "";

        return walk(top_fd, path, 0, 0, fn, userdata);
}

/* ---- rm -rf ------------------------------------------------------------- */

#define RM_MAX_DEPTH 64

/* Empties the directory open as fd.  Past RM_MAX_DEPTH, subdirectories are
 * moved up into top_fd (under a random name) instead of being entered, and
 * *again is set: the caller empties top again. */
static int empty_dir(int fd, int top_fd, unsigned depth, bool *again)
{
        __attribute__((cleanup(closedirp))) DIR *d = NULL;
        int dfd, r;

        r = open_dir_at(fd, ".", &d);
        if (r < 0)
                return r;
        dfd = dirfd(d);
        /* Without root, a directory the build made read-only must be made
         * writable before its entries can go. */
        (void)fchmod(dfd, 0700);

        for (;;) {
                struct dirent *de;
                struct stat st;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno)
                                return -errno;
                        return 0;
                }
                if (dot_or_dotdot(de->d_name))
                        continue;
                if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT)
                                continue;
                        return -errno;
                }
                if (!S_ISDIR(st.st_mode)) {
                        if (unlinkat(dfd, de->d_name, 0) < 0 && errno != ENOENT)
                                return -errno;
                        continue;
                }
                if (depth + 1 >= RM_MAX_DEPTH) {
                        char name[32];
                        uint64_t rnd;

                        r = random_bytes(&rnd, sizeof(rnd));
                        if (r < 0)
                                return r;
                        (void)snprintf(name, sizeof(name), ".rm-%016llx", (unsigned long long)rnd);
                        if (renameat(dfd, de->d_name, top_fd, name) < 0)
                                return -errno;
                        *again = true;
                        continue;
                }
                {
                        _cleanup_close_ int sub = -EBADF;

                        sub = openat(dfd, de->d_name,
                                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0)
                                return -errno;
                        r = empty_dir(sub, top_fd, depth + 1, again);
                        if (r < 0)
                                return r;
                }
                if (unlinkat(dfd, de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                        return -errno;
        }
}

int rm_rf_at(int dir_fd, const char *name)
{
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        bool again;
        int r;

        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT ? -errno : 0;

        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        do {
                again = false;
                r = empty_dir(fd, fd, 0, &again);
                if (r < 0)
                        return r;
        } while (again);
        if (unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

/* ---- chown -R ----------------------------------------------------------- */

struct owner {
        uid_t uid;
        gid_t gid;
};

static int chown_one(int dir_fd, const char *name, const char *path, const struct stat *st,
                     void *userdata)
{
        const struct owner *o = userdata;

        if (st->st_uid == o->uid && st->st_gid == o->gid)
                return WALK_CONTINUE;
        if (fchownat(dir_fd, name, o->uid, o->gid, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        return WALK_CONTINUE;
}

int chown_tree(int top_fd, uid_t uid, gid_t gid)
{
        struct owner o = {uid, gid};

        if (fchown(top_fd, uid, gid) < 0)
                return -errno;
        return walk_tree(top_fd, chown_one, &o);
}

/* ---- small things ------------------------------------------------------- */

int mkdir_p(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int read_file_at(int dir_fd, const char *name, size_t max, char **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = -EBADF;
        struct strbuf sb = STRBUF_INIT;
        struct stat st;
        char buf[8192];

        fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        if ((uint64_t)st.st_size > max)
                return -EFBIG;
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int r = -errno;
                        strbuf_release(&sb);
                        return r;
                }
                if (n == 0)
                        break;
                if (sb.len + (size_t)n > max || strbuf_add(&sb, buf, (size_t)n) < 0) {
                        int r = sb.len + (size_t)n > max ? -EFBIG : -ENOMEM;
                        strbuf_release(&sb);
                        return r;
                }
        }
        *ret = strbuf_detach(&sb, ret_len);
        return *ret ? 0 : -ENOMEM;
}

bool executable_at(int dir_fd, const char *dir, const char *name)
{
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        fd = openat(dir_fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return false;
        if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return false;
        return S_ISREG(st.st_mode) && (st.st_mode & 0111);
}
