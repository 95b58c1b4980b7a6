/* A pre-parser guard for JSON from clients.
 *
 * json_depth_ok() scans len bytes once, without allocating, and returns false
 * if '[' / '{' nesting ever goes deeper than max_depth (brackets inside
 * strings, including escaped quotes, do not count).  It does not validate
 * anything else: a true result only means the real parser (jansson, which
 * recurses) will not be asked to go deeper than max_depth.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

bool json_depth_ok(const char *s, size_t len, unsigned max_depth);
