#pragma once

/*
 * trhub configuration: one validated, immutable struct config shared by
 * trhubd and the trhub-* CLIs.
 *
 * Sources, lowest to highest precedence (later ones override earlier ones):
 *
 *   1. built-in defaults (the key table in config_table.c, printed by
 *      config_print_keys and documented in trhubd.conf(5));
 *   2. the config file: "key = value" lines;
 *   3. for secrets only (auth_token, api_secret, token_password): a file named
 *      after the key in $CREDENTIALS_DIRECTORY (systemd LoadCredential=);
 *   4. the seeds' environment names (TWILIO_ACCOUNT_SID, ACCOUNT_SID, ...);
 *      a TWILIO_* name beats the worker app's bare name;
 *   5. TRHUB_<KEY IN UPPER CASE> environment variables.
 *
 * An empty value (in the file or the environment) means "not set here" and
 * leaves the lower layer's value in place.
 *
 * common/config.c is the only file that reads the environment; other modules
 * use config_env() for the few variables that are not configuration
 * ($JOURNAL_STREAM, $NOTIFY_SOCKET, $LISTEN_FDS, $NO_COLOR, $TERM, ...).
 */

#include <sys/stat.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Longest accepted line of a config file, in bytes, without the newline. */
#define CONFIG_LINE_MAX 4096
/* Largest accepted config file. */
#define CONFIG_FILE_MAX_BYTES (1024 * 1024)
/* Largest accepted credential file (the value is a token or password). */
#define CONFIG_CREDENTIAL_MAX_BYTES 4096

/*
 * What the caller needs; config_load fails with a message naming the config
 * key and its environment variables when a required value is missing.
 */
enum config_require {
	CONFIG_REQUIRE_ACCOUNT = 1 << 0,      /* account_sid */
	CONFIG_REQUIRE_AUTH = 1 << 1,	      /* auth_token, or api_key + api_secret */
	CONFIG_REQUIRE_AUTH_TOKEN = 1 << 2,   /* auth_token itself (webhook signatures) */
	CONFIG_REQUIRE_API_KEY = 1 << 3,      /* api_key + api_secret (access tokens) */
	CONFIG_REQUIRE_WORKSPACE = 1 << 4,    /* workspace_sid */
	CONFIG_REQUIRE_WORKFLOW = 1 << 5,     /* workflow_sid */
	CONFIG_REQUIRE_SYNC_SERVICE = 1 << 6, /* sync_service_sid */
	CONFIG_REQUIRE_PUBLIC_URL = 1 << 7,   /* public_url */
};

/* trhubd: checks webhook signatures, issues access tokens, publishes to Sync. */
#define CONFIG_PROFILE_DAEMON                                                          \
	(CONFIG_REQUIRE_ACCOUNT | CONFIG_REQUIRE_AUTH_TOKEN | CONFIG_REQUIRE_API_KEY | \
	 CONFIG_REQUIRE_WORKSPACE | CONFIG_REQUIRE_SYNC_SERVICE | CONFIG_REQUIRE_PUBLIC_URL)
/* The trhub-* CLIs; trhub-conference-list drops CONFIG_REQUIRE_WORKSPACE. */
#define CONFIG_PROFILE_CLI (CONFIG_REQUIRE_ACCOUNT | CONFIG_REQUIRE_AUTH | CONFIG_REQUIRE_WORKSPACE)

/*
 * Where to load from. All pointers are borrowed for the duration of
 * config_load only.
 */
struct config_source {
	/*
	 * Config file from --config. NULL: $TRHUB_CONFIG if set, else
	 * default_path. A file named by path or $TRHUB_CONFIG must exist.
	 */
	const char *path;
	/* Used when neither path nor $TRHUB_CONFIG is given; may be absent. */
	const char *default_path;
	/*
	 * In-memory file contents (tests, fuzzing): when data is not NULL it
	 * is parsed instead of any file, data_len bytes, no NUL needed, and
	 * messages call it data_name (default "<memory>"). No permission
	 * check applies to it.
	 */
	const char *data;
	size_t data_len;
	const char *data_name;
	/*
	 * Environment as "NAME=value" strings, NULL-terminated, like environ.
	 * NULL: the process environment. Tests pass their own array;
	 * { NULL } means an empty environment.
	 */
	char *const *envp;
	/* Bitwise OR of enum config_require, usually a CONFIG_PROFILE_*. */
	unsigned require;
};

