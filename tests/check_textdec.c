/*
 * check_textdec.c - unit tests for smtpd/textdec.c, the DATA/BDAT text
 * decoder of kurir-smtpd (where SMTP smuggling is stopped).
 *
 * Table driven: each DATA case gives the bytes on the wire, the decoded
 * text, whether <CRLF>.<CRLF> was consumed, how many bytes were used and
 * the error.  Every case is decoded at once, byte by byte, split in two
 * at every position, in three at many, and in chunks of 2..7 bytes, the
 * way session.c feeds it (unused bytes are offered again with more).
 * Covers dot-unstuffing, the one real end, every smuggling variant (each
 * sets ME_BARE_EOL and never ends the text), NUL, line lengths (no
 * limit by default: 999, 2000 and 100,000 octets pass byte-exact however
 * they are split; with smtp_line_length_limit set, the first octet over
 * it makes ME_LONG_LINE and emit stops there), emit stopping at an error,
 * and BDAT's CRLF handling across chunk ends.  Every case without a
 * long line gives the same answer with a limit as without one: the
 * smuggling defences do not depend on it.  "{N}" in a template stands
 * for N bytes 'x'.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../smtpd/textdec.c"

#define T(s)		s, sizeof(s) - 1
#define ALL		(-1L)	/* used: the whole input */
#define BIG		8192
#define LIMIT		998	/* RFC 5321's 1000 octets with CRLF */
#define HUGE_LINE	100000

/* ---- harness ------------------------------------------------------------ */

struct sink {
	char		 buf[BIG];
	size_t		 len;
	int		 calls;
	int		 late;		/* calls made while an error was set */
	struct textdec	*d;
	size_t		 too_big_at;	/* emit flags ME_TOO_BIG beyond this */
};

static void
sink_emit(void *arg, const char *p, size_t n)
{
	struct sink *s = arg;

	ck_assert_uint_gt(n, 0);
	if (s->d->error != ME_NONE)
		s->late++;
	s->calls++;
	ck_assert_uint_le(s->len + n, sizeof(s->buf));
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	if (s->too_big_at != 0 && s->len > s->too_big_at)
		textdec_flag(s->d, ME_TOO_BIG);
}

static void
sink_init(struct sink *s, struct textdec *d)
{
	memset(s, 0, sizeof(*s));
	s->d = d;
}

/* Expand a template: "{N}" is N bytes 'x'; returns the length. */
static size_t
expand(const char *t, size_t tlen, char *out, size_t outmax)
{
	size_t i = 0, n = 0, k;
	char *end;

	while (i < tlen) {
		if (t[i] == '{') {
			k = strtoul(t + i + 1, &end, 10);
			ck_assert(*end == '}');
			ck_assert_uint_le(n + k, outmax);
			memset(out + n, 'x', k);
			n += k;
			i = (size_t)(end - t) + 1;
			continue;
		}
		ck_assert_uint_lt(n, outmax);
		out[n++] = t[i++];
	}
	return n;
}

struct result {
	struct sink	 sink;
	int		 done;
	size_t		 used;		/* input bytes consumed */
	enum msg_error	 error;
};

/*
 * Feed in[0..n) in pieces as session.c does: what textdec_data leaves
 * unused is offered again, followed by the next piece.  cut[] lists the
 * offsets where pieces end (ncut of them, ascending); the last piece
 * ends at n.
 */
static void
feed_data(const char *in, size_t n, const size_t *cut, size_t ncut,
    size_t limit, struct result *r)
{
	static char pend[BIG];
	struct textdec d;
	size_t plen = 0, off = 0, next, used, k;

	memset(r, 0, sizeof(*r));
	textdec_init(&d, limit);
	sink_init(&r->sink, &d);
	for (k = 0; k <= ncut; k++) {
		next = k < ncut ? cut[k] : n;
		ck_assert_uint_ge(next, off);
		memcpy(pend + plen, in + off, next - off);
		plen += next - off;
		off = next;
		used = textdec_data(&d, pend, plen, sink_emit, &r->sink,
		    &r->done);
		ck_assert_uint_le(used, plen);
		memmove(pend, pend + used, plen - used);
		plen -= used;
		if (r->done)
			break;
		/* it keeps back only what it cannot decide yet: ".", ".\r", "\r" */
		ck_assert_uint_le(plen, 2);
	}
	r->used = off - plen;
	r->error = d.error;
	ck_assert_int_eq(r->sink.late, 0);
}

/* ---- DATA cases ------------------------------------------------------------ */

struct dcase {
	const char	*name;
	const char	*in;
	size_t		 inlen;
	const char	*out;
	size_t		 outlen;
	int		 done;
	long		 used;
	enum msg_error	 error;
	size_t		 limit;		/* smtp_line_length_limit; 0: none */
};

