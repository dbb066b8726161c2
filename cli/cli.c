/*
 * cli: the frame every trhub-* tool runs in (see cli.h). cli_main parses the
 * common options and the tool's option table with one getopt_long call,
 * loads the daemon's configuration with the CLI profile, creates the REST
 * client and runs the tool. Everything a tool prints goes through the
 * helpers here, so --json, --no-color, $NO_COLOR and -q mean the same in
 * every tool.
 *
 * Invariants: stdout carries only the tool's result (a table or one JSON
 * document); everything else (errors, warnings, progress, prompts) goes to
 * stderr or /dev/tty. Secrets are never printed: configuration errors come
 * from config_load, which never quotes secret values.
 */

#include <sys/ioctl.h>

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "cli_rest.h"
#include "config.h"
#include "date.h"
#include "http.h"
#include "log.h"
#include "num.h"
#include "sid.h"
#include "trhub_version.h"
#include "xmalloc.h"

/* Where the daemon's configuration lives; read by the CLIs when readable. */
#define CLI_DEFAULT_CONFIG_PATH "/etc/trhub/trhubd.conf"
/* Longest answer read from /dev/tty. */
#define CLI_CONFIRM_MAX 256

enum cli_common_opt {
	CLI_OPT_HELP = 'h',
	CLI_OPT_VERSION = 'V',
	CLI_OPT_QUIET = 'q',
	CLI_OPT_VERBOSE = 'v',
	CLI_OPT_CONFIG = 256,
	CLI_OPT_WORKSPACE,
	CLI_OPT_JSON,
	CLI_OPT_NO_COLOR,
	CLI_OPT_COLUMNS,
	CLI_OPT_OUTPUT = 'o',
};

/* The options every tool has, shown after the tool's own in --help. */
static const struct cli_option cli_common_options[] = {
	{ "config", 0, "FILE", CLI_OPT_CONFIG,
	  "configuration file (default " CLI_DEFAULT_CONFIG_PATH " when readable)" },
	{ "workspace", 0, "WS...", CLI_OPT_WORKSPACE, "TaskRouter workspace SID to use" },
	{ "output", 'o', "FORMAT", CLI_OPT_OUTPUT,
	  "table (default; fits the terminal), wide (every column, nothing cut) or json" },
	{ "columns", 0, "LIST", CLI_OPT_COLUMNS,
	  "only these table columns, in this order (comma-separated headers)" },
	{ "json", 0, NULL, CLI_OPT_JSON, "print one JSON document instead of a table (-o json)" },
	{ "no-color", 0, NULL, CLI_OPT_NO_COLOR, "no colour, even on a terminal" },
	{ "quiet", 'q', NULL, CLI_OPT_QUIET, "print errors only" },
	{ "verbose", 'v', NULL, CLI_OPT_VERBOSE, "more detail on stderr (twice for debug)" },
	{ "help", 'h', NULL, CLI_OPT_HELP, "show this help and exit" },
	{ "version", 'V', NULL, CLI_OPT_VERSION, "show the version and exit" },
	{ NULL, 0, NULL, 0, NULL },
};

struct cli {
	const struct cli_tool *tool;
	const char *config_path;
	const char *workspace_override;
	bool json;
	bool wide;
	const char *columns;
	bool no_color;
	int quiet;
	int verbose;
	bool color;
	bool stdout_tty;
	struct config *config;
	struct cli_rest *rest;
	struct json_gen *gen;
	int failed; /* cli_fail */
	FILE *out;  /* where results go: stdout, or a redraw's buffer under cli_watch */
	int margin; /* columns cli_watch's change marker takes */
};

/* Set from the SIGINT/SIGTERM handler; the watch loop ends when it is set. */
static volatile sig_atomic_t cli_watch_stop;
/*
 * Set while a redraw is being fetched and rendered into its buffer (nothing of
 * it on the terminal yet). A fetch can take minutes against an unreachable or
 * throttling API, and an operator's Ctrl-C must not wait for it: the handler
 * then ends the process at once, which loses nothing.
 */
static volatile sig_atomic_t cli_watch_busy;

bool
cli_json(const struct cli *cli)
{
	return cli->json;
}

bool
cli_wide(const struct cli *cli)
{
	return cli->wide;
}

const char *
cli_columns(const struct cli *cli)
{
	return cli->columns;
}

