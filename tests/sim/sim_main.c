/*
 * trhub-sim: start-up, listening, readiness and shutdown.
 *
 * Start-up order: options, credentials (given, or generated from the seeded
 * PRNG so a --seed run prints the same ones every time), the listener (an
 * inherited socket-activation fd 3, else a bind), the modules, the routes,
 * then the printed lines and READY=1. The first stdout line is always
 * "listening on http://ADDR:PORT", flushed before READY=1, so a harness can
 * read it or wait for the notification. Shutdown on SIGTERM/SIGINT sends
 * STOPPING=1, leaves the loop and frees the modules in reverse order (tr
 * before the HTTP client whose requests it may hold).
 *
 * The systemd protocol (READY=1, STOPPING=1, socket activation) is
 * common/sd.c's, shared with trhubd.
 */

#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "http.h"
#include "http_async.h"
#include "log.h"
#include "sd.h"
#include "sid.h"
#include "sim.h"
#include "sim_clock.h"
#include "sim_control.h"
#include "sim_http.h"
#include "sim_sync.h"
#include "sim_tr.h"
#include "trhub_version.h"
#include "xmalloc.h"

#define SIM_MAIN_DEFAULT_LISTEN		     "127.0.0.1:0"
#define SIM_MAIN_DEFAULT_RESERVATION_TIMEOUT 120
#define SIM_MAIN_DEFAULT_TASK_REMOVAL	     300

enum {
	SIM_MAIN_OPT_LISTEN = 256,
	SIM_MAIN_OPT_ACCOUNT_SID,
	SIM_MAIN_OPT_AUTH_TOKEN,
	SIM_MAIN_OPT_API_KEY,
	SIM_MAIN_OPT_API_SECRET,
	SIM_MAIN_OPT_WORKSPACE_SID,
	SIM_MAIN_OPT_SYNC_SERVICE_SID,
	SIM_MAIN_OPT_EVENT_CALLBACK_URL,
	SIM_MAIN_OPT_WORKERS,
	SIM_MAIN_OPT_RESERVATION_TIMEOUT,
	SIM_MAIN_OPT_SEED,
	SIM_MAIN_OPT_CALLS_PER_MINUTE,
	SIM_MAIN_OPT_AGENTS,
	SIM_MAIN_OPT_TASK_REMOVAL,
	SIM_MAIN_OPT_LOG_LEVEL,
	SIM_MAIN_OPT_TRACE,
	SIM_MAIN_OPT_VERSION,
	SIM_MAIN_OPT_HELP,
};

