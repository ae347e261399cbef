/*
 * fuzz_fold.c - libFuzzer target for remote/fold.c, the folding of lines
 * over 998 octets that kurir-remote (remote user, chrooted) applies to
 * every message it sends.
 *
 * Input: one mode byte, four bytes that choose the chunk sizes (used in
 * turn; 0 takes all that is left), then the message.  With mode bit 0
 * set, byte 0x01 in the message stands for 300 letters and 0x02 for 300
 * octets of words (a blank every 10), so that short inputs make long
 * lines; 0x03 stands for "\r." so that CRs before dots are common.
 * "The input" below is the message with its CRs made line ends (CR LF
 * and a lone CR each one LF), done here the simple way.  Aborts when an
 * invariant breaks:
 *   - a CR in the output;
 *   - on the wire (the output through dotenc, as kurir-remote sends
 *     it): a CR not followed by LF, an LF not preceded by CR, a
 *     "<CRLF>.<CRLF>" before the end, or a line starting with a single
 *     dot; dotenc refusing what fold made;
 *   - an output line longer than FOLD_LINE_MAX octets before its LF;
 *   - removing the inserted folds does not give the input back: each
 *     LF that is not the input's is followed by the input's next byte
 *     (a fold before a blank, or in the body) or by one SP and then a
 *     non-blank (a header cut where there was no blank);
 *   - an empty line made or lost (the end of the header must not move);
 *   - another result when the input is cut into other chunks, or when
 *     fold_add is given a fresh exact-size copy (ASan sees overreads);
 *   - folding the output again changes it, or input with no line over
 *     the limit comes out changed;
 *   - a capped output buffer grows past its cap, or fails with
 *     anything but EMSGSIZE.
 * Seeds: tests/fuzz/corpus/fold/.
 *
 * The fuzz build compiles only the common sources, so fold.c comes in
 * here.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../remote/fold.c"
#include "../../remote/reply.c"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(c)	do { if (!(c)) { fprintf(stderr, "invariant: %s (line %d)\n", \
			    #c, __LINE__); abort(); } } while (0)

#define HDR	5
#define RUN	300

static void
fold_chunks(const char *in, size_t n, const uint8_t *sel, struct buf *out,
    unsigned long long *folds)
{
	struct fold f;
	size_t off = 0, k = 0, sz;
	char *call;

	buf_init(out, 0);
	fold_init(&f);
	while (off < n) {
		sz = sel == NULL || sel[k % 4] == 0 ? n - off : sel[k % 4];
		k++;
		if (sz > n - off)
			sz = n - off;
		if ((call = malloc(sz)) == NULL)
			abort();
		memcpy(call, in + off, sz);
		CHECK(fold_add(&f, call, sz, out) == 0);
		free(call);
		off += sz;
	}
	CHECK(fold_end(&f, out) == 0);
	*folds = f.folds;
}

/* equal bytes; an empty buffer's data may be NULL */
static int
same(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static size_t
longest(const char *p, size_t n)
{
	size_t i, run = 0, max = 0;

	for (i = 0; i < n; i++) {
		run = p[i] == '\n' ? 0 : run + 1;
		if (run > max)
			max = run;
	}
	return max;
}

static size_t
empty_lines(const char *p, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (p[i] == '\n' && (i == 0 || p[i - 1] == '\n'))
			k++;
	return k;
}

/* Walk the output against the input; every extra byte must be a fold. */
static void
check_unfolds(const char *in, size_t n, const struct buf *out,
    unsigned long long folds)
{
	size_t i = 0, j = 0;
	unsigned long long seen = 0;

	while (j < out->len) {
		if (i < n && out->data[j] == in[i]) {
			i++;
			j++;
			continue;
		}
		/* an inserted LF, never where the input has one */
		CHECK(out->data[j] == '\n');
		CHECK(i < n && in[i] != '\n');
		seen++;
		j++;
		CHECK(j < out->len);
		if (out->data[j] == in[i])
			continue;	/* before a blank, or in the body */
		/* a header cut: one SP, then a non-blank */
		CHECK(out->data[j] == ' ' && in[i] != ' ' && in[i] != '\t');
		j++;
	}
	CHECK(i == n);
	CHECK(seen == folds);
}

/* the reference: every CR a line end, CR LF one; into out (n bytes) */
static size_t
crs_to_lf(const char *in, size_t n, char *out)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (in[i] == '\n' && i > 0 && in[i - 1] == '\r')
			continue;
		out[k++] = in[i] == '\r' ? '\n' : in[i];
	}
	return k;
}

