/*
 * stats: the coalescing statistics refresher.
 *
 * Why coalesce: events arrive at up to thousands per second, while
 * TaskRouter's statistics endpoints and Sync's 20 writes/s per document
 * cannot follow that (twilio-operations.md 1, 2, 6: polling per event is the
 * seed dashboard's anti-pattern). So an event only marks the statistics
 * dirty, and this state machine decides when to fetch:
 *
 *   IDLE       up to date. The timer is armed for last_start + max_interval,
 *              so statistics refresh at least that often without events.
 *   DIRTY      a change was reported. The timer is armed for
 *              max(now, last_start + min_interval). More changes while DIRTY
 *              are coalesced into the refresh already scheduled.
 *   IN_FLIGHT  one refresh (two parallel GETs, the queue list paged) is
 *              running. Changes meanwhile set dirty_again; at most one
 *              follow-up is ever owed, however many changes arrive.
 *   COOLING    the refresh ended and another one is owed (dirty_again, or a
 *              retry after failure). The timer is armed for
 *              last_start + min_interval, or later for a failure's backoff.
 *
 * Invariants: at most one refresh in flight; two refreshes start at least
 * min_interval apart (measured start to start on the injected monotonic
 * clock); after a success with nothing owed the next refresh starts at
 * most max_interval after the last one started. Failures back off
 * exponentially with jitter from min_interval up to max_interval, never
 * sooner than min_interval, and honour Retry-After (up to the twilio hard
 * cap). The number of requests per minute is thus bounded by the intervals,
 * not by the event rate.
 *
 * Transport: by default the two GETs go through http_async; tests replace
 * it (options.fetch) and the timer (options.timer_arm), nothing else.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "buf.h"
#include "date.h"
#include "form.h"
#include "http_async.h"
#include "json.h"
#include "kpi.h"
#include "log.h"
#include "metrics.h"
#include "model.h"
#include "rng.h"
#include "stats.h"
#include "twilio.h"
#include "tz.h"
#include "xmalloc.h"

#define STATS_DEFAULT_MIN_MS   1000
#define STATS_DEFAULT_MAX_MS   15000
#define STATS_DEFAULT_SLA_S    30
#define STATS_MAX_THRESHOLDS   32
#define STATS_QUEUES_PAGE_SIZE "1000"
#define STATS_MAX_QUEUE_PAGES  20

struct stats_http;

struct stats {
	enum stats_state state;
	struct event_base *base;
	struct event *timer;
	struct http_async *client;
	const struct twilio *tw;
	char *workspace_sid;
	struct model *model;
	struct metrics *metrics;
	struct tz_zone *zone;
	struct rng rng;
	struct stats_options o;
	int thresholds[STATS_MAX_THRESHOLDS];
	size_t nthresholds;

	bool started;
	bool dirty_again;	 /* a change arrived while IN_FLIGHT */
	int64_t last_start_ms;	 /* INT64_MIN before the first refresh */
	int64_t deadline_ms;	 /* when the armed timer is due */
	unsigned failures;	 /* consecutive failed refreshes */
	struct stats_http *http; /* default transport's refresh in flight */

	stats_publish_cb *publish;
	void *publish_arg;
	char *doc; /* the latest statistics document, NULL before the first refresh */
	size_t doc_len;
	char *worker_doc; /* the same for agents' streams: names no task */
	size_t worker_doc_len;
};

static int64_t
stats_real_monotonic_ms(void *arg)
{
	return date_monotonic_ms();
}

static int64_t
stats_real_wall_ms(void *arg)
{
	return date_now_ms();
}

static int64_t
stats_now(const struct stats *s)
{
	return s->o.now_ms(s->o.clock_arg);
}

const char *
stats_state_name(enum stats_state state)
{
	switch (state) {
	case STATS_IDLE:
		return "idle";
	case STATS_DIRTY:
		return "dirty";
	case STATS_IN_FLIGHT:
		return "in flight";
	case STATS_COOLING:
		return "cooling";
	}
	return "?";
}

static void
stats_enter_state(struct stats *s, enum stats_state next)
{
	if (s->state != next)
		log_trace(LOG_TRACE_STATS, "stats: %s -> %s", stats_state_name(s->state),
			  stats_state_name(next));
	s->state = next;
}

static void
stats_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stats *s = arg;

	stats_on_timer(s);
}

