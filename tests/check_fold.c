/*
 * check_fold.c - unit tests for remote/fold.c: how kurir-remote (remote
 * user, chrooted) folds lines over 998 octets before it sends a message.
 *
 * The Makefile links tests with the common library only, so fold.c (and
 * reply.c, for dotenc) is compiled in here.  Covers: short lines and
 * exactly 998 octets untouched; body lines of 999, 2000 and 100,000
 * octets cut every 998; header fields folded at the last blank before
 * the limit (unfolding gives the field back), at the blank after the
 * colon, or cut with CRLF SP when there is no blank; blanks before the
 * colon never used; continuation lines; a long line with no colon
 * taken as body; the end of the header at an empty line; every result
 * the same however the message is split into chunks; fold_end; a capped
 * output buffer; every CR made a line end (alone, before an LF, at a
 * chunk boundary, in the header, CR-ended text not folded); and fold +
 * dotenc giving no wire line over 998 octets plus CRLF, with a dot that
 * a fold or a CR put at a line start stuffed (issue 13's smuggling
 * reproduction).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../remote/fold.c"
#include "../remote/reply.c"

#define MAX	FOLD_LINE_MAX

/* ---- harness ------------------------------------------------------------ */

/* equal bytes; an empty buffer's data may be NULL */
static int
same(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* Fold in[0..n) in pieces of size piece (0: at once); out is init'd. */
static void
fold_pieces(const char *in, size_t n, size_t piece, struct buf *out,
    struct fold *f)
{
	size_t off, k;

	buf_init(out, 0);
	fold_init(f);
	for (off = 0; off < n; off += k) {
		k = piece == 0 || n - off < piece ? n - off : piece;
		ck_assert_int_eq(fold_add(f, in + off, k, out), 0);
	}
	ck_assert_int_eq(fold_end(f, out), 0);
}

/* Fold at once, byte by byte and in a few chunk sizes: all equal. */
static void
fold_all(const char *in, size_t n, struct buf *out, struct fold *f)
{
	static const size_t pieces[] = { 1, 2, 7, 997, 998, 999, 4096 };
	struct buf b;
	struct fold g;
	size_t i;

	fold_pieces(in, n, 0, out, f);
	for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		fold_pieces(in, n, pieces[i], &b, &g);
		ck_assert_msg(same(b.data, b.len, out->data, out->len),
		    "pieces of %zu differ", pieces[i]);
		ck_assert(g.folds == f->folds);
		buf_free(&b);
	}
}

/* every line at most MAX octets before its LF */
static void
assert_short_lines(const struct buf *b)
{
	size_t i, run = 0;

	for (i = 0; i < b->len; i++) {
		if (b->data[i] == '\n')
			run = 0;
		else
			ck_assert_msg(++run <= MAX, "line over %d at %zu", MAX, i);
	}
}

/* n bytes of text: letters, with a blank every `every` bytes (0: none) */
static char *
text(size_t n, size_t every)
{
	char *p = malloc(n + 1);
	size_t i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < n; i++)
		p[i] = every != 0 && i % every == every - 1 ? ' ' :
		    (char)('a' + i % 26);
	p[n] = '\0';
	return p;
}

/* a message "<head><line>\n<tail>" in one allocation */
static char *
message(const char *head, const char *line, const char *tail, size_t *n)
{
	size_t a = strlen(head), b = strlen(line), c = strlen(tail);
	char *m = malloc(a + b + c + 2);

	ck_assert_ptr_nonnull(m);
	memcpy(m, head, a);
	memcpy(m + a, line, b);
	m[a + b] = '\n';
	memcpy(m + a + b + 1, tail, c);
	*n = a + b + c + 1;
	m[*n] = '\0';
	return m;
}

/* ---- untouched ---------------------------------------------------------- */

