/*
 * tz: UTC offsets from TZif files and the start of the operational day.
 *
 * A zone is immutable after loading: the 64-bit transition table of the
 * TZif v2+ body (or the 32-bit one of a v1 file), the UTC offset of each
 * local time type, and the POSIX TZ string of the footer, which RFC 8536
 * says governs every instant after the last transition (slim zone files end
 * their tables early and rely on it). Leap-second records are ignored: the
 * "posix" zones trhub reads have none, and TaskRouter times are POSIX times.
 *
 * Nothing here reads the TZ environment variable or calls localtime_r, so
 * the result does not depend on, and never changes, process-wide state.
 */

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "date.h"
#include "tz.h"
#include "xmalloc.h"

#define TZ_MAX_FILE_BYTES  (1024 * 1024)
#define TZ_MAX_TRANSITIONS 100000u
#define TZ_MAX_TYPES	   256u
#define TZ_HEADER_LEN	   44u
#define TZ_DAY_S	   86400

/* One date of a POSIX TZ rule: Jn (1..365, no Feb 29), n (0..365), or Mm.w.d. */
struct tz_rule_date {
	char kind; /* 'J', 'D' or 'M' */
	int n;
	int month;
	int week;
	int wday;
	int32_t time_s; /* local time of day of the change, may be negative or > 24 h */
};

struct tz_posix {
	bool valid;
	bool has_dst;
	int32_t std_off; /* local - UTC in standard time */
	int32_t dst_off; /* local - UTC in daylight time */
	struct tz_rule_date start;
	struct tz_rule_date end;
};

struct tz_zone {
	int64_t *trans; /* transition instants, ascending */
	uint8_t *idx;	/* type index per transition */
	int32_t *utoff; /* local - UTC per type */
	size_t ntrans;
	size_t ntypes;
	struct tz_posix footer;
};

