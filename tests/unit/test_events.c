/*
 * Unit tests for daemon/events: every webhook check of events.h in its
 * order (413, 400, 403 signature, 400 fields, 403 replay), signed exactly
 * as Twilio signs (signature_compute), plus what events_accept does with a
 * verified request.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "events.h"
#include "form.h"
#include "metrics.h"
#include "signature.h"
#include "tr_event.h"
#include "xmalloc.h"

#define TOKEN	   "f0e1d2c3b4a5968778695a4b3c2d1e0f"
#define PUBLIC	   "http://127.0.0.1:8080"
#define NOW_MS	   1700000000000LL
#define EVENT_PATH "/taskrouter_event"
#define REC_PATH   "/taskrouter_recording_callback"

static const struct events_check_config check_cfg = {
	.auth_token = TOKEN,
	.public_url = PUBLIC,
	.body_max_bytes = 4096,
	.max_age_ms = 5 * 60 * 1000,
	.max_future_ms = 5 * 60 * 1000,
};

/* A signed request: body and signature owned here. */
struct signed_req {
	struct events_request rq;
	char *body;
	char sig[SIGNATURE_LEN + 1];
};

static struct form *
event_form(const char *type, int64_t ts_ms)
{
	struct form *f = form_new();
	char buf[32];

	form_add(f, "EventType", type);
	form_add(f, "AccountSid", "AC00000000000000000000000000000001");
	form_add(f, "WorkspaceSid", "WS00000000000000000000000000000001");
	form_add(f, "ResourceSid", "WT00000000000000000000000000000001");
	form_add(f, "TaskSid", "WT00000000000000000000000000000001");
	form_add(f, "ReservationSid", "WR00000000000000000000000000000001");
	form_add(f, "WorkerSid", "WK00000000000000000000000000000001");
	form_add(f, "TaskAttributes", "{\"type\":\"support\", \"name\":\"a&b=c\"}");
	if (ts_ms != 0) {
		snprintf(buf, sizeof(buf), "%lld", (long long)(ts_ms / 1000));
		form_add(f, "Timestamp", buf);
		snprintf(buf, sizeof(buf), "%lld", (long long)ts_ms);
		form_add(f, "TimestampMs", buf);
	}
	return f;
}

/* Signs f for sign_url with token and fills r to be received at target. */
static void
sign_form(struct signed_req *r, enum events_kind kind, const char *target, const char *sign_url,
	  const char *token, const struct form *f)
{
	memset(r, 0, sizeof(*r));
	r->body = form_encode(f);
	assert_int_equal(signature_compute(token, sign_url, f, r->sig), 0);
	r->rq.kind = kind;
	r->rq.target = target;
	r->rq.signature = r->sig;
	r->rq.content_type = "application/x-www-form-urlencoded";
	r->rq.body = r->body;
	r->rq.body_len = strlen(r->body);
}

static void
signed_req_clear(struct signed_req *r)
{
	free(r->body);
}

static int
check(const struct events_check_config *cfg, const struct events_request *rq, int64_t now)
{
	struct events_webhook *w = NULL;
	const char *reason = NULL;
	int v = events_check(cfg, rq, now, &w, &reason);

	if (v == EVENTS_OK) {
		assert_non_null(w);
		assert_null(reason);
	} else {
		assert_null(w);
		assert_non_null(reason);
	}
	events_webhook_free(w);
	return v;
}

/* The value of a received parameter of a parsed event, or NULL. */
static const char *
field(const struct tr_event *ev, const char *name)
{
	for (size_t i = 0; i < ev->nfields; i++) {
		if (strcmp(ev->fields[2 * i], name) == 0)
			return ev->fields[2 * i + 1];
	}
	return NULL;
}

