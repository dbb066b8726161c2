/*
 * lease: one writer among several instances through a Sync document
 * (lease.h has the state machine).
 */

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "date.h"
#include "form.h"
#include "http.h"
#include "http_async.h"
#include "json.h"
#include "lease.h"
#include "log.h"
#include "metrics.h"
#include "twilio.h"
#include "xmalloc.h"

/* What the request in flight does. */
enum lease_op {
	LEASE_OP_NONE,
	LEASE_OP_FETCH,	  /* standby: read the document */
	LEASE_OP_CREATE,  /* the document is absent: create it naming us */
	LEASE_OP_UPDATE,  /* take (standby) or renew (holder), with If-Match */
	LEASE_OP_RELEASE, /* stopping holder: "until" 0, with If-Match */
};

struct lease {
	struct event_base *base;
	struct http_async *client;
	const struct twilio *tw;
	struct metrics *metrics;
	char *service_sid;
	char *name;
	char *id;
	int ttl_s;
	int64_t ttl_ms;

	bool started;
	bool holder;
	char *revision;	   /* of the document as last read or written, or NULL */
	char *seen_holder; /* the holder the document named when last read, or NULL */
	int64_t seen_until_ms;
	enum lease_op op;
	struct http_async_request *req;
	int64_t req_started_ms; /* monotonic, of the request in flight */
	long last_status;	/* of the last failed request, to log a change once */
	struct event *tick;	/* every ttl/3 */
	struct event *fence;	/* holder: 3/4 ttl after the last renewal started */
	lease_change_cb *cb;
	void *cb_arg;
	bool releasing; /* lease_release ran: no more renewals or takeovers */
	lease_released_cb *release_cb;
	void *release_arg;
};

static void lease_request(struct lease *l, enum lease_op op);

static int64_t
lease_wall_ms(void)
{
	return date_now_ms();
}

static void
lease_set_holder(struct lease *l, bool holder, const char *why)
{
	if (l->holder == holder)
		return;
	l->holder = holder;
	if (holder) {
		(void)evtimer_del(l->fence);
		log_notice("lease %s: %s holds it now (%s); writing to Sync", l->name, l->id, why);
	} else {
		(void)evtimer_del(l->fence);
		log_notice("lease %s: %s stands by (%s); Sync writes paused", l->name, l->id, why);
	}
	if (l->metrics != NULL)
		metrics_lease_holder(l->metrics, holder);
	if (l->cb != NULL)
		l->cb(holder, l->cb_arg);
}

static void
lease_fence_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lease *l = arg;

	lease_set_holder(l, false, "no renewal for 3/4 of the lease time");
}

/* A write of ours succeeded: we hold the lease until its start + ttl. */
static void
lease_renewed(struct lease *l, int64_t started_ms, const char *why)
{
	int64_t fence_at = started_ms + l->ttl_ms * 3 / 4;
	int64_t now = date_monotonic_ms();
	struct timeval tv;

	free(l->seen_holder);
	l->seen_holder = xstrdup(l->id);
	if (now >= fence_at) {
		lease_set_holder(l, false, "the renewal came back too late");
		return;
	}
	lease_set_holder(l, true, why);
	tv.tv_sec = (time_t)((fence_at - now) / 1000);
	tv.tv_usec = (suseconds_t)((fence_at - now) % 1000) * 1000;
	(void)evtimer_add(l->fence, &tv); /* re-arms: replaces the previous deadline */
}

