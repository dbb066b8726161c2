/*
 * events: Twilio webhook ingest (events.h has the checks and their order).
 *
 * This is the daemon's hot path (target: 20,000 signed events/s, p99 ack
 * <= 5 ms), so per request it parses the body once, builds the signed URL
 * once, runs at most the three URL variants signature.c tries, and logs
 * nothing above debug level. The reply is written by server.c before
 * events_accept runs, so the model update never delays Twilio's answer.
 *
 * Replay protection: a captured request stays validly signed forever, so an
 * event whose own Timestamp/TimestampMs is outside [now - max_age, now +
 * max_future] is refused. Inside the window a replay is only a duplicate,
 * which the model already treats as stale (model.h "Ordering"). A request
 * carrying no timestamp at all (recording callbacks) is not window-checked.
 *
 * A recording callback's URL goes to the recording callback (daemon.c:
 * model_set_recording, which shows it on the task).
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "date.h"
#include "events.h"
#include "form.h"
#include "hmap.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "num.h"
#include "signature.h"
#include "tr_event.h"
#include "xmalloc.h"

/* Pairs in one callback; TaskRouter sends about 40 at most. */
#define EVENTS_MAX_PAIRS 256
#define EVENTS_MAX_KEY	 256

/* A verified webhook: the form (owner of every string) and what was parsed from it. */
struct events_webhook {
	enum events_kind kind;
	struct form *form;
	struct tr_event event;	   /* EVENTS_TASKROUTER */
	char *task_sid;		   /* EVENTS_RECORDING: the form's or the query's */
	const char *recording_url; /* EVENTS_RECORDING */
};

struct events {
	struct events_check_config cfg; /* strings below are owned copies */
	char *auth_token;
	char *public_url;
	int64_t (*now_ms)(void *clock_arg);
	void *clock_arg;
	events_apply_cb *apply;
	events_recording_cb *recording;
	void *apply_arg;
	struct metrics *metrics;
};

static int64_t
events_real_now_ms(void *clock_arg)
{
	return date_now_ms();
}

/* True when the media type of content_type (parameters ignored) is type. */
static bool
events_media_type_is(const char *content_type, const char *type)
{
	size_t n = strlen(type);

	while (*content_type == ' ' || *content_type == '\t')
		content_type++;
	if (strncasecmp(content_type, type, n) != 0)
		return false;
	content_type += n;
	return *content_type == '\0' || *content_type == ';' || *content_type == ' ' ||
	       *content_type == '\t';
}

/* Adds the members of a JSON object to f as text (strings as-is, others as JSON). */
static void
events_json_to_form(const struct json_value *obj, struct form *f)
{
	struct json_gen *g = NULL;

	for (size_t i = 0; i < json_object_len(obj); i++) {
		const char *key = json_object_key(obj, i);
		const struct json_value *v = json_object_at(obj, i);

		switch (json_type(v)) {
		case JSON_NULL:
			break;
		case JSON_STRING:
			form_add(f, key, json_string(v));
			break;
		case JSON_BOOL:
			form_add(f, key, json_bool(v) ? "true" : "false");
			break;
		case JSON_NUMBER:
		case JSON_OBJECT:
		case JSON_ARRAY:
			if (g == NULL)
				g = json_gen_new();
			json_gen_reset(g);
			json_gen_value(g, v);
			form_add(f, key, json_gen_text(g, NULL));
			break;
		}
	}
	json_gen_free(g);
}

/*
 * Parses and verifies a JSON body: the URL (with bodySHA256) is signed, the
 * body hash checked, then the object's members become the parameters.
 */
