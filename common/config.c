/*
 * config: the one loader of trhub's configuration, and the only file that
 * reads the environment (scripts/check-banned enforces it).
 *
 * Everything is driven by config_table[] (config_table.c), the tunables
 * table: name, type, default, range, unit, seed environment aliases, secret
 * flag, reload rule and description. The man page trhubd.conf(5) documents
 * it (a unit test compares the two), config_print_keys prints it, config_dump
 * walks it and config_changes reports reloads by it. Adding a key means
 * adding a struct config member and one table row; nothing else in the
 * loader is key-specific except the cross-key checks in config_finish.
 *
 * Invariants:
 *   - A value is validated by config_set when its layer applies it, so an
 *     error names the place that supplied it (file:line, environment variable
 *     or credential file). Cross-key rules run once at the end.
 *   - Defaults are text run through the same validators, so the table cannot
 *     hold a default the file could not.
 *   - Secret values never appear in a message, are stored only in struct
 *     config and are wiped (explicit_bzero) wherever a copy was made: the
 *     file buffer, the line buffer, credential buffers and on config_free.
 */

#include <sys/stat.h>

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "cidr.h"
#include "config.h"
#include "config_table.h"
#include "log.h"
#include "loopback.h"
#include "num.h"
#include "sid.h"
#include "xmalloc.h"

extern char **environ;

#define CONFIG_ENV_PREFIX "TRHUB_"

#define CONFIG_ZONEINFO	     "/usr/share/zoneinfo"
#define CONFIG_SYNC_NAME_MAX 320
#define CONFIG_SECRET_MAX    1024
#define CONFIG_VALUE_SHOWN   60
#define CONFIG_OFF(member)   offsetof(struct config, member)

#define CONFIG_N_KEYS config_table_n

/* Where each value came from, for config_dump. */
struct config_origin {
	char **where;		    /* one per config_table entry; NULL: default */
	char **sla_where;	    /* one per sla override */
	char **short_abandon_where; /* one per short-abandon override */
};

/* State of one load, beyond what struct config keeps. */
struct config_load_state {
	const struct config_source *src;
	int *file_line;		    /* per config_table entry: line that set it, 0: none */
	int *sla_line;		    /* parallel to config->sla_overrides */
	int *short_abandon_line;    /* parallel to config->short_abandon_overrides */
	const char *secret_in_file; /* name of a secret key the file set */
};

static int config_fail(char **cause_out, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Stores a formatted message in *cause_out (if wanted) and returns r. */
static int
config_fail(char **cause_out, int r, const char *fmt, ...)
{
	va_list ap;

	if (cause_out != NULL) {
		free(*cause_out);
		va_start(ap, fmt);
		*cause_out = xvasprintf(fmt, ap);
		va_end(ap);
	}
	return r;
}

/* A printable, length-capped copy of a (non-secret) value for messages. */
static char *
config_show(const char *value)
{
	struct buf b;
	char *result;
	size_t i;

	buf_init(&b);
	buf_putc(&b, '\'');
	for (i = 0; i < CONFIG_VALUE_SHOWN && value[i] != '\0'; i++) {
		unsigned char c = (unsigned char)value[i];

		buf_putc(&b, (c >= 0x20 && c < 0x7f) ? (char)c : '?');
	}
	if (value[i] != '\0')
		buf_puts(&b, "...");
	buf_putc(&b, '\'');
	result = buf_steal(&b, NULL);
	buf_clear(&b); /* buf_steal re-initialises b */
	return result;
}

static char **
config_str_member(struct config *config, const struct config_table_entry *k)
{
	return (char **)(void *)((char *)config + k->offset);
}

static int *
config_int_member(struct config *config, const struct config_table_entry *k)
{
	return (int *)(void *)((char *)config + k->offset);
}

static const struct config_table_entry *
config_key_find(const char *name, size_t *index_out)
{
	for (size_t i = 0; i < CONFIG_N_KEYS; i++) {
		if (strcmp(config_table[i].name, name) == 0) {
			if (index_out != NULL)
				*index_out = i;
			return &config_table[i];
		}
	}
	return NULL;
}

static bool
config_type_is_string(enum config_table_type t)
{
	switch (t) {
	case CONFIG_TABLE_STRING:
	case CONFIG_TABLE_SID:
	case CONFIG_TABLE_URL:
	case CONFIG_TABLE_TWILIO_URL:
	case CONFIG_TABLE_TIMEZONE:
	case CONFIG_TABLE_LISTEN:
	case CONFIG_TABLE_PATH:
	case CONFIG_TABLE_SYNC_NAME:
		return true;
	case CONFIG_TABLE_INT:
	case CONFIG_TABLE_DURATION:
	case CONFIG_TABLE_BOOL:
	case CONFIG_TABLE_TIME_OF_DAY:
		return false;
	}
	return false;
}

/* "TRHUB_" + the key in upper case, allocated. */
static char *
config_env_name(const char *key)
{
	char *s = xasprintf(CONFIG_ENV_PREFIX "%s", key);

	for (char *p = s; *p != '\0'; p++)
		*p = (char)toupper((unsigned char)*p);
	return s;
}

/* Looks name up in src->envp, or in the process environment if that is NULL. */
static const char *
config_getenv(const struct config_source *src, const char *name)
{
	size_t len = strlen(name);

	if (src->envp == NULL)
		return getenv(name);
	for (char *const *e = src->envp; *e != NULL; e++) {
		if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
			return *e + len + 1;
	}
	return NULL;
}

const char *
config_env(const char *name)
{
	return getenv(name);
}

static bool
config_has_control(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	}
	return false;
}

/* num_parse_i64 in config's long long terms. */
static int
config_parse_ll(const char *s, long long *out)
{
	int64_t v = 0;
	int r = num_parse_i64(s, INT64_MIN, INT64_MAX, &v);

	if (r == 0)
		*out = v;
	return r;
}

/* A duration with an optional unit suffix (ms, s, m, h) into unit (ms or s). */
static int
config_parse_duration(const struct config_table_entry *k, const char *value, const char *where,
		      long long *out, char **cause_out)
{
	static const struct {
		const char *suffix;
		long long ms;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 } };
	long long base_ms = strcmp(k->unit, "ms") == 0 ? 1 : 1000;
	long long mult_ms = base_ms;
	long long v = 0;
	size_t digits = 0;
	char num[32];
	char *shown = NULL;
	int r;

	while (value[digits] == '-' || isdigit((unsigned char)value[digits]))
		digits++;
	if (value[digits] != '\0') {
		size_t u;

		for (u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
			if (strcmp(value + digits, units[u].suffix) == 0)
				break;
		}
		if (u == sizeof(units) / sizeof(units[0]))
			goto bad;
		mult_ms = units[u].ms;
	}
	if (digits == 0 || digits >= sizeof(num))
		goto bad;
	memcpy(num, value, digits);
	num[digits] = '\0';
	r = config_parse_ll(num, &v);
	if (r == -ERANGE || (r == 0 && (v > LLONG_MAX / mult_ms || v < LLONG_MIN / mult_ms)))
		goto range;
	if (r < 0)
		goto bad;
	v *= mult_ms;
	if (v % base_ms != 0) {
		shown = config_show(value);
		r = config_fail(cause_out, -EINVAL, "%s: %s: %s is not a whole number of %s", where,
				k->name, shown, k->unit);
		goto out;
	}
	v /= base_ms;
	if (v < k->min || v > k->max)
		goto range;
	*out = v;
	r = 0;
	goto out;
