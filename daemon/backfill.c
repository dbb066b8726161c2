/*
 * backfill: the restart replay of today's TaskRouter events (backfill.h).
 *
 * One request at a time (the pages of one list are sequential anyway);
 * each response's records become forms kept in an array; when the last
 * page is read (or a cap is hit, or a request fails for good) the array is
 * sorted by time and applied, then the webhooks held meanwhile, and the
 * done callback reports the counts.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "backfill.h"
#include "date.h"
#include "form.h"
#include "http_async.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "model.h"
#include "num.h"
#include "rng.h"
#include "tr_event.h"
#include "xmalloc.h"

struct backfill_rec {
	int64_t ts_ms;
	size_t order; /* arrival order: ties keep it */
	struct form *form;
};

struct backfill {
	struct event_base *base;
	struct http_async *client;
	const struct twilio *tw;
	char *workspace_sid;
	struct model *model;
	struct metrics *metrics;
	struct backfill_options o;
	char *expect_sid;
	struct rng rng;

	bool running;
	bool collect;	    /* an event older than one applied came: sort and apply at the end */
	int64_t applied_hi; /* newest time applied so far */
	struct http_async_request *req;
	char *url;
	char *events_url;     /* sent once the workspace is read */
	char *workspace_name; /* WorkspaceName of the callbacks */
	unsigned attempts;
	struct event *retry_timer;
	struct event *cap_timer;
	struct event *finish_timer; /* finishes from the loop, never inside backfill_start */
	int64_t started_ms;

	struct backfill_rec *recs;
	size_t nrecs;
	size_t cap;
	struct form **deferred;
	size_t ndeferred;
	size_t deferred_cap;

	struct backfill_result res;
	char *reason;
	char last_sid[SID_LEN + 1];

	backfill_done_cb *done;
	void *done_arg;
};

/* ------------------------------------------------------------------ */
/* the mapping */

