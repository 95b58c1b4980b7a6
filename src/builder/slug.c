#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "builder/slug.h"
#include "lib/strbuf.h"
#include "lib/util.h"

#define READ_BLOCK (64 * 1024)

void slug_opts_init(struct slug_opts *opts)
{
        *opts = (struct slug_opts){
            .max_entries = SLUG_MAX_ENTRIES,
            .max_bytes = SLUG_MAX_BYTES,
            .max_compressed = SLUG_MAX_COMPRESSED,
            .uid = -1,
        };
}

/* ---- messages ----------------------------------------------------------- */

static void add_quoted(struct strbuf *sb, const char *s)
{
        static const char hex[] = "0123456789abcdef";
        size_t n = s ? strlen(s) : 0, shown = MIN(n, (size_t)200);

        (void)strbuf_addch(sb, '"');
        for (size_t i = 0; i < shown; i++) {
                unsigned char c = (unsigned char)s[i];

                if (c == '"' || c == '\\') {
                        char esc[2] = {'\\', (char)c};
                        (void)strbuf_add(sb, esc, sizeof(esc));
                } else if (c < 0x20 || c >= 0x7f) {
                        char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
                        (void)strbuf_add(sb, esc, sizeof(esc));
                } else
                        (void)strbuf_addch(sb, (char)c);
        }
        if (shown < n)
                (void)strbuf_addstr(sb, "...");
        (void)strbuf_addch(sb, '"');
}

/* Keeps only printable ASCII of a message that came from elsewhere
 * (libarchive's, which may name paths). */
static void add_printable(struct strbuf *sb, const char *s)
{
        for (; s && *s; s++)
                (void)strbuf_addch(sb, (*s >= 0x20 && *s < 0x7f) ? *s : '?');
}

/* Sets *ret_error to "<what>[ "<name>"][: <detail>]" and returns r. */
static int fail(char **ret_error, int r, const char *name, const char *detail, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail(char **ret_error, int r, const char *name, const char *detail, const char *fmt, ...)
{
        struct strbuf sb = STRBUF_INIT;
        _cleanup_free_ char *what = NULL;
        va_list ap;

        if (!ret_error || r == -ENOMEM)
                return r;
        va_start(ap, fmt);
        if (vasprintf(&what, fmt, ap) < 0)
                what = NULL;
        va_end(ap);
        add_printable(&sb, what ? what : "error");
        if (name) {
                (void)strbuf_addch(&sb, ' ');
                add_quoted(&sb, name);
        }
        if (detail && *detail) {
                (void)strbuf_addstr(&sb, ": ");
                add_printable(&sb, detail);
        }
        *ret_error = strbuf_detach(&sb, NULL);
        return r;
}

/* libarchive's errno for an error, as a negative errno; its own refusals
 * (ARCHIVE_ERRNO_MISC and friends) become `fallback`. */
static int archive_neg_errno(struct archive *a, int fallback)
{
        int e = archive_errno(a);

        if (e == ENOMEM)
                return -ENOMEM;
        /* libarchive's ARCHIVE_ERRNO_FILE_FORMAT (private) is EILSEQ: a
         * damaged or foreign archive. */
        if (e == EILSEQ)
                return fallback;
        return e > 0 ? -e : fallback;
}

/* ---- working directory -------------------------------------------------- */

static int enter_dir(const char *dir, int *ret_saved)
{
        _cleanup_close_ int saved = -EBADF, fd = -EBADF;

        saved = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (saved < 0)
                saved = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (saved < 0)
                return -errno;
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fchdir(fd) < 0)
                return -errno;
        *ret_saved = TAKE_FD(saved);
        return 0;
}

static void leave_dir(int *saved)
{
        if (*saved >= 0) {
                /* Fails only when the directory we came from is gone;
                 * then there is nothing to go back to. */
                (void)!fchdir(*saved);
                (void)close(*saved);
                *saved = -EBADF;
        }
}

/* ---- unpacking ---------------------------------------------------------- */