/* A repeated key is refused wherever it is, among many distinct keys that are not. */
static void
test_events_rejects_a_repeated_key_among_many(void **state)
{
	static const char *const repeats[] = { "EventType", "TaskSid", "X-extra-17" };
	char key[32];

	for (size_t r = 0; r <= sizeof(repeats) / sizeof(repeats[0]); r++) {
		struct form *f = event_form("task.created", NOW_MS - 1000);
		struct signed_req req;

		for (int i = 0; i < 200; i++) {
			snprintf(key, sizeof(key), "X-extra-%d", i);
			form_add(f, key, "v");
		}
		if (r < sizeof(repeats) / sizeof(repeats[0]))
			form_add(f, repeats[r], "WT00000000000000000000000000000001");
		sign_form(&req, EVENTS_TASKROUTER, EVENT_PATH, PUBLIC EVENT_PATH, TOKEN, f);
		assert_int_equal(check(&check_cfg, &req.rq, NOW_MS),
				 r < sizeof(repeats) / sizeof(repeats[0]) ? EVENTS_BAD_REQUEST
									  : EVENTS_OK);
		signed_req_clear(&req);
		form_free(f);
	}
}

static void
test_events_accepts_a_correctly_signed_event(void **state)
{
	struct form *f = event_form("task.created", NOW_MS - 1000);
	struct events_webhook *got = NULL;
	const struct tr_event *ev;
	struct signed_req r;

	sign_form(&r, EVENTS_TASKROUTER, EVENT_PATH, PUBLIC EVENT_PATH, TOKEN, f);
	assert_int_equal(events_check(&check_cfg, &r.rq, NOW_MS, &got, NULL), EVENTS_OK);
	ev = events_webhook_event(got);
	assert_non_null(ev);
	assert_string_equal(ev->type, "task.created");
	assert_string_equal(ev->action, "created");
	assert_string_equal(ev->task_sid, "WT00000000000000000000000000000001");
	assert_int_equal(ev->ts_ms, NOW_MS - 1000);
	assert_string_equal(ev->task_attributes, "{\"type\":\"support\", \"name\":\"a&b=c\"}");
	assert_string_equal(field(ev, "AccountSid"), "AC00000000000000000000000000000001");
	events_webhook_free(got);
	signed_req_clear(&r);
	form_free(f);
}

static void
test_events_accepts_charset_in_content_type(void **state)
{
	struct form *f = event_form("task.created", NOW_MS);
	struct signed_req r;

	sign_form(&r, EVENTS_TASKROUTER, EVENT_PATH, PUBLIC EVENT_PATH, TOKEN, f);
	r.rq.content_type = "Application/X-WWW-Form-Urlencoded; charset=utf-8";
	assert_int_equal(check(&check_cfg, &r.rq, NOW_MS), EVENTS_OK);
	signed_req_clear(&r);
	form_free(f);
}

static void
test_events_accepts_port_variants(void **state)
{
	struct form *f = event_form("task.created", NOW_MS);
	struct signed_req r;
	struct events_check_config https = check_cfg;

	/* Twilio signed without the port the public URL names. */
	sign_form(&r, EVENTS_TASKROUTER, EVENT_PATH, "http://127.0.0.1" EVENT_PATH, TOKEN, f);
	assert_int_equal(check(&check_cfg, &r.rq, NOW_MS), EVENTS_OK);
	signed_req_clear(&r);

	/* Twilio signed with :443 that the public URL leaves out. */
	https.public_url = "https://hub.example.com";
	sign_form(&r, EVENTS_TASKROUTER, EVENT_PATH, "https://hub.example.com:443" EVENT_PATH,
		  TOKEN, f);
	assert_int_equal(check(&https, &r.rq, NOW_MS), EVENTS_OK);
	signed_req_clear(&r);

	/* Another port is another URL. */
	sign_form(&r, EVENTS_TASKROUTER, EVENT_PATH, "https://hub.example.com:8443" EVENT_PATH,
		  TOKEN, f);
	assert_int_equal(check(&https, &r.rq, NOW_MS), EVENTS_FORBIDDEN);
	signed_req_clear(&r);
	form_free(f);
}

