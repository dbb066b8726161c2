/*
 * http_async: libcurl's multi interface on a libevent loop, the canonical
 * pattern of STYLE.md section 7 (after curl's hiperfifo.c / multi-event.c).
 *
 * Invariants a reader must keep:
 * - One CURLM and one libevent timer per client. The curl timer callback only
 *   arms or deletes that timer; the curl socket callback only maintains the
 *   fd → event mapping (a per-socket record registered with
 *   curl_multi_assign). Neither calls into the rest of trhub.
 * - Every curl_multi_socket_action is followed by a drain of
 *   curl_multi_info_read. Completions are dispatched from the drain, outside
 *   any libcurl callback, so a completion callback may start or cancel
 *   requests. It may not free the client: `dispatching` asserts that.
 * - A request is either live (in client->requests, its handle in the multi)
 *   or freed. Its callback runs exactly once, or never after
 *   http_async_cancel. in_curl counts how deep we are inside libcurl; a
 *   cancel arriving then only marks the request, and a zero-delay event
 *   (reap) removes it after libcurl has returned.
 * - curl_multi_cleanup runs before the socket records and the timer are
 *   freed, because it may still call the socket and timer callbacks.
 */

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "http_async.h"
#include "log.h"
#include "queue.h"
#include "xmalloc.h"

#define HTTP_ASYNC_DEFAULT_MAX_TOTAL 64L
#define HTTP_ASYNC_DEFAULT_MAX_HOST  16L

struct http_async_request {
	LIST_ENTRY(http_async_request) entry;
	struct http_async *client;
	struct http_transfer *transfer;
	http_async_done_cb *cb;
	void *arg;
	bool cancelled; /* cancel arrived inside libcurl; reap removes it */
};

/* One per socket libcurl asks us to watch. */
struct http_async_sock {
	LIST_ENTRY(http_async_sock) entry;
	curl_socket_t fd;
	struct event *ev;
};

struct http_async {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	struct event *reap;
	LIST_HEAD(, http_async_request) requests;
	LIST_HEAD(, http_async_sock) socks;
	struct http_async_request *current; /* whose callback is running */
	int in_curl;
	bool dispatching;
	struct http_async_stats stats;
};

static void http_async_drain(struct http_async *client);

/* CURLMOPT_TIMERFUNCTION: only arms (or deletes) the one timer. */
static int
http_async_timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct http_async *client = arg;
	struct timeval tv;

	if (timeout_ms < 0) {
		(void)evtimer_del(client->timer); /* deleting an unarmed timer is fine */
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(client->timer, &tv) == 0 ? 0 : -1;
}

/* Converts libevent readiness to CURL_CSELECT_* and lets libcurl act on it. */
static void
http_async_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_async *client = arg; /* the client: socket_action may free the record */
	int action = 0;
	int running = 0;
	CURLMcode mc;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	client->in_curl++;
	mc = curl_multi_socket_action(client->multi, fd, action, &running);
	client->in_curl--;
	if (mc != CURLM_OK)
		log_warning("http: curl_multi_socket_action: %s", curl_multi_strerror(mc));
	http_async_drain(client);
}

static void
http_async_timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_async *client = arg;
	int running = 0;
	CURLMcode mc;

	client->in_curl++;
	mc = curl_multi_socket_action(client->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	client->in_curl--;
	if (mc != CURLM_OK)
		log_warning("http: curl_multi_socket_action: %s", curl_multi_strerror(mc));
	http_async_drain(client);
}

/* CURLMOPT_SOCKETFUNCTION: only maintains the fd → event mapping. */
static int
http_async_socket_cb(CURL *easy, curl_socket_t s, int what, void *arg, void *sockp)
{
	struct http_async *client = arg;
	struct http_async_sock *rec = sockp;
	short kind = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		if (rec != NULL) {
			event_free(rec->ev);
			LIST_REMOVE(rec, entry);
			free(rec);
		}
		return 0;
	}
	if (rec == NULL) {
		rec = xcalloc(1, sizeof(*rec));
		rec->fd = s;
		rec->ev = event_new(client->base, s, 0, http_async_event_cb, client);
		if (rec->ev == NULL) {
			free(rec);
			return -1;
		}
		LIST_INSERT_HEAD(&client->socks, rec, entry);
		if (curl_multi_assign(client->multi, s, rec) != CURLM_OK)
			log_warning("http: curl_multi_assign failed for fd %d", (int)s);
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	(void)event_del(rec->ev); /* may not be pending yet */
	if (event_assign(rec->ev, client->base, s, kind, http_async_event_cb, client) != 0 ||
	    event_add(rec->ev, NULL) != 0)
		return -1;
	return 0;
}

/* Removes a live request from the multi and the list, and frees it. No callback. */
static void
http_async_request_destroy(struct http_async_request *req)
{
	struct http_async *client = req->client;

	LIST_REMOVE(req, entry);
	client->in_curl++;
	(void)curl_multi_remove_handle(client->multi, http_transfer_easy(req->transfer));
	client->in_curl--;
	http_transfer_free(req->transfer);
	free(req);
	client->stats.in_flight--;
}

/* Zero-delay event: removes requests cancelled while we were inside libcurl. */
static void
http_async_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_async *client = arg;
	struct http_async_request *req;
	struct http_async_request *next;

	LIST_FOREACH_SAFE(req, &client->requests, entry, next) {
		if (req->cancelled)
			http_async_request_destroy(req);
	}
}