START_TEST(test_short_untouched)
{
	static const char *msgs[] = {
		"",
		"Subject: hi\n\nbody\n",
		"Subject: hi\n\nno final line end",
		"From: a@b\nTo: c@d\n\n.\n..\n\n",
		"X: y\n \tcontinued\n\nbody\n",
		"no header at all\n",
	};
	struct buf b;
	struct fold f;
	size_t i;

	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		fold_all(msgs[i], strlen(msgs[i]), &b, &f);
		ck_assert(same(b.data, b.len, msgs[i], strlen(msgs[i])));
		ck_assert(f.folds == 0);
		buf_free(&b);
	}
}
END_TEST

START_TEST(test_998_untouched)
{
	char *line = text(MAX, 0), *hdr = text(MAX - 3, 7), *m;
	char field[MAX + 2];
	struct buf b;
	struct fold f;
	size_t n;

	/* a header line and a body line of exactly 998 octets */
	snprintf(field, sizeof(field), "X: %s\n", hdr);
	ck_assert_uint_eq(strlen(field), MAX + 1);
	m = message(field, "", line, &n);
	fold_all(m, n, &b, &f);
	ck_assert_uint_eq(b.len, n);
	ck_assert_int_eq(memcmp(b.data, m, n), 0);
	buf_free(&b);
	free(m);
	free(line);
	free(hdr);
}
END_TEST

/* ---- body --------------------------------------------------------------- */

static void
check_body_cut(size_t len)
{
	char *line = text(len, 50), *m;
	struct buf b;
	struct fold f;
	size_t n, i, o, head = strlen("Subject: long\n\n");

	m = message("Subject: long\n\n", line, "end\n", &n);
	fold_all(m, n, &b, &f);
	assert_short_lines(&b);
	ck_assert(f.folds == (len - 1) / MAX);
	ck_assert_uint_eq(b.len, n + (len - 1) / MAX);
	/* the header as it was, then the line with LF after each 998 */
	ck_assert_int_eq(memcmp(b.data, m, head), 0);
	for (i = 0, o = head; i < len; i++, o++) {
		if (i > 0 && i % MAX == 0)
			ck_assert_int_eq(b.data[o++], '\n');
		ck_assert_int_eq(b.data[o], line[i]);
	}
	ck_assert_int_eq(memcmp(b.data + o, "\nend\n", 5), 0);
	buf_free(&b);
	free(m);
	free(line);
}

START_TEST(test_body_999)
{
	check_body_cut(999);
}
END_TEST

START_TEST(test_body_2000)
{
	check_body_cut(2000);
}
END_TEST

START_TEST(test_body_100000)
{
	check_body_cut(100000);
}
END_TEST

/* a multiple of 998: no empty line is made at the end */
START_TEST(test_body_exact_multiple)
{
	check_body_cut(2 * MAX);
}
END_TEST

/* ---- header ------------------------------------------------------------- */

/* Remove every LF that is followed by a blank (RFC 5322 unfolding). */
static size_t
unfold(const char *p, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++)
		if (!(p[i] == '\n' && i + 1 < n && (p[i + 1] == ' ' ||
		    p[i + 1] == '\t')))
			out[o++] = p[i];
	return o;
}

START_TEST(test_header_words)
{
	/* a Subject of 3000 octets, words of 9 letters */
	char *words = text(3000, 10), *m, *u;
	char field[3100];
	struct buf b;
	struct fold f;
	size_t n, un, i, col;

	snprintf(field, sizeof(field), "Subject: %s", words);
	m = message(field, "", "body\n", &n);
	fold_all(m, n, &b, &f);
	assert_short_lines(&b);
	ck_assert(f.folds >= 3);
	/* unfolding gives back exactly what was sent */
	u = malloc(b.len);
	ck_assert_ptr_nonnull(u);
	un = unfold(b.data, b.len, u);
	ck_assert_uint_eq(un, n);
	ck_assert_int_eq(memcmp(u, m, n), 0);
	/* each fold is at the last blank before the limit (the next
	 * word would not have fitted), or one word earlier when the limit
	 * falls on a blank: then the word just fits and its blank would
	 * begin the continuation alone */
	for (i = 0, col = 0; i < b.len; i++) {
		if (b.data[i] != '\n') {
			col++;
			continue;
		}
		if (i + 1 < b.len && b.data[i + 1] == ' ')
			ck_assert_uint_ge(col + 10, MAX);
		col = 0;
	}
	/* the body is untouched */
	ck_assert_int_eq(memcmp(b.data + b.len - 6, "\nbody\n", 6), 0);
	free(u);
	buf_free(&b);
	free(m);
	free(words);
}
END_TEST

