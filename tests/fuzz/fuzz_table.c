/*
 * fuzz_table.c - libFuzzer target for common/table.c (users, aliases and
 * routes files).
 *
 * The first input byte picks the table (mod 3); the rest is the file,
 * NUL bytes and all, for *_load_mem.  Every line's first word is then
 * looked up (as written and upper-cased).  Beyond memory errors (ASan,
 * UBSan) it aborts when an invariant breaks: an error message that is not
 * "fuzz:..." printable ASCII, a failed load that sets the table, a user
 * name that users_name_valid refuses or that its own lookup misses, an
 * alias without targets, or a route without host, port or a known tls
 * mode.  Passwords are not checked here: crypt is slow by design.
 * Seeds: tests/fuzz/corpus/table/ (first byte '0' users, '1' aliases,
 * '2' routes).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_err(const char *err)
{
	size_t i;

	if (strncmp(err, "fuzz:", 5) != 0)
		abort();
	for (i = 0; err[i] != '\0'; i++)
		if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] > 0x7e)
			abort();
}

/* Each line's first word (up to ':' or a blank), as is and upper case. */
static void
lookup_words(const char *text, size_t len, int kind, const struct aliases *a,
    const struct routes *r)
{
	char word[300];
	const struct route *ro;
	const char * const *t;
	size_t i = 0, n, k, pass;

	while (i < len) {
		while (i < len && (text[i] == ' ' || text[i] == '\t'))
			i++;
		for (n = 0; i < len && n < sizeof(word) - 1 && text[i] != ':' &&
		    text[i] != ' ' && text[i] != '\t' && text[i] != '\n'; i++)
			word[n++] = text[i];
		word[n] = '\0';
		for (pass = 0; pass < 2; pass++) {
			if (pass == 1)
				for (k = 0; k < n; k++)
					word[k] = (char)toupper((unsigned char)word[k]);
			if (kind == 1 && (t = aliases_lookup(a, word, &k)) != NULL) {
				if (k == 0)
					abort();
				while (k-- > 0)
					if (t[k] == NULL || t[k][0] == '\0')
						abort();
			}
			if (kind == 2 && (ro = routes_lookup(r, word)) != NULL &&
			    (ro->host == NULL || ro->host[0] == '\0' ||
			    ro->port == 0 || ro->domain == NULL ||
			    (int)ro->tls < ROUTE_TLS_NONE ||
			    ro->tls > ROUTE_TLS_VERIFY))
				abort();
		}
		while (i < len && text[i] != '\n')
			i++;
		i++;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct users *u = NULL;
	struct aliases *a = NULL;
	struct routes *r = NULL;
	const char *text, *name;
	char err[1024], upper[80];
	size_t len, i, k;
	int kind, rc;

	if (size < 1)
		return 0;
	kind = data[0] % 3;
	text = (const char *)data + 1;
	len = size - 1;
	memset(err, 0, sizeof(err));
	if (kind == 0)
		rc = users_load_mem(&u, "fuzz", text, len, err, sizeof(err));
	else if (kind == 1)
		rc = aliases_load_mem(&a, "fuzz", text, len, err, sizeof(err));
	else
		rc = routes_load_mem(&r, "fuzz", text, len, err, sizeof(err));
	if (rc == -1) {
		check_err(err);
		if (u != NULL || a != NULL || r != NULL)
			abort();
		return 0;
	}
	if (kind == 0) {
		for (i = 0; (name = users_name_at(u, i)) != NULL; i++) {
			if (!users_name_valid(name) || users_lookup(u, name) == NULL)
				abort();
			for (k = 0; name[k] != '\0' && k < sizeof(upper) - 1; k++)
				upper[k] = (char)toupper((unsigned char)name[k]);
			upper[k] = '\0';
			if (users_lookup(u, upper) == NULL)
				abort();
		}
		if (i != users_count(u))
			abort();
	} else
		lookup_words(text, len, kind, a, r);
	users_free(u);
	aliases_free(a);
	routes_free(r);
	return 0;
}
