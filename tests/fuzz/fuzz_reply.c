/*
 * fuzz_reply.c - libFuzzer target for remote/reply.c: what kurir-remote
 * (remote user, chrooted) reads from an SMTP server, and the DATA
 * encoder it writes with.
 *
 * Input: the first 4 bytes pick the read sizes (used in turn; 0 takes
 * all that is left), the rest is what the server sends, and also a
 * stored message for dotenc.  Beyond ASan/UBSan it aborts when an
 * invariant breaks:
 *   - reply_feed: *used beyond the bytes given, MORE that leaves bytes,
 *     DONE that consumes none, BAD without a reason or not final; a
 *     DONE reply with a code outside 200..599, no lines or too many, a
 *     text not NUL-terminated in its array, not ended by '\n', holding
 *     a CR, or with a line count that does not match nlines/truncated;
 *   - the replies (and where and why it failed) depend on the bytes
 *     only, not on how they were split into reads;
 *   - reply_diag: longer than asked, or not printable ASCII after the
 *     code; reply_status_code: not "c.d{1,3}.d{1,3}" with c the code's
 *     first digit; ehlo_parse: a size without SIZE, keywords from a
 *     reply other than 250;
 *   - dotenc: output without the final ".\r\n", a bare LF, a line that
 *     starts with a single '.', not decoding back to the message, or a
 *     capped buffer filled past its cap or differing when it succeeds;
 *     a message with a CR (fold.c removes them) not refused with
 *     EINVAL, or a CR in what was written before the refusal.
 * Seeds: tests/fuzz/corpus/reply/.
 *
 * The fuzz build compiles only the common sources, so reply.c comes in
 * here.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../remote/reply.c"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(c)	do { if (!(c)) { fprintf(stderr, "invariant: %s (line %d)\n", \
			    #c, __LINE__); abort(); } } while (0)

#define NSIZES	4

/* What one pass over the input saw, to compare passes. */
struct digest {
	size_t			 nreplies;
	uint64_t		 hash;
	enum reply_status	 end;
	const char		*why;
	size_t			 badoff;	/* input offset after the bad byte */
};

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n-- > 0)
		h = (h ^ *c++) * 0x100000001b3ULL;
	return h;
}

static void
check_diag(const struct reply *r, size_t outlen)
{
	char *out;
	size_t len, i;

	/* an exact-size heap buffer, so ASan sees a write past outlen */
	CHECK((out = malloc(outlen)) != NULL);
	reply_diag(r, out, outlen);
	len = strnlen(out, outlen);
	CHECK(len < outlen);
	for (i = 0; i < len; i++)
		CHECK(out[i] >= 0x20 && out[i] < 0x7f);
	for (i = 0; i < len && i < 3; i++)
		CHECK(out[i] >= '0' && out[i] <= '9');
	CHECK(len < 4 || out[3] == ' ');
	free(out);
}

static void
check_status(const struct reply *r)
{
	char code[12];
	size_t i = 0, n, part;

	memset(code, 'Z', sizeof(code));
	reply_status_code(r, code, sizeof(code));
	CHECK(memchr(code, '\0', sizeof(code)) != NULL);
	CHECK(code[i++] == '0' + r->code / 100);
	for (part = 0; part < 2; part++) {
		CHECK(code[i++] == '.');
		for (n = 0; code[i] >= '0' && code[i] <= '9'; n++)
			i++;
		CHECK(n >= 1 && n <= 3);
	}
	CHECK(code[i] == '\0');
}

static void
check_reply(const struct reply *r, size_t outlen)
{
	struct ehlo_ext e;
	size_t len, nl = 0, i;

	CHECK(r->code >= 200 && r->code <= 599);
	CHECK(r->nlines >= 1 && r->nlines <= REPLY_LINES_MAX);
	CHECK(r->truncated == 0 || r->truncated == 1);
	len = strnlen(r->text, sizeof(r->text));
	CHECK(len < sizeof(r->text));
	/* the first line always fits, and every kept line is whole */
	CHECK(len > 0 && r->text[len - 1] == '\n');
	CHECK(memchr(r->text, '\r', len) == NULL);
	for (i = 0; i < len; i++)
		nl += r->text[i] == '\n';
	CHECK(r->truncated ? nl < r->nlines : nl == r->nlines);

	check_diag(r, 256);
	check_diag(r, outlen);
	check_status(r);

	ehlo_parse(r, &e);
	CHECK(e.size_given || e.size == 0);
	if (r->code != 250)
		CHECK(!e.pipelining && !e.starttls && !e.eightbitmime &&
		    !e.smtputf8 && !e.chunking && !e.dsn && !e.auth &&
		    !e.size_given);
}