bool
backfill_camel(const char *snake, char *out, size_t cap)
{
	size_t n = 0;
	bool up = true;

	for (const char *p = snake; *p != '\0'; p++) {
		char c = *p;

		if (c == '_') {
			up = true;
			continue;
		}
		if (n + 1 >= cap)
			return false;
		if (up && c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		up = false;
		out[n++] = c;
	}
	if (n == 0 || cap == 0)
		return false;
	out[n] = '\0';
	return true;
}

/* A JSON value as a form value: strings as they are, others as JSON text; NULL for null. */
static char *
backfill_value_text(const struct json_value *v, struct json_gen *g)
{
	size_t len = 0;

	switch (json_type(v)) {
	case JSON_NULL:
		return NULL;
	case JSON_STRING:
		return xstrdup(json_string(v));
	case JSON_BOOL:
		return xstrdup(json_bool(v) ? "true" : "false");
	case JSON_NUMBER:
	case JSON_OBJECT:
	case JSON_ARRAY:
		break;
	}
	json_gen_reset(g);
	json_gen_value(g, v);
	return xstrdup(json_gen_text(g, &len));
}

static void
backfill_add_json(struct form *out, const char *key, const struct json_value *v, struct json_gen *g)
{
	char *text;

	if (v == NULL)
		return;
	text = backfill_value_text(v, g);
	if (text != NULL && form_get(out, key) == NULL)
		form_add(out, key, text);
	free(text);
}

int
backfill_event_form(const struct json_value *rec, const char *workspace_name, struct form *out)
{
	static const struct {
		const char *json;
		const char *form;
	} base[] = {
		{ "event_type", "EventType" },	       { "sid", "Sid" },
		{ "resource_type", "ResourceType" },   { "resource_sid", "ResourceSid" },
		{ "workspace_sid", "WorkspaceSid" },   { "account_sid", "AccountSid" },
		{ "description", "EventDescription" },
	};
	const struct json_value *data;
	const struct json_value *ms;
	struct json_gen *g;
	int64_t ts = -1;
	char key[96];

	if (!json_is_object(rec) || json_string(json_get(rec, "event_type")) == NULL)
		return -EINVAL;
	g = json_gen_new();
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		backfill_add_json(out, base[i].form, json_get(rec, base[i].json), g);
	if (workspace_name != NULL)
		form_add(out, "WorkspaceName", workspace_name);
	/* Timestamp is Unix seconds in a callback; TimestampMs only when Twilio gave ms. */
	ms = json_get(rec, "event_date_ms");
	if (ms != NULL && json_type(ms) != JSON_NULL) {
		backfill_add_json(out, "TimestampMs", ms, g);
		(void)num_parse_i64(form_get(out, "TimestampMs"), 0, INT64_MAX, &ts);
	} else {
		(void)date_parse(json_string(json_get(rec, "event_date")), &ts);
	}
	if (ts >= 0)
		form_add_int(out, "Timestamp", (long long)(ts / 1000));
	data = json_get(rec, "event_data");
	if (json_is_object(data)) {
		for (size_t i = 0; i < json_object_len(data); i++) {
			if (!backfill_camel(json_object_key(data, i), key, sizeof(key)))
				continue;
			backfill_add_json(out, key, json_object_at(data, i), g);
		}
	}
	json_gen_free(g);
	return 0;
}

/* ------------------------------------------------------------------ */
/* the state file */

int
backfill_state_load(const char *path, char sid_out[SID_LEN + 1], int64_t *ms_out, char **cause_out)
{
	char buf[256];
	char sid[64];
	char ms[32];
	FILE *f;
	size_t n;
	int r = 0;

	sid_out[0] = '\0';
	*ms_out = -1;
	f = fopen(path, "re");
	if (f == NULL) {
		r = -errno;
		if (cause_out != NULL)
			*cause_out = xasprintf("%s: %s", path, strerror(-r));
		return r;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	if (ferror(f) || !feof(f))
		r = -EINVAL; /* a read error or a file far larger than ours */
	(void)fclose(f);
	if (r == 0 && (sscanf(buf, "trhubd-state 1\nlast_event_sid %63s\nlast_event_ms %31s\n", sid,
			      ms) != 2 ||
		       !sid_is_valid(sid, "EV") || num_parse_i64(ms, 0, INT64_MAX, ms_out) < 0))
		r = -EINVAL;
	if (r < 0) {
		*ms_out = -1;
		if (cause_out != NULL)
			*cause_out = xasprintf("%s: not a trhubd state file", path);
		return r;
	}
	memcpy(sid_out, sid, SID_LEN + 1);
	return 0;
}

static int
backfill_write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int
backfill_state_save(const char *path, const char *sid, int64_t ms, char **cause_out)
{
	char *tmp = xasprintf("%s.tmp", path);
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	char *text = xasprintf("trhubd-state 1\nlast_event_sid %s\nlast_event_ms %" PRId64 "\n",
			       sid, ms);
	const char *what = "open";
	int fd;
	int r = 0;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
	} else {
		what = "write";
		r = backfill_write_all(fd, text, strlen(text));
		if (r == 0 && fsync(fd) < 0) {
			what = "fsync";
			r = -errno;
		}
		if (close(fd) < 0 && r == 0) {
			what = "close";
			r = -errno;
		}
		if (r == 0 && rename(tmp, path) < 0) {
			what = "rename";
			r = -errno;
		}
		if (r < 0)
			(void)unlink(tmp);
	}
	if (r == 0) {
		/* The rename is durable once the directory is synced. */
		if (slash != NULL)
			*slash = '\0';
		fd = open(slash == NULL ? "." : (dir[0] == '\0' ? "/" : dir),
			  O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			(void)fsync(fd);
			(void)close(fd);
		}
	}
	if (r < 0 && cause_out != NULL)
		*cause_out = xasprintf("%s %s: %s", what, r == 0 ? path : tmp, strerror(-r));
	free(text);
	free(dir);
	free(tmp);
	return r;
}

/* ------------------------------------------------------------------ */
/* the run */

static void backfill_response_cb(const struct http_response *resp, void *arg);

static void
backfill_fail(struct backfill *bf, int error, const char *reason)
{
	if (bf->res.error == 0) {
		bf->res.error = error;
		free(bf->reason);
		bf->reason = xstrdup(reason);
	}
}

static void
backfill_schedule_finish(struct backfill *bf)
{
	struct timeval now = { 0, 0 };

	if (bf->req != NULL) {
		http_async_cancel(bf->req);
		bf->req = NULL;
	}
	(void)evtimer_del(bf->retry_timer);
	(void)evtimer_del(bf->cap_timer);
	if (evtimer_add(bf->finish_timer, &now) < 0)
		log_err("backfill: cannot arm the finish timer");
}

static int
backfill_send(struct backfill *bf)
{
	struct http_request_spec spec;
	char *cause = NULL;

	bf->attempts++;
	bf->res.requests++;
	twilio_request_spec_init(bf->tw, &spec, HTTP_GET, bf->url);
	bf->req = http_async_start(bf->client, &spec, backfill_response_cb, bf, &cause);
	if (bf->req == NULL) {
		log_warning("backfill: cannot start the Events request: %s",
			    cause != NULL ? cause : "?");
		free(cause);
		return -EIO;
	}
	return 0;
}

static void
backfill_keep(struct backfill *bf, const struct json_value *rec)
{
	struct form *f = form_new();
	int64_t ts = -1;
	const char *v;

	if (backfill_event_form(rec, bf->workspace_name, f) < 0) {
		form_free(f);
		bf->res.invalid++;
		return;
	}
	v = form_get(f, "TimestampMs");
	if (v == NULL || num_parse_i64(v, 0, INT64_MAX, &ts) < 0)
		(void)date_parse(json_string(json_get(rec, "event_date")), &ts);
	if (bf->nrecs == bf->cap) {
		bf->cap = bf->cap > 0 ? 2 * bf->cap : 1024;
		bf->recs = xreallocarray(bf->recs, bf->cap, sizeof(*bf->recs));
	}
	bf->recs[bf->nrecs].ts_ms = ts;
	bf->recs[bf->nrecs].order = bf->nrecs;
	bf->recs[bf->nrecs].form = f;
	bf->nrecs++;
}

static int backfill_rec_cmp(const void *a, const void *b);
static void backfill_apply(struct backfill *bf, const struct form *f, bool replayed);

/*
 * While the pages come oldest first (the usual case), each page is applied
 * as soon as it is read, so memory holds one page. The first record older
 * than what was applied switches to collecting: the rest is sorted and
 * applied at the end (the model tolerates the one out-of-order step).
 */
static void
backfill_stream(struct backfill *bf)
{
	int64_t t0;

	if (bf->collect || bf->nrecs == 0)
		return;
	qsort(bf->recs, bf->nrecs, sizeof(*bf->recs), backfill_rec_cmp);
	if (bf->recs[0].ts_ms < bf->applied_hi) {
		bf->collect = true;
		return;
	}
	t0 = date_monotonic_ms();
	for (size_t i = 0; i < bf->nrecs; i++) {
		backfill_apply(bf, bf->recs[i].form, true);
		form_free(bf->recs[i].form);
	}
	bf->applied_hi = bf->recs[bf->nrecs - 1].ts_ms;
	bf->nrecs = 0;
	bf->res.apply_ms += date_monotonic_ms() - t0;
}

/* Reads one page; returns the next page's URL (allocated) or NULL, or sets the failure. */
static char *
backfill_page(struct backfill *bf, const struct http_response *resp)
{
	struct twilio_page *page = NULL;
	char *cause = NULL;
	char *next = NULL;

	if (twilio_page_parse(bf->tw, "events", resp->body, resp->body_len, &page, &cause) != 0) {
		char *why = xasprintf("Events page: %s", cause != NULL ? cause : "bad page");

		backfill_fail(bf, -EIO, why);
		free(why);
		free(cause);
		return NULL;
	}
	bf->res.pages++;
	for (size_t i = 0; i < twilio_page_count(page); i++)
		backfill_keep(bf, twilio_page_record(page, i));
	bf->res.fetched += twilio_page_count(page);
	backfill_stream(bf);
	if (twilio_page_next_url(page) != NULL)
		next = xstrdup(twilio_page_next_url(page));
	twilio_page_free(page);
	return next;
}

static void
backfill_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct backfill *bf = arg;

	if (backfill_send(bf) < 0) {
		backfill_fail(bf, -EIO, "cannot restart the Events request");
		backfill_schedule_finish(bf);
	}
}