bad:
	shown = config_show(value);
	r = config_fail(cause_out, -EINVAL,
			"%s: %s: %s is not a duration (a whole number of %s, or with a unit: "
			"ms, s, m, h)",
			where, k->name, shown, k->unit);
	goto out;
range:
	shown = config_show(value);
	r = config_fail(cause_out, -EINVAL, "%s: %s: %s is out of range (%lld..%lld %s)", where,
			k->name, shown, k->min, k->max, k->unit);
out:
	free(shown);
	return r;
}

static int
config_parse_int(const struct config_table_entry *k, const char *value, const char *where,
		 long long *out, char **cause_out)
{
	char *shown = config_show(value);
	long long v = 0;
	int r;

	r = config_parse_ll(value, &v);
	if (r == -EINVAL) {
		r = config_fail(cause_out, -EINVAL, "%s: %s: %s is not a whole number", where,
				k->name, shown);
	} else if (r < 0 || v < k->min || v > k->max) {
		r = config_fail(cause_out, -EINVAL, "%s: %s: %s is out of range (%lld..%lld %s)",
				where, k->name, shown, k->min, k->max, k->unit);
	} else {
		*out = v;
	}
	free(shown);
	return r;
}

static int
config_parse_bool(const char *value, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(value, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* "H:MM" or "HH:MM", 00:00 to 23:59, into minutes after midnight. */
static int
config_parse_time_of_day(const char *s, int *minutes_out)
{
	int h = 0;
	size_t i = 0;

	while (i < 2 && isdigit((unsigned char)s[i])) {
		h = h * 10 + (s[i] - '0');
		i++;
	}
	if (i == 0 || s[i] != ':' || !isdigit((unsigned char)s[i + 1]) ||
	    !isdigit((unsigned char)s[i + 2]) || s[i + 3] != '\0')
		return -EINVAL;
	if (h > 23 || s[i + 1] > '5')
		return -EINVAL;
	*minutes_out = h * 60 + (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
	return 0;
}

static int
config_parse_port(const char *s, uint16_t *port_out)
{
	long long v = 0;

	if (config_parse_ll(s, &v) < 0 || s[0] == '-' || v < 1 || v > 65535)
		return -EINVAL;
	*port_out = (uint16_t)v;
	return 0;
}

static bool
config_is_hostname(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '.' && c != '-' && c != '_')
			return false;
	}
	return true;
}

static bool
config_is_ipv6_literal(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isxdigit(c) && c != ':' && c != '.' && c != '%' && !isalnum(c))
			return false;
	}
	return memchr(s, ':', len) != NULL;
}

/*
 * Splits "host:port" or "[v6]:port". On success *host_out is allocated
 * (without brackets). Returns 0 or -EINVAL with a reason in *why_out.
 */
static int
config_split_host_port(const char *s, size_t len, char **host_out, uint16_t *port_out,
		       bool port_required, const char **why_out)
{
	const char *host = s;
	size_t host_len;
	const char *rest;
	char port[8];
	size_t port_len;

	if (len > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (close == NULL) {
			*why_out = "has no ']' after the IPv6 address";
			return -EINVAL;
		}
		host = s + 1;
		host_len = (size_t)(close - host);
		if (!config_is_ipv6_literal(host, host_len)) {
			*why_out = "has no IPv6 address between [ and ]";
			return -EINVAL;
		}
		rest = close + 1;
	} else {
		const char *colon = memchr(s, ':', len);

		host_len = colon != NULL ? (size_t)(colon - s) : len;
		if (colon != NULL && memchr(colon + 1, ':', len - host_len - 1) != NULL) {
			*why_out = "needs brackets around an IPv6 address: [addr]:port";
			return -EINVAL;
		}
		if (!config_is_hostname(host, host_len)) {
			*why_out = "has an empty host or one with characters no host name has";
			return -EINVAL;
		}
		rest = s + host_len;
	}
	port_len = len - (size_t)(rest - s);
	if (port_len == 0 && !port_required) {
		*port_out = 0;
	} else {
		if (port_len < 2 || rest[0] != ':' || port_len - 1 >= sizeof(port)) {
			*why_out = "is not host:port";
			return -EINVAL;
		}
		memcpy(port, rest + 1, port_len - 1);
		port[port_len - 1] = '\0';
		if (config_parse_port(port, port_out) < 0) {
			*why_out = "has a port that is not a number from 1 to 65535";
			return -EINVAL;
		}
	}
	*host_out = xstrndup(host, host_len);
	return 0;
}

/*
 * An absolute http(s) URL without credentials, query or fragment. For
 * Twilio base URLs plain http is only allowed to a loopback host: those
 * requests carry the auth token. Returns 0 or -EINVAL with *why_out set.
 */
static int
config_check_url(const char *s, bool twilio, const char **why_out)
{
	const char *authority;
	size_t authority_len;
	char *host = NULL;
	uint16_t port;
	bool https;
	int r;

	if (strncasecmp(s, "https://", 8) == 0) {
		https = true;
		authority = s + 8;
	} else if (strncasecmp(s, "http://", 7) == 0) {
		https = false;
		authority = s + 7;
	} else {
		*why_out = "must be an absolute http:// or https:// URL";
		return -EINVAL;
	}
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= 0x20 || c >= 0x7f) {
			*why_out = "contains spaces, control or non-ASCII characters";
			return -EINVAL;
		}
	}
	if (strpbrk(s, "?#") != NULL) {
		*why_out = "must not have a query or fragment";
		return -EINVAL;
	}
	authority_len = strcspn(authority, "/");
	if (memchr(authority, '@', authority_len) != NULL) {
		*why_out = "must not hold a user name or password";
		return -EINVAL;
	}
	r = config_split_host_port(authority, authority_len, &host, &port, false, why_out);
	if (r < 0) {
		if (authority_len == 0)
			*why_out = "has no host";
		return r;
	}
	if (twilio && !https && !loopback_is_host(host)) {
		*why_out = LOOPBACK_HTTP_REFUSED;
		r = -EINVAL;
	}
	free(host);
	return r;
}

/* A zone name under $TZDIR (or /usr/share/zoneinfo) that names a file. */
static int
config_check_timezone(const struct config_source *src, const char *tz, const char **why_out,
		      char **dir_out)
{
	const char *dir = config_getenv(src, "TZDIR");
	struct stat st;
	char *path = NULL;
	int r = 0;

	if (dir == NULL || dir[0] == '\0')
		dir = CONFIG_ZONEINFO;
	*dir_out = xstrdup(dir);
	if (tz[0] == '/' || strstr(tz, "..") != NULL || strlen(tz) > 255) {
		*why_out = "is not a time zone name";
		return -EINVAL;
	}
	for (const char *p = tz; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (!isalnum(c) && c != '/' && c != '_' && c != '+' && c != '-') {
			*why_out = "is not a time zone name";
			return -EINVAL;
		}
	}
	path = xasprintf("%s/%s", dir, tz);
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		*why_out = "was not found in";
		r = -EINVAL;
	}
	free(path);
	return r;
}

/* Frees the string stored for key k, wiping it first if it is a secret. */
static void
config_clear_string(struct config *config, const struct config_table_entry *k)
{
	char **p = config_str_member(config, k);

	if (k->secret)
		xfree_secret(*p);
	else
		free(*p);
	*p = NULL;
}

