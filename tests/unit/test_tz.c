/*
 * Unit tests for daemon/tz.c: offsets across DST changes (from the table and
 * from the POSIX footer beyond it), the operational day start on normal and
 * DST days, and refusal of bad names and bad files.
 * Zone files come from the system's tzdata; a test skips when it is absent.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "date.h"
#include "tz.h"

static struct tz_zone *
load_or_skip(const char *name)
{
	struct tz_zone *z = NULL;
	char *cause = NULL;

	if (tz_zone_load(NULL, name, &z, &cause) != 0) {
		free(cause);
		skip();
	}
	return z;
}

static int64_t
iso(const char *s)
{
	int64_t ms = 0;

	assert_int_equal(date_parse_iso(s, DATE_ISO_STRICT, &ms), 0);
	return ms;
}

static void
test_tz_utc_has_zero_offset_and_midnight_start(void **state)
{
	struct tz_zone *z = tz_zone_utc();

	assert_int_equal(tz_offset_s(z, 1711846800), 0);
	assert_int_equal(tz_day_start_ms(z, 0, iso("2024-05-10T13:45:00Z")),
			 iso("2024-05-10T00:00:00Z"));
	/* 08:30 start: before 08:30 the day began yesterday. */
	assert_int_equal(tz_day_start_ms(z, 510, iso("2024-05-10T08:29:59Z")),
			 iso("2024-05-09T08:30:00Z"));
	assert_int_equal(tz_day_start_ms(z, 510, iso("2024-05-10T08:30:00Z")),
			 iso("2024-05-10T08:30:00Z"));
	tz_zone_free(z);
}

static void
test_tz_berlin_offsets_switch_at_the_transitions(void **state)
{
	struct tz_zone *z = load_or_skip("Europe/Berlin");

	assert_int_equal(tz_offset_s(z, 1711846799), 3600);
	assert_int_equal(tz_offset_s(z, 1711846800), 7200);
	assert_int_equal(tz_offset_s(z, 1729990799), 7200);
	assert_int_equal(tz_offset_s(z, 1729990800), 3600);
	/* 2060 is past any table: the footer rule decides. */
	assert_int_equal(tz_offset_s(z, 2855865600), 7200);
	assert_int_equal(tz_offset_s(z, iso("2060-01-15T12:00:00Z") / 1000), 3600);
	tz_zone_free(z);
}

static void
test_tz_day_start_in_berlin_is_local_midnight(void **state)
{
	struct tz_zone *z = load_or_skip("Europe/Berlin");

	/* Summer: local midnight is 22:00 UTC the day before. */
	assert_int_equal(tz_day_start_ms(z, 0, iso("2024-07-01T10:00:00Z")),
			 iso("2024-06-30T22:00:00Z"));
	/* 23:30 UTC on June 30 is already July 1 locally. */
	assert_int_equal(tz_day_start_ms(z, 0, iso("2024-06-30T23:30:00Z")),
			 iso("2024-06-30T22:00:00Z"));
	/* Winter. */
	assert_int_equal(tz_day_start_ms(z, 0, iso("2024-01-10T10:00:00Z")),
			 iso("2024-01-09T23:00:00Z"));
	/* The spring-forward day started at 00:00 CET = 23:00 UTC. */
	assert_int_equal(tz_day_start_ms(z, 0, iso("2024-03-31T12:00:00Z")),
			 iso("2024-03-30T23:00:00Z"));
	/* A 02:30 start does not exist that day: it moves forward to 03:30 CEST. */
	assert_int_equal(tz_day_start_ms(z, 150, iso("2024-03-31T12:00:00Z")),
			 iso("2024-03-31T01:30:00Z"));
	tz_zone_free(z);
}

static void
test_tz_southern_hemisphere_footer(void **state)
{
	struct tz_zone *z = load_or_skip("Australia/Sydney");

	/* January is summer (+11), July winter (+10), far beyond any table. */
	assert_int_equal(tz_offset_s(z, iso("2070-01-15T00:00:00Z") / 1000), 11 * 3600);
	assert_int_equal(tz_offset_s(z, iso("2070-07-15T00:00:00Z") / 1000), 10 * 3600);
	tz_zone_free(z);
}

static void
test_tz_refuses_bad_names_and_files(void **state)
{
	struct tz_zone *z = NULL;
	char *cause = NULL;
	static const unsigned char junk[] = "TZif2 but far too short";

	assert_int_equal(tz_zone_load(NULL, "../etc/passwd", &z, &cause), -EINVAL);
	assert_non_null(cause);
	free(cause);
	cause = NULL;
	assert_int_equal(tz_zone_load(NULL, "/etc/passwd", &z, &cause), -EINVAL);
	free(cause);
	cause = NULL;
	assert_true(tz_zone_load(NULL, "No/Such_Zone", &z, &cause) < 0);
	free(cause);
	cause = NULL;
	assert_int_equal(tz_zone_parse(junk, sizeof(junk), &z, &cause), -EINVAL);
	free(cause);
	assert_null(z);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tz_utc_has_zero_offset_and_midnight_start),
		cmocka_unit_test(test_tz_berlin_offsets_switch_at_the_transitions),
		cmocka_unit_test(test_tz_day_start_in_berlin_is_local_midnight),
		cmocka_unit_test(test_tz_southern_hemisphere_footer),
		cmocka_unit_test(test_tz_refuses_bad_names_and_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
