/*
 * trhubd: command line, logging and process setup; the daemon itself is
 * daemon.c. Exit codes: 0 after a graceful stop or a valid --check-config,
 * 1 for a configuration or startup failure, 2 for a usage error.
 */

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "doctor.h"
#include "hasher.h"
#include "http.h"
#include "log.h"
#include "server.h"
#include "tls.h"
#include "trhub_version.h"
#include "xmalloc.h"

#define MAIN_DEFAULT_CONFIG "/etc/trhub/trhubd.conf"

enum {
	MAIN_OPT_CHECK_CONFIG = 256,
	MAIN_OPT_DOCTOR,
	MAIN_OPT_HELP_CONFIG,
	MAIN_OPT_TRACE,
	MAIN_OPT_HASH_PASSWORD,
	MAIN_OPT_LIST_ROUTES,
};

static void
main_usage(FILE *out)
{
	fprintf(out,
		"usage: trhubd [-hvV] [-c FILE] [--check-config] [--doctor] [--help-config]\n"
		"              [--trace=LIST]\n"
		"       trhubd --hash-password [sha512crypt|yescrypt]\n"
		"       trhubd --list-routes\n"
		"\n"
		"  -c, --config FILE   configuration file (default %s, or $TRHUB_CONFIG)\n"
		"      --check-config  load and validate the configuration, print it with\n"
		"                      secrets masked, exit 0 if valid and 1 if not\n"
		"      --doctor        check the credentials, SIDs, the workspace's event\n"
		"                      callback and the Sync service against Twilio (or the\n"
		"                      emulator): one line per check with its fix; exit 0\n"
		"                      when ready, 1 when not\n"
		"      --help-config   list every configuration key with its default\n"
		"      --hash-password read a password from stdin, print a users-file hash\n"
		"                      (yescrypt unless told otherwise)\n"
		"      --list-routes   print the HTTP routes and who may use them\n"
		"      --trace=LIST    debug output for http,stats,sync,events,model,stream or "
		"all\n"
		"  -v, --verbose       debug log output\n"
		"  -V, --version       print the version\n"
		"  -h, --help          this help\n"
		"\n"
		"See trhubd(8) and trhubd.conf(5).\n",
		MAIN_DEFAULT_CONFIG);
}

/* SIGPIPE: a client closing early must be an EPIPE on write, not our death. */
static int
main_ignore_sigpipe(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigemptyset(&sa.sa_mask) < 0 || sigaction(SIGPIPE, &sa, NULL) < 0)
		return -errno;
	return 0;
}

/*
 * glibc raises its mmap threshold to the size of each large block freed, so
 * after the rebuild's page buffers (hundreds of KiB) every later large
 * buffer comes from the heap and its pages stay resident after free. A fixed
 * threshold keeps large, short-lived buffers in mmap (returned at free) and
 * lets the heap top be trimmed, which keeps RSS close to the live data.
 */
static void
main_tune_malloc(void)
{
	if (mallopt(M_MMAP_THRESHOLD, 128 * 1024) != 1 ||
	    mallopt(M_TRIM_THRESHOLD, 256 * 1024) != 1)
		log_warning("cannot tune malloc; memory use may stay at its peak");
}

/*
 * trhubd --hash-password: one line from stdin (echo off on a terminal) to a
 * crypt(3) hash on stdout, for the users file. Never logs the password.
 */