bool
cli_quiet(const struct cli *cli)
{
	return cli->quiet > 0;
}

bool
cli_verbose(const struct cli *cli)
{
	return cli->verbose > 0;
}

const char *
cli_workspace(const struct cli *cli)
{
	if (cli->workspace_override != NULL)
		return cli->workspace_override;
	return cli->config != NULL ? cli->config->workspace_sid : NULL;
}

const char *
cli_account(const struct cli *cli)
{
	return cli->config != NULL ? cli->config->account_sid : NULL;
}

const char *
cli_name(const struct cli *cli)
{
	return cli->tool->name;
}

void
cli_fail(struct cli *cli, int code)
{
	if (cli->failed == 0)
		cli->failed = code;
}

const struct config *
cli_config(const struct cli *cli)
{
	return cli->config;
}

struct cli_rest *
cli_get_rest(struct cli *cli)
{
	return cli->rest;
}

/* ---- parsing helpers ---- */

int
cli_parse_int(const char *s, long min, long max, long *out)
{
	int64_t v = 0;

	if (num_parse_i64(s, min, max, &v) < 0)
		return -EINVAL;
	*out = (long)v;
	return 0;
}

int
cli_parse_duration(const char *s, int64_t *seconds_out)
{
	int64_t total = 0;
	const char *p = s;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	while (*p != '\0') {
		int64_t n = 0;
		int64_t unit;

		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		while (isdigit((unsigned char)*p)) {
			if (n > (INT64_MAX - 9) / 10)
				return -EINVAL;
			n = n * 10 + (*p - '0');
			p++;
		}
		switch (*p) {
		case '\0':
			/* A bare number means seconds, but only on its own ("90"). */
			if (p != s + strspn(s, "0123456789"))
				return -EINVAL;
			unit = 1;
			break;
		case 's':
			unit = 1;
			p++;
			break;
		case 'm':
			unit = 60;
			p++;
			break;
		case 'h':
			unit = 3600;
			p++;
			break;
		case 'd':
			unit = 86400;
			p++;
			break;
		case 'w':
			unit = 7 * 86400;
			p++;
			break;
		default:
			return -EINVAL;
		}
		if (n > (INT64_MAX - total) / unit)
			return -EINVAL;
		total += n * unit;
	}
	*seconds_out = total;
	return 0;
}

int
cli_parse_seconds_ms(const char *s, int64_t *ms_out)
{
	char *end = NULL;
	double v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !(v > 0) || v > 86400.0)
		return -EINVAL;
	*ms_out = (int64_t)(v * 1000.0 + 0.5);
	if (*ms_out < 1)
		*ms_out = 1;
	return 0;
}

bool
cli_glob_match(const char *pattern, const char *s)
{
	if (pattern == NULL)
		return true;
	if (s == NULL)
		return false;
	return fnmatch(pattern, s, FNM_CASEFOLD) == 0;
}

/* ---- time ---- */

int
cli_parse_time(const char *s, int64_t *unix_out)
{
	int64_t ms = 0;

	if (date_parse_iso(s, DATE_ISO_LENIENT, &ms) < 0 && date_parse_rfc2822(s, &ms) < 0)
		return -EINVAL;
	*unix_out = date_floor_div(ms, 1000);
	return 0;
}

int64_t
cli_now(void)
{
	return date_now_ms() / 1000;
}

int64_t
cli_seconds_since(const struct json_value *item, const char *key)
{
	const char *s = NULL;
	int64_t t;
	int64_t d;

	if (json_get_string(item, key, &s) < 0 || cli_parse_time(s, &t) < 0)
		return -1;
	d = cli_now() - t;
	return d < 0 ? 0 : d;
}

char *
cli_json_strdup(const struct json_value *obj, const char *key)
{
	const char *s = NULL;

	if (json_get_string(obj, key, &s) < 0)
		return NULL;
	return xstrdup(s);
}