/* Our own check before libarchive's: no absolute path, no ".." component. */
static bool path_safe(const char *p)
{
        if (!p || !*p || p[0] == '/')
                return false;
        for (const char *c = p; *c;) {
                size_t n = strcspn(c, "/");

                if (n == 2 && c[0] == '.' && c[1] == '.')
                        return false;
                c += n;
                while (*c == '/')
                        c++;
        }
        return true;
}

/* Whether p names the top directory itself: "", ".", "./", ".//." ... */
static bool path_is_top(const char *p)
{
        for (; *p; p++)
                if (*p != '.' && *p != '/')
                        return false;
        /* only dots and slashes, and no ".." (checked before) */
        return true;
}

static int copy_data(struct archive *in, struct archive *out, const char *name, uint64_t *total,
                     uint64_t max, char **ret_error)
{
        for (;;) {
                const void *buf;
                size_t size;
                la_int64_t offset;
                int r;

                r = archive_read_data_block(in, &buf, &size, &offset);
                if (r == ARCHIVE_EOF)
                        return 0;
                if (r < ARCHIVE_WARN)
                        return fail(ret_error, archive_neg_errno(in, -EINVAL), name,
                                    archive_error_string(in), "reading");
                if (size > max - MIN(*total, max))
                        return fail(ret_error, -EFBIG, NULL, NULL,
                                    "the files add up to more than %llu MiB unpacked",
                                    (unsigned long long)(max >> 20));
                *total += size;
                if (archive_write_data_block(out, buf, size, offset) < ARCHIVE_WARN)
                        return fail(ret_error, archive_neg_errno(out, -EIO), name,
                                    archive_error_string(out), "writing");
        }
}

static int extract(struct archive *in, const struct slug_opts *opts, char **ret_error)
{
        struct archive *out = NULL;
        struct archive_entry *e;
        uint64_t entries = 0, bytes = 0;
        int flags, r;

        flags = ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_PERM |
                ARCHIVE_EXTRACT_TIME;
        if (opts->uid >= 0)
                flags |= ARCHIVE_EXTRACT_OWNER;

        out = archive_write_disk_new();
        if (!out)
                return -ENOMEM;
        if (archive_write_disk_set_options(out, flags) != ARCHIVE_OK) {
                r = fail(ret_error, -EINVAL, NULL, archive_error_string(out), "setting up");
                goto finish;
        }

        for (;;) {
                const char *name;
                mode_t type;

                if (opts->cancelled && opts->cancelled(opts->userdata)) {
                        r = fail(ret_error, -ECANCELED, NULL, NULL, "cancelled");
                        goto finish;
                }
                r = archive_read_next_header(in, &e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN) {
                        r = fail(ret_error, archive_neg_errno(in, -EINVAL), NULL,
                                 archive_error_string(in), "this is not a readable tar archive");
                        goto finish;
                }
                name = archive_entry_pathname(e);
                if (!name) {
                        r = fail(ret_error, -EPERM, NULL, NULL,
                                 "refusing an entry whose name is not readable");
                        goto finish;
                }
                if (++entries > opts->max_entries) {
                        r = fail(ret_error, -E2BIG, NULL, NULL, "more than %llu files",
                                 (unsigned long long)opts->max_entries);
                        goto finish;
                }
                if (!path_safe(name)) {
                        r = fail(ret_error, -EPERM, name, NULL,
                                 "refusing an absolute path or one with '..':");
                        goto finish;
                }
                type = archive_entry_filetype(e);
                if (archive_entry_hardlink(e) ||
                    (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)) {
                        r = fail(ret_error, -EPERM, name, NULL,
                                 "refusing a hard link, device, FIFO or socket:");
                        goto finish;
                }
                if (path_is_top(name))
                        continue;
                if (type == AE_IFREG && archive_entry_size_is_set(e) &&
                    (uint64_t)archive_entry_size(e) >
                        opts->max_bytes - MIN(bytes, opts->max_bytes)) {
                        r = fail(ret_error, -EFBIG, NULL, NULL,
                                 "the files add up to more than %llu MiB unpacked",
                                 (unsigned long long)(opts->max_bytes >> 20));
                        goto finish;
                }

                archive_entry_set_perm(e, archive_entry_perm(e) & 0755);
                if (opts->uid >= 0) {
                        archive_entry_set_uid(e, opts->uid);
                        archive_entry_set_gid(e, opts->uid);
                }
                archive_entry_set_uname(e, NULL);
                archive_entry_set_gname(e, NULL);
                archive_entry_acl_clear(e);
                archive_entry_xattr_clear(e);
                archive_entry_set_fflags(e, 0, 0);

                r = archive_write_header(out, e);
                if (r < ARCHIVE_WARN) {
                        r = fail(ret_error, archive_neg_errno(out, -EPERM), name,
                                 archive_error_string(out), "refusing");
                        goto finish;
                }
                if (type == AE_IFREG) {
                        r = copy_data(in, out, name, &bytes, opts->max_bytes, ret_error);
                        if (r < 0)
                                goto finish;
                }
                r = archive_write_finish_entry(out);
                if (r < ARCHIVE_WARN) {
                        r = fail(ret_error, archive_neg_errno(out, -EIO), name,
                                 archive_error_string(out), "writing");
                        goto finish;
                }
        }

        /* Applies the deferred directory modes and times. */
        if (archive_write_close(out) != ARCHIVE_OK) {
                r = fail(ret_error, archive_neg_errno(out, -EIO), NULL, archive_error_string(out),
                         "finishing");
                goto finish;
        }
        r = 0;
finish:
        archive_write_free(out);
        return r;
}

