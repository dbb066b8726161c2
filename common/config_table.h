#pragma once

/*
 * config_table: trhub's configuration keys, one row each (as tmux keeps
 * options-table.c apart from options.c). The row is the one owner of a
 * key's facts: type, default, range, unit, environment aliases, whether it
 * is a secret, and whether trhubd applies it on reload (SIGHUP) or only
 * after a restart. The loader (config.c) and trhubd's reload
 * (config_changes) read it; doc/trhubd.conf.5.scd documents every row and
 * tests/unit/test_config_table.c checks the two agree.
 *
 * Adding a key: a struct config member, one row here, one entry in
 * trhubd.conf(5) with its default and "Applies on reload." or "Needs a
 * restart.", and (for a live key) the *_reconfigure of the module that
 * owns it.
 */

#include <stdbool.h>
#include <stddef.h>

enum config_table_type {
	CONFIG_TABLE_STRING,	 /* free text (a secret when .secret is set) */
	CONFIG_TABLE_SID,	 /* two letters (sid_prefix) and 32 hex digits */
	CONFIG_TABLE_URL,	 /* public_url: absolute http(s) */
	CONFIG_TABLE_TWILIO_URL, /* https, or http to a loopback host (the emulator) */
	CONFIG_TABLE_INT,
	CONFIG_TABLE_DURATION, /* integer in the key's unit ("ms" or "s"), suffixes allowed */
	CONFIG_TABLE_BOOL,
	CONFIG_TABLE_TIME_OF_DAY,
	CONFIG_TABLE_TIMEZONE,
	CONFIG_TABLE_LISTEN,
	CONFIG_TABLE_PATH,
	CONFIG_TABLE_SYNC_NAME,
};

/* What trhubd does with a changed value on SIGHUP. */
enum config_table_reload {
	CONFIG_TABLE_RESTART, /* keeps the running value; the reload names the key in a warning */
	CONFIG_TABLE_LIVE,    /* applied by the owning module's *_reconfigure */
};

struct config_table_entry {
	const char *name; /* the key, as in the file and in trhubd.conf(5) */
	enum config_table_type type;
	size_t offset;		/* of the member in struct config */
	const char *def;	/* default as config text, NULL: unset */
	long long min;		/* INT, DURATION */
	long long max;		/* INT, DURATION */
	const char *unit;	/* INT: for messages; DURATION: "ms" or "s" */
	const char *sid_prefix; /* SID */
	const char *aliases[3]; /* seed environment names, strongest first */
	bool secret;		/* never logged or printed; credential file allowed */
	enum config_table_reload reload;
	const char *description;
};

/* The per-queue SLA keys "sla_threshold_s.<WQ SID or queue name>" (file only). */
#define CONFIG_TABLE_SLA_PREFIX "sla_threshold_s."
/* The per-queue short-abandon keys "short_abandon_s.<WQ SID or queue name>" (file only). */
#define CONFIG_TABLE_SHORT_ABANDON_PREFIX "short_abandon_s."

extern const struct config_table_entry config_table[];
/* The reload rule of every per-queue SLA key. */
extern const enum config_table_reload config_table_sla_reload;
/* The reload rule of every per-queue short-abandon key. */
extern const enum config_table_reload config_table_short_abandon_reload;
extern const size_t config_table_n;
