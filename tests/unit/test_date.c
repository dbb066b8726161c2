/*
 * Unit tests for common/date.c: every date form Twilio sends (integer
 * seconds and milliseconds, ISO-8601, RFC 2822) read to the same instant,
 * round trips through both formats, and refusal of everything else.
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

/* 2026-12-06T03:00:00Z, a Sunday. */
#define T_MS 1796526000000LL

static int64_t
iso(const char *s)
{
	int64_t ms = 0;

	assert_int_equal(date_parse_iso(s, DATE_ISO_STRICT, &ms), 0);
	return ms;
}

static void
test_date_every_twilio_form_reads_the_same_instant(void **state)
{
	const char *forms[] = {
		"1796526000",
		"1796526000000",
		"2026-12-06T03:00:00Z",
		"2026-12-06T04:00:00+01:00",
		"2026-12-06 03:00:00Z",
		"Sun, 06 Dec 2026 03:00:00 +0000",
		"Sun, 06 Dec 2026 04:00:00 +0100",
		"06 Dec 2026 03:00:00 GMT",
		"Sun, 6 Dec 2026 03:00:00 +0000",
	};

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		int64_t ms = -1;

		if (date_parse(forms[i], &ms) != 0)
			fail_msg("'%s' refused", forms[i]);
		if (ms != T_MS)
			fail_msg("'%s' read as %lld", forms[i], (long long)ms);
	}
}

static void
test_date_refuses_what_is_not_a_date(void **state)
{
	const char *bad[] = {
		"",
		"-5",
		"12abc",
		"tomorrow",
		"2026-12-06",
		"2026-12-06T03:00:00",
		"2026-02-30T00:00:00Z",
		"2026-12-06T03:00:00Zjunk",
		"Sun, 06 Dex 2026 03:00:00 +0000",
		"Sun, 06 Dec 2026 03:00:00",
		"Sun, 06 Dec 2026 25:00:00 +0000",
		"Sun, 31 Feb 2026 03:00:00 +0000",
		"99999999999999999999",
	};
	int64_t ms = 42;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (date_parse(bad[i], &ms) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
	}
	assert_int_equal(date_parse(NULL, &ms), -EINVAL);
	assert_int_equal(ms, 42);
}

static void
test_date_iso_round_trip_and_modes(void **state)
{
	char out[DATE_ISO_LEN];
	int64_t ms = 0;

	date_format_iso(iso("2015-07-30T20:00:00Z"), out);
	assert_string_equal(out, "2015-07-30T20:00:00Z");
	assert_int_equal(iso("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(iso("2015-07-30T20:00:00.250Z") - iso("2015-07-30T20:00:00Z"), 250);
	assert_int_equal(iso("2015-07-30T22:00:00+02:00"), iso("2015-07-30T20:00:00Z"));
	date_format_iso(-1, out);
	assert_string_equal(out, "1969-12-31T23:59:59Z");
	assert_int_equal(date_parse_iso("2015-07-30", DATE_ISO_STRICT, &ms), -EINVAL);
	assert_int_equal(date_parse_iso("2015-07-30T20:00:00", DATE_ISO_STRICT, &ms), -EINVAL);
	assert_int_equal(date_parse_iso(NULL, DATE_ISO_STRICT, &ms), -EINVAL);
	/* REST parameters: a date alone or no zone is UTC. */
	assert_int_equal(date_parse_iso("2015-07-30", DATE_ISO_LENIENT, &ms), 0);
	assert_int_equal(ms, iso("2015-07-30T00:00:00Z"));
	assert_int_equal(date_parse_iso("2015-07-30T20:00:00", DATE_ISO_LENIENT, &ms), 0);
	assert_int_equal(ms, iso("2015-07-30T20:00:00Z"));
	assert_int_equal(date_parse_iso("2015-07-30T", DATE_ISO_LENIENT, &ms), -EINVAL);
}

static void
test_date_rfc2822_round_trip(void **state)
{
	char out[DATE_RFC2822_LEN];
	int64_t ms = 0;

	date_format_rfc2822(T_MS, out);
	assert_string_equal(out, "Sun, 06 Dec 2026 03:00:00 +0000");
	assert_int_equal(date_parse_rfc2822(out, &ms), 0);
	assert_int_equal(ms, T_MS);
	date_format_rfc2822(iso("2011-02-18T19:26:50Z"), out);
	assert_string_equal(out, "Fri, 18 Feb 2011 19:26:50 +0000");
	date_format_rfc2822(0, out);
	assert_string_equal(out, "Thu, 01 Jan 1970 00:00:00 +0000");
}

static void
test_date_clocks_move_forward(void **state)
{
	int64_t m1 = date_monotonic_ms();
	int64_t w = date_now_ms();

	assert_true(date_monotonic_ms() >= m1);
	assert_true(w > iso("2020-01-01T00:00:00Z"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_date_every_twilio_form_reads_the_same_instant),
		cmocka_unit_test(test_date_refuses_what_is_not_a_date),
		cmocka_unit_test(test_date_iso_round_trip_and_modes),
		cmocka_unit_test(test_date_rfc2822_round_trip),
		cmocka_unit_test(test_date_clocks_move_forward),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