static int extract_open(struct archive **ret)
{
        struct archive *in = archive_read_new();

        if (!in)
                return -ENOMEM;
        /* Only these: archive_read_support_filter_all() would also run
         * external programs (lrzip, lzop, grzip) on hostile input. */
        if (archive_read_support_format_tar(in) != ARCHIVE_OK ||
            archive_read_support_filter_zstd(in) != ARCHIVE_OK ||
            archive_read_support_filter_gzip(in) != ARCHIVE_OK) {
                archive_read_free(in);
                return -ENOTSUP;
        }
        *ret = in;
        return 0;
}

int slug_extract_fd(int fd, const char *dir, const struct slug_opts *opts, char **ret_error)
{
        _cleanup_close_ int saved = -EBADF;
        struct archive *in = NULL;
        int r;

        r = extract_open(&in);
        if (r < 0)
                return fail(ret_error, r, NULL, NULL, "libarchive lacks tar, zstd or gzip support");
        r = enter_dir(dir, &saved);
        if (r < 0) {
                archive_read_free(in);
                return fail(ret_error, r, dir, strerror(-r), "cannot enter");
        }
        if (archive_read_open_fd(in, fd, READ_BLOCK) != ARCHIVE_OK)
                r = fail(ret_error, archive_neg_errno(in, -EINVAL), NULL, archive_error_string(in),
                         "this is not a readable tar archive");
        else
                r = extract(in, opts, ret_error);
        archive_read_free(in);
        leave_dir(&saved);
        return r;
}

int slug_extract(const char *path, const char *dir, const struct slug_opts *opts, char **ret_error)
{
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return fail(ret_error, -errno, path, strerror(errno), "cannot open");
        if (fstat(fd, &st) < 0)
                return fail(ret_error, -errno, path, strerror(errno), "cannot open");
        if (!S_ISREG(st.st_mode))
                return fail(ret_error, -EINVAL, path, NULL, "not a regular file:");
        return slug_extract_fd(fd, dir, opts, ret_error);
}

/* ---- packing ------------------------------------------------------------ */

struct sink {
        int fd;
        uint64_t written, max;
        bool over; /* the slug outgrew max */
};

static la_ssize_t sink_write(struct archive *a, void *userdata, const void *buf, size_t n)
{
        struct sink *s = userdata;
        const char *p = buf;
        size_t left = n;

        if (n > s->max - MIN(s->written, s->max)) {
                s->over = true;
                archive_set_error(a, EFBIG, "the slug is larger than %llu MiB",
                                  (unsigned long long)(s->max >> 20));
                return -1;
        }
        while (left > 0) {
                ssize_t k = write(s->fd, p, left);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        archive_set_error(a, errno, "writing the slug: %s", strerror(errno));
                        return -1;
                }
                p += k;
                left -= (size_t)k;
        }
        s->written += n;
        return (la_ssize_t)n;
}

