#pragma once

/*
 * static: the pages trhubd serves (the dashboard, the agent page, the login
 * page and their bundled assets from web_dir; branding from web_custom_dir).
 *
 * Path traversal is impossible by construction: at start every servable
 * file is read into memory under the exact URL path it answers to, and a
 * request is a lookup of its path in that table; nothing is opened from a
 * request. Only regular files with plain names ([A-Za-z0-9._-], no leading
 * dot) directly in web_dir, in web_dir/assets and in web_custom_dir are
 * taken, opened with O_NOFOLLOW relative to their directory.
 *
 * Each answer carries a strong ETag (SHA-256 of the bytes; the gzip twin has
 * its own), Cache-Control (immutable for assets/, whose names carry a
 * content hash; no-cache for pages and branding), the precompressed
 * "name.gz" twin when the client accepts gzip (Vary: Accept-Encoding), the
 * content type from the name, and a strict Content-Security-Policy
 * (STATIC_CSP): no script, style or connection to any other host, no inline
 * script.
 */

#include <stdbool.h>
#include <stddef.h>

#include <event2/http.h>

#define STATIC_CSP                                                                         \
	"default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; " \
	"form-action 'self'"
/* Bounds on what is loaded at start: per file and in total. */
#define STATIC_FILE_MAX_BYTES  (8u * 1024 * 1024)
#define STATIC_TOTAL_MAX_BYTES (64u * 1024 * 1024)
#define STATIC_MAX_FILES       1024

struct web_static;

/*
 * Loads web_dir (may be NULL: no pages, every page route answers 503) and
 * web_custom_dir (may be NULL or missing: default branding). Returns NULL
 * with an allocated message in *cause_out when web_dir is given but has no
 * dashboard.html (not a built web tree) or a bound is exceeded.
 */
struct web_static *web_static_load(const char *web_dir, const char *web_custom_dir,
				   char **cause_out);
void web_static_free(struct web_static *ws);
/* Files loaded (both directories, gzip twins not counted). */
size_t web_static_count(const struct web_static *ws);

/*
 * Answers GET/HEAD req for path ("/", "/dashboard", "/worker", "/login",
 * "/assets/...", "/custom/...", "/favicon.svg"): 200, 304 (If-None-Match),
 * 404 (not in the table) or 503 (ws NULL: no web tree). ws may be NULL.
 */
void web_static_serve(const struct web_static *ws, struct evhttp_request *req, const char *path);

/*
 * The default web_dir: "<dir of the running binary>/../web" when that holds
 * a built tree (running from the build tree: build/daemon/trhubd and
 * build/web), else installed_dir. Caller frees.
 */
char *web_static_default_dir(const char *installed_dir);
