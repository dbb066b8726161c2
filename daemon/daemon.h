#pragma once

/*
 * daemon: one running trhubd. It owns the event base and every module,
 * wires them together (model changes to the SSE stream, Sync and the
 * statistics refresher; statistics to Sync and the stream), and runs the
 * service life cycle systemd sees (STYLE.md 9):
 *
 *   starting -> listening -> rebuilding -> ready        READY=1
 *                                      \-> degraded     READY=1, /readyz 503,
 *                                                       rebuild retried
 *   SIGHUP:  RELOADING=1 + MONOTONIC_USEC, reload, READY=1 (also on failure)
 *   SIGTERM/SIGINT: STOPPING=1, stop accepting, let pending Sync writes
 *                   finish for up to DAEMON_DRAIN_MS, exit 0
 */

#include "config.h"

struct daemon;

/* How long shutdown waits for pending Sync writes. */
#define DAEMON_DRAIN_MS 3000
/*
 * A stopping lease holder then waits this long for its Sync requests in
 * flight to end, and its lease release this long again (the unit's
 * TimeoutStopSec, 15 s, covers all three).
 */
#define DAEMON_RELEASE_TIMEOUT_MS 2000

struct daemon_options {
	/* The config source, kept for SIGHUP reloads (borrowed; must outlive the daemon). */
	const struct config_source *source;
};

/*
 * Builds every module and starts listening (socket activation or bind).
 * cfg becomes the daemon's on success. Returns 0, or a negative errno with
 * an allocated *cause_out (the caller logs it and exits 1; cfg is still the
 * caller's).
 */
int daemon_new(struct config *cfg, const struct daemon_options *options, struct daemon **daemon_out,
	       char **cause_out);
/* Runs the loop until a graceful stop. Returns the process exit code. */
int daemon_run(struct daemon *d);
/* Frees everything, HTTP clients before the event base. NULL-safe. */
void daemon_free(struct daemon *d);
