#pragma once

/*
 * cli: what the trhub-* ops tools share. Each tool is one .c file holding a
 * const struct cli_tool (its name, usage, option table, option handler and
 * run function) and a three-line main() that hands it to cli_main(). cli_main
 * owns everything around the tool's work: option parsing from the common and
 * the tool's tables (getopt_long), --help generated from those tables,
 * --version, logging, configuration (the daemon's loader and profiles), the
 * REST client, and the exit code.
 *
 * Output helpers: aligned tables sized to the terminal, colour only on a TTY
 * (never with --no-color or $NO_COLOR), one JSON document on stdout with
 * --json, a progress bar on stderr when it is a TTY, and confirmation prompts
 * read from /dev/tty.
 *
 * REST helpers: one call with retries (429/503 with full-jitter backoff that
 * honours Retry-After), lists followed to the last page, and a batch that
 * runs many calls in parallel. Failures are turned into one error line that
 * names the cause and the fix, and into the documented exit codes.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "json.h"

/* Exit codes, documented in every man page (EXIT STATUS). */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_PARTIAL = 1, /* some operations failed (summary printed) */
	CLI_EXIT_USAGE = 2,   /* bad options, or a confirmation was refused */
	CLI_EXIT_CONFIG = 3,  /* configuration or authentication */
	CLI_EXIT_API = 4,     /* Twilio API error, or the API could not be reached */
};

struct cli;
struct cli_rest;
struct config;

/*
 * One tool option. arg is the placeholder shown in --help ("DURATION"), or
 * NULL for a flag. id is handed to the tool's option callback and must not
 * collide with the common options (use values >= CLI_OPT_TOOL).
 */
struct cli_option {
	const char *name;
	int short_name; /* 0 when none */
	const char *arg;
	int id;
	const char *help;
};

#define CLI_OPT_TOOL 1000

/*
 * Called once per tool option, in command-line order. arg is NULL for flags.
 * Returns 0, or -EINVAL after logging what is wrong (exit 2).
 */
typedef int cli_option_cb(struct cli *cli, void *state, int id, const char *arg);
/*
 * The tool's work, after options and configuration. args are the positional
 * arguments (borrowed). Returns an enum cli_exit value.
 */
typedef int cli_run_cb(struct cli *cli, void *state, int nargs, char **args);
/* Checks option combinations after parsing; returns 0 or -EINVAL after logging. */
typedef int cli_check_cb(struct cli *cli, void *state, int nargs, char **args);

/* What a tool needs from the configuration. */
enum cli_needs {
	CLI_NEEDS_WORKSPACE = 1 << 0, /* a workspace SID (config, env or --workspace) */
};

struct cli_tool {
	const char *name;		  /* "trhub-task-list", also the log prefix */
	const char *usage;		  /* after the name: "[OPTION]... [WT...]" */
	const char *summary;		  /* one line for --help */
	const struct cli_option *options; /* terminated by a zero entry */
	cli_option_cb *option;
	cli_check_cb *check; /* or NULL */
	cli_run_cb *run;
	unsigned needs; /* enum cli_needs */
};

/*
 * Runs tool with argv: parses options, loads the configuration, calls
 * tool->run with state (the tool's own options struct, borrowed) and returns
 * the exit code for main() to return.
 */
int cli_main(const struct cli_tool *tool, void *state, int argc, char **argv);

/* Accessors for tools. */
bool cli_json(const struct cli *cli);
bool cli_quiet(const struct cli *cli);
/* -o wide: every table column, nothing shortened or cut. */
bool cli_wide(const struct cli *cli);
/* --columns LIST as given (borrowed), or NULL. */
const char *cli_columns(const struct cli *cli);
bool cli_verbose(const struct cli *cli);
/* The workspace SID in effect (--workspace, else the configuration). */
const char *cli_workspace(const struct cli *cli);
const char *cli_account(const struct cli *cli);
const char *cli_name(const struct cli *cli);
/* The configuration in effect (borrowed; valid during tool->run). */
const struct config *cli_config(const struct cli *cli);
/* The REST client (borrowed; valid during tool->run). */
struct cli_rest *cli_get_rest(struct cli *cli);

/*
 * Records an exit code for cli_main to return when the tool's own result is
 * CLI_EXIT_OK (an output problem found while printing).
 */
void cli_fail(struct cli *cli, int code);

/* Parallel requests when a tool has no --jobs of its own. */
#define CLI_DEFAULT_JOBS 8

/* ---- parsing helpers (return 0 or -EINVAL; never log) ---- */

/*
 * "90", "90s", "15m", "2h", "1d", and sums like "1h30m". Returns seconds in
 * *seconds_out. Rejects empty strings, negative values, unknown units and
 * overflow.
 */
