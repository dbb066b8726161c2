/*
 * Unit tests for common/buf.c: the NUL terminator invariant, growth across
 * the initial capacity, printf at the exact boundary, consume and steal.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

static void
test_buf_init_is_empty_string(void **state)
{
	struct buf b;

	buf_init(&b);
	assert_non_null(b.data);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_true(b.cap > b.len);
	buf_clear(&b);
}

static void
test_buf_append_keeps_nul_terminator(void **state)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "ab");
	buf_putc(&b, 'c');
	buf_append(&b, "def", 2);
	assert_int_equal(b.len, 5);
	assert_string_equal(b.data, "abcde");
	buf_clear(&b);
}

static void
test_buf_append_zero_bytes_is_noop(void **state)
{
	struct buf b;

	buf_init(&b);
	buf_append(&b, NULL, 0);
	buf_puts(&b, "");
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	buf_clear(&b);
}

static void
test_buf_append_binary_keeps_embedded_nul(void **state)
{
	struct buf b;

	buf_init(&b);
	buf_append(&b, "a\0b", 3);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "a\0b", 4);
	buf_clear(&b);
}

static void
test_buf_grows_far_past_initial_capacity(void **state)
{
	struct buf b;
	char chunk[100];

	memset(chunk, 'x', sizeof(chunk));
	buf_init(&b);
	for (int i = 0; i < 1000; i++)
		buf_append(&b, chunk, sizeof(chunk));
	assert_int_equal(b.len, 100000);
	assert_true(b.cap > b.len);
	assert_int_equal(b.data[b.len], '\0');
	assert_int_equal(b.data[99999], 'x');
	buf_clear(&b);
}

static void
test_buf_reserve_makes_room_without_changing_content(void **state)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "keep");
	buf_reserve(&b, 5000);
	assert_true(b.cap >= b.len + 5000 + 1);
	assert_string_equal(b.data, "keep");
	buf_clear(&b);
}

static void
test_buf_printf_formats_and_appends(void **state)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, ">");
	buf_printf(&b, "%s=%d", "n", 42);
	buf_printf(&b, "%c", '!');
	assert_string_equal(b.data, ">n=42!");
	assert_int_equal(b.len, 6);
	buf_clear(&b);
}

static void
test_buf_printf_at_exact_capacity_boundary(void **state)
{
	/* lengths around the free space: fits exactly, one over, far over */
	for (size_t extra = 0; extra < 3; extra++) {
		struct buf b;
		size_t room;
		char *want;

		buf_init(&b);
		room = b.cap - b.len - 1;
		want = malloc(room + extra + 1);
		assert_non_null(want);
		memset(want, 'y', room + extra);
		want[room + extra] = '\0';
		buf_printf(&b, "%s", want);
		assert_int_equal(b.len, room + extra);
		assert_string_equal(b.data, want);
		free(want);
		buf_clear(&b);
	}
}

static void
test_buf_printf_large_output(void **state)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "ab");
	buf_printf(&b, "%05000d|", 7);
	assert_int_equal(b.len, 2 + 5000 + 1);
	assert_int_equal(b.data[2 + 4999], '7');
	assert_int_equal(b.data[b.len - 1], '|');
	assert_int_equal(b.data[b.len], '\0');
	buf_clear(&b);
}

static void
test_buf_reset_empties_and_keeps_storage(void **state)
{
	struct buf b;
	size_t cap;

	buf_init(&b);
	buf_printf(&b, "%0200d", 1);
	cap = b.cap;
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_int_equal(b.cap, cap);
	buf_clear(&b);
}

static void
test_buf_consume_drops_prefix(void **state)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "line1\nline2\n");
	buf_consume(&b, 6);
	assert_string_equal(b.data, "line2\n");
	assert_int_equal(b.len, 6);
	buf_consume(&b, 0);
	assert_string_equal(b.data, "line2\n");
	buf_consume(&b, 6);
	assert_string_equal(b.data, "");
	assert_int_equal(b.len, 0);
	buf_clear(&b);
}

static void
test_buf_steal_hands_over_data_and_leaves_no_storage(void **state)
{
	struct buf b;
	size_t len = 0;
	char *s;

	buf_init(&b);
	buf_puts(&b, "owned");
	s = buf_steal(&b, &len);
	assert_string_equal(s, "owned");
	assert_int_equal(len, 5);
	/* nothing left to free: a stolen stack buffer needs no buf_clear */
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	buf_puts(&b, "next");
	assert_string_equal(b.data, "next");
	free(s);
	/* len_out may be NULL */
	s = buf_steal(&b, NULL);
	assert_string_equal(s, "next");
	free(s);
	/* stealing an empty, storage-less buffer still gives a string */
	s = buf_steal(&b, &len);
	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	free(s);
	/* printf works from the storage-less state */
	buf_printf(&b, "%d", 42);
	assert_string_equal(b.data, "42");
	buf_clear(&b);
}

static void
test_buf_clear_accepts_null_and_allows_reinit(void **state)
{
	struct buf b;

	buf_clear(NULL);
	buf_init(&b);
	buf_puts(&b, "x");
	buf_clear(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	buf_clear(&b);
	buf_init(&b);
	buf_puts(&b, "y");
	assert_string_equal(b.data, "y");
	buf_clear(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_init_is_empty_string),
		cmocka_unit_test(test_buf_append_keeps_nul_terminator),
		cmocka_unit_test(test_buf_append_zero_bytes_is_noop),
		cmocka_unit_test(test_buf_append_binary_keeps_embedded_nul),
		cmocka_unit_test(test_buf_grows_far_past_initial_capacity),
		cmocka_unit_test(test_buf_reserve_makes_room_without_changing_content),
		cmocka_unit_test(test_buf_printf_formats_and_appends),
		cmocka_unit_test(test_buf_printf_at_exact_capacity_boundary),
		cmocka_unit_test(test_buf_printf_large_output),
		cmocka_unit_test(test_buf_reset_empties_and_keeps_storage),
		cmocka_unit_test(test_buf_consume_drops_prefix),
		cmocka_unit_test(test_buf_steal_hands_over_data_and_leaves_no_storage),
		cmocka_unit_test(test_buf_clear_accepts_null_and_allows_reinit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
