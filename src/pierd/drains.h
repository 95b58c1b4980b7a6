/* Log drains at run time: every line of an app forwarded to the endpoints
 * the store lists for it (SPEC.md §6, docs/api.md "Log drains").
 *
 *   syslog://, syslog+tls://   RFC 5424 frames, octet-counted (RFC 6587),
 *                              over one TCP (TLS) connection per drain
 *   https://, http://          logplex-1 batches POSTed with libcurl
 *
 * Each drain is a log hub consumer with a queue of its own
 * (DRAINS_QUEUE_LINES): a drain that is slow or down only loses its own
 * oldest lines (and forwards the hub's L10 notice), it never slows the app,
 * the tails or the other drains.  Everything runs on the pierd loop:
 * connects and writes are non-blocking, names are resolved off the loop
 * (getaddrinfo_a), HTTP runs on libcurl's multi interface driven by the
 * loop.  A drain that fails is retried with back-off, 0.5 s doubling to
 * 30 s.
 *
 * Lifecycle: drains_new() starts every drain the store has; the API calls
 * drains_add() after it stored a new drain, drains_remove() after it
 * deleted one, drains_app_removed() when an app is destroyed.
 * drains_free() stops them all; call it before loghub_free().  Problems
 * are logged to pierd's log (once per outage, not once per retry).
 */
#pragma once

#include "net/loop.h"
#include "pierd/loghub.h"
#include "store/store.h"

#define DRAINS_QUEUE_LINES 10000 /* lines a drain may be behind */

struct drains_config {
        /* PEM file of the CAs that syslog+tls and https drains are checked
         * against; NULL: the system's. */
        const char *ca_file;
};

struct drains;

/* Fails (-EINVAL, logged) when the CA file cannot be loaded. */
int drains_new(struct loop *loop, struct loghub *hub, struct store *store,
               const struct drains_config *cfg, struct drains **ret);
struct drains *drains_free(struct drains *m);
/* At shutdown: runs the loop until every drain that is connected has sent
 * what waits for it, or `ms` have passed. */
void drains_flush(struct drains *m, unsigned ms);

/* Starts forwarding to a drain just stored; the drain is copied. */
int drains_add(struct drains *m, const struct drain *d);
/* Stops the drain with that id (lines not yet sent are dropped). */
void drains_remove(struct drains *m, const char *drain_id);
/* Stops every drain of the app. */
void drains_app_removed(struct drains *m, const char *app_id);