/*
 * Validates value for key number i and stores it, replacing the value of a
 * lower layer. where names the source for messages and for config_dump (NULL
 * for the default). Empty values leave the key alone.
 */
static int
config_set(struct config *config, const struct config_load_state *st, size_t i, const char *value,
	   const char *where, char **cause_out)
{
	const struct config_table_entry *k = &config_table[i];
	const char *why = NULL;
	const char *where_msg = where != NULL ? where : "default";
	char *shown = NULL;
	char *extra = NULL;
	long long v = 0;
	bool flag = false;
	int minutes = 0;
	int r = 0;

	if (value[0] == '\0')
		return 0;
	if (k->secret) {
		/* never show the value: the message may reach a log */
		if (config_has_control(value))
			return config_fail(cause_out, -EINVAL,
					   "%s: %s: the secret contains control characters",
					   where_msg, k->name);
		if (strlen(value) > CONFIG_SECRET_MAX)
			return config_fail(cause_out, -EINVAL,
					   "%s: %s: the secret is longer than %d bytes", where_msg,
					   k->name, CONFIG_SECRET_MAX);
	}
	switch (k->type) {
	case CONFIG_TABLE_STRING:
	case CONFIG_TABLE_PATH:
		if (k->secret)
			break; /* checked above, without showing it */
		if (config_has_control(value))
			why = "contains control characters";
		else if (k->type == CONFIG_TABLE_PATH && value[0] != '/')
			why = "must be an absolute path";
		break;
	case CONFIG_TABLE_SID:
		if (!sid_is_valid(value, k->sid_prefix)) {
			shown = config_show(value);
			r = config_fail(cause_out, -EINVAL,
					"%s: %s: %s is not a SID (%s followed by 32 hex digits)",
					where_msg, k->name, shown, k->sid_prefix);
			goto out;
		}
		break;
	case CONFIG_TABLE_URL:
	case CONFIG_TABLE_TWILIO_URL:
		/* sets why on failure */
		(void)config_check_url(value, k->type == CONFIG_TABLE_TWILIO_URL, &why);
		break;
	case CONFIG_TABLE_INT:
		r = config_parse_int(k, value, where_msg, &v, cause_out);
		if (r < 0)
			goto out;
		break;
	case CONFIG_TABLE_DURATION:
		r = config_parse_duration(k, value, where_msg, &v, cause_out);
		if (r < 0)
			goto out;
		break;
	case CONFIG_TABLE_BOOL:
		if (config_parse_bool(value, &flag) < 0)
			why = "is not a boolean (true/false, yes/no, on/off, 1/0)";
		break;
	case CONFIG_TABLE_TIME_OF_DAY:
		if (config_parse_time_of_day(value, &minutes) < 0)
			why = "is not a time of day HH:MM (00:00 to 23:59)";
		break;
	case CONFIG_TABLE_TIMEZONE:
		/* the default "UTC" is known to the C library without tzdata */
		if (where != NULL && config_check_timezone(st->src, value, &why, &extra) == 0)
			why = NULL;
		break;
	case CONFIG_TABLE_LISTEN: {
		uint16_t port;

		/* sets why on failure; extra gets the host on success */
		(void)config_split_host_port(value, strlen(value), &extra, &port, true, &why);
		break;
	}
	case CONFIG_TABLE_SYNC_NAME:
		if (config_has_control(value) || strlen(value) > CONFIG_SYNC_NAME_MAX)
			why = "is not a Sync unique name (up to 320 printable characters)";
		else if (sid_has_shape(value))
			why = "looks like a SID, which Sync does not allow as a unique name";
		break;
	}
	if (why != NULL) {
		shown = config_show(value);
		if (k->type == CONFIG_TABLE_TIMEZONE && extra != NULL &&
		    strcmp(why, "was not found in") == 0)
			r = config_fail(cause_out, -EINVAL, "%s: %s: %s %s %s", where_msg, k->name,
					shown, why, extra);
		else
			r = config_fail(cause_out, -EINVAL, "%s: %s: %s %s", where_msg, k->name,
					shown, why);
		goto out;
	}
	r = 0;

	if (config_type_is_string(k->type)) {
		char *copy = xstrdup(value);

		config_clear_string(config, k);
		if (k->type == CONFIG_TABLE_URL || k->type == CONFIG_TABLE_TWILIO_URL) {
			size_t len = strlen(copy);

			while (len > 0 && copy[len - 1] == '/')
				copy[--len] = '\0';
		}
		*config_str_member(config, k) = copy;
	} else if (k->type == CONFIG_TABLE_BOOL) {
		*(bool *)(void *)((char *)config + k->offset) = flag;
	} else if (k->type == CONFIG_TABLE_TIME_OF_DAY) {
		*config_int_member(config, k) = minutes;
	} else {
		*config_int_member(config, k) = (int)v;
	}
	free(config->origin->where[i]);
	config->origin->where[i] = where != NULL ? xstrdup(where) : NULL;
out:
	free(shown);
	free(extra);
	return r;
}

/* Levenshtein distance, for "did you mean"; long inputs count as far. */
static size_t
config_distance(const char *a, const char *b)
{
	size_t la = strlen(a);
	size_t lb = strlen(b);
	size_t row[65];

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] == b[j - 1] ? 0 : 1);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* True if every character of needle appears in hay in order. */
static bool
config_is_subsequence(const char *needle, const char *hay)
{
	for (; *hay != '\0' && *needle != '\0'; hay++) {
		if (*hay == *needle)
			needle++;
	}
	return *needle == '\0';
}

/* The known key closest to an unknown one, or NULL if none is close. */
static const char *
config_suggest(const char *unknown)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX;
	size_t len = strlen(unknown);
	size_t limit = len / 3 > 2 ? len / 3 : 2;

	for (size_t i = 0; i < CONFIG_N_KEYS; i++) {
		const char *name = config_table[i].name;
		size_t d = config_distance(unknown, name);

		if (d > limit && !(len >= 4 && config_is_subsequence(unknown, name)))
			continue;
		if (d < best_d) {
			best = name;
			best_d = d;
		}
	}
	return best;
}

/* Same for an environment name such as TRHUB_STATS_INTERVL. */
static const char *
config_suggest_env(const char *env_key_upper)
{
	char lower[128];
	size_t i;

	for (i = 0; i < sizeof(lower) - 1 && env_key_upper[i] != '\0'; i++)
		lower[i] = (char)tolower((unsigned char)env_key_upper[i]);
	lower[i] = '\0';
	return config_suggest(lower);
}

static void
config_trim(char **s, size_t *len)
{
	while (*len > 0 && ((*s)[0] == ' ' || (*s)[0] == '\t')) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
		(*len)--;
}

/*
 * Unquotes a double-quoted value in place: \" and \\ are the only escapes,
 * nothing may follow the closing quote.
 */
static int
config_unquote(char *v, size_t len, const char **why_out)
{
	size_t out = 0;
	size_t i;

	for (i = 1; i < len; i++) {
		if (v[i] == '\\') {
			if (i + 1 >= len || (v[i + 1] != '"' && v[i + 1] != '\\')) {
				*why_out = "only \\\" and \\\\ are escapes in a quoted value";
				return -EINVAL;
			}
			v[out++] = v[++i];
		} else if (v[i] == '"') {
			break;
		} else {
			v[out++] = v[i];
		}
	}
	if (i >= len) {
		*why_out = "the quoted value has no closing '\"'";
		return -EINVAL;
	}
	if (i + 1 != len) {
		*why_out = "text after the closing '\"'";
		return -EINVAL;
	}
	v[out] = '\0';
	return 0;
}

