/*
 * Unit tests for common/log.c. Output goes to a pipe through log_set_fd (or,
 * for journal mode, to a temporary file dup2'ed onto fd 2) and is read back
 * byte for byte.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

struct log_pipe {
	int rfd;
	int wfd;
	char out[8192];
};

static int
setup(void **state)
{
	struct log_pipe *p = calloc(1, sizeof(*p));
	int fds[2];

	if (p == NULL || pipe(fds) != 0) {
		free(p);
		return -1;
	}
	p->rfd = fds[0];
	p->wfd = fds[1];
	*state = p; /* the teardown closes and frees it, also after a failure below */
	if (fcntl(p->rfd, F_SETFL, O_NONBLOCK) != 0)
		return -1;
	log_init("prog", LOG_LEVEL_INFO, NULL);
	log_set_timestamps(false);
	if (log_trace_parse("", NULL) != 0)
		return -1;
	log_set_fd(p->wfd);
	*state = p;
	return 0;
}

static int
teardown(void **state)
{
	struct log_pipe *p = *state;

	log_set_fd(2);
	close(p->rfd);
	close(p->wfd);
	free(p);
	return 0;
}

/* Everything written to the pipe so far, NUL-terminated. */
static const char *
drain(struct log_pipe *p)
{
	size_t len = 0;
	ssize_t n;

	while ((n = read(p->rfd, p->out + len, sizeof(p->out) - 1 - len)) > 0)
		len += (size_t)n;
	p->out[len] = '\0';
	return p->out;
}

static size_t
count_char(const char *s, char c)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == c;
	return n;
}

static void
test_log_terminal_line_names_program_and_level(void **state)
{
	struct log_pipe *p = *state;

	log_warning("queue %s is %d deep", "support", 12);
	assert_string_equal(drain(p), "prog: warning: queue support is 12 deep\n");
	log_err("broken");
	log_notice("ready");
	log_info("done");
	assert_string_equal(drain(p),
			    "prog: error: broken\nprog: notice: ready\nprog: info: done\n");
}

static void
test_log_escapes_newline_so_priority_cannot_be_forged(void **state)
{
	struct log_pipe *p = *state;
	const char *out;

	log_warning("webhook field: %s", "x\n<0>evil\r\n");
	out = drain(p);
	assert_string_equal(out, "prog: warning: webhook field: x\\n<0>evil\\r\\n\n");
	assert_int_equal(count_char(out, '\n'), 1);
}

static void
test_log_escapes_control_characters_and_backslash(void **state)
{
	struct log_pipe *p = *state;

	log_warning("%s", "a\tb\x1b[31mc\x7f\\d\x01");
	assert_string_equal(drain(p), "prog: warning: a\\tb\\x1b[31mc\\x7f\\\\d\\x01\n");
}

static void
test_log_escapes_invalid_utf8(void **state)
{
	struct log_pipe *p = *state;

	/* stray continuation, overlong '/', surrogate, truncated sequence, > U+10FFFF */
	log_warning("%s|%s|%s|%s|%s", "\x80", "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82",
		    "\xf4\x90\x80\x80");
	assert_string_equal(drain(p), "prog: warning: \\x80|\\xc0\\xaf|\\xed\\xa0\\x80|\\xe2\\x82|"
				      "\\xf4\\x90\\x80\\x80\n");
}

