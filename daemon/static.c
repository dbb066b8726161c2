/*
 * static: the page and asset table (static.h has the contract).
 *
 * What must stay true:
 * - Nothing is opened because of a request. The table is built once, from
 *   directory listings, and a request path is only ever a hash-map key, so
 *   "..", "%2e%2e", "//", NUL or symlinks cannot reach another file.
 * - Files are opened with openat(dirfd, name, O_NOFOLLOW) after an lstat-
 *   style check that they are regular files with plain names.
 * - Every answer has the CSP, nosniff and a Cache-Control; 404s too.
 */

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "hmap.h"
#include "log.h"
#include "signature.h"
#include "static.h"
#include "xmalloc.h"

#define STATIC_IMMUTABLE  "public, max-age=31536000, immutable"
#define STATIC_REVALIDATE "no-cache"

struct web_file {
	char *url;  /* the URL path it answers to (owned) */
	char *data; /* contents (owned) */
	size_t len;
	char *gz; /* precompressed twin, or NULL (owned) */
	size_t gz_len;
	char etag[48];	  /* "\"<sha256 prefix>\"" */
	char etag_gz[52]; /* "\"<sha256 prefix>-gz\"" */
	const char *content_type;
	const char *cache_control;
};

struct web_static {
	struct hmap *by_url; /* URL path -> struct web_file * (borrowed from files) */
	struct web_file **files;
	size_t n_files;
	size_t total_bytes;
	bool have_web;
};

static const struct {
	const char *ext;
	const char *type;
} web_types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".mjs", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".json", "application/json" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".jpg", "image/jpeg" },
	{ ".jpeg", "image/jpeg" },
	{ ".gif", "image/gif" },
	{ ".webp", "image/webp" },
	{ ".ico", "image/vnd.microsoft.icon" },
	{ ".woff2", "font/woff2" },
	{ ".txt", "text/plain; charset=utf-8" },
};

static const char *
web_content_type(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (dot == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(web_types) / sizeof(web_types[0]); i++) {
		if (strcasecmp(dot, web_types[i].ext) == 0)
			return web_types[i].type;
	}
	return NULL;
}

/* A plain file name: [A-Za-z0-9._-]+, no leading dot, at most NAME_MAX. */
static bool
web_plain_name(const char *name)
{
	size_t n = 0;

	if (name[0] == '.' || name[0] == '\0')
		return false;
	for (const char *p = name; *p != '\0'; p++, n++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return n <= NAME_MAX;
}

static bool
web_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s);
	size_t m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* "\"<first 40 hex digits of SHA-256>" + suffix + "\"" */
static void
web_etag(const char *data, size_t len, char *out, size_t size, const char *suffix)
{
	char hex[65];

	signature_sha256_hex(data, len, hex);
	snprintf(out, size, "\"%.40s%s\"", hex, suffix);
}

/*
 * Reads dirfd/name when it is a regular file (not a symlink) of at most
 * STATIC_FILE_MAX_BYTES. Returns 0, -ENOENT/-EINVAL for "skip it", or
 * another negative errno.
 */
static int
web_read_file(struct web_static *ws, int dirfd, const char *name, char **data_out, size_t *len_out)
{
	struct stat st;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	char *data = NULL;
	size_t got = 0;

	if (fd < 0)
		return errno == ELOOP ? -EINVAL : -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		(void)close(fd); /* read-only: nothing to flush */
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > STATIC_FILE_MAX_BYTES ||
	    ws->total_bytes + (size_t)st.st_size > STATIC_TOTAL_MAX_BYTES) {
		(void)close(fd);
		return -EFBIG;
	}
	data = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, data + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* shrank while reading: take what is there */
		got += (size_t)n;
	}
	(void)close(fd);
	data[got] = '\0';
	ws->total_bytes += got;
	*data_out = data;
	*len_out = got;
	return 0;
}

static struct web_file *
web_add(struct web_static *ws, const char *url, char *data, size_t len, const char *type,
	const char *cache_control)
{
	struct web_file *f = xcalloc(1, sizeof(*f));

	f->url = xstrdup(url);
	f->data = data;
	f->len = len;
	f->content_type = type;
	f->cache_control = cache_control;
	web_etag(data, len, f->etag, sizeof(f->etag), "");
	ws->files = xreallocarray(ws->files, ws->n_files + 1, sizeof(*ws->files));
	ws->files[ws->n_files++] = f;
	(void)hmap_put(ws->by_url, url, f); /* values are borrowed from ws->files */
	return f;
}

/* The URL a file of web_dir's top level answers to; NULL: not served. */
static const char *
web_top_url(const char *name, char *buf, size_t size)
{
	if (web_ends_with(name, ".html"))
		return NULL; /* pages are served by their routes only (web_page_urls) */
	snprintf(buf, size, "/%s", name);
	return buf;
}

/*
 * Loads every plain regular file of the directory (dirfd, consumed) under
 * prefix + name, with its .gz twin. Returns 0 or a negative errno with
 * *cause_out set.
 */