static void
backfill_response_cb(const struct http_response *resp, void *arg)
{
	struct backfill *bf = arg;
	long delay_ms = 0;
	char *next;

	bf->req = NULL;
	if (bf->metrics != NULL)
		metrics_twilio_request(bf->metrics, bf->events_url != NULL ? "workspace" : "events",
				       resp->status);
	if (!twilio_response_ok(resp)) {
		struct twilio_error err;
		char *why;

		if (twilio_retry_next(&bf->o.retry, resp, bf->attempts, &bf->rng, &delay_ms)) {
			struct timeval tv = { .tv_sec = delay_ms / 1000,
					      .tv_usec = (delay_ms % 1000) * 1000 };

			if (bf->metrics != NULL)
				metrics_twilio_retry(bf->metrics, "events");
			log_warning("backfill: Events: HTTP %ld (%s), retrying in %ld ms",
				    resp->status, http_outcome_name(resp->outcome), delay_ms);
			if (evtimer_add(bf->retry_timer, &tv) == 0)
				return;
		}
		twilio_error_init(&err);
		(void)twilio_error_parse(resp, &err);
		why = xasprintf("Events: HTTP %ld, Twilio error %ld: %s", resp->status, err.code,
				err.message);
		twilio_error_clear(&err);
		backfill_fail(bf, -EIO, why);
		free(why);
		backfill_schedule_finish(bf);
		return;
	}
	if (bf->events_url != NULL) {
		/* The workspace: its name goes into every replayed event, as in a callback. */
		struct json_doc *doc = NULL;
		const char *name = NULL;

		if (json_parse(resp->body, resp->body_len, NULL, &doc, NULL) == 0)
			name = json_string(json_get(json_doc_root(doc), "friendly_name"));
		free(bf->workspace_name);
		bf->workspace_name = name != NULL ? xstrdup(name) : NULL;
		json_doc_free(doc);
		next = bf->events_url;
		bf->events_url = NULL;
	} else {
		next = backfill_page(bf, resp);
	}
	if (next != NULL && bf->res.pages >= bf->o.max_pages) {
		char *why = xasprintf("more than %u pages of events", bf->o.max_pages);

		backfill_fail(bf, -E2BIG, why);
		free(why);
		free(next);
		next = NULL;
	}
	if (next == NULL) {
		backfill_schedule_finish(bf);
		return;
	}
	free(bf->url);
	bf->url = next;
	bf->attempts = 0;
	if (backfill_send(bf) < 0) {
		backfill_fail(bf, -EIO, "cannot start the next Events page");
		backfill_schedule_finish(bf);
	}
}

