/* Files the builder handles as root in directories an app controls.
 *
 * Nothing here follows a symlink inside the tree it works on: directories
 * are entered with openat(O_NOFOLLOW | O_DIRECTORY), entries are changed
 * with the *at() calls and AT_SYMLINK_NOFOLLOW, so a symlink planted by a
 * build (to /etc/shadow, to pierd's state) is handled as the link itself.
 * All functions return 0 or a negative errno.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Depth limit for walk_tree(): deeper trees are refused with -ELOOP.  Each
 * level holds an fd. */
#define WALK_MAX_DEPTH 256

enum {
        WALK_CONTINUE = 0,
        WALK_SKIP = 1, /* do not descend (the entry may be gone) */
};

/* Called for each entry below the top, parents first.  dir_fd/name locate
 * it, path is relative to the top ("a/b").  Returns WALK_*, or a negative
 * errno to stop the walk with it. */
typedef int (*walk_fn)(int dir_fd, const char *name, const char *path, const struct stat *st,
                       void *userdata);

int walk_tree(int top_fd, walk_fn fn, void *userdata);

/* Removes NAME under dir_fd and, if it is a directory, everything in it,
 * at any depth (deep trees are flattened as they are removed, so the fds
 * in use stay bounded).  A missing NAME is not an error. */
int rm_rf_at(int dir_fd, const char *name);

/* Gives top_fd's directory and everything below it to uid:gid. */
int chown_tree(int top_fd, uid_t uid, gid_t gid);

/* Creates PATH and any missing parents with MODE (existing ones are left
 * as they are). */
int mkdir_p(const char *path, mode_t mode);

/* Reads the regular file NAME (a single path component, not followed if a
 * symlink: -ELOOP) under dir_fd, at most max bytes (-EFBIG past that), into
 * a malloc'd NUL-terminated buffer.  FIFOs and devices are -EINVAL, without
 * blocking. */
int read_file_at(int dir_fd, const char *name, size_t max, char **ret, size_t *ret_len);

/* Whether dir_fd/dir/name is a regular file with an execute bit, with
 * neither dir nor name a symlink. */
bool executable_at(int dir_fd, const char *dir, const char *name);