static const struct option sim_main_options[] = {
	{ "listen", required_argument, NULL, SIM_MAIN_OPT_LISTEN },
	{ "account-sid", required_argument, NULL, SIM_MAIN_OPT_ACCOUNT_SID },
	{ "auth-token", required_argument, NULL, SIM_MAIN_OPT_AUTH_TOKEN },
	{ "api-key", required_argument, NULL, SIM_MAIN_OPT_API_KEY },
	{ "api-secret", required_argument, NULL, SIM_MAIN_OPT_API_SECRET },
	{ "workspace-sid", required_argument, NULL, SIM_MAIN_OPT_WORKSPACE_SID },
	{ "sync-service-sid", required_argument, NULL, SIM_MAIN_OPT_SYNC_SERVICE_SID },
	{ "event-callback-url", required_argument, NULL, SIM_MAIN_OPT_EVENT_CALLBACK_URL },
	{ "workers", required_argument, NULL, SIM_MAIN_OPT_WORKERS },
	{ "reservation-timeout", required_argument, NULL, SIM_MAIN_OPT_RESERVATION_TIMEOUT },
	{ "seed", required_argument, NULL, SIM_MAIN_OPT_SEED },
	{ "calls-per-minute", required_argument, NULL, SIM_MAIN_OPT_CALLS_PER_MINUTE },
	{ "agents", required_argument, NULL, SIM_MAIN_OPT_AGENTS },
	{ "task-removal", required_argument, NULL, SIM_MAIN_OPT_TASK_REMOVAL },
	{ "log-level", required_argument, NULL, SIM_MAIN_OPT_LOG_LEVEL },
	{ "trace", required_argument, NULL, SIM_MAIN_OPT_TRACE },
	{ "version", no_argument, NULL, SIM_MAIN_OPT_VERSION },
	{ "help", no_argument, NULL, SIM_MAIN_OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static void
sim_main_usage(FILE *out)
{
	fputs("usage: trhub-sim [options]\n"
	      "\n"
	      "A local emulator of the Twilio REST APIs trhub uses (TaskRouter v1, Sync v1,\n"
	      "API 2010 Conferences) with a /sim/ control API. See trhub-sim(1).\n"
	      "\n"
	      "  --listen ADDR:PORT          listen address (default 127.0.0.1:0; port 0 picks\n"
	      "                              one); ignored when systemd passes a socket (fd 3)\n"
	      "  --account-sid AC...         account SID (default: generated)\n"
	      "  --auth-token TOKEN          auth token (default: generated)\n"
	      "  --api-key SK...             API key SID (default: generated)\n"
	      "  --api-secret SECRET         API key secret (default: generated)\n"
	      "  --workspace-sid WS...       TaskRouter workspace SID (default: generated)\n"
	      "  --sync-service-sid IS...    Sync service SID (default: generated)\n"
	      "  --event-callback-url URL    workspace EventCallbackUrl (default: none)\n"
	      "  --workers N                 seeded workers, all Offline (default 0)\n"
	      "  --reservation-timeout S     default workflow's TaskReservationTimeout (120)\n"
	      "  --seed N                    deterministic credentials, SIDs and traffic\n"
	      "  --calls-per-minute R        traffic generator: simulated callers (default 0)\n"
	      "  --agents N                  traffic generator: simulated agents (default 0)\n"
	      "  --task-removal S            finished tasks are removed after S seconds (300)\n"
	      "  --log-level LEVEL           err, warning, notice, info or debug (notice)\n"
	      "  --trace LIST                debug output for http,sync,sim,... or all\n"
	      "  --version                   print the version and exit\n"
	      "  --help                      print this help and exit\n"
	      "\n"
	      "On start it prints \"listening on http://ADDR:PORT\" first, then KEY=value lines\n"
	      "(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_API_KEY, TWILIO_API_SECRET,\n"
	      "TWILIO_WORKSPACE_SID, TWILIO_WORKFLOW_SID, TWILIO_SYNC_SERVICE_SID,\n"
	      "TRHUB_TWILIO_BASE_URL) for eval, then sends READY=1 to $NOTIFY_SOCKET.\n",
	      out);
}

static int
sim_main_parse_int(const char *name, const char *value, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || *end != '\0' || end == value || v < min || v > max) {
		log_err("--%s: expected an integer between %ld and %ld, got '%s'", name, min, max,
			value);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int
sim_main_parse_level(const char *value, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level level;
	} levels[] = {
		{ "err", LOG_LEVEL_ERR },	  { "error", LOG_LEVEL_ERR },
		{ "warning", LOG_LEVEL_WARNING }, { "notice", LOG_LEVEL_NOTICE },
		{ "info", LOG_LEVEL_INFO },	  { "debug", LOG_LEVEL_DEBUG },
	};
	size_t i;

	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (strcmp(value, levels[i].name) == 0) {
			*out = levels[i].level;
			return 0;
		}
	}
	log_err("--log-level: unknown level '%s'", value);
	return -EINVAL;
}

/* Checks a SID option's shape; the emulator refuses what Twilio would never issue. */
static int
sim_main_check_sid(const char *name, const char *value, const char *prefix)
{
	if (!sid_is_valid(value, prefix)) {
		log_err("--%s: expected %s followed by 32 hex digits", name, prefix);
		return -EINVAL;
	}
	return 0;
}

/*
 * Checks --listen's shape, so a malformed value is a usage error (exit 2)
 * rather than a failed bind at start-up: IPV4:PORT, [IPV6]:PORT or
 * localhost:PORT, with PORT 0..65535 (0 picks one).
 */
static int
sim_main_check_listen(const char *value)
{
	unsigned char addr[sizeof(struct in6_addr)];
	const char *colon = NULL;
	char *host = NULL;
	char *end = NULL;
	long port;
	int ok = 0;

	if (value[0] == '[') {
		colon = strchr(value, ']');
		if (colon != NULL && colon[1] == ':') {
			host = xstrndup(value + 1, (size_t)(colon - value - 1));
			ok = inet_pton(AF_INET6, host, addr) == 1;
			colon++;
		}
	} else {
		colon = strrchr(value, ':');
		if (colon != NULL) {
			host = xstrndup(value, (size_t)(colon - value));
			ok = inet_pton(AF_INET, host, addr) == 1 || strcmp(host, "localhost") == 0;
		}
	}
	free(host);
	if (ok) {
		errno = 0;
		port = strtol(colon + 1, &end, 10);
		ok = errno == 0 && end != colon + 1 && *end == '\0' && port >= 0 && port <= 65535 &&
		     colon[1] >= '0' && colon[1] <= '9';
	}
	if (!ok) {
		log_err("--listen: expected ADDR:PORT (IPv4, [IPv6] or localhost, port 0-65535), "
			"got '%s'",
			value);
		return -EINVAL;
	}
	return 0;
}

/* Parses argv into sim->opt; returns 0, 1 for --help/--version (exit 0), or -EINVAL. */
static int
sim_main_parse(struct sim *sim, int argc, char **argv, enum log_level *level_out)
{
	struct sim_options *opt = &sim->opt;
	char *cause = NULL;
	char *end;
	long v;
	int c;

	opt->listen = xstrdup(SIM_MAIN_DEFAULT_LISTEN);
	opt->reservation_timeout_s = SIM_MAIN_DEFAULT_RESERVATION_TIMEOUT;
	opt->task_removal_s = SIM_MAIN_DEFAULT_TASK_REMOVAL;
	while ((c = getopt_long(argc, argv, "", sim_main_options, NULL)) != -1) {
		switch (c) {
		case SIM_MAIN_OPT_LISTEN:
			if (sim_main_check_listen(optarg) < 0)
				return -EINVAL;
			free(opt->listen);
			opt->listen = xstrdup(optarg);
			break;
		case SIM_MAIN_OPT_ACCOUNT_SID:
			if (sim_main_check_sid("account-sid", optarg, "AC") < 0)
				return -EINVAL;
			free(opt->account_sid);
			opt->account_sid = xstrdup(optarg);
			break;
		case SIM_MAIN_OPT_AUTH_TOKEN:
			xfree_secret(opt->auth_token);
			opt->auth_token = xstrdup(optarg);
			break;
		case SIM_MAIN_OPT_API_KEY:
			if (sim_main_check_sid("api-key", optarg, "SK") < 0)
				return -EINVAL;
			free(opt->api_key);
			opt->api_key = xstrdup(optarg);
			break;
		case SIM_MAIN_OPT_API_SECRET:
			xfree_secret(opt->api_secret);
			opt->api_secret = xstrdup(optarg);
			break;
		case SIM_MAIN_OPT_WORKSPACE_SID:
			if (sim_main_check_sid("workspace-sid", optarg, "WS") < 0)
				return -EINVAL;
			free(opt->workspace_sid);
			opt->workspace_sid = xstrdup(optarg);
			break;
		case SIM_MAIN_OPT_SYNC_SERVICE_SID:
			if (sim_main_check_sid("sync-service-sid", optarg, "IS") < 0)
				return -EINVAL;
			free(opt->sync_service_sid);
			opt->sync_service_sid = xstrdup(optarg);
			break;
		case SIM_MAIN_OPT_EVENT_CALLBACK_URL:
			free(opt->event_callback_url);
			opt->event_callback_url = optarg[0] != '\0' ? xstrdup(optarg) : NULL;
			break;
		case SIM_MAIN_OPT_WORKERS:
			if (sim_main_parse_int("workers", optarg, 0, 100000, &v) < 0)
				return -EINVAL;
			opt->workers = (int)v;
			break;
		case SIM_MAIN_OPT_RESERVATION_TIMEOUT:
			if (sim_main_parse_int("reservation-timeout", optarg, 1, 86400, &v) < 0)
				return -EINVAL;
			opt->reservation_timeout_s = (int)v;
			break;
		case SIM_MAIN_OPT_SEED:
			errno = 0;
			opt->seed = strtoull(optarg, &end, 0);
			if (errno != 0 || *end != '\0' || end == optarg || optarg[0] == '-') {
				log_err("--seed: expected an unsigned integer, got '%s'", optarg);
				return -EINVAL;
			}
			opt->seed_set = true;
			break;
		case SIM_MAIN_OPT_CALLS_PER_MINUTE:
			errno = 0;
			opt->calls_per_minute = strtod(optarg, &end);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    !(opt->calls_per_minute >= 0 && opt->calls_per_minute <= 100000)) {
				log_err("--calls-per-minute: expected 0..100000, got '%s'", optarg);
				return -EINVAL;
			}
			break;
		case SIM_MAIN_OPT_AGENTS:
			if (sim_main_parse_int("agents", optarg, 0, 100000, &v) < 0)
				return -EINVAL;
			opt->agents = (int)v;
			break;
		case SIM_MAIN_OPT_TASK_REMOVAL:
			if (sim_main_parse_int("task-removal", optarg, 0, 31536000, &v) < 0)
				return -EINVAL;
			opt->task_removal_s = (int)v;
			break;
		case SIM_MAIN_OPT_LOG_LEVEL:
			if (sim_main_parse_level(optarg, level_out) < 0)
				return -EINVAL;
			break;
		case SIM_MAIN_OPT_TRACE:
			if (log_trace_parse(optarg, &cause) < 0) {
				log_err("--trace: %s", cause != NULL ? cause : "invalid");
				free(cause);
				return -EINVAL;
			}
			break;
		case SIM_MAIN_OPT_VERSION:
			printf("trhub-sim %s\n", TRHUB_VERSION);
			return 1;
		case SIM_MAIN_OPT_HELP:
			sim_main_usage(stdout);
			return 1;
		default:
			sim_main_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		log_err("unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* 32 lower-case hex digits from the simulator's PRNG. */
static char *
sim_main_secret(struct sim *sim)
{
	return xasprintf("%016" PRIx64 "%016" PRIx64, rng_next(&sim->rng), rng_next(&sim->rng));
}

static char *
sim_main_sid(struct sim *sim, const char *prefix)
{
	char sid[SID_LEN + 1];

	sim_new_sid(sim, sid, prefix);
	return xstrdup(sid);
}

/* Fills every credential not given on the command line (always in the same order). */
static void
sim_main_default_credentials(struct sim *sim)
{
	struct sim_options *opt = &sim->opt;
	char *account_sid = sim_main_sid(sim, "AC");
	char *auth_token = sim_main_secret(sim);
	char *api_key = sim_main_sid(sim, "SK");
	char *api_secret = sim_main_secret(sim);
	char *workspace_sid = sim_main_sid(sim, "WS");
	char *sync_service_sid = sim_main_sid(sim, "IS");

#define SIM_MAIN_TAKE(field, value, freefn) \
	do {                                \
		if (opt->field == NULL) {   \
			opt->field = value; \
			value = NULL;       \
		}                           \
		freefn(value);              \
	} while (0)
	SIM_MAIN_TAKE(account_sid, account_sid, free);
	SIM_MAIN_TAKE(auth_token, auth_token, xfree_secret);
	SIM_MAIN_TAKE(api_key, api_key, free);
	SIM_MAIN_TAKE(api_secret, api_secret, xfree_secret);
	SIM_MAIN_TAKE(workspace_sid, workspace_sid, free);
	SIM_MAIN_TAKE(sync_service_sid, sync_service_sid, free);
#undef SIM_MAIN_TAKE
}

static void
sim_main_options_clear(struct sim_options *opt)
{
	free(opt->listen);
	free(opt->account_sid);
	xfree_secret(opt->auth_token);
	free(opt->api_key);
	xfree_secret(opt->api_secret);
	free(opt->workspace_sid);
	free(opt->sync_service_sid);
	free(opt->event_callback_url);
	memset(opt, 0, sizeof(*opt));
}

/* The inherited listening socket, or -1 when not socket-activated. */
static int
sim_main_listen_fd(void)
{
	int *fds = NULL;
	size_t n = 0;
	int fd;
	int r = sd_listen_sockets(&fds, &n);

	if (r < 0) {
		log_warning_errno(r, "socket activation failed; binding --listen instead");
		return -1;
	}
	if (n == 0)
		return -1;
	if (n > 1)
		log_warning("%zu sockets passed; using fd %d only", n, fds[0]);
	for (size_t i = 1; i < n; i++)
		(void)close(fds[i]);
	fd = fds[0];
	free(fds);
	return fd;
}

/* The printable host of a bound or inherited socket ("127.0.0.1", "[::1]"). */
static char *
sim_main_host(int fd, const char *listen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char text[INET6_ADDRSTRLEN];
	const char *colon;

	if (fd >= 0 && getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET &&
		    inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, text,
			      sizeof(text)) != NULL) {
			if (strcmp(text, "0.0.0.0") == 0)
				return xstrdup("127.0.0.1");
			return xstrdup(text);
		}
		if (ss.ss_family == AF_INET6 &&
		    inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, text,
			      sizeof(text)) != NULL) {
			if (strcmp(text, "::") == 0)
				return xstrdup("[::1]");
			return xasprintf("[%s]", text);
		}
	}
	colon = strrchr(listen, ':');
	if (colon == NULL || colon == listen)
		return xstrdup("127.0.0.1");
	if (strncmp(listen, "0.0.0.0:", 8) == 0)
		return xstrdup("127.0.0.1");
	return xstrndup(listen, (size_t)(colon - listen));
}

static void
sim_main_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct sim *sim = arg;

	log_notice("signal %d received, stopping", (int)sig);
	sd_notify_stopping();
	event_base_loopexit(sim->base, NULL);
}