struct json_doc *
cli_attributes(const struct json_value *item)
{
	const struct json_value *v = json_get(item, "attributes");
	struct json_doc *doc = NULL;
	struct json_gen *g;
	const char *text;
	size_t len = 0;

	if (v == NULL)
		return NULL;
	if (json_type(v) == JSON_STRING) {
		text = json_string(v);
		if (json_parse(text, strlen(text), NULL, &doc, NULL) < 0)
			return NULL;
		return doc;
	}
	if (json_type(v) != JSON_OBJECT)
		return NULL;
	/* Already an object: copy it so the caller owns the result either way. */
	g = json_gen_new();
	json_gen_value(g, v);
	text = json_gen_text(g, &len);
	if (json_parse(text, len, NULL, &doc, NULL) < 0)
		doc = NULL;
	json_gen_free(g);
	return doc;
}

void
cli_format_age(int64_t s, char *out, size_t out_size)
{
	if (s < 0)
		(void)snprintf(out, out_size, "-");
	else if (s < 60)
		(void)snprintf(out, out_size, "%llds", (long long)s);
	else if (s < 3600)
		(void)snprintf(out, out_size, "%lldm%02llds", (long long)(s / 60),
			       (long long)(s % 60));
	else if (s < 86400)
		(void)snprintf(out, out_size, "%lldh%02lldm", (long long)(s / 3600),
			       (long long)(s % 3600 / 60));
	else
		(void)snprintf(out, out_size, "%lldd%02lldh", (long long)(s / 86400),
			       (long long)(s % 86400 / 3600));
}

/* ---- human output ---- */

bool
cli_color_enabled(const struct cli *cli)
{
	return cli->color;
}

const char *
cli_color_start(const struct cli *cli, enum cli_color c)
{
	if (!cli->color)
		return "";
	switch (c) {
	case CLI_COLOR_NONE:
		return "";
	case CLI_COLOR_RED:
		return "\033[31m";
	case CLI_COLOR_GREEN:
		return "\033[32m";
	case CLI_COLOR_YELLOW:
		return "\033[33m";
	case CLI_COLOR_BLUE:
		return "\033[34m";
	case CLI_COLOR_DIM:
		return "\033[2m";
	case CLI_COLOR_BOLD:
		return "\033[1m";
	}
	return "";
}

const char *
cli_color_end(const struct cli *cli)
{
	return cli->color ? "\033[0m" : "";
}

int
cli_term_width(const struct cli *cli)
{
	struct winsize ws;
	const char *columns = config_env("COLUMNS");
	int64_t n = 0;

	/* $COLUMNS wins, on a terminal or not (as ls does), so a pipe can ask for a width. */
	if (columns != NULL && num_parse_i64(columns, 20, 10000, &n) == 0)
		return (int)n - cli->margin;
	if (!cli->stdout_tty)
		return 0;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0)
		return 80 - cli->margin;
	return ws.ws_col - cli->margin;
}

char *
cli_sanitize(const char *s)
{
	unsigned char *copy = (unsigned char *)xstrdup(s != NULL ? s : "-");
	unsigned char *p;

	for (p = copy; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			p[0] = p[1] = '?'; /* C1 controls (U+0080..U+009F), CSI among them */
	}
	return (char *)copy;
}

void
cli_printf(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	if (cli->quiet > 0)
		return;
	va_start(ap, fmt);
	(void)vfprintf(cli_out(cli), fmt, ap);
	va_end(ap);
}

FILE *
cli_out(const struct cli *cli)
{
	return cli->out != NULL ? cli->out : stdout;
}

/* ---- --watch ---- */

static void
cli_watch_on_signal(int signo)
{
	cli_watch_stop = 1;
	/* Mid-fetch: nothing half-printed to lose, and _exit flushes nothing (async-signal-safe).
	 */
	if (cli_watch_busy)
		_exit(CLI_EXIT_OK);
}

static void
cli_watch_sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	/* A signal ends the sleep early (no SA_RESTART); the loop then checks the flag. */
	(void)nanosleep(&ts, NULL);
}

/* True when line (len bytes) is one of the lines of prev. */
static bool
cli_watch_had_line(const char *prev, const char *line, size_t len)
{
	const char *p = prev;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, '\n');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

		if (n == len && memcmp(p, line, len) == 0)
			return true;
		p = end != NULL ? end + 1 : NULL;
	}
	return false;
}

/*
 * Prints one redraw: on a terminal the screen is cleared first; a header
 * line with the time and how many lines changed, then the lines, each behind
 * a two-column marker ("* " when the line was not in the previous redraw).
 */