static int
events_check_json(const struct events_check_config *cfg, const struct events_request *rq,
		  const char *url, struct form **form_out, const char **reason_out)
{
	struct json_doc *doc = NULL;
	const struct json_value *root = NULL;
	struct form *f = NULL;
	int r;

	r = signature_verify_body(cfg->auth_token, url, rq->body, rq->body_len, rq->signature);
	if (r != SIGNATURE_MATCH) {
		*reason_out = "X-Twilio-Signature does not match";
		return EVENTS_FORBIDDEN;
	}
	r = json_parse(rq->body, rq->body_len, NULL, &doc, NULL);
	if (r < 0) {
		*reason_out = "malformed JSON body";
		return EVENTS_BAD_REQUEST;
	}
	root = json_doc_root(doc);
	if (!json_is_object(root)) {
		json_doc_free(doc);
		*reason_out = "JSON body is not an object";
		return EVENTS_BAD_REQUEST;
	}
	f = form_new();
	events_json_to_form(root, f);
	json_doc_free(doc);
	*form_out = f;
	return EVENTS_OK;
}

/* A recording callback's own time in Unix ms, when it has one: 1 found, 0 none, -1 malformed. */
static int
events_recording_time_ms(const struct form *f, int64_t *ms_out)
{
	const char *s = form_get(f, "Timestamp");

	if (s == NULL || *s == '\0')
		return 0;
	return date_parse(s, ms_out) == 0 ? 1 : -1;
}

/* TaskSid of a recording callback: the form's, else the query's. Caller frees. */
static char *
events_recording_task_sid(const char *target, const struct form *f)
{
	const char *sid = form_get(f, "TaskSid");
	const char *q = NULL;
	struct form *query = NULL;
	char *out = NULL;

	if (sid != NULL && *sid != '\0')
		return xstrdup(sid);
	q = target == NULL ? NULL : strchr(target, '?');
	if (q == NULL)
		return NULL;
	if (form_parse(q + 1, strlen(q + 1), NULL, &query, NULL) < 0)
		return NULL;
	sid = form_get(query, "TaskSid");
	if (sid != NULL && *sid != '\0')
		out = xstrdup(sid);
	form_free(query);
	return out;
}

/* Slots of the repeated-key check: a power of two over twice EVENTS_MAX_PAIRS. */
#define EVENTS_KEY_SLOTS 512

/* FNV-1a of a key (the repeated-key check's hash). */
static uint32_t
events_key_hash(const char *key)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return h;
}

/* qsort comparator over an array of key strings. */
static int
events_key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The repeated-key check by sorting: for a form with more keys than the set holds. */
static bool
events_form_has_repeated_key_sorted(const struct form *f)
{
	size_t n = form_count(f);
	const char **keys = xcalloc(n, sizeof(*keys));
	bool repeated = false;

	for (size_t i = 0; i < n; i++)
		keys[i] = form_key(f, i);
	qsort(keys, n, sizeof(*keys), events_key_cmp);
	for (size_t i = 1; i < n && !repeated; i++)
		repeated = strcmp(keys[i - 1], keys[i]) == 0;
	free(keys);
	return repeated;
}

/*
 * True when a key occurs twice. TaskRouter never repeats a parameter, and the
 * signature covers the sorted set of values while form_get applies the first:
 * a repeated key would let a reordering change the event under a valid
 * signature. One pass with an open-addressing set of key indexes on the
 * stack (a form body has at most EVENTS_MAX_PAIRS pairs; a JSON body may
 * have more, and is sorted instead).
 */
static bool
events_form_has_repeated_key(const struct form *f)
{
	uint16_t slot[EVENTS_KEY_SLOTS]; /* 0: empty, else pair index + 1 */
	size_t n = form_count(f);
	size_t mask = EVENTS_KEY_SLOTS - 1;

	if (n < 2)
		return false;
	if (n > EVENTS_KEY_SLOTS / 2)
		return events_form_has_repeated_key_sorted(f);
	memset(slot, 0, sizeof(slot));
	for (size_t i = 0; i < n; i++) {
		const char *key = form_key(f, i);
		size_t k = events_key_hash(key) & mask;

		for (; slot[k] != 0; k = (k + 1) & mask) {
			if (strcmp(form_key(f, slot[k] - 1U), key) == 0)
				return true;
		}
		slot[k] = (uint16_t)(i + 1);
	}
	return false;
}

void
events_webhook_free(struct events_webhook *w)
{
	if (w == NULL)
		return;
	tr_event_clear(&w->event);
	free(w->task_sid);
	form_free(w->form);
	free(w);
}