static int pack_entry_data(struct archive *disk, struct archive *out, const char *name,
                           char **ret_error)
{
        static const char zeros[4096];
        la_int64_t pos = 0;

        for (;;) {
                const void *buf;
                size_t size;
                la_int64_t offset;
                int r;

                r = archive_read_data_block(disk, &buf, &size, &offset);
                if (r == ARCHIVE_EOF)
                        return 0;
                if (r < ARCHIVE_WARN)
                        return fail(ret_error, archive_neg_errno(disk, -EIO), name,
                                    archive_error_string(disk), "reading");
                /* Sparse detection is off, but holes would be zeros. */
                while (pos < offset) {
                        size_t k = (size_t)MIN((la_int64_t)sizeof(zeros), offset - pos);

                        if (archive_write_data(out, zeros, k) < 0)
                                return fail(ret_error, archive_neg_errno(out, -EIO), NULL,
                                            archive_error_string(out), "writing the slug");
                        pos += (la_int64_t)k;
                }
                if (size > 0 && archive_write_data(out, buf, size) < 0)
                        return fail(ret_error, archive_neg_errno(out, -EIO), NULL,
                                    archive_error_string(out), "writing the slug");
                pos += (la_int64_t)size;
        }
}

static int pack(struct archive *disk, struct archive *out, const struct slug_opts *opts,
                char **ret_error)
{
        struct archive_entry *e;
        uint64_t entries = 0, bytes = 0;
        int r;

        e = archive_entry_new();
        if (!e)
                return -ENOMEM;
        for (;;) {
                const char *name;
                mode_t type;

                if (opts->cancelled && opts->cancelled(opts->userdata)) {
                        r = fail(ret_error, -ECANCELED, NULL, NULL, "cancelled");
                        goto finish;
                }
                archive_entry_clear(e);
                r = archive_read_next_header2(disk, e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN) {
                        r = fail(ret_error, archive_neg_errno(disk, -EIO), NULL,
                                 archive_error_string(disk), "reading the app directory");
                        goto finish;
                }
                name = archive_entry_pathname(e);
                type = archive_entry_filetype(e);
                if (!name)
                        continue;
                if (streq(name, ".")) {
                        archive_read_disk_descend(disk);
                        continue;
                }
                if (streq(name, "./.git"))
                        continue;
                if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
                        continue; /* FIFOs, sockets: nothing an app ships */
                if (++entries > opts->max_entries) {
                        r = fail(ret_error, -E2BIG, NULL, NULL,
                                 "the app has more than %llu files; the slug could not be "
                                 "unpacked",
                                 (unsigned long long)opts->max_entries);
                        goto finish;
                }
                if (type == AE_IFREG) {
                        uint64_t size = (uint64_t)archive_entry_size(e);

                        if (size > opts->max_bytes - MIN(bytes, opts->max_bytes)) {
                                r = fail(ret_error, -EFBIG, NULL, NULL,
                                         "the app's files add up to more than %llu MiB; the "
                                         "slug could not be unpacked",
                                         (unsigned long long)(opts->max_bytes >> 20));
                                goto finish;
                        }
                        bytes += size;
                }
                if (type == AE_IFDIR)
                        archive_read_disk_descend(disk);

                archive_entry_set_uid(e, 0);
                archive_entry_set_gid(e, 0);
                archive_entry_set_uname(e, NULL);
                archive_entry_set_gname(e, NULL);
                archive_entry_set_perm(e, archive_entry_perm(e) & 0777);
                archive_entry_set_nlink(e, 1);
                /* Not a link to an earlier entry: each file stands alone. */
                archive_entry_set_hardlink(e, NULL);

                r = archive_write_header(out, e);
                if (r < ARCHIVE_WARN) {
                        r = fail(ret_error, archive_neg_errno(out, -EIO), name,
                                 archive_error_string(out), "archiving");
                        goto finish;
                }
                if (type == AE_IFREG) {
                        r = pack_entry_data(disk, out, name, ret_error);
                        if (r < 0)
                                goto finish;
                }
        }
        r = 0;
finish:
        archive_entry_free(e);
        return r;
}

