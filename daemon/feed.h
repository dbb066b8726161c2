#pragma once

/*
 * feed: is the workspace still sending its events here? Two watches, each
 * raising a warning (log, /readyz detail, stream event "warning") and
 * clearing it when the cause goes away:
 *
 *   - callback: the workspace's Event Callback URL must be public_url +
 *     "/taskrouter_event". feed_start reads the workspace (and with
 *     workspace_callback = manage first sets the URL); feed_check_callback
 *     reads it again (daemon.c calls it after every reconciliation).
 *   - silence: no event for events_silence_warn_s while the model holds open
 *     tasks. A timer checks every quarter of that period (at most 30 s).
 *
 * Requests go through http_async with the daemon's twilio client; each
 * check has at most one request in flight, cancelled by feed_free.
 */

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

struct feed;
struct http_async;
struct model;
struct twilio;

enum feed_warning {
	FEED_WARN_CALLBACK, /* the Event Callback URL is not ours */
	FEED_WARN_SILENCE,  /* no event for a while with open tasks */
	FEED_WARN_COUNT,
};

/*
 * A warning was raised (text non-NULL, borrowed for the call) or cleared
 * (text NULL). Called from the event loop; may broadcast and log.
 */
typedef void feed_warning_cb(enum feed_warning which, const char *text, void *arg);

struct feed_options {
	const char *public_url;	   /* borrowed; must outlive the feed */
	const char *workspace_sid; /* borrowed */
	bool manage_callback;	   /* workspace_callback = manage */
	int silence_warn_s;	   /* 0: no silence watch */
};

/* Everything borrowed must outlive the feed. Never fails. */
struct feed *feed_new(struct event_base *base, struct http_async *http, const struct twilio *tw,
		      const struct model *model, const struct feed_options *o, feed_warning_cb *cb,
		      void *arg);
/* Cancels its request and timer. NULL-safe. */
void feed_free(struct feed *f);

/* Once trhubd serves: the callback check (or set) and the silence timer. */
void feed_start(struct feed *f);
/* Reads the workspace's Event Callback URL again (no-op while a read is in flight). */
void feed_check_callback(struct feed *f);
/* An event arrived now (monotonic ms): the silence clock restarts. */
void feed_event_seen(struct feed *f, int64_t now_ms);
/* The current warning text of which, or NULL (borrowed until the next change). */
const char *feed_warning_text(const struct feed *f, enum feed_warning which);
/* The stream/JSON name of a warning: "callback" or "eventsSilent". */
const char *feed_warning_name(enum feed_warning which);