/*
 * One family of per-queue keys, "<base>.<WQ SID or queue name>": the arrays it
 * fills in config, its origin and the load state.
 */
struct config_queue_keys {
	const char *base; /* the workspace-wide key: "sla_threshold_s" */
	struct config_sla_override **v;
	size_t *n;
	char ***where;
	int **line;
};

static struct config_queue_keys
config_queue_keys_sla(struct config *config, struct config_load_state *st)
{
	return (struct config_queue_keys){ "sla_threshold_s", &config->sla_overrides,
					   &config->n_sla_overrides, &config->origin->sla_where,
					   &st->sla_line };
}

static struct config_queue_keys
config_queue_keys_short_abandon(struct config *config, struct config_load_state *st)
{
	return (struct config_queue_keys){ "short_abandon_s", &config->short_abandon_overrides,
					   &config->n_short_abandon_overrides,
					   &config->origin->short_abandon_where,
					   &st->short_abandon_line };
}

static int
config_add_queue_override(struct config_queue_keys qk, const char *name, const char *queue,
			  const char *value, int lineno, char **cause_out)
{
	const struct config_table_entry *k = config_key_find(qk.base, NULL);
	char *where = xasprintf("%s:%d", name, lineno);
	char *key = xasprintf("%s.%s", qk.base, queue);
	struct config_table_entry ko = *k;
	struct config_sla_override *o;
	long long v = 0;
	size_t n = *qk.n;
	int r;

	ko.name = key;
	if (queue[0] == '\0' || config_has_control(queue)) {
		r = config_fail(cause_out, -EINVAL,
				"%s: '%s.' names no queue (expected %s.<WQ SID "
				"or queue name>)",
				where, qk.base, qk.base);
		goto out;
	}
	if (sid_has_shape(queue) && !sid_is_valid(queue, "WQ")) {
		r = config_fail(cause_out, -EINVAL, "%s: %s: '%s' is not a TaskQueue SID (WQ...)",
				where, key, queue);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp((*qk.v)[i].queue, queue) == 0) {
			r = config_fail(cause_out, -EINVAL,
					"%s: duplicate key '%s' (first set on line %d)", where, key,
					(*qk.line)[i]);
			goto out;
		}
	}
	if (value[0] == '\0') {
		r = config_fail(cause_out, -EINVAL, "%s: %s: no value", where, key);
		goto out;
	}
	r = config_parse_duration(&ko, value, where, &v, cause_out);
	if (r < 0)
		goto out;
	*qk.v = xreallocarray(*qk.v, n + 1, sizeof(**qk.v));
	*qk.where = xreallocarray(*qk.where, n + 1, sizeof(**qk.where));
	*qk.line = xreallocarray(*qk.line, n + 1, sizeof(**qk.line));
	o = &(*qk.v)[n];
	o->queue = xstrdup(queue);
	o->threshold_s = (int)v;
	(*qk.where)[n] = where;
	where = NULL;
	(*qk.line)[n] = lineno;
	*qk.n = n + 1;
out:
	free(where);
	free(key);
	return r;
}

/* Parses one logical line (no newline, CR stripped, NUL-terminated). */
static int
config_parse_line(struct config *config, struct config_load_state *st, const char *name, int lineno,
		  char *line, size_t len, char **cause_out)
{
	char *key = line;
	char *eq;
	char *value;
	size_t key_len;
	size_t value_len;
	const char *why = NULL;
	const struct config_table_entry *k;
	size_t i = 0;
	char *where = NULL;
	int r;

	config_trim(&key, &len);
	if (len == 0 || key[0] == '#')
		return 0;
	eq = memchr(key, '=', len);
	if (eq == NULL)
		return config_fail(cause_out, -EINVAL, "%s:%d: expected 'key = value'", name,
				   lineno);
	key_len = (size_t)(eq - key);
	value = eq + 1;
	value_len = len - key_len - 1;
	config_trim(&key, &key_len);
	config_trim(&value, &value_len);
	if (key_len == 0)
		return config_fail(cause_out, -EINVAL, "%s:%d: no key before '='", name, lineno);
	key[key_len] = '\0';
	if (value_len > 0 && value[0] == '"') {
		if (config_unquote(value, value_len, &why) < 0)
			return config_fail(cause_out, -EINVAL, "%s:%d: %s: %s", name, lineno, key,
					   why);
	} else {
		value[value_len] = '\0';
	}

	if (strncmp(key, CONFIG_TABLE_SLA_PREFIX, strlen(CONFIG_TABLE_SLA_PREFIX)) == 0)
		return config_add_queue_override(config_queue_keys_sla(config, st), name,
						 key + strlen(CONFIG_TABLE_SLA_PREFIX), value,
						 lineno, cause_out);
	if (strncmp(key, CONFIG_TABLE_SHORT_ABANDON_PREFIX,
		    strlen(CONFIG_TABLE_SHORT_ABANDON_PREFIX)) == 0)
		return config_add_queue_override(config_queue_keys_short_abandon(config, st), name,
						 key + strlen(CONFIG_TABLE_SHORT_ABANDON_PREFIX),
						 value, lineno, cause_out);
	k = config_key_find(key, &i);
	if (k == NULL) {
		const char *hint = config_suggest(key);
		char *shown = config_show(key);

		if (hint != NULL)
			r = config_fail(cause_out, -EINVAL,
					"%s:%d: unknown key %s (did you mean '%s'?)", name, lineno,
					shown, hint);
		else
			r = config_fail(cause_out, -EINVAL, "%s:%d: unknown key %s", name, lineno,
					shown);
		free(shown);
		return r;
	}
	if (st->file_line[i] != 0)
		return config_fail(cause_out, -EINVAL,
				   "%s:%d: duplicate key '%s' (first set on line %d)", name, lineno,
				   key, st->file_line[i]);
	st->file_line[i] = lineno;
	where = xasprintf("%s:%d", name, lineno);
	r = config_set(config, st, i, value, where, cause_out);
	free(where);
	if (r == 0 && k->secret && value[0] != '\0')
		st->secret_in_file = k->name;
	return r;
}

/* Parses a whole file image; name is used in messages. */
static int
config_parse_buffer(struct config *config, struct config_load_state *st, const char *name,
		    const char *data, size_t size, char **cause_out)
{
	char line[CONFIG_LINE_MAX + 2];
	size_t pos = 0;
	int lineno = 0;
	int r = 0;

	if (size > CONFIG_FILE_MAX_BYTES)
		return config_fail(cause_out, -EFBIG, "%s: larger than %d bytes", name,
				   CONFIG_FILE_MAX_BYTES);
	/* a UTF-8 byte order mark is tolerated */
	if (size >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < size) {
		const char *start = data + pos;
		const char *nl = memchr(start, '\n', size - pos);
		size_t len = nl != NULL ? (size_t)(nl - start) : size - pos;

		lineno++;
		pos += len + (nl != NULL ? 1 : 0);
		if (len > 0 && start[len - 1] == '\r')
			len--;
		if (len > CONFIG_LINE_MAX) {
			r = config_fail(cause_out, -EFBIG, "%s:%d: line longer than %d bytes", name,
					lineno, CONFIG_LINE_MAX);
			break;
		}
		if (memchr(start, '\0', len) != NULL) {
			r = config_fail(cause_out, -EINVAL, "%s:%d: NUL byte in line", name,
					lineno);
			break;
		}
		memcpy(line, start, len);
		line[len] = '\0';
		r = config_parse_line(config, st, name, lineno, line, len, cause_out);
		if (r < 0)
			break;
	}
	explicit_bzero(line, sizeof(line));
	return r;
}

