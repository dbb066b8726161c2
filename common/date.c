/*
 * date: Twilio's date forms and the millisecond clocks (date.h has the
 * contract). The calendar arithmetic is Howard Hinnant's days_from_civil
 * and civil_from_days, so nothing depends on timegm, TZ or the locale.
 */

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "date.h"
#include "num.h"

#define DATE_DAY_S 86400LL

static const char *const date_weekdays[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const date_months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

int64_t
date_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

int64_t
date_days_from_civil(int64_t y, int m, int d)
{
	int64_t era;
	int64_t yoe;
	int64_t doy;
	int64_t doe;

	if (m <= 2)
		y--;
	era = date_floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void
date_civil_from_days(int64_t days, int64_t *y_out, int *m_out, int *d_out)
{
	int64_t z = days + 719468;
	int64_t era = date_floor_div(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int m = (int)(mp < 10 ? mp + 3 : mp - 9);

	*d_out = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m_out = m;
	*y_out = yoe + era * 400 + (m <= 2 ? 1 : 0);
}

int
date_days_in_month(int64_t y, int m)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dim[m - 1];
}

/* Reads exactly n digits. */
static bool
date_digits(const char **s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*s)[i]))
			return false;
		v = v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	*out = v;
	return true;
}

/* Milliseconds of a valid civil date-time; false for an impossible one. */
static bool
date_compose(int64_t y, int mo, int d, int h, int mi, int sec, int64_t off_s, int64_t *ms_out)
{
	if (mo < 1 || mo > 12 || d < 1 || d > date_days_in_month(y, mo) || h > 23 || mi > 59 ||
	    sec > 60)
		return false;
	*ms_out = (date_days_from_civil(y, mo, d) * DATE_DAY_S + h * 3600 + mi * 60 + sec - off_s) *
		  1000;
	return true;
}

int
date_parse_iso(const char *s, enum date_iso_mode mode, int64_t *ms_out)
{
	int y;
	int mo;
	int d;
	int h = 0;
	int mi = 0;
	int sec = 0;
	int ms = 0;
	int64_t off_s = 0;
	int64_t t = 0;

	if (s == NULL || !date_digits(&s, 4, &y) || *s++ != '-' || !date_digits(&s, 2, &mo) ||
	    *s++ != '-' || !date_digits(&s, 2, &d))
		return -EINVAL;
	if (*s == '\0' && mode == DATE_ISO_LENIENT)
		goto done;
	if (*s != 'T' && *s != ' ')
		return -EINVAL;
	s++;
	if (!date_digits(&s, 2, &h) || *s++ != ':' || !date_digits(&s, 2, &mi) || *s++ != ':' ||
	    !date_digits(&s, 2, &sec))
		return -EINVAL;
	if (*s == '.') {
		int scale = 100;

		s++;
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		while (isdigit((unsigned char)*s)) {
			ms += (*s - '0') * scale;
			scale /= 10;
			s++;
		}
	}
	if (*s == 'Z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		int sign = *s == '-' ? -1 : 1;
		int oh;
		int om;

		s++;
		if (!date_digits(&s, 2, &oh) || *s++ != ':' || !date_digits(&s, 2, &om) ||
		    oh > 23 || om > 59)
			return -EINVAL;
		off_s = sign * (oh * 3600 + om * 60);
	} else if (mode != DATE_ISO_LENIENT) {
		return -EINVAL;
	}
	if (*s != '\0')
		return -EINVAL;
done:
	if (!date_compose(y, mo, d, h, mi, sec, off_s, &t))
		return -EINVAL;
	*ms_out = t + ms;
	return 0;
}

/* Index of a three-letter English name in names (case-insensitive), or -1. */
static int
date_name_index(const char **s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++) {
		if (strncasecmp(*s, names[i], 3) == 0) {
			*s += 3;
			return i;
		}
	}
	return -1;
}