static void
test_log_keeps_valid_utf8(void **state)
{
	struct log_pipe *p = *state;

	log_warning("%s", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbd");
	assert_string_equal(
		drain(p),
		"prog: warning: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbd\n");
}

static void
test_log_errno_variant_appends_strerror(void **state)
{
	struct log_pipe *p = *state;
	char want[256];

	(void)snprintf(want, sizeof(want), "prog: error: open %s: %s\n", "/etc/trhub.conf",
		       strerror(ENOENT));
	log_err_errno(-ENOENT, "open %s", "/etc/trhub.conf");
	assert_string_equal(drain(p), want);
}

static void
test_log_plain_variant_does_not_append_strerror(void **state)
{
	struct log_pipe *p = *state;

	errno = ENOENT;
	log_warning("plain");
	assert_string_equal(drain(p), "prog: warning: plain\n");
}

static void
test_log_preserves_errno(void **state)
{
	struct log_pipe *p = *state;

	errno = EPIPE;
	log_warning_errno(-EIO, "x");
	assert_int_equal(errno, EPIPE);
	(void)drain(p);
}

static void
test_log_suppresses_levels_above_threshold(void **state)
{
	struct log_pipe *p = *state;

	log_set_level(LOG_LEVEL_WARNING);
	assert_int_equal(log_get_level(), LOG_LEVEL_WARNING);
	log_notice("hidden");
	log_info("hidden");
	log_warning("shown");
	assert_string_equal(drain(p), "prog: warning: shown\n");
	assert_false(log_is_enabled(LOG_LEVEL_NOTICE));
	assert_true(log_is_enabled(LOG_LEVEL_ERR));
}

static int
count_call(int *calls)
{
	(*calls)++;
	return *calls;
}

static void
test_log_debug_off_does_not_evaluate_arguments(void **state)
{
	struct log_pipe *p = *state;
	int calls = 0;

	log_debug("value %d", count_call(&calls));
	assert_int_equal(calls, 0);
	assert_string_equal(drain(p), "");
}

static void
test_log_debug_on_prints(void **state)
{
	struct log_pipe *p = *state;
	int calls = 0;

	log_set_level(LOG_LEVEL_DEBUG);
	log_debug("value %d", count_call(&calls));
	assert_int_equal(calls, 1);
	assert_string_equal(drain(p), "prog: debug: value 1\n");
}

static void
test_log_trace_parse_accepts_list(void **state)
{
	char *cause = NULL;

	assert_int_equal(log_trace_parse("http,stats", &cause), 0);
	assert_null(cause);
	assert_true(log_trace_enabled(LOG_TRACE_HTTP));
	assert_true(log_trace_enabled(LOG_TRACE_STATS));
	assert_false(log_trace_enabled(LOG_TRACE_SYNC));
	assert_false(log_trace_enabled(LOG_TRACE_SIM));
}

static void
test_log_trace_parse_accepts_all(void **state)
{
	char *cause = NULL;

	assert_int_equal(log_trace_parse("all", &cause), 0);
	assert_true(log_trace_enabled(LOG_TRACE_HTTP));
	assert_true(log_trace_enabled(LOG_TRACE_SYNC));
	assert_true(log_trace_enabled(LOG_TRACE_SIM));
}

static void
test_log_trace_parse_rejects_unknown_word(void **state)
{
	char *cause = NULL;

	assert_int_equal(log_trace_parse("sync", NULL), 0);
	assert_int_equal(log_trace_parse("http,bogus", &cause), -EINVAL);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "'bogus'"));
	free(cause);
	/* a failed parse leaves the previous flags alone */
	assert_true(log_trace_enabled(LOG_TRACE_SYNC));
	assert_false(log_trace_enabled(LOG_TRACE_HTTP));
}

static void
test_log_trace_parse_rejects_prefix_of_known_word(void **state)
{
	char *cause = NULL;

	assert_int_equal(log_trace_parse("htt", &cause), -EINVAL);
	assert_non_null(strstr(cause, "'htt'"));
	free(cause);
	assert_int_equal(log_trace_parse("httpx", &cause), -EINVAL);
	assert_non_null(strstr(cause, "'httpx'"));
	free(cause);
}

static void
test_log_trace_prints_enabled_subsystem_at_info_level(void **state)
{
	struct log_pipe *p = *state;
	int calls = 0;

	assert_int_equal(log_get_level(), LOG_LEVEL_INFO);
	assert_int_equal(log_trace_parse("http", NULL), 0);
	log_trace(LOG_TRACE_HTTP, "GET %s", "/v1/Workspaces");
	log_trace(LOG_TRACE_SYNC, "sync %d", count_call(&calls));
	log_debug("plain debug %d", count_call(&calls));
	assert_int_equal(calls, 0);
	assert_string_equal(drain(p), "prog: debug: GET /v1/Workspaces\n");
}