static void
http_async_drain(struct http_async *client)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(client->multi, &left)) != NULL) {
		struct http_async_request *req;
		struct http_response resp;
		void *priv = NULL;
		CURLcode code;
		CURL *easy;

		if (msg->msg != CURLMSG_DONE)
			continue;
		easy = msg->easy_handle;
		code = msg->data.result; /* msg is invalid after remove_handle */
		if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv) != CURLE_OK || priv == NULL)
			continue;
		req = priv;
		LIST_REMOVE(req, entry);
		(void)curl_multi_remove_handle(client->multi, easy);
		client->stats.in_flight--;

		http_response_init(&resp);
		http_transfer_finish(req->transfer, (int)code, &resp);
		if (!req->cancelled) { /* a cancelled one was counted by http_async_cancel */
			if (resp.outcome == HTTP_DONE)
				client->stats.finished_done++;
			else
				client->stats.finished_failed++;
			client->dispatching = true;
			client->current = req;
			req->cb(&resp, req->arg);
			client->current = NULL;
			client->dispatching = false;
		}
		http_response_clear(&resp);
		http_transfer_free(req->transfer);
		free(req);
	}
}

struct http_async *
http_async_new(struct event_base *base, const struct http_async_options *options)
{
	struct http_async *client = xcalloc(1, sizeof(*client));
	long max_total = HTTP_ASYNC_DEFAULT_MAX_TOTAL;
	long max_host = HTTP_ASYNC_DEFAULT_MAX_HOST;

	if (options != NULL && options->max_total_connections > 0)
		max_total = options->max_total_connections;
	if (options != NULL && options->max_host_connections > 0)
		max_host = options->max_host_connections;

	client->base = base;
	LIST_INIT(&client->requests);
	LIST_INIT(&client->socks);
	client->timer = evtimer_new(base, http_async_timer_event_cb, client);
	client->reap = event_new(base, -1, 0, http_async_reap_cb, client);
	client->multi = curl_multi_init();
	if (client->timer == NULL || client->reap == NULL || client->multi == NULL)
		fatalx("http: cannot create the curl multi handle or its events");

	if (curl_multi_setopt(client->multi, CURLMOPT_SOCKETFUNCTION, http_async_socket_cb) !=
		    CURLM_OK ||
	    curl_multi_setopt(client->multi, CURLMOPT_SOCKETDATA, client) != CURLM_OK ||
	    curl_multi_setopt(client->multi, CURLMOPT_TIMERFUNCTION, http_async_timer_cb) !=
		    CURLM_OK ||
	    curl_multi_setopt(client->multi, CURLMOPT_TIMERDATA, client) != CURLM_OK)
		fatalx("http: cannot set the curl multi callbacks");
	if (curl_multi_setopt(client->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max_total) !=
		    CURLM_OK ||
	    curl_multi_setopt(client->multi, CURLMOPT_MAX_HOST_CONNECTIONS, max_host) != CURLM_OK ||
	    curl_multi_setopt(client->multi, CURLMOPT_MAXCONNECTS, max_total) != CURLM_OK)
		log_warning("http: cannot set curl connection limits");
	return client;
}

void
http_async_free(struct http_async *client)
{
	struct http_async_request *req;
	struct http_async_sock *rec;

	if (client == NULL)
		return;
	assert(!client->dispatching);
	assert(client->in_curl == 0);
	while ((req = LIST_FIRST(&client->requests)) != NULL) {
		if (!req->cancelled)
			client->stats.cancelled++;
		http_async_request_destroy(req);
	}
	/* may call the socket and timer callbacks: records and timer must still exist */
	client->in_curl++;
	if (curl_multi_cleanup(client->multi) != CURLM_OK)
		log_warning("http: curl_multi_cleanup failed");
	client->in_curl--;
	while ((rec = LIST_FIRST(&client->socks)) != NULL) {
		LIST_REMOVE(rec, entry);
		event_free(rec->ev);
		free(rec);
	}
	event_free(client->timer);
	event_free(client->reap);
	free(client);
}

struct http_async_request *
http_async_start(struct http_async *client, const struct http_request_spec *spec,
		 http_async_done_cb *cb, void *arg, char **cause_out)
{
	struct http_async_request *req = NULL;
	struct http_transfer *t = NULL;
	char *cause = NULL;
	CURLMcode mc;

	t = http_transfer_new(spec, NULL, &cause);
	if (t == NULL)
		goto fail;
	req = xcalloc(1, sizeof(*req));
	req->client = client;
	req->transfer = t;
	req->cb = cb;
	req->arg = arg;
	http_transfer_set_private(t, req);

	client->in_curl++;
	mc = curl_multi_add_handle(client->multi, http_transfer_easy(t));
	client->in_curl--;
	if (mc != CURLM_OK) {
		cause = xasprintf("curl_multi_add_handle: %s", curl_multi_strerror(mc));
		goto fail;
	}
	LIST_INSERT_HEAD(&client->requests, req, entry);
	client->stats.started++;
	client->stats.in_flight++;
	return req;

fail:
	http_transfer_free(t);
	free(req);
	if (cause_out != NULL)
		*cause_out = cause;
	else
		free(cause);
	return NULL;
}

void
http_async_cancel(struct http_async_request *req)
{
	struct http_async *client;

	if (req == NULL)
		return;
	client = req->client;
	if (req == client->current || req->cancelled)
		return; /* its callback is already running, or a cancel is pending */
	client->stats.cancelled++;
	if (client->in_curl > 0) {
		req->cancelled = true;
		event_active(client->reap, 0, 0);
		return;
	}
	http_async_request_destroy(req);
}

void
http_async_get_stats(const struct http_async *client, struct http_async_stats *out)
{
	*out = client->stats;
}