/* Local seconds since the epoch (in the rule's own offset) of a rule date in year y. */
static int64_t
tz_rule_local(const struct tz_rule_date *r, int64_t y)
{
	int64_t day = 0;

	switch (r->kind) {
	case 'J':
		day = date_days_from_civil(y, 1, 1) + r->n - 1;
		if ((date_days_in_month(y, 2) == 29) && r->n >= 60)
			day++;
		break;
	case 'D':
		day = date_days_from_civil(y, 1, 1) + r->n;
		break;
	case 'M': {
		int64_t first = date_days_from_civil(y, r->month, 1);
		int dow1 = (int)((first % 7 + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
		int mday = 1 + (r->wday - dow1 + 7) % 7 + (r->week - 1) * 7;

		while (mday > date_days_in_month(y, r->month))
			mday -= 7;
		day = first + mday - 1;
		break;
	}
	default:
		break;
	}
	return day * TZ_DAY_S + r->time_s;
}

static int32_t
tz_posix_offset(const struct tz_posix *p, int64_t t)
{
	int64_t y;
	int m;
	int d;
	int64_t start;
	int64_t end;

	if (!p->has_dst)
		return p->std_off;
	date_civil_from_days(date_floor_div(t + p->std_off, TZ_DAY_S), &y, &m, &d);
	start = tz_rule_local(&p->start, y) - p->std_off;
	end = tz_rule_local(&p->end, y) - p->dst_off;
	if (start < end)
		return t >= start && t < end ? p->dst_off : p->std_off;
	return t >= end && t < start ? p->std_off : p->dst_off;
}

/* Parses a zone abbreviation: <...> or at least three letters. */
static bool
tz_posix_name(const char **s)
{
	const char *p = *s;

	if (*p == '<') {
		while (*p != '\0' && *p != '>')
			p++;
		if (*p != '>')
			return false;
		*s = p + 1;
		return true;
	}
	while (isalpha((unsigned char)*p))
		p++;
	if (p - *s < 3)
		return false;
	*s = p;
	return true;
}

/* [+-]hh[:mm[:ss]] with hh up to max_h. */
static bool
tz_posix_hms(const char **s, int max_h, int32_t *out)
{
	const char *p = *s;
	int sign = 1;
	int32_t part[3] = { 0, 0, 0 };
	int i;

	if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		p++;
	}
	for (i = 0; i < 3; i++) {
		int digits = 0;

		if (i > 0) {
			if (*p != ':')
				break;
			p++;
		}
		while (isdigit((unsigned char)*p) && digits < 3) {
			part[i] = part[i] * 10 + (*p - '0');
			p++;
			digits++;
		}
		if (digits == 0)
			return false;
	}
	if (part[0] > max_h || part[1] > 59 || part[2] > 59)
		return false;
	*out = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
	*s = p;
	return true;
}

static bool
tz_posix_int(const char **s, int lo, int hi, int *out)
{
	const char *p = *s;
	int v = 0;
	int digits = 0;

	while (isdigit((unsigned char)*p) && digits < 4) {
		v = v * 10 + (*p - '0');
		p++;
		digits++;
	}
	if (digits == 0 || v < lo || v > hi)
		return false;
	*out = v;
	*s = p;
	return true;
}

static bool
tz_posix_date(const char **s, struct tz_rule_date *r)
{
	const char *p = *s;

	r->time_s = 2 * 3600;
	if (*p == 'J') {
		p++;
		r->kind = 'J';
		if (!tz_posix_int(&p, 1, 365, &r->n))
			return false;
	} else if (*p == 'M') {
		p++;
		r->kind = 'M';
		if (!tz_posix_int(&p, 1, 12, &r->month) || *p++ != '.' ||
		    !tz_posix_int(&p, 1, 5, &r->week) || *p++ != '.' ||
		    !tz_posix_int(&p, 0, 6, &r->wday))
			return false;
	} else {
		r->kind = 'D';
		if (!tz_posix_int(&p, 0, 365, &r->n))
			return false;
	}
	if (*p == '/') {
		p++;
		if (!tz_posix_hms(&p, 167, &r->time_s))
			return false;
	}
	*s = p;
	return true;
}

/* Parses a POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3". */
static bool
tz_posix_parse(const char *s, struct tz_posix *p)
{
	int32_t off = 0;

	memset(p, 0, sizeof(*p));
	if (!tz_posix_name(&s) || !tz_posix_hms(&s, 24, &off))
		return false;
	p->std_off = -off; /* POSIX offsets count west of Greenwich */
	if (*s == '\0') {
		p->valid = true;
		return true;
	}
	if (!tz_posix_name(&s))
		return false;
	p->has_dst = true;
	p->dst_off = p->std_off + 3600;
	if (*s != ',' && *s != '\0') {
		if (!tz_posix_hms(&s, 24, &off))
			return false;
		p->dst_off = -off;
	}
	if (*s == '\0') {
		/* No rule: the US rule glibc assumes. */
		const char *us = ",M3.2.0,M11.1.0";

		s = us;
	}
	if (*s++ != ',' || !tz_posix_date(&s, &p->start) || *s++ != ',' ||
	    !tz_posix_date(&s, &p->end) || *s != '\0')
		return false;
	p->valid = true;
	return true;
}

static uint32_t
tz_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t
tz_be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)tz_be32(p) << 32 | tz_be32(p + 4));
}

static int
tz_fail(char **cause_out, int r, const char *msg)
{
	if (cause_out != NULL)
		*cause_out = xstrdup(msg);
	return r;
}

struct tz_counts {
	uint32_t isut;
	uint32_t isstd;
	uint32_t leap;
	uint32_t time;
	uint32_t type;
	uint32_t chars;
};

static bool
tz_read_header(const unsigned char *p, size_t len, struct tz_counts *c, char *version_out)
{
	if (len < TZ_HEADER_LEN || memcmp(p, "TZif", 4) != 0)
		return false;
	*version_out = (char)p[4];
	c->isut = tz_be32(p + 20);
	c->isstd = tz_be32(p + 24);
	c->leap = tz_be32(p + 28);
	c->time = tz_be32(p + 32);
	c->type = tz_be32(p + 36);
	c->chars = tz_be32(p + 40);
	return c->time <= TZ_MAX_TRANSITIONS && c->type >= 1 && c->type <= TZ_MAX_TYPES &&
	       c->leap <= TZ_MAX_TRANSITIONS && c->chars <= 65536 && c->isut <= c->type &&
	       c->isstd <= c->type;
}