static const struct dcase dcases[] = {
	/* the end, and dot-stuffing */
	{ "empty message", T(".\r\n"), T(""), 1, ALL, ME_NONE, 0 },
	{ "one line", T("a\r\n.\r\n"), T("a\n"), 1, ALL, ME_NONE, 0 },
	{ "header and body", T("Subject: x\r\n\r\nbody\r\n.\r\n"),
	    T("Subject: x\n\nbody\n"), 1, ALL, ME_NONE, 0 },
	{ "empty lines", T("\r\n\r\n.\r\n"), T("\n\n"), 1, ALL, ME_NONE, 0 },
	{ "stuffed dot", T("..x\r\n.\r\n"), T(".x\n"), 1, ALL, ME_NONE, 0 },
	{ "stuffed lone dot", T("..\r\n.\r\n"), T(".\n"), 1, ALL, ME_NONE, 0 },
	{ "only one dot removed", T("...\r\n.\r\n"), T("..\n"), 1, ALL,
	    ME_NONE, 0 },
	{ "stuffed after a line", T("a\r\n..\r\n.\r\n"), T("a\n.\n"), 1, ALL,
	    ME_NONE, 0 },
	{ "unstuffed dot line", T("a\r\n.x\r\n.\r\n"), T("a\nx\n"), 1, ALL,
	    ME_NONE, 0 },
	{ "dot space", T(". \r\n.\r\n"), T(" \n"), 1, ALL, ME_NONE, 0 },
	{ "dot inside a line", T("a.b\r\nx.\r\n.\r\n"), T("a.b\nx.\n"), 1,
	    ALL, ME_NONE, 0 },
	{ "rest not used", T("a\r\n.\r\nQUIT\r\n"), T("a\n"), 1, 6, ME_NONE,
	    0 },
	{ "pipelined end", T(".\r\n.\r\n"), T(""), 1, 3, ME_NONE, 0 },
	{ "no end yet", T("a\r\nb\r\n"), T("a\nb\n"), 0, ALL, ME_NONE, 0 },
	{ "end waits for LF", T("a\r\n.\r"), T("a\n"), 0, 3, ME_NONE, 0 },
	{ "dot waits", T("a\r\n."), T("a\n"), 0, 3, ME_NONE, 0 },
	{ "CR waits", T("a\r"), T("a"), 0, 1, ME_NONE, 0 },
	{ "stuffed dot at the end", T("..\r\n"), T(".\n"), 0, ALL, ME_NONE, 0 },
	{ "8-bit and controls pass", T("\xff\x80\t\x01\x7f\r\n.\r\n"),
	    T("\xff\x80\t\x01\x7f\n"), 1, ALL, ME_NONE, 0 },

	/* smuggling: a bare CR or LF never ends a line, let alone the text */
	{ "LF.LF", T("a\n.\nMAIL FROM:<e@x>\r\n.\r\n"), T("a"), 1, ALL,
	    ME_BARE_EOL, 0 },
	{ "CR.CR", T("a\r.\rb\r\n.\r\n"), T("a"), 1, ALL, ME_BARE_EOL, 0 },
	{ "LF.CRLF", T("a\n.\r\nb\r\n.\r\n"), T("a"), 1, ALL, ME_BARE_EOL, 0 },
	{ "CRLF.LF", T("a\r\n.\nb\r\n.\r\n"), T("a\n"), 1, ALL, ME_BARE_EOL,
	    0 },
	{ "CRLF.CR", T("a\r\n.\rb\r\n.\r\n"), T("a\n"), 1, ALL, ME_BARE_EOL,
	    0 },
	{ "CRLF.CR CRLF", T("a\r\n.\r\r\n.\r\n"), T("a\n"), 1, ALL,
	    ME_BARE_EOL, 0 },
	{ "dot LF at the start", T(".\nb\r\n.\r\n"), T(""), 1, ALL,
	    ME_BARE_EOL, 0 },
	{ "dot CR at the start", T(".\rb\r\n.\r\n"), T(""), 1, ALL,
	    ME_BARE_EOL, 0 },
	{ "LF.CRLF at the start", T("\n.\r\n"), T(""), 0, ALL, ME_BARE_EOL, 0 },
	{ "LF.CRLF then the end", T("\n.\r\n.\r\n"), T(""), 1, ALL,
	    ME_BARE_EOL, 0 },
	{ "LF.LF only", T("a\n.\n"), T("a"), 0, ALL, ME_BARE_EOL, 0 },
	{ "bare LF", T("a\nb\r\n.\r\n"), T("a"), 1, ALL, ME_BARE_EOL, 0 },
	{ "bare CR", T("a\rb\r\n.\r\n"), T("a"), 1, ALL, ME_BARE_EOL, 0 },
	{ "CR CR LF", T("a\r\r\n.\r\n"), T("a"), 1, ALL, ME_BARE_EOL, 0 },
	{ "LF CR LF", T("x\n\r\n.\r\n"), T("x"), 1, ALL, ME_BARE_EOL, 0 },
	{ "LF CR", T("a\n\rb\r\n.\r\n"), T("a"), 1, ALL, ME_BARE_EOL, 0 },
	{ "bare LF after the end", T("a\r\n.\r\n\n"), T("a\n"), 1, 6,
	    ME_NONE, 0 },

	/* NUL */
	{ "NUL", T("a\0b\r\n.\r\n"), T("a"), 1, ALL, ME_NUL, 0 },
	{ "NUL at line start", T("a\r\n\0\r\n.\r\n"), T("a\n"), 1, ALL,
	    ME_NUL, 0 },
	{ "NUL after a stuffed dot", T(".\0\r\n.\r\n"), T(""), 1, ALL,
	    ME_NUL, 0 },
	{ "NUL first wins", T("a\0\nb\r\n.\r\n"), T("a"), 1, ALL, ME_NUL, 0 },
	{ "bare LF first wins", T("a\n\0\r\n.\r\n"), T("a"), 1, ALL,
	    ME_BARE_EOL, 0 },

	/* no limit (the default): long lines pass byte-exact */
	{ "998 ok", T("{998}\r\n.\r\n"), T("{998}\n"), 1, ALL, ME_NONE, 0 },
	{ "999 ok", T("{999}\r\n.\r\n"), T("{999}\n"), 1, ALL, ME_NONE, 0 },
	{ "2000 ok", T("a\r\n{2000}\r\nb\r\n.\r\n"), T("a\n{2000}\nb\n"), 1,
	    ALL, ME_NONE, 0 },
	{ "stuffed 2000 ok", T("..{2000}\r\n.\r\n"), T(".{2000}\n"), 1, ALL,
	    ME_NONE, 0 },
	{ "2000 and the end", T("{2000}\r\n.\r\nQUIT\r\n"), T("{2000}\n"), 1,
	    2005, ME_NONE, 0 },
	{ "2000 and a bare LF", T("{2000}\nx\r\n.\r\n"), T("{2000}"), 1, ALL,
	    ME_BARE_EOL, 0 },
	{ "2000 and LF.LF", T("{2000}\n.\nMAIL FROM:<e@x>\r\n.\r\n"),
	    T("{2000}"), 1, ALL, ME_BARE_EOL, 0 },
	{ "2000 and NUL", T("{2000}\0\r\n.\r\n"), T("{2000}"), 1, ALL,
	    ME_NUL, 0 },

	/* smtp_line_length_limit 998: RFC 5321's 1000 octets with CRLF */
	{ "998 ok, limit", T("{998}\r\n.\r\n"), T("{998}\n"), 1, ALL, ME_NONE,
	    LIMIT },
	{ "998 twice ok", T("{998}\r\n{998}\r\n.\r\n"), T("{998}\n{998}\n"), 1,
	    ALL, ME_NONE, LIMIT },
	{ "999 too long", T("{999}\r\n.\r\n"), T("{999}"), 1, ALL,
	    ME_LONG_LINE, LIMIT },
	{ "999 on a later line", T("a\r\n{999}\r\nb\r\n.\r\n"), T("a\n{999}"),
	    1, ALL, ME_LONG_LINE, LIMIT },
	{ "stuffed 998 ok", T("..{996}\r\n.\r\n"), T(".{996}\n"), 1, ALL,
	    ME_NONE, LIMIT },
	/* the stuffed dot does not count (RFC 5321 4.5.3.1.6) */
	{ "stuffed 999 ok", T("..{997}\r\n.\r\n"), T(".{997}\n"), 1, ALL,
	    ME_NONE, LIMIT },
	{ "stuffed 999 chars too long", T("..{998}\r\n.\r\n"), T(".{998}"), 1,
	    ALL, ME_LONG_LINE, LIMIT },
	/* output stops at the octet that crosses the limit, however split */
	{ "1000 too long", T("{1000}\r\n.\r\n"), T("{999}"), 1, ALL,
	    ME_LONG_LINE, LIMIT },
	{ "997 and a bare CR", T("{997}\rx\r\n.\r\n"), T("{997}"), 1, ALL,
	    ME_BARE_EOL, LIMIT },
	{ "long line still ends", T("{2000}\r\n.\r\nQUIT\r\n"), T("{999}"), 1,
	    2005, ME_LONG_LINE, LIMIT },
	{ "long line, then LF.LF", T("{1200}\r\na\n.\nb\r\n.\r\n"), T("{999}"),
	    1, ALL, ME_LONG_LINE, LIMIT },

	/* another limit: the same rule at its own edge */
	{ "2000 ok, limit 2000", T("{2000}\r\n.\r\n"), T("{2000}\n"), 1, ALL,
	    ME_NONE, 2000 },
	{ "2001 too long, limit 2000", T("{2001}\r\nb\r\n.\r\n"), T("{2001}"),
	    1, ALL, ME_LONG_LINE, 2000 },
};