static void
cli_watch_show(const struct cli *cli, const char *text, const char *prev, int64_t interval_ms,
	       bool tty)
{
	char stamp[32];
	struct tm tm;
	time_t now = time(NULL);
	const char *p = text;
	size_t changed = 0;
	struct buf body;

	buf_init(&body);
	while (*p != '\0') {
		const char *end = strchr(p, '\n');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
		bool is_new = prev != NULL && !cli_watch_had_line(prev, p, n);

		changed += is_new ? 1 : 0;
		buf_puts(&body, is_new ? "* " : "  ");
		buf_append(&body, p, n);
		buf_putc(&body, '\n');
		p = end != NULL ? end + 1 : p + n;
	}
	(void)localtime_r(&now, &tm);
	(void)strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	if (tty)
		(void)fputs("\033[H\033[2J", stdout);
	else if (prev != NULL)
		(void)fputc('\n', stdout);
	(void)printf("%s  every %.1fs  %s\n", stamp, (double)interval_ms / 1000.0,
		     prev == NULL   ? "first view"
		     : changed == 0 ? "no change"
				    : "changed (* marks new or changed lines)");
	(void)fwrite(body.data != NULL ? body.data : "", 1, body.len, stdout);
	(void)fflush(stdout);
	buf_clear(&body);
	(void)cli;
}

int
cli_watch(struct cli *cli, int64_t interval_ms, cli_watch_cb *once, void *arg)
{
	struct sigaction sa;
	bool tty = isatty(STDOUT_FILENO) == 1;
	char *prev = NULL;
	int r = CLI_EXIT_OK;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cli_watch_on_signal;
	(void)sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
		log_warning_errno(-errno,
				  "cannot catch SIGINT; interrupting ends the watch abruptly");
	cli->margin = cli->json ? 0 : 2;
	while (!cli_watch_stop) {
		char *text = NULL;
		size_t len = 0;
		FILE *mem = NULL;

		cli_watch_busy = 1;
		mem = open_memstream(&text, &len);
		if (mem == NULL) {
			cli_watch_busy = 0;
			log_err_errno(-errno, "--watch: cannot allocate the redraw buffer");
			r = CLI_EXIT_PARTIAL;
			break;
		}
		cli->out = mem;
		r = once(cli, arg);
		cli->out = NULL;
		(void)fclose(mem);
		cli_watch_busy = 0;
		/* Bad credentials or options do not get better by waiting; a failed fetch might. */
		if (r == CLI_EXIT_CONFIG || r == CLI_EXIT_USAGE) {
			free(text);
			break;
		}
		if (r == CLI_EXIT_OK && cli->json) {
			(void)fwrite(text, 1, len, stdout);
			(void)fflush(stdout);
		} else if (r == CLI_EXIT_OK && cli->quiet == 0) {
			cli_watch_show(cli, text, prev, interval_ms, tty);
		}
		if (r == CLI_EXIT_OK) {
			free(prev);
			prev = text;
		} else {
			free(text);
		}
		if (!cli_watch_stop)
			cli_watch_sleep_ms(interval_ms);
	}
	free(prev);
	cli->margin = 0;
	if (r == CLI_EXIT_CONFIG || r == CLI_EXIT_USAGE)
		return r;
	return CLI_EXIT_OK;
}

struct json_gen *
cli_json_gen(struct cli *cli)
{
	if (cli->gen == NULL)
		cli->gen = json_gen_new();
	return cli->gen;
}

void
cli_json_print(struct cli *cli)
{
	const char *text;
	size_t len = 0;

	if (cli->gen == NULL)
		return;
	text = json_gen_text(cli->gen, &len);
	(void)fwrite(text, 1, len, cli_out(cli));
	(void)fputc('\n', cli_out(cli));
	(void)fflush(cli_out(cli));
	json_gen_reset(cli->gen);
}

/* ---- confirmation ---- */

