#pragma once

/*
 * Outgoing HTTP on a libevent loop through the libcurl multi interface, as
 * STYLE.md section 7 prescribes (one CURLM and one timer per client; the
 * timer and socket callbacks only arm events; every socket_action is followed
 * by a drain of curl_multi_info_read; no curl calls inside curl callbacks).
 *
 * Retries, backoff and coalescing live above this module; it never retries.
 */

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "http.h"

struct http_async;
struct http_async_request;

/*
 * Completion callback: called exactly once per started request, from the
 * event loop (never from inside libcurl), unless the request was cancelled.
 * resp is borrowed for the call; the request is freed after it returns. The
 * callback may start new requests or cancel other ones, but must not free
 * the client.
 */
typedef void http_async_done_cb(const struct http_response *resp, void *arg);

struct http_async_options {
	long max_total_connections; /* 0: 64 */
	long max_host_connections;  /* 0: 16 */
};

struct http_async_stats {
	uint64_t started;
	uint64_t finished_done;	  /* a response arrived */
	uint64_t finished_failed; /* any other outcome except cancel */
	uint64_t cancelled;
	uint64_t in_flight;
};

/* base is borrowed and must outlive the client; options may be NULL. */
struct http_async *http_async_new(struct event_base *base,
				  const struct http_async_options *options);
/*
 * Cancels every request in flight (their callbacks do not run), runs
 * curl_multi_cleanup while the socket records still exist, then frees.
 * Must not be called from a completion callback. NULL-safe.
 */
void http_async_free(struct http_async *client);

/*
 * Starts a request; spec is copied. Returns the request handle (owned by the
 * client; valid until its callback returns or it is cancelled), or NULL with
 * an allocated *cause_out when the spec is refused (the callback never runs).
 */
struct http_async_request *http_async_start(struct http_async *client,
					    const struct http_request_spec *spec,
					    http_async_done_cb *cb, void *arg, char **cause_out);
/* Cancels: the callback will not run. Safe from any callback of ours. */
void http_async_cancel(struct http_async_request *req);
void http_async_get_stats(const struct http_async *client, struct http_async_stats *out);