int
date_parse_rfc2822(const char *s, int64_t *ms_out)
{
	int d;
	int mo;
	int y;
	int h;
	int mi;
	int sec;
	int64_t off_s = 0;
	int64_t t = 0;

	if (s == NULL)
		return -EINVAL;
	if (isalpha((unsigned char)*s)) {
		if (date_name_index(&s, date_weekdays, 7) < 0 || *s++ != ',')
			return -EINVAL;
		while (*s == ' ')
			s++;
	}
	if (!date_digits(&s, 2, &d) && !date_digits(&s, 1, &d))
		return -EINVAL;
	if (*s++ != ' ')
		return -EINVAL;
	mo = date_name_index(&s, date_months, 12) + 1;
	if (mo < 1 || *s++ != ' ' || !date_digits(&s, 4, &y) || *s++ != ' ')
		return -EINVAL;
	if (!date_digits(&s, 2, &h) || *s++ != ':' || !date_digits(&s, 2, &mi) || *s++ != ':' ||
	    !date_digits(&s, 2, &sec) || *s++ != ' ')
		return -EINVAL;
	if (*s == '+' || *s == '-') {
		int sign = *s == '-' ? -1 : 1;
		int oh;
		int om;

		s++;
		if (!date_digits(&s, 2, &oh) || !date_digits(&s, 2, &om) || oh > 23 || om > 59)
			return -EINVAL;
		off_s = sign * (oh * 3600 + om * 60);
	} else if (strcmp(s, "GMT") == 0 || strcmp(s, "UT") == 0 || strcmp(s, "Z") == 0) {
		s += strlen(s);
	} else {
		return -EINVAL;
	}
	if (*s != '\0' || !date_compose(y, mo, d, h, mi, sec, off_s, &t))
		return -EINVAL;
	*ms_out = t;
	return 0;
}

int
date_parse(const char *s, int64_t *ms_out)
{
	int64_t v = 0;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	if (num_parse_i64(s, 0, INT64_MAX / 1000, &v) == 0) {
		*ms_out = v >= DATE_MS_THRESHOLD ? v : v * 1000;
		return 0;
	}
	if (isdigit((unsigned char)*s) && s[1] != '\0' && isdigit((unsigned char)s[1]) &&
	    date_parse_iso(s, DATE_ISO_STRICT, &v) == 0) {
		*ms_out = v;
		return 0;
	}
	if (date_parse_rfc2822(s, &v) == 0) {
		*ms_out = v;
		return 0;
	}
	return -EINVAL;
}

/* Writes v (>= 0) as exactly n decimal digits. */
static void
date_put_digits(char *out, int v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		out[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* The civil fields of utc_ms, years clamped to 0..9999. */
static void
date_fields(int64_t utc_ms, int64_t *y, int *m, int *d, int64_t *sod, int *wday)
{
	int64_t t = date_floor_div(utc_ms, 1000);
	int64_t days = date_floor_div(t, DATE_DAY_S);

	*sod = t - days * DATE_DAY_S;
	*wday = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
	date_civil_from_days(days, y, m, d);
	if (*y < 0 || *y > 9999)
		*y = *y < 0 ? 0 : 9999;
}

void
date_format_iso(int64_t utc_ms, char out[DATE_ISO_LEN])
{
	int64_t y;
	int64_t sod;
	int m;
	int d;
	int wday;

	date_fields(utc_ms, &y, &m, &d, &sod, &wday);
	date_put_digits(out, (int)y, 4);
	out[4] = '-';
	date_put_digits(out + 5, m, 2);
	out[7] = '-';
	date_put_digits(out + 8, d, 2);
	out[10] = 'T';
	date_put_digits(out + 11, (int)(sod / 3600), 2);
	out[13] = ':';
	date_put_digits(out + 14, (int)(sod / 60 % 60), 2);
	out[16] = ':';
	date_put_digits(out + 17, (int)(sod % 60), 2);
	out[19] = 'Z';
	out[20] = '\0';
}

void
date_format_rfc2822(int64_t utc_ms, char out[DATE_RFC2822_LEN])
{
	int64_t y;
	int64_t sod;
	int m;
	int d;
	int wday;

	date_fields(utc_ms, &y, &m, &d, &sod, &wday);
	memcpy(out, date_weekdays[wday], 3);
	out[3] = ',';
	out[4] = ' ';
	date_put_digits(out + 5, d, 2);
	out[7] = ' ';
	memcpy(out + 8, date_months[m - 1], 3);
	out[11] = ' ';
	date_put_digits(out + 12, (int)y, 4);
	out[16] = ' ';
	date_put_digits(out + 17, (int)(sod / 3600), 2);
	out[19] = ':';
	date_put_digits(out + 20, (int)(sod / 60 % 60), 2);
	out[22] = ':';
	date_put_digits(out + 23, (int)(sod % 60), 2);
	memcpy(out + 25, " +0000", 7); /* with the NUL */
}

static int64_t
date_clock_ms(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
date_now_ms(void)
{
	return date_clock_ms(CLOCK_REALTIME);
}

int64_t
date_monotonic_ms(void)
{
	return date_clock_ms(CLOCK_MONOTONIC);
}