static void
test_log_journal_mode_uses_priority_prefix(void **state)
{
	char path[] = "/tmp/test_log_journal.XXXXXX";
	char stream[64];
	char out[256];
	char eio[128];
	struct stat st;
	int saved = -1;
	int fd = -1;
	ssize_t n;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(fstat(fd, &st), 0);
	(void)snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long)st.st_dev,
		       (unsigned long long)st.st_ino);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_true(dup2(fd, 2) == 2);

	log_init("prog", LOG_LEVEL_INFO, stream);
	assert_true(log_is_journal());
	log_warning("line %s", "a\n<0>b");
	log_err_errno(-EIO, "disk");
	log_init("prog", LOG_LEVEL_INFO, NULL);

	assert_true(dup2(saved, 2) == 2);
	close(saved);
	n = pread(fd, out, sizeof(out) - 1, 0);
	close(fd);
	assert_true(n > 0);
	out[n] = '\0';
	(void)snprintf(eio, sizeof(eio), "%s\n", strerror(EIO));
	assert_true(strncmp(out, "<4>line a\\n<0>b\n<3>disk: ", 25) == 0);
	assert_non_null(strstr(out, eio));
}

static void
test_log_journal_mode_needs_matching_stream(void **state)
{
	struct stat st;
	char stream[64];

	assert_int_equal(fstat(2, &st), 0);
	(void)snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long)st.st_dev,
		       (unsigned long long)st.st_ino + 1);
	log_init("prog", LOG_LEVEL_INFO, stream);
	assert_false(log_is_journal());
	log_init("prog", LOG_LEVEL_INFO, "garbage");
	assert_false(log_is_journal());
	log_init("prog", LOG_LEVEL_INFO, "");
	assert_false(log_is_journal());
}

static void
test_log_timestamps_prefix_terminal_lines(void **state)
{
	struct log_pipe *p = *state;
	const char *out;

	log_set_timestamps(true);
	log_warning("tick");
	out = drain(p);
	assert_true(out[0] == '[');
	assert_non_null(strstr(out, "] prog: warning: tick\n"));
}

static void
test_log_long_message_stays_one_line(void **state)
{
	struct log_pipe *p = *state;
	static char big[10000];
	const char *out;

	memset(big, '\n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_warning_errno(-EIO, "%s", big);
	out = drain(p);
	assert_int_equal(count_char(out, '\n'), 1);
	assert_true(out[strlen(out) - 1] == '\n');
	assert_true(strlen(out) <= 4096);
}

static void
test_log_escape_returns_escaped_copy(void **state)
{
	char *s = log_escape("a\nb\xff\xc3\xa9");

	assert_string_equal(s, "a\\nb\\xff\xc3\xa9");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_log_terminal_line_names_program_and_level),
		T(test_log_escapes_newline_so_priority_cannot_be_forged),
		T(test_log_escapes_control_characters_and_backslash),
		T(test_log_escapes_invalid_utf8),
		T(test_log_keeps_valid_utf8),
		T(test_log_errno_variant_appends_strerror),
		T(test_log_plain_variant_does_not_append_strerror),
		T(test_log_preserves_errno),
		T(test_log_suppresses_levels_above_threshold),
		T(test_log_debug_off_does_not_evaluate_arguments),
		T(test_log_debug_on_prints),
		T(test_log_trace_parse_accepts_list),
		T(test_log_trace_parse_accepts_all),
		T(test_log_trace_parse_rejects_unknown_word),
		T(test_log_trace_parse_rejects_prefix_of_known_word),
		T(test_log_trace_prints_enabled_subsystem_at_info_level),
		T(test_log_journal_mode_uses_priority_prefix),
		T(test_log_journal_mode_needs_matching_stream),
		T(test_log_timestamps_prefix_terminal_lines),
		T(test_log_long_message_stays_one_line),
		T(test_log_escape_returns_escaped_copy),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
