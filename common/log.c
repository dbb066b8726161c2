/*
 * log: one line per event on stderr, one write(2) per line, journald
 * priority prefixes when stderr is the journal, and escaping of the whole
 * formatted message so untrusted text can never forge a line or a priority.
 *
 * The state below is the one process-wide global trhub allows (STYLE.md 6).
 */

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "date.h"
#include "log.h"
#include "xmalloc.h"

#define LOG_LINE_MAX 4096

static struct {
	const char *progname;
	enum log_level level;
	unsigned trace;
	int fd;
	bool journal;
	bool timestamps;
} log_state = { "trhub", LOG_LEVEL_INFO, 0, 2, false, false };

static const struct {
	const char *name;
	enum log_trace flag;
} log_trace_names[] = {
	{ "http", LOG_TRACE_HTTP },   { "stats", LOG_TRACE_STATS },
	{ "sync", LOG_TRACE_SYNC },   { "events", LOG_TRACE_EVENTS },
	{ "model", LOG_TRACE_MODEL }, { "stream", LOG_TRACE_STREAM },
	{ "sim", LOG_TRACE_SIM },
};

/* True when "dev:ino" names the file behind fd 2 (systemd.exec(5), $JOURNAL_STREAM). */
static bool
log_stream_is_journal(const char *journal_stream)
{
	unsigned long long dev;
	unsigned long long ino;
	char *end = NULL;
	struct stat st;

	if (journal_stream == NULL || !isdigit((unsigned char)journal_stream[0]))
		return false;
	errno = 0;
	dev = strtoull(journal_stream, &end, 10);
	if (errno != 0 || *end != ':' || !isdigit((unsigned char)end[1]))
		return false;
	ino = strtoull(end + 1, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	if (fstat(2, &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *progname, enum log_level level, const char *journal_stream)
{
	log_state.progname = progname;
	log_state.level = level;
	log_state.fd = 2;
	log_state.journal = log_stream_is_journal(journal_stream);
}

void
log_set_level(enum log_level level)
{
	log_state.level = level;
}

enum log_level
log_get_level(void)
{
	return log_state.level;
}

void
log_set_fd(int fd)
{
	log_state.fd = fd;
	log_state.journal = false;
}

void
log_set_timestamps(bool on)
{
	log_state.timestamps = on;
}

int
log_trace_parse(const char *spec, char **cause_out)
{
	unsigned flags = 0;
	const char *p = spec;

	while (*p != '\0') {
		size_t n = strcspn(p, ",");
		bool found = false;

		if (n == 3 && strncmp(p, "all", 3) == 0) {
			flags = ~0u;
			found = true;
		}
		for (size_t i = 0;
		     !found && i < sizeof(log_trace_names) / sizeof(log_trace_names[0]); i++) {
			if (strlen(log_trace_names[i].name) == n &&
			    strncmp(p, log_trace_names[i].name, n) == 0) {
				flags |= log_trace_names[i].flag;
				found = true;
			}
		}
		if (!found && n > 0) {
			if (cause_out != NULL)
				*cause_out =
					xasprintf("unknown trace subsystem '%.*s' (known: http, "
						  "stats, sync, events, model, stream, sim, all)",
						  (int)n, p);
			return -EINVAL;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	log_state.trace = flags;
	return 0;
}

bool
log_trace_enabled(enum log_trace subsystem)
{
	return (log_state.trace & subsystem) != 0;
}

bool
log_is_enabled(enum log_level level)
{
	return level <= log_state.level;
}

bool
log_is_journal(void)
{
	return log_state.journal;
}

static const char *
log_level_name(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_ERR:
		return "error";
	case LOG_LEVEL_WARNING:
		return "warning";
	case LOG_LEVEL_NOTICE:
		return "notice";
	case LOG_LEVEL_INFO:
		return "info";
	case LOG_LEVEL_DEBUG:
		return "debug";
	}
	return "log";
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one. */
static size_t
log_utf8_len(const unsigned char *s)
{
	size_t n;
	unsigned cp;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	}
	if (n == 3) {
		cp = ((s[0] & 0x0fu) << 12) | ((s[1] & 0x3fu) << 6) | (s[2] & 0x3fu);
		if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
	} else if (n == 4) {
		cp = ((s[0] & 0x07u) << 18) | ((s[1] & 0x3fu) << 12);
		if (cp < 0x10000 || cp > 0x10ffff)
			return 0;
	}
	return n;
}

/* Appends the escaped form of s to out (at most max-1 bytes, NUL-terminated). */
static size_t
log_escape_into(char *out, size_t max, size_t len, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0' && len + 5 < max) {
		size_t u;

		if (*p == '\n') {
			memcpy(out + len, "\\n", 2);
			len += 2;
		} else if (*p == '\r') {
			memcpy(out + len, "\\r", 2);
			len += 2;
		} else if (*p == '\t') {
			memcpy(out + len, "\\t", 2);
			len += 2;
		} else if (*p == '\\') {
			memcpy(out + len, "\\\\", 2);
			len += 2;
		} else if (*p < 0x20 || *p == 0x7f) {
			len += (size_t)snprintf(out + len, max - len, "\\x%02x", *p);
		} else if (*p >= 0x80) {
			u = log_utf8_len(p);
			if (u == 0) {
				len += (size_t)snprintf(out + len, max - len, "\\x%02x", *p);
			} else {
				memcpy(out + len, p, u);
				len += u;
				p += u;
				continue;
			}
		} else {
			out[len++] = (char)*p;
		}
		p++;
	}
	out[len] = '\0';
	return len;
}

char *
log_escape(const char *s)
{
	size_t max = strlen(s) * 4 + 1;
	char *out = xmalloc(max + 5);

	(void)log_escape_into(out, max + 5, 0, s);
	return out;
}

static void
log_write(enum log_level level, const char *msg, int r)
{
	char line[LOG_LINE_MAX];
	size_t len = 0;
	ssize_t w;

	if (log_state.journal) {
		len = (size_t)snprintf(line, sizeof(line), "<%d>", (int)level);
	} else {
		if (log_state.timestamps) {
			int64_t ms = date_monotonic_ms();

			len = (size_t)snprintf(line, sizeof(line), "[%lld.%03lld] ",
					       (long long)(ms / 1000), (long long)(ms % 1000));
		}
		len += (size_t)snprintf(line + len, sizeof(line) - len,
					"%s: %s: ", log_state.progname, log_level_name(level));
	}
	/* leave room for the errno suffix and the newline */
	len = log_escape_into(line, sizeof(line) - 80, len, msg);
	if (r < 0)
		len += (size_t)snprintf(line + len, sizeof(line) - len, ": %s", strerror(-r));
	if (len >= sizeof(line) - 1)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	do {
		w = write(log_state.fd, line, len);
	} while (w < 0 && errno == EINTR);
}

/* The format attribute lets clang's -Wformat-nonliteral see fmt is checked at the callers. */
static void log_vmsg(enum log_level level, int r, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void
log_vmsg(enum log_level level, int r, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	int saved = errno;

	/*
	 * log_trace() has already checked its subsystem flag and calls in at
	 * debug level, so debug must pass here while any trace flag is on even
	 * if the level is lower; log_debug() checks the level itself.
	 */
	if (!log_is_enabled(level) && !(level == LOG_LEVEL_DEBUG && log_state.trace != 0))
		return;
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	log_write(level, msg, r);
	errno = saved;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, 0, fmt, ap);
	va_end(ap);
}

void
log_msg_errno(enum log_level level, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, r < 0 ? r : -r, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int r = -errno;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERR, r, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
