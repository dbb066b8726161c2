#pragma once

/*
 * http_server: what the two HTTP servers built on libevent's evhttp share
 * (trhubd's daemon/server.c and the emulator's tests/sim/sim_http.c): the
 * reason phrase of a status, the name of a request method, and route
 * patterns matched against request paths.
 *
 * Route patterns are paths whose segments are literal text or a capture:
 * "{Name}" matches one non-empty segment, "{Name}.json" one that ends in
 * ".json" and has more before it (the capture is what comes before the
 * suffix). A literal segment is compared exactly. Paths are matched as
 * segments: "/a/b" is {"a", "b"}, "/a/b/" is {"a", "b", ""}.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/http.h>

#define HTTP_SERVER_MAX_SEGS 16

/* A request path cut into segments; pointers into the caller's text. */
struct http_server_path {
	const char *seg[HTTP_SERVER_MAX_SEGS];
	size_t len[HTTP_SERVER_MAX_SEGS];
	size_t n;
};

/* One capture of a matched pattern: a prefix of the path's segment number seg. */
struct http_server_capture {
	size_t seg;
	size_t len;
};

/* "OK", "Not Found", ... for the statuses trhub sends; "Status" for others. */
const char *http_server_reason(int status);
/* "GET", "POST", ... ; "UNKNOWN" for a value evhttp does not define. */
const char *http_server_method_name(enum evhttp_cmd_type method);

/*
 * Cuts path (len bytes, starting with '/') into segments, borrowed from
 * path. Returns 0, or -EINVAL (no leading '/') or -E2BIG (more than
 * HTTP_SERVER_MAX_SEGS segments).
 */
int http_server_path_split(const char *path, size_t len, struct http_server_path *out);

/**
 * http_server_route_match() - does a route pattern match a split path?
 * @pattern: the route's pattern text (see above).
 * @path: the split request path (raw or decoded: the caller decides).
 * @caps: room for max_caps captures, filled in pattern order; may be NULL.
 * @ncaps_out: captures filled; may be NULL.
 * @score_out: when not NULL, how literal the match is: bit 31-i is set when
 *	pattern segment i is literal, so of two matching patterns the one with
 *	the higher score names the path more exactly.
 *
 * Returns true on a match. A malformed pattern (unclosed '{') never matches.
 */
bool http_server_route_match(const char *pattern, const struct http_server_path *path,
			     struct http_server_capture *caps, size_t max_caps, size_t *ncaps_out,
			     uint32_t *score_out);