#define NDCASES	(sizeof(dcases) / sizeof(dcases[0]))

static char d_in[BIG], d_out[BIG];
static size_t d_inlen, d_outlen;

static const struct dcase *
dcase_load(int i)
{
	const struct dcase *c = &dcases[i];

	d_inlen = expand(c->in, c->inlen, d_in, sizeof(d_in));
	d_outlen = expand(c->out, c->outlen, d_out, sizeof(d_out));
	return c;
}

/* One split gives the case's answer; with any error, the text emitted
 * is what emission up to the error gives, and no more than at once. */
static void
dcase_check(const struct dcase *c, const struct result *r, const char *how)
{
	size_t used = c->used == ALL ? d_inlen : (size_t)c->used;

	ck_assert_msg(r->done == c->done, "%s (%s): done %d", c->name, how,
	    r->done);
	ck_assert_msg(r->used == used, "%s (%s): used %zu, want %zu", c->name,
	    how, r->used, used);
	ck_assert_msg(r->error == c->error, "%s (%s): error %d, want %d",
	    c->name, how, r->error, c->error);
	ck_assert_msg(memchr(r->sink.buf, '\r', r->sink.len) == NULL,
	    "%s (%s): CR in the output", c->name, how);
	if (c->error == ME_LONG_LINE) {
		/* a piece that crosses the limit may be emitted whole */
		ck_assert_msg(r->sink.len <= d_outlen &&
		    memcmp(r->sink.buf, d_out, r->sink.len) == 0,
		    "%s (%s): output not a prefix", c->name, how);
		return;
	}
	ck_assert_msg(r->sink.len == d_outlen &&
	    memcmp(r->sink.buf, d_out, d_outlen) == 0,
	    "%s (%s): output \"%.*s\"", c->name, how, (int)r->sink.len,
	    r->sink.buf);
}

