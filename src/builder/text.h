/* Quoting untrusted text for messages that reach a user's terminal.
 *
 * Pushed repositories and buildpacks put arbitrary bytes in file names,
 * ref names and YAML; a message that names them must not carry control
 * characters (escape sequences) to the pusher's terminal.
 */
#pragma once

#include <stddef.h>

#include "lib/strbuf.h"

/* How many bytes of the quoted text are shown; the rest becomes "...". */
#define TEXT_QUOTE_SHOWN 64

/* Appends s[0..n) to sb in double quotes, with '"', '\\' and every byte
 * outside printable ASCII escaped (\xNN), cut after TEXT_QUOTE_SHOWN bytes.
 * Returns 0 or -ENOMEM (sb then holds a prefix of the quoted text). */
int text_quote(struct strbuf *sb, const char *s, size_t n);

/* Builds a malloc'd message "line N: <fmt...>" for parser errors, or NULL
 * on OOM.  A %Q-free printf format: callers quote with text_quote() first. */
char *text_line_error(size_t line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