/* -errno of the failed call, never 0 (some paths leave errno unset). */
static int
config_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

int
config_read_file(const char *path, size_t max, char **data_out, size_t *len_out,
		 struct stat *st_out)
{
	struct stat st;
	char *data = NULL;
	size_t len = 0;
	int fd = -1;
	int r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = config_errno();
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		r = config_errno();
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto fail;
	}
	if (st.st_size < 0 || (unsigned long long)st.st_size > max) {
		r = -EFBIG;
		goto fail;
	}
	data = xmalloc((size_t)st.st_size + 1);
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, data + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = config_errno();
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	data[len] = '\0';
	if (st_out != NULL)
		*st_out = st;
	*data_out = data;
	*len_out = len;
	data = NULL;
	r = 0;
fail:
	if (data != NULL) {
		explicit_bzero(data, (size_t)st.st_size + 1);
		free(data);
	}
	close_and_reset(fd);
	return r;
}

static int
config_load_file(struct config *config, struct config_load_state *st, char **cause_out)
{
	const struct config_source *src = st->src;
	const char *path = src->path;
	bool optional = false;
	struct stat fst;
	char *data = NULL;
	size_t len = 0;
	int r;

	if (src->data != NULL)
		return config_parse_buffer(config, st,
					   src->data_name != NULL ? src->data_name : "<memory>",
					   src->data, src->data_len, cause_out);
	if (path == NULL)
		path = config_getenv(src, CONFIG_ENV_PREFIX "CONFIG");
	if (path == NULL || path[0] == '\0') {
		path = src->default_path;
		optional = true;
	}
	if (path == NULL)
		return 0;
	r = config_read_file(path, CONFIG_FILE_MAX_BYTES, &data, &len, &fst);
	if (r == -ENOENT && optional)
		return 0;
	if (r == -EFBIG)
		return config_fail(cause_out, r, "%s: larger than %d bytes", path,
				   CONFIG_FILE_MAX_BYTES);
	if (r == -EINVAL)
		return config_fail(cause_out, r, "%s: not a regular file", path);
	if (r < 0)
		return config_fail(cause_out, r, "%s: cannot read: %s", path, strerror(-r));
	config->path = xstrdup(path);
	r = config_parse_buffer(config, st, path, data, len, cause_out);
	/* Readable by others leaks the secret; writable by group or others lets them swap it. */
	if (r == 0 && st->secret_in_file != NULL && (fst.st_mode & S_IROTH) != 0)
		r = config_fail(cause_out, -EACCES,
				"%s: holds a secret (%s) but every user can read it; "
				"fix with: chmod go-w,o-rwx %s",
				path, st->secret_in_file, path);
	else if (r == 0 && st->secret_in_file != NULL && (fst.st_mode & (S_IWOTH | S_IWGRP)) != 0)
		r = config_fail(cause_out, -EACCES,
				"%s: holds a secret (%s) but %s can change it; "
				"fix with: chmod go-w,o-rwx %s",
				path, st->secret_in_file,
				(fst.st_mode & S_IWOTH) != 0 ? "every user" : "its group", path);
	explicit_bzero(data, len);
	free(data);
	return r;
}

/* Secrets from $CREDENTIALS_DIRECTORY/<key> (systemd LoadCredential=). */
static int
config_load_credentials(struct config *config, struct config_load_state *st, char **cause_out)
{
	const char *dir = config_getenv(st->src, "CREDENTIALS_DIRECTORY");
	int r = 0;

	if (dir == NULL || dir[0] == '\0')
		return 0;
	for (size_t i = 0; i < CONFIG_N_KEYS && r == 0; i++) {
		const struct config_table_entry *k = &config_table[i];
		char *path = NULL;
		char *data = NULL;
		size_t len = 0;

		if (!k->secret)
			continue;
		path = xasprintf("%s/%s", dir, k->name);
		r = config_read_file(path, CONFIG_CREDENTIAL_MAX_BYTES, &data, &len, NULL);
		if (r == -ENOENT) {
			r = 0;
		} else if (r == -EFBIG) {
			r = config_fail(cause_out, r, "%s: larger than %d bytes", path,
					CONFIG_CREDENTIAL_MAX_BYTES);
		} else if (r < 0) {
			r = config_fail(cause_out, r, "%s: cannot read: %s", path, strerror(-r));
		} else {
			size_t n = len;

			assert(data != NULL); /* config_read_file succeeded */

			/* one trailing newline is how such files are usually written */
			if (n > 0 && data[n - 1] == '\n')
				data[--n] = '\0';
			if (n > 0 && data[n - 1] == '\r')
				data[--n] = '\0';
			if (memchr(data, '\0', n) != NULL)
				r = config_fail(cause_out, -EINVAL, "%s: %s: NUL byte in secret",
						path, k->name);
			else
				r = config_set(config, st, i, data, path, cause_out);
			explicit_bzero(data, len);
		}
		free(data);
		free(path);
	}
	return r;
}

/* The seeds' names; for each key the first one set (strongest) applies. */
static int
config_load_aliases(struct config *config, struct config_load_state *st, char **cause_out)
{
	for (size_t i = 0; i < CONFIG_N_KEYS; i++) {
		const struct config_table_entry *k = &config_table[i];

		for (size_t a = 0; a < 3 && k->aliases[a] != NULL; a++) {
			const char *v = config_getenv(st->src, k->aliases[a]);
			char *where;
			int r;

			if (v == NULL || v[0] == '\0')
				continue;
			where = xasprintf("environment %s", k->aliases[a]);
			r = config_set(config, st, i, v, where, cause_out);
			free(where);
			if (r < 0)
				return r;
			break;
		}
	}
	return 0;
}

static int
config_load_env(struct config *config, struct config_load_state *st, char **cause_out)
{
	for (size_t i = 0; i < CONFIG_N_KEYS; i++) {
		char *name = config_env_name(config_table[i].name);
		const char *v = config_getenv(st->src, name);
		int r = 0;

		if (v != NULL) {
			char *where = xasprintf("environment %s", name);

			r = config_set(config, st, i, v, where, cause_out);
			free(where);
		}
		free(name);
		if (r < 0)
			return r;
	}
	return 0;
}

/* A TRHUB_* variable that sets nothing is most likely a typo: say so. */
static void
config_warn_unknown_env(const struct config_source *src)
{
	char *const *env = src->envp != NULL ? src->envp : environ;
	const size_t plen = strlen(CONFIG_ENV_PREFIX);

	if (env == NULL)
		return;
	for (; *env != NULL; env++) {
		const char *e = *env;
		const char *eq = strchr(e, '=');
		char name[128];
		size_t len;
		size_t i;

		if (strncmp(e, CONFIG_ENV_PREFIX, plen) != 0 || eq == NULL)
			continue;
		len = (size_t)(eq - e);
		if (len >= sizeof(name))
			continue;
		memcpy(name, e, len);
		name[len] = '\0';
		if (strcmp(name, CONFIG_ENV_PREFIX "CONFIG") == 0)
			continue;
		for (i = 0; i < CONFIG_N_KEYS; i++) {
			char *known = config_env_name(config_table[i].name);
			bool same = strcmp(known, name) == 0;

			free(known);
			if (same)
				break;
		}
		if (i == CONFIG_N_KEYS) {
			const char *hint = config_suggest_env(name + plen);
			char *hint_env = hint != NULL ? config_env_name(hint) : NULL;

			log_warning("environment %s is not a trhub setting, ignored%s%s%s", name,
				    hint_env != NULL ? " (did you mean " : "",
				    hint_env != NULL ? hint_env : "", hint_env != NULL ? "?)" : "");
			free(hint_env);
		}
	}
}