static void
backfill_cap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct backfill *bf = arg;
	char *why = xasprintf("the replay took longer than %" PRId64 " ms", bf->o.timeout_ms);

	backfill_fail(bf, -ETIMEDOUT, why);
	free(why);
	backfill_schedule_finish(bf);
}

static int
backfill_rec_cmp(const void *a, const void *b)
{
	const struct backfill_rec *x = a;
	const struct backfill_rec *y = b;

	if (x->ts_ms != y->ts_ms)
		return x->ts_ms < y->ts_ms ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Parses and applies one form; counts the outcome. */
static void
backfill_apply(struct backfill *bf, const struct form *f, bool replayed)
{
	struct tr_event ev;
	const char *reason = NULL;
	int r;

	if (tr_event_parse(f, &ev, &reason) < 0) {
		if (bf->res.invalid++ < 5)
			log_warning("backfill: skipped an event: %s", reason);
		return;
	}
	r = model_apply_event(bf->model, &ev);
	if (r == MODEL_APPLIED)
		bf->res.applied++;
	else if (r == MODEL_STALE_EVENT)
		bf->res.stale++;
	else
		bf->res.ignored++;
	if (replayed && ev.id != NULL && bf->expect_sid != NULL &&
	    strcmp(ev.id, bf->expect_sid) == 0)
		bf->res.expect_found = true;
	if (replayed && ev.id != NULL && ev.ts_ms >= bf->res.last_ms) {
		bf->res.last_ms = ev.ts_ms;
		(void)snprintf(bf->last_sid, sizeof(bf->last_sid), "%s", ev.id);
	}
	tr_event_clear(&ev);
}

static void
backfill_reset(struct backfill *bf)
{
	for (size_t i = 0; i < bf->nrecs; i++)
		form_free(bf->recs[i].form);
	bf->nrecs = 0;
	for (size_t i = 0; i < bf->ndeferred; i++)
		form_free(bf->deferred[i]);
	bf->ndeferred = 0;
	free(bf->url);
	bf->url = NULL;
	free(bf->events_url);
	bf->events_url = NULL;
}

static void
backfill_finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct backfill *bf = arg;
	int64_t t0 = date_monotonic_ms();

	bf->res.fetch_ms = t0 - bf->started_ms - bf->res.apply_ms;
	if (bf->nrecs > 0)
		qsort(bf->recs, bf->nrecs, sizeof(*bf->recs), backfill_rec_cmp);
	for (size_t i = 0; i < bf->nrecs; i++)
		backfill_apply(bf, bf->recs[i].form, true);
	bf->res.apply_ms += date_monotonic_ms() - t0;
	bf->res.deferred = bf->ndeferred;
	bf->res.reason = bf->reason;
	bf->res.last_sid = bf->last_sid[0] != '\0' ? bf->last_sid : NULL;
	bf->running = false; /* webhooks from here on go straight to the model */
	if (bf->done != NULL)
		bf->done(&bf->res, bf->done_arg);
	/* Then the webhooks held meanwhile, as news (the listener is back). */
	for (size_t i = 0; i < bf->ndeferred; i++)
		backfill_apply(bf, bf->deferred[i], false);
	backfill_reset(bf);
	free(bf->reason);
	bf->reason = NULL;
}