static void
test_events_signs_the_exact_query(void **state)
{
	struct form *f = event_form("task.created", NOW_MS);
	struct signed_req r;

	sign_form(&r, EVENTS_TASKROUTER, EVENT_PATH "?b=2&a=1", PUBLIC EVENT_PATH "?b=2&a=1", TOKEN,
		  f);
	assert_int_equal(check(&check_cfg, &r.rq, NOW_MS), EVENTS_OK);
	signed_req_clear(&r);

	/* Re-ordered query: not what Twilio signed. */
	sign_form(&r, EVENTS_TASKROUTER, EVENT_PATH "?b=2&a=1", PUBLIC EVENT_PATH "?a=1&b=2", TOKEN,
		  f);
	assert_int_equal(check(&check_cfg, &r.rq, NOW_MS), EVENTS_FORBIDDEN);
	signed_req_clear(&r);

	/* Signed without the query it was sent with. */
	sign_form(&r, EVENTS_TASKROUTER, EVENT_PATH "?x=1", PUBLIC EVENT_PATH, TOKEN, f);
	assert_int_equal(check(&check_cfg, &r.rq, NOW_MS), EVENTS_FORBIDDEN);
	signed_req_clear(&r);
	form_free(f);
}

static void
test_events_rejects_missing_or_empty_signature(void **state)
{
	struct form *f = event_form("task.created", NOW_MS);
	struct signed_req r;

	sign_form(&r, EVENTS_TASKROUTER, EVENT_PATH, PUBLIC EVENT_PATH, TOKEN, f);
	r.rq.signature = NULL;
	assert_int_equal(check(&check_cfg, &r.rq, NOW_MS), EVENTS_FORBIDDEN);
	r.rq.signature = "";
	assert_int_equal(check(&check_cfg, &r.rq, NOW_MS), EVENTS_FORBIDDEN);
	signed_req_clear(&r);
	form_free(f);
}

static void
test_events_rejects_forged_signatures(void **state)
{
	struct form *f = event_form("task.created", NOW_MS);
	struct form *other = event_form("task.canceled", NOW_MS);
	struct signed_req r;
	struct signed_req o;

	/* Another account's token. */
	sign_form(&r, EVENTS_TASKROUTER, EVENT_PATH, PUBLIC EVENT_PATH, "not-the-token", f);
	assert_int_equal(check(&check_cfg, &r.rq, NOW_MS), EVENTS_FORBIDDEN);
	signed_req_clear(&r);

	/* Another path. */
	sign_form(&r, EVENTS_TASKROUTER, EVENT_PATH, PUBLIC "/other", TOKEN, f);
	assert_int_equal(check(&check_cfg, &r.rq, NOW_MS), EVENTS_FORBIDDEN);
	signed_req_clear(&r);

	/* A valid signature of one body replayed with another body. */
	sign_form(&r, EVENTS_TASKROUTER, EVENT_PATH, PUBLIC EVENT_PATH, TOKEN, f);
	sign_form(&o, EVENTS_TASKROUTER, EVENT_PATH, PUBLIC EVENT_PATH, TOKEN, other);
	r.rq.body = o.body;
	r.rq.body_len = strlen(o.body);
	assert_int_equal(check(&check_cfg, &r.rq, NOW_MS), EVENTS_FORBIDDEN);
	signed_req_clear(&o);
	signed_req_clear(&r);
	form_free(other);
	form_free(f);
}

static void
test_events_body_limit_comes_first(void **state)
{
	struct events_request rq = { 0 };
	char *big = xmalloc(check_cfg.body_max_bytes + 2);

	memset(big, 'a', check_cfg.body_max_bytes + 1);
	big[check_cfg.body_max_bytes + 1] = '\0';
	rq.kind = EVENTS_TASKROUTER;
	rq.target = EVENT_PATH;
	rq.signature = NULL; /* unsigned, yet 413: size is checked before anything else */
	rq.body = big;
	rq.body_len = check_cfg.body_max_bytes + 1;
	assert_int_equal(check(&check_cfg, &rq, NOW_MS), EVENTS_TOO_LARGE);
	rq.body_len = check_cfg.body_max_bytes; /* at the limit: not too large */
	assert_int_equal(check(&check_cfg, &rq, NOW_MS), EVENTS_FORBIDDEN);
	free(big);
}