/* "config key K, env TRHUB_K or ALIAS[, credential file K in $CREDENTIALS_DIRECTORY]" */
static char *
config_key_sources(const struct config_table_entry *k)
{
	struct buf b;
	char *result;
	char *env = config_env_name(k->name);

	buf_init(&b);
	buf_printf(&b, "config key %s, env %s", k->name, env);
	for (size_t a = 0; a < 3 && k->aliases[a] != NULL; a++)
		buf_printf(&b, " or %s", k->aliases[a]);
	if (k->secret)
		buf_printf(&b, ", or credential file %s in $CREDENTIALS_DIRECTORY", k->name);
	free(env);
	result = buf_steal(&b, NULL);
	buf_clear(&b); /* buf_steal re-initialises b */
	return result;
}

static int
config_missing(const char *name, char **cause_out)
{
	const struct config_table_entry *k = config_key_find(name, NULL);
	char *sources = config_key_sources(k);
	int r;

	r = config_fail(cause_out, -EINVAL, "%s is not set (%s)", name, sources);
	free(sources);
	return r;
}

const char *
config_where(const struct config *config, const char *key)
{
	size_t i = 0;

	(void)config_key_find(key, &i);
	return config->origin->where[i] != NULL ? config->origin->where[i] : "default";
}

/*
 * tls_cert and tls_key: resolved in $CREDENTIALS_DIRECTORY when relative (or
 * unset with a credential file of their name), both or neither;
 * tls_redirect_listen needs them and an https public_url.
 */
static int
config_finish_tls(struct config *config, struct config_load_state *st, char **cause_out)
{
	static const char *const keys[] = { "tls_cert", "tls_key" };
	const char *dir = config_getenv(st->src, "CREDENTIALS_DIRECTORY");
	const char *why = NULL;
	int r;

	if (dir != NULL && dir[0] == '\0')
		dir = NULL;
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		size_t i = 0;
		const struct config_table_entry *e = config_key_find(keys[k], &i);
		char **value = config_str_member(config, e);
		char *path = NULL;

		if (*value == NULL && dir != NULL) {
			/* systemd LoadCredential=tls_cert:... with the key left unset */
			path = xasprintf("%s/%s", dir, keys[k]);
			if (access(path, F_OK) != 0) {
				free(path);
				continue;
			}
			free(config->origin->where[i]);
			config->origin->where[i] =
				xstrdup("credential file in $CREDENTIALS_DIRECTORY");
		} else if (*value != NULL && (*value)[0] != '/') {
			if (dir == NULL)
				return config_fail(cause_out, -EINVAL,
						   "%s (%s) is the relative name '%s', which is "
						   "looked up in $CREDENTIALS_DIRECTORY, but that "
						   "is not set (systemd LoadCredential=); use an "
						   "absolute path",
						   keys[k], config_where(config, keys[k]), *value);
			path = xasprintf("%s/%s", dir, *value);
		} else {
			continue;
		}
		free(*value);
		*value = path;
	}
	if ((config->tls_cert == NULL) != (config->tls_key == NULL))
		return config_fail(
			cause_out, -EINVAL,
			"%s is set (%s) but %s is not: HTTPS needs both the "
			"certificate and its private key",
			config->tls_cert != NULL ? "tls_cert" : "tls_key",
			config_where(config, config->tls_cert != NULL ? "tls_cert" : "tls_key"),
			config->tls_cert != NULL ? "tls_key" : "tls_cert");
	if (config->tls_redirect_listen == NULL)
		return 0;
	if (config->tls_cert == NULL)
		return config_fail(cause_out, -EINVAL,
				   "tls_redirect_listen (%s) redirects to trhubd's https, which "
				   "needs tls_cert and tls_key",
				   config_where(config, "tls_redirect_listen"));
	if (config->public_url == NULL || strncmp(config->public_url, "https://", 8) != 0)
		return config_fail(cause_out, -EINVAL,
				   "tls_redirect_listen (%s) redirects to public_url, which must "
				   "then be an https URL (it is %s)",
				   config_where(config, "tls_redirect_listen"),
				   config->public_url != NULL ? config->public_url : "unset");
	r = config_split_host_port(config->tls_redirect_listen, strlen(config->tls_redirect_listen),
				   &config->tls_redirect_host, &config->tls_redirect_port, true,
				   &why);
	assert(r == 0);
	return 0;
}