/*
 * A per-queue value from a "sla_threshold_s.<queue> = N" line (the SLA
 * threshold) or a "short_abandon_s.<queue> = N" line (the short-abandon
 * threshold, 0: off in that queue).
 */
struct config_sla_override {
	char *queue; /* a WQ SID or a queue friendly name, as written */
	int threshold_s;
};

struct config_origin;

/*
 * The effective, validated configuration. Read-only for everyone but
 * config.c: pass it around as const struct config *. Strings are never NULL
 * when the key has a default or is required by the profile; optional keys
 * without a default are NULL when unset. Secrets (auth_token, api_secret,
 * token_password, authentication_password, wallboard_token) are wiped by
 * config_free and must never be logged.
 */
struct config {
	char *path; /* file the config came from, NULL if none */

	/* HTTP server (trhubd) */
	char *listen;	   /* "host:port" or "[v6]:port" as given */
	char *listen_host; /* host part without brackets */
	uint16_t listen_port;
	char *public_url; /* absolute http(s) URL, no trailing '/' */
	int max_connections;
	int max_sse_clients;
	int http_body_max_bytes;
	int http_header_max_bytes;
	int http_timeout_s;
	int http_header_timeout_s;
	int http_body_timeout_s;
	int webhook_reserved_connections;
	int sse_budget_bytes;
	char *trusted_proxies; /* NULL: none (cidr.h syntax, checked at load) */
	bool trust_proxy;      /* obsolete: true is refused at load */
	/*
	 * HTTPS served by trhubd itself: PEM files, absolute after loading (a
	 * relative name, or an unset key with a credential file of its name,
	 * is resolved in $CREDENTIALS_DIRECTORY). Both or neither are set.
	 */
	char *tls_cert;
	char *tls_key;
	char *tls_redirect_listen; /* plain listener answering 308 to https, or NULL */
	char *tls_redirect_host;   /* its host part without brackets */
	uint16_t tls_redirect_port;

	/* Twilio endpoints: twilio_base_url (if set) replaces all three */
	char *twilio_base_url; /* NULL unless set */
	char *taskrouter_base_url;
	char *sync_base_url;
	char *api_base_url;
	int twilio_timeout_ms;
	int twilio_connect_timeout_ms;
	int twilio_response_max_bytes;

	/* credentials and resources */
	char *account_sid;	/* AC... */
	char *auth_token;	/* secret */
	char *api_key;		/* SK... */
	char *api_secret;	/* secret */
	char *workspace_sid;	/* WS... */
	char *workflow_sid;	/* WW... */
	char *sync_service_sid; /* IS... */
	char *token_password;	/* secret, the worker app's TOKEN_PASSWORD */

	/* statistics */
	int day_start_min; /* minutes after midnight, from day_start "HH:MM" */
	char *timezone;	   /* IANA name, e.g. "Europe/Berlin" */
	int sla_threshold_s;
	int short_abandon_s; /* 0: off */
	struct config_sla_override *sla_overrides;
	size_t n_sla_overrides;
	struct config_sla_override *short_abandon_overrides;
	size_t n_short_abandon_overrides;
	int stats_min_interval_ms;
	int stats_max_interval_ms;
	int reconcile_interval_s;  /* 0: never */
	int replay_timeout_s;	   /* restart replay of today's events; 0: none */
	char *state_dir;	   /* NULL: $STATE_DIRECTORY, else no state file */
	char *workspace_callback;  /* "warn" or "manage" */
	int events_silence_warn_s; /* 0: never */
	int webhook_max_age_s;	   /* replay window; 0: none */
	int recent_events_max;

	/* Sync publishing */
	int sync_writes_per_s;
	char *sync_stats_document;
	char *sync_events_document;
	char *sync_tasks_map;
	bool sync_lease;       /* one writer among instances (daemon/lease.c) */
	char *sync_lease_name; /* the lease document */
	int sync_lease_ttl_s;
	char *instance_id; /* NULL or "": hostname-pid */

	/* pages */
	char *web_dir;	      /* NULL: the build tree's or the installed pages */
	char *web_custom_dir; /* branding (/custom/) */