const struct tr_event *
events_webhook_event(const struct events_webhook *w)
{
	return w->kind == EVENTS_TASKROUTER ? &w->event : NULL;
}

int
events_check(const struct events_check_config *cfg, const struct events_request *rq, int64_t now_ms,
	     struct events_webhook **webhook_out, const char **reason_out)
{
	const char *reason = NULL;
	struct events_webhook *w = NULL;
	struct form *f = NULL;
	struct buf url;
	struct form_limits limits;
	int64_t ts = 0;
	bool has_ts = false;
	int verdict = EVENTS_OK;
	int r;

	buf_init(&url);
	if (rq->body_len > cfg->body_max_bytes) {
		reason = "body too large";
		verdict = EVENTS_TOO_LARGE;
		goto out;
	}
	if (rq->target == NULL || rq->target[0] != '/') {
		reason = "request target is not a path";
		verdict = EVENTS_BAD_REQUEST;
		goto out;
	}
	if (rq->signature == NULL || rq->signature[0] == '\0') {
		reason = "missing X-Twilio-Signature";
		verdict = EVENTS_FORBIDDEN;
		goto out;
	}
	buf_puts(&url, cfg->public_url);
	buf_puts(&url, rq->target);

	if (rq->content_type != NULL &&
	    events_media_type_is(rq->content_type, "application/json")) {
		verdict = events_check_json(cfg, rq, url.data, &f, &reason);
		if (verdict != EVENTS_OK)
			goto out;
	} else if (rq->content_type == NULL ||
		   events_media_type_is(rq->content_type, "application/x-www-form-urlencoded")) {
		limits.max_bytes = cfg->body_max_bytes;
		limits.max_pairs = EVENTS_MAX_PAIRS;
		limits.max_key_bytes = EVENTS_MAX_KEY;
		limits.max_value_bytes = cfg->body_max_bytes;
		r = form_parse(rq->body == NULL ? "" : rq->body, rq->body_len, &limits, &f, NULL);
		if (r < 0) {
			reason = "malformed form body";
			verdict = EVENTS_BAD_REQUEST;
			goto out;
		}
		r = signature_verify(cfg->auth_token, url.data, f, rq->signature);
		if (r != SIGNATURE_MATCH) {
			reason = "X-Twilio-Signature does not match";
			verdict = EVENTS_FORBIDDEN;
			goto out;
		}
	} else {
		reason = "unsupported Content-Type";
		verdict = EVENTS_BAD_REQUEST;
		goto out;
	}

	if (events_form_has_repeated_key(f)) {
		reason = "repeated parameter";
		verdict = EVENTS_BAD_REQUEST;
		goto out;
	}
	w = xcalloc(1, sizeof(*w));
	w->kind = rq->kind;
	w->form = f;
	f = NULL;
	switch (rq->kind) {
	case EVENTS_NONE:
		reason = "not a webhook route";
		verdict = EVENTS_BAD_REQUEST;
		goto out;
	case EVENTS_TASKROUTER:
		if (tr_event_parse(w->form, &w->event, &reason) < 0) {
			verdict = EVENTS_BAD_REQUEST;
			goto out;
		}
		ts = w->event.ts_ms;
		has_ts = true;
		break;
	case EVENTS_RECORDING:
		w->recording_url = form_get(w->form, "RecordingUrl");
		if (w->recording_url == NULL || *w->recording_url == '\0') {
			reason = "missing RecordingUrl";
			verdict = EVENTS_BAD_REQUEST;
			goto out;
		}
		w->task_sid = events_recording_task_sid(rq->target, w->form);
		if (w->task_sid == NULL) {
			reason = "missing TaskSid";
			verdict = EVENTS_BAD_REQUEST;
			goto out;
		}
		r = events_recording_time_ms(w->form, &ts);
		if (r < 0) {
			reason = "malformed Timestamp";
			verdict = EVENTS_BAD_REQUEST;
			goto out;
		}
		has_ts = r == 1;
		break;
	}