void
sim_new_sid(struct sim *sim, char out[35], const char *prefix)
{
	uint64_t hi = rng_next(&sim->rng);
	uint64_t lo = rng_next(&sim->rng);

	sid_format(out, prefix, hi, lo);
}

void
sim_reset(struct sim *sim)
{
	log_notice("reset to start-up state");
	sim_tr_reset(sim->tr);
	sim_sync_reset(sim->sync);
	sim_http_faults_clear(sim->http);
	sim_http_counters_reset(sim->http);
	sim_clock_reset(sim->clock);
	sim_tr_traffic_start(sim->tr);
}

int
main(int argc, char **argv)
{
	struct sim sim;
	struct sigaction sa;
	struct event *sigterm = NULL;
	struct event *sigint = NULL;
	enum log_level level = LOG_LEVEL_NOTICE;
	char *host = NULL;
	int fd;
	int port = 0;
	int status = 1;
	bool curl_ready = false;
	int r;

	memset(&sim, 0, sizeof(sim));
	log_init("trhub-sim", LOG_LEVEL_NOTICE, config_env("JOURNAL_STREAM"));
	r = sim_main_parse(&sim, argc, argv, &level);
	if (r != 0) {
		status = r > 0 ? 0 : 2;
		goto out;
	}
	log_set_level(level);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		fatal("sigaction(SIGPIPE)");

	if (http_global_init() < 0)
		fatalx("libcurl initialisation failed");
	curl_ready = true;

	if (sim.opt.seed_set)
		rng_seed(&sim.rng, sim.opt.seed);
	else
		rng_seed_random(&sim.rng);
	sim_main_default_credentials(&sim);

	sim.base = event_base_new();
	if (sim.base == NULL)
		fatalx("event_base_new failed");
	sim.clock = sim_clock_new(sim.base);
	sim.http = sim_http_new(&sim);
	fd = sim_main_listen_fd();
	r = sim_http_listen(sim.http, sim.opt.listen, fd, &port);
	if (r < 0) {
		if (fd >= 0)
			log_err_errno(r, "cannot serve on the inherited fd %d", fd);
		else
			log_err_errno(r, "cannot listen on %s", sim.opt.listen);
		goto out;
	}
	host = sim_main_host(fd, sim.opt.listen);
	sim.base_url = xasprintf("http://%s:%d", host, port);
	sim.client = http_async_new(sim.base, NULL);
	sim.sync = sim_sync_new(&sim);
	sim.tr = sim_tr_new(&sim);
	sim_control_register_routes(&sim);
	sim_sync_register_routes(&sim);
	sim_tr_register_routes(&sim);

	sigterm = evsignal_new(sim.base, SIGTERM, sim_main_signal_cb, &sim);
	sigint = evsignal_new(sim.base, SIGINT, sim_main_signal_cb, &sim);
	if (sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) < 0 ||
	    evsignal_add(sigint, NULL) < 0)
		fatalx("cannot install signal events");

	printf("listening on %s\n", sim.base_url);
	fflush(stdout);
	printf("TWILIO_ACCOUNT_SID=%s\n", sim.opt.account_sid);
	printf("TWILIO_AUTH_TOKEN=%s\n", sim.opt.auth_token);
	printf("TWILIO_API_KEY=%s\n", sim.opt.api_key);
	printf("TWILIO_API_SECRET=%s\n", sim.opt.api_secret);
	printf("TWILIO_WORKSPACE_SID=%s\n", sim.opt.workspace_sid);
	printf("TWILIO_WORKFLOW_SID=%s\n", sim_tr_workflow_sid(sim.tr));
	printf("TWILIO_SYNC_SERVICE_SID=%s\n", sim.opt.sync_service_sid);
	printf("TRHUB_TWILIO_BASE_URL=%s\n", sim.base_url);
	fflush(stdout);

	sim_tr_traffic_start(sim.tr);
	log_notice("serving on %s (workspace %s, sync service %s)", sim.base_url,
		   sim.opt.workspace_sid, sim.opt.sync_service_sid);
	sd_notify_ready(NULL);
	if (event_base_dispatch(sim.base) < 0)
		log_err("event loop failed");
	else
		status = 0;

out:
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	sim_tr_free(sim.tr);
	sim_sync_free(sim.sync);
	http_async_free(sim.client);
	sim_http_free(sim.http);
	sim_clock_free(sim.clock);
	if (sim.base != NULL)
		event_base_free(sim.base);
	free(sim.base_url);
	free(host);
	sim_main_options_clear(&sim.opt);
	if (curl_ready)
		http_global_cleanup();
	return status;
}
