/*
 * fuzz_fold.c - libFuzzer target for remote/fold.c, the folding of lines
 * over 998 octets that kurir-remote (remote user, chrooted) applies to
 * every message it sends.
 *
 * Input: one mode byte, four bytes that choose the chunk sizes (used in
 * turn; 0 takes all that is left), then the message.  With mode bit 0
 * set, byte 0x01 in the message stands for 300 letters and 0x02 for 300
 * octets of words (a blank every 10), so that short inputs make long
 * lines.  Aborts when an invariant breaks:
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
	char *in;
	size_t n = 0, i, k;
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
		} else
			in[n++] = (char)data[i];
	}

	fold_chunks(in, n, NULL, &once, &f1);
	fold_chunks(in, n, sel, &pieces, &f2);
	CHECK(same(once.data, once.len, pieces.data, pieces.len));
	CHECK(f1 == f2);

	CHECK(longest(once.data, once.len) <= FOLD_LINE_MAX);
	check_unfolds(in, n, &once, f1);
	CHECK(empty_lines(in, n) == empty_lines(once.data, once.len));
	if (longest(in, n) <= FOLD_LINE_MAX)
		CHECK(f1 == 0 && same(once.data, once.len, in, n));

	/* folded text folds to itself */
	fold_chunks(once.data, once.len, NULL, &again, &f3);
	CHECK(f3 == 0 && same(again.data, again.len, once.data, once.len));

	check_cap(in, n, sel[0] * 16 + 1, &once);

	buf_free(&once);
	buf_free(&pieces);
	buf_free(&again);
	free(in);
	return 0;
}
