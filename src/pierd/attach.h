/* Attached one-off dynos (`pier run` without --detach): the dyno's stdio
 * held by pierd until its client attaches over an upgraded HTTP connection
 * (GET /apps/APP/dynos/NAME/attach, `Upgrade: pier-attach`), then spliced
 * to it on the loop with the frames of lib/attachproto.h.
 *
 * Lifecycle.  attach_run() makes a session and starts the dyno through the
 * supervisor with pipes (stdin, stdout, stderr) or a pty as its stdio; the
 * dyno runs at once, and what it writes before the client comes waits in
 * the pipe or pty (it blocks when that is full), so nothing is lost.  A
 * session is owned by this module and ends once the dyno is gone and its
 * client was told the exit status, left, or never came:
 *
 *   - no attach within ATTACH_WAIT_MS: the dyno is stopped;
 *   - the client disconnects (or breaks the protocol): SIGHUP, then the
 *     supervisor's stop (SIGTERM, SIGKILL after the grace);
 *   - the dyno exits: its output is passed on to the end (bounded by
 *     DRAIN_MS), then the EXIT frame, then the connection is closed.
 *
 * Only the token that made the dyno may attach, and only once.  The
 * upgraded socket is MHD's: it is closed with MHD_upgrade_action(), after
 * which the API's loop is woken (the `wake` callback) so MHD cleans up.
 */
#pragma once

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "net/loop.h"
#include "pierd/dynos.h"

struct attach_spec {
        const char *app_id;
        int64_t release;
        const char *command;
        const char *token_id; /* only this token may attach */
        bool tty;
        unsigned rows, cols;  /* the pty's first size (tty only; 0: 24x80) */
        uid_t tty_uid;        /* the pty's owner (the app's uid), 0: pierd's */
        char *const *env;     /* extra KEY=VALUE, NULL-terminated, or NULL */
};

/* Starts the dyno; its name (run.NNNN) in ret_name (80 bytes).  0, or a
 * negative errno (-EMFILE: too many sessions; the supervisor's errors). */
int attach_run(struct loop *l, struct supervisor *sup, const struct attach_spec *spec,
               char *ret_name);

/* Reserves the waiting session of the app's dyno `name` for an attach by
 * token_id: 0 with its serial (for attach_upgraded()); -ENOENT (no such
 * session), -EPERM (another token made it), -EALREADY (attached already).
 * wake(wake_ud) makes MHD run soon: called after the socket is closed. */
int attach_claim(const char *app_id, const char *name, const char *token_id,
                 void (*wake)(void *ud), void *wake_ud, uint64_t *ret_serial);

/* The 101 went out: splice the socket (MHD's) to the dyno.  extra: bytes
 * MHD read after the request.  A session gone meanwhile: the socket is
 * closed at once. */
void attach_upgraded(uint64_t serial, int sock, const char *extra, size_t extra_len,
                     struct MHD_UpgradeResponseHandle *urh);

/* pierd stops (before MHD does): every client's connection is closed;
 * sessions end with their dynos, which the supervisor stops. */
void attach_shutdown(void);