/* Trims blanks and the line end in place. */
static char *
cli_confirm_trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 &&
	       (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

enum cli_confirm
cli_confirm(const char *prompt, const char *expected)
{
	char line[CLI_CONFIRM_MAX];
	size_t len = 0;
	char *answer;
	int fd = -1;
	enum cli_confirm result = CLI_CONFIRM_NO;

	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return CLI_CONFIRM_NO_TTY;
	if (write(fd, prompt, strlen(prompt)) < 0) {
		result = CLI_CONFIRM_NO_TTY;
		goto out;
	}
	/* Byte by byte, so nothing after the line is consumed. */
	for (;;) {
		char c;
		ssize_t n = read(fd, &c, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || c == '\n')
			break;
		if (len + 1 < sizeof(line))
			line[len++] = c;
	}
	line[len] = '\0';
	answer = cli_confirm_trim(line);
	if (expected != NULL) {
		if (strcmp(answer, expected) == 0)
			result = CLI_CONFIRM_YES;
	} else if (strcasecmp(answer, "y") == 0 || strcasecmp(answer, "yes") == 0) {
		result = CLI_CONFIRM_YES;
	}
out:
	close_and_reset(fd);
	return result;
}

/* ---- options and main ---- */

static void
cli_help_options(FILE *out, const struct cli_option *opts)
{
	const struct cli_option *o;

	for (o = opts; o->name != NULL; o++) {
		char left[64];

		if (o->short_name != 0)
			(void)snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name,
				       o->arg != NULL ? " " : "", o->arg != NULL ? o->arg : "");
		else
			(void)snprintf(left, sizeof(left), "    --%s%s%s", o->name,
				       o->arg != NULL ? " " : "", o->arg != NULL ? o->arg : "");
		(void)fprintf(out, "  %-28s %s\n", left, o->help);
	}
}

static void
cli_help(const struct cli_tool *tool, FILE *out)
{
	(void)fprintf(out, "Usage: %s %s\n%s\n\nOptions:\n", tool->name, tool->usage,
		      tool->summary);
	cli_help_options(out, tool->options);
	cli_help_options(out, cli_common_options);
	(void)fprintf(out,
		      "\nExit status: 0 ok, 1 some operations failed, 2 usage, "
		      "3 configuration or authentication, 4 Twilio API error.\n"
		      "See %s(1).\n",
		      tool->name);
}

static size_t
cli_count_options(const struct cli_option *opts)
{
	size_t n = 0;

	while (opts[n].name != NULL)
		n++;
	return n;
}

/* Appends opts to the getopt_long table and short-option string. */
static void
cli_add_getopt(struct option *longopts, size_t *nlong, struct buf *shortopts,
	       const struct cli_option *opts)
{
	const struct cli_option *o;

	for (o = opts; o->name != NULL; o++) {
		struct option *lo = &longopts[(*nlong)++];

		lo->name = o->name;
		lo->has_arg = o->arg != NULL ? required_argument : no_argument;
		lo->flag = NULL;
		lo->val = o->id;
		if (o->short_name != 0) {
			/* Short options map to the same id as their long form. */
			assert(o->short_name == o->id || o->id >= CLI_OPT_TOOL);
			buf_putc(shortopts, (char)o->short_name);
			if (o->arg != NULL)
				buf_putc(shortopts, ':');
		}
	}
}

/* Maps a short option letter of the tool back to its id. */
static int
cli_short_to_id(const struct cli_tool *tool, int c)
{
	const struct cli_option *o;

	for (o = tool->options; o->name != NULL; o++) {
		if (o->short_name == c)
			return o->id;
	}
	return c;
}

/* Edit distance (insertions, deletions, substitutions, adjacent swaps) between a and b. */
static size_t
cli_distance(const char *a, const char *b)
{
	size_t la = strlen(a);
	size_t lb = strlen(b);
	size_t *prev2 = NULL;
	size_t *prev = NULL;
	size_t *cur = NULL;
	size_t i;
	size_t j;
	size_t d;

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	prev2 = xcalloc(lb + 1, sizeof(*prev2));
	prev = xcalloc(lb + 1, sizeof(*prev));
	cur = xcalloc(lb + 1, sizeof(*cur));
	for (j = 0; j <= lb; j++)
		prev[j] = j;
	for (i = 1; i <= la; i++) {
		size_t *t;

		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;

			d = prev[j - 1] + cost;
			if (prev[j] + 1 < d)
				d = prev[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < d)
				d = prev2[j - 2] + 1;
			cur[j] = d;
		}
		t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	d = prev[lb];
	free(prev2);
	free(prev);
	free(cur);
	return d;
}