static void
test_events_rejects_malformed_bodies(void **state)
{
	struct events_request rq = { 0 };

	rq.kind = EVENTS_TASKROUTER;
	rq.target = EVENT_PATH;
	rq.signature = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=";
	rq.content_type = "application/x-www-form-urlencoded";
	rq.body = "EventType=task.created&Bad=%zz";
	rq.body_len = strlen(rq.body);
	assert_int_equal(check(&check_cfg, &rq, NOW_MS), EVENTS_BAD_REQUEST);
	rq.body = "EventType=task%00created";
	rq.body_len = strlen(rq.body);
	assert_int_equal(check(&check_cfg, &rq, NOW_MS), EVENTS_BAD_REQUEST);
	rq.content_type = "text/plain";
	rq.body = "EventType=task.created";
	rq.body_len = strlen(rq.body);
	assert_int_equal(check(&check_cfg, &rq, NOW_MS), EVENTS_BAD_REQUEST);
	rq.content_type = NULL;
	rq.target = "http://evil.example.com/taskrouter_event";
	assert_int_equal(check(&check_cfg, &rq, NOW_MS), EVENTS_BAD_REQUEST);
}

static void
test_events_rejects_signed_event_without_type(void **state)
{
	struct form *f = form_new();
	struct signed_req r;

	form_add(f, "TaskSid", "WT00000000000000000000000000000001");
	sign_form(&r, EVENTS_TASKROUTER, EVENT_PATH, PUBLIC EVENT_PATH, TOKEN, f);
	assert_int_equal(check(&check_cfg, &r.rq, NOW_MS), EVENTS_BAD_REQUEST);
	signed_req_clear(&r);
	form_set(f, "EventType", "");
	sign_form(&r, EVENTS_TASKROUTER, EVENT_PATH, PUBLIC EVENT_PATH, TOKEN, f);
	assert_int_equal(check(&check_cfg, &r.rq, NOW_MS), EVENTS_BAD_REQUEST);
	signed_req_clear(&r);
	form_free(f);
}

static void
test_events_replay_window(void **state)
{
	const int64_t window = check_cfg.max_age_ms;
	struct {
		int64_t ts_ms;
		int want;
	} cases[] = {
		{ NOW_MS, EVENTS_OK },
		{ NOW_MS - window, EVENTS_OK },
		{ NOW_MS - window - 1000, EVENTS_FORBIDDEN },
		{ NOW_MS - 24LL * 3600 * 1000, EVENTS_FORBIDDEN },
		{ NOW_MS + window, EVENTS_OK },
		{ NOW_MS + window + 1000, EVENTS_FORBIDDEN },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct form *f = event_form("task.created", cases[i].ts_ms);
		struct signed_req r;

		sign_form(&r, EVENTS_TASKROUTER, EVENT_PATH, PUBLIC EVENT_PATH, TOKEN, f);
		if (check(&check_cfg, &r.rq, NOW_MS) != cases[i].want)
			fail_msg("case %zu: timestamp %lld", i, (long long)cases[i].ts_ms);
		signed_req_clear(&r);
		form_free(f);
	}
}

static void
test_events_exact_duplicate_inside_window_is_accepted(void **state)
{
	struct form *f = event_form("reservation.accepted", NOW_MS - 2000);
	struct signed_req r;

	sign_form(&r, EVENTS_TASKROUTER, EVENT_PATH, PUBLIC EVENT_PATH, TOKEN, f);
	assert_int_equal(check(&check_cfg, &r.rq, NOW_MS), EVENTS_OK);
	assert_int_equal(check(&check_cfg, &r.rq, NOW_MS + 1000), EVENTS_OK);
	/* The same bytes after the window closed: a replay. */
	assert_int_equal(check(&check_cfg, &r.rq, NOW_MS + check_cfg.max_age_ms), EVENTS_FORBIDDEN);
	signed_req_clear(&r);
	form_free(f);
}

