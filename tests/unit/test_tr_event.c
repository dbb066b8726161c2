/*
 * Unit tests for daemon/tr_event.c: the one parse of a TaskRouter event
 * callback. Every Timestamp form Twilio uses gives the same instant, typed
 * fields come out checked, and each malformed field is refused with a
 * reason naming it (and no input).
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "form.h"
#include "task_status.h"
#include "tr_event.h"

#define WT "WT00000000000000000000000000000001"
#define WR "WR00000000000000000000000000000001"
#define WK "WK00000000000000000000000000000001"
/* 2026-12-06T03:00:00Z */
#define T_MS 1796526000000LL

static struct form *
task_event(const char *ts_key, const char *ts_value)
{
	struct form *f = form_new();

	form_add(f, "EventType", "task.created");
	form_add(f, "TaskSid", WT);
	form_add(f, "TaskAssignmentStatus", "pending");
	form_add(f, "TaskPriority", "7");
	form_add(f, "TaskAge", "60");
	if (ts_key != NULL)
		form_add(f, ts_key, ts_value);
	return f;
}

static void
test_tr_event_reads_every_timestamp_form(void **state)
{
	const char *forms[] = { "1796526000", "1796526000000", "2026-12-06T03:00:00Z",
				"Sun, 06 Dec 2026 03:00:00 +0000" };

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct form *f = task_event("Timestamp", forms[i]);
		struct tr_event ev;

		assert_int_equal(tr_event_parse(f, &ev, NULL), 0);
		assert_int_equal(ev.ts_ms, T_MS);
		assert_string_equal(ev.type, "task.created");
		assert_string_equal(ev.action, "created");
		assert_string_equal(ev.task_sid, WT);
		assert_int_equal(ev.task_status, TASK_STATUS_PENDING);
		assert_true(ev.has_priority);
		assert_int_equal(ev.task_priority, 7);
		assert_int_equal(ev.task_created_ms, T_MS - 60000);
		assert_int_equal(ev.nfields, 6);
		assert_string_equal(ev.fields[0], "EventType");
		assert_string_equal(ev.fields[11], forms[i]);
		tr_event_clear(&ev);
		tr_event_clear(&ev); /* idempotent */
		form_free(f);
	}
}

static void
test_tr_event_refuses_each_malformed_field(void **state)
{
	static const struct {
		const char *key;
		const char *value;
		const char *reason;
	} cases[] = {
		{ "Timestamp", "yesterday", "Timestamp is not a date" },
		{ "TimestampMs", "12x", "TimestampMs is not a time in milliseconds" },
		{ "TaskSid", WK, "TaskSid is not a WT SID" },
		{ "WorkerSid", WT, "WorkerSid is not a WK SID" },
		{ "TaskPriority", "high", "TaskPriority is not an integer" },
		{ "TaskVersion", "1.5", "TaskVersion is not an integer" },
		{ "TaskAssignmentStatus", "lost", "TaskAssignmentStatus is not a task status" },
		{ "EventType", "Task Created", "malformed EventType" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct form *f = task_event("Timestamp", "1796526000");
		struct tr_event ev;
		const char *reason = NULL;

		form_set(f, cases[i].key, cases[i].value);
		assert_int_equal(tr_event_parse(f, &ev, &reason), -EINVAL);
		assert_non_null(reason);
		if (strncmp(reason, cases[i].reason, strlen(cases[i].reason)) != 0)
			fail_msg("%s=%s: reason '%s'", cases[i].key, cases[i].value, reason);
		assert_null(ev.fields);
		form_free(f);
	}
}

static void
test_tr_event_needs_a_time_and_the_resource_sid(void **state)
{
	struct form *f = task_event(NULL, NULL);
	struct tr_event ev;
	const char *reason = NULL;

	assert_int_equal(tr_event_parse(f, &ev, &reason), -EINVAL);
	assert_string_equal(reason, "no TimestampMs or Timestamp");
	form_free(f);

	f = form_new();
	form_add(f, "EventType", "reservation.created");
	form_add(f, "ReservationSid", WR);
	form_add(f, "TimestampMs", "1");
	assert_int_equal(tr_event_parse(f, &ev, &reason), -EINVAL);
	assert_string_equal(reason, "a reservation event without ReservationSid and TaskSid");
	form_add(f, "TaskSid", WT);
	assert_int_equal(tr_event_parse(f, &ev, &reason), 0);
	assert_string_equal(ev.res_sid, WR);
	assert_int_equal(ev.task_status, -1);
	tr_event_clear(&ev);
	form_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tr_event_reads_every_timestamp_form),
		cmocka_unit_test(test_tr_event_refuses_each_malformed_field),
		cmocka_unit_test(test_tr_event_needs_a_time_and_the_resource_sid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
