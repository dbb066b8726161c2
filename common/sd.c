/*
 * sd: the systemd service protocol for trhubd and trhub-sim (STYLE.md 9),
 * as tmux's compat/systemd.c keeps it: one file owns <systemd/sd-daemon.h>,
 * and without HAVE_SYSTEMD every notification is a no-op so the services
 * never need an #ifdef.
 *
 * What must stay true:
 * - READY=1 is sent by the caller only when the listeners accept and the
 *   initial rebuild has finished or failed into degraded mode; this file
 *   only formats and sends.
 * - RELOADING=1 always carries MONOTONIC_USEC (systemd >= 253 checks it for
 *   Type=notify-reload; 252 ignores it).
 * - The watchdog is fed from a libevent timer, never from a thread or a
 *   signal handler, so a stuck loop stops feeding it.
 */

#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/util.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "config.h"
#include "log.h"
#include "num.h"
#include "sd.h"
#include "xmalloc.h"

/* Longest STATUS= text we send; longer text is cut. */
#define SD_LISTEN_FDS_FIRST 3
#define SD_LISTEN_FDS_MAX   64
#define SD_STATUS_MAX	    256

struct sd_watchdog {
	struct event *timer;
};

#ifdef HAVE_SYSTEMD

static void
sd_send(const char *state)
{
	int r = sd_notify(0, state);

	if (r < 0)
		log_debug("sd_notify failed: %s", state);
}

void
sd_notify_ready(const char *status)
{
	char msg[SD_STATUS_MAX + 32];

	if (status == NULL) {
		sd_send("READY=1");
		return;
	}
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
	sd_send(msg);
}

void
sd_notify_status(const char *fmt, ...)
{
	char text[SD_STATUS_MAX];
	char msg[SD_STATUS_MAX + 16];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (char *p = text; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	}
	snprintf(msg, sizeof(msg), "STATUS=%s", text);
	sd_send(msg);
}

void
sd_notify_reloading(void)
{
	struct timespec ts;
	char msg[64];
	unsigned long long usec = 0;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0)
		usec = (unsigned long long)ts.tv_sec * 1000000ULL +
		       (unsigned long long)ts.tv_nsec / 1000ULL;
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu", usec);
	sd_send(msg);
}

void
sd_notify_stopping(void)
{
	sd_send("STOPPING=1");
}

int
sd_listen_sockets(int **fds_out, size_t *n_out)
{
	int n = sd_listen_fds(1);
	int *fds = NULL;
	size_t kept = 0;

	*fds_out = NULL;
	*n_out = 0;
	if (n < 0) {
		log_err_errno(n, "socket activation: cannot read LISTEN_FDS");
		return n;
	}
	if (n == 0)
		return 0;
	fds = xcalloc((size_t)n, sizeof(*fds));
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		int r = sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0);

		if (r <= 0) {
			log_warning("socket activation: fd %d is not a listening TCP socket, "
				    "closing it",
				    fd);
			(void)close(fd); /* not ours to use; nothing to do on failure */
			continue;
		}
		if (evutil_make_socket_nonblocking(fd) < 0 ||
		    evutil_make_socket_closeonexec(fd) < 0) {
			log_warning("socket activation: cannot configure fd %d, closing it", fd);
			(void)close(fd);
			continue;
		}
		fds[kept++] = fd;
	}
	if (kept == 0) {
		free(fds);
		return 0;
	}
	*fds_out = fds;
	*n_out = kept;
	return 0;
}

static void
sd_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	sd_send("WATCHDOG=1");
}

struct sd_watchdog *
sd_watchdog_new(struct event_base *base)
{
	uint64_t usec = 0;
	struct sd_watchdog *w = NULL;
	struct timeval tv;
	int r = sd_watchdog_enabled(0, &usec);

	if (r <= 0 || usec == 0)
		return NULL;
	usec /= 2;
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	w = xcalloc(1, sizeof(*w));
	w->timer = event_new(base, -1, EV_PERSIST, sd_watchdog_cb, w);
	if (w->timer == NULL || event_add(w->timer, &tv) < 0) {
		log_warning("watchdog: cannot arm the keep-alive timer");
		sd_watchdog_free(w);
		return NULL;
	}
	log_info("watchdog: keep-alive every %llu ms", (unsigned long long)(usec / 1000));
	sd_send("WATCHDOG=1");
	return w;
}

#else /* !HAVE_SYSTEMD */

void
sd_notify_ready(const char *status)
{
}

void
sd_notify_status(const char *fmt, ...)
{
}

void
sd_notify_reloading(void)
{
}

void
sd_notify_stopping(void)
{
}

int
sd_listen_sockets(int **fds_out, size_t *n_out)
{
	const char *pid = config_env("LISTEN_PID");
	const char *fds_text = config_env("LISTEN_FDS");
	int64_t want_pid = 0;
	int64_t n = 0;
	int *fds = NULL;

	*fds_out = NULL;
	*n_out = 0;
	if (pid == NULL || fds_text == NULL || num_parse_i64(pid, 1, INT64_MAX, &want_pid) < 0 ||
	    want_pid != (int64_t)getpid())
		return 0;
	if (num_parse_i64(fds_text, 0, SD_LISTEN_FDS_MAX, &n) < 0) {
		log_err("socket activation: cannot read LISTEN_FDS");
		return -EINVAL;
	}
	if (n == 0)
		return 0;
	fds = xcalloc((size_t)n, sizeof(*fds));
	for (int64_t i = 0; i < n; i++) {
		fds[i] = SD_LISTEN_FDS_FIRST + (int)i;
		if (evutil_make_socket_nonblocking(fds[i]) < 0 ||
		    evutil_make_socket_closeonexec(fds[i]) < 0)
			log_warning("socket activation: cannot configure fd %d", fds[i]);
	}
	*fds_out = fds;
	*n_out = (size_t)n;
	return 0;
}

struct sd_watchdog *
sd_watchdog_new(struct event_base *base)
{
	return NULL;
}

#endif /* HAVE_SYSTEMD */

void
sd_watchdog_free(struct sd_watchdog *w)
{
	if (w == NULL)
		return;
	if (w->timer != NULL)
		event_free(w->timer);
	free(w);
}
