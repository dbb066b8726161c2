/*
 * Unit tests for common/loopback.c: what counts as this machine, and the
 * names and addresses that only look like it.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "loopback.h"

static void
test_loopback_hosts(void **state)
{
	const char *yes[] = {
		"localhost", "LocalHost",	"127.0.0.1",	    "127.255.0.9",	  "::1",
		"[::1]",     "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "[::ffff:127.1.2.3]",
	};
	const char *no[] = {
		"127.example.com",
		"127.0.0.1.nip.io",
		"localhost.example.com",
		"128.0.0.1",
		"10.0.0.1",
		"::2",
		"::ffff:10.0.0.1",
		"[::1",
		"",
		"127.1",
		"0.0.0.0",
		"::",
	};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!loopback_is_host(yes[i]))
			fail_msg("'%s' is loopback", yes[i]);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		if (loopback_is_host(no[i]))
			fail_msg("'%s' is not loopback", no[i]);
	}
	assert_false(loopback_is_host(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loopback_hosts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