/* The long option of the tool or the common table nearest to word ("--wtach"), or NULL. */
static const char *
cli_nearest_option(const struct cli_tool *tool, const char *word)
{
	const struct cli_option *tables[2] = { tool->options, cli_common_options };
	const char *best = NULL;
	size_t best_d = SIZE_MAX;
	char name[65];
	size_t len;
	size_t k;

	if (word == NULL || strncmp(word, "--", 2) != 0)
		return NULL;
	word += 2;
	len = strcspn(word, "=");
	if (len == 0 || len >= sizeof(name))
		return NULL;
	memcpy(name, word, len);
	name[len] = '\0';
	for (k = 0; k < 2; k++) {
		const struct cli_option *o;

		for (o = tables[k]; o->name != NULL; o++) {
			size_t d = cli_distance(name, o->name);

			if (d < best_d) {
				best_d = d;
				best = o->name;
			}
		}
	}
	/* Close enough to be a typo: a third of the word, at least 1, at most 3 edits. */
	if (best_d == 0 || best_d > 3 || best_d > (len + 2) / 3)
		return NULL;
	return best;
}

/*
 * Names the option getopt_long refused. missing is true when it exists but
 * lacks its argument (getopt returned ':'); the word on the command line is
 * quoted as typed, so an abbreviation or a typo reads back as given, with the
 * nearest real option when there is one.
 */
static void
cli_bad_option(const struct cli *cli, bool missing, int optopt_c, const char *word)
{
	char shortname[3] = { '-', (char)optopt_c, '\0' };
	const char *what = optopt_c > 0 && optopt_c < 256 ? shortname : word;
	const char *nearest = NULL;

	if (what == NULL)
		what = "?";
	if (missing) {
		log_err("option %s needs an argument; see %s --help", what, cli->tool->name);
		return;
	}
	if (what == word)
		nearest = cli_nearest_option(cli->tool, word);
	if (nearest != NULL)
		log_err("unknown option %s; did you mean --%s? (see %s --help)", what, nearest,
			cli->tool->name);
	else
		log_err("unknown option %s; see %s --help", what, cli->tool->name);
}

/* Parses argv; returns -1 to go on, or an exit code. */
static int
cli_parse(struct cli *cli, void *state, int argc, char **argv)
{
	const struct cli_tool *tool = cli->tool;
	size_t n = cli_count_options(tool->options) + cli_count_options(cli_common_options);
	struct option *longopts = xcalloc(n + 1, sizeof(*longopts));
	struct buf shortopts;
	size_t nlong = 0;
	int result = -1;
	int c;

	buf_init(&shortopts);
	buf_putc(&shortopts, ':'); /* report a missing argument as ':' */
	cli_add_getopt(longopts, &nlong, &shortopts, tool->options);
	cli_add_getopt(longopts, &nlong, &shortopts, cli_common_options);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts.data, longopts, NULL)) != -1) {
		switch (c) {
		case CLI_OPT_HELP:
			cli_help(tool, stdout);
			result = CLI_EXIT_OK;
			goto out;
		case CLI_OPT_VERSION:
			(void)printf("%s (trhub) %s\n", tool->name, TRHUB_VERSION);
			result = CLI_EXIT_OK;
			goto out;
		case CLI_OPT_QUIET:
			cli->quiet++;
			break;
		case CLI_OPT_VERBOSE:
			cli->verbose++;
			break;
		case CLI_OPT_CONFIG:
			cli->config_path = optarg;
			break;
		case CLI_OPT_WORKSPACE:
			if (!sid_is_valid(optarg, "WS")) {
				log_err("--workspace %s is not a workspace SID (WS followed by 32 "
					"hex digits)",
					optarg);
				result = CLI_EXIT_USAGE;
				goto out;
			}
			cli->workspace_override = optarg;
			break;
		case CLI_OPT_JSON:
			cli->json = true;
			cli->wide = false;
			break;
		case CLI_OPT_OUTPUT:
			if (strcmp(optarg, "json") == 0) {
				cli->json = true;
				cli->wide = false;
			} else if (strcmp(optarg, "wide") == 0) {
				cli->wide = true;
				cli->json = false;
			} else if (strcmp(optarg, "table") == 0) {
				cli->wide = false;
				cli->json = false;
			} else {
				log_err("-o %s: expected table, wide or json", optarg);
				result = CLI_EXIT_USAGE;
				goto out;
			}
			break;
		case CLI_OPT_COLUMNS:
			if (*optarg == '\0') {
				log_err("--columns needs a comma-separated list of column headers");
				result = CLI_EXIT_USAGE;
				goto out;
			}
			cli->columns = optarg;
			break;
		case CLI_OPT_NO_COLOR:
			cli->no_color = true;
			break;
		case '?':
		case ':':
			cli_bad_option(cli, c == ':', optopt, argv[optind - 1]);
			result = CLI_EXIT_USAGE;
			goto out;
		default:
			if (tool->option(cli, state, cli_short_to_id(tool, c), optarg) < 0) {
				result = CLI_EXIT_USAGE;
				goto out;
			}
			break;
		}
	}
