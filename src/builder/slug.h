/* Slugs: the compiled app as a tarball (pax, zstd), and the safe unpacking
 * of tarballs from untrusted sources (a pushed commit's `git archive`, a
 * slug for a dyno).  Depends on libarchive and libc only, nothing else of
 * the builder, so that pierd can link it too.
 *
 * Unpacking (slug_extract, slug_extract_fd) writes only inside DIR:
 *   - entries with a ".." component or an absolute path are refused, and
 *     so is any entry whose path would lead through a symlink (libarchive's
 *     ARCHIVE_EXTRACT_SECURE_* flags, plus our own check first): a symlink
 *     in the archive is created as a symlink and never followed, whatever
 *     it points at -- an absolute or escaping target only means something
 *     inside the sandbox that later runs the app;
 *   - only files, directories and symlinks: hard links, devices, FIFOs and
 *     sockets are refused;
 *   - modes keep their rwx bits minus group/other write (& 0755); set-id
 *     and sticky bits are dropped; the owner is the caller, or opts->uid
 *     (and gid = uid) when that is >= 0;
 *   - at most opts->max_entries entries and opts->max_bytes bytes of file
 *     data, counted as written, not as declared.
 * The first refused entry stops the extraction with an error; what was
 * written before it stays (the caller removes DIR).  Accepted input: tar
 * (ustar, pax, GNU), plain or compressed with zstd or gzip.
 *
 * Packing (slug_pack) archives the tree under DIR as "./name" entries:
 * files, directories and symlinks (stored as symlinks, never followed),
 * without crossing into other mounts, without the top-level ".git", with
 * no owner names, uid/gid 0, no ACLs, xattrs or file flags.  It writes
 * PATH.tmp, fsyncs it, renames it to PATH and fsyncs the directory; on any
 * failure nothing is left behind.  The same entry and byte limits apply
 * (so that every slug it makes can be unpacked again), plus
 * opts->max_compressed on the size of the file.
 *
 * Both change the working directory while they run and put it back before
 * returning: not for use from threads.  Both return 0 or a negative errno:
 * -EPERM (a refused entry), -E2BIG (too many entries), -EFBIG (too many
 * bytes), -EINVAL (not a readable archive), -ECANCELED (opts->cancelled
 * said so), -ENOMEM, or the errno of a failed system call.  Except for
 * -ENOMEM, *ret_error (when ret_error is non-NULL) gets a malloc'd
 * one-line message in printable ASCII (names from the archive are quoted
 * and escaped); the caller free()s it.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Bounds on what unpacking a push or a slug may cost. */
#define SLUG_MAX_ENTRIES    200000
#define SLUG_MAX_BYTES      (UINT64_C(2) << 30)           /* 2 GiB unpacked */
#define SLUG_MAX_COMPRESSED (UINT64_C(500) * 1024 * 1024) /* Heroku: 500 MB */

struct slug_opts {
        uint64_t max_entries;
        uint64_t max_bytes;
        uint64_t max_compressed; /* slug_pack only */
        int64_t uid;             /* extraction: owner of what is made, or -1 */
        /* Polled between entries; returning true stops with -ECANCELED. */
        bool (*cancelled)(void *userdata);
        void *userdata;
};

/* Fills *opts with the SLUG_MAX_* limits, uid -1 and no cancellation. */
void slug_opts_init(struct slug_opts *opts);

int slug_extract(const char *path, const char *dir, const struct slug_opts *opts, char **ret_error);

/* The same reading the archive from FD (not closed; read to the end on
 * success, partly on failure). */
int slug_extract_fd(int fd, const char *dir, const struct slug_opts *opts, char **ret_error);

/* *ret_size (may be NULL) gets the size of the slug file. */
int slug_pack(const char *dir, const char *path, const struct slug_opts *opts, uint64_t *ret_size,
              char **ret_error);
