/*
 * Unit tests for daemon/backfill.c's pure parts: an Events record (the REST
 * JSON) becomes the same callback form a webhook carries, so the one parse
 * (tr_event_parse) and the model see the same event either way, and an event
 * replayed and then delivered by webhook is applied once; the state file
 * round-trips, is written atomically and a corrupt one is refused.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "backfill.h"
#include "form.h"
#include "json.h"
#include "model.h"
#include "task_status.h"
#include "tr_event.h"

#define WT "WT00000000000000000000000000000001"
#define WR "WR00000000000000000000000000000001"
#define WK "WK00000000000000000000000000000001"
#define WQ "WQ00000000000000000000000000000001"
#define WS "WS00000000000000000000000000000001"
#define EV "EV00000000000000000000000000000001"

static const char record[] =
	"{\"account_sid\": \"AC00000000000000000000000000000001\", \"actor_sid\": \"" WS "\","
	" \"description\": \"Reservation " WR " accepted\","
	" \"event_data\": {\"task_sid\": \"" WT "\", \"reservation_sid\": \"" WR "\","
	" \"worker_sid\": \"" WK "\", \"worker_name\": \"alice\", \"task_queue_sid\": \"" WQ "\","
	" \"task_assignment_status\": \"assigned\", \"task_priority\": 5,"
	" \"task_attributes\": \"{\\\"caller\\\": \\\"x\\\"}\", \"task_ignore_capacity\": false,"
	" \"task_channel_unique_name\": \"voice\", \"worker_time_in_previous_activity\": null,"
	" \"extra\": {\"a\": [1, 2]}},"
	" \"event_date\": \"2026-12-06T03:00:00Z\", \"event_date_ms\": 1796526000123,"
	" \"event_type\": \"reservation.accepted\", \"resource_sid\": \"" WR "\","
	" \"resource_type\": \"Reservation\", \"sid\": \"" EV "\", \"source\": \"twilio\","
	" \"workspace_sid\": \"" WS "\"}";

static struct json_doc *
parse(const char *text)
{
	struct json_doc *doc = NULL;

	assert_int_equal(json_parse(text, strlen(text), NULL, &doc, NULL), 0);
	return doc;
}

static void
test_backfill_camel(void **state)
{
	char out[32];

	assert_true(backfill_camel("task_queue_sid", out, sizeof(out)));
	assert_string_equal(out, "TaskQueueSid");
	assert_true(backfill_camel("task_channel_unique_name", out, sizeof(out)));
	assert_string_equal(out, "TaskChannelUniqueName");
	assert_true(backfill_camel("sid", out, sizeof(out)));
	assert_string_equal(out, "Sid");
	assert_false(backfill_camel("worker_time_in_previous_activity_ms", out, 8));
	assert_false(backfill_camel("", out, sizeof(out)));
	assert_false(backfill_camel("___", out, sizeof(out)));
}

static void
test_backfill_record_becomes_the_callback_form(void **state)
{
	struct json_doc *doc = parse(record);
	struct form *f = form_new();
	struct tr_event ev;

	assert_int_equal(backfill_event_form(json_doc_root(doc), "trhub", f), 0);
	assert_string_equal(form_get(f, "EventType"), "reservation.accepted");
	assert_string_equal(form_get(f, "Sid"), EV);
	assert_string_equal(form_get(f, "ResourceType"), "Reservation");
	assert_string_equal(form_get(f, "ResourceSid"), WR);
	assert_string_equal(form_get(f, "WorkspaceSid"), WS);
	assert_string_equal(form_get(f, "WorkspaceName"), "trhub");
	assert_string_equal(form_get(f, "EventDescription"), "Reservation " WR " accepted");
	assert_string_equal(form_get(f, "TimestampMs"), "1796526000123");
	assert_string_equal(form_get(f, "Timestamp"), "1796526000");
	assert_string_equal(form_get(f, "TaskQueueSid"), WQ);
	assert_string_equal(form_get(f, "TaskPriority"), "5");
	assert_string_equal(form_get(f, "TaskIgnoreCapacity"), "false");
	assert_string_equal(form_get(f, "TaskAttributes"), "{\"caller\": \"x\"}");
	assert_string_equal(form_get(f, "TaskChannelUniqueName"), "voice");
	assert_string_equal(form_get(f, "Extra"), "{\"a\":[1,2]}");
	assert_null(form_get(f, "WorkerTimeInPreviousActivity")); /* null: left out */
	assert_null(form_get(f, "Source"));			  /* not a callback field */

	assert_int_equal(tr_event_parse(f, &ev, NULL), 0);
	assert_int_equal(ev.ts_ms, 1796526000123LL);
	assert_string_equal(ev.id, EV);
	assert_string_equal(ev.res_sid, WR);
	assert_string_equal(ev.task_sid, WT);
	assert_string_equal(ev.worker_sid, WK);
	assert_int_equal(ev.task_status, TASK_STATUS_ASSIGNED);
	assert_int_equal(ev.task_priority, 5);
	tr_event_clear(&ev);
	form_free(f);
	json_doc_free(doc);
}