static void
test_events_timestamp_forms(void **state)
{
	struct {
		const char *key;
		const char *value;
		int want;
	} cases[] = {
		{ "Timestamp", "1700000000", EVENTS_OK },		       /* Unix seconds */
		{ "Timestamp", "1700000000123", EVENTS_OK },		       /* milliseconds */
		{ "Timestamp", "2023-11-14T22:13:20Z", EVENTS_OK },	       /* ISO 8601 */
		{ "Timestamp", "Tue, 14 Nov 2023 22:13:20 +0000", EVENTS_OK }, /* RFC 2822 */
		{ "Timestamp", "1600000000", EVENTS_FORBIDDEN },
		{ "Timestamp", "Sun, 13 Sep 2020 12:26:40 +0000", EVENTS_FORBIDDEN },
		{ "Timestamp", "yesterday", EVENTS_BAD_REQUEST },
		{ "Timestamp", "", EVENTS_BAD_REQUEST },
		{ "TimestampMs", "1700000000123", EVENTS_OK },
		{ "TimestampMs", "17000000001x", EVENTS_BAD_REQUEST },
		{ "TimestampMs", "99999999999999999999999", EVENTS_BAD_REQUEST },
		/* No time at all: the model could not order it, so it is refused before the 204. */
		{ "Other", "1", EVENTS_BAD_REQUEST },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct form *f = event_form("task.created", 0);
		struct signed_req r;

		form_add(f, cases[i].key, cases[i].value);
		sign_form(&r, EVENTS_TASKROUTER, EVENT_PATH, PUBLIC EVENT_PATH, TOKEN, f);
		if (check(&check_cfg, &r.rq, NOW_MS) != cases[i].want)
			fail_msg("case %zu: %s=%s", i, cases[i].key, cases[i].value);
		signed_req_clear(&r);
		form_free(f);
	}
}

static void
test_events_negative_window_disables_replay_check(void **state)
{
	struct events_check_config cfg = check_cfg;
	struct form *f = event_form("task.created", NOW_MS - 48LL * 3600 * 1000);
	struct signed_req r;

	cfg.max_age_ms = -1;
	cfg.max_future_ms = -1;
	sign_form(&r, EVENTS_TASKROUTER, EVENT_PATH, PUBLIC EVENT_PATH, TOKEN, f);
	assert_int_equal(check(&cfg, &r.rq, NOW_MS), EVENTS_OK);
	signed_req_clear(&r);
	form_free(f);
}

static void
test_events_json_body_with_body_hash(void **state)
{
	const char *body = "{\"EventType\":\"task.created\",\"TaskPriority\":5,\"Flag\":true,"
			   "\"TaskSid\":\"WT00000000000000000000000000000001\","
			   "\"TimestampMs\":1700000000000}";
	char hash[65];
	char url[512];
	char target[256];
	char sig[SIGNATURE_LEN + 1];
	struct events_request rq = { 0 };
	struct events_webhook *got = NULL;
	const struct tr_event *ev;

	signature_sha256_hex(body, strlen(body), hash);
	snprintf(target, sizeof(target), EVENT_PATH "?bodySHA256=%s", hash);
	snprintf(url, sizeof(url), PUBLIC "%s", target);
	assert_int_equal(signature_compute(TOKEN, url, NULL, sig), 0);
	rq.kind = EVENTS_TASKROUTER;
	rq.target = target;
	rq.signature = sig;
	rq.content_type = "application/json";
	rq.body = body;
	rq.body_len = strlen(body);
	assert_int_equal(events_check(&check_cfg, &rq, NOW_MS, &got, NULL), EVENTS_OK);
	ev = events_webhook_event(got);
	assert_string_equal(ev->type, "task.created");
	assert_true(ev->has_priority);
	assert_int_equal(ev->task_priority, 5);
	assert_string_equal(field(ev, "TaskPriority"), "5");
	assert_string_equal(field(ev, "Flag"), "true");
	events_webhook_free(got);

	/* Same signature and hash, other body. */
	rq.body = "{\"EventType\":\"task.deleted\"}";
	rq.body_len = strlen(rq.body);
	assert_int_equal(check(&check_cfg, &rq, NOW_MS), EVENTS_FORBIDDEN);
}

