/* What the pusher sees: every line goes to stdout with one write(2), at
 * once (git relays the hook's output as "remote: ..." lines as it comes).
 *
 *     -----> Step header                      output_step()
 *            detail, indented 7 spaces        output_detail()
 *
 * Our own messages are one line each; control characters in them (which
 * could come from a pushed file name) are replaced by '?'.  Buildpack
 * output goes through output_stream() as it is, escape sequences and all,
 * up to OUTPUT_STREAM_MAX bytes in all; past that one line says so and the
 * rest is dropped (the build goes on).
 *
 * When stdout breaks (the pusher went away), output_broken() becomes true
 * and further output is dropped; a build then gives up, since git will not
 * update the branch either.  Process-global state, single-threaded.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define OUTPUT_STREAM_MAX (4u * 1024 * 1024)

void output_step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void output_detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A step header whose end comes later, on the same line:
 * output_step_begin("Launching...") ... output_step_end(" done, v%d", 7).
 * Any other output in between starts a new line first. */
void output_step_begin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void output_step_end(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Passes n bytes of a child's output on to the pusher. */
void output_stream(const char *buf, size_t n);

bool output_broken(void);