static void
test_backfill_record_without_ms_or_type(void **state)
{
	struct json_doc *doc = parse("{\"event_type\": \"task.created\", \"sid\": \"" EV "\","
				     " \"event_date\": \"2026-12-06T03:00:00Z\","
				     " \"event_data\": {\"task_sid\": \"" WT "\"}}");
	struct form *f = form_new();
	struct tr_event ev;

	assert_int_equal(backfill_event_form(json_doc_root(doc), NULL, f), 0);
	assert_null(form_get(f, "TimestampMs"));
	assert_null(form_get(f, "WorkspaceName"));
	assert_string_equal(form_get(f, "Timestamp"), "1796526000");
	assert_int_equal(tr_event_parse(f, &ev, NULL), 0);
	assert_int_equal(ev.ts_ms, 1796526000000LL);
	tr_event_clear(&ev);
	form_free(f);
	json_doc_free(doc);

	doc = parse("{\"sid\": \"" EV "\", \"event_data\": {}}");
	f = form_new();
	assert_int_equal(backfill_event_form(json_doc_root(doc), NULL, f), -EINVAL);
	form_free(f);
	json_doc_free(doc);
	doc = parse("[1]");
	f = form_new();
	assert_int_equal(backfill_event_form(json_doc_root(doc), NULL, f), -EINVAL);
	form_free(f);
	json_doc_free(doc);
}

/* The replayed event and the same event by webhook: applied once, counted once. */
static void
test_backfill_replayed_then_webhook_is_applied_once(void **state)
{
	struct json_doc *doc = parse(record);
	struct form *replayed = form_new();
	struct form *webhook = form_new();
	struct model *m = model_new(NULL);
	struct tr_event ev;

	assert_int_equal(backfill_event_form(json_doc_root(doc), "trhub", replayed), 0);
	for (size_t i = 0; i < form_count(replayed); i++)
		form_add(webhook, form_key(replayed, i), form_value(replayed, i));
	assert_int_equal(tr_event_parse(replayed, &ev, NULL), 0);
	assert_int_equal(model_apply_event(m, &ev), MODEL_APPLIED);
	tr_event_clear(&ev);
	assert_int_equal(tr_event_parse(webhook, &ev, NULL), 0);
	assert_int_equal(model_apply_event(m, &ev), MODEL_STALE_EVENT);
	tr_event_clear(&ev);
	assert_int_equal(model_reservation_count(m), 1);
	model_free(m);
	form_free(webhook);
	form_free(replayed);
	json_doc_free(doc);
}

static void
test_backfill_state_file(void **state)
{
	char dir[] = "/tmp/trhub-backfill-XXXXXX";
	char path[128];
	char tmp[160];
	char sid[SID_LEN + 1];
	int64_t ms = 0;
	char *cause = NULL;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	(void)snprintf(path, sizeof(path), "%s/%s", dir, BACKFILL_STATE_FILE);
	(void)snprintf(tmp, sizeof(tmp), "%s.tmp", path);

	assert_int_equal(backfill_state_load(path, sid, &ms, &cause), -ENOENT);
	assert_non_null(cause);
	free(cause);
	cause = NULL;
	assert_int_equal(ms, -1);
	assert_string_equal(sid, "");

	assert_int_equal(backfill_state_save(path, EV, 1796526000123LL, NULL), 0);
	assert_int_equal(access(tmp, F_OK), -1); /* renamed, nothing left behind */
	assert_int_equal(backfill_state_load(path, sid, &ms, NULL), 0);
	assert_string_equal(sid, EV);
	assert_int_equal(ms, 1796526000123LL);

	/* Overwritten whole. */
	assert_int_equal(backfill_state_save(path, "EV00000000000000000000000000000002", 5, NULL),
			 0);
	assert_int_equal(backfill_state_load(path, sid, &ms, NULL), 0);
	assert_string_equal(sid, "EV00000000000000000000000000000002");
	assert_int_equal(ms, 5);

	/* Corrupt: truncated, a wrong SID, a wrong number. */
	f = fopen(path, "w");
	assert_non_null(f);
	(void)fputs("trhubd-state 1\nlast_event_sid EV0000", f);
	(void)fclose(f);
	assert_int_equal(backfill_state_load(path, sid, &ms, &cause), -EINVAL);
	assert_non_null(cause);
	free(cause);
	assert_int_equal(ms, -1);
	f = fopen(path, "w");
	assert_non_null(f);
	(void)fputs("trhubd-state 1\nlast_event_sid WT00000000000000000000000000000001\n"
		    "last_event_ms 5\n",
		    f);
	(void)fclose(f);
	assert_int_equal(backfill_state_load(path, sid, &ms, NULL), -EINVAL);
	f = fopen(path, "w");
	assert_non_null(f);
	(void)fputs("trhubd-state 1\nlast_event_sid " EV "\nlast_event_ms -5\n", f);
	(void)fclose(f);
	assert_int_equal(backfill_state_load(path, sid, &ms, NULL), -EINVAL);

	/* A directory that does not exist: the save fails with the reason. */
	assert_int_equal(backfill_state_save("/nonexistent-trhub/x", EV, 1, &cause), -ENOENT);
	assert_non_null(cause);
	free(cause);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backfill_camel),
		cmocka_unit_test(test_backfill_record_becomes_the_callback_form),
		cmocka_unit_test(test_backfill_record_without_ms_or_type),
		cmocka_unit_test(test_backfill_replayed_then_webhook_is_applied_once),
		cmocka_unit_test(test_backfill_state_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