/* Arms the one timer for the absolute monotonic time at_ms (now if in the past). */
static void
stats_arm(struct stats *s, int64_t at_ms)
{
	int64_t delay = at_ms - stats_now(s);
	struct timeval tv;

	if (delay < 0)
		delay = 0;
	s->deadline_ms = at_ms;
	if (s->o.timer_arm != NULL) {
		s->o.timer_arm(s->o.timer_arg, delay);
		return;
	}
	tv.tv_sec = (time_t)(delay / 1000);
	tv.tv_usec = (suseconds_t)(delay % 1000) * 1000;
	if (evtimer_add(s->timer, &tv) != 0)
		log_err("stats: cannot arm the refresh timer");
}

static void
stats_disarm(struct stats *s)
{
	if (s->o.timer_arm != NULL)
		s->o.timer_arm(s->o.timer_arg, -1);
	else if (s->timer != NULL)
		(void)evtimer_del(s->timer); /* only fails for an event that was never set up */
}

/* The earliest moment a new refresh may start. */
static int64_t
stats_earliest(const struct stats *s)
{
	if (s->last_start_ms == INT64_MIN)
		return stats_now(s);
	return s->last_start_ms + s->o.min_interval_ms;
}

static int64_t
stats_max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/* ------------------------------------------------------------------ */
/* one refresh */

/* "20,30,60": the distinct thresholds, ascending. */
static char *
stats_split_param(const struct stats *s)
{
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; i < s->nthresholds; i++)
		buf_printf(&b, "%s%d", i > 0 ? "," : "", s->thresholds[i]);
	return buf_steal(&b, NULL);
}

/* Builds the two URLs with StartDate = the start of today in the configured zone. */
static void
stats_urls(const struct stats *s, char **ws_url_out, char **queues_url_out)
{
	int64_t wall = s->o.wall_ms(s->o.clock_arg);
	char start[DATE_ISO_LEN];
	char *split = stats_split_param(s);
	struct form *q = form_new();
	char *base;

	date_format_iso(tz_day_start_ms(s->zone, s->o.day_start_minutes, wall), start);
	form_add(q, "StartDate", start);
	form_add(q, "SplitByWaitTime", split);
	if (s->tw != NULL) {
		base = twilio_url_workspace_statistics(s->tw, s->workspace_sid);
	} else {
		base = xasprintf("/v1/Workspaces/%s/Statistics", s->workspace_sid);
	}
	*ws_url_out = twilio_url_with_query(base != NULL ? base : "", q);
	free(base);
	form_add(q, "PageSize", STATS_QUEUES_PAGE_SIZE);
	if (s->tw != NULL)
		base = twilio_url_task_queues_statistics(s->tw, s->workspace_sid);
	else
		base = xasprintf("/v1/Workspaces/%s/TaskQueues/Statistics", s->workspace_sid);
	*queues_url_out = twilio_url_with_query(base != NULL ? base : "", q);
	free(base);
	form_free(q);
	free(split);
}

static void stats_complete(struct stats *s, const struct stats_fetch_result *r);

static void
stats_begin_refresh(struct stats *s)
{
	char *ws_url = NULL;
	char *queues_url = NULL;
	int r;

	s->last_start_ms = stats_now(s);
	s->dirty_again = false;
	stats_enter_state(s, STATS_IN_FLIGHT);
	stats_urls(s, &ws_url, &queues_url);
	r = s->o.fetch(s->o.fetch_arg, s, ws_url, queues_url);
	free(ws_url);
	free(queues_url);
	if (r < 0) {
		struct stats_fetch_result fail = { .ok = false, .status = 0, .retry_after_s = -1 };

		log_warning_errno(r, "stats: cannot start a refresh");
		stats_complete(s, &fail);
	}
}