START_TEST(test_data_at_once)
{
	const struct dcase *c = dcase_load(_i);
	struct result r;

	feed_data(d_in, d_inlen, NULL, 0, c->limit, &r);
	dcase_check(c, &r, "at once");
	/* at once is exact, for a long line too */
	ck_assert_msg(r.sink.len == d_outlen &&
	    memcmp(r.sink.buf, d_out, d_outlen) == 0, "%s: output", c->name);
}
END_TEST

/* the longest line the case's input has, CR LF and NUL ending one */
static size_t
longest_line(const char *p, size_t n)
{
	size_t i, run = 0, max = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
			run = 0;
		else if (++run > max)
			max = run;
	}
	return max;
}

/*
 * A limit no line of the case reaches changes nothing: dot-stuffing,
 * the end and the smuggling defences work the same with and without.
 */
START_TEST(test_data_limit_neutral)
{
	const struct dcase *c = dcase_load(_i);
	static const size_t limits[] = { 0, LIMIT, 2000, 1000000, SIZE_MAX };
	struct result r;
	size_t k;
	char how[48];

	if (c->error == ME_LONG_LINE)
		return;
	for (k = 0; k < sizeof(limits) / sizeof(limits[0]); k++) {
		/* a stuffed dot is counted here, not by textdec: safe side */
		if (limits[k] != 0 && longest_line(d_in, d_inlen) > limits[k])
			continue;
		snprintf(how, sizeof(how), "limit %zu", limits[k]);
		feed_data(d_in, d_inlen, NULL, 0, limits[k], &r);
		dcase_check(c, &r, how);
	}
}
END_TEST

START_TEST(test_data_byte_by_byte)
{
	const struct dcase *c = dcase_load(_i);
	static size_t cut[BIG];
	struct result whole, r;
	size_t k;

	for (k = 0; k + 1 < d_inlen; k++)
		cut[k] = k + 1;
	feed_data(d_in, d_inlen, cut, d_inlen ? d_inlen - 1 : 0, c->limit,
	    &r);
	dcase_check(c, &r, "byte by byte");
	/* the same as at once (up to the limit for a long line) */
	feed_data(d_in, d_inlen, NULL, 0, c->limit, &whole);
	ck_assert_int_eq(r.done, whole.done);
	ck_assert_uint_eq(r.used, whole.used);
	ck_assert_int_eq(r.error, whole.error);
	ck_assert_uint_le(r.sink.len, whole.sink.len);
	ck_assert_int_eq(memcmp(r.sink.buf, whole.sink.buf, r.sink.len), 0);
	if (whole.error != ME_LONG_LINE)
		ck_assert_uint_eq(r.sink.len, whole.sink.len);
}
END_TEST

/* split in two at every position: CRLF and the dot cut every way */
START_TEST(test_data_split2)
{
	const struct dcase *c = dcase_load(_i);
	struct result r;
	size_t k;
	char how[32];

	for (k = 0; k <= d_inlen; k++) {
		snprintf(how, sizeof(how), "cut at %zu", k);
		feed_data(d_in, d_inlen, &k, 1, c->limit, &r);
		dcase_check(c, &r, how);
	}
}
END_TEST