static int
main_hash_password(const char *method)
{
	struct termios old;
	struct termios quiet;
	bool tty = isatty(STDIN_FILENO) == 1;
	char line[1025];
	char *hash = NULL;
	char *cause = NULL;
	const char *prefix = "$y$";
	size_t n;

	if (method != NULL && strcmp(method, "sha512crypt") == 0)
		prefix = "$6$";
	else if (method != NULL && strcmp(method, "yescrypt") != 0) {
		log_err("--hash-password: unknown method '%s' (yescrypt or sha512crypt)", method);
		return 2;
	}
	if (tty && tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet); /* best effort */
		fputs("password: ", stderr);
	} else {
		tty = false;
	}
	if (fgets(line, sizeof(line), stdin) == NULL)
		line[0] = '\0';
	if (tty) {
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputs("\n", stderr);
	}
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	if (n == 0) {
		log_err("--hash-password: empty password");
		return 1;
	}
	hash = hasher_hash(line, prefix, &cause);
	explicit_bzero(line, sizeof(line));
	if (hash == NULL) {
		log_err("--hash-password: %s", cause);
		free(cause);
		return 1;
	}
	printf("%s\n", hash);
	xfree_secret(hash);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, MAIN_OPT_CHECK_CONFIG },
		{ "doctor", no_argument, NULL, MAIN_OPT_DOCTOR },
		{ "help-config", no_argument, NULL, MAIN_OPT_HELP_CONFIG },
		{ "trace", required_argument, NULL, MAIN_OPT_TRACE },
		{ "hash-password", optional_argument, NULL, MAIN_OPT_HASH_PASSWORD },
		{ "list-routes", no_argument, NULL, MAIN_OPT_LIST_ROUTES },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct config_source src = { 0 };
	struct daemon_options dopt = { 0 };
	struct config *cfg = NULL;
	struct daemon *d = NULL;
	const char *trace = NULL;
	char *cause = NULL;
	bool check_only = false;
	bool doctor = false;
	int verbose = 0;
	int status = 1;
	int opt;
	int r;

	log_init("trhubd", LOG_LEVEL_INFO, config_env("JOURNAL_STREAM"));
	main_tune_malloc();
	while ((opt = getopt_long(argc, argv, "c:hvV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			src.path = optarg;
			break;
		case MAIN_OPT_CHECK_CONFIG:
			check_only = true;
			break;
		case MAIN_OPT_DOCTOR:
			doctor = true;
			break;
		case MAIN_OPT_HELP_CONFIG:
			config_print_keys(stdout);
			return 0;
		case MAIN_OPT_TRACE:
			trace = optarg;
			break;
		case MAIN_OPT_HASH_PASSWORD:
			return main_hash_password(optarg != NULL
							  ? optarg
							  : (optind < argc && argv[optind][0] != '-'
								     ? argv[optind]
								     : NULL));
		case MAIN_OPT_LIST_ROUTES:
			server_print_routes(stdout);
			return 0;
		case 'v':
			verbose++;
			break;
		case 'V':
			printf("trhubd %s\n", TRHUB_VERSION);
			return 0;
		case 'h':
			main_usage(stdout);
			return 0;
		default:
			main_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		log_err("unexpected argument '%s'", argv[optind]);
		main_usage(stderr);
		return 2;
	}
	if (verbose > 0)
		log_set_level(LOG_LEVEL_DEBUG);
	if (trace != NULL && log_trace_parse(trace, &cause) < 0) {
		log_err("--trace: %s", cause);
		free(cause);
		return 2;
	}

	src.default_path = MAIN_DEFAULT_CONFIG;
	src.require = CONFIG_PROFILE_DAEMON;
	r = config_load(&src, &cfg, &cause);
	if (r < 0 && doctor) {
		status = doctor_config_failed(cause, stdout);
		free(cause);
		return status;
	}
	if (r < 0) {
		log_err("configuration: %s", cause != NULL ? cause : "invalid");
		free(cause);
		return 1;
	}
	if (doctor) {
		if (http_global_init() < 0) {
			log_err("cannot initialise libcurl");
			config_free(cfg);
			return 1;
		}
		status = doctor_run(cfg, stdout);
		config_free(cfg);
		http_global_cleanup();
		return status;
	}
	if (check_only) {
		config_dump(cfg, stdout);
		/* The certificate and key load as trhubd would load them (ExecStartPre). */
		if (cfg->tls_cert != NULL) {
			struct tls_info info;

			if (tls_check_files(cfg->tls_cert, cfg->tls_key, &info, &cause) < 0) {
				log_err("configuration: %s", cause);
				free(cause);
				config_free(cfg);
				return 1;
			}
		}
		config_free(cfg);
		return 0;
	}

	r = main_ignore_sigpipe();
	if (r < 0) {
		log_err_errno(r, "cannot ignore SIGPIPE");
		config_free(cfg);
		return 1;
	}
	if (http_global_init() < 0) {
		log_err("cannot initialise libcurl");
		config_free(cfg);
		return 1;
	}
	log_notice("trhubd %s starting", TRHUB_VERSION);
	dopt.source = &src;
	r = daemon_new(cfg, &dopt, &d, &cause);
	if (r < 0) {
		log_err("%s", cause != NULL ? cause : "startup failed");
		free(cause);
		config_free(cfg);
		goto out;
	}
	status = daemon_run(d);
	daemon_free(d);
out:
	http_global_cleanup();
	return status;
}
