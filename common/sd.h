#pragma once

/*
 * sd: the service side of the systemd protocol (STYLE.md 9) for trhubd and
 * trhub-sim, the only file that includes <systemd/sd-daemon.h> (built as
 * its own small library, libtrhub_sd, so the CLIs do not link libsystemd).
 * Built without libsystemd (no HAVE_SYSTEMD), notifications go nowhere and
 * no watchdog runs; sockets passed by socket activation are still taken,
 * from $LISTEN_PID/$LISTEN_FDS read by hand, so the services work the same
 * outside systemd.
 *
 * Notifications are best effort: a failure to reach $NOTIFY_SOCKET is
 * logged at debug level and otherwise ignored (systemd will time the unit
 * out, which is the right outcome).
 */

#include <stddef.h>

#include <event2/event.h>

struct sd_watchdog;

/* READY=1, with STATUS=status when status is not NULL. */
void sd_notify_ready(const char *status);
/* STATUS=<formatted text> (one line; newlines are replaced by spaces). */
void sd_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* RELOADING=1 and MONOTONIC_USEC=<now>, at the start of every reload. */
void sd_notify_reloading(void);
/* STOPPING=1, at the start of shutdown. */
void sd_notify_stopping(void);

/*
 * Takes the sockets passed by socket activation ($LISTEN_FDS/$LISTEN_PID,
 * read once; the variables are unset so nothing inherits them). Each fd is
 * verified with sd_is_socket_inet to be a listening TCP socket and made
 * non-blocking; any other fd is logged and closed. On return *fds_out is an
 * allocated array the caller owns (free()), holding *n_out fds the caller
 * owns, or NULL with 0 when none were passed. Returns 0, or a negative errno
 * when the environment is malformed (nothing is returned then).
 */
int sd_listen_sockets(int **fds_out, size_t *n_out);

/*
 * When the service manager enabled the watchdog for this process
 * ($WATCHDOG_USEC/$WATCHDOG_PID), returns a timer on base sending WATCHDOG=1
 * at half the interval from the event loop, so a stuck loop trips it.
 * Returns NULL when no watchdog is enabled. base is borrowed and must
 * outlive the timer. The caller owns the result (sd_watchdog_free).
 */
struct sd_watchdog *sd_watchdog_new(struct event_base *base);
/* Stops and frees the timer. NULL-safe. */
void sd_watchdog_free(struct sd_watchdog *w);