int
backfill_start(struct backfill *bf, backfill_done_cb *done, void *arg)
{
	struct form *q;
	char date[DATE_ISO_LEN];
	char *base_url;
	struct timeval cap;

	if (bf->running)
		return -EALREADY;
	memset(&bf->res, 0, sizeof(bf->res));
	bf->res.last_ms = -1;
	bf->collect = false;
	bf->applied_hi = INT64_MIN;
	bf->last_sid[0] = '\0';
	bf->done = done;
	bf->done_arg = arg;
	bf->running = true;
	bf->attempts = 0;
	bf->started_ms = date_monotonic_ms();
	cap.tv_sec = bf->o.timeout_ms / 1000;
	cap.tv_usec = (bf->o.timeout_ms % 1000) * 1000;
	if (evtimer_add(bf->cap_timer, &cap) < 0)
		log_err("backfill: cannot arm the time cap");

	q = form_new();
	date_format_iso(bf->o.start_ms, date);
	form_add(q, "StartDate", date);
	if (bf->o.end_ms >= 0) {
		date_format_iso(bf->o.end_ms, date);
		form_add(q, "EndDate", date);
	}
	form_add(q, "PageSize", BACKFILL_PAGE_SIZE);
	base_url = twilio_url_events(bf->tw, bf->workspace_sid);
	bf->events_url = base_url != NULL ? twilio_url_with_query(base_url, q) : NULL;
	free(base_url);
	form_free(q);
	bf->url = bf->events_url != NULL ? twilio_url_workspace(bf->tw, bf->workspace_sid) : NULL;
	if (bf->url == NULL) {
		backfill_fail(bf, -EIO, "cannot build the Events URL");
		backfill_schedule_finish(bf);
	} else if (backfill_send(bf) < 0) {
		backfill_fail(bf, -EIO, "cannot start the Events request");
		backfill_schedule_finish(bf);
	}
	return 0;
}

bool
backfill_running(const struct backfill *bf)
{
	return bf != NULL && bf->running;
}

bool
backfill_defer(struct backfill *bf, const struct tr_event *ev)
{
	struct form *f;

	if (!backfill_running(bf) || bf->ndeferred >= BACKFILL_MAX_DEFERRED)
		return false;
	f = form_new();
	for (size_t i = 0; i < ev->nfields; i++)
		form_add(f, ev->fields[2 * i], ev->fields[2 * i + 1]);
	if (bf->ndeferred == bf->deferred_cap) {
		bf->deferred_cap = bf->deferred_cap > 0 ? 2 * bf->deferred_cap : 256;
		bf->deferred = xreallocarray(bf->deferred, bf->deferred_cap, sizeof(*bf->deferred));
	}
	bf->deferred[bf->ndeferred++] = f;
	return true;
}

