/*
 * fuzz_hops.c - libFuzzer target for common/hops.c, the hop counter that
 * kurir-smtpd and kurir-queue run over every message as it streams past.
 *
 * Input: four bytes that choose the piece sizes (used in turn; 0 takes
 * all that is left), then the message.  Aborts when the streaming count
 * differs from a plain line-by-line count of the whole message held in
 * memory, when another split gives another count or another end of the
 * header, or (ASan) when a piece is read out of bounds: each piece is
 * handed over in an exact-size copy.
 * Seeds: tests/fuzz/corpus/hops/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hops.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(c)	do { if (!(c)) { fprintf(stderr, "invariant: %s (line %d)\n", \
			    #c, __LINE__); abort(); } } while (0)

/* The reference: whole lines, header up to the first empty line. */
static void
reference(const char *m, size_t n, unsigned *count, int *done)
{
	size_t pos = 0, end, k;
	const char *lf;

	*count = 0;
	*done = 0;
	while (pos < n) {
		lf = memchr(m + pos, '\n', n - pos);
		end = lf ? (size_t)(lf - m) : n;
		if (lf && (end == pos || (end == pos + 1 && m[pos] == '\r'))) {
			*done = 1;
			return;
		}
		for (k = pos; k < end && m[k] != ':' && m[k] != ' ' &&
		    m[k] != '\t'; k++)
			;
		{
			size_t namelen = k - pos;
			const char *name = m + pos;

			while (k < end && (m[k] == ' ' || m[k] == '\t'))
				k++;
			if (k < end && m[k] == ':' && m[pos] != '\r' &&
			    ((namelen == 8 && strncasecmp(name, "received",
			    8) == 0) || (namelen == 12 && strncasecmp(name,
			    "delivered-to", 12) == 0)))
				(*count)++;
		}
		if (lf == NULL)
			return;
		pos = end + 1;
	}
}

static void
stream(const char *m, size_t n, const uint8_t *sel, size_t rot,
    unsigned *count, int *done)
{
	struct hops h;
	size_t off = 0, k = rot, sz;
	char *piece;

	hops_init(&h);
	while (off < n) {
		sz = sel[k++ % 4];
		if (sz == 0 || sz > n - off)
			sz = n - off;
		if ((piece = malloc(sz)) == NULL)
			abort();
		memcpy(piece, m + off, sz);
		hops_add(&h, piece, sz);
		free(piece);
		off += sz;
	}
	*count = hops_count(&h);
	*done = hops_header_done(&h);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *m;
	size_t n;
	unsigned want, got, got2;
	int want_done, done, done2;

	if (size < 4)
		return 0;
	m = (const char *)data + 4;
	n = size - 4;
	reference(m, n, &want, &want_done);
	stream(m, n, data, 0, &got, &done);
	stream(m, n, data, 1, &got2, &done2);
	CHECK(got == want);
	CHECK(done == want_done);
	CHECK(got2 == want && done2 == want_done);
	return 0;
}