static void
lease_learn(struct lease *l, const struct http_response *resp)
{
	struct json_doc *doc = NULL;
	const struct json_value *root = NULL;
	const struct json_value *data = NULL;
	const char *rev = NULL;
	const char *holder = NULL;
	int64_t until = 0;

	if (resp->body_len > 0 && json_parse(resp->body, resp->body_len, NULL, &doc, NULL) == 0)
		root = json_doc_root(doc);
	if (root != NULL)
		(void)json_get_string(root, "revision", &rev);
	if (rev == NULL)
		rev = resp->etag;
	free(l->revision);
	l->revision = rev != NULL && rev[0] != '\0' ? xstrdup(rev) : NULL;
	data = root != NULL ? json_get(root, "data") : NULL;
	if (data != NULL && json_is_object(data)) {
		(void)json_get_string(data, "holder", &holder);
		(void)json_get_int64(data, "until", &until);
	}
	free(l->seen_holder);
	l->seen_holder = holder != NULL ? xstrdup(holder) : NULL;
	l->seen_until_ms = until;
	json_doc_free(doc);
}

/* Logs a failed request once per distinct status (not every ttl/3). */
static void
lease_failed(struct lease *l, const char *what, const struct http_response *resp)
{
	long status = resp->outcome == HTTP_DONE ? resp->status : -1;

	if (status == l->last_status)
		return;
	l->last_status = status;
	if (resp->outcome == HTTP_DONE)
		log_warning("lease %s: %s answered HTTP %ld; trying again in %d s", l->name, what,
			    resp->status, l->ttl_s / 3);
	else
		log_warning("lease %s: %s failed (%s%s%s); trying again in %d s", l->name, what,
			    http_outcome_name(resp->outcome), resp->error[0] != '\0' ? ": " : "",
			    resp->error, l->ttl_s / 3);
}

static void
lease_done_cb(const struct http_response *resp, void *arg)
{
	struct lease *l = arg;
	enum lease_op op = l->op;
	long status = resp->outcome == HTTP_DONE ? resp->status : 0;

	l->req = NULL;
	l->op = LEASE_OP_NONE;
	if (l->metrics != NULL)
		metrics_twilio_request(l->metrics, "sync", status);
	if (twilio_response_ok(resp))
		l->last_status = 0;
	switch (op) {
	case LEASE_OP_FETCH:
		if (status == 404) {
			lease_request(l, LEASE_OP_CREATE);
		} else if (twilio_response_ok(resp)) {
			lease_learn(l, resp);
			if (l->seen_holder == NULL || strcmp(l->seen_holder, l->id) == 0 ||
			    l->seen_until_ms <= lease_wall_ms())
				lease_request(l, LEASE_OP_UPDATE);
			else
				log_debug("lease %s: held by %s for %" PRId64 " ms more", l->name,
					  l->seen_holder, l->seen_until_ms - lease_wall_ms());
		} else {
			lease_failed(l, "reading the lease", resp);
		}
		break;
	case LEASE_OP_CREATE:
	case LEASE_OP_UPDATE:
		if (twilio_response_ok(resp)) {
			int64_t started = l->req_started_ms;

			lease_learn(l, resp);
			lease_renewed(l, started,
				      op == LEASE_OP_CREATE ? "created the lease"
							    : "took or renewed the lease");
		} else if (status == 412 || status == 409) {
			/* Another instance wrote it first: its revision, its lease. */
			free_and_null(l->revision);
			free_and_null(l->seen_holder);
			lease_set_holder(l, false, "another instance holds the lease");
		} else if (status == 404 && op == LEASE_OP_UPDATE) {
			free_and_null(l->revision);
			lease_request(l, LEASE_OP_CREATE);
		} else {
			lease_failed(l, l->holder ? "renewing the lease" : "taking the lease",
				     resp);
		}
		break;
	case LEASE_OP_RELEASE:
		if (twilio_response_ok(resp)) {
			lease_learn(l, resp);
			log_notice("lease %s: released by %s; a standby takes it at its next check",
				   l->name, l->id);
		} else if (resp->outcome == HTTP_DONE) {
			log_warning("lease %s: release answered HTTP %ld; a standby takes it when "
				    "it expires",
				    l->name, resp->status);
		} else {
			log_warning("lease %s: release failed (%s%s%s); a standby takes it when it "
				    "expires",
				    l->name, http_outcome_name(resp->outcome),
				    resp->error[0] != '\0' ? ": " : "", resp->error);
		}
		if (l->release_cb != NULL)
			l->release_cb(twilio_response_ok(resp), l->release_arg);
		break;
	case LEASE_OP_NONE:
		break;
	}
}

