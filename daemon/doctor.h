#pragma once

/*
 * doctor: trhubd --doctor. Checks a configuration against the Twilio it
 * names (or trhub-sim) the way a person setting trhub up would want it
 * checked, and prints one line per check, each failure with its fix:
 *
 *   - the credentials: the auth token and, when set, the API key pair, each
 *     on its own (a 401 names the setting and where it was read from);
 *   - the account SID, workspace SID, workflow SID and Sync service SID: each
 *     fetched; one that does not exist is named with where it was read from,
 *     and the ones that do exist are listed;
 *   - the workspace's Event Callback URL against public_url +
 *     "/taskrouter_event", and its events filter against the events trhubd
 *     needs;
 *   - a public_url Twilio cannot reach (loopback or private) while the
 *     configured Twilio is the real one.
 *
 * The checks are synchronous (http_sync): --doctor is a one-shot command,
 * not part of the daemon's event loop.
 */

#include <stdio.h>

struct config;

/* Exit statuses of trhubd --doctor. */
enum doctor_status {
	DOCTOR_READY = 0,     /* every check passed (warnings allowed) */
	DOCTOR_NOT_READY = 1, /* at least one check failed */
};

/*
 * Runs every check for cfg (borrowed) and prints the report to out.
 * http_global_init must have run. Returns an enum doctor_status value.
 */
int doctor_run(const struct config *cfg, FILE *out);

/*
 * Prints the one line --doctor shows when the configuration itself cannot
 * be loaded (cause, borrowed) and returns DOCTOR_NOT_READY.
 */
int doctor_config_failed(const char *cause, FILE *out);
