/* Naming buildpacks: what a user writes in `pier buildpacks:set X` or in a
 * .buildpacks file, and what it means.
 *
 * A spec is either a built-in name ("python"; "heroku/python" is accepted
 * as the same thing, for Heroku users' muscle memory) or a git URL: anything
 * containing "://" or ending in ".git" (before an optional "#REF").  Git URLs
 * must use https://, http:// or git:// -- not ssh (it would use the host's
 * keys), not file:// or a bare path (it would read the host's disk).  A
 * "#REF" suffix names the branch, tag or commit to check out.
 *
 * bp_spec_parse() fills *ret with malloc'd strings (free with
 * bp_spec_done()); bp_list_parse() reads a .buildpacks file -- one spec a
 * line, blank lines and '#' comments ignored, CRLF accepted -- into a newly
 * allocated struct bp_list (free with bp_list_free(), NULL is fine).
 * Errors: -EINVAL (not a valid spec), -E2BIG (over a bound below), -ENOMEM;
 * except for -ENOMEM, *ret_error (when ret_error is non-NULL) gets a
 * malloc'd one-line message for the user (for the file: naming the line).
 * Outputs are untouched on failure.
 */
#pragma once

#include <stddef.h>

#define BP_LIST_MAX      16 /* buildpacks one app may run in order */
#define BP_LIST_MAX_SIZE (16 * 1024)
#define BP_SPEC_MAX      2048
#define BP_NAME_MAX      63
#define BP_REF_MAX       255

enum bp_kind {
        BP_BUILTIN,
        BP_GIT,
};

struct bp_spec {
        enum bp_kind kind;
        char *name; /* BP_BUILTIN: ^[a-z0-9][a-z0-9_-]{0,62}$ */
        char *url;  /* BP_GIT: the URL without "#REF" */
        char *ref;  /* BP_GIT: the ref or NULL; ^[A-Za-z0-9_][A-Za-z0-9._/-]*$ */
};

struct bp_list {
        size_t n;
        struct bp_spec *specs;
};

int bp_spec_parse(const char *s, struct bp_spec *ret, char **ret_error);
void bp_spec_done(struct bp_spec *spec);

int bp_list_parse(const char *text, size_t len, struct bp_list **ret, char **ret_error);
void bp_list_free(struct bp_list *list);

/* Appends a parsed spec (moved: *spec is left empty) to list.  Returns 0,
 * -E2BIG past BP_LIST_MAX, -ENOMEM. */
int bp_list_push(struct bp_list *list, struct bp_spec *spec);
