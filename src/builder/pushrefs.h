/* What a push asks for: the "OLD NEW REFNAME" lines git feeds the
 * pre-receive hook, and which of them pier deploys.
 *
 * pushrefs_parse() returns a newly allocated struct pushrefs in *ret (free
 * with pushrefs_free(), NULL is fine).  Bounds: at most PUSHREFS_MAX_LINES
 * lines of at most PUSHREFS_MAX_LINE bytes.  Object names are 40 (SHA-1) or
 * 64 (SHA-256) lowercase hex digits, both of a line the same length; the
 * ref name is the rest of the line (CR and blanks around it trimmed, no
 * control characters).  Empty lines are skipped.  Errors: -EINVAL malformed,
 * -E2BIG over the bounds, -ENOMEM; except for -ENOMEM, *ret_error (if
 * ret_error is non-NULL) gets a malloc'd one-line message.  *ret is untouched
 * on failure.
 *
 * pushrefs_pick() applies pier's rule: a push deploys exactly one ref, and
 * it must be refs/heads/main or refs/heads/master, updated or created (not
 * deleted).  It returns 0 with the index of that update in *ret_index, or
 * -EPERM with a malloc'd message for the pusher in *ret_message (one line,
 * printable ASCII), or -ENOMEM.  For an empty push it returns -ENOENT and
 * sets nothing: there is nothing to build.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define PUSHREFS_MAX_LINES 100
#define PUSHREFS_MAX_LINE  1024
#define PUSHREFS_MAX_SIZE  (PUSHREFS_MAX_LINES * (PUSHREFS_MAX_LINE + 1))

#define OBJECT_HEX_MAX 64

struct ref_update {
        char old_oid[OBJECT_HEX_MAX + 1];
        char new_oid[OBJECT_HEX_MAX + 1];
        char *ref;
};

struct pushrefs {
        size_t n;
        struct ref_update *updates;
};

int pushrefs_parse(const char *text, size_t len, struct pushrefs **ret, char **ret_error);
void pushrefs_free(struct pushrefs *pr);

int pushrefs_pick(const struct pushrefs *pr, size_t *ret_index, char **ret_message);

/* Whether OID is all zeros (git's "no object": a ref being created or
 * deleted). */
bool oid_is_null(const char *oid);

/* Whether s is a full object name: 40 or 64 lowercase hex digits. */
bool oid_valid(const char *s);