START_TEST(test_data_split3)
{
	const struct dcase *c = dcase_load(_i);
	struct result r;
	size_t cut[2], step;
	char how[48];

	/* every pair for short cases, a sample for long ones */
	step = d_inlen <= 64 ? 1 : d_inlen / 40;
	for (cut[0] = 0; cut[0] <= d_inlen; cut[0] += step)
		for (cut[1] = cut[0]; cut[1] <= d_inlen; cut[1] += step) {
			snprintf(how, sizeof(how), "cut at %zu, %zu", cut[0],
			    cut[1]);
			feed_data(d_in, d_inlen, cut, 2, c->limit, &r);
			dcase_check(c, &r, how);
		}
}
END_TEST

START_TEST(test_data_chunks)
{
	const struct dcase *c = dcase_load(_i);
	static size_t cut[BIG];
	struct result r;
	size_t size, n, off;
	char how[32];

	for (size = 2; size <= 7; size++) {
		for (n = 0, off = size; off < d_inlen; off += size)
			cut[n++] = off;
		snprintf(how, sizeof(how), "chunks of %zu", size);
		feed_data(d_in, d_inlen, cut, n, c->limit, &r);
		dcase_check(c, &r, how);
	}
}
END_TEST

/* empty reads change nothing */
START_TEST(test_data_empty_reads)
{
	const struct dcase *c = dcase_load(_i);
	static size_t cut[3 * BIG];
	struct result r;
	size_t k, n = 0;

	for (k = 0; k < d_inlen; k++) {
		cut[n++] = k;
		cut[n++] = k;
	}
	feed_data(d_in, d_inlen, cut, n, c->limit, &r);
	dcase_check(c, &r, "empty reads");
}
END_TEST

/* ---- DATA: single behaviours ---------------------------------------------- */

/* After an error, later reads emit nothing but the end is still found. */
START_TEST(test_no_emit_after_error)
{
	struct textdec d;
	struct sink s;
	int done;

	textdec_init(&d, 0);
	sink_init(&s, &d);
	ck_assert_uint_eq(textdec_data(&d, T("ok\r\nbad\n"), sink_emit, &s,
	    &done), 8);
	ck_assert_int_eq(done, 0);
	ck_assert_int_eq(d.error, ME_BARE_EOL);
	ck_assert_uint_eq(s.len, 6);
	ck_assert_int_eq(memcmp(s.buf, "ok\nbad", 6), 0);
	ck_assert_uint_eq(textdec_data(&d, T("more text\r\n"), sink_emit, &s,
	    &done), 11);
	ck_assert_uint_eq(textdec_data(&d, T("..x\r\n.\r\n"), sink_emit, &s,
	    &done), 8);
	ck_assert_int_eq(done, 1);
	ck_assert_uint_eq(s.len, 6);
	ck_assert_int_eq(s.late, 0);
	ck_assert_int_eq(d.error, ME_BARE_EOL);
}
END_TEST

/* The caller's flag (ME_TOO_BIG from emit) stops emit at once. */
START_TEST(test_flag_from_emit)
{
	struct textdec d;
	struct sink s;
	int done;

	textdec_init(&d, 0);
	sink_init(&s, &d);
	s.too_big_at = 3;
	ck_assert_uint_eq(textdec_data(&d, T("abcd\r\nef\ngh\r\n.\r\n"),
	    sink_emit, &s, &done), 16);
	ck_assert_int_eq(done, 1);
	ck_assert_int_eq(d.error, ME_TOO_BIG);	/* the first reason wins */
	ck_assert_int_eq(s.calls, 1);
	ck_assert_int_eq(s.late, 0);
	/* a flag before any text: nothing is emitted */
	textdec_init(&d, 0);
	sink_init(&s, &d);
	textdec_flag(&d, ME_QUEUE);
	textdec_flag(&d, ME_NUL);
	ck_assert_uint_eq(textdec_data(&d, T("a\r\n.\r\n"), sink_emit, &s,
	    &done), 6);
	ck_assert_int_eq(done, 1);
	ck_assert_int_eq(d.error, ME_QUEUE);
	ck_assert_int_eq(s.calls, 0);
}
END_TEST

/* A line's length is counted across reads and reset by CRLF only. */
START_TEST(test_line_length_across_reads)
{
	static char x[998];
	struct textdec d;
	struct sink s;
	int done;

	memset(x, 'x', sizeof(x));
	textdec_init(&d, LIMIT);
	sink_init(&s, &d);
	ck_assert_uint_eq(textdec_data(&d, x, 500, sink_emit, &s, &done), 500);
	ck_assert_uint_eq(textdec_data(&d, x, 498, sink_emit, &s, &done), 498);
	ck_assert_uint_eq(textdec_data(&d, T("\r\n"), sink_emit, &s, &done), 2);
	ck_assert_int_eq(d.error, ME_NONE);
	ck_assert_uint_eq(textdec_data(&d, x, 998, sink_emit, &s, &done), 998);
	ck_assert_int_eq(d.error, ME_NONE);
	ck_assert_uint_eq(textdec_data(&d, T("y"), sink_emit, &s, &done), 1);
	ck_assert_int_eq(d.error, ME_LONG_LINE);
	ck_assert_uint_eq(s.len, 998 + 1 + 998 + 1);
	/* a bare LF does not reset the count */
	textdec_init(&d, LIMIT);
	sink_init(&s, &d);
	textdec_data(&d, x, 600, sink_emit, &s, &done);
	textdec_data(&d, T("\n"), sink_emit, &s, &done);
	ck_assert_int_eq(d.error, ME_BARE_EOL);
	ck_assert_uint_eq(d.line_len, 601);
}
END_TEST