/* Derives the KPI document, stores it in the model and publishes it. */
static void
stats_derive(struct stats *s, const struct stats_fetch_result *r)
{
	struct kpi_queue *queues = NULL;
	const char **names = NULL;
	struct kpi_input in = { 0 };
	size_t nact = 0;
	size_t pos = 0;
	size_t len = 0;
	const char *name = NULL;
	char *doc;

	while (model_activity_next(s->model, &pos, NULL, &name))
		nact++;
	names = xcalloc(nact + 1, sizeof(*names));
	pos = 0;
	for (size_t i = 0; i < nact && model_activity_next(s->model, &pos, NULL, &name); i++)
		names[i] = name;
	if (r->nqueues > 0)
		queues = xcalloc(r->nqueues, sizeof(*queues));
	for (size_t i = 0; i < r->nqueues; i++) {
		const char *sid = json_string(json_get(r->queues[i], "task_queue_sid"));

		queues[in.nqueues].sid = sid;
		queues[in.nqueues].name = model_queue_name(s->model, sid);
		queues[in.nqueues].sla_threshold_s =
			s->o.sla_threshold_for != NULL
				? s->o.sla_threshold_for(s->o.sla_arg, sid, queues[in.nqueues].name)
				: s->o.sla_threshold_s;
		queues[in.nqueues].short_abandon_s =
			s->o.short_abandon_for != NULL
				? s->o.short_abandon_for(s->o.sla_arg, sid, queues[in.nqueues].name)
				: s->o.short_abandon_s;
		queues[in.nqueues].stats = r->queues[i];
		if (sid != NULL)
			in.nqueues++;
	}
	in.workspace = r->workspace;
	in.queues = queues;
	in.activity_names = names;
	in.nactivities = nact;
	in.sla_threshold_s = s->o.sla_threshold_s;
	in.short_abandon_s = s->o.short_abandon_s;
	in.refreshed_at_ms = s->o.wall_ms(s->o.clock_arg);
	in.max_queues = s->o.max_queues;
	in.for_workers = true;
	free(s->worker_doc);
	s->worker_doc = kpi_document(&in, &s->worker_doc_len);
	in.for_workers = false;
	doc = kpi_document(&in, &len);
	free(s->doc);
	s->doc = doc;
	s->doc_len = len;
	if (s->publish != NULL)
		s->publish(doc, len, s->publish_arg);
	free(queues);
	free(names);
}

/* Delay before retrying after the failures-th consecutive failure. */
static int64_t
stats_retry_delay_ms(struct stats *s, const struct stats_fetch_result *r)
{
	struct twilio_retry_policy p = {
		.max_attempts = 0,
		.base_ms = (long)s->o.min_interval_ms,
		.max_ms = (long)s->o.max_interval_ms,
	};
	unsigned n = s->failures > 30 ? 30 : s->failures;
	int64_t cap = s->o.min_interval_ms << (n - 1);
	int64_t delay;

	/* Half jitter: the twilio full-jitter backoff, but at least half its cap, so it grows. */
	if (cap > s->o.max_interval_ms || cap <= 0)
		cap = s->o.max_interval_ms;
	delay = stats_max64(twilio_retry_backoff_ms(&p, n, &s->rng), cap / 2);

	if (r->retry_after_s > 0) {
		int64_t ra = r->retry_after_s * 1000;

		if (ra > TWILIO_RETRY_HARD_CAP_MS)
			ra = TWILIO_RETRY_HARD_CAP_MS;
		delay = stats_max64(delay, ra);
	}
	return delay;
}

static void
stats_complete(struct stats *s, const struct stats_fetch_result *r)
{
	int64_t delay;
	int64_t at;

	s->http = NULL;
	switch (s->state) {
	case STATS_IN_FLIGHT:
		break;
	case STATS_IDLE:
	case STATS_DIRTY:
	case STATS_COOLING:
		log_err("stats: refresh completed in state %s, ignored",
			stats_state_name(s->state));
		return;
	}
	if (s->metrics != NULL)
		metrics_stats_refresh(s->metrics, r->ok);
	if (r->ok) {
		if (s->failures > 0)
			log_notice("stats: refresh succeeded again after %u failures", s->failures);
		s->failures = 0;
		stats_derive(s, r);
		if (s->dirty_again) {
			stats_enter_state(s, STATS_COOLING);
			stats_arm(s, stats_earliest(s));
		} else {
			stats_enter_state(s, STATS_IDLE);
			stats_arm(s, s->last_start_ms + s->o.max_interval_ms);
		}
		return;
	}
	s->failures++;
	delay = stats_retry_delay_ms(s, r);
	at = stats_max64(stats_earliest(s), stats_now(s) + delay);
	log_warning("stats: refresh failed (HTTP %ld), retrying in %" PRId64 " ms", r->status,
		    at - stats_now(s));
	stats_enter_state(s, STATS_COOLING);
	stats_arm(s, at);
}

void
stats_fetch_complete(struct stats *s, const struct stats_fetch_result *result)
{
	stats_complete(s, result);
}