static int
web_load_dir(struct web_static *ws, int dirfd, const char *label, const char *prefix, bool top,
	     const char *cache_control, char **cause_out)
{
	DIR *dir = fdopendir(dirfd);
	struct dirent *de;
	int r = 0;

	if (dir == NULL) {
		r = -errno;
		(void)close(dirfd);
		*cause_out = xasprintf("cannot list %s: %s", label, strerror(-r));
		return r;
	}
	while ((de = readdir(dir)) != NULL) {
		const char *name = de->d_name;
		const char *type = NULL;
		const char *url = NULL;
		char urlbuf[NAME_MAX + 16];
		char *gzname = NULL;
		char *data = NULL;
		size_t len = 0;
		struct web_file *f = NULL;

		if (!web_plain_name(name) || web_ends_with(name, ".gz"))
			continue;
		type = web_content_type(name);
		if (type == NULL)
			continue;
		if (top) {
			url = web_top_url(name, urlbuf, sizeof(urlbuf));
			if (url == NULL && strcmp(name, "dashboard.html") != 0 &&
			    strcmp(name, "worker.html") != 0 && strcmp(name, "login.html") != 0)
				continue;
		} else {
			snprintf(urlbuf, sizeof(urlbuf), "%s%s", prefix, name);
			url = urlbuf;
		}
		if (ws->n_files >= STATIC_MAX_FILES) {
			*cause_out =
				xasprintf("%s has more than %u files", label, STATIC_MAX_FILES);
			r = -EFBIG;
			break;
		}
		r = web_read_file(ws, dirfd, name, &data, &len);
		if (r == -EINVAL || r == -ENOENT) {
			r = 0;
			continue;
		}
		if (r < 0) {
			*cause_out = xasprintf("cannot read %s/%s: %s", label, name, strerror(-r));
			break;
		}
		if (url == NULL) {
			/* A page: "/" and "/dashboard", "/worker", "/login". */
			const char *page = strcmp(name, "dashboard.html") == 0 ? "/dashboard"
					   : strcmp(name, "worker.html") == 0  ? "/worker"
									       : "/login";

			f = web_add(ws, page, data, len, type, STATIC_REVALIDATE);
			if (strcmp(page, "/dashboard") == 0)
				(void)hmap_put(ws->by_url, "/", f);
		} else {
			f = web_add(ws, url, data, len, type, cache_control);
		}
		gzname = xasprintf("%s.gz", name);
		if (web_read_file(ws, dirfd, gzname, &f->gz, &f->gz_len) == 0)
			web_etag(f->gz, f->gz_len, f->etag_gz, sizeof(f->etag_gz), "-gz");
		free(gzname);
	}
	(void)closedir(dir); /* closes dirfd too */
	return r;
}

static int
web_open_dir(int at, const char *path)
{
	return openat(at, path,
		      O_RDONLY | O_DIRECTORY | O_CLOEXEC | (at == AT_FDCWD ? 0 : O_NOFOLLOW));
}

static void
web_default(struct web_static *ws, const char *url, const char *text, const char *type)
{
	if (hmap_get(ws->by_url, url) == NULL)
		(void)web_add(ws, url, xstrdup(text), strlen(text), type, STATIC_REVALIDATE);
}

struct web_static *
web_static_load(const char *web_dir, const char *web_custom_dir, char **cause_out)
{
	struct web_static *ws = xcalloc(1, sizeof(*ws));
	int r = 0;

	ws->by_url = hmap_new();
	if (web_dir != NULL && web_dir[0] != '\0') {
		int fd = web_open_dir(AT_FDCWD, web_dir);
		int afd = -1;

		if (fd < 0) {
			*cause_out = xasprintf("web_dir %s: %s", web_dir, strerror(errno));
			goto fail;
		}
		afd = web_open_dir(fd, "assets");
		r = web_load_dir(ws, fd, web_dir, "/", true, STATIC_REVALIDATE, cause_out);
		if (r == 0 && afd >= 0)
			r = web_load_dir(ws, afd, "assets", "/assets/", false, STATIC_IMMUTABLE,
					 cause_out);
		else if (afd >= 0)
			(void)close(afd);
		if (r < 0)
			goto fail;
		if (hmap_get(ws->by_url, "/dashboard") == NULL) {
			*cause_out = xasprintf("web_dir %s has no dashboard.html (not a built web "
					       "tree; run ninja)",
					       web_dir);
			goto fail;
		}
		ws->have_web = true;
	}
	if (web_custom_dir != NULL && web_custom_dir[0] != '\0') {
		int fd = web_open_dir(AT_FDCWD, web_custom_dir);

		if (fd >= 0) {
			r = web_load_dir(ws, fd, web_custom_dir, "/custom/", false,
					 STATIC_REVALIDATE, cause_out);
			if (r < 0)
				goto fail;
		} else if (errno != ENOENT) {
			log_warning("web_custom_dir %s: %s; default branding", web_custom_dir,
				    strerror(errno));
		}
	}
	web_default(ws, "/custom/custom.css", "/* no custom CSS (web_custom_dir) */\n",
		    "text/css; charset=utf-8");
	web_default(ws, "/custom/branding.json", "{}\n", "application/json");
	return ws;
fail:
	web_static_free(ws);
	return NULL;
}