int cli_parse_duration(const char *s, int64_t *seconds_out);
/* A decimal integer within [min, max]. */
int cli_parse_int(const char *s, long min, long max, long *out);
/* "1.5" seconds -> milliseconds, > 0. */
int cli_parse_seconds_ms(const char *s, int64_t *ms_out);
/*
 * Shell glob (fnmatch) matching, case-insensitive, for --name filters. A NULL
 * pattern matches everything.
 */
bool cli_glob_match(const char *pattern, const char *s);

/* ---- time ---- */

/*
 * Parses an ISO-8601 UTC time ("2015-07-30T20:00:00Z", also with fractional
 * seconds or "+00:00") or an RFC 2822 time ("Fri, 18 Feb 2011 19:26:50 +0000")
 * into Unix seconds. Returns 0 or -EINVAL.
 */
int cli_parse_time(const char *s, int64_t *unix_out);
/* Wall-clock Unix seconds now. */
int64_t cli_now(void);
/*
 * Seconds from the time in item[key] (ISO-8601 or RFC 2822) to now, never
 * negative, or -1 when the field is absent or unparsable.
 */
int64_t cli_seconds_since(const struct json_value *item, const char *key);
/* "45s", "12m05s", "3h04m", "2d03h" into out (at least 16 bytes); "-" when s < 0. */
void cli_format_age(int64_t seconds, char *out, size_t out_size);

/* A copy of the string at obj[key], or NULL when absent or not a string. */
char *cli_json_strdup(const struct json_value *obj, const char *key);

/*
 * TaskRouter keeps attributes as a JSON string in item["attributes"]; this
 * parses it (an object in place of the string is accepted too). Returns a
 * document the caller frees, or NULL when there are no usable attributes.
 */
struct json_doc *cli_attributes(const struct json_value *item);

/* ---- human output ---- */

enum cli_color {
	CLI_COLOR_NONE = 0,
	CLI_COLOR_RED,
	CLI_COLOR_GREEN,
	CLI_COLOR_YELLOW,
	CLI_COLOR_BLUE,
	CLI_COLOR_DIM,
	CLI_COLOR_BOLD,
};

/* True when colour escapes may be written to stdout. */
bool cli_color_enabled(const struct cli *cli);
/* The escape sequence that starts c, or "" when colour is off. */
const char *cli_color_start(const struct cli *cli, enum cli_color c);
/* The reset sequence, or "" when colour is off. */
const char *cli_color_end(const struct cli *cli);
/*
 * Width tables fit: $COLUMNS when set (20..10000), else the terminal width of
 * stdout, or 0 (no limit) when stdout is not a terminal.
 */
int cli_term_width(const struct cli *cli);
/*
 * A copy of server-supplied text that is safe to print: C0 controls, DEL and
 * C1 controls (escape sequences) become '?'; NULL becomes "-". Caller frees.
 */
char *cli_sanitize(const char *s);
/*
 * printf to stdout, except with -q (errors only). Server-supplied strings in
 * the arguments must have gone through cli_sanitize.
 */
void cli_printf(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Where results go: stdout, or the current redraw's buffer under cli_watch (borrowed). */
FILE *cli_out(const struct cli *cli);

/*
 * --watch: runs once(cli, arg) every interval_ms until SIGINT or SIGTERM.
 * Each run writes its result through cli_out/cli_printf/cli_table_print into
 * a buffer; the redraw then shows a header line with the time and whether
 * anything changed, and marks each new or changed line with "* " (tables
 * fit two columns narrower for it). With --json each run prints its
 * document as is (one per line). A Ctrl-C during a fetch ends at once. A
 * run failing with CLI_EXIT_CONFIG or CLI_EXIT_USAGE ends the watch with
 * that code; other failures are reported and retried. Returns an enum
 * cli_exit value.
 */
typedef int cli_watch_cb(struct cli *cli, void *arg);
int cli_watch(struct cli *cli, int64_t interval_ms, cli_watch_cb *once, void *arg);

/*
 * JSON output: a generator the tool fills with one document, printed with a
 * trailing newline to stdout by cli_json_print (which also resets it).
 */
struct json_gen *cli_json_gen(struct cli *cli);
void cli_json_print(struct cli *cli);

/* ---- confirmation ---- */

enum cli_confirm {
	CLI_CONFIRM_YES = 0,
	CLI_CONFIRM_NO = 1,	/* answered, but not with what was asked */
	CLI_CONFIRM_NO_TTY = 2, /* no terminal to ask on */
};

/*
 * Writes prompt to /dev/tty and reads one line from it. With expected set,
 * the answer must equal expected exactly (after trimming the newline and
 * surrounding blanks); otherwise it must be "y" or "yes" (any case).
 */
enum cli_confirm cli_confirm(const char *prompt, const char *expected);