int slug_pack(const char *dir, const char *path, const struct slug_opts *opts, uint64_t *ret_size,
              char **ret_error)
{
        _cleanup_free_ char *err = NULL, *tmp = NULL, *parent = NULL;
        _cleanup_close_ int fd = -EBADF, saved = -EBADF, parent_fd = -EBADF;
        struct archive *disk = NULL, *out = NULL;
        struct sink sink = {.max = opts->max_compressed};
        const char *slash;
        int r;

        if (asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;
        slash = strrchr(path, '/');
        if (!slash)
                parent = strdup(".");
        else
                parent = strndup(path, slash == path ? 1 : (size_t)(slash - path));
        if (!parent)
                return -ENOMEM;

        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return fail(ret_error, -errno, tmp, strerror(errno), "cannot create");
        sink.fd = fd;

        r = enter_dir(dir, &saved);
        if (r < 0) {
                r = fail(&err, r, dir, strerror(-r), "cannot enter");
                goto fail;
        }

        disk = archive_read_disk_new();
        out = archive_write_new();
        if (!disk || !out) {
                r = -ENOMEM;
                goto fail;
        }
        if (archive_read_disk_set_symlink_physical(disk) != ARCHIVE_OK ||
            archive_read_disk_set_behavior(
                disk, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS | ARCHIVE_READDISK_NO_XATTR |
                          ARCHIVE_READDISK_NO_ACL | ARCHIVE_READDISK_NO_FFLAGS |
                          ARCHIVE_READDISK_NO_SPARSE) != ARCHIVE_OK ||
            archive_write_set_format_pax_restricted(out) != ARCHIVE_OK ||
            archive_write_add_filter_zstd(out) != ARCHIVE_OK ||
            archive_write_set_bytes_in_last_block(out, 1) != ARCHIVE_OK) {
                r = fail(&err, -ENOTSUP, NULL, NULL, "libarchive lacks pax or zstd support");
                goto fail;
        }
        if (archive_write_open(out, &sink, NULL, sink_write, NULL) != ARCHIVE_OK) {
                r = fail(&err, archive_neg_errno(out, -EIO), NULL, archive_error_string(out),
                         "starting the slug");
                goto fail;
        }
        if (archive_read_disk_open(disk, ".") != ARCHIVE_OK) {
                r = fail(&err, archive_neg_errno(disk, -EIO), dir, archive_error_string(disk),
                         "cannot read");
                goto fail;
        }
        r = pack(disk, out, opts, &err);
        if (r >= 0 && archive_write_close(out) != ARCHIVE_OK)
                r = fail(&err, archive_neg_errno(out, -EIO), NULL, archive_error_string(out),
                         "finishing the slug");
        if (r < 0 && sink.over) {
                err = mfree(err);
                r = fail(&err, -EFBIG, NULL, NULL,
                         "the compressed slug is larger than the limit of %llu MiB",
                         (unsigned long long)(sink.max >> 20));
        }
        if (r < 0)
                goto fail;
        archive_read_free(disk);
        archive_write_free(out);
        disk = out = NULL;
        leave_dir(&saved);

        if (fsync(fd) < 0 || close(TAKE_FD(fd)) < 0) {
                r = fail(&err, -errno, tmp, strerror(errno), "writing");
                goto fail;
        }
        if (rename(tmp, path) < 0) {
                r = fail(&err, -errno, path, strerror(errno), "cannot rename to");
                goto fail;
        }
        parent_fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (parent_fd >= 0)
                (void)fsync(parent_fd);
        if (ret_size)
                *ret_size = sink.written;
        return 0;

fail:
        if (disk)
                archive_read_free(disk);
        if (out)
                archive_write_free(out);
        leave_dir(&saved);
        (void)unlink(tmp);
        if (ret_error && err)
                *ret_error = TAKE_PTR(err);
        return r;
}