	if (has_ts && cfg->max_age_ms >= 0 && ts < now_ms - cfg->max_age_ms) {
		reason = "stale event (outside the replay window)";
		verdict = EVENTS_FORBIDDEN;
		goto out;
	}
	if (has_ts && cfg->max_future_ms >= 0 && ts > now_ms + cfg->max_future_ms) {
		reason = "event timestamp too far in the future";
		verdict = EVENTS_FORBIDDEN;
		goto out;
	}

	*webhook_out = w;
	w = NULL;
out:
	events_webhook_free(w);
	form_free(f);
	buf_clear(&url);
	if (reason_out != NULL)
		*reason_out = reason;
	return verdict;
}

static void
events_apply_options(struct events *ev, const struct events_options *options)
{
	xfree_secret(ev->auth_token);
	free(ev->public_url);
	ev->auth_token = xstrdup(options->auth_token == NULL ? "" : options->auth_token);
	ev->public_url = xstrdup(options->public_url == NULL ? "" : options->public_url);
	ev->cfg.auth_token = ev->auth_token;
	ev->cfg.public_url = ev->public_url;
	ev->cfg.body_max_bytes = options->body_max_bytes == 0 ? EVENTS_DEFAULT_BODY_MAX_BYTES
							      : options->body_max_bytes;
	ev->cfg.max_age_ms =
		options->max_age_ms == 0 ? EVENTS_DEFAULT_MAX_AGE_MS : options->max_age_ms;
	ev->cfg.max_future_ms =
		options->max_future_ms == 0 ? EVENTS_DEFAULT_MAX_FUTURE_MS : options->max_future_ms;
	ev->now_ms = options->now_ms == NULL ? events_real_now_ms : options->now_ms;
	ev->clock_arg = options->clock_arg;
}

struct events *
events_new(const struct events_options *options, struct metrics *metrics)
{
	struct events *ev = xcalloc(1, sizeof(*ev));

	events_apply_options(ev, options);
	ev->metrics = metrics;
	return ev;
}

void
events_free(struct events *ev)
{
	if (ev == NULL)
		return;
	xfree_secret(ev->auth_token);
	free(ev->public_url);
	free(ev);
}

void
events_set_apply(struct events *ev, events_apply_cb *apply, events_recording_cb *recording,
		 void *arg)
{
	ev->apply = apply;
	ev->recording = recording;
	ev->apply_arg = arg;
}

void
events_reconfigure(struct events *ev, const struct events_options *options)
{
	events_apply_options(ev, options);
}

int
events_verify(struct events *ev, const struct events_request *rq,
	      struct events_webhook **webhook_out, const char **reason_out)
{
	const char *reason = NULL;
	int verdict = events_check(&ev->cfg, rq, ev->now_ms(ev->clock_arg), webhook_out, &reason);

	if (verdict != EVENTS_OK) {
		if (ev->metrics != NULL)
			metrics_webhook_rejected(ev->metrics, verdict);
		log_trace(LOG_TRACE_EVENTS, "webhook refused with %d: %s", verdict, reason);
	}
	if (reason_out != NULL)
		*reason_out = reason;
	return verdict;
}

void
events_accept(struct events *ev, const struct events_webhook *w)
{
	switch (w->kind) {
	case EVENTS_NONE:
		break; /* events_check never makes one */
	case EVENTS_TASKROUTER: {
		const char *resource = w->event.resource_sid != NULL ? w->event.resource_sid : "-";
		int r = 0;

		if (ev->metrics != NULL)
			metrics_event_received(ev->metrics, w->event.type);
		if (ev->apply != NULL)
			r = ev->apply(&w->event, ev->apply_arg);
		log_trace(LOG_TRACE_EVENTS, "event %s %s: outcome %d", w->event.type, resource, r);
		break;
	}
	case EVENTS_RECORDING: {
		int r = 0;

		if (ev->recording != NULL)
			r = ev->recording(w->task_sid, w->recording_url, ev->apply_arg);
		log_trace(LOG_TRACE_EVENTS, "recording for task %s: outcome %d", w->task_sid, r);
		break;
	}
	}
}