/* ---- a 100,000-octet line ---------------------------------------------- */

/* A sink as big as the line, checked against what was sent. */
struct bigsink {
	char		*buf;
	size_t		 len, cap;
	struct textdec	*d;
	int		 late;
};

static void
big_emit(void *arg, const char *p, size_t n)
{
	struct bigsink *b = arg;

	if (b->d->error != ME_NONE)
		b->late++;
	ck_assert_uint_le(n, b->cap - b->len);
	memcpy(b->buf + b->len, p, n);
	b->len += n;
}

/* "Subject: long\r\n\r\n", one line of HUGE_LINE octets (a leading
 * stuffed dot, letters, 8-bit), CRLF, "end", CRLF, ".", CRLF */
static size_t
huge_message(char *wire, size_t max, char *text, size_t *textlen)
{
	static const char head[] = "Subject: long\r\n\r\n";
	size_t i, n = 0, t = 0;

	ck_assert_uint_ge(max, HUGE_LINE + 64);
	memcpy(wire, head, sizeof(head) - 1);
	n = sizeof(head) - 1;
	memcpy(text, "Subject: long\n\n", 15);
	t = 15;
	wire[n++] = '.';	/* stuffed: the line starts with a dot */
	for (i = 0; i < HUGE_LINE; i++)
		wire[n++] = text[t++] = i == 0 ? '.' :
		    (char)(i % 251 == 0 ? 0xe9 : 'a' + i % 26);
	memcpy(wire + n, "\r\nend\r\n.\r\n", 10);
	n += 10;
	memcpy(text + t, "\nend\n", 5);
	*textlen = t + 5;
	return n;
}

/* Feed the wire in pieces of the sizes seed picks, as session.c would. */
static void
huge_feed(const char *wire, size_t n, unsigned seed, size_t limit,
    struct bigsink *b, struct textdec *d, int *done)
{
	char *pend = malloc(n);
	size_t plen = 0, off = 0, k, used;

	ck_assert_ptr_nonnull(pend);
	textdec_init(d, limit);
	b->d = d;
	*done = 0;
	srandom(seed);
	while (off < n && !*done) {
		k = seed == 0 ? n : 1 + (size_t)random() % 9000;
		if (k > n - off)
			k = n - off;
		memcpy(pend + plen, wire + off, k);
		plen += k;
		off += k;
		used = textdec_data(d, pend, plen, big_emit, b, done);
		memmove(pend, pend + used, plen - used);
		plen -= used;
		ck_assert_uint_le(plen, 2);	/* never a line held back */
	}
	free(pend);
}

START_TEST(test_huge_line_no_limit)
{
	size_t max = HUGE_LINE + 64, n, tlen;
	char *wire = malloc(max), *text = malloc(max);
	struct bigsink b;
	struct textdec d;
	unsigned seed;
	int done;

	ck_assert_ptr_nonnull(wire);
	ck_assert_ptr_nonnull(text);
	n = huge_message(wire, max, text, &tlen);
	for (seed = 0; seed < 8; seed++) {
		memset(&b, 0, sizeof(b));
		b.cap = max;
		b.buf = malloc(b.cap);
		ck_assert_ptr_nonnull(b.buf);
		huge_feed(wire, n, seed, 0, &b, &d, &done);
		ck_assert_int_eq(done, 1);
		ck_assert_int_eq(d.error, ME_NONE);
		ck_assert_uint_eq(b.len, tlen);
		ck_assert_msg(memcmp(b.buf, text, tlen) == 0, "seed %u", seed);
		free(b.buf);
	}
	free(wire);
	free(text);
}
END_TEST

START_TEST(test_huge_line_limit)
{
	size_t max = HUGE_LINE + 64, n, tlen;
	char *wire = malloc(max), *text = malloc(max);
	struct bigsink b;
	struct textdec d;
	unsigned seed;
	int done;

	ck_assert_ptr_nonnull(wire);
	ck_assert_ptr_nonnull(text);
	n = huge_message(wire, max, text, &tlen);
	for (seed = 0; seed < 8; seed++) {
		memset(&b, 0, sizeof(b));
		b.cap = max;
		b.buf = malloc(b.cap);
		ck_assert_ptr_nonnull(b.buf);
		huge_feed(wire, n, seed, LIMIT, &b, &d, &done);
		/* refused, but the real end is still found */
		ck_assert_int_eq(done, 1);
		ck_assert_int_eq(d.error, ME_LONG_LINE);
		ck_assert_int_eq(b.late, 0);
		/* the header, and the line up to the octet over the limit */
		ck_assert_uint_eq(b.len, 15 + LIMIT + 1);
		ck_assert_int_eq(memcmp(b.buf, text, b.len), 0);
		free(b.buf);
	}
	free(wire);
	free(text);
}
END_TEST

