/*
 * fields.c - NUL-terminated fields of a frame payload (fields.h).
 * Pure: no I/O, no allocation; the request parsers built on it are
 * fuzzed (fuzz_local_req, fuzz_remote_req).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"

const char *
field_next(const char **pp, const char *end, size_t max)
{
	const char *p = *pp, *nul;

	if (p >= end || (nul = memchr(p, '\0', (size_t)(end - p))) == NULL ||
	    (size_t)(nul - p) > max)
		return NULL;
	*pp = nul + 1;
	return p;
}

int
field_decimal(const char *s, long long *out)
{
	const char *errstr;
	size_t i;

	/* strtonum alone would take blanks, a sign and leading zeros */
	if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] < '0' || s[i] > '9')
			return -1;
	*out = strtonum(s, 0, LLONG_MAX, &errstr);
	return errstr == NULL ? 0 : -1;
}
