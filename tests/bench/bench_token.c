/*
 * bench_token: Access Tokens issued per second by common/token.c (the work
 * behind GET /token and /api/worker/token), one thread. Bounded: at most
 * BENCH_TOKEN_MAX tokens or BENCH_TOKEN_SECONDS seconds, whichever comes
 * first. Exits 1 when below the target of 20,000 tokens/s. Also
 * reports worker capability tokens (no target).
 */

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "token.h"

#define BENCH_TOKEN_MAX	    2000000
#define BENCH_TOKEN_SECONDS 3.0
#define BENCH_TOKEN_TARGET  20000.0

static double
bench_now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(void)
{
	struct token_access_options a = { 0 };
	struct token_capability_options c = { 0 };
	double t0 = 0;
	double t1 = 0;
	long n = 0;
	long m = 0;
	double access_rate = 0;
	double capability_rate = 0;

	a.account_sid = "AC00000000000000000000000000000001";
	a.api_key = "SK00000000000000000000000000000001";
	a.api_secret = "0123456789abcdef0123456789abcdef";
	a.identity = "supervisor-with-a-name";
	a.sync_service_sid = "IS00000000000000000000000000000001";
	a.workspace_sid = "WS00000000000000000000000000000001";
	a.worker_sid = "WK00000000000000000000000000000001";
	a.role = "worker";
	a.ttl_s = 3600;
	c.account_sid = a.account_sid;
	c.auth_token = "fedcba9876543210fedcba9876543210";
	c.workspace_sid = a.workspace_sid;
	c.worker_sid = a.worker_sid;
	c.ttl_s = 3600;

	t0 = bench_now();
	do {
		char *jwt = NULL;
		char *cause = NULL;

		a.now_s = (int64_t)time(NULL);
		if (token_access(&a, &jwt, &cause) < 0) {
			fprintf(stderr, "token_access: %s\n", cause);
			return 2;
		}
		free(jwt);
		n++;
	} while (n < BENCH_TOKEN_MAX && (n % 1024 != 0 || bench_now() - t0 < BENCH_TOKEN_SECONDS));
	t1 = bench_now();
	access_rate = (double)n / (t1 - t0);

	t0 = bench_now();
	do {
		char *jwt = NULL;
		char *cause = NULL;

		c.now_s = (int64_t)time(NULL);
		if (token_worker_capability(&c, &jwt, &cause) < 0) {
			fprintf(stderr, "token_worker_capability: %s\n", cause);
			return 2;
		}
		free(jwt);
		m++;
	} while (m < BENCH_TOKEN_MAX && (m % 1024 != 0 || bench_now() - t0 < BENCH_TOKEN_SECONDS));
	t1 = bench_now();
	capability_rate = (double)m / (t1 - t0);

	printf("access tokens: %ld in %.2f s = %.0f/s (target >= %.0f/s: %s)\n", n,
	       (double)n / access_rate, access_rate, BENCH_TOKEN_TARGET,
	       access_rate >= BENCH_TOKEN_TARGET ? "met" : "MISSED");
	printf("worker capability tokens: %ld = %.0f/s\n", m, capability_rate);
	return access_rate >= BENCH_TOKEN_TARGET ? 0 : 1;
}