static void
test_events_recording_needs_url_and_task(void **state)
{
	struct form *f = form_new();
	struct signed_req r;

	form_add(f, "RecordingSid", "RE00000000000000000000000000000001");
	form_add(f, "RecordingUrl",
		 "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1");
	sign_form(&r, EVENTS_RECORDING, REC_PATH, PUBLIC REC_PATH, TOKEN, f);
	assert_int_equal(check(&check_cfg, &r.rq, NOW_MS), EVENTS_BAD_REQUEST); /* no TaskSid */
	signed_req_clear(&r);

	sign_form(&r, EVENTS_RECORDING, REC_PATH "?TaskSid=WT01", PUBLIC REC_PATH "?TaskSid=WT01",
		  TOKEN, f);
	assert_int_equal(check(&check_cfg, &r.rq, NOW_MS), EVENTS_OK);
	signed_req_clear(&r);

	form_set(f, "RecordingUrl", "");
	form_add(f, "TaskSid", "WT01");
	sign_form(&r, EVENTS_RECORDING, REC_PATH, PUBLIC REC_PATH, TOKEN, f);
	assert_int_equal(check(&check_cfg, &r.rq, NOW_MS), EVENTS_BAD_REQUEST);
	signed_req_clear(&r);
	form_free(f);
}

static int64_t
fixed_now(void *arg)
{
	return *(const int64_t *)arg;
}

struct applied {
	int calls;
	char type[64];
};

static int
record_apply(const struct tr_event *event, void *arg)
{
	struct applied *a = arg;

	a->calls++;
	snprintf(a->type, sizeof(a->type), "%s", event->type);
	return 0;
}

static void
test_events_verify_counts_refusals_and_accept_applies(void **state)
{
	int64_t now = NOW_MS;
	struct events_options opt = {
		.auth_token = TOKEN,
		.public_url = PUBLIC,
		.now_ms = fixed_now,
		.clock_arg = &now,
	};
	struct metrics *m = metrics_new();
	struct events *ev = events_new(&opt, m);
	struct applied a = { 0 };
	struct form *f = event_form("worker.activity.update", NOW_MS);
	struct events_webhook *got = NULL;
	struct signed_req r;
	struct buf text;

	events_set_apply(ev, record_apply, NULL, &a);
	sign_form(&r, EVENTS_TASKROUTER, EVENT_PATH, PUBLIC EVENT_PATH, "wrong", f);
	assert_int_equal(events_verify(ev, &r.rq, &got, NULL), EVENTS_FORBIDDEN);
	assert_null(got);
	signed_req_clear(&r);

	sign_form(&r, EVENTS_TASKROUTER, EVENT_PATH, PUBLIC EVENT_PATH, TOKEN, f);
	assert_int_equal(events_verify(ev, &r.rq, &got, NULL), EVENTS_OK);
	events_accept(ev, got);
	assert_int_equal(a.calls, 1);
	assert_string_equal(a.type, "worker.activity.update");
	events_webhook_free(got);
	got = NULL;
	signed_req_clear(&r);

	/* After a reload with another token, the old signature no longer passes. */
	opt.auth_token = "rotated";
	events_reconfigure(ev, &opt);
	sign_form(&r, EVENTS_TASKROUTER, EVENT_PATH, PUBLIC EVENT_PATH, TOKEN, f);
	assert_int_equal(events_verify(ev, &r.rq, &got, NULL), EVENTS_FORBIDDEN);
	signed_req_clear(&r);

	buf_init(&text);
	metrics_render(m, &text);
	assert_non_null(strstr(text.data, "trhubd_webhook_rejected_total{status=\"403\"} 2\n"));
	assert_non_null(strstr(
		text.data, "trhubd_events_received_total{type=\"worker.activity.update\"} 1\n"));
	buf_clear(&text);
	form_free(f);
	events_free(ev);
	metrics_free(m);
}

