/*
 * confread.c - the line rules every kurir file shares: reading a file
 * whole (bounded), splitting it into lines, "file:line: reason" errors,
 * and the value parsers for durations, sizes and booleans.  Used by
 * conf.c and table.c, in whatever uid the calling program has.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"

/* ---- shared helpers ---------------------------------------------------- */

int
conf_error(char *err, size_t errlen, const char *name, unsigned long line,
    const char *fmt, ...)
{
	va_list ap;
	size_t i;
	int n;

	if (err == NULL || errlen == 0)
		return -1;
	if (line > 0)
		n = snprintf(err, errlen, "%s:%lu: ", name ? name : "?", line);
	else
		n = snprintf(err, errlen, "%s: ", name ? name : "?");
	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		(void)vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	for (i = 0; err[i] != '\0'; i++)
		if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] > 0x7e)
			err[i] = '?';
	return -1;
}

int
conf_read_file(const char *path, size_t max, struct buf *b)
{
	char chunk[8192];
	ssize_t r;
	int fd, saved;

	buf_init(b, max);
	/* O_NONBLOCK: a FIFO put where a file belongs must not hang us;
	 * /dev/null stays usable as an empty table */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return -1;
	for (;;) {
		r = read(fd, chunk, sizeof(chunk));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (buf_add(b, chunk, (size_t)r) == -1) {
			if (errno == EMSGSIZE)
				errno = EFBIG;
			r = -1;
			break;
		}
	}
	saved = errno;
	(void)close(fd);
	if (r == -1) {
		buf_free(b);
		errno = saved;
		return -1;
	}
	return 0;
}

void
conf_reader_init(struct conf_reader *r, const char *name, const char *data,
    size_t len)
{
	r->name = name;
	r->p = data;
	r->end = data ? data + len : data;
	r->line = 0;
}

int
conf_reader_next(struct conf_reader *r, char *line, size_t linelen,
    char *err, size_t errlen)
{
	const char *nl, *s;
	size_t len;

	if (linelen <= CONF_LINE_MAX)
		return conf_error(err, errlen, r->name, r->line,
		    "internal error: line buffer too small");
	while (r->p != NULL && r->p < r->end) {
		r->line++;
		nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
		len = nl ? (size_t)(nl - r->p) : (size_t)(r->end - r->p);
		s = r->p;
		r->p = nl ? nl + 1 : r->end;
		if (len > 0 && s[len - 1] == '\r')
			len--;
		if (len > CONF_LINE_MAX)
			return conf_error(err, errlen, r->name, r->line,
			    "line longer than %d bytes", CONF_LINE_MAX);
		if (memchr(s, '\0', len) != NULL)
			return conf_error(err, errlen, r->name, r->line,
			    "NUL byte in line");
		while (len > 0 && (*s == ' ' || *s == '\t')) {
			s++;
			len--;
		}
		while (len > 0 && isspace((unsigned char)s[len - 1]))
			len--;
		if (len == 0 || *s == '#')
			continue;
		memcpy(line, s, len);
		line[len] = '\0';
		return 1;
	}
	return 0;
}

/* ---- value parsers ----------------------------------------------------- */

/* Leading digits of s as a number 0..LLONG_MAX; *end after them. */
int
conf_parse_digits(const char *s, long long *n, const char **end)
{
	char digits[24];
	const char *errstr;
	size_t len = 0;

	while (s[len] >= '0' && s[len] <= '9')
		len++;
	if (len == 0 || len >= sizeof(digits))
		return -1;
	memcpy(digits, s, len);
	digits[len] = '\0';
	*n = strtonum(digits, 0, LLONG_MAX, &errstr);
	if (errstr != NULL)
		return -1;
	*end = s + len;
	return 0;
}

int
conf_parse_duration(const char *s, long long *secs)
{
	long long n, mult = 1;
	const char *end;

	if (s == NULL || conf_parse_digits(s, &n, &end) == -1)
		goto bad;
	switch (*end) {
	case '\0': case 's': case 'S': mult = 1; break;
	case 'm': case 'M': mult = 60; break;
	case 'h': case 'H': mult = 3600; break;
	case 'd': case 'D': mult = 86400; break;
	default: goto bad;
	}
	if (*end != '\0' && end[1] != '\0')
		goto bad;
	if (n > LLONG_MAX / mult)
		goto bad;
	*secs = n * mult;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int
conf_parse_size(const char *s, uint64_t *bytes)
{
	long long n;
	uint64_t mult = 1;
	const char *end;

	if (s == NULL || conf_parse_digits(s, &n, &end) == -1)
		goto bad;
	switch (*end) {
	case '\0': mult = 1; break;
	case 'k': case 'K': mult = 1024; break;
	case 'm': case 'M': mult = 1024 * 1024; break;
	case 'g': case 'G': mult = 1024 * 1024 * 1024; break;
	default: goto bad;
	}
	if (*end != '\0' && end[1] != '\0')
		goto bad;
	if ((uint64_t)n > UINT64_MAX / mult)
		goto bad;
	*bytes = (uint64_t)n * mult;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int
conf_parse_bool(const char *s, int *b)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; s != NULL && i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*b = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*b = 0;
			return 0;
		}
	}
	errno = EINVAL;
	return -1;
}