void
stats_on_timer(struct stats *s)
{
	if (stats_now(s) < s->deadline_ms) {
		stats_arm(s, s->deadline_ms); /* woke early: the timer and our clock disagree */
		return;
	}
	switch (s->state) {
	case STATS_IDLE:
	case STATS_DIRTY:
	case STATS_COOLING:
		stats_begin_refresh(s);
		break;
	case STATS_IN_FLIGHT:
		break; /* a refresh is running; its completion re-arms */
	}
}

void
stats_mark_dirty(struct stats *s)
{
	bool coalesced = true;

	switch (s->state) {
	case STATS_IDLE:
		coalesced = false;
		if (s->started) {
			stats_enter_state(s, STATS_DIRTY);
			stats_arm(s, stats_earliest(s));
		}
		break;
	case STATS_DIRTY:
	case STATS_COOLING:
		break;
	case STATS_IN_FLIGHT:
		coalesced = s->dirty_again;
		s->dirty_again = true;
		break;
	}
	if (coalesced && s->metrics != NULL)
		metrics_stats_coalesced(s->metrics);
}

void
stats_start(struct stats *s)
{
	if (s->started)
		return;
	s->started = true;
	stats_enter_state(s, STATS_DIRTY);
	stats_arm(s, stats_now(s));
}

enum stats_state
stats_get_state(const struct stats *s)
{
	return s->state;
}

void
stats_set_publish(struct stats *s, stats_publish_cb *cb, void *arg)
{
	s->publish = cb;
	s->publish_arg = arg;
}

/* ------------------------------------------------------------------ */
/* the default transport: two GETs in parallel through http_async */

struct stats_http {
	struct stats *s;
	struct http_async_request *ws_req;
	struct http_async_request *q_req;
	struct json_doc *ws_doc;
	struct twilio_page **pages;
	size_t npages;
	bool failed;
	long status;
	long retry_after_s;
};

static void
stats_http_free(struct stats_http *h)
{
	if (h == NULL)
		return;
	if (h->ws_req != NULL)
		http_async_cancel(h->ws_req);
	if (h->q_req != NULL)
		http_async_cancel(h->q_req);
	json_doc_free(h->ws_doc);
	for (size_t i = 0; i < h->npages; i++)
		twilio_page_free(h->pages[i]);
	free(h->pages);
	free(h);
}

static void
stats_http_fail(struct stats_http *h, const struct http_response *resp, const char *what)
{
	struct twilio_error err;

	twilio_error_init(&err);
	(void)twilio_error_parse(resp, &err); /* fills fallbacks whatever the body was */
	log_warning("stats: %s: HTTP %ld, Twilio error %ld: %s", what, resp->status, err.code,
		    err.message);
	twilio_error_clear(&err);
	if (!h->failed) {
		h->failed = true;
		h->status = resp->status;
		h->retry_after_s = resp->retry_after_s;
	}
}

/* Both requests ended: hand the result to the state machine. */
static void
stats_http_finish(struct stats_http *h)
{
	struct stats *s = h->s;
	struct stats_fetch_result r = { .ok = false, .status = h->status, .retry_after_s = -1 };
	const struct json_value **items = NULL;
	size_t n = 0;

	if (h->ws_req != NULL || h->q_req != NULL)
		return;
	if (!h->failed) {
		for (size_t i = 0; i < h->npages; i++)
			n += twilio_page_count(h->pages[i]);
		items = xcalloc(n + 1, sizeof(*items));
		n = 0;
		for (size_t i = 0; i < h->npages; i++) {
			for (size_t j = 0; j < twilio_page_count(h->pages[i]); j++)
				items[n++] = twilio_page_record(h->pages[i], j);
		}
		r.ok = true;
		r.workspace = json_doc_root(h->ws_doc);
		r.queues = items;
		r.nqueues = n;
	} else {
		r.retry_after_s = h->retry_after_s;
	}
	stats_complete(s, &r);
	free(items);
	stats_http_free(h);
}

static void
stats_http_ws_cb(const struct http_response *resp, void *arg)
{
	struct stats_http *h = arg;
	char *cause = NULL;

	h->ws_req = NULL;
	if (h->s->metrics != NULL)
		metrics_twilio_request(h->s->metrics, "workspace_statistics", resp->status);
	if (!twilio_response_ok(resp)) {
		stats_http_fail(h, resp, "workspace statistics");
	} else if (json_parse(resp->body, resp->body_len, NULL, &h->ws_doc, &cause) != 0 ||
		   !json_is_object(json_doc_root(h->ws_doc))) {
		log_warning("stats: workspace statistics: bad JSON: %s",
			    cause != NULL ? cause : "");
		h->failed = true;
		h->status = resp->status;
	}
	free(cause);
	stats_http_finish(h);
}