/* Feed the input in reads of the given sizes (NULL: one read). */
static void
feed(const char *m, size_t len, const uint8_t *sizes, struct digest *d)
{
	struct reply_parser rp;
	struct reply r;
	enum reply_status st;
	const char *why, *again;
	char *q;
	size_t off = 0, k = 0, chunk, rem, used, at;

	memset(d, 0, sizeof(*d));
	d->hash = 0xcbf29ce484222325ULL;
	d->end = REPLY_MORE;
	reply_init(&rp);
	while (off < len) {
		chunk = sizes != NULL ? sizes[k++ % NSIZES] : 0;
		if (chunk == 0 || chunk > len - off)
			chunk = len - off;
		/* each read in its own exact-size buffer, for ASan */
		CHECK((q = malloc(chunk)) != NULL);
		memcpy(q, m + off, chunk);
		for (at = 0, rem = chunk; rem > 0; at += used, rem -= used) {
			why = "unset";
			st = reply_feed(&rp, q + at, rem, &used, &r, &why);
			CHECK(used <= rem);
			if (st == REPLY_MORE) {
				CHECK(used == rem && why == NULL);
				continue;
			}
			if (st == REPLY_BAD) {
				CHECK(why != NULL && why[0] != '\0');
				d->end = REPLY_BAD;
				d->why = why;
				d->badoff = off + at + used;
				/* final: nothing more read, the same reason */
				CHECK(reply_feed(&rp, "250 x\r\n", 7, &used,
				    &r, &again) == REPLY_BAD);
				CHECK(used == 0 && again == why);
				free(q);
				return;
			}
			CHECK(st == REPLY_DONE && why == NULL && used > 0);
			check_reply(&r, (size_t)(sizes != NULL ? sizes[0] : 0) +
			    1);
			d->nreplies++;
			d->hash = fnv(d->hash, &r.code, sizeof(r.code));
			d->hash = fnv(d->hash, &r.nlines, sizeof(r.nlines));
			d->hash = fnv(d->hash, &r.truncated,
			    sizeof(r.truncated));
			d->hash = fnv(d->hash, r.text, strlen(r.text) + 1);
		}
		free(q);
		off += chunk;
	}
}

/* Encode m in reads of the given sizes into out; 0 or -1. */
static int
encode(const char *m, size_t len, const uint8_t *sizes, struct buf *out)
{
	struct dotenc d;
	size_t off = 0, k = 0, chunk;

	dotenc_init(&d);
	while (off < len) {
		chunk = sizes[k++ % NSIZES];
		if (chunk == 0 || chunk > len - off)
			chunk = len - off;
		if (dotenc_add(&d, m + off, chunk, out) == -1)
			return -1;
		off += chunk;
	}
	return dotenc_end(&d, out);
}

static void
check_dotenc(const char *m, size_t len, const uint8_t *sizes)
{
	struct buf out, capped, dec;
	const char *o;
	size_t olen, i;
	int bol = 1;

	buf_init(&out, 0);
	CHECK(encode(m, len, sizes, &out) == 0);
	o = out.data;
	CHECK(out.len >= 3 && memcmp(o + out.len - 3, ".\r\n", 3) == 0);
	olen = out.len - 3;
	/* the terminator follows a line end, or nothing */
	CHECK(olen == 0 || (olen >= 2 && memcmp(o + olen - 2, "\r\n", 2) == 0));
	/* no bare LF on the wire */
	for (i = 0; i < out.len; i++)
		CHECK(o[i] != '\n' || (i > 0 && o[i - 1] == '\r'));
	buf_init(&dec, 0);
	for (i = 0; i < olen; i++) {
		if (bol && o[i] == '.') {
			/* dot-stuffed: ".x" went out as "..x" */
			CHECK(i + 1 < olen && o[i + 1] == '.');
			i++;
		}
		if (o[i] == '\r' && i + 1 < olen && o[i + 1] == '\n') {
			CHECK(buf_addch(&dec, '\n') == 0);
			i++;
			bol = 1;
			continue;
		}
		CHECK(buf_addch(&dec, o[i]) == 0);
		bol = 0;
	}
	/* it decodes to the message, with a line end added if it lacked one */
	if (len > 0 && m[len - 1] != '\n')
		CHECK(dec.len == len + 1 && dec.data[len] == '\n');
	else
		CHECK(dec.len == len);
	CHECK(len == 0 || memcmp(dec.data, m, len) == 0);

	/* a cap: refused within it, or the same bytes */
	buf_init(&capped, (size_t)sizes[1] * 4 + 1);
	if (encode(m, len, sizes, &capped) == 0)
		CHECK(capped.len == out.len &&
		    memcmp(capped.data, out.data, out.len) == 0);
	CHECK(capped.len <= capped.max);
	buf_free(&capped);
	buf_free(&dec);
	buf_free(&out);
}

/* A message with CRs is refused; the rest of it is checked without. */
static void
check_dotenc_cr(const char *m, size_t len, const uint8_t *sizes)
{
	struct buf out;
	char *bare;
	size_t i, n = 0;

	if (len == 0 || memchr(m, '\r', len) == NULL) {
		check_dotenc(m, len, sizes);
		return;
	}
	buf_init(&out, 0);
	errno = 0;
	CHECK(encode(m, len, sizes, &out) == -1 && errno == EINVAL);
	/* what went out before the refusal holds CRs only in line ends */
	for (i = 0; i < out.len; i++)
		CHECK(out.data[i] != '\r' ||
		    (i + 1 < out.len && out.data[i + 1] == '\n'));
	buf_free(&out);
	if ((bare = malloc(len)) == NULL)
		return;
	for (i = 0; i < len; i++)
		if (m[i] != '\r')
			bare[n++] = m[i];
	check_dotenc(bare, n, sizes);
	free(bare);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct digest whole, split;
	const uint8_t *sizes = data;
	const char *m;
	size_t len;

	if (size < NSIZES)
		return 0;
	m = (const char *)data + NSIZES;
	len = size - NSIZES;

	feed(m, len, NULL, &whole);
	feed(m, len, sizes, &split);
	CHECK(whole.nreplies == split.nreplies && whole.hash == split.hash);
	CHECK(whole.end == split.end && whole.why == split.why);
	CHECK(whole.badoff == split.badoff);

	check_dotenc_cr(m, len, sizes);
	return 0;
}
