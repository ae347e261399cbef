/*
 * fuzz_addr.c - libFuzzer target for common/addr.c (the address parser).
 *
 * Feeds the input to addr_parse_path (raw bytes, explicit length) and to
 * addr_parse (NUL-terminated copy) under several flag sets, plus
 * addr_domain_valid and the percent hack.  Beyond memory errors (ASan,
 * UBSan) it aborts when an invariant breaks: a failure without a reason,
 * a result over the limits, 8-bit bytes without ADDR_ALLOW_UTF8, an upper
 * case domain, or a canonical form that does not re-parse (bare and as a
 * path) to the very same address.  Seeds: tests/fuzz/corpus/addr/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const int flag_sets[] = {
	0,
	ADDR_ALLOW_NULL | ADDR_ALLOW_POSTMASTER,
	ADDR_ALLOW_UTF8,
	ADDR_ALLOW_NULL | ADDR_ALLOW_NODOMAIN | ADDR_ALLOW_POSTMASTER |
	    ADDR_ALLOW_UTF8,
};

static void
same(const struct addr *a, const struct addr *b)
{
	if (!addr_equal(a, b) || a->null != b->null ||
	    strcmp(a->local, b->local) != 0 || strcmp(a->domain, b->domain) != 0)
		abort();
}

/* Invariants of a successfully parsed address. */
static void
check(const struct addr *a, int flags)
{
	char text[ADDR_TEXT_MAX], path[ADDR_TEXT_MAX + 2];
	const char *why = NULL, *p;
	struct addr b;
	size_t ll, dl;

	if (a->null) {
		if (!(flags & ADDR_ALLOW_NULL))
			abort();
		return;
	}
	ll = strnlen(a->local, sizeof a->local);
	dl = strnlen(a->domain, sizeof a->domain);
	if (ll == 0 || ll > ADDR_LOCAL_MAX || dl > ADDR_DOMAIN_MAX)
		abort();
	if (dl == 0 && !(flags & (ADDR_ALLOW_NODOMAIN | ADDR_ALLOW_POSTMASTER)))
		abort();
	if (dl == 0 && !(flags & ADDR_ALLOW_NODOMAIN) &&
	    strcmp(a->local, "postmaster") != 0)
		abort();
	if (dl > 0 && !addr_domain_valid(a->domain, flags & ADDR_ALLOW_UTF8))
		abort();
	/* lower case, except the IPv6 literal tag */
	for (p = a->domain[0] == '[' ? a->domain + 5 : a->domain; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			abort();
	if (!(flags & ADDR_ALLOW_UTF8))
		for (p = a->local; *p; p++)
			if ((unsigned char)*p >= 0x80)
				abort();
	if (addr_format(a, text, sizeof text) != 0)
		abort();
	if (addr_parse(text, flags, &b, &why) != 0)
		abort();
	same(a, &b);
	snprintf(path, sizeof path, "<%s>", text);
	if (addr_parse_path(path, strlen(path), flags, &b, &why) != 0)
		abort();
	same(a, &b);
}

static void
one(const uint8_t *data, size_t size, const char *s, int flags)
{
	struct addr a, b;
	const char *why;
	int r;

	why = NULL;
	if (addr_parse_path((const char *)data, size, flags, &a, &why) == 0)
		check(&a, flags);
	else if (why == NULL)
		abort();
	why = NULL;
	if (addr_parse(s, flags, &a, &why) != 0) {
		if (why == NULL)
			abort();
		return;
	}
	check(&a, flags);
	b = a;
	r = addr_percent_hack(&b);
	if (r == 1)
		check(&b, flags | ADDR_ALLOW_UTF8);
	else if (r != 0 && r != -1)
		abort();
	else
		same(&a, &b);		/* untouched unless rewritten */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	size_t i;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	for (i = 0; i < sizeof flag_sets / sizeof flag_sets[0]; i++)
		one(data, size, s, flag_sets[i]);
	/* UTF-8 only widens what a domain may be */
	if (addr_domain_valid(s, 0) && !addr_domain_valid(s, 1))
		abort();
	(void)addr_local_needs_quotes(s);
	free(s);
	return 0;
}