/* Cross-key rules and the caller's required keys. */
static int
config_finish(struct config *config, struct config_load_state *st, char **cause_out)
{
	static const struct {
		unsigned bit;
		const char *key;
		size_t offset;
	} required[] = {
		{ CONFIG_REQUIRE_ACCOUNT, "account_sid", CONFIG_OFF(account_sid) },
		{ CONFIG_REQUIRE_AUTH_TOKEN, "auth_token", CONFIG_OFF(auth_token) },
		{ CONFIG_REQUIRE_API_KEY, "api_key", CONFIG_OFF(api_key) },
		{ CONFIG_REQUIRE_API_KEY, "api_secret", CONFIG_OFF(api_secret) },
		{ CONFIG_REQUIRE_WORKSPACE, "workspace_sid", CONFIG_OFF(workspace_sid) },
		{ CONFIG_REQUIRE_WORKFLOW, "workflow_sid", CONFIG_OFF(workflow_sid) },
		{ CONFIG_REQUIRE_SYNC_SERVICE, "sync_service_sid", CONFIG_OFF(sync_service_sid) },
		{ CONFIG_REQUIRE_PUBLIC_URL, "public_url", CONFIG_OFF(public_url) },
	};
	static const char *const base_urls[] = { "taskrouter_base_url", "sync_base_url",
						 "api_base_url" };
	const char *why = NULL;
	unsigned require = st->src->require;
	int r;

	/* twilio_base_url replaces each base URL that was left at its default */
	if (config->twilio_base_url != NULL) {
		for (size_t u = 0; u < sizeof(base_urls) / sizeof(base_urls[0]); u++) {
			size_t i = 0;
			const struct config_table_entry *k = config_key_find(base_urls[u], &i);

			if (config->origin->where[i] != NULL)
				continue;
			config_clear_string(config, k);
			*config_str_member(config, k) = xstrdup(config->twilio_base_url);
			config->origin->where[i] = xstrdup("from twilio_base_url");
		}
	}
	r = config_split_host_port(config->listen, strlen(config->listen), &config->listen_host,
				   &config->listen_port, true, &why);
	assert(r == 0);

	if (config->stats_min_interval_ms > config->stats_max_interval_ms)
		return config_fail(cause_out, -EINVAL,
				   "stats_min_interval_ms (%d, %s) is larger than "
				   "stats_max_interval_ms (%d, %s)",
				   config->stats_min_interval_ms,
				   config_where(config, "stats_min_interval_ms"),
				   config->stats_max_interval_ms,
				   config_where(config, "stats_max_interval_ms"));
	if (strcmp(config->sync_stats_document, config->sync_events_document) == 0)
		return config_fail(cause_out, -EINVAL,
				   "sync_stats_document and sync_events_document are both '%s'",
				   config->sync_stats_document);
	if (strcmp(config->workspace_callback, "warn") != 0 &&
	    strcmp(config->workspace_callback, "manage") != 0)
		return config_fail(cause_out, -EINVAL,
				   "workspace_callback is '%s' (%s); expected warn or manage",
				   config->workspace_callback,
				   config_where(config, "workspace_callback"));
	if (config->trust_proxy)
		return config_fail(cause_out, -EINVAL,
				   "trust_proxy (%s) was replaced by trusted_proxies: list the "
				   "addresses of your reverse proxies instead (trusted_proxies = "
				   "127.0.0.1, ::1 for a proxy on this host)",
				   config_where(config, "trust_proxy"));
	if (strcmp(config_where(config, "trust_proxy"), "default") != 0)
		log_warning("trust_proxy (%s) is obsolete and ignored; see trusted_proxies",
			    config_where(config, "trust_proxy"));
	if (config->trusted_proxies != NULL) {
		struct cidr_list *proxies = NULL;
		char *cause = NULL;

		if (cidr_list_parse(config->trusted_proxies, &proxies, &cause) < 0) {
			r = config_fail(cause_out, -EINVAL, "trusted_proxies (%s): %s",
					config_where(config, "trusted_proxies"), cause);
			free(cause);
			return r;
		}
		cidr_list_free(proxies);
	}
	r = config_finish_tls(config, st, cause_out);
	if (r < 0)
		return r;
	if ((config->api_key == NULL) != (config->api_secret == NULL))
		return config_missing(config->api_key == NULL ? "api_key" : "api_secret",
				      cause_out);

	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if ((require & required[i].bit) != 0 &&
		    *(char **)(void *)((char *)config + required[i].offset) == NULL)
			return config_missing(required[i].key, cause_out);
	}
	if ((require & CONFIG_REQUIRE_AUTH) != 0 && config->auth_token == NULL &&
	    config->api_key == NULL) {
		char *a = config_key_sources(config_key_find("auth_token", NULL));
		char *b = config_key_sources(config_key_find("api_key", NULL));

		r = config_fail(cause_out, -EINVAL,
				"no Twilio credentials: set auth_token (%s), or api_key (%s) "
				"and api_secret",
				a, b);
		free(a);
		free(b);
		return r;
	}
	return 0;
}

int
config_load(const struct config_source *src, struct config **config_out, char **cause_out)
{
	struct config_load_state st;
	struct config *config = NULL;
	int r;

	if (cause_out != NULL)
		*cause_out = NULL;
	memset(&st, 0, sizeof(st));
	st.src = src;
	config = xcalloc(1, sizeof(*config));
	config->origin = xcalloc(1, sizeof(*config->origin));
	config->origin->where = xcalloc(CONFIG_N_KEYS, sizeof(*config->origin->where));
	st.file_line = xcalloc(CONFIG_N_KEYS, sizeof(*st.file_line));
	for (size_t i = 0; i < CONFIG_N_KEYS; i++) {
		if (config_table[i].def == NULL)
			continue;
		r = config_set(config, &st, i, config_table[i].def, NULL, cause_out);
		assert(r == 0);
	}

	r = config_load_file(config, &st, cause_out);
	if (r < 0)
		goto fail;
	r = config_load_credentials(config, &st, cause_out);
	if (r < 0)
		goto fail;
	r = config_load_aliases(config, &st, cause_out);
	if (r < 0)
		goto fail;
	r = config_load_env(config, &st, cause_out);
	if (r < 0)
		goto fail;
	r = config_finish(config, &st, cause_out);
	if (r < 0)
		goto fail;
	config_warn_unknown_env(src);

	*config_out = config;
	config = NULL;
fail:
	free(st.sla_line);
	free(st.short_abandon_line);
	free(st.file_line);
	config_free(config);
	return r;
}

void
config_free(struct config *config)
{
	if (config == NULL)
		return;
	for (size_t i = 0; i < CONFIG_N_KEYS; i++) {
		if (config_type_is_string(config_table[i].type))
			config_clear_string(config, &config_table[i]);
	}
	for (size_t i = 0; i < config->n_sla_overrides; i++) {
		free(config->sla_overrides[i].queue);
		if (config->origin != NULL)
			free(config->origin->sla_where[i]);
	}
	free(config->sla_overrides);
	for (size_t i = 0; i < config->n_short_abandon_overrides; i++) {
		free(config->short_abandon_overrides[i].queue);
		if (config->origin != NULL)
			free(config->origin->short_abandon_where[i]);
	}
	free(config->short_abandon_overrides);
	if (config->origin != NULL) {
		for (size_t i = 0; i < CONFIG_N_KEYS && config->origin->where != NULL; i++)
			free(config->origin->where[i]);
		free(config->origin->where);
		free(config->origin->sla_where);
		free(config->origin->short_abandon_where);
		free(config->origin);
	}
	free(config->listen_host);
	free(config->tls_redirect_host);
	free(config->path);
	free(config);
}

/* The override of a queue (by SID, then by name) among v[0..n), else def. */
static int
config_queue_value(const struct config_sla_override *v, size_t n, const char *queue_sid,
		   const char *queue_name, int def)
{
	for (size_t i = 0; queue_sid != NULL && i < n; i++) {
		if (strcmp(v[i].queue, queue_sid) == 0)
			return v[i].threshold_s;
	}
	for (size_t i = 0; queue_name != NULL && i < n; i++) {
		if (strcmp(v[i].queue, queue_name) == 0)
			return v[i].threshold_s;
	}
	return def;
}

int
config_sla_threshold_s(const struct config *config, const char *queue_sid, const char *queue_name)
{
	return config_queue_value(config->sla_overrides, config->n_sla_overrides, queue_sid,
				  queue_name, config->sla_threshold_s);
}

int
config_short_abandon_s(const struct config *config, const char *queue_sid, const char *queue_name)
{
	return config_queue_value(config->short_abandon_overrides,
				  config->n_short_abandon_overrides, queue_sid, queue_name,
				  config->short_abandon_s);
}

/* The value of key k as config text; secrets masked. Allocated. */
static char *
config_format_value(const struct config *config, const struct config_table_entry *k)
{
	const char *base = (const char *)config + k->offset;
	const char *s;
	int v;

	if (k->secret) {
		s = *(char *const *)(const void *)base;
		return xstrdup(s != NULL ? "********" : "");
	}
	switch (k->type) {
	case CONFIG_TABLE_STRING:
	case CONFIG_TABLE_SID:
	case CONFIG_TABLE_URL:
	case CONFIG_TABLE_TWILIO_URL:
	case CONFIG_TABLE_TIMEZONE:
	case CONFIG_TABLE_LISTEN:
	case CONFIG_TABLE_PATH:
	case CONFIG_TABLE_SYNC_NAME:
		s = *(char *const *)(const void *)base;
		return xstrdup(s != NULL ? s : "");
	case CONFIG_TABLE_INT:
	case CONFIG_TABLE_DURATION:
		return xasprintf("%d", *(const int *)(const void *)base);
	case CONFIG_TABLE_BOOL:
		return xstrdup(*(const bool *)(const void *)base ? "true" : "false");
	case CONFIG_TABLE_TIME_OF_DAY:
		v = *(const int *)(const void *)base;
		return xasprintf("%02d:%02d", v / 60, v % 60);
	}
	return xstrdup("");
}

