/*
 * http_sync: the CLI transport. One request with curl_easy_perform, or a
 * batch of requests on a libcurl multi handle driven by curl_multi_perform
 * and curl_multi_poll (the CLIs have no event loop).
 *
 * Invariants:
 * - Requests are built by http.c (http_transfer_new) when they are added,
 *   so the spec is copied at once (libcurl copies string options; the
 *   transfer copies the body) and a refused spec is known up front.
 * - A batch item is in exactly one of two lists: queued (sorted by start
 *   time, FIFO among equal times) or active (its easy handle is in the
 *   multi). At most max_parallel items are active.
 * - Callbacks run from http_batch_run's loop after the handle has been
 *   removed from the multi, never from inside libcurl, so they may add items.
 */

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <curl/curl.h>

#include "date.h"
#include "http_sync.h"
#include "log.h"
#include "queue.h"
#include "xmalloc.h"

#define HTTP_BATCH_POLL_MAX_MS 1000

struct http_sync {
	CURLSH *share;
};

struct http_batch_item {
	TAILQ_ENTRY(http_batch_item) entry;
	struct http_transfer *transfer; /* NULL when the spec was refused */
	char *cause;			/* why it was refused */
	uint64_t start_ms;
	http_batch_done_cb *cb;
	void *arg;
};

TAILQ_HEAD(http_batch_list, http_batch_item);

struct http_batch {
	struct http_sync *sync;
	CURLM *multi;
	int max_parallel;
	int active_count;
	bool running;
	bool dispatching;
	struct http_batch_list queued;
	struct http_batch_list active;
};

