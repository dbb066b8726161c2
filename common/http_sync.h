#pragma once

/*
 * Blocking HTTP for the CLIs (no libevent): one request at a time with
 * http_sync_perform, or a parallel batch driven by the libcurl multi
 * interface (struct http_batch). Requests are built by http.c exactly as the
 * daemon's http_async builds them.
 *
 * A struct http_sync owns a libcurl share object that shares the connection
 * cache and DNS cache, so consecutive requests (and batches) reuse
 * connections. curl_global_init must have run once before http_sync_new.
 *
 * Neither this module nor http.c retries: retry and backoff decisions live
 * above (twilio_retry_next), and a batch callback re-adds a request with a
 * delay to retry it.
 */

#include <stddef.h>

#include "http.h"

struct http_sync;
struct http_batch;

/*
 * Returns a new transport the caller owns (http_sync_free). Aborts only on
 * allocation failure; a libcurl share object that cannot be configured is
 * logged and the transport works without connection sharing.
 */
struct http_sync *http_sync_new(void);
/* NULL-safe. No batch created on it may be used afterwards. */
void http_sync_free(struct http_sync *sync);

/*
 * Performs one request and waits for it; spec and everything it points to
 * are borrowed for the call.
 *
 * resp_out is always filled: the call initialises it first (so any previous
 * content must have been cleared by the caller) and the caller releases it
 * with http_response_clear. Returns 0 when a response arrived
 * (resp_out->outcome == HTTP_DONE, whatever its HTTP status), otherwise a
 * negative errno matching the outcome, with resp_out->error saying why:
 *   -EINVAL       the spec was refused (missing URL, plain http to a
 *                 non-loopback host, header with CR/LF); outcome HTTP_FAILED
 *   -ETIMEDOUT    HTTP_TIMEOUT
 *   -ECONNREFUSED HTTP_CONNECT_FAILED (also DNS failures)
 *   -EPROTO       HTTP_TLS_FAILED
 *   -EFBIG        HTTP_TOO_LARGE (the response exceeded max_response_bytes)
 *   -EIO          HTTP_FAILED (send/receive errors, anything else)
 */
int http_sync_perform(struct http_sync *sync, const struct http_request_spec *spec,
		      struct http_response *resp_out);

/* The negative errno http_sync_perform returns for an outcome (0 for HTTP_DONE). */
int http_sync_outcome_errno(enum http_outcome outcome);

/*
 * Batch completion callback: called exactly once per request added to the
 * batch, from inside http_batch_run but never from inside a libcurl
 * callback. resp is borrowed for the call. The callback may add requests to
 * the same batch (retries with a delay, next pages); it must not free the
 * batch or call http_batch_run.
 */
typedef void http_batch_done_cb(struct http_batch *batch, const struct http_response *resp,
				void *arg);

/*
 * A set of requests run in parallel, at most max_parallel at a time
 * (max_parallel < 1 means 1). sync is borrowed (its share object is used)
 * and must outlive the batch. The caller owns the result.
 */
struct http_batch *http_batch_new(struct http_sync *sync, int max_parallel);
/*
 * Frees the batch and every request still queued or running, without
 * calling their callbacks. Must not be called from a batch callback.
 * NULL-safe.
 */
void http_batch_free(struct http_batch *batch);

/*
 * Queues a request; spec is copied (the caller may free it on return). The
 * request starts no sooner than delay_ms from now (0 or less: as soon as a
 * slot is free), so a callback retries with backoff by re-adding with a
 * delay. cb will run exactly once from http_batch_run, also for a spec the
 * transport refuses (missing URL, plain http to a non-loopback host, header
 * with CR/LF): that request completes with outcome HTTP_FAILED and the reason
 * in resp->error, without touching the network. Returns 0, or -EINVAL when
 * batch, spec or cb is NULL (then nothing is queued).
 */
int http_batch_add(struct http_batch *batch, const struct http_request_spec *spec, long delay_ms,
		   http_batch_done_cb *cb, void *arg);

/*
 * Runs until nothing is queued or running, calling each request's callback
 * exactly once (including the ones callbacks add). Returns 0, or -EIO when
 * libcurl's multi interface failed (then the remaining requests are
 * completed with outcome HTTP_FAILED so every callback still runs once).
 * Blocks; never call it from a batch callback.
 */
int http_batch_run(struct http_batch *batch);