/* one blank, right after the colon: fold there, then cut with CRLF SP */
START_TEST(test_header_no_blank)
{
	char *val = text(2500, 0), *m, *want;
	char field[2600];
	struct buf b;
	struct fold f;
	size_t n, w = 0, v;

	snprintf(field, sizeof(field), "X-Long: %s", val);
	m = message(field, "", "\nbody\n", &n);
	fold_all(m, n, &b, &f);
	assert_short_lines(&b);
	/* "X-Long:" LF, then " " + 997 of val, LF SP + 997, LF SP + rest */
	want = malloc(n + 16);
	ck_assert_ptr_nonnull(want);
	memcpy(want, "X-Long:\n ", 9);
	w = 9;
	memcpy(want + w, val, MAX - 1);
	w += MAX - 1;
	for (v = MAX - 1; v < 2500; v += MAX - 1) {
		memcpy(want + w, "\n ", 2);
		w += 2;
		memcpy(want + w, val + v, 2500 - v < MAX - 1 ? 2500 - v :
		    MAX - 1);
		w += 2500 - v < MAX - 1 ? 2500 - v : MAX - 1;
	}
	memcpy(want + w, "\n\nbody\n", 7);
	w += 7;
	ck_assert_uint_eq(b.len, w);
	ck_assert_int_eq(memcmp(b.data, want, w), 0);
	ck_assert(f.folds == 3);
	free(want);
	buf_free(&b);
	free(m);
	free(val);
}
END_TEST

/* no blank at all: CRLF SP after 998 octets */
START_TEST(test_header_hard_cut)
{
	char *val = text(1500, 0), *m;
	char field[1600];
	struct buf b;
	struct fold f;
	size_t n;

	snprintf(field, sizeof(field), "X-Long:%s", val);
	m = message("", field, "Other: x\n\nb\n", &n);
	fold_all(m, n, &b, &f);
	assert_short_lines(&b);
	ck_assert_uint_eq(b.len, n + 2);
	ck_assert_int_eq(memcmp(b.data, m, MAX), 0);
	ck_assert_int_eq(memcmp(b.data + MAX, "\n ", 2), 0);
	ck_assert_int_eq(memcmp(b.data + MAX + 2, m + MAX, n - MAX), 0);
	ck_assert(f.folds == 1);
	buf_free(&b);
	free(m);
	free(val);
}
END_TEST

/*
 * A blank as the 999th octet, with text before it since the last fold
 * point: the fold goes at that earlier point, so the continuation line
 * starts with text and is never only the field's trailing blank
 * (obs-FWS, which a next hop that strips blanks would read as the end
 * of the header).
 */
START_TEST(test_header_blank_at_limit)
{
	char *val = text(989, 0), *m, *cont;
	char field[1100];
	struct buf b;
	struct fold f;
	size_t n, i, start;

	snprintf(field, sizeof(field), "Subject: %s ", val);
	ck_assert_uint_eq(strlen(field), MAX + 1);
	m = message("", field, "Other: x\n\nbody\n", &n);
	fold_all(m, n, &b, &f);
	assert_short_lines(&b);
	ck_assert(f.folds == 1);
	ck_assert_uint_eq(b.len, n + 1);
	ck_assert_int_eq(memcmp(b.data, "Subject:\n ", 10), 0);
	/* no line of blanks alone, before the empty line that ends it */
	for (i = 0, start = 0; i < b.len; i++) {
		if (b.data[i] != '\n')
			continue;
		if (i == start)
			break;			/* the end of the header */
		cont = b.data + start;
		ck_assert_msg(strspn(cont, " \t") < i - start,
		    "a line of blanks at %zu", start);
		start = i + 1;
	}
	buf_free(&b);
	free(m);
	free(val);
}
END_TEST