static void lease_request_bounded(struct lease *l, enum lease_op op, long timeout_ms);

static void
lease_request(struct lease *l, enum lease_op op)
{
	lease_request_bounded(l, op, 0);
}

/* Starts op; timeout_ms > 0 bounds it (connect included), else Twilio's timeouts apply. */
static void
lease_request_bounded(struct lease *l, enum lease_op op, long timeout_ms)
{
	struct http_request_spec spec;
	struct form *f = NULL;
	struct json_gen *g = NULL;
	char *url = NULL;
	char *body = NULL;
	char *cause = NULL;
	char ttl[16];

	url = op == LEASE_OP_CREATE ? twilio_url_sync_documents(l->tw, l->service_sid)
				    : twilio_url_sync_document(l->tw, l->service_sid, l->name);
	if (url == NULL) {
		log_err("lease %s: cannot build the document URL", l->name);
		return;
	}
	twilio_request_spec_init(l->tw, &spec, op == LEASE_OP_FETCH ? HTTP_GET : HTTP_POST, url);
	if (timeout_ms > 0) {
		spec.timeout_ms = timeout_ms;
		if (spec.connect_timeout_ms <= 0 || spec.connect_timeout_ms > timeout_ms)
			spec.connect_timeout_ms = timeout_ms;
	}
	l->req_started_ms = date_monotonic_ms();
	if (op != LEASE_OP_FETCH) {
		g = json_gen_new();
		json_gen_object_open(g);
		json_gen_kv_string(g, "holder", l->id);
		/* A released lease has passed for every clock: "until" 0. */
		json_gen_kv_int(g, "until",
				op == LEASE_OP_RELEASE ? 0 : lease_wall_ms() + l->ttl_ms);
		json_gen_object_close(g);
		f = form_new();
		if (op == LEASE_OP_CREATE)
			form_add(f, "UniqueName", l->name);
		form_add(f, "Data", json_gen_text(g, NULL));
		/* The TTL only collects a dead lease; "until" decides (expiry is approximate). */
		snprintf(ttl, sizeof(ttl), "%d", l->ttl_s * 2);
		form_add(f, "Ttl", ttl);
		body = form_encode(f);
		spec.body = body;
		spec.body_len = strlen(body);
		if (op == LEASE_OP_RELEASE)
			spec.if_match = l->revision; /* lease_release checked it is known */
		/* Without a known revision an update could overwrite another's lease. */
		if (op == LEASE_OP_UPDATE) {
			if (l->revision == NULL) {
				op = LEASE_OP_FETCH;
				spec.method = HTTP_GET;
				spec.body = NULL;
				spec.body_len = 0;
			} else {
				spec.if_match = l->revision;
			}
		}
	}
	l->req = http_async_start(l->client, &spec, lease_done_cb, l, &cause);
	if (l->req == NULL)
		log_err("lease %s: request refused: %s", l->name, cause != NULL ? cause : "?");
	else
		l->op = op;
	free(cause);
	free(body);
	form_free(f);
	json_gen_free(g);
	free(url);
}

static void
lease_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lease *l = arg;

	if (l->req != NULL || l->releasing)
		return; /* a slow request: its answer decides; the fence bounds a holder */
	lease_request(l, l->holder ? LEASE_OP_UPDATE : LEASE_OP_FETCH);
}

static char *
lease_default_id(void)
{
	char host[256];

	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "trhubd");
	host[sizeof(host) - 1] = '\0';
	return xasprintf("%s-%ld", host, (long)getpid());
}

