/*
 * fuzz_dsn.c - libFuzzer target for send/dsn.c, the delivery status
 * notification composer of kurir-send.
 *
 * Input: one option byte (kind, a small header limit, remote or local),
 * then a value (up to the first NUL, at most 2000 bytes) used as the
 * recipient address, its original, the diagnostic, the remote host, the
 * sender and the queue id; what follows the NUL is the original message.
 * Beyond memory errors (ASan, UBSan) it aborts when an invariant breaks:
 * dsn_header_len beyond its limits or cutting mid-line; a DSN with the
 * wrong number of delimiters, the boundary anywhere but on them, a third
 * part that is not the header copy, a generated line over 998 bytes, a
 * non-ASCII byte in the us-ascii part, or a report with other than one
 * Final-Recipient and Action per recipient.  No seeds: any bytes do.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../send/dsn.c"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(c)	do { if (!(c)) { fprintf(stderr, "invariant: %s (line %d)\n", \
			    #c, __LINE__); abort(); } } while (0)

#define VALUE_MAX	2000

/* Is the line that ends at h[e - 1] (an LF) empty, a CR before it allowed? */
static int
fuzz_empty_line(const char *h, size_t e)
{
	return e == 1 || h[e - 2] == '\n' ||
	    (h[e - 2] == '\r' && (e == 2 || h[e - 3] == '\n'));
}

/* dsn_header_len against its contract, for one limit. */
static size_t
fuzz_header_len(const char *h, size_t n, size_t max)
{
	size_t r = dsn_header_len(h, n, max), i;
	const char *lf;

	CHECK(r <= n && r <= max);
	/* whole lines only, unless all of it fit */
	CHECK(r == 0 || r == n || h[r - 1] == '\n');
	/* no empty line before the end */
	for (i = 1; i < r; i++)
		if (h[i - 1] == '\n')
			CHECK(!fuzz_empty_line(h, i));
	/* short of the end, it stopped at the empty line or had to cut */
	if (r < n && (r == 0 || !fuzz_empty_line(h, r))) {
		lf = memchr(h + r, '\n', n - r);
		CHECK((lf ? (size_t)(lf - h) + 1 : n) > max);
	}
	return r;
}

/* How many lines in p[0..n) start with prefix. */
static int
fuzz_count(const char *p, size_t n, const char *prefix)
{
	size_t plen = strlen(prefix);
	const char *q, *end = p + n;
	int count = 0;

	for (q = p; q < end && (q = memmem(q, (size_t)(end - q), prefix,
	    plen)) != NULL; q++)
		if (q == p || q[-1] == '\n')
			count++;
	return count;
}

static void
fuzz_format(const struct dsn *d, size_t hlen)
{
	struct buf out;
	const char *m, *p, *q, *end, *lf, *part[4] = { NULL };
	char bnd[DSN_BND_MAX + 4];
	size_t n, blen, i;
	int nparts = 0;

	buf_init(&out, 0);
	CHECK(dsn_format(&out, d) == 0);
	m = out.data;
	end = m + out.len;
	/* the boundary, from our own header (values cannot hold LF or HT) */
	CHECK((p = memmem(m, out.len, "\n\tboundary=\"", 12)) != NULL);
	p += 12;
	CHECK((q = memchr(p, '"', (size_t)(end - p))) != NULL);
	blen = (size_t)(q - p);
	CHECK(blen > 0 && blen <= 70);
	bnd[0] = bnd[1] = '-';
	memcpy(bnd + 2, p, blen);
	blen += 2;
	/* every occurrence after the header is a delimiter line */
	for (q = q + 1; q < end && (q = memmem(q, (size_t)(end - q), bnd,
	    blen)) != NULL; q++) {
		CHECK(q[-1] == '\n');
		CHECK(nparts < 4);
		part[nparts++] = q + blen;
		if (q + blen + 3 == end)
			CHECK(memcmp(q + blen, "--\n", 3) == 0);
		else
			CHECK(q[blen] == '\n');
	}
	CHECK(nparts == (hlen > 0 ? 4 : 3) && part[nparts - 1] + 3 == end);
	/* generated lines are short; the copied header is checked below */
	for (p = m; p < (hlen > 0 ? part[2] : end); p = lf + 1) {
		CHECK((lf = memchr(p, '\n', (size_t)(end - p))) != NULL);
		CHECK(lf - p <= 998);
	}
	for (p = part[0]; p < part[1] - blen; p++)
		CHECK(*p == '\n' || (*p >= 0x20 && *p < 0x7f));
	n = (size_t)(part[2] - blen - part[1]);
	CHECK(fuzz_count(part[1], n, "Final-Recipient: ") == (int)d->nrcpts);
	CHECK(fuzz_count(part[1], n, "Action: ") == (int)d->nrcpts);
	if (hlen > 0) {
		/* the part's header, a blank line, the copy, maybe an LF, LF */
		CHECK((p = memmem(part[2], (size_t)(end - part[2]), "\n\n",
		    2)) != NULL);
		p += 2;
		CHECK(memcmp(p, d->orig_hdr, hlen) == 0);
		i = hlen + (d->orig_hdr[hlen - 1] != '\n');
		CHECK(p + i + 1 == part[3] - blen);
	}
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dsn_rcpt r[2];
	struct dsn d;
	const uint8_t *nul;
	char *value, *hdr;
	size_t vlen, hlen, max;

	if (size < 1)
		return 0;
	/* exact-size heap copies, so ASan sees any read past the end */
	nul = memchr(data + 1, '\0', size - 1);
	vlen = nul ? (size_t)(nul - data - 1) : 0;
	if (vlen > VALUE_MAX)
		vlen = VALUE_MAX;
	hlen = nul ? size - (size_t)(nul - data) - 1 : size - 1;
	if ((value = malloc(vlen + 1)) == NULL ||
	    (hdr = malloc(hlen ? hlen : 1)) == NULL) {
		free(value);
		return 0;
	}
	memcpy(value, data + 1, vlen);
	value[vlen] = '\0';
	memcpy(hdr, data + size - hlen, hlen);

	max = data[0] & 0x80 ? (size_t)(data[0] & 0x3f) : DSN_HDR_MAX;
	fuzz_header_len(hdr, hlen, max);
	fuzz_header_len(hdr, hlen, DSN_HDR_MAX);

	memset(r, 0, sizeof(r));
	r[0].final = value;
	r[0].original = vlen > 0 ? value + 1 : NULL;
	r[0].diag = value;
	r[0].remote_mta = data[0] & 0x10 ? value : NULL;
	r[0].last_attempt = 1700000000;
	r[1].final = "x@y.test";
	r[1].status = data[0] & 0x20 ? value : NULL;
	memset(&d, 0, sizeof(d));
	d.kind = (enum dsn_kind)((data[0] & 0x0f) % 3);
	d.hostname = data[0] & 0x40 ? value : "mail.test";
	d.qid = value;
	d.sender = value;
	d.arrival = 1699990000;
	d.now = 1700000000;
	d.retry_until = 1700400000;
	d.rcpts = r;
	d.nrcpts = 1 + ((data[0] & 0x20) != 0);
	d.orig_hdr = hdr;
	d.orig_hdr_len = hlen;
	fuzz_format(&d, dsn_header_len(hdr, hlen, DSN_HDR_MAX));
	free(value);
	free(hdr);
	return 0;
}