static size_t
tz_body_len(const struct tz_counts *c, size_t time_size)
{
	return (size_t)c->time * (time_size + 1) + (size_t)c->type * 6 + c->chars +
	       (size_t)c->leap * (time_size + 4) + c->isstd + c->isut;
}

int
tz_zone_parse(const unsigned char *data, size_t len, struct tz_zone **zone_out, char **cause_out)
{
	struct tz_zone *z = NULL;
	struct tz_counts c;
	const unsigned char *p = data;
	size_t time_size = 4;
	size_t body;
	char version = 0;
	char *footer = NULL;
	int r = -EINVAL;

	if (!tz_read_header(p, len, &c, &version))
		return tz_fail(cause_out, -EINVAL, "not a TZif file");
	body = tz_body_len(&c, 4);
	if (len - TZ_HEADER_LEN < body)
		return tz_fail(cause_out, -EINVAL, "TZif file truncated");
	if (version >= '2') {
		p += TZ_HEADER_LEN + body;
		len -= TZ_HEADER_LEN + body;
		if (!tz_read_header(p, len, &c, &version))
			return tz_fail(cause_out, -EINVAL, "bad TZif v2 header");
		time_size = 8;
		body = tz_body_len(&c, 8);
		if (len - TZ_HEADER_LEN < body)
			return tz_fail(cause_out, -EINVAL, "TZif file truncated");
	}
	z = xcalloc(1, sizeof(*z));
	z->ntrans = c.time;
	z->ntypes = c.type;
	z->trans = xcalloc(c.time + 1, sizeof(*z->trans));
	z->idx = xcalloc(c.time + 1, sizeof(*z->idx));
	z->utoff = xcalloc(c.type, sizeof(*z->utoff));
	p += TZ_HEADER_LEN;
	for (size_t i = 0; i < c.time; i++) {
		z->trans[i] = time_size == 8 ? tz_be64(p) : (int32_t)tz_be32(p);
		p += time_size;
		if (i > 0 && z->trans[i] <= z->trans[i - 1]) {
			r = tz_fail(cause_out, -EINVAL, "TZif transitions not ascending");
			goto fail;
		}
	}
	for (size_t i = 0; i < c.time; i++) {
		z->idx[i] = *p++;
		if (z->idx[i] >= c.type) {
			r = tz_fail(cause_out, -EINVAL, "TZif type index out of range");
			goto fail;
		}
	}
	for (size_t i = 0; i < c.type; i++) {
		z->utoff[i] = (int32_t)tz_be32(p);
		if (z->utoff[i] < -26 * 3600 || z->utoff[i] > 26 * 3600) {
			r = tz_fail(cause_out, -EINVAL, "TZif offset out of range");
			goto fail;
		}
		p += 6;
	}
	p += c.chars + (size_t)c.leap * (time_size + 4) + c.isstd + c.isut;
	len -= TZ_HEADER_LEN + body;
	if (time_size == 8 && len >= 2 && p[0] == '\n') {
		const unsigned char *nl = memchr(p + 1, '\n', len - 1);

		if (nl != NULL && nl > p + 1) {
			footer = xstrndup((const char *)p + 1, (size_t)(nl - p - 1));
			if (!tz_posix_parse(footer, &z->footer)) {
				r = tz_fail(cause_out, -EINVAL, "bad TZ string in TZif footer");
				goto fail;
			}
		}
	}
	free(footer);
	*zone_out = z;
	return 0;
fail:
	free(footer);
	tz_zone_free(z);
	return r;
}

static bool
tz_name_ok(const char *name)
{
	if (name[0] == '/' || strstr(name, "..") != NULL || strlen(name) > 255)
		return false;
	for (const char *p = name; *p != '\0'; p++) {
		unsigned char ch = (unsigned char)*p;

		if (!isalnum(ch) && ch != '/' && ch != '_' && ch != '+' && ch != '-')
			return false;
	}
	return true;
}

