/*
 * Unit tests for common/config.c: layers and their precedence, the file
 * syntax, every validator's message, required keys per profile and secret
 * handling. The environment is always injected (struct config_source.envp),
 * so the test runner's own environment cannot change the results.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "loopback.h"
#include "xmalloc.h"

#define AC "AC0123456789abcdef0123456789abcdef"
#define SK "SK0123456789abcdef0123456789abcdef"
#define WS "WS0123456789abcdef0123456789abcdef"
#define WQ "WQ0123456789abcdef0123456789abcdef"
#define IS "IS0123456789abcdef0123456789abcdef"

#define SECRET "s3cr3t-auth-token-value"

struct test_env {
	char *v[16];
	size_t n;
};

static char test_dir[256];

static void
test_env_add(struct test_env *e, const char *kv)
{
	assert_true(e->n + 1 < sizeof(e->v) / sizeof(e->v[0]));
	e->v[e->n++] = xstrdup(kv);
	e->v[e->n] = NULL;
}

static void
test_env_clear(struct test_env *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
	e->n = 0;
	e->v[0] = NULL;
}

/* Loads text as the in-memory file "trhubd.conf" with the given environment. */
static int
test_load(const char *text, struct test_env *env, unsigned require, struct config **out,
	  char **cause)
{
	static char *const empty[] = { NULL };
	struct config_source src;

	memset(&src, 0, sizeof(src));
	src.data = text;
	src.data_len = strlen(text);
	src.data_name = "trhubd.conf";
	src.envp = env != NULL ? env->v : empty;
	src.require = require;
	*out = NULL;
	return config_load(&src, out, cause);
}

/* Expects text to fail with r and a message containing each needle. */
static void
test_expect_error(const char *text, struct test_env *env, int expected_r, const char *needle1,
		  const char *needle2)
{
	struct config *c = NULL;
	char *cause = NULL;
	int r = test_load(text, env, 0, &c, &cause);

	assert_int_equal(r, expected_r);
	assert_null(c);
	assert_non_null(cause);
	if (needle1 != NULL && strstr(cause, needle1) == NULL)
		fail_msg("'%s' not in '%s'", needle1, cause);
	if (needle2 != NULL && strstr(cause, needle2) == NULL)
		fail_msg("'%s' not in '%s'", needle2, cause);
	free(cause);
}