/* blanks before the colon are no fold points: the field stays a field */
START_TEST(test_header_blanks_before_colon)
{
	char *val = text(1200, 0), *m;
	char field[1300];
	struct buf b;
	struct fold f;
	size_t n;

	snprintf(field, sizeof(field), "Subject  :%s", val);
	m = message("", field, "\nbody\n", &n);
	fold_all(m, n, &b, &f);
	assert_short_lines(&b);
	ck_assert_uint_eq(b.len, n + 2);		/* a hard cut */
	ck_assert_int_eq(memcmp(b.data + MAX, "\n ", 2), 0);
	buf_free(&b);
	free(m);
	free(val);
}
END_TEST

/* a long continuation line folds like its field */
START_TEST(test_header_continuation)
{
	char *words = text(1500, 100), *m, *u;
	char cont[1600];
	struct buf b;
	struct fold f;
	size_t n, un;

	snprintf(cont, sizeof(cont), "\t%s", words);
	m = message("To: a@b.test,\n", cont, "\nbody\n", &n);
	fold_all(m, n, &b, &f);
	assert_short_lines(&b);
	ck_assert(f.folds == 1);
	u = malloc(b.len);
	ck_assert_ptr_nonnull(u);
	un = unfold(b.data, b.len, u);
	/* the original unfolded the same way */
	{
		char *v = malloc(n);
		size_t vn;

		ck_assert_ptr_nonnull(v);
		vn = unfold(m, n, v);
		ck_assert_uint_eq(un, vn);
		ck_assert_int_eq(memcmp(u, v, un), 0);
		free(v);
	}
	free(u);
	buf_free(&b);
	free(m);
	free(words);
}
END_TEST

/* a line that is no field ends the header: it is cut like the body */
START_TEST(test_header_not_a_field)
{
	static const char *heads[] = { "", "From: a@b\n", "From: a@b\n\n" };
	char *line = text(2000, 10), *m;
	struct buf b;
	struct fold f;
	size_t n, h, i;

	for (i = 0; i < 3; i++) {
		m = message(heads[i], line, "X: y\n", &n);
		fold_all(m, n, &b, &f);
		assert_short_lines(&b);
		h = strlen(heads[i]);
		/* body cuts: LF after 998 and 1996, no SP added, no blank
		 * moved */
		ck_assert_uint_eq(b.len, n + 2);
		ck_assert_int_eq(memcmp(b.data + h, line, MAX), 0);
		ck_assert_int_eq(b.data[h + MAX], '\n');
		ck_assert_int_eq(memcmp(b.data + h + MAX + 1, line + MAX, MAX),
		    0);
		buf_free(&b);
		free(m);
	}
	/* a 998-octet name with no colon: taken as the body */
	free(line);
	line = text(1200, 0);
	m = message("", line, "", &n);
	fold_all(m, n, &b, &f);
	ck_assert_uint_eq(b.len, n + 1);
	ck_assert_int_eq(b.data[MAX], '\n');
	buf_free(&b);
	free(m);
	/* a continuation with no field before it is no header either */
	line[0] = ' ';
	m = message("", line, "", &n);
	fold_all(m, n, &b, &f);
	ck_assert_uint_eq(b.len, n + 1);
	ck_assert_int_eq(b.data[MAX], '\n');
	buf_free(&b);
	free(m);
	free(line);
}
END_TEST