int
tz_zone_load(const char *dir, const char *name, struct tz_zone **zone_out, char **cause_out)
{
	struct stat st;
	unsigned char *data = NULL;
	char *path = NULL;
	size_t got = 0;
	int fd = -1;
	int r;

	if (name == NULL || name[0] == '\0' || strcmp(name, "UTC") == 0) {
		*zone_out = tz_zone_utc();
		return 0;
	}
	if (!tz_name_ok(name))
		return tz_fail(cause_out, -EINVAL, "not a time zone name");
	if (dir == NULL || dir[0] == '\0')
		dir = TZ_DEFAULT_DIR;
	path = xasprintf("%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		r = -errno;
		if (cause_out != NULL)
			*cause_out = xasprintf("%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > TZ_MAX_FILE_BYTES) {
		r = -EINVAL;
		if (cause_out != NULL)
			*cause_out = xasprintf("%s: not a zone file", path);
		goto out;
	}
	data = xmalloc((size_t)st.st_size);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, data + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			if (cause_out != NULL)
				*cause_out = xasprintf("%s: short read", path);
			goto out;
		}
		got += (size_t)n;
	}
	r = tz_zone_parse(data, got, zone_out, cause_out);
out:
	close_and_reset(fd);
	free(data);
	free(path);
	return r;
}

struct tz_zone *
tz_zone_utc(void)
{
	struct tz_zone *z = xcalloc(1, sizeof(*z));

	z->ntypes = 1;
	z->utoff = xcalloc(1, sizeof(*z->utoff));
	z->footer.valid = true;
	return z;
}

void
tz_zone_free(struct tz_zone *z)
{
	if (z == NULL)
		return;
	free(z->trans);
	free(z->idx);
	free(z->utoff);
	free(z);
}

int32_t
tz_offset_s(const struct tz_zone *z, int64_t utc_s)
{
	size_t lo = 0;
	size_t hi;

	if (z->ntrans == 0)
		return z->footer.valid ? tz_posix_offset(&z->footer, utc_s) : z->utoff[0];
	if (utc_s < z->trans[0])
		return z->utoff[0];
	hi = z->ntrans; /* invariant: trans[lo] <= utc_s, and trans[hi] > utc_s or hi == ntrans */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (z->trans[mid] <= utc_s)
			lo = mid;
		else
			hi = mid;
	}
	if (lo == z->ntrans - 1 && z->footer.valid)
		return tz_posix_offset(&z->footer, utc_s);
	return z->utoff[z->idx[lo]];
}

/*
 * UTC instant of local wall-clock time local_s. Real zones change offset at
 * most once within a day, so the offsets one day either side are the only
 * candidates: a time that exists twice maps to its first occurrence, a time
 * inside a gap to the instant the clock would show it had it not jumped.
 */
static int64_t
tz_local_to_utc(const struct tz_zone *z, int64_t local_s)
{
	int32_t before = tz_offset_s(z, local_s - TZ_DAY_S);
	int32_t after = tz_offset_s(z, local_s + TZ_DAY_S);
	int64_t u1 = local_s - before;
	int64_t u2 = local_s - after;
	bool ok1 = u1 + tz_offset_s(z, u1) == local_s;
	bool ok2 = u2 + tz_offset_s(z, u2) == local_s;

	if (ok1 && ok2)
		return u1 < u2 ? u1 : u2;
	if (ok2)
		return u2;
	return u1;
}

int64_t
tz_day_start_ms(const struct tz_zone *z, int day_start_minutes, int64_t utc_ms)
{
	int64_t t = date_floor_div(utc_ms, 1000);
	int64_t day = date_floor_div(t + tz_offset_s(z, t), TZ_DAY_S);
	int64_t u = 0;

	for (int i = 0; i < 3; i++) {
		u = tz_local_to_utc(z, (day - i) * TZ_DAY_S + (int64_t)day_start_minutes * 60);
		if (u <= t)
			break;
	}
	return u * 1000;
}