static char *
test_write_file(const char *name, const char *text, mode_t mode)
{
	char *path = xasprintf("%s/%s", test_dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static int
test_load_path(const char *path, struct test_env *env, struct config **out, char **cause)
{
	static char *const empty[] = { NULL };
	struct config_source src;

	memset(&src, 0, sizeof(src));
	src.path = path;
	src.envp = env != NULL ? env->v : empty;
	*out = NULL;
	return config_load(&src, out, cause);
}

static char *
test_dump(const struct config *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	config_dump(c, f);
	fclose(f);
	return text;
}

static int
test_group_setup(void **state)
{
	const char *tmp = config_env("TMPDIR");

	snprintf(test_dir, sizeof(test_dir), "%s/test_config.XXXXXX",
		 tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	return mkdtemp(test_dir) != NULL ? 0 : -1;
}

static int
test_group_teardown(void **state)
{
	char *cmd = NULL;
	int r;

	/* the tests create only flat files and one zoneinfo tree; remove them */
	cmd = xasprintf("%s/zi/Mars/Olympus", test_dir);
	(void)unlink(cmd);
	free(cmd);
	cmd = xasprintf("%s/zi/Mars", test_dir);
	(void)rmdir(cmd);
	free(cmd);
	cmd = xasprintf("%s/zi", test_dir);
	(void)rmdir(cmd);
	free(cmd);
	cmd = xasprintf("%s/creds", test_dir);
	{
		static const char *const names[] = { "auth_token", "api_secret", "token_password" };

		for (size_t i = 0; i < 3; i++) {
			char *p = xasprintf("%s/%s", cmd, names[i]);

			(void)unlink(p);
			free(p);
		}
	}
	(void)rmdir(cmd);
	free(cmd);
	{
		static const char *const files[] = { "ok.conf", "open.conf", "plain.conf",
						     "env.conf", "nosec.conf" };

		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			char *p = xasprintf("%s/%s", test_dir, files[i]);

			(void)unlink(p);
			free(p);
		}
	}
	r = rmdir(test_dir);
	return r;
}

static void
test_config_defaults(void **state)
{
	struct config *c = NULL;
	char *cause = NULL;

	assert_int_equal(test_load("", NULL, 0, &c, &cause), 0);
	assert_null(cause);
	assert_string_equal(c->listen, "127.0.0.1:8080");
	assert_string_equal(c->listen_host, "127.0.0.1");
	assert_int_equal(c->listen_port, 8080);
	assert_int_equal(c->stats_min_interval_ms, 1000);
	assert_int_equal(c->stats_max_interval_ms, 15000);
	assert_int_equal(c->sync_writes_per_s, 10);
	assert_string_equal(c->sync_stats_document, "SyncTaskRouterStats");
	assert_string_equal(c->sync_events_document, "SyncTaskRouterEvents");
	assert_string_equal(c->sync_tasks_map, "SyncTaskRouterTasks");
	assert_string_equal(c->taskrouter_base_url, "https://taskrouter.twilio.com");
	assert_string_equal(c->timezone, "UTC");
	assert_int_equal(c->day_start_min, 0);
	assert_false(c->trust_proxy);
	assert_null(c->account_sid);
	assert_null(c->auth_token);
	assert_null(c->twilio_base_url);
	assert_null(c->path);
	config_free(c);
}

static void
test_config_parses_file(void **state)
{
	struct config *c = NULL;
	char *cause = NULL;
	const char *text = "# trhub\n"
			   "\n"
			   "   account_sid=" AC "   \n"
			   "\tworkspace_sid =\t" WS "\n"
			   "stats_min_interval_ms = 1500\n"
			   "day_start = 7:30\n"
			   "listen = [::1]:9000\n"
			   "trusted_proxies = 127.0.0.1, 10.0.0.0/8 ::1\n"
			   "public_url = https://ops.example.com/trhub/\n"
			   "sla_threshold_s = 2m";

	assert_int_equal(test_load(text, NULL, 0, &c, &cause), 0);
	assert_string_equal(c->account_sid, AC);
	assert_string_equal(c->workspace_sid, WS);
	assert_int_equal(c->stats_min_interval_ms, 1500);
	assert_int_equal(c->day_start_min, 7 * 60 + 30);
	assert_string_equal(c->listen_host, "::1");
	assert_int_equal(c->listen_port, 9000);
	assert_string_equal(c->trusted_proxies, "127.0.0.1, 10.0.0.0/8 ::1");
	assert_string_equal(c->public_url, "https://ops.example.com/trhub");
	assert_int_equal(c->sla_threshold_s, 120);
	config_free(c);
}

static void
test_config_duration_units_convert(void **state)
{
	struct config *c = NULL;
	char *cause = NULL;

	assert_int_equal(test_load("stats_min_interval_ms = 2s\nstats_max_interval_ms = 1m\n"
				   "token_ttl_s = 1h\n",
				   NULL, 0, &c, &cause),
			 0);
	assert_int_equal(c->stats_min_interval_ms, 2000);
	assert_int_equal(c->stats_max_interval_ms, 60000);
	assert_int_equal(c->token_ttl_s, 3600);
	config_free(c);
}

static void
test_config_env_overrides_file(void **state)
{
	struct test_env env = { { NULL }, 0 };
	struct config *c = NULL;
	char *cause = NULL;

	test_env_add(&env, "TRHUB_STATS_MIN_INTERVAL_MS=2500");
	assert_int_equal(test_load("stats_min_interval_ms = 1500\n", &env, 0, &c, &cause), 0);
	assert_int_equal(c->stats_min_interval_ms, 2500);
	config_free(c);
	test_env_clear(&env);
}

static void
test_config_empty_env_is_unset(void **state)
{
	struct test_env env = { { NULL }, 0 };
	struct config *c = NULL;
	char *cause = NULL;

	test_env_add(&env, "TRHUB_ACCOUNT_SID=");
	assert_int_equal(test_load("account_sid = " AC "\n", &env, 0, &c, &cause), 0);
	assert_string_equal(c->account_sid, AC);
	config_free(c);
	test_env_clear(&env);
}

static void
test_config_alias_beats_file(void **state)
{
	struct test_env env = { { NULL }, 0 };
	struct config *c = NULL;
	char *cause = NULL;

	test_env_add(&env, "TWILIO_WORKSPACE_SID=WSffffffffffffffffffffffffffffffff");
	assert_int_equal(test_load("workspace_sid = " WS "\n", &env, 0, &c, &cause), 0);
	assert_string_equal(c->workspace_sid, "WSffffffffffffffffffffffffffffffff");
	config_free(c);
	test_env_clear(&env);
}

static void
test_config_trhub_env_beats_alias(void **state)
{
	struct test_env env = { { NULL }, 0 };
	struct config *c = NULL;
	char *cause = NULL;

	test_env_add(&env, "TWILIO_ACCOUNT_SID=ACffffffffffffffffffffffffffffffff");
	test_env_add(&env, "TRHUB_ACCOUNT_SID=" AC);
	assert_int_equal(test_load("", &env, 0, &c, &cause), 0);
	assert_string_equal(c->account_sid, AC);
	config_free(c);
	test_env_clear(&env);
}

static void
test_config_sync_service_sid_alias_from_the_emulator(void **state)
{
	struct test_env env = { { NULL }, 0 };
	struct config *c = NULL;
	char *cause = NULL;

	/* trhub-sim prints TWILIO_SYNC_SERVICE_SID; the seed's name still wins */
	test_env_add(&env, "TWILIO_SYNC_SERVICE_SID=ISffffffffffffffffffffffffffffffff");
	assert_int_equal(test_load("", &env, 0, &c, &cause), 0);
	assert_string_equal(c->sync_service_sid, "ISffffffffffffffffffffffffffffffff");
	config_free(c);
	c = NULL;
	test_env_add(&env, "TWILIO_SYNC_SERVICE_ID=" IS);
	assert_int_equal(test_load("", &env, 0, &c, &cause), 0);
	assert_string_equal(c->sync_service_sid, IS);
	config_free(c);
	test_env_clear(&env);
}

static void
test_config_webhook_replay_window(void **state)
{
	struct config *c = NULL;
	char *cause = NULL;

	assert_int_equal(test_load("", NULL, 0, &c, &cause), 0);
	assert_int_equal(c->webhook_max_age_s, 300);
	config_free(c);
	c = NULL;
	assert_int_equal(test_load("webhook_max_age_s = 0\n", NULL, 0, &c, &cause), 0);
	assert_int_equal(c->webhook_max_age_s, 0);
	config_free(c);
	c = NULL;
	assert_int_equal(test_load("webhook_max_age_s = 2m\n", NULL, 0, &c, &cause), 0);
	assert_int_equal(c->webhook_max_age_s, 120);
	config_free(c);
	c = NULL;
	assert_int_equal(test_load("webhook_max_age_s = -5\n", NULL, 0, &c, &cause), -EINVAL);
	assert_non_null(strstr(cause, "webhook_max_age_s"));
	free(cause);
}

static void
test_config_twilio_alias_beats_worker_app_alias(void **state)
{
	struct test_env env = { { NULL }, 0 };
	struct config *c = NULL;
	char *cause = NULL;

	test_env_add(&env, "ACCOUNT_SID=ACffffffffffffffffffffffffffffffff");
	test_env_add(&env, "TWILIO_ACCOUNT_SID=" AC);
	test_env_add(&env, "TWILIO_SYNC_SERVICE_ID=" IS);
	test_env_add(&env, "TOKEN_PASSWORD=pw");
	assert_int_equal(test_load("", &env, 0, &c, &cause), 0);
	assert_string_equal(c->account_sid, AC);
	assert_string_equal(c->sync_service_sid, IS);
	assert_string_equal(c->token_password, "pw");
	config_free(c);
	test_env_clear(&env);
}

static void
test_config_env_error_names_variable(void **state)
{
	struct test_env env = { { NULL }, 0 };

	test_env_add(&env, "TRHUB_MAX_CONNECTIONS=lots");
	test_expect_error("", &env, -EINVAL, "environment TRHUB_MAX_CONNECTIONS",
			  "max_connections");
	test_env_clear(&env);
}

static void
test_config_credentials_dir_beats_file_not_env(void **state)
{
	struct test_env env = { { NULL }, 0 };
	struct config *c = NULL;
	char *cause = NULL;
	char *dir = xasprintf("%s/creds", test_dir);
	char *cred = xasprintf("%s/auth_token", dir);
	char *cred2 = xasprintf("%s/api_secret", dir);
	char *conf = NULL;
	char *var = xasprintf("CREDENTIALS_DIRECTORY=%s", dir);
	FILE *f;

	(void)mkdir(dir, 0700);
	f = fopen(cred, "w");
	assert_non_null(f);
	fputs("from-credential\n", f);
	fclose(f);
	f = fopen(cred2, "w");
	assert_non_null(f);
	fputs("api-secret-cred\r\n", f);
	fclose(f);
	conf = test_write_file("ok.conf", "auth_token = from-file\napi_key = " SK "\n", 0640);
	test_env_add(&env, var);

	assert_int_equal(test_load_path(conf, &env, &c, &cause), 0);
	assert_string_equal(c->auth_token, "from-credential");
	assert_string_equal(c->api_secret, "api-secret-cred");
	config_free(c);

	test_env_add(&env, "TRHUB_AUTH_TOKEN=from-env");
	assert_int_equal(test_load_path(conf, &env, &c, &cause), 0);
	assert_string_equal(c->auth_token, "from-env");
	config_free(c);

	test_env_clear(&env);
	free(var);
	free(conf);
	free(cred2);
	free(cred);
	free(dir);
}

/* tls_cert/tls_key: both or neither; relative names and unset keys in $CREDENTIALS_DIRECTORY. */
static void
test_config_tls_files(void **state)
{
	struct test_env env = { { NULL }, 0 };
	struct config *c = NULL;
	char *cause = NULL;
	char *dir = xasprintf("%s/tlscreds", test_dir);
	char *key = xasprintf("%s/tls_key", dir);
	char *var = xasprintf("CREDENTIALS_DIRECTORY=%s", dir);
	char *want = NULL;
	FILE *f;

	assert_int_equal(
		test_load("tls_cert = /etc/a.pem\ntls_key = /etc/a.key\n", NULL, 0, &c, &cause), 0);
	assert_string_equal(c->tls_cert, "/etc/a.pem");
	assert_string_equal(c->tls_key, "/etc/a.key");
	assert_null(c->tls_redirect_listen);
	config_free(c);
	test_expect_error("tls_cert = /etc/a.pem\n", NULL, -EINVAL, "tls_cert is set",
			  "tls_key is not");
	test_expect_error("tls_key = /etc/a.key\n", NULL, -EINVAL, "tls_key is set", NULL);
	test_expect_error("tls_cert = a.pem\ntls_key = /etc/a.key\n", NULL, -EINVAL,
			  "relative name 'a.pem'", "$CREDENTIALS_DIRECTORY");
	test_expect_error("tls_cert = /a.pem\ntls_key = /a.key\ntls_redirect_listen = "
			  "127.0.0.1:80\npublic_url = http://h.example\n",
			  NULL, -EINVAL, "tls_redirect_listen", "https");
	test_expect_error("tls_redirect_listen = 127.0.0.1:80\npublic_url = https://h.example\n",
			  NULL, -EINVAL, "needs tls_cert", NULL);
	assert_int_equal(test_load("tls_cert = /a.pem\ntls_key = /a.key\ntls_redirect_listen = "
				   "[::1]:8081\npublic_url = https://h.example\n",
				   NULL, 0, &c, &cause),
			 0);
	assert_string_equal(c->tls_redirect_host, "::1");
	assert_int_equal(c->tls_redirect_port, 8081);
	config_free(c);

	/* A relative name, and an unset key with a credential file named after it. */
	(void)mkdir(dir, 0700);
	f = fopen(key, "w");
	assert_non_null(f);
	fputs("not read by config\n", f);
	fclose(f);
	test_env_add(&env, var);
	assert_int_equal(test_load("tls_cert = cert.pem\n", &env, 0, &c, &cause), 0);
	want = xasprintf("%s/cert.pem", dir);
	assert_string_equal(c->tls_cert, want);
	assert_string_equal(c->tls_key, key);
	config_free(c);
	/* A tls_key credential alone is refused; without credential files: plain HTTP. */
	assert_int_equal(test_load("", &env, 0, &c, &cause), -EINVAL);
	assert_non_null(strstr(cause, "tls_key is set"));
	free(cause);
	(void)unlink(key);
	assert_int_equal(test_load("", &env, 0, &c, &cause), 0);
	assert_null(c->tls_cert);
	assert_null(c->tls_key);
	config_free(c);
	(void)rmdir(dir);

	test_env_clear(&env);
	free(want);
	free(var);
	free(key);
	free(dir);
}

static void
test_config_rejects_bad_int(void **state)
{
	test_expect_error("\nmax_connections = 12x\n", NULL, -EINVAL, "trhubd.conf:2",
			  "max_connections");
}

static void
test_config_rejects_int_out_of_range(void **state)
{
	test_expect_error("sync_writes_per_s = 1000\n", NULL, -EINVAL, "trhubd.conf:1",
			  "sync_writes_per_s: '1000' is out of range (1..100 writes/s)");
}

static void
test_config_rejects_bad_duration(void **state)
{
	test_expect_error("http_timeout_s = 5 minutes\n", NULL, -EINVAL, "trhubd.conf:1",
			  "http_timeout_s");
}

static void
test_config_rejects_fractional_duration(void **state)
{
	test_expect_error("# x\nsla_threshold_s = 1500ms\n", NULL, -EINVAL, "trhubd.conf:2",
			  "sla_threshold_s: '1500ms' is not a whole number of s");
}

static void
test_config_rejects_wrong_sid_prefix(void **state)
{
	test_expect_error("account_sid = " WS "\n", NULL, -EINVAL, "trhubd.conf:1",
			  "account_sid: '" WS "' is not a SID (AC");
}

static void
test_config_rejects_short_sid(void **state)
{
	test_expect_error("\n\nworkspace_sid = WS1234\n", NULL, -EINVAL, "trhubd.conf:3",
			  "workspace_sid");
}

static void
test_config_rejects_non_http_url(void **state)
{
	test_expect_error("public_url = ftp://example.com/\n", NULL, -EINVAL, "trhubd.conf:1",
			  "public_url");
}

static void
test_config_rejects_relative_public_url(void **state)
{
	test_expect_error("public_url = /trhub\n", NULL, -EINVAL, "trhubd.conf:1",
			  "public_url: '/trhub' must be an absolute http:// or https:// URL");
}

static void
test_config_rejects_url_with_credentials(void **state)
{
	test_expect_error("public_url = https://u:p@example.com\n", NULL, -EINVAL, "trhubd.conf:1",
			  "public_url");
}

static void
test_config_rejects_plain_http_to_remote_twilio(void **state)
{
	test_expect_error("twilio_base_url = http://sim.example.com:8081\n", NULL, -EINVAL,
			  "trhubd.conf:1", "twilio_base_url");
	/* A name that starts like an address is still a name (loopback.h). */
	test_expect_error("twilio_base_url = http://127.example.com\n", NULL, -EINVAL,
			  "twilio_base_url", LOOPBACK_HTTP_REFUSED);
	test_expect_error("sync_base_url = http://127.0.0.1.nip.io\n", NULL, -EINVAL,
			  "sync_base_url", LOOPBACK_HTTP_REFUSED);
}

static void
test_config_twilio_base_url_replaces_defaults(void **state)
{
	struct config *c = NULL;
	char *cause = NULL;

	assert_int_equal(test_load("twilio_base_url = http://127.0.0.1:8081/\n"
				   "sync_base_url = https://sync.example.com\n",
				   NULL, 0, &c, &cause),
			 0);
	assert_string_equal(c->twilio_base_url, "http://127.0.0.1:8081");
	assert_string_equal(c->taskrouter_base_url, "http://127.0.0.1:8081");
	assert_string_equal(c->api_base_url, "http://127.0.0.1:8081");
	assert_string_equal(c->sync_base_url, "https://sync.example.com");
	config_free(c);
}

static void
test_config_rejects_bad_time_of_day(void **state)
{
	test_expect_error("day_start = 24:00\n", NULL, -EINVAL, "trhubd.conf:1", "day_start");
	test_expect_error("day_start = 7:5\n", NULL, -EINVAL, "trhubd.conf:1", "day_start");
}

static void
test_config_rejects_unknown_timezone(void **state)
{
	struct test_env env = { { NULL }, 0 };
	char *zi = xasprintf("%s/zi", test_dir);
	char *var = xasprintf("TZDIR=%s", zi);

	test_env_add(&env, var);
	test_expect_error("timezone = Mars/Phobos\n", &env, -EINVAL, "trhubd.conf:1",
			  "timezone: 'Mars/Phobos' was not found in");
	test_env_clear(&env);
	free(var);
	free(zi);
}

static void
test_config_accepts_existing_timezone(void **state)
{
	struct test_env env = { { NULL }, 0 };
	struct config *c = NULL;
	char *cause = NULL;
	char *zi = xasprintf("%s/zi", test_dir);
	char *mars = xasprintf("%s/Mars", zi);
	char *zone = xasprintf("%s/Olympus", mars);
	char *var = xasprintf("TZDIR=%s", zi);
	FILE *f;

	(void)mkdir(zi, 0700);
	(void)mkdir(mars, 0700);
	f = fopen(zone, "w");
	assert_non_null(f);
	fclose(f);
	test_env_add(&env, var);
	assert_int_equal(test_load("timezone = Mars/Olympus\n", &env, 0, &c, &cause), 0);
	assert_string_equal(c->timezone, "Mars/Olympus");
	config_free(c);
	test_env_clear(&env);
	free(var);
	free(zone);
	free(mars);
	free(zi);
}

static void
test_config_rejects_timezone_escaping_zoneinfo(void **state)
{
	test_expect_error("timezone = ../../etc/passwd\n", NULL, -EINVAL, "trhubd.conf:1",
			  "is not a time zone name");
}

static void
test_config_rejects_ipv6_listen_without_brackets(void **state)
{
	test_expect_error("listen = ::1:8080\n", NULL, -EINVAL, "trhubd.conf:1",
			  "listen: '::1:8080' needs brackets around an IPv6 address");
}

static void
test_config_rejects_listen_port_out_of_range(void **state)
{
	test_expect_error("listen = 0.0.0.0:70000\n", NULL, -EINVAL, "trhubd.conf:1", "listen");
	test_expect_error("listen = localhost\n", NULL, -EINVAL, "trhubd.conf:1", "listen");
}

static void
test_config_rejects_bad_bool(void **state)
{
	test_expect_error("trust_proxy = maybe\n", NULL, -EINVAL, "trhubd.conf:1", "trust_proxy");
	/* The old switch is refused with the key that replaced it. */
	test_expect_error("trust_proxy = yes\n", NULL, -EINVAL, "trust_proxy", "trusted_proxies");
	test_expect_error("trusted_proxies = 10.0.0.1/8\n", NULL, -EINVAL, "trusted_proxies",
			  "beyond the prefix");
	test_expect_error("trusted_proxies = 127.0.0.1, proxy.example\n", NULL, -EINVAL,
			  "trusted_proxies", "proxy.example");
}

static void
test_config_rejects_sid_shaped_sync_name(void **state)
{
	test_expect_error("sync_tasks_map = " WQ "\n", NULL, -EINVAL, "trhubd.conf:1",
			  "sync_tasks_map");
}

static void
test_config_rejects_relative_users_file(void **state)
{
	test_expect_error("users_file = users\n", NULL, -EINVAL, "trhubd.conf:1", "users_file");
}

static void
test_config_rejects_stats_min_above_max(void **state)
{
	test_expect_error("stats_min_interval_ms = 20s\n", NULL, -EINVAL, "stats_min_interval_ms",
			  "trhubd.conf:1");
}

static void
test_config_suggests_closest_key(void **state)
{
	test_expect_error("\n\n\n\n\n\n\n\n\n\n\nstats_intervl = 5\n", NULL, -EINVAL,
			  "trhubd.conf:12: unknown key 'stats_intervl'",
			  "did you mean 'stats_min_interval_ms'?");
	test_expect_error("acount_sid = " AC "\n", NULL, -EINVAL, "unknown key 'acount_sid'",
			  "did you mean 'account_sid'?");
}

static void
test_config_unknown_key_without_close_match(void **state)
{
	struct config *c = NULL;
	char *cause = NULL;

	assert_int_equal(test_load("zzz = 1\n", NULL, 0, &c, &cause), -EINVAL);
	assert_non_null(strstr(cause, "trhubd.conf:1: unknown key 'zzz'"));
	assert_null(strstr(cause, "did you mean"));
	free(cause);
}

static void
test_config_rejects_duplicate_key(void **state)
{
	test_expect_error("listen = 127.0.0.1:1\n# again\nlisten = 127.0.0.1:2\n", NULL, -EINVAL,
			  "trhubd.conf:3: duplicate key 'listen'", "first set on line 1");
}

static void
test_config_rejects_line_without_equals(void **state)
{
	test_expect_error("listen 127.0.0.1:1\n", NULL, -EINVAL, "trhubd.conf:1",
			  "expected 'key = value'");
}

static void
test_config_refuses_world_readable_secret_file(void **state)
{
	struct config *c = NULL;
	char *cause = NULL;
	char *path = test_write_file("open.conf", "auth_token = " SECRET "\n", 0644);

	assert_int_equal(test_load_path(path, NULL, &c, &cause), -EACCES);
	assert_null(c);
	assert_non_null(strstr(cause, path));
	assert_non_null(strstr(cause, "chmod go-w,o-rwx"));
	assert_null(strstr(cause, SECRET));
	free(cause);
	free(path);
}

/* Writable by others (0602, 0622) or by the group (0660): they could swap the secret. */
static void
test_config_refuses_writable_secret_file(void **state)
{
	static const struct {
		const char *name;
		mode_t mode;
		const char *who;
	} cases[] = {
		{ "w-other.conf", 0602, "every user can change it" },
		{ "w-both.conf", 0622, "every user can change it" },
		{ "w-group2.conf", 0660, "its group can change it" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *c = NULL;
		char *cause = NULL;
		char *path =
			test_write_file(cases[i].name, "auth_token = " SECRET "\n", cases[i].mode);

		assert_int_equal(test_load_path(path, NULL, &c, &cause), -EACCES);
		assert_null(c);
		assert_non_null(strstr(cause, path));
		assert_non_null(strstr(cause, cases[i].who));
		assert_non_null(strstr(cause, "chmod go-w,o-rwx"));
		assert_null(strstr(cause, SECRET));
		(void)unlink(path);
		free(cause);
		free(path);
	}
}

/* Group-readable is the packaged layout (root:trhub 0640) and stays accepted. */
static void
test_config_allows_group_readable_secret_file(void **state)
{
	struct config *c = NULL;
	char *cause = NULL;
	char *path = test_write_file("group.conf", "auth_token = " SECRET "\n", 0640);

	assert_int_equal(test_load_path(path, NULL, &c, &cause), 0);
	(void)unlink(path);
	config_free(c);
	free(path);
}

static void
test_config_allows_world_readable_file_without_secrets(void **state)
{
	struct config *c = NULL;
	char *cause = NULL;
	char *path = test_write_file("nosec.conf", "account_sid = " AC "\n", 0644);

	assert_int_equal(test_load_path(path, NULL, &c, &cause), 0);
	assert_string_equal(c->path, path);
	config_free(c);
	free(path);
}

static void
test_config_missing_named_file_fails(void **state)
{
	struct config *c = NULL;
	char *cause = NULL;
	char *path = xasprintf("%s/absent.conf", test_dir);

	assert_int_equal(test_load_path(path, NULL, &c, &cause), -ENOENT);
	assert_non_null(strstr(cause, path));
	free(cause);
	free(path);
}

static void
test_config_missing_default_file_is_fine(void **state)
{
	static char *const empty[] = { NULL };
	struct config_source src;
	struct config *c = NULL;
	char *cause = NULL;
	char *path = xasprintf("%s/absent.conf", test_dir);

	memset(&src, 0, sizeof(src));
	src.default_path = path;
	src.envp = empty;
	assert_int_equal(config_load(&src, &c, &cause), 0);
	assert_null(c->path);
	config_free(c);
	free(path);
}

static void
test_config_trhub_config_env_names_file(void **state)
{
	struct test_env env = { { NULL }, 0 };
	struct config_source src;
	struct config *c = NULL;
	char *cause = NULL;
	char *path = test_write_file("env.conf", "max_sse_clients = 7\n", 0600);
	char *var = xasprintf("TRHUB_CONFIG=%s", path);

	test_env_add(&env, var);
	memset(&src, 0, sizeof(src));
	src.default_path = "/nonexistent/trhubd.conf";
	src.envp = env.v;
	assert_int_equal(config_load(&src, &c, &cause), 0);
	assert_int_equal(c->max_sse_clients, 7);
	config_free(c);
	test_env_clear(&env);
	free(var);
	free(path);
}

static void
test_config_cli_requires_account_sid(void **state)
{
	struct config *c = NULL;
	char *cause = NULL;

	assert_int_equal(test_load("auth_token = x\nworkspace_sid = " WS "\n", NULL,
				   CONFIG_PROFILE_CLI, &c, &cause),
			 -EINVAL);
	assert_non_null(strstr(cause, "account_sid is not set (config key account_sid, env "
				      "TRHUB_ACCOUNT_SID or TWILIO_ACCOUNT_SID"));
	free(cause);
}

static void
test_config_cli_requires_credentials(void **state)
{
	struct config *c = NULL;
	char *cause = NULL;

	assert_int_equal(test_load("account_sid = " AC "\nworkspace_sid = " WS "\n", NULL,
				   CONFIG_PROFILE_CLI, &c, &cause),
			 -EINVAL);
	assert_non_null(strstr(cause, "auth_token"));
	assert_non_null(strstr(cause, "TWILIO_AUTH_TOKEN"));
	assert_non_null(strstr(cause, "$CREDENTIALS_DIRECTORY"));
	free(cause);
}

static void
test_config_cli_accepts_api_key_pair(void **state)
{
	struct config *c = NULL;
	char *cause = NULL;

	assert_int_equal(test_load("account_sid = " AC "\nworkspace_sid = " WS "\napi_key = " SK
				   "\napi_secret = x\n",
				   NULL, CONFIG_PROFILE_CLI, &c, &cause),
			 0);
	config_free(c);
}

static void
test_config_cli_without_workspace_when_not_required(void **state)
{
	struct config *c = NULL;
	char *cause = NULL;
	const char *text = "account_sid = " AC "\nauth_token = x\n";

	assert_int_equal(test_load(text, NULL, CONFIG_PROFILE_CLI, &c, &cause), -EINVAL);
	assert_non_null(strstr(cause, "workspace_sid is not set"));
	free(cause);
	assert_int_equal(
		test_load(text, NULL, CONFIG_PROFILE_CLI & ~CONFIG_REQUIRE_WORKSPACE, &c, &cause),
		0);
	config_free(c);
}

static void
test_config_daemon_requires_public_url(void **state)
{
	struct config *c = NULL;
	char *cause = NULL;
	const char *text = "account_sid = " AC "\nauth_token = x\nworkspace_sid = " WS
			   "\napi_key = " SK "\napi_secret = y\nsync_service_sid = " IS "\n";

	assert_int_equal(test_load(text, NULL, CONFIG_PROFILE_DAEMON, &c, &cause), -EINVAL);
	assert_non_null(strstr(cause, "public_url is not set"));
	assert_non_null(strstr(cause, "TRHUB_PUBLIC_URL"));
	free(cause);
}

static void
test_config_api_key_needs_secret(void **state)
{
	test_expect_error("api_key = " SK "\n", NULL, -EINVAL, "api_secret is not set",
			  "TWILIO_API_SECRET");
}

static void
test_config_dump_masks_secrets(void **state)
{
	struct config *c = NULL;
	char *cause = NULL;
	char *text;

	assert_int_equal(test_load("account_sid = " AC "\nauth_token = " SECRET "\napi_key = " SK
				   "\napi_secret = " SECRET "2\n",
				   NULL, 0, &c, &cause),
			 0);
	text = test_dump(c);
	assert_null(strstr(text, SECRET));
	assert_non_null(strstr(text, "auth_token = ********"));
	assert_non_null(strstr(text, "api_secret = ********"));
	assert_non_null(strstr(text, "account_sid = " AC));
	assert_non_null(strstr(text, "trhubd.conf:1"));
	free(text);
	config_free(c);
}

static void
test_config_secret_error_hides_value(void **state)
{
	struct config *c = NULL;
	char *cause = NULL;

	assert_int_equal(test_load("auth_token = \"" SECRET "\x01\"\n", NULL, 0, &c, &cause),
			 -EINVAL);
	assert_non_null(strstr(cause, "trhubd.conf:1: auth_token"));
	assert_null(strstr(cause, SECRET));
	free(cause);
}

static void
test_config_quoted_values(void **state)
{
	struct config *c = NULL;
	char *cause = NULL;

	assert_int_equal(test_load("token_password = \"  a \\\"b\\\" # \\\\ \"\n"
				   "sync_tasks_map = \"Tasks\"\n",
				   NULL, 0, &c, &cause),
			 0);
	assert_string_equal(c->token_password, "  a \"b\" # \\ ");
	assert_string_equal(c->sync_tasks_map, "Tasks");
	config_free(c);
}

static void
test_config_rejects_unterminated_quote(void **state)
{
	test_expect_error("sync_tasks_map = \"Tasks\n", NULL, -EINVAL, "trhubd.conf:1",
			  "sync_tasks_map");
	test_expect_error("sync_tasks_map = \"Tasks\" x\n", NULL, -EINVAL, "trhubd.conf:1",
			  "after the closing");
}

static void
test_config_tolerates_crlf(void **state)
{
	struct config *c = NULL;
	char *cause = NULL;

	assert_int_equal(test_load("# dos\r\n\r\naccount_sid = " AC "\r\nmax_sse_clients = 3\r\n",
				   NULL, 0, &c, &cause),
			 0);
	assert_string_equal(c->account_sid, AC);
	assert_int_equal(c->max_sse_clients, 3);
	config_free(c);
}

static void
test_config_rejects_overlong_line(void **state)
{
	size_t n = CONFIG_LINE_MAX + 16;
	char *text = xmalloc(n + 32);

	memcpy(text, "# ok\ntoken_password = ", 22);
	memset(text + 22, 'a', n);
	text[22 + n] = '\0';
	test_expect_error(text, NULL, -EFBIG, "trhubd.conf:2", "longer than");
	free(text);
}

static void
test_config_rejects_nul_byte(void **state)
{
	static char *const empty[] = { NULL };
	static const char text[] = "account_sid = AC\0x\n";
	struct config_source src;
	struct config *c = NULL;
	char *cause = NULL;

	memset(&src, 0, sizeof(src));
	src.data = text;
	src.data_len = sizeof(text) - 1;
	src.envp = empty;
	assert_int_equal(config_load(&src, &c, &cause), -EINVAL);
	assert_non_null(strstr(cause, "<memory>:1: NUL byte"));
	free(cause);
}

static void
test_config_per_queue_sla_overrides(void **state)
{
	struct config *c = NULL;
	char *cause = NULL;

	assert_int_equal(test_load("sla_threshold_s = 20\n"
				   "sla_threshold_s." WQ " = 45\n"
				   "sla_threshold_s.Sales Queue = 1m\n",
				   NULL, 0, &c, &cause),
			 0);
	assert_int_equal(c->n_sla_overrides, 2);
	assert_int_equal(config_sla_threshold_s(c, WQ, "Sales Queue"), 45);
	assert_int_equal(
		config_sla_threshold_s(c, "WQffffffffffffffffffffffffffffffff", "Sales Queue"), 60);
	assert_int_equal(config_sla_threshold_s(c, NULL, "Support"), 20);
	config_free(c);
}

static void
test_config_rejects_duplicate_sla_override(void **state)
{
	test_expect_error("sla_threshold_s.Sales = 1\nsla_threshold_s.Sales = 2\n", NULL, -EINVAL,
			  "trhubd.conf:2: duplicate key 'sla_threshold_s.Sales'",
			  "first set on line 1");
}

static void
test_config_rejects_sla_override_with_non_queue_sid(void **state)
{
	test_expect_error("sla_threshold_s." WS " = 10\n", NULL, -EINVAL, "trhubd.conf:1",
			  "not a TaskQueue SID");
}

static void
test_config_dump_lists_sla_overrides(void **state)
{
	struct config *c = NULL;
	char *cause = NULL;
	char *text;

	assert_int_equal(test_load("sla_threshold_s.Sales = 15\n", NULL, 0, &c, &cause), 0);
	text = test_dump(c);
	assert_non_null(strstr(text, "sla_threshold_s.Sales = 15"));
	free(text);
	config_free(c);
}

static void
test_config_print_keys_lists_every_key(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	config_print_keys(f);
	fclose(f);
	assert_non_null(strstr(text, "stats_max_interval_ms (duration, 1000..3600000 ms; default "
				     "15000)"));
	assert_non_null(strstr(text, "env TRHUB_SYNC_SERVICE_SID or TWILIO_SYNC_SERVICE_ID"));
	assert_non_null(strstr(text, "users_file"));
	assert_non_null(strstr(text, "sla_threshold_s.<WQ SID or queue name>"));
	free(text);
}

/* config_changes: collects "key:live|restart" entries. */
struct test_changes {
	char buf[512];
};

static void
test_change_cb(const char *key, bool live, void *arg)
{
	struct test_changes *c = arg;
	size_t len = strlen(c->buf);

	snprintf(c->buf + len, sizeof(c->buf) - len, "%s%s:%s", len > 0 ? " " : "", key,
		 live ? "live" : "restart");
}

static void
test_config_changes_by_reload_rule(void **state)
{
	struct config *a = NULL;
	struct config *b = NULL;
	struct test_changes c = { { 0 } };

	assert_int_equal(test_load("sla_threshold_s = 30\nrecent_events_max = 100\n"
				   "sla_threshold_s.Sales = 20\nsla_threshold_s.Old = 5\n",
				   NULL, 0, &a, NULL),
			 0);
	assert_int_equal(test_load("sla_threshold_s = 45\nrecent_events_max = 7\n"
				   "sla_threshold_s.Sales = 25\nsla_threshold_s.New = 9\n"
				   "auth_token = " SECRET "\n",
				   NULL, 0, &b, NULL),
			 0);
	assert_int_equal(config_changes(a, b, test_change_cb, &c), 1);
	assert_string_equal(c.buf, "auth_token:live sla_threshold_s:live recent_events_max:restart "
				   "sla_threshold_s.Sales:live sla_threshold_s.Old:live "
				   "sla_threshold_s.New:live");
	memset(&c, 0, sizeof(c));
	assert_int_equal(config_changes(a, a, test_change_cb, &c), 0);
	assert_string_equal(c.buf, "");
	config_free(a);
	config_free(b);
}

static void
test_config_per_queue_short_abandon_overrides(void **state)
{
	struct config *c = NULL;
	struct config *d = NULL;
	struct test_changes ch = { { 0 } };
	char *cause = NULL;
	char *text;

	assert_int_equal(test_load("short_abandon_s = 5\n"
				   "short_abandon_s." WQ " = 8\n"
				   "short_abandon_s.Sales Queue = 0\n",
				   NULL, 0, &c, &cause),
			 0);
	assert_int_equal(c->n_short_abandon_overrides, 2);
	assert_int_equal(c->n_sla_overrides, 0);
	assert_int_equal(config_short_abandon_s(c, WQ, "Sales Queue"), 8);
	/* 0 turns short abandons off in one queue while the workspace keeps them */
	assert_int_equal(
		config_short_abandon_s(c, "WQffffffffffffffffffffffffffffffff", "Sales Queue"), 0);
	assert_int_equal(config_short_abandon_s(c, NULL, "Support"), 5);
	/* the SLA threshold is not touched by these keys */
	assert_int_equal(config_sla_threshold_s(c, WQ, "Sales Queue"), c->sla_threshold_s);
	text = test_dump(c);
	assert_non_null(strstr(text, "short_abandon_s.Sales Queue = 0"));
	free(text);
	/* a reload names the changed override, live like short_abandon_s */
	assert_int_equal(test_load("short_abandon_s = 5\n"
				   "short_abandon_s." WQ " = 8\n"
				   "short_abandon_s.Sales Queue = 3\n",
				   NULL, 0, &d, &cause),
			 0);
	assert_int_equal(config_changes(c, d, test_change_cb, &ch), 0);
	assert_string_equal(ch.buf, "short_abandon_s.Sales Queue:live");
	test_expect_error("short_abandon_s.Sales = 1\nshort_abandon_s.Sales = 2\n", NULL, -EINVAL,
			  "trhubd.conf:2: duplicate key 'short_abandon_s.Sales'",
			  "first set on line 1");
	test_expect_error("short_abandon_s." WS " = 10\n", NULL, -EINVAL, "trhubd.conf:1",
			  "not a TaskQueue SID");
	config_free(c);
	config_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_changes_by_reload_rule),
		cmocka_unit_test(test_config_parses_file),
		cmocka_unit_test(test_config_duration_units_convert),
		cmocka_unit_test(test_config_env_overrides_file),
		cmocka_unit_test(test_config_empty_env_is_unset),
		cmocka_unit_test(test_config_alias_beats_file),
		cmocka_unit_test(test_config_trhub_env_beats_alias),
		cmocka_unit_test(test_config_sync_service_sid_alias_from_the_emulator),
		cmocka_unit_test(test_config_webhook_replay_window),
		cmocka_unit_test(test_config_twilio_alias_beats_worker_app_alias),
		cmocka_unit_test(test_config_env_error_names_variable),
		cmocka_unit_test(test_config_credentials_dir_beats_file_not_env),
		cmocka_unit_test(test_config_rejects_bad_int),
		cmocka_unit_test(test_config_rejects_int_out_of_range),
		cmocka_unit_test(test_config_rejects_bad_duration),
		cmocka_unit_test(test_config_rejects_fractional_duration),
		cmocka_unit_test(test_config_rejects_wrong_sid_prefix),
		cmocka_unit_test(test_config_rejects_short_sid),
		cmocka_unit_test(test_config_rejects_non_http_url),
		cmocka_unit_test(test_config_rejects_relative_public_url),
		cmocka_unit_test(test_config_rejects_url_with_credentials),
		cmocka_unit_test(test_config_rejects_plain_http_to_remote_twilio),
		cmocka_unit_test(test_config_twilio_base_url_replaces_defaults),
		cmocka_unit_test(test_config_rejects_bad_time_of_day),
		cmocka_unit_test(test_config_rejects_unknown_timezone),
		cmocka_unit_test(test_config_accepts_existing_timezone),
		cmocka_unit_test(test_config_rejects_timezone_escaping_zoneinfo),
		cmocka_unit_test(test_config_rejects_ipv6_listen_without_brackets),
		cmocka_unit_test(test_config_rejects_listen_port_out_of_range),
		cmocka_unit_test(test_config_rejects_bad_bool),
		cmocka_unit_test(test_config_rejects_sid_shaped_sync_name),
		cmocka_unit_test(test_config_rejects_relative_users_file),
		cmocka_unit_test(test_config_rejects_stats_min_above_max),
		cmocka_unit_test(test_config_suggests_closest_key),
		cmocka_unit_test(test_config_unknown_key_without_close_match),
		cmocka_unit_test(test_config_rejects_duplicate_key),
		cmocka_unit_test(test_config_rejects_line_without_equals),
		cmocka_unit_test(test_config_refuses_world_readable_secret_file),
		cmocka_unit_test(test_config_refuses_writable_secret_file),
		cmocka_unit_test(test_config_allows_group_readable_secret_file),
		cmocka_unit_test(test_config_allows_world_readable_file_without_secrets),
		cmocka_unit_test(test_config_missing_named_file_fails),
		cmocka_unit_test(test_config_missing_default_file_is_fine),
		cmocka_unit_test(test_config_trhub_config_env_names_file),
		cmocka_unit_test(test_config_cli_requires_account_sid),
		cmocka_unit_test(test_config_cli_requires_credentials),
		cmocka_unit_test(test_config_cli_accepts_api_key_pair),
		cmocka_unit_test(test_config_cli_without_workspace_when_not_required),
		cmocka_unit_test(test_config_daemon_requires_public_url),
		cmocka_unit_test(test_config_api_key_needs_secret),
		cmocka_unit_test(test_config_dump_masks_secrets),
		cmocka_unit_test(test_config_secret_error_hides_value),
		cmocka_unit_test(test_config_quoted_values),
		cmocka_unit_test(test_config_rejects_unterminated_quote),
		cmocka_unit_test(test_config_tolerates_crlf),
		cmocka_unit_test(test_config_rejects_overlong_line),
		cmocka_unit_test(test_config_rejects_nul_byte),
		cmocka_unit_test(test_config_per_queue_sla_overrides),
		cmocka_unit_test(test_config_per_queue_short_abandon_overrides),
		cmocka_unit_test(test_config_rejects_duplicate_sla_override),
		cmocka_unit_test(test_config_rejects_sla_override_with_non_queue_sid),
		cmocka_unit_test(test_config_dump_lists_sla_overrides),
		cmocka_unit_test(test_config_print_keys_lists_every_key),
		cmocka_unit_test(test_config_tls_files),
	};

	return cmocka_run_group_tests(tests, test_group_setup, test_group_teardown);
}
