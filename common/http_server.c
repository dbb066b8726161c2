/*
 * http_server: reason phrases, method names and route matching shared by
 * trhub's two evhttp servers (http_server.h).
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <event2/http.h>

#include "http_server.h"

const char *
http_server_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 302:
		return "Found";
	case 303:
		return "See Other";
	case 304:
		return "Not Modified";
	case 308:
		return "Permanent Redirect";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 412:
		return "Precondition Failed";
	case 413:
		return "Payload Too Large";
	case 415:
		return "Unsupported Media Type";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Status";
	}
}

const char *
http_server_method_name(enum evhttp_cmd_type method)
{
	switch (method) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	default:
		return "UNKNOWN";
	}
}

int
http_server_path_split(const char *path, size_t len, struct http_server_path *out)
{
	const char *p = path;
	const char *end = path + len;

	out->n = 0;
	if (len == 0 || path[0] != '/')
		return -EINVAL;
	while (p < end && *p == '/') {
		const char *seg = ++p;

		while (p < end && *p != '/')
			p++;
		if (out->n == HTTP_SERVER_MAX_SEGS)
			return -E2BIG;
		out->seg[out->n] = seg;
		out->len[out->n] = (size_t)(p - seg);
		out->n++;
	}
	return 0;
}

bool
http_server_route_match(const char *pattern, const struct http_server_path *path,
			struct http_server_capture *caps, size_t max_caps, size_t *ncaps_out,
			uint32_t *score_out)
{
	const char *p = pattern;
	size_t i = 0;
	size_t ncaps = 0;
	uint32_t score = 0;

	if (*p != '/')
		return false;
	while (*p == '/') {
		const char *seg = ++p;
		size_t seg_len;

		while (*p != '\0' && *p != '/')
			p++;
		seg_len = (size_t)(p - seg);
		if (i == path->n || i >= 32)
			return false;
		if (seg_len > 0 && seg[0] == '{') {
			const char *close = memchr(seg, '}', seg_len);
			size_t suffix;

			if (close == NULL)
				return false;
			suffix = seg_len - (size_t)(close + 1 - seg);
			if (path->len[i] <= suffix ||
			    memcmp(path->seg[i] + path->len[i] - suffix, close + 1, suffix) != 0)
				return false;
			if (caps != NULL && ncaps < max_caps) {
				caps[ncaps].seg = i;
				caps[ncaps].len = path->len[i] - suffix;
			}
			ncaps++;
		} else {
			if (path->len[i] != seg_len || memcmp(path->seg[i], seg, seg_len) != 0)
				return false;
			score |= 1u << (31 - i);
		}
		i++;
	}
	if (*p != '\0' || i != path->n)
		return false;
	if (ncaps_out != NULL)
		*ncaps_out = ncaps < max_caps ? ncaps : max_caps;
	if (score_out != NULL)
		*score_out = score;
	return true;
}
