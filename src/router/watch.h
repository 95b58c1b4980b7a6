/* pier-router --api: follow pierd's routing table.
 *
 * The watcher is a process of its own, forked and supervised by the master
 * (main.c), so that neither the workers nor the master's loop (which relays
 * access logs and restarts workers) ever waits on pierd.  It long-polls
 *
 *     GET URL/router/table?since=V     Authorization: Bearer TOKEN
 *
 * (docs/api.md) with a small blocking HTTP/1.1 client, checks each new table
 * with table_parse() and publishes it with watch_publish() to the file the
 * workers were started on, which they reload exactly as they do for
 * --table: the file is the one path by which any table reaches a worker.
 *
 * When pierd cannot be reached or answers with an error, the last table
 * stays; the watcher logs once per outage, retries with back-off, and logs
 * again when it is back.  SIGHUP re-reads the token file and reconnects at
 * once; SIGTERM or SIGINT ends watch_run().
 *
 * Ownership: watch_run() only borrows cfg; it owns everything it opens.
 */
#pragma once

#include <stddef.h>

struct watch_config {
        const char *url;        /* http://HOST[:PORT][/PREFIX] */
        const char *token_path; /* a file holding an API token */
        const char *table_path; /* the file the workers load */
        const char *domain;     /* as the workers parse tables */
};

/* Whether url is one the watcher can use; -EINVAL with *ret_error (static
 * text for the user) if not. */
int watch_check_url(const char *url, const char **ret_error);

/* Reads the token from path (surrounding whitespace dropped): 0 with a
 * malloc'd string the caller frees, -EINVAL when the file holds no single
 * printable token, or the negative errno of opening or reading it. */
int watch_read_token(const char *path, char **ret);

/* Writes text to path through a temporary file in the same directory and a
 * rename(), so that a reader sees the old table or the new one, never a
 * part.  0 or a negative errno. */
int watch_publish(const char *path, const char *text, size_t len);

/* Runs the watcher until SIGTERM/SIGINT (the caller has them blocked, as
 * the master does); returns the process exit status. */
int watch_run(const struct watch_config *cfg);
