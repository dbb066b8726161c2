/*
 * Fuzz target for common/http_server.c's route matching (the request path is
 * untrusted; patterns are ours, fuzzed too). The input is "pattern\npath".
 * Checked: splitting either succeeds within HTTP_SERVER_MAX_SEGS or fails
 * with -EINVAL / -E2BIG; every capture lies inside its path segment and a
 * "{Name}" capture is never empty; a literal pattern (no '{') equal to the
 * path always matches with every segment scored literal; matching is
 * deterministic.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_server.h"
#include "xmalloc.h"

#define FUZZ_ROUTE_MAX_INPUT 2048
#define FUZZ_ROUTE_MAX_CAPS  8

/* Aborts (a fuzzer-visible crash) when cond is false; works under -DNDEBUG too. */
#define FUZZ_ROUTE_CHECK(cond)   \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl;
	char *pattern = NULL;
	char *path = NULL;
	size_t path_len;
	struct http_server_path p;
	struct http_server_capture caps[FUZZ_ROUTE_MAX_CAPS];
	struct http_server_capture caps2[FUZZ_ROUTE_MAX_CAPS];
	size_t ncaps = 0;
	size_t ncaps2 = 0;
	uint32_t score = 0;
	uint32_t score2 = 0;
	bool m;
	int r;

	if (size > FUZZ_ROUTE_MAX_INPUT)
		return 0;
	nl = memchr(data, '\n', size);
	if (nl == NULL)
		return 0;
	pattern = xstrndup((const char *)data, (size_t)(nl - (const char *)data));
	path_len = size - (size_t)(nl - (const char *)data) - 1;
	/* the path keeps any NUL bytes: the splitter is given a length */
	path = xmalloc(path_len + 1);
	memcpy(path, nl + 1, path_len);
	path[path_len] = '\0';

	r = http_server_path_split(path, path_len, &p);
	if (r < 0) {
		FUZZ_ROUTE_CHECK(r == -EINVAL || r == -E2BIG);
		goto out;
	}
	FUZZ_ROUTE_CHECK(p.n <= HTTP_SERVER_MAX_SEGS);
	for (size_t i = 0; i < p.n; i++) {
		FUZZ_ROUTE_CHECK(p.seg[i] >= path && p.seg[i] + p.len[i] <= path + path_len);
		FUZZ_ROUTE_CHECK(memchr(p.seg[i], '/', p.len[i]) == NULL);
	}

	m = http_server_route_match(pattern, &p, caps, FUZZ_ROUTE_MAX_CAPS, &ncaps, &score);
	if (m) {
		FUZZ_ROUTE_CHECK(ncaps <= FUZZ_ROUTE_MAX_CAPS);
		for (size_t i = 0; i < ncaps; i++) {
			FUZZ_ROUTE_CHECK(caps[i].seg < p.n);
			FUZZ_ROUTE_CHECK(caps[i].len <= p.len[caps[i].seg]);
			FUZZ_ROUTE_CHECK(caps[i].len > 0);
		}
	}
	/* deterministic, and the outputs are optional */
	FUZZ_ROUTE_CHECK(http_server_route_match(pattern, &p, caps2, FUZZ_ROUTE_MAX_CAPS, &ncaps2,
						 &score2) == m);
	FUZZ_ROUTE_CHECK(http_server_route_match(pattern, &p, NULL, 0, NULL, NULL) == m);
	if (m) {
		FUZZ_ROUTE_CHECK(ncaps2 == ncaps && score2 == score);
		FUZZ_ROUTE_CHECK(memcmp(caps, caps2, ncaps * sizeof(caps[0])) == 0);
	}

	/* a literal pattern equal to the path matches it, every segment literal */
	if (memchr(path, '\0', path_len) == NULL && strchr(path, '{') == NULL) {
		FUZZ_ROUTE_CHECK(http_server_route_match(path, &p, NULL, 0, &ncaps, &score));
		FUZZ_ROUTE_CHECK(ncaps == 0);
		for (size_t i = 0; i < p.n && i < 32; i++)
			FUZZ_ROUTE_CHECK((score & (UINT32_C(1) << (31 - i))) != 0);
	}
out:
	free(path);
	free(pattern);
	return 0;
}