struct backfill *
backfill_new(struct event_base *base, struct http_async *client, const struct twilio *tw,
	     const char *workspace_sid, struct model *model, const struct backfill_options *options,
	     struct metrics *metrics)
{
	struct backfill *bf = xcalloc(1, sizeof(*bf));

	if (options != NULL)
		bf->o = *options;
	if (bf->o.timeout_ms <= 0)
		bf->o.timeout_ms = BACKFILL_DEFAULT_TIMEOUT_MS;
	if (bf->o.max_pages == 0)
		bf->o.max_pages = BACKFILL_MAX_PAGES;
	bf->expect_sid = bf->o.expect_sid != NULL ? xstrdup(bf->o.expect_sid) : NULL;
	bf->o.expect_sid = NULL;
	bf->base = base;
	bf->client = client;
	bf->tw = tw;
	bf->workspace_sid = xstrdup(workspace_sid);
	bf->model = model;
	bf->metrics = metrics;
	rng_seed_random(&bf->rng);
	bf->retry_timer = evtimer_new(base, backfill_retry_cb, bf);
	bf->cap_timer = evtimer_new(base, backfill_cap_cb, bf);
	bf->finish_timer = evtimer_new(base, backfill_finish_cb, bf);
	if (bf->retry_timer == NULL || bf->cap_timer == NULL || bf->finish_timer == NULL)
		fatalx("backfill: cannot create timers");
	return bf;
}

void
backfill_free(struct backfill *bf)
{
	if (bf == NULL)
		return;
	if (bf->req != NULL)
		http_async_cancel(bf->req);
	event_free(bf->retry_timer);
	event_free(bf->cap_timer);
	event_free(bf->finish_timer);
	backfill_reset(bf);
	free(bf->recs);
	free(bf->deferred);
	free(bf->reason);
	free(bf->expect_sid);
	free(bf->workspace_name);
	free(bf->workspace_sid);
	free(bf);
}

/* ------------------------------------------------------------------ */
/* the state keeper */

/*
 * The event loop never waits for the disk: it posts the latest (Sid, time)
 * under the lock and one writer thread saves whatever is latest (fsync can
 * take tens of milliseconds on a busy disk, and webhooks are answered in
 * under two). Failures are logged from the loop, once.
 */
struct backfill_keeper {
	struct model *model;
	char *path;
	struct event *timer;
	char prev_sid[SID_LEN + 1];
	int64_t prev_ms;
	char posted_sid[SID_LEN + 1]; /* the loop's: last handed to the thread */
	bool warned;

	bool have_thread;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* under lock */
	bool quit;
	bool pending;
	char want_sid[SID_LEN + 1];
	int64_t want_ms;
	int saves_in_progress;
	char *error; /* the last failure, for the loop to log */
};

static void *
backfill_keeper_thread(void *arg)
{
	struct backfill_keeper *k = arg;
	char sid[SID_LEN + 1];
	int64_t ms;
	char *cause;

	(void)pthread_mutex_lock(&k->lock);
	for (;;) {
		while (!k->pending && !k->quit)
			(void)pthread_cond_wait(&k->cond, &k->lock);
		if (!k->pending)
			break; /* quit, nothing left to write */
		memcpy(sid, k->want_sid, sizeof(sid));
		ms = k->want_ms;
		k->pending = false;
		k->saves_in_progress++;
		(void)pthread_mutex_unlock(&k->lock);
		cause = NULL;
		if (backfill_state_save(k->path, sid, ms, &cause) < 0 && cause == NULL)
			cause = xstrdup("?");
		(void)pthread_mutex_lock(&k->lock);
		k->saves_in_progress--;
		if (cause != NULL) {
			free(k->error);
			k->error = cause;
		}
		(void)pthread_cond_broadcast(&k->cond);
	}
	(void)pthread_mutex_unlock(&k->lock);
	return NULL;
}

