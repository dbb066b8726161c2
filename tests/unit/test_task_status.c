/*
 * Unit tests for common/task_status.c: names round-trip, unknown names and
 * values are refused, and the open set is the four queue states.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "task_status.h"

static void
test_task_status_names_round_trip(void **state)
{
	const char *names[] = { "pending",  "reserved",	 "assigned",
				"wrapping", "completed", "canceled" };

	assert_int_equal(sizeof(names) / sizeof(names[0]), TASK_STATUS_COUNT);
	for (int i = 0; i < TASK_STATUS_COUNT; i++) {
		assert_string_equal(task_status_name((enum task_status)i), names[i]);
		assert_int_equal(task_status_parse(names[i]), i);
	}
	assert_int_equal(task_status_parse("Pending"), -1);
	assert_int_equal(task_status_parse("deleted"), -1);
	assert_int_equal(task_status_parse(NULL), -1);
	assert_string_equal(task_status_name(TASK_STATUS_COUNT), "?");
}

static void
test_task_status_open_states(void **state)
{
	assert_true(task_status_is_open(TASK_STATUS_PENDING));
	assert_true(task_status_is_open(TASK_STATUS_RESERVED));
	assert_true(task_status_is_open(TASK_STATUS_ASSIGNED));
	assert_true(task_status_is_open(TASK_STATUS_WRAPPING));
	assert_false(task_status_is_open(TASK_STATUS_COMPLETED));
	assert_false(task_status_is_open(TASK_STATUS_CANCELED));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_task_status_names_round_trip),
		cmocka_unit_test(test_task_status_open_states),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