	/* users and tokens */
	char *users_file;
	int token_ttl_s;
	int session_ttl_s;
	int session_idle_s;
	char *authentication_user;     /* the old dashboard's single supervisor */
	char *authentication_password; /* secret */
	char *wallboard_token;	       /* secret */
	int wallboard_session_ttl_s;
	int login_threads;
	/* agent API (worker_api) */
	bool auto_complete_wrapping;
	int wrapping_complete_after_s;
	int agent_away_after_s; /* 0: off */
	char *agent_away_activity;
	char *conference_from;
	int conference_timeout_s;
	char *conference_post_work_activity;
	bool conference_end_on_exit;
	char *metrics_allow; /* comma-separated addresses, or NULL */

	struct config_origin *origin; /* private to config.c (for config_dump) */
};

/**
 * config_load() - load, merge and validate the configuration
 * @src: where to read from; borrowed for the call.
 * @config_out: on success, a new config owned by the caller (config_free).
 * @cause_out: on failure, an allocated message owned by the caller, naming
 *	the file and line or the environment variable and the key, e.g.
 *	"trhubd.conf:12: unknown key 'stats_intervl' (did you mean
 *	'stats_min_interval_ms'?)". Secret values never appear in it.
 *
 * Returns 0, or -EINVAL (bad syntax or value, missing required key),
 * -EACCES (a file holding secrets is readable by others), -ENOENT (named
 * file missing), -EFBIG (file or line too long), or another negative errno
 * from reading a file. Unknown TRHUB_* variables are logged as warnings.
 */
int config_load(const struct config_source *src, struct config **config_out, char **cause_out);

/* Wipes the secrets and frees everything. NULL-safe. */
void config_free(struct config *config);

/**
 * config_sla_threshold_s() - SLA threshold for one queue
 * @queue_sid: the queue's WQ SID, or NULL.
 * @queue_name: its friendly name, or NULL.
 *
 * An override naming the SID wins over one naming the friendly name, which
 * wins over sla_threshold_s.
 */
int config_sla_threshold_s(const struct config *config, const char *queue_sid,
			   const char *queue_name);

/**
 * config_short_abandon_s() - short-abandon threshold for one queue (0: off)
 * @queue_sid: the queue's WQ SID, or NULL.
 * @queue_name: its friendly name, or NULL.
 *
 * Same precedence as config_sla_threshold_s: short_abandon_s.<SID>, then
 * short_abandon_s.<name>, then short_abandon_s.
 */
int config_short_abandon_s(const struct config *config, const char *queue_sid,
			   const char *queue_name);

/*
 * Where key's value came from, for messages that must say which setting is
 * wrong: "trhubd.conf:12", "environment TWILIO_WORKSPACE_SID", a credential
 * file, or "default". Borrowed from config.
 */
const char *config_where(const struct config *config, const char *key);

/*
 * Prints the effective config as "key = value" lines, one per key in table
 * order, each with a comment saying where the value came from. Secrets that
 * are set print as ********. For humans (trhubd --check-config), not for
 * parsing back.
 */
void config_dump(const struct config *config, FILE *out);

/*
 * Prints the key table: name, type, default, range and unit, environment
 * names, description. The reference for trhubd.conf(5) and --help-config.
 */
void config_print_keys(FILE *out);

/* Called once per changed key by config_changes; key is borrowed for the call. */
typedef void config_change_cb(const char *key, bool live, void *arg);

/**
 * config_changes() - the keys whose value differs between two configs
 * @old, @new: two loaded configs, borrowed.
 * @cb: called synchronously, once per changed key in table order, with the
 *	key's name and its reload rule from the key table (config_table.h):
 *	live keys are applied by trhubd's reload, the others need a restart.
 *	A per-queue override that was added, removed or changed is the key
 *	"sla_threshold_s.<queue>" or "short_abandon_s.<queue>". Values are
 *	never passed (secrets compare like any other value but stay unnamed
 *	beyond their key).
 *
 * Returns the number of changed keys that need a restart.
 */
size_t config_changes(const struct config *old, const struct config *new, config_change_cb *cb,
		      void *arg);

/*
 * Reads an environment variable that is not configuration (the one allowed
 * getenv outside the loader). Returns a pointer into the environment, valid
 * until the environment changes, or NULL if unset.
 */
const char *config_env(const char *name);
/*
 * Reads a whole regular file of at most max bytes into an allocated,
 * NUL-terminated buffer (wipe it with explicit_bzero: it may hold secrets).
 * st_out (may be NULL) gets the file's stat. -EINVAL: not a regular file;
 * -EFBIG: larger than max; other -errno from open/fstat/read.
 */
int config_read_file(const char *path, size_t max, char **data_out, size_t *len_out,
		     struct stat *st_out);
