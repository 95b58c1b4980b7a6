/* The output of a buildpack's bin/release: YAML, of which pier reads only
 * the default_process_types map.
 *
 *     ---
 *     addons: []
 *     config_vars:
 *       PATH: /app/bin:/usr/bin
 *     default_process_types:
 *       web: python app.py
 *       worker: "celery -A tasks worker"
 *
 * release_yaml_parse() understands just that subset: top-level "key:" or
 * "key: value" lines; under default_process_types, indented "type: command"
 * lines, with the command plain (a " #" starts a comment), 'single-quoted'
 * ('' is a quote) or "double-quoted" (\" \\ \n \t \/ escapes).  A top-level
 * "default_process_types: {}" is an empty map.  Other top-level keys and
 * everything indented under them are skipped unread, as are blank lines,
 * comment lines, "---" and "...".  Tabs in indentation, nested values under
 * a process type, flow mappings with entries and control characters other
 * than tab in a command are errors.
 *
 * The result has the shape of a Procfile: a struct procfile (lib/procfile.h)
 * in *ret, types lower-cased and checked with process_type_valid(), in the
 * order given; free it with procfile_free().  No default_process_types key
 * gives an empty one.  Errors as for procfile_parse(): -EINVAL malformed
 * (a duplicate type too), -E2BIG over the limits, -ENOMEM; on an error
 * other than -ENOMEM, *ret_error (if ret_error is non-NULL) gets a malloc'd
 * one-line message naming the line.  *ret is untouched on failure.
 */
#pragma once

#include <stddef.h>

#include "lib/procfile.h"

#define RELEASE_YAML_MAX_SIZE (64 * 1024)
#define RELEASE_YAML_MAX_LINE 8192

int release_yaml_parse(const char *text, size_t len, struct procfile **ret, char **ret_error);