static void
config_dump_line(FILE *out, const char *key, const char *value, const char *comment)
{
	int n = fprintf(out, "%s = %s", key, value);

	fprintf(out, "%*s# %s\n", n < 47 ? 48 - n : 1, "", comment);
}

void
config_dump(const struct config *config, FILE *out)
{
	fprintf(out, "# effective trhub configuration%s%s (secrets masked)\n",
		config->path != NULL ? " from " : "", config->path != NULL ? config->path : "");
	for (size_t i = 0; i < CONFIG_N_KEYS; i++) {
		const struct config_table_entry *k = &config_table[i];
		char *value = config_format_value(config, k);
		const char *where = config->origin->where[i];
		char *comment = NULL;

		if (where == NULL)
			comment = xstrdup(value[0] == '\0' ? "unset" : "default");
		else
			comment = xstrdup(where);
		config_dump_line(out, k->name, value, comment);
		free(comment);
		free(value);
	}
	for (size_t i = 0; i < config->n_sla_overrides; i++) {
		char *key = xasprintf(CONFIG_TABLE_SLA_PREFIX "%s", config->sla_overrides[i].queue);
		char *value = xasprintf("%d", config->sla_overrides[i].threshold_s);

		config_dump_line(out, key, value, config->origin->sla_where[i]);
		free(value);
		free(key);
	}
	for (size_t i = 0; i < config->n_short_abandon_overrides; i++) {
		char *key = xasprintf(CONFIG_TABLE_SHORT_ABANDON_PREFIX "%s",
				      config->short_abandon_overrides[i].queue);
		char *value = xasprintf("%d", config->short_abandon_overrides[i].threshold_s);

		config_dump_line(out, key, value, config->origin->short_abandon_where[i]);
		free(value);
		free(key);
	}
}

static const char *
config_type_name(const struct config_table_entry *k)
{
	if (k->secret)
		return "secret";
	switch (k->type) {
	case CONFIG_TABLE_STRING:
		return "string";
	case CONFIG_TABLE_SID:
		return "SID";
	case CONFIG_TABLE_URL:
		return "URL";
	case CONFIG_TABLE_TWILIO_URL:
		return "URL (https, or http to loopback)";
	case CONFIG_TABLE_INT:
		return "integer";
	case CONFIG_TABLE_DURATION:
		return "duration";
	case CONFIG_TABLE_BOOL:
		return "boolean";
	case CONFIG_TABLE_TIME_OF_DAY:
		return "HH:MM";
	case CONFIG_TABLE_TIMEZONE:
		return "time zone";
	case CONFIG_TABLE_LISTEN:
		return "host:port";
	case CONFIG_TABLE_PATH:
		return "absolute path";
	case CONFIG_TABLE_SYNC_NAME:
		return "Sync unique name";
	}
	return "?";
}

void
config_print_keys(FILE *out)
{
	for (size_t i = 0; i < CONFIG_N_KEYS; i++) {
		const struct config_table_entry *k = &config_table[i];
		char *sources = config_key_sources(k);

		fprintf(out, "%s (%s", k->name, config_type_name(k));
		if (k->type == CONFIG_TABLE_SID)
			fprintf(out, ", %s...", k->sid_prefix);
		if (k->type == CONFIG_TABLE_INT || k->type == CONFIG_TABLE_DURATION)
			fprintf(out, ", %lld..%lld %s", k->min, k->max, k->unit);
		fprintf(out, "; default %s)\n", k->def != NULL ? k->def : "unset");
		fprintf(out, "\t%s\n\t%s\n", k->description, sources);
		free(sources);
	}
	fprintf(out,
		"%s<WQ SID or queue name> (duration, 1..86400 s)\n"
		"\tSLA threshold of one queue; file only.\n",
		CONFIG_TABLE_SLA_PREFIX);
	fprintf(out,
		"%s<WQ SID or queue name> (duration, 0..86400 s)\n"
		"\tShort-abandon threshold of one queue (0: off there); file only.\n",
		CONFIG_TABLE_SHORT_ABANDON_PREFIX);
}

static bool
config_str_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* True when key k has the same value in a and b. */
static bool
config_value_equal(const struct config *a, const struct config *b,
		   const struct config_table_entry *k)
{
	const char *pa = (const char *)a + k->offset;
	const char *pb = (const char *)b + k->offset;

	if (config_type_is_string(k->type))
		return config_str_equal(*(char *const *)(const void *)pa,
					*(char *const *)(const void *)pb);
	if (k->type == CONFIG_TABLE_BOOL)
		return *(const bool *)(const void *)pa == *(const bool *)(const void *)pb;
	return *(const int *)(const void *)pa == *(const int *)(const void *)pb;
}

/* The override of queue among v[0..n), or NULL. */
static const struct config_sla_override *
config_override_find(const struct config_sla_override *v, size_t n, const char *queue)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].queue, queue) == 0)
			return &v[i];
	}
	return NULL;
}

/* Reports one changed per-queue override, "<prefix><queue>". */
static size_t
config_override_change(const char *prefix, enum config_table_reload rule, const char *queue,
		       config_change_cb *cb, void *arg)
{
	char *key = xasprintf("%s%s", prefix, queue);
	bool live = rule == CONFIG_TABLE_LIVE;

	cb(key, live, arg);
	free(key);
	return live ? 0 : 1;
}

/* The per-queue overrides added, removed or changed between old and new. */
static size_t
config_override_changes(const struct config_sla_override *o, size_t no,
			const struct config_sla_override *nw, size_t nn, const char *prefix,
			enum config_table_reload rule, config_change_cb *cb, void *arg)
{
	size_t restart = 0;

	for (size_t i = 0; i < no; i++) {
		const struct config_sla_override *n = config_override_find(nw, nn, o[i].queue);

		if (n == NULL || n->threshold_s != o[i].threshold_s)
			restart += config_override_change(prefix, rule, o[i].queue, cb, arg);
	}
	for (size_t i = 0; i < nn; i++) {
		if (config_override_find(o, no, nw[i].queue) == NULL)
			restart += config_override_change(prefix, rule, nw[i].queue, cb, arg);
	}
	return restart;
}

size_t
config_changes(const struct config *old, const struct config *new, config_change_cb *cb, void *arg)
{
	size_t restart = 0;

	for (size_t i = 0; i < CONFIG_N_KEYS; i++) {
		const struct config_table_entry *k = &config_table[i];
		bool live = k->reload == CONFIG_TABLE_LIVE;

		if (config_value_equal(old, new, k))
			continue;
		cb(k->name, live, arg);
		if (!live)
			restart++;
	}
	restart += config_override_changes(
		old->sla_overrides, old->n_sla_overrides, new->sla_overrides, new->n_sla_overrides,
		CONFIG_TABLE_SLA_PREFIX, config_table_sla_reload, cb, arg);
	restart += config_override_changes(
		old->short_abandon_overrides, old->n_short_abandon_overrides,
		new->short_abandon_overrides, new->n_short_abandon_overrides,
		CONFIG_TABLE_SHORT_ABANDON_PREFIX, config_table_short_abandon_reload, cb, arg);
	return restart;
}