/* Hands the newest ring event to the writer when it changed. */
static void
backfill_keeper_post(struct backfill_keeper *k)
{
	uint64_t oldest = 0;
	uint64_t newest = 0;
	const char *sid;
	const char *ts;
	int64_t ms = -1;
	char *error;

	(void)pthread_mutex_lock(&k->lock);
	error = k->error;
	k->error = NULL;
	(void)pthread_mutex_unlock(&k->lock);
	if (error != NULL) {
		if (!k->warned)
			log_warning("state file not written: %s (warned once)", error);
		k->warned = true;
		free(error);
	}
	model_event_range(k->model, &oldest, &newest);
	if (newest == 0)
		return;
	sid = model_event_field(k->model, newest, "Sid");
	if (sid == NULL || !sid_is_valid(sid, "EV") || strcmp(sid, k->posted_sid) == 0)
		return;
	ts = model_event_field(k->model, newest, "TimestampMs");
	if (ts == NULL || num_parse_i64(ts, 0, INT64_MAX, &ms) < 0)
		(void)date_parse(model_event_field(k->model, newest, "Timestamp"), &ms);
	if (ms < 0)
		return;
	memcpy(k->posted_sid, sid, SID_LEN + 1);
	(void)pthread_mutex_lock(&k->lock);
	memcpy(k->want_sid, sid, SID_LEN + 1);
	k->want_ms = ms;
	k->pending = true;
	(void)pthread_cond_broadcast(&k->cond);
	(void)pthread_mutex_unlock(&k->lock);
}

void
backfill_keeper_flush(struct backfill_keeper *k)
{
	if (k == NULL || !k->have_thread)
		return;
	backfill_keeper_post(k);
	/* At stop: wait until the writer has nothing left (a few ms). */
	(void)pthread_mutex_lock(&k->lock);
	while (k->pending || k->saves_in_progress > 0)
		(void)pthread_cond_wait(&k->cond, &k->lock);
	(void)pthread_mutex_unlock(&k->lock);
}

static void
backfill_keeper_cb(evutil_socket_t fd, short what, void *arg)
{
	backfill_keeper_post(arg);
}

struct backfill_keeper *
backfill_keeper_new(struct event_base *base, struct model *model, const char *path)
{
	struct backfill_keeper *k = xcalloc(1, sizeof(*k));
	struct timeval tv = { BACKFILL_STATE_SAVE_MS / 1000,
			      (BACKFILL_STATE_SAVE_MS % 1000) * 1000 };
	char *cause = NULL;
	int r;

	k->model = model;
	k->prev_ms = -1;
	(void)pthread_mutex_init(&k->lock, NULL);
	(void)pthread_cond_init(&k->cond, NULL);
	if (path == NULL) {
		log_info("no state directory (state_dir, $STATE_DIRECTORY): the last event applied "
			 "is not remembered");
		return k;
	}
	k->path = xstrdup(path);
	r = backfill_state_load(path, k->prev_sid, &k->prev_ms, &cause);
	if (r == -ENOENT)
		log_info("no state file %s: a first start", path);
	else if (r < 0)
		log_warning("state file unusable (%s): treated as a first start",
			    cause != NULL ? cause : "?");
	else
		log_info("state file: last event applied before this start: %s at %" PRId64,
			 k->prev_sid, k->prev_ms);
	free(cause);
	r = pthread_create(&k->thread, NULL, backfill_keeper_thread, k);
	if (r != 0) {
		log_warning("state file: cannot start its writer thread (%s): not saved",
			    strerror(r));
		return k;
	}
	k->have_thread = true;
	k->timer = event_new(base, -1, EV_PERSIST, backfill_keeper_cb, k);
	if (k->timer == NULL || event_add(k->timer, &tv) < 0)
		log_err("state file: cannot arm the save timer");
	return k;
}

void
backfill_keeper_free(struct backfill_keeper *k)
{
	if (k == NULL)
		return;
	if (k->timer != NULL)
		event_free(k->timer);
	if (k->have_thread) {
		(void)pthread_mutex_lock(&k->lock);
		k->quit = true;
		(void)pthread_cond_broadcast(&k->cond);
		(void)pthread_mutex_unlock(&k->lock);
		(void)pthread_join(k->thread, NULL);
	}
	(void)pthread_mutex_destroy(&k->lock);
	(void)pthread_cond_destroy(&k->cond);
	free(k->error);
	free(k->path);
	free(k);
}

const char *
backfill_keeper_prev_sid(const struct backfill_keeper *k, int64_t *ms_out)
{
	*ms_out = k != NULL ? k->prev_ms : -1;
	return k != NULL && k->prev_sid[0] != '\0' ? k->prev_sid : NULL;
}