void
web_static_free(struct web_static *ws)
{
	if (ws == NULL)
		return;
	for (size_t i = 0; i < ws->n_files; i++) {
		free(ws->files[i]->url);
		free(ws->files[i]->data);
		free(ws->files[i]->gz);
		free(ws->files[i]);
	}
	free(ws->files);
	hmap_free(ws->by_url);
	free(ws);
}

size_t
web_static_count(const struct web_static *ws)
{
	return ws == NULL ? 0 : ws->n_files;
}

/* True when an Accept-Encoding value allows gzip (a "gzip" token without q=0). */
static bool
web_accepts_gzip(const char *ae)
{
	const char *p = ae;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, ',');
		size_t n = end == NULL ? strlen(p) : (size_t)(end - p);
		const char *q = NULL;

		while (n > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		if (n >= 4 && strncasecmp(p, "gzip", 4) == 0 &&
		    (n == 4 || p[4] == ';' || p[4] == ' ')) {
			q = memchr(p, '=', n);
			if (q == NULL)
				return true;
			q++;
			while (*q == ' ')
				q++;
			/* q=0, q=0.0, q=0.00...: refused; anything else accepts. */
			if (*q != '0')
				return true;
			for (q++; q < p + n && (*q == '.' || *q == '0'); q++)
				;
			return q < p + n && *q >= '1' && *q <= '9';
		}
		p = end == NULL ? NULL : end + 1;
	}
	return false;
}

/* True when If-None-Match lists etag (or is "*"). */
static bool
web_etag_matches(const char *inm, const char *etag)
{
	size_t n = strlen(etag);

	if (inm == NULL)
		return false;
	for (const char *p = inm; *p != '\0'; p++) {
		if (*p == '*')
			return true;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (strncmp(p, etag, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
			return true;
		p = strchr(p, ',');
		if (p == NULL)
			break;
	}
	return false;
}

static void
web_headers(struct evkeyvalq *h, const char *cache_control)
{
	evhttp_add_header(h, "Content-Security-Policy", STATIC_CSP);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Referrer-Policy", "same-origin");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Cache-Control", cache_control);
}

static void
web_reply_plain(struct evhttp_request *req, int status, const char *reason, const char *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	web_headers(h, "no-store");
	evhttp_add_header(h, "Content-Type", "application/json");
	evbuffer_add_printf(evhttp_request_get_output_buffer(req), "%s", body);
	evhttp_send_reply(req, status, reason, NULL);
}

void
web_static_serve(const struct web_static *ws, struct evhttp_request *req, const char *path)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	const struct web_file *f = NULL;
	bool gz = false;
	const char *etag = NULL;

	if (ws == NULL || (!ws->have_web && strncmp(path, "/custom/", 8) != 0)) {
		web_reply_plain(req, 503, "Service Unavailable",
				"{\"error\":\"unavailable\",\"detail\":\"no web pages: web_dir is "
				"not a built web tree\"}");
		return;
	}
	f = hmap_get(ws->by_url, path);
	if (f == NULL) {
		web_reply_plain(req, 404, "Not Found",
				"{\"error\":\"not_found\",\"detail\":\"no such file\"}");
		return;
	}
	gz = f->gz != NULL && web_accepts_gzip(evhttp_find_header(in, "Accept-Encoding"));
	etag = gz ? f->etag_gz : f->etag;
	web_headers(h, f->cache_control);
	evhttp_add_header(h, "ETag", etag);
	if (f->gz != NULL)
		evhttp_add_header(h, "Vary", "Accept-Encoding");
	if (web_etag_matches(evhttp_find_header(in, "If-None-Match"), etag)) {
		evhttp_send_reply(req, 304, "Not Modified", NULL);
		return;
	}
	evhttp_add_header(h, "Content-Type", f->content_type);
	if (gz)
		evhttp_add_header(h, "Content-Encoding", "gzip");
	/* Shared by reference: the table outlives every reply. */
	if (evbuffer_add_reference(evhttp_request_get_output_buffer(req), gz ? f->gz : f->data,
				   gz ? f->gz_len : f->len, NULL, NULL) < 0)
		log_warning("static: cannot queue %s", path);
	evhttp_send_reply(req, 200, "OK", NULL);
}

char *
web_static_default_dir(const char *installed_dir)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash = NULL;
	char *candidate = NULL;
	struct stat st;

	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash != NULL) {
			*slash = '\0';
			candidate = xasprintf("%s/../web/dashboard.html", exe);
			if (stat(candidate, &st) == 0 && S_ISREG(st.st_mode)) {
				candidate[strlen(candidate) - strlen("/dashboard.html")] = '\0';
				return candidate;
			}
			free(candidate);
		}
	}
	return xstrdup(installed_dir);
}
