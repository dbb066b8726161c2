#pragma once

/*
 * Logging to stderr, one event per line and one write(2) per line.
 *
 * When stderr is the journal (log_init is given the value of $JOURNAL_STREAM
 * and its device:inode matches fstat(2) of fd 2), each line is "<N>text\n"
 * with N the syslog priority; journald adds time, unit and pid. Otherwise the
 * line is "progname: level: text\n".
 *
 * Every formatted message is escaped as a whole before it is written: control
 * characters (newline, CR, ESC, ...) and bytes >= 0x7f that are not valid
 * UTF-8 become \n, \r, \xNN escapes, so untrusted text cannot forge lines or
 * priorities. Callers still never pass secrets (tokens, signatures, cookies,
 * Authorization headers, passwords) to any log function.
 *
 * The log state is the one process-wide global trhub allows.
 */

#include <stdbool.h>
#include <stdnoreturn.h>

enum log_level {
	LOG_LEVEL_ERR = 3,
	LOG_LEVEL_WARNING = 4,
	LOG_LEVEL_NOTICE = 5,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

/* Debug subsystems for --trace=http,stats,sync,... */
enum log_trace {
	LOG_TRACE_HTTP = 1 << 0,
	LOG_TRACE_STATS = 1 << 1,
	LOG_TRACE_SYNC = 1 << 2,
	LOG_TRACE_EVENTS = 1 << 3,
	LOG_TRACE_MODEL = 1 << 4,
	LOG_TRACE_STREAM = 1 << 5,
	LOG_TRACE_SIM = 1 << 6,
};

/*
 * progname is borrowed and must outlive the log (argv[0] basename or a
 * literal). journal_stream is the value of $JOURNAL_STREAM or NULL; it is only
 * read during the call.
 */
void log_init(const char *progname, enum log_level level, const char *journal_stream);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Writes to fd instead of 2 (tests). The journal check is dropped. */
void log_set_fd(int fd);
/* Prefix terminal lines with a monotonic timestamp. */
void log_set_timestamps(bool on);
/*
 * Parses "http,stats" (or "all") into enabled trace flags and enables debug
 * output for those subsystems. Returns 0 or -EINVAL with *cause_out set to an
 * allocated message naming the unknown word.
 */
int log_trace_parse(const char *spec, char **cause_out);
bool log_trace_enabled(enum log_trace subsystem);
bool log_is_enabled(enum log_level level);
bool log_is_journal(void);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends ": strerror(-r)"; r is a negative errno passed explicitly. */
void log_msg_errno(enum log_level level, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(...)		  log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warning(...)	  log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_notice(...)		  log_msg(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_info(...)		  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_err_errno(r, ...)	  log_msg_errno(LOG_LEVEL_ERR, (r), __VA_ARGS__)
#define log_warning_errno(r, ...) log_msg_errno(LOG_LEVEL_WARNING, (r), __VA_ARGS__)
/* Arguments are not evaluated when debug output is off. */
#define log_debug(...)                                         \
	do {                                                   \
		if (log_is_enabled(LOG_LEVEL_DEBUG))           \
			log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__); \
	} while (0)
#define log_trace(subsystem, ...)                              \
	do {                                                   \
		if (log_trace_enabled(subsystem))              \
			log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__); \
	} while (0)

/* Logs at err level (fatal appends strerror(errno)) and exits 1. Startup only. */
noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Escapes untrusted text the way log lines are escaped, for callers that
 * build messages elsewhere (HTTP error details). Returns an allocated string.
 */
char *log_escape(const char *s);
