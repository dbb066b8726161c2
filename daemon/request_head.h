#pragma once

/*
 * request_head: the strict checks of one HTTP/1.x request head (RFC 9112),
 * line by line, before evhttp ever parses it (server.c's connection
 * filter). No I/O and no allocation: the caller splits the bytes at line
 * ends (LF, with an optional CR before it, removed) and feeds each line.
 *
 * Refused, each with its status:
 *   400  a malformed request line or method; a target with blanks or
 *        control bytes; a bare CR; a header line starting with a blank
 *        (obs-fold); a header name that is not a token (whitespace before
 *        the colon included); NUL or another control byte in a value; two
 *        Content-Length headers, or one that is not decimal digits; two
 *        Host headers, or none in HTTP/1.1; Transfer-Encoding together with
 *        Content-Length
 *   501  Transfer-Encoding without Content-Length (request bodies must be
 *        sized: no chunked uploads)
 *   505  an HTTP version other than 1.0 and 1.1
 * Empty lines before the request line are skipped (RFC 9112 2.2).
 */

#include <stdbool.h>
#include <stddef.h>

#define REQUEST_HEAD_METHOD_MAX 16
#define REQUEST_HEAD_TARGET_MAX 8192
#define REQUEST_HEAD_PATH_MAX	128

/* The caller's state for one request head; request_head_reset before each. */
struct request_head {
	bool line_seen;
	bool http11;
	bool has_length;
	bool has_te;
	unsigned hosts;
	size_t content_length; /* 0 without Content-Length */
	char method[REQUEST_HEAD_METHOD_MAX + 1];
	/* The target's path (before '?'), "" when longer than the buffer or not origin-form. */
	char path[REQUEST_HEAD_PATH_MAX];
};

void request_head_reset(struct request_head *h);

/*
 * One line of the head, without its line end (len bytes, may hold NULs).
 * Returns 0 when more lines are wanted, 1 when this (empty) line ended a
 * head that passed every check, or the refusal's HTTP status with a
 * sentence for the peer in *why_out (static text).
 */
int request_head_line(struct request_head *h, const char *line, size_t len, const char **why_out);