out:
	buf_clear(&shortopts);
	free(longopts);
	return result;
}

/* Loads the configuration; returns 0 or an exit code after logging. */
static int
cli_load_config(struct cli *cli)
{
	struct config_source src;
	char *cause = NULL;
	int r;

	memset(&src, 0, sizeof(src));
	src.path = cli->config_path;
	/* The daemon's file is often readable by root only; use it when we can. */
	if (access(CLI_DEFAULT_CONFIG_PATH, R_OK) == 0)
		src.default_path = CLI_DEFAULT_CONFIG_PATH;
	src.require = CONFIG_REQUIRE_ACCOUNT | CONFIG_REQUIRE_AUTH;
	if ((cli->tool->needs & CLI_NEEDS_WORKSPACE) != 0 && cli->workspace_override == NULL)
		src.require |= CONFIG_REQUIRE_WORKSPACE;
	r = config_load(&src, &cli->config, &cause);
	if (r < 0) {
		log_err("configuration: %s", cause != NULL ? cause : "cannot be loaded");
		free(cause);
		return CLI_EXIT_CONFIG;
	}
	return 0;
}

static void
cli_setup_output(struct cli *cli)
{
	const char *no_color = config_env("NO_COLOR");
	const char *term = config_env("TERM");

	cli->stdout_tty = isatty(STDOUT_FILENO) == 1;
	cli->color = cli->stdout_tty && !cli->no_color && !cli->json &&
		     (no_color == NULL || *no_color == '\0') &&
		     (term == NULL || strcmp(term, "dumb") != 0);
}

int
cli_main(const struct cli_tool *tool, void *state, int argc, char **argv)
{
	struct cli cli;
	bool curl_ready = false;
	int r;

	memset(&cli, 0, sizeof(cli));
	cli.tool = tool;
	log_init(tool->name, LOG_LEVEL_NOTICE, config_env("JOURNAL_STREAM"));
	r = cli_parse(&cli, state, argc, argv);
	if (r >= 0)
		goto out;
	if (cli.quiet > 0)
		log_set_level(LOG_LEVEL_ERR);
	else if (cli.verbose > 1)
		log_set_level(LOG_LEVEL_DEBUG);
	else if (cli.verbose == 1)
		log_set_level(LOG_LEVEL_INFO);
	if (tool->check != NULL && tool->check(&cli, state, argc - optind, argv + optind) < 0) {
		r = CLI_EXIT_USAGE;
		goto out;
	}
	cli_setup_output(&cli);
	r = cli_load_config(&cli);
	if (r != 0)
		goto out;
	/* once, before any handle exists (libcurl's global init is not thread-safe) */
	if (http_global_init() < 0) {
		log_err("cannot initialise the HTTP library");
		r = CLI_EXIT_API;
		goto out;
	}
	curl_ready = true;
	r = cli_rest_new(&cli, &cli.rest);
	if (r != 0)
		goto out;
	r = tool->run(&cli, state, argc - optind, argv + optind);
	if (r == CLI_EXIT_OK && cli.failed != 0)
		r = cli.failed;
	if (cli_rest_retried(cli.rest) > 0)
		log_info("%u requests were retried (rate limits or server errors)",
			 cli_rest_retried(cli.rest));
out:
	cli_rest_free(cli.rest);
	if (curl_ready)
		http_global_cleanup();
	json_gen_free(cli.gen);
	config_free(cli.config);
	if (fflush(stdout) != 0 && r == CLI_EXIT_OK) {
		log_err_errno(-errno, "cannot write the output");
		r = CLI_EXIT_PARTIAL;
	}
	return r;
}