struct lease *
lease_new(struct event_base *base, struct http_async *client, const struct twilio *tw,
	  const struct lease_options *options, struct metrics *metrics)
{
	struct lease *l = xcalloc(1, sizeof(*l));

	l->base = base;
	l->client = client;
	l->tw = tw;
	l->metrics = metrics;
	l->service_sid = xstrdup(options->service_sid != NULL ? options->service_sid : "");
	l->name = xstrdup(options->name);
	l->id = options->instance_id != NULL && options->instance_id[0] != '\0'
			? xstrdup(options->instance_id)
			: lease_default_id();
	l->ttl_s = options->ttl_s >= 3 ? options->ttl_s : 3;
	l->ttl_ms = (int64_t)l->ttl_s * 1000;
	l->tick = event_new(base, -1, EV_PERSIST, lease_tick_cb, l);
	l->fence = evtimer_new(base, lease_fence_cb, l);
	if (l->tick == NULL || l->fence == NULL) {
		log_err("lease: cannot create its timers");
		abort(); /* as xmalloc does: only memory exhaustion gets here */
	}
	if (metrics != NULL)
		metrics_lease_holder(metrics, false);
	return l;
}

void
lease_free(struct lease *l)
{
	if (l == NULL)
		return;
	if (l->req != NULL)
		http_async_cancel(l->req);
	event_free(l->tick);
	event_free(l->fence);
	free(l->service_sid);
	free(l->name);
	free(l->id);
	free(l->revision);
	free(l->seen_holder);
	free(l);
}

void
lease_set_callback(struct lease *l, lease_change_cb *cb, void *arg)
{
	l->cb = cb;
	l->cb_arg = arg;
}

void
lease_start(struct lease *l)
{
	int64_t period = 0;
	struct timeval tv;

	if (l == NULL || l->started)
		return;
	l->started = true;
	period = l->ttl_ms / 3;
	tv.tv_sec = (time_t)(period / 1000);
	tv.tv_usec = (suseconds_t)(period % 1000) * 1000;
	if (event_add(l->tick, &tv) < 0)
		log_err("lease %s: cannot arm its timer", l->name);
	log_info("lease %s: %s competing for it (lease time %d s)", l->name, l->id, l->ttl_s);
	lease_tick_cb(-1, 0, l);
}

bool
lease_release(struct lease *l, long timeout_ms, lease_released_cb *cb, void *arg)
{
	bool held;

	if (l == NULL || l->releasing)
		return false;
	l->releasing = true;
	(void)event_del(l->tick);
	held = l->holder && l->revision != NULL;
	/* From here on this instance writes nothing to Sync but the release. */
	lease_set_holder(l, false, "stopping");
	if (!held)
		return false;
	if (l->req != NULL) {
		/*
		 * A renewal in flight carries the same If-Match: whichever of the two
		 * Sync applies first wins and the other gets 412. If the renewal won,
		 * the release fails and a standby waits for "until", as after a crash.
		 */
		http_async_cancel(l->req);
		l->req = NULL;
		l->op = LEASE_OP_NONE;
	}
	l->release_cb = cb;
	l->release_arg = arg;
	lease_request_bounded(l, LEASE_OP_RELEASE, timeout_ms);
	if (l->req == NULL) {
		l->release_cb = NULL;
		return false;
	}
	log_info("lease %s: %s releasing it (revision %s)", l->name, l->id, l->revision);
	return true;
}

bool
lease_is_holder(const struct lease *l)
{
	return l == NULL || l->holder;
}

const char *
lease_instance_id(const struct lease *l)
{
	return l != NULL ? l->id : NULL;
}

void
lease_json(const struct lease *l, struct json_gen *g)
{
	json_gen_object_open(g);
	json_gen_kv_string(g, "role", l->holder ? "holder" : "standby");
	json_gen_kv_string(g, "instance", l->id);
	if (l->seen_holder != NULL)
		json_gen_kv_string(g, "holder", l->seen_holder);
	else
		json_gen_kv_null(g, "holder");
	json_gen_object_close(g);
}