/* held bytes come out at the end, with or without a final LF */
START_TEST(test_end_flushes)
{
	static const char msg[] = "Subject: a b c";
	struct buf b;
	struct fold f;

	buf_init(&b, 0);
	fold_init(&f);
	ck_assert_int_eq(fold_add(&f, msg, sizeof(msg) - 1, &b), 0);
	ck_assert_uint_lt(b.len, sizeof(msg) - 1);	/* " c" is held */
	ck_assert_int_eq(fold_end(&f, &b), 0);
	ck_assert_uint_eq(b.len, sizeof(msg) - 1);
	ck_assert_int_eq(memcmp(b.data, msg, b.len), 0);
	ck_assert_int_eq(fold_end(&f, &b), 0);		/* twice: harmless */
	ck_assert_uint_eq(b.len, sizeof(msg) - 1);
	buf_free(&b);
}
END_TEST

START_TEST(test_cap)
{
	char *line = text(3000, 0);
	struct buf b;
	struct fold f;

	buf_init(&b, 1000);
	fold_init(&f);
	fold_add(&f, "\n", 1, &b);
	ck_assert_int_eq(fold_add(&f, line, 3000, &b), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_uint_le(b.len, 1000);
	buf_free(&b);
	free(line);
}
END_TEST

/* ---- CRs: each a line end ----------------------------------------------- */

/* fold msg in every chunking; the result has no CR and equals want */
static void
assert_folds_to(const char *msg, const char *want)
{
	struct buf b;
	struct fold f;

	fold_all(msg, strlen(msg), &b, &f);
	ck_assert_ptr_null(memchr(b.data == NULL ? "" : b.data, '\r', b.len));
	ck_assert_msg(same(b.data, b.len, want, strlen(want)),
	    "\"%s\" folded wrong", msg);
	buf_free(&b);
}

START_TEST(test_cr_line_ends)
{
	assert_folds_to("a\rb\n", "a\nb\n");		/* alone: a line end */
	assert_folds_to("a\r\nb\n", "a\nb\n");	/* before LF: that one */
	assert_folds_to("a\r\r\nb", "a\n\nb");	/* each CR its own */
	assert_folds_to("a\r\rb", "a\n\nb");
	assert_folds_to("a\r", "a\n");			/* at the very end */
	assert_folds_to("\r\n\r\n", "\n\n");
	assert_folds_to("\n\r\n", "\n\n");
	assert_folds_to("a\n\rb", "a\n\nb");
	/* in the header too: the CR ends the field line there */
	assert_folds_to("Subject: a\rX: b\r\n\r\nbody\r",
	    "Subject: a\nX: b\n\nbody\n");
}
END_TEST

START_TEST(test_cr_count)
{
	struct buf b;
	struct fold f;

	fold_all("a\rb\r\nc\n", 8, &b, &f);
	ck_assert(f.crs == 2);
	ck_assert(f.folds == 0);
	buf_free(&b);
}
END_TEST

/* text with CR line ends (old Mac) is short lines, not one to fold */
START_TEST(test_cr_lines_not_folded)
{
	char in[3001], want[3001];
	struct buf b;
	struct fold f;
	size_t i;

	for (i = 0; i < 3000; i++) {
		in[i] = i % 10 == 9 ? '\r' : 'x';
		want[i] = i % 10 == 9 ? '\n' : 'x';
	}
	in[3000] = want[3000] = '\0';
	fold_all(in, 3000, &b, &f);
	ck_assert(f.folds == 0);
	ck_assert(same(b.data, b.len, want, 3000));
	buf_free(&b);
}
END_TEST

/* ---- with dotenc: the wire ---------------------------------------------- */

/* fold and encode msg, chunks of piece octets (0: at once) */
static void
wire_of(const char *msg, size_t n, size_t piece, struct buf *wire)
{
	struct buf folded;
	struct fold f;
	struct dotenc d;

	fold_pieces(msg, n, piece, &folded, &f);
	buf_init(wire, 0);
	dotenc_init(&d);
	ck_assert_int_eq(dotenc_add(&d, folded.data, folded.len, wire), 0);
	ck_assert_int_eq(dotenc_end(&d, wire), 0);
	buf_free(&folded);
}

/*
 * Issue 13's reproduction, as kurir-sendmail stores it (its CRLF ended
 * the line, the CR before the dot is data): the dot must go out
 * stuffed, after a CRLF, and MAIL FROM stay body text.
 */
START_TEST(test_wire_smuggle)
{
	static const char msg[] = "Subject: s\n\nline1\r.\n"
	    "MAIL FROM:<ceo@bank.example>\n";
	static const char want[] = "Subject: s\r\n\r\nline1\r\n..\r\n"
	    "MAIL FROM:<ceo@bank.example>\r\n.\r\n";
	static const size_t pieces[] = { 0, 1, 2, 3, 5, 18, 19 };
	struct buf w;
	size_t i;

	for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		wire_of(msg, sizeof(msg) - 1, pieces[i], &w);
		ck_assert_msg(same(w.data, w.len, want, sizeof(want) - 1),
		    "pieces of %zu: %.*s", pieces[i], (int)w.len, w.data);
		buf_free(&w);
	}
	/* and the variants: CR dot CR, a CR at the very end */
	wire_of("a\r.\rMAIL FROM:<x@y>\r", 20, 0, &w);
	ck_assert_str_eq(buf_cstr(&w),
	    "a\r\n..\r\nMAIL FROM:<x@y>\r\n.\r\n");
	buf_free(&w);
}
END_TEST