static void stats_http_queues_cb(const struct http_response *resp, void *arg);

static int
stats_http_get(struct stats_http *h, const char *url, http_async_done_cb *cb,
	       struct http_async_request **req_out)
{
	struct http_request_spec spec;
	char *cause = NULL;

	twilio_request_spec_init(h->s->tw, &spec, HTTP_GET, url);
	*req_out = http_async_start(h->s->client, &spec, cb, h, &cause);
	if (*req_out == NULL) {
		log_warning("stats: cannot start request: %s", cause != NULL ? cause : "?");
		free(cause);
		return -EINVAL;
	}
	return 0;
}

static void
stats_http_queues_cb(const struct http_response *resp, void *arg)
{
	struct stats_http *h = arg;
	struct twilio_page *page = NULL;
	char *cause = NULL;
	const char *next;

	h->q_req = NULL;
	if (h->s->metrics != NULL)
		metrics_twilio_request(h->s->metrics, "task_queues_statistics", resp->status);
	if (h->failed) {
		stats_http_finish(h);
		return;
	}
	if (!twilio_response_ok(resp)) {
		stats_http_fail(h, resp, "task queue statistics");
		stats_http_finish(h);
		return;
	}
	if (twilio_page_parse(h->s->tw, "task_queues_statistics", resp->body, resp->body_len, &page,
			      &cause) != 0) {
		log_warning("stats: task queue statistics: %s", cause != NULL ? cause : "bad page");
		free(cause);
		h->failed = true;
		h->status = resp->status;
		stats_http_finish(h);
		return;
	}
	h->pages = xreallocarray(h->pages, h->npages + 1, sizeof(*h->pages));
	h->pages[h->npages++] = page;
	next = twilio_page_next_url(page);
	if (next != NULL && h->npages < STATS_MAX_QUEUE_PAGES &&
	    stats_http_get(h, next, stats_http_queues_cb, &h->q_req) < 0) {
		h->failed = true;
		h->status = 0;
	}
	stats_http_finish(h);
}

static int
stats_http_fetch(void *arg, struct stats *s, const char *workspace_url, const char *queues_url)
{
	struct stats_http *h = xcalloc(1, sizeof(*h));

	h->s = s;
	h->retry_after_s = -1;
	if (stats_http_get(h, workspace_url, stats_http_ws_cb, &h->ws_req) < 0 ||
	    stats_http_get(h, queues_url, stats_http_queues_cb, &h->q_req) < 0) {
		stats_http_free(h);
		return -EINVAL;
	}
	s->http = h;
	return 0;
}

static void
stats_http_cancel(void *arg, struct stats *s)
{
	stats_http_free(s->http);
	s->http = NULL;
}

/* ------------------------------------------------------------------ */
/* lifecycle */

static int
stats_int_cmp(const void *a, const void *b)
{
	int x = *(const int *)a;
	int y = *(const int *)b;

	return (x > y) - (x < y);
}

/*
 * The distinct SplitByWaitTime thresholds: sla_threshold_s, short_abandon_s
 * and every per-queue override of either (split_thresholds_s), ascending.
 */
static void
stats_set_thresholds(struct stats *s, const struct stats_options *options)
{
	size_t n = 0;

	s->o.split_thresholds_s = NULL; /* copied below; the caller's array is not kept */
	s->nthresholds = 0;
	s->thresholds[n++] = s->o.sla_threshold_s;
	if (s->o.short_abandon_s > 0)
		s->thresholds[n++] = s->o.short_abandon_s;
	for (size_t i = 0;
	     options != NULL && i < options->n_split_thresholds && n < STATS_MAX_THRESHOLDS; i++) {
		if (options->split_thresholds_s[i] > 0)
			s->thresholds[n++] = options->split_thresholds_s[i];
	}
	qsort(s->thresholds, n, sizeof(s->thresholds[0]), stats_int_cmp);
	for (size_t i = 0; i < n; i++) {
		if (s->nthresholds == 0 || s->thresholds[s->nthresholds - 1] != s->thresholds[i])
			s->thresholds[s->nthresholds++] = s->thresholds[i];
	}
}