START_TEST(test_huge_line_bdat)
{
	size_t max = HUGE_LINE + 64, n, tlen, off, k;
	char *wire = malloc(max), *text = malloc(max);
	struct bigsink b;
	struct textdec d;
	unsigned seed;

	ck_assert_ptr_nonnull(wire);
	ck_assert_ptr_nonnull(text);
	n = huge_message(wire, max, text, &tlen);
	n -= 3;					/* BDAT: no ".\r\n" */
	for (seed = 0; seed < 4; seed++) {
		memset(&b, 0, sizeof(b));
		b.cap = max;
		b.buf = malloc(b.cap);
		ck_assert_ptr_nonnull(b.buf);
		textdec_init(&d, 0);
		b.d = &d;
		srandom(seed);
		for (off = 0; off < n; off += k) {
			k = seed == 0 ? n : 1 + (size_t)random() % 9000;
			if (k > n - off)
				k = n - off;
			textdec_bdat(&d, wire + off, k, big_emit, &b);
		}
		textdec_bdat_end(&d);
		ck_assert_int_eq(d.error, ME_NONE);
		/* BDAT has no dot-stuffing: the line keeps both dots */
		ck_assert_uint_eq(b.len, tlen + 1);
		ck_assert_int_eq(memcmp(b.buf, text, 15), 0);
		ck_assert_int_eq(b.buf[15], '.');
		ck_assert_int_eq(memcmp(b.buf + 16, text + 15, tlen - 15), 0);
		free(b.buf);
	}
	free(wire);
	free(text);
}
END_TEST

/* ---- BDAT --------------------------------------------------------------- */

struct chunk {
	const char	*p;
	size_t		 n;
};

struct bcase {
	const char	*name;
	struct chunk	 c[4];		/* up to four BDAT chunks */
	int		 last;		/* BDAT LAST after them */
	const char	*out;
	size_t		 outlen;
	enum msg_error	 error;
	size_t		 limit;		/* smtp_line_length_limit; 0: none */
};

#define C(s)	{ s, sizeof(s) - 1 }

static const struct bcase bcases[] = {
	{ "CRLF to LF", { C("a\r\nb\r\n") }, 1, T("a\nb\n"), ME_NONE, 0 },
	{ "CR at a chunk end", { C("a\r"), C("\nb\r\n") }, 1, T("a\nb\n"),
	    ME_NONE, 0 },
	{ "CR alone in a chunk", { C("a"), C("\r"), C("\n"), C("b") }, 1,
	    T("a\nb"), ME_NONE, 0 },
	{ "CR at the end, not last", { C("a\r") }, 0, T("a"), ME_NONE, 0 },
	{ "trailing CR at the end", { C("a\r") }, 1, T("a"), ME_BARE_EOL, 0 },
	{ "trailing CR in its own chunk", { C("a\r\n"), C("\r") }, 1,
	    T("a\n"), ME_BARE_EOL, 0 },
	{ "bare LF", { C("a\nb") }, 1, T("a"), ME_BARE_EOL, 0 },
	{ "bare LF at a chunk start", { C("a"), C("\nb") }, 1, T("a"),
	    ME_BARE_EOL, 0 },
	{ "bare CR", { C("a\rb") }, 1, T("a"), ME_BARE_EOL, 0 },
	{ "CR then CR", { C("a\r"), C("\r\n") }, 1, T("a"), ME_BARE_EOL, 0 },
	{ "NUL", { C("a\0b") }, 1, T("a"), ME_NUL, 0 },
	{ "no dot-stuffing", { C("..x\r\n.\r\n") }, 1, T("..x\n.\n"),
	    ME_NONE, 0 },
	{ "no smuggled end", { C("a\r\n.\r\nMAIL FROM:<e@x>\r\n") }, 1,
	    T("a\n.\nMAIL FROM:<e@x>\n"), ME_NONE, 0 },
	{ "empty", { C("") }, 1, T(""), ME_NONE, 0 },
	{ "empty chunks", { C(""), C("a"), C(""), C("\r\n") }, 1, T("a\n"),
	    ME_NONE, 0 },
	{ "999 ok", { C("{999}\r\n") }, 1, T("{999}\n"), ME_NONE, 0 },
	{ "2000 across chunks ok", { C("{1000}"), C("{1000}\r"), C("\n") }, 1,
	    T("{2000}\n"), ME_NONE, 0 },
	{ "2000 and a bare LF", { C("{2000}\nx\r\n") }, 1, T("{2000}"),
	    ME_BARE_EOL, 0 },
	{ "998 ok, limit", { C("{998}\r\n") }, 1, T("{998}\n"), ME_NONE,
	    LIMIT },
	{ "999 too long", { C("{999}\r\n") }, 1, T("{999}"), ME_LONG_LINE,
	    LIMIT },
	{ "999 across chunks", { C("{500}"), C("{499}") }, 1, T("{999}"),
	    ME_LONG_LINE, LIMIT },
	{ "CRLF resets the count", { C("{998}\r"), C("\n{998}\r\n") }, 1,
	    T("{998}\n{998}\n"), ME_NONE, LIMIT },
};