START_TEST(test_wire)
{
	/* a body line whose 999th octet is a dot: after the fold it starts
	 * a line, and must be stuffed */
	char *line = text(2000, 0), *m;
	struct buf folded, wire;
	struct fold f;
	struct dotenc d;
	size_t n, i, run = 0;

	line[MAX] = '.';
	m = message("Subject: x\n\n", line, "", &n);
	fold_pieces(m, n, 333, &folded, &f);
	buf_init(&wire, 0);
	dotenc_init(&d);
	ck_assert_int_eq(dotenc_add(&d, folded.data, folded.len, &wire), 0);
	ck_assert_int_eq(dotenc_end(&d, &wire), 0);
	for (i = 0; i < wire.len; i++) {
		if (wire.data[i] == '\n') {
			ck_assert_int_eq(wire.data[i - 1], '\r');
			run = 0;
		} else if (wire.data[i] != '\r')
			/* a stuffed dot is not counted (RFC 5321 4.5.3.1.6) */
			ck_assert_uint_le(++run, MAX + 1);
	}
	ck_assert_ptr_nonnull(memmem(wire.data, wire.len, "\r\n..", 4));
	ck_assert_int_eq(memcmp(wire.data + wire.len - 5, "\r\n.\r\n", 5), 0);
	buf_free(&folded);
	buf_free(&wire);
	free(m);
	free(line);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("fold");
	TCase *tc = tcase_create("fold");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_short_untouched);
	tcase_add_test(tc, test_998_untouched);
	tcase_add_test(tc, test_body_999);
	tcase_add_test(tc, test_body_2000);
	tcase_add_test(tc, test_body_100000);
	tcase_add_test(tc, test_body_exact_multiple);
	tcase_add_test(tc, test_header_words);
	tcase_add_test(tc, test_header_no_blank);
	tcase_add_test(tc, test_header_hard_cut);
	tcase_add_test(tc, test_header_blanks_before_colon);
	tcase_add_test(tc, test_header_blank_at_limit);
	tcase_add_test(tc, test_header_continuation);
	tcase_add_test(tc, test_header_not_a_field);
	tcase_add_test(tc, test_end_flushes);
	tcase_add_test(tc, test_cap);
	tcase_add_test(tc, test_cr_line_ends);
	tcase_add_test(tc, test_cr_count);
	tcase_add_test(tc, test_cr_lines_not_folded);
	tcase_add_test(tc, test_wire);
	tcase_add_test(tc, test_wire_smuggle);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