/* Signs f as a recording callback to target, verifies and accepts it. */
static void
deliver_recording(struct events *ev, const char *target, const struct form *f)
{
	struct events_webhook *w = NULL;
	struct signed_req r;
	char *url = xasprintf(PUBLIC "%s", target);

	sign_form(&r, EVENTS_RECORDING, target, url, TOKEN, f);
	assert_int_equal(events_verify(ev, &r.rq, &w, NULL), EVENTS_OK);
	events_accept(ev, w);
	events_webhook_free(w);
	signed_req_clear(&r);
	free(url);
}

struct recorded {
	int calls;
	char task_sid[64];
	char url[128];
};

static int
record_recording(const char *task_sid, const char *url, void *arg)
{
	struct recorded *rec = arg;

	rec->calls++;
	snprintf(rec->task_sid, sizeof(rec->task_sid), "%s", task_sid);
	snprintf(rec->url, sizeof(rec->url), "%s", url);
	return 0;
}

static void
test_events_recordings_go_to_the_recording_callback(void **state)
{
	struct events_options opt = {
		.auth_token = TOKEN,
		.public_url = PUBLIC,
	};
	struct events *ev = events_new(&opt, NULL);
	struct form *f = form_new();
	struct recorded rec = { 0 };

	events_set_apply(ev, NULL, record_recording, &rec);
	form_add(f, "RecordingUrl", "https://example.com/r1");
	deliver_recording(ev, REC_PATH "?TaskSid=WT1", f);
	assert_int_equal(rec.calls, 1);
	assert_string_equal(rec.task_sid, "WT1");
	assert_string_equal(rec.url, "https://example.com/r1");
	form_set(f, "RecordingUrl", "https://example.com/r3");
	form_add(f, "TaskSid", "WT3"); /* the form's TaskSid wins over the query's */
	deliver_recording(ev, REC_PATH "?TaskSid=WT9", f);
	assert_int_equal(rec.calls, 2);
	assert_string_equal(rec.task_sid, "WT3");
	assert_string_equal(rec.url, "https://example.com/r3");
	form_free(f);
	events_free(ev);
	events_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events_accepts_a_correctly_signed_event),
		cmocka_unit_test(test_events_rejects_a_repeated_key_among_many),
		cmocka_unit_test(test_events_accepts_charset_in_content_type),
		cmocka_unit_test(test_events_accepts_port_variants),
		cmocka_unit_test(test_events_signs_the_exact_query),
		cmocka_unit_test(test_events_rejects_missing_or_empty_signature),
		cmocka_unit_test(test_events_rejects_forged_signatures),
		cmocka_unit_test(test_events_body_limit_comes_first),
		cmocka_unit_test(test_events_rejects_malformed_bodies),
		cmocka_unit_test(test_events_rejects_signed_event_without_type),
		cmocka_unit_test(test_events_replay_window),
		cmocka_unit_test(test_events_exact_duplicate_inside_window_is_accepted),
		cmocka_unit_test(test_events_timestamp_forms),
		cmocka_unit_test(test_events_negative_window_disables_replay_check),
		cmocka_unit_test(test_events_json_body_with_body_hash),
		cmocka_unit_test(test_events_recording_needs_url_and_task),
		cmocka_unit_test(test_events_verify_counts_refusals_and_accept_applies),
		cmocka_unit_test(test_events_recordings_go_to_the_recording_callback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
