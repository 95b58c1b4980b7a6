/* Strict UTF-8 validation (RFC 3629): no overlong forms, no surrogates
 * (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequences.  NUL
 * bytes are valid UTF-8; callers that forbid them check separately.
 *
 * Pure function over caller-owned bytes; nothing is allocated.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

bool utf8_valid(const char *s, size_t len);

struct strbuf;
/* Appends s to out with every byte that does not start a valid sequence
 * replaced by U+FFFD (for JSON, which must be UTF-8).  0 or -ENOMEM. */
int utf8_sanitize(const char *s, size_t len, struct strbuf *out);

/* Appends s to out fit for a terminal: colour (SGR: ESC [ digits and ';'
 * then 'm') and tabs stay; every other control character -- C0, DEL, ESC
 * that starts anything else, C1 as UTF-8 (U+0080..U+009F) -- becomes '?',
 * so that bytes from an app cannot move the cursor, rewrite the line,
 * retitle the window or set the clipboard (OSC 52).  0 or -ENOMEM. */
int term_sanitize(const char *s, size_t len, struct strbuf *out);