struct http_sync *
http_sync_new(void)
{
	struct http_sync *sync = xcalloc(1, sizeof(*sync));
	CURLSHcode sc;

	sync->share = curl_share_init();
	if (sync->share == NULL) {
		log_warning("http: cannot create a curl share object, connections are not reused");
		return sync;
	}
	sc = curl_share_setopt(sync->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	if (sc == CURLSHE_OK)
		sc = curl_share_setopt(sync->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	if (sc != CURLSHE_OK) {
		log_warning("http: curl share setup failed (%s), connections are not reused",
			    curl_share_strerror(sc));
		(void)curl_share_cleanup(sync->share); /* unused, nothing to report */
		sync->share = NULL;
	}
	return sync;
}

void
http_sync_free(struct http_sync *sync)
{
	if (sync == NULL)
		return;
	if (sync->share != NULL && curl_share_cleanup(sync->share) != CURLSHE_OK)
		log_warning("http: curl share still in use at free");
	free(sync);
}

int
http_sync_outcome_errno(enum http_outcome outcome)
{
	switch (outcome) {
	case HTTP_DONE:
		return 0;
	case HTTP_TIMEOUT:
		return -ETIMEDOUT;
	case HTTP_CONNECT_FAILED:
		return -ECONNREFUSED;
	case HTTP_TLS_FAILED:
		return -EPROTO;
	case HTTP_TOO_LARGE:
		return -EFBIG;
	case HTTP_CANCELLED:
		return -ECANCELED;
	case HTTP_FAILED:
		return -EIO;
	}
	return -EIO;
}

/* Fills resp for a request that never reached the network. */
static void
http_sync_fail_response(struct http_response *resp, const char *why)
{
	resp->outcome = HTTP_FAILED;
	free(resp->body);
	resp->body = xstrdup("");
	resp->body_len = 0;
	(void)snprintf(resp->error, sizeof(resp->error), "%s", why);
}

int
http_sync_perform(struct http_sync *sync, const struct http_request_spec *spec,
		  struct http_response *resp_out)
{
	struct http_transfer *t = NULL;
	char *cause = NULL;
	CURLcode code;
	int r;

	http_response_init(resp_out);
	t = http_transfer_new(spec, sync->share, &cause);
	if (t == NULL) {
		http_sync_fail_response(resp_out, cause);
		r = -EINVAL;
		goto out;
	}
	code = curl_easy_perform(http_transfer_easy(t));
	http_transfer_finish(t, (int)code, resp_out);
	r = http_sync_outcome_errno(resp_out->outcome);
out:
	free(cause);
	http_transfer_free(t);
	return r;
}

static uint64_t
http_batch_now_ms(void)
{
	return (uint64_t)date_monotonic_ms();
}

struct http_batch *
http_batch_new(struct http_sync *sync, int max_parallel)
{
	struct http_batch *batch = xcalloc(1, sizeof(*batch));

	batch->sync = sync;
	batch->max_parallel = max_parallel < 1 ? 1 : max_parallel;
	TAILQ_INIT(&batch->queued);
	TAILQ_INIT(&batch->active);
	batch->multi = curl_multi_init();
	if (batch->multi == NULL)
		log_warning("http: curl_multi_init failed; the batch will fail its requests");
	return batch;
}

static void
http_batch_item_free(struct http_batch_item *item)
{
	http_transfer_free(item->transfer);
	free(item->cause);
	free(item);
}

void
http_batch_free(struct http_batch *batch)
{
	struct http_batch_item *item;

	if (batch == NULL)
		return;
	assert(!batch->dispatching);
	while ((item = TAILQ_FIRST(&batch->active)) != NULL) {
		TAILQ_REMOVE(&batch->active, item, entry);
		(void)curl_multi_remove_handle(batch->multi, http_transfer_easy(item->transfer));
		http_batch_item_free(item);
	}
	while ((item = TAILQ_FIRST(&batch->queued)) != NULL) {
		TAILQ_REMOVE(&batch->queued, item, entry);
		http_batch_item_free(item);
	}
	if (batch->multi != NULL && curl_multi_cleanup(batch->multi) != CURLM_OK)
		log_warning("http: curl_multi_cleanup failed");
	free(batch);
}

int
http_batch_add(struct http_batch *batch, const struct http_request_spec *spec, long delay_ms,
	       http_batch_done_cb *cb, void *arg)
{
	struct http_batch_item *item;
	struct http_batch_item *after = NULL;
	struct http_batch_item *it;

	if (batch == NULL || spec == NULL || cb == NULL)
		return -EINVAL;
	item = xcalloc(1, sizeof(*item));
	item->cb = cb;
	item->arg = arg;
	item->start_ms = http_batch_now_ms() + (uint64_t)(delay_ms > 0 ? delay_ms : 0);
	item->transfer = http_transfer_new(spec, batch->sync->share, &item->cause);
	if (item->transfer != NULL)
		http_transfer_set_private(item->transfer, item);

	/* keep the queue sorted by start time, FIFO among equal times */
	TAILQ_FOREACH_REVERSE(it, &batch->queued, http_batch_list, entry)
	{
		if (it->start_ms <= item->start_ms) {
			after = it;
			break;
		}
	}
	if (after != NULL)
		TAILQ_INSERT_AFTER(&batch->queued, after, item, entry);
	else
		TAILQ_INSERT_HEAD(&batch->queued, item, entry);
	return 0;
}

/*
 * Calls the item's callback once with resp and frees the item. The item is
 * already out of both lists and out of the multi.
 */
static void
http_batch_dispatch(struct http_batch *batch, struct http_batch_item *item,
		    struct http_response *resp)
{
	batch->dispatching = true;
	item->cb(batch, resp, item->arg);
	batch->dispatching = false;
	http_response_clear(resp);
	http_batch_item_free(item);
}

static void
http_batch_fail_item(struct http_batch *batch, struct http_batch_item *item, const char *why)
{
	struct http_response resp;

	http_response_init(&resp);
	http_sync_fail_response(&resp, why);
	http_batch_dispatch(batch, item, &resp);
}

/* Completes an active item whose transfer ended with code. */
static void
http_batch_finish_item(struct http_batch *batch, struct http_batch_item *item, CURLcode code)
{
	struct http_response resp;

	TAILQ_REMOVE(&batch->active, item, entry);
	batch->active_count--;
	(void)curl_multi_remove_handle(batch->multi, http_transfer_easy(item->transfer));
	http_response_init(&resp);
	http_transfer_finish(item->transfer, (int)code, &resp);
	http_batch_dispatch(batch, item, &resp);
}

/* Moves due items into the multi while slots are free. */
static void
http_batch_start_due(struct http_batch *batch, uint64_t now)
{
	struct http_batch_item *item;
	CURLMcode mc;

	while (batch->active_count < batch->max_parallel &&
	       (item = TAILQ_FIRST(&batch->queued)) != NULL && item->start_ms <= now) {
		TAILQ_REMOVE(&batch->queued, item, entry);
		if (item->transfer == NULL) {
			http_batch_fail_item(batch, item, item->cause);
			continue;
		}
		mc = curl_multi_add_handle(batch->multi, http_transfer_easy(item->transfer));
		if (mc != CURLM_OK) {
			http_batch_fail_item(batch, item, curl_multi_strerror(mc));
			continue;
		}
		TAILQ_INSERT_TAIL(&batch->active, item, entry);
		batch->active_count++;
	}
}

/* Completes every remaining item with HTTP_FAILED after a multi failure. */
static void
http_batch_fail_all(struct http_batch *batch, const char *why)
{
	struct http_batch_item *item;

	while ((item = TAILQ_FIRST(&batch->active)) != NULL) {
		TAILQ_REMOVE(&batch->active, item, entry);
		batch->active_count--;
		(void)curl_multi_remove_handle(batch->multi, http_transfer_easy(item->transfer));
		http_batch_fail_item(batch, item, why);
	}
	while ((item = TAILQ_FIRST(&batch->queued)) != NULL) {
		TAILQ_REMOVE(&batch->queued, item, entry);
		http_batch_fail_item(batch, item, why);
	}
}

/* Drains finished transfers; returns how many completed. */
static int
http_batch_drain(struct http_batch *batch)
{
	CURLMsg *msg;
	int left;
	int done = 0;

	while ((msg = curl_multi_info_read(batch->multi, &left)) != NULL) {
		void *priv = NULL;
		CURLcode code;

		if (msg->msg != CURLMSG_DONE)
			continue;
		code = msg->data.result;
		if (curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv) != CURLE_OK ||
		    priv == NULL)
			continue;
		http_batch_finish_item(batch, priv, code);
		done++;
	}
	return done;
}

/* How long to wait: until the next queued start when a slot is free, capped. */
static int
http_batch_wait_ms(struct http_batch *batch, uint64_t now)
{
	struct http_batch_item *first = TAILQ_FIRST(&batch->queued);
	uint64_t wait = HTTP_BATCH_POLL_MAX_MS;

	if (first != NULL && batch->active_count < batch->max_parallel) {
		if (first->start_ms <= now)
			return 0;
		if (first->start_ms - now < wait)
			wait = first->start_ms - now;
	}
	return (int)wait;
}

int
http_batch_run(struct http_batch *batch)
{
	int r = 0;

	assert(!batch->running && !batch->dispatching);
	batch->running = true;
	if (batch->multi == NULL) {
		http_batch_fail_all(batch, "curl multi handle unavailable");
		r = -EIO;
		goto out;
	}
	while (!TAILQ_EMPTY(&batch->queued) || !TAILQ_EMPTY(&batch->active)) {
		CURLMcode mc;
		int still = 0;
		int done;

		http_batch_start_due(batch, http_batch_now_ms());
		if (TAILQ_EMPTY(&batch->active)) {
			if (TAILQ_EMPTY(&batch->queued))
				break;
			/* nothing running: sleep until the next start time */
			mc = curl_multi_poll(batch->multi, NULL, 0,
					     http_batch_wait_ms(batch, http_batch_now_ms()), NULL);
			if (mc != CURLM_OK)
				goto multi_failed;
			continue;
		}
		mc = curl_multi_perform(batch->multi, &still);
		if (mc != CURLM_OK)
			goto multi_failed;
		done = http_batch_drain(batch);
		if (done > 0 || TAILQ_EMPTY(&batch->active))
			continue;
		mc = curl_multi_poll(batch->multi, NULL, 0,
				     http_batch_wait_ms(batch, http_batch_now_ms()), NULL);
		if (mc != CURLM_OK)
			goto multi_failed;
		continue;
multi_failed:
		log_warning("http: curl multi failed: %s", curl_multi_strerror(mc));
		http_batch_fail_all(batch, curl_multi_strerror(mc));
		r = -EIO;
		break;
	}
out:
	batch->running = false;
	return r;
}
