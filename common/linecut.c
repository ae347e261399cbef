/*
 * linecut.c - one command line at a time out of a buffer (linecut.h).
 * Pure: no I/O, no allocation.
 */
#include <string.h>

#include "linecut.h"

size_t
linecut_skip(const char *p, size_t len, int *skipping)
{
	const char *lf;

	if (!*skipping)
		return 0;
	if ((lf = memchr(p, '\n', len)) == NULL)
		return len;
	*skipping = 0;
	return (size_t)(lf - p) + 1;
}

enum linecut
linecut_next(const char *p, size_t len, size_t max, int *skipping,
    size_t *linelen, size_t *used)
{
	const char *lf;
	size_t n;

	*linelen = *used = 0;
	if ((lf = memchr(p, '\n', len < max ? len : max)) == NULL) {
		if (len < max)
			return LINECUT_MORE;	/* wait for the rest */
		/* max octets and no LF: too long whatever follows */
		*used = max;
		*skipping = 1;
		return LINECUT_LONG;
	}
	n = (size_t)(lf - p);
	*linelen = n > 0 && p[n - 1] == '\r' ? n - 1 : n;
	*used = n + 1;
	return LINECUT_LINE;
}