#define NBCASES	(sizeof(bcases) / sizeof(bcases[0]))

static void
bdat_run(const struct bcase *c, size_t piece, struct sink *s,
    struct textdec *d)
{
	static char buf[BIG];
	size_t i, n, off, k;

	textdec_init(d, c->limit);
	sink_init(s, d);
	for (i = 0; i < 4 && c->c[i].p != NULL; i++) {
		n = expand(c->c[i].p, c->c[i].n, buf, sizeof(buf));
		/* piece 0: each chunk in one call; else in pieces of that size */
		for (off = 0; off < n || (off == 0 && n == 0); off += k) {
			k = piece == 0 || n - off < piece ? n - off : piece;
			textdec_bdat(d, buf + off, k, sink_emit, s);
			if (k == 0)
				break;
		}
	}
	if (c->last)
		textdec_bdat_end(d);
	ck_assert_int_eq(s->late, 0);
}

/* without LAST, a CR ending the last chunk is still undecided */
static int
cr_left(const struct bcase *c)
{
	const struct chunk *k = NULL;
	size_t i;

	for (i = 0; i < 4 && c->c[i].p != NULL; i++)
		k = &c->c[i];
	return !c->last && k != NULL && k->n > 0 && k->p[k->n - 1] == '\r';
}

START_TEST(test_bdat)
{
	const struct bcase *c = &bcases[_i];
	static char want[BIG];
	struct textdec d;
	struct sink s;
	size_t wlen, piece;

	wlen = expand(c->out, c->outlen, want, sizeof(want));
	for (piece = 0; piece <= 3; piece++) {
		bdat_run(c, piece, &s, &d);
		ck_assert_msg(d.error == c->error, "%s (pieces %zu): error %d",
		    c->name, piece, d.error);
		ck_assert_msg(memchr(s.buf, '\r', s.len) == NULL,
		    "%s: CR in the output", c->name);
		ck_assert_msg(s.len == wlen && memcmp(s.buf, want, wlen) == 0,
		    "%s (pieces %zu): output \"%.*s\"", c->name, piece,
		    (int)s.len, s.buf);
		ck_assert_int_eq(d.cr_pending, cr_left(c));
	}
}
END_TEST

/* BDAT LAST clears a pending CR; a new message starts clean. */
START_TEST(test_bdat_end_resets)
{
	struct textdec d;
	struct sink s;

	textdec_init(&d, 0);
	sink_init(&s, &d);
	textdec_bdat(&d, T("x\r"), sink_emit, &s);
	ck_assert_int_eq(d.cr_pending, 1);
	textdec_bdat_end(&d);
	ck_assert_int_eq(d.cr_pending, 0);
	ck_assert_int_eq(d.error, ME_BARE_EOL);
	textdec_bdat_end(&d);			/* twice: harmless */
	ck_assert_int_eq(d.error, ME_BARE_EOL);
	textdec_init(&d, 0);
	ck_assert_int_eq(d.error, ME_NONE);
	ck_assert_int_eq(d.line_start, 1);
	ck_assert_uint_eq(d.line_len, 0);
	textdec_bdat_end(&d);
	ck_assert_int_eq(d.error, ME_NONE);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("textdec");
	TCase *tc = tcase_create("data");
	TCase *tb = tcase_create("bdat");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_data_at_once, 0, NDCASES);
	tcase_add_loop_test(tc, test_data_limit_neutral, 0, NDCASES);
	tcase_add_loop_test(tc, test_data_byte_by_byte, 0, NDCASES);
	tcase_add_loop_test(tc, test_data_split2, 0, NDCASES);
	tcase_add_loop_test(tc, test_data_split3, 0, NDCASES);
	tcase_add_loop_test(tc, test_data_chunks, 0, NDCASES);
	tcase_add_loop_test(tc, test_data_empty_reads, 0, NDCASES);
	tcase_add_test(tc, test_no_emit_after_error);
	tcase_add_test(tc, test_flag_from_emit);
	tcase_add_test(tc, test_line_length_across_reads);
	tcase_add_test(tc, test_huge_line_no_limit);
	tcase_add_test(tc, test_huge_line_limit);
	tcase_add_test(tc, test_huge_line_bdat);
	suite_add_tcase(s, tc);
	tcase_add_loop_test(tb, test_bdat, 0, NBCASES);
	tcase_add_test(tb, test_bdat_end_resets);
	suite_add_tcase(s, tb);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