static void
check_wire(const struct buf *folded)
{
	struct buf w;
	struct dotenc d;
	size_t i;

	buf_init(&w, 0);
	dotenc_init(&d);
	CHECK(dotenc_add(&d, folded->data, folded->len, &w) == 0);
	CHECK(dotenc_end(&d, &w) == 0);
	CHECK(w.len >= 3);
	for (i = 0; i < w.len; i++) {
		if (w.data[i] == '\r')
			CHECK(i + 1 < w.len && w.data[i + 1] == '\n');
		if (w.data[i] == '\n')
			CHECK(i > 0 && w.data[i - 1] == '\r');
		/* a line that starts with a dot is stuffed, but the last */
		if (w.data[i] == '.' && (i == 0 || w.data[i - 1] == '\n') &&
		    i + 3 != w.len)
			CHECK(i + 1 < w.len && w.data[i + 1] == '.');
	}
	/* the end of DATA only at the end */
	CHECK(w.len < 5 || memmem(w.data, w.len - 3, "\r\n.\r\n", 5) ==
	    NULL);
	buf_free(&w);
}

static void
check_cap(const char *in, size_t n, size_t cap, const struct buf *want)
{
	struct buf b;
	struct fold f;
	int r;

	buf_init(&b, cap);
	fold_init(&f);
	r = fold_add(&f, in, n, &b);
	if (r == 0)
		r = fold_end(&f, &b);
	CHECK(b.len <= cap);
	if (r == -1)
		CHECK(errno == EMSGSIZE && want->len > cap);
	else
		CHECK(same(b.data, b.len, want->data, want->len));
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf once, pieces, again;
	unsigned long long f1, f2, f3;
	const uint8_t *sel;
	char *in, *lf;
	size_t n = 0, nlf, i, k;
	int expand;

	if (size < HDR)
		return 0;
	expand = data[0] & 1;
	sel = data + 1;
	if ((in = malloc((size - HDR) * RUN + 1)) == NULL)
		return 0;
	for (i = HDR; i < size; i++) {
		if (expand && (data[i] == 1 || data[i] == 2)) {
			for (k = 0; k < RUN; k++)
				in[n++] = data[i] == 2 && k % 10 == 9 ? ' ' :
				    (char)('a' + k % 26);
		} else if (expand && data[i] == 3) {
			in[n++] = '\r';
			in[n++] = '.';
		} else
			in[n++] = (char)data[i];
	}
	if ((lf = malloc(n + 1)) == NULL) {
		free(in);
		return 0;
	}
	nlf = crs_to_lf(in, n, lf);

	fold_chunks(in, n, NULL, &once, &f1);
	fold_chunks(in, n, sel, &pieces, &f2);
	CHECK(same(once.data, once.len, pieces.data, pieces.len));
	CHECK(f1 == f2);

	CHECK(once.len == 0 || memchr(once.data, '\r', once.len) == NULL);
	check_wire(&once);
	CHECK(longest(once.data, once.len) <= FOLD_LINE_MAX);
	check_unfolds(lf, nlf, &once, f1);
	CHECK(empty_lines(lf, nlf) == empty_lines(once.data, once.len));
	if (longest(lf, nlf) <= FOLD_LINE_MAX)
		CHECK(f1 == 0 && same(once.data, once.len, lf, nlf));

	/* folded text folds to itself */
	fold_chunks(once.data, once.len, NULL, &again, &f3);
	CHECK(f3 == 0 && same(again.data, again.len, once.data, once.len));

	check_cap(in, n, sel[0] * 16 + 1, &once);

	buf_free(&once);
	buf_free(&pieces);
	buf_free(&again);
	free(lf);
	free(in);
	return 0;
}