/* Clamps the intervals and the threshold to their defaults and to each other. */
static void
stats_fix_options(struct stats *s)
{
	if (s->o.min_interval_ms <= 0)
		s->o.min_interval_ms = STATS_DEFAULT_MIN_MS;
	if (s->o.max_interval_ms <= 0)
		s->o.max_interval_ms = STATS_DEFAULT_MAX_MS;
	if (s->o.max_interval_ms < s->o.min_interval_ms)
		s->o.max_interval_ms = s->o.min_interval_ms;
	if (s->o.sla_threshold_s <= 0)
		s->o.sla_threshold_s = STATS_DEFAULT_SLA_S;
}

void
stats_reconfigure(struct stats *s, const struct stats_options *options)
{
	s->o.min_interval_ms = options->min_interval_ms;
	s->o.max_interval_ms = options->max_interval_ms;
	s->o.sla_threshold_s = options->sla_threshold_s;
	s->o.short_abandon_s = options->short_abandon_s;
	s->o.sla_threshold_for = options->sla_threshold_for;
	s->o.short_abandon_for = options->short_abandon_for;
	s->o.sla_arg = options->sla_arg;
	stats_fix_options(s);
	stats_set_thresholds(s, options);
	if (!s->started)
		return;
	/* The timer follows the new intervals; a refresh publishes the new thresholds. */
	if (s->state == STATS_IDLE)
		stats_arm(s, s->last_start_ms + s->o.max_interval_ms);
	else if (s->state != STATS_IN_FLIGHT)
		stats_arm(s, stats_earliest(s));
	stats_mark_dirty(s);
}

struct stats *
stats_new(struct event_base *base, struct http_async *client, const struct twilio *tw,
	  const char *workspace_sid, struct model *model, const struct stats_options *options,
	  struct metrics *metrics)
{
	struct stats *s = xcalloc(1, sizeof(*s));
	char *cause = NULL;

	if (options != NULL)
		s->o = *options;
	stats_fix_options(s);
	if (s->o.now_ms == NULL)
		s->o.now_ms = stats_real_monotonic_ms;
	if (s->o.wall_ms == NULL)
		s->o.wall_ms = stats_real_wall_ms;
	if (s->o.fetch == NULL) {
		s->o.fetch = stats_http_fetch;
		s->o.fetch_cancel = stats_http_cancel;
	}
	stats_set_thresholds(s, options);
	s->base = base;
	s->client = client;
	s->tw = tw;
	s->workspace_sid = xstrdup(workspace_sid != NULL ? workspace_sid : "");
	s->model = model;
	s->metrics = metrics;
	s->state = STATS_IDLE;
	s->last_start_ms = INT64_MIN;
	rng_seed_random(&s->rng);
	if (tz_zone_load(s->o.zoneinfo_dir, s->o.timezone, &s->zone, &cause) != 0) {
		log_warning("stats: time zone %s unusable (%s), today starts in UTC",
			    s->o.timezone != NULL ? s->o.timezone : "?",
			    cause != NULL ? cause : "?");
		free(cause);
		s->zone = tz_zone_utc();
	}
	s->o.timezone = NULL;
	s->o.zoneinfo_dir = NULL;
	if (s->o.timer_arm == NULL) {
		s->timer = evtimer_new(base, stats_timer_cb, s);
		if (s->timer == NULL)
			fatalx("stats: cannot create the refresh timer");
	}
	return s;
}

void
stats_free(struct stats *s)
{
	if (s == NULL)
		return;
	if (s->timer != NULL)
		event_free(s->timer);
	else
		stats_disarm(s);
	if (s->state == STATS_IN_FLIGHT && s->o.fetch_cancel != NULL)
		s->o.fetch_cancel(s->o.fetch_arg, s);
	tz_zone_free(s->zone);
	free(s->workspace_sid);
	free(s->doc);
	free(s->worker_doc);
	free(s);
}

const char *
stats_document(const struct stats *s, size_t *len_out)
{
	if (s == NULL || s->doc == NULL)
		return NULL;
	if (len_out != NULL)
		*len_out = s->doc_len;
	return s->doc;
}

const char *
stats_worker_document(const struct stats *s, size_t *len_out)
{
	if (s == NULL || s->worker_doc == NULL)
		return NULL;
	if (len_out != NULL)
		*len_out = s->worker_doc_len;
	return s->worker_doc;
}
