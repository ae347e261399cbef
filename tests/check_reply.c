/*
 * check_reply.c - unit tests for remote/reply.c: SMTP replies as
 * kurir-remote (remote user, chrooted) reads them from a server it does
 * not trust, the EHLO keywords, and the DATA encoder.
 *
 * The Makefile links tests with the common library only, so reply.c is
 * compiled in here.  Covers: single, multi-line and pipelined replies,
 * a reply split byte by byte and at the CR of its CRLF, bare LF, bare
 * CR, "250" with no text, malformed codes, a code change inside a
 * reply, the line and line-count limits at their edges, a megabyte of
 * "250-" (refused within the limits, memory fixed), NUL, BAD staying
 * BAD, text truncation (whole lines only), reply_diag,
 * reply_status_code, ehlo_parse, and dotenc including chunk boundaries
 * and a capped output buffer.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../remote/reply.c"

/* ---- harness ------------------------------------------------------------ */

/* Feed a whole string that holds exactly one reply; expect DONE. */
static struct reply
parse_one(const char *s)
{
	struct reply_parser rp;
	struct reply r;
	const char *why = "unset";
	size_t used = 0;

	memset(&r, 0xa5, sizeof(r));
	reply_init(&rp);
	ck_assert_int_eq(reply_feed(&rp, s, strlen(s), &used, &r, &why),
	    REPLY_DONE);
	ck_assert_uint_eq(used, strlen(s));
	ck_assert_ptr_null(why);
	return r;
}

/* Feed s in one go; expect BAD with the reason want. */
static void
expect_bad(const char *s, size_t len, const char *want)
{
	struct reply_parser rp;
	struct reply r;
	const char *why = NULL;
	size_t used = 0;

	reply_init(&rp);
	ck_assert_msg(reply_feed(&rp, s, len, &used, &r, &why) == REPLY_BAD,
	    "not BAD: \"%s\"", s);
	ck_assert_ptr_nonnull(why);
	ck_assert_str_eq(why, want);
	ck_assert_uint_le(used, len);
	/* BAD is final, and says the same again */
	why = NULL;
	ck_assert_int_eq(reply_feed(&rp, "250 ok\r\n", 8, &used, &r, &why),
	    REPLY_BAD);
	ck_assert_str_eq(why, want);
	ck_assert_uint_eq(used, 0);
}

static char *
repeat(char c, size_t n)
{
	char *s;

	ck_assert_ptr_nonnull(s = malloc(n + 1));
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* Encode the chunks (NULL-terminated list) and compare with want. */
static void
encode_check(const char *want, const char **chunks)
{
	struct dotenc d;
	struct buf b;

	buf_init(&b, 0);
	dotenc_init(&d);
	for (; *chunks != NULL; chunks++)
		ck_assert_int_eq(dotenc_add(&d, *chunks, strlen(*chunks), &b),
		    0);
	ck_assert_int_eq(dotenc_end(&d, &b), 0);
	ck_assert_str_eq(buf_cstr(&b), want);
	buf_free(&b);
}

#define ENCODE(want, ...) do {						\
	const char *chunks_[] = { __VA_ARGS__, NULL };			\
	encode_check(want, chunks_);					\
} while (0)

/* ---- reply_feed --------------------------------------------------------- */

START_TEST(test_single)
{
	struct reply r = parse_one("250 2.0.0 OK\r\n");

	ck_assert_int_eq(r.code, 250);
	ck_assert_uint_eq(r.nlines, 1);
	ck_assert_str_eq(r.text, "2.0.0 OK\n");
	ck_assert_int_eq(r.truncated, 0);

	r = parse_one("220 mx.example.net ESMTP\r\n");
	ck_assert_int_eq(r.code, 220);
	ck_assert_str_eq(r.text, "mx.example.net ESMTP\n");
}
END_TEST

START_TEST(test_multi)
{
	struct reply r = parse_one("250-mx.example.net Hello\r\n"
	    "250-PIPELINING\r\n250-\r\n250 SIZE 1000\r\n");

	ck_assert_int_eq(r.code, 250);
	ck_assert_uint_eq(r.nlines, 4);
	ck_assert_str_eq(r.text, "mx.example.net Hello\nPIPELINING\n\n"
	    "SIZE 1000\n");
	ck_assert_int_eq(r.truncated, 0);
}
END_TEST

START_TEST(test_pipelined)
{
	const char s[] = "250 2.1.0 ok\r\n250-2.1.5 a\r\n250 2.1.5 b\r\n"
	    "550 5.1.1 no\r\n354 go ahead\r\n250 2.0";
	static const struct { int code; size_t nlines; const char *text; }
	    want[] = {
		{ 250, 1, "2.1.0 ok\n" },
		{ 250, 2, "2.1.5 a\n2.1.5 b\n" },
		{ 550, 1, "5.1.1 no\n" },
		{ 354, 1, "go ahead\n" },
	};
	struct reply_parser rp;
	struct reply r;
	const char *p = s, *why;
	size_t left = sizeof(s) - 1, used, i;

	reply_init(&rp);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ck_assert_int_eq(reply_feed(&rp, p, left, &used, &r, &why),
		    REPLY_DONE);
		ck_assert_uint_gt(used, 0);
		ck_assert_uint_le(used, left);
		ck_assert_int_eq(r.code, want[i].code);
		ck_assert_uint_eq(r.nlines, want[i].nlines);
		ck_assert_str_eq(r.text, want[i].text);
		p += used;
		left -= used;
	}
	/* the start of a fifth reply waits for more */
	ck_assert_int_eq(reply_feed(&rp, p, left, &used, &r, &why),
	    REPLY_MORE);
	ck_assert_uint_eq(used, left);
	ck_assert_int_eq(reply_feed(&rp, ".0 x\r\n", 6, &used, &r, &why),
	    REPLY_DONE);
	ck_assert_uint_eq(used, 6);
	ck_assert_str_eq(r.text, "2.0.0 x\n");
	/* nothing: nothing consumed, nothing decided */
	ck_assert_int_eq(reply_feed(&rp, NULL, 0, &used, &r, &why),
	    REPLY_MORE);
	ck_assert_uint_eq(used, 0);
}
END_TEST

START_TEST(test_bytewise)
{
	const char s[] = "250-mx Hello\r\n250-8BITMIME\r\n250 DSN\r\n";
	struct reply_parser rp;
	struct reply r;
	const char *why;
	size_t used, i, n = sizeof(s) - 1;

	reply_init(&rp);
	for (i = 0; i + 1 < n; i++) {
		ck_assert_int_eq(reply_feed(&rp, s + i, 1, &used, &r, &why),
		    REPLY_MORE);
		ck_assert_uint_eq(used, 1);
	}
	ck_assert_int_eq(reply_feed(&rp, s + i, 1, &used, &r, &why),
	    REPLY_DONE);
	ck_assert_uint_eq(used, 1);
	ck_assert_int_eq(r.code, 250);
	ck_assert_uint_eq(r.nlines, 3);
	ck_assert_str_eq(r.text, "mx Hello\n8BITMIME\nDSN\n");

	/* a CRLF split between two reads is still one line end */
	reply_init(&rp);
	ck_assert_int_eq(reply_feed(&rp, "221 bye\r", 8, &used, &r, &why),
	    REPLY_MORE);
	ck_assert_int_eq(reply_feed(&rp, "\n", 1, &used, &r, &why),
	    REPLY_DONE);
	ck_assert_str_eq(r.text, "bye\n");
}
END_TEST

START_TEST(test_line_ends)
{
	struct reply r;

	r = parse_one("250-a\n250-b\r\n250 c\n");
	ck_assert_uint_eq(r.nlines, 3);
	ck_assert_str_eq(r.text, "a\nb\nc\n");

	/* a bare CR is kept as a space, wherever it is */
	r = parse_one("250 a\rb\r\r\n");
	ck_assert_str_eq(r.text, "a b \n");
	r = parse_one("250\r \r\n");
	ck_assert_str_eq(r.text, " \n");
	/* "250" then a CR-turned-space is "250 " */
	r = parse_one("250\r\r\n");
	ck_assert_str_eq(r.text, "\n");

	/* "250" alone is a last line with no text */
	r = parse_one("250\r\n");
	ck_assert_int_eq(r.code, 250);
	ck_assert_uint_eq(r.nlines, 1);
	ck_assert_str_eq(r.text, "\n");
	r = parse_one("250-x\r\n250\r\n");
	ck_assert_uint_eq(r.nlines, 2);
	ck_assert_str_eq(r.text, "x\n\n");
	r = parse_one("250 \r\n");
	ck_assert_str_eq(r.text, "\n");
}
END_TEST

static const char *const malformed[] = {
	"25\r\n", "2500 x\r\n", "abc\r\n", "600 x\r\n", "099 x\r\n",
	" 250\r\n", "250x\r\n", "\r\n", "\n", "199 x\r\n", "25a x\r\n",
	"2 5 x\r\n", "250\tx\r\n", "250_x\r\n", "-250 x\r\n", "+250\r\n",
	"250-a\r\n25\r\n", "250-a\r\n250x\r\n", "250-a\r\n\r\n",
};

START_TEST(test_malformed)
{
	const char *s = malformed[_i];

	expect_bad(s, strlen(s), "malformed reply code");
}
END_TEST

START_TEST(test_code_change)
{
	const char s[] = "250-a\r\n251 b\r\n";

	expect_bad(s, sizeof(s) - 1,
	    "reply code changed within a multi-line reply");
	expect_bad("421-a\r\n421-b\r\n521 c\r\n", 21,
	    "reply code changed within a multi-line reply");
}
END_TEST

START_TEST(test_line_max)
{
	struct reply_parser rp;
	struct reply r;
	const char *why;
	char *x = repeat('x', REPLY_LINE_MAX), *s;
	size_t used, body = REPLY_LINE_MAX - 2;

	ck_assert_ptr_nonnull(s = malloc(2 * REPLY_LINE_MAX));
	/* exactly REPLY_LINE_MAX octets with the CRLF: fine */
	snprintf(s, 2 * REPLY_LINE_MAX, "250 %.*s\r\n", (int)(body - 4), x);
	ck_assert_uint_eq(strlen(s), REPLY_LINE_MAX);
	r = parse_one(s);
	ck_assert_uint_eq(strlen(r.text), body - 4 + 1);
	ck_assert_int_eq(r.truncated, 0);

	/* one more: refused, at the byte that passes the limit */
	snprintf(s, 2 * REPLY_LINE_MAX, "250 %.*s\r\n", (int)(body - 3), x);
	ck_assert_uint_eq(strlen(s), REPLY_LINE_MAX + 1);
	expect_bad(s, strlen(s), "reply line too long");
	reply_init(&rp);
	ck_assert_int_eq(reply_feed(&rp, s, strlen(s), &used, &r, &why),
	    REPLY_BAD);
	ck_assert_uint_eq(used, body + 1);

	/* the same with a bare LF: the limit does not depend on the end */
	snprintf(s, 2 * REPLY_LINE_MAX, "250 %.*s\n", (int)(body - 3), x);
	expect_bad(s, strlen(s), "reply line too long");
	snprintf(s, 2 * REPLY_LINE_MAX, "250 %.*s\n", (int)(body - 4), x);
	ck_assert_int_eq(parse_one(s).code, 250);

	/* a full line then a bare CR: the CR's space is one too many */
	snprintf(s, 2 * REPLY_LINE_MAX, "250 %.*s\rx\r\n", (int)(body - 4),
	    x);
	expect_bad(s, strlen(s), "reply line too long");

	/* a line with no end at all stops at the limit, not at the input */
	free(x);
	x = repeat('2', 1 << 20);
	reply_init(&rp);
	ck_assert_int_eq(reply_feed(&rp, x, 1 << 20, &used, &r, &why),
	    REPLY_BAD);
	ck_assert_str_eq(why, "reply line too long");
	ck_assert_uint_le(used, REPLY_LINE_MAX);
	free(x);
	free(s);
}
END_TEST

START_TEST(test_lines_max)
{
	struct buf b;
	struct reply r;
	size_t i;

	/* REPLY_LINES_MAX lines in all: fine */
	buf_init(&b, 0);
	for (i = 0; i + 1 < REPLY_LINES_MAX; i++)
		ck_assert_int_eq(buf_printf(&b, "250-line %zu\r\n", i), 0);
	ck_assert_int_eq(buf_addstr(&b, "250 last\r\n"), 0);
	r = parse_one(buf_cstr(&b));
	ck_assert_uint_eq(r.nlines, REPLY_LINES_MAX);
	ck_assert_int_eq(r.truncated, 0);

	/* REPLY_LINES_MAX + 1 lines of "250-": refused */
	buf_reset(&b);
	for (i = 0; i < REPLY_LINES_MAX + 1; i++)
		ck_assert_int_eq(buf_addstr(&b, "250-\r\n"), 0);
	expect_bad(b.data, b.len, "too many reply lines");
	/*
	 * Refused as soon as line REPLY_LINES_MAX says more will follow:
	 * no need to wait for the line that breaks the limit.
	 */
	expect_bad(b.data, b.len - 6, "too many reply lines");
	/* REPLY_LINES_MAX + 1 lines, the last a last line: refused too */
	buf_reset(&b);
	for (i = 0; i < REPLY_LINES_MAX; i++)
		ck_assert_int_eq(buf_addstr(&b, "250-\r\n"), 0);
	ck_assert_int_eq(buf_addstr(&b, "250 end\r\n"), 0);
	expect_bad(b.data, b.len, "too many reply lines");
	buf_free(&b);
}
END_TEST

/* A megabyte of "250-" in 4 kB reads: refused early, nothing grows. */
START_TEST(test_flood)
{
	struct reply_parser rp;
	struct reply r;
	struct buf b;
	const char *why = NULL;
	size_t off = 0, n, used, reads = 0;
	enum reply_status st = REPLY_MORE;

	buf_init(&b, 0);
	while (b.len < (1 << 20))
		ck_assert_int_eq(buf_addstr(&b, "250-xxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"), 0);
	reply_init(&rp);
	while (off < b.len) {
		n = b.len - off < 4096 ? b.len - off : 4096;
		st = reply_feed(&rp, b.data + off, n, &used, &r, &why);
		reads++;
		ck_assert_uint_le(used, n);
		off += used;
		if (st != REPLY_MORE)
			break;
	}
	ck_assert_int_eq(st, REPLY_BAD);
	ck_assert_str_eq(why, "too many reply lines");
	ck_assert_uint_le(off, (size_t)REPLY_LINES_MAX * REPLY_LINE_MAX);
	ck_assert_uint_le(reads, 20);
	/* all the state there is: no allocation happens in the parser */
	ck_assert_uint_lt(sizeof(struct reply_parser), 4 * 1024);
	buf_free(&b);
}
END_TEST

START_TEST(test_nul)
{
	expect_bad("250 a\0b\r\n", 9, "NUL in reply");
	expect_bad("\0", 1, "NUL in reply");
	expect_bad("250-a\r\n250 \0\r\n", 14, "NUL in reply");
}
END_TEST

START_TEST(test_truncated)
{
	struct buf b;
	struct reply r;
	char *x = repeat('y', REPLY_LINE_MAX);
	const char *l;
	size_t i, kept;

	/* three longest lines: two fit, the third is dropped whole */
	buf_init(&b, 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(buf_printf(&b, "250%c%.*s\r\n",
		    i == 2 ? ' ' : '-', REPLY_LINE_MAX - 6, x), 0);
	r = parse_one(buf_cstr(&b));
	ck_assert_uint_eq(r.nlines, 3);
	ck_assert_int_eq(r.truncated, 1);
	ck_assert_uint_eq(strlen(r.text), 2 * (REPLY_LINE_MAX - 6 + 1));

	/* 64 lines of 40: the text fills up, every kept line is whole */
	buf_reset(&b);
	for (i = 0; i < REPLY_LINES_MAX; i++)
		ck_assert_int_eq(buf_printf(&b, "250%c%.*s\r\n",
		    i + 1 == REPLY_LINES_MAX ? ' ' : '-', 40, x), 0);
	r = parse_one(buf_cstr(&b));
	ck_assert_uint_eq(r.nlines, REPLY_LINES_MAX);
	ck_assert_int_eq(r.truncated, 1);
	ck_assert_ptr_nonnull(memchr(r.text, '\0', sizeof(r.text)));
	kept = strlen(r.text);
	ck_assert_uint_lt(kept, REPLY_TEXT_MAX);
	ck_assert_uint_eq(kept, (REPLY_TEXT_MAX - 1) / 41 * 41);
	for (l = r.text; *l != '\0'; l += 41)
		ck_assert_int_eq(l[40], '\n');

	/* just fitting: not truncated; one byte more: the last line goes */
	for (i = 0; i < 2; i++) {
		buf_reset(&b);
		ck_assert_int_eq(buf_printf(&b, "250-%.*s\r\n250-%.*s\r\n"
		    "250 %.*s\r\n", REPLY_LINE_MAX - 6, x, REPLY_LINE_MAX - 6, x,
		    (int)(REPLY_TEXT_MAX - 1 - 2 * (REPLY_LINE_MAX - 5) - 1 + i),
		    x), 0);
		r = parse_one(buf_cstr(&b));
		ck_assert_int_eq(r.truncated, (int)i);
		ck_assert_uint_eq(strlen(r.text), i == 0 ? REPLY_TEXT_MAX - 1 :
		    2 * (REPLY_LINE_MAX - 5));
	}
	free(x);
	buf_free(&b);
}
END_TEST

/* ---- reply_diag, reply_status_code ------------------------------------- */

static const struct diag_row {
	const char	*reply;
	const char	*diag;
	const char	*status;
} diag_rows[] = {
	{ "550 5.1.1 User unknown\r\n", "550 5.1.1 User unknown", "5.1.1" },
	{ "550 User unknown\r\n", "550 User unknown", "5.0.0" },
	{ "450 5.1.1 x\r\n", "450 5.1.1 x", "4.0.0" },
	{ "421-4.7.0 a\r\n421 b\r\n", "421 4.7.0 a b", "4.7.0" },
	{ "250 2.0.0 Ok: queued as 4F2\r\n", "250 2.0.0 Ok: queued as 4F2",
	  "2.0.0" },
	{ "250\r\n", "250", "2.0.0" },
	{ "250 2.1.5\r\n", "250 2.1.5", "2.1.5" },
	{ "552 5.3.4\r\n", "552 5.3.4", "5.3.4" },
	{ "554 5.123.456 x\r\n", "554 5.123.456 x", "5.123.456" },
	{ "554 5.1234.1 x\r\n", "554 5.1234.1 x", "5.0.0" },
	{ "554 5.1.1234 x\r\n", "554 5.1.1234 x", "5.0.0" },
	{ "554 5..1 x\r\n", "554 5..1 x", "5.0.0" },
	{ "554 5.1. x\r\n", "554 5.1. x", "5.0.0" },
	{ "554 5.1.1x\r\n", "554 5.1.1x", "5.0.0" },
	{ "554  5.1.1 x\r\n", "554  5.1.1 x", "5.0.0" },
	{ "354 go\r\n", "354 go", "3.0.0" },
	{ "554-\r\n554 5.1.1 second line\r\n", "554 5.1.1 second line",
	  "5.0.0" },
	{ "550 a\x01" "b\x7f" "c\xff" "d\te\r\n", "550 a?b?c?d?e", "5.0.0" },
	{ "550-a\r\n550-\r\n550 b\r\n", "550 a b", "5.0.0" },
};

START_TEST(test_diag)
{
	const struct diag_row *d = &diag_rows[_i];
	struct reply r = parse_one(d->reply);
	char out[256], code[12];

	reply_diag(&r, out, sizeof(out));
	ck_assert_str_eq(out, d->diag);
	reply_status_code(&r, code, sizeof(code));
	ck_assert_str_eq(code, d->status);
}
END_TEST

START_TEST(test_diag_bounds)
{
	struct reply r = parse_one("550 5.1.1 User unknown\r\n");
	char out[64], code[12];
	size_t i;

	/* every size gets the longest prefix that fits, NUL-terminated */
	for (i = 1; i < 30; i++) {
		memset(out, 'Z', sizeof(out));
		reply_diag(&r, out, i);
		ck_assert_uint_eq(strlen(out), i - 1 < 22 ? i - 1 : 22);
		ck_assert_int_eq(strncmp(out, "550 5.1.1 User unknown",
		    strlen(out)), 0);
		ck_assert_int_eq(out[i], 'Z');
	}
	memset(out, 'Z', sizeof(out));
	reply_diag(&r, out, 0);
	ck_assert_int_eq(out[0], 'Z');
	reply_status_code(&r, code, 4);
	ck_assert_str_eq(code, "5.1");

	/* a code no parser made: no 3-digit lie, a temporary class */
	memset(&r, 0, sizeof(r));
	reply_diag(&r, out, sizeof(out));
	ck_assert_str_eq(out, "000");
	reply_status_code(&r, code, sizeof(code));
	ck_assert_str_eq(code, "4.0.0");
}
END_TEST

/* ---- ehlo_parse --------------------------------------------------------- */

START_TEST(test_ehlo)
{
	struct ehlo_ext e;
	struct reply r;

	r = parse_one("250-mx.example.net Hello client [192.0.2.1]\r\n"
	    "250-PIPELINING\r\n250-STARTTLS\r\n250-8BITMIME\r\n"
	    "250-SMTPUTF8\r\n250-CHUNKING\r\n250-DSN\r\n"
	    "250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n"
	    "250 SIZE 1000000\r\n");
	ehlo_parse(&r, &e);
	ck_assert_int_eq(e.pipelining, 1);
	ck_assert_int_eq(e.starttls, 1);
	ck_assert_int_eq(e.eightbitmime, 1);
	ck_assert_int_eq(e.smtputf8, 1);
	ck_assert_int_eq(e.chunking, 1);
	ck_assert_int_eq(e.dsn, 1);
	ck_assert_int_eq(e.auth, 1);
	ck_assert_int_eq(e.size_given, 1);
	ck_assert(e.size == 1000000);

	/* nothing announced */
	r = parse_one("250 mx.example.net\r\n");
	ehlo_parse(&r, &e);
	ck_assert_int_eq(e.pipelining | e.starttls | e.eightbitmime |
	    e.smtputf8 | e.chunking | e.dsn | e.auth | e.size_given, 0);
	ck_assert(e.size == 0);

	/* lower case, trailing spaces, bare LF */
	r = parse_one("250-x\n250-pipelining\n250-StartTLS \n"
	    "250 size  2048 \n");
	ehlo_parse(&r, &e);
	ck_assert_int_eq(e.pipelining, 1);
	ck_assert_int_eq(e.starttls, 1);
	ck_assert_int_eq(e.eightbitmime, 0);
	ck_assert_int_eq(e.size_given, 1);
	ck_assert(e.size == 2048);

	/* the first line is the greeting, whatever it says */
	r = parse_one("250-SIZE 1000\r\n250 HELP\r\n");
	ehlo_parse(&r, &e);
	ck_assert_int_eq(e.size_given, 0);
	r = parse_one("250 STARTTLS\r\n");
	ehlo_parse(&r, &e);
	ck_assert_int_eq(e.starttls, 0);

	/* near misses are other keywords */
	r = parse_one("250-x\r\n250-PIPELININGX\r\n250-XSTARTTLS\r\n"
	    "250-START TLS\r\n250-AUTH=LOGIN\r\n250-DSNX\r\n250-SIZEX 5\r\n"
	    "250 \r\n");
	ehlo_parse(&r, &e);
	ck_assert_int_eq(e.pipelining | e.starttls | e.dsn | e.auth |
	    e.size_given, 0);

	/* only a 250 carries extensions */
	r = parse_one("550-x\r\n550 PIPELINING\r\n");
	ehlo_parse(&r, &e);
	ck_assert_int_eq(e.pipelining, 0);
}
END_TEST

static const struct size_row {
	const char		*line;
	unsigned long long	 size;
} size_rows[] = {
	{ "SIZE 1000000", 1000000 },
	{ "SIZE", 0 },
	{ "SIZE ", 0 },
	{ "SIZE 0", 0 },
	{ "SIZE 99999999999999999999999", 0 },
	{ "SIZE 18446744073709551615", 18446744073709551615ULL },
	{ "SIZE 18446744073709551616", 0 },
	{ "SIZE 10x", 0 },
	{ "SIZE -1", 0 },
	{ "SIZE 1 2", 0 },
	{ "SIZE 0052", 52 },
};

START_TEST(test_ehlo_size)
{
	const struct size_row *s = &size_rows[_i];
	struct ehlo_ext e;
	struct reply r;
	char text[128];

	snprintf(text, sizeof(text), "250-mx\r\n250 %s\r\n", s->line);
	r = parse_one(text);
	ehlo_parse(&r, &e);
	ck_assert_int_eq(e.size_given, 1);
	ck_assert_msg(e.size == s->size, "%s: %llu", s->line, e.size);
}
END_TEST

/* A keyword past the kept text is lost, never half-read. */
START_TEST(test_ehlo_truncated)
{
	struct buf b;
	struct ehlo_ext e;
	struct reply r;
	char *x = repeat('z', REPLY_LINE_MAX);

	buf_init(&b, 0);
	/* 2 * 995 + 51 bytes kept, "SIZE 52428800\n" would need 14 more */
	ck_assert_int_eq(buf_printf(&b, "250-%.*s\r\n250-%.*s\r\n250-%.*s\r\n",
	    REPLY_LINE_MAX - 6, x, REPLY_LINE_MAX - 6, x, 50, x), 0);
	ck_assert_int_eq(buf_addstr(&b, "250 SIZE 52428800\r\n"), 0);
	r = parse_one(buf_cstr(&b));
	ck_assert_int_eq(r.truncated, 1);
	ehlo_parse(&r, &e);
	ck_assert_int_eq(e.size_given, 0);
	free(x);
	buf_free(&b);
}
END_TEST

/* ---- dotenc ------------------------------------------------------------- */

START_TEST(test_dotenc)
{
	const char *none[] = { NULL };

	ENCODE("..\r\n.\r\n", ".\n");
	ENCODE("a\r\n..b\r\n.\r\n", "a\n.b\n");
	ENCODE("a\r\nb\r\n.\r\n", "a\nb");
	ENCODE("..\r\n.\r\n", ".");
	ENCODE(".\r\n", "");
	encode_check(".\r\n", none);
	ENCODE("\r\n\r\n.\r\n", "\n\n");
	ENCODE("a.b\r\n.\r\n", "a.b\n");
	ENCODE("...\r\n.\r\n", "..\n");
	ENCODE(" .\r\n.\r\n", " .\n");

	/* a '.' at a line start, split from its line end by the chunks */
	ENCODE("a\r\n..b\r\n.\r\n", "a\n", ".b\n");
	ENCODE("a\r\n..b\r\n.\r\n", "a", "\n", ".", "b", "\n");
	ENCODE("a\r\n..\r\n.\r\n", "a\n", ".", "\n");
	ENCODE("a.\r\n.\r\n", "a", ".", "\n");
	ENCODE("a\r\n..\r\n.\r\n", "a\n", "", ".");
	ENCODE("x\r\n.\r\n", "", "x", "");
}
END_TEST

/* fold.c makes every CR a line end first; one that reaches dotenc
 * anyway is refused, never sent (a bare CR could end DATA early) */
START_TEST(test_dotenc_cr_refused)
{
	static const char *const in[] = { "a\r\n", "a\r.\n", "\r", "a\rb" };
	struct dotenc d;
	struct buf b;
	size_t i;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		buf_init(&b, 0);
		dotenc_init(&d);
		errno = 0;
		ck_assert_int_eq(dotenc_add(&d, in[i], strlen(in[i]), &b), -1);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_ptr_null(memchr(b.data == NULL ? "" : b.data, '\r',
		    b.len));
		buf_free(&b);
	}
}
END_TEST

START_TEST(test_dotenc_cap)
{
	struct dotenc d;
	struct buf b;

	buf_init(&b, 8);
	dotenc_init(&d);
	ck_assert_int_eq(dotenc_add(&d, "abc\n", 4, &b), 0);
	errno = 0;
	ck_assert_int_eq(dotenc_add(&d, "defg\n", 5, &b), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_uint_le(b.len, 8);
	buf_free(&b);

	buf_init(&b, 4);
	dotenc_init(&d);
	ck_assert_int_eq(dotenc_add(&d, "ab", 2, &b), 0);
	ck_assert_int_eq(dotenc_end(&d, &b), -1);
	ck_assert_uint_le(b.len, 4);
	buf_free(&b);
}
END_TEST

static Suite *
reply_suite(void)
{
	Suite *s = suite_create("reply");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_single);
	tcase_add_test(tc, test_multi);
	tcase_add_test(tc, test_pipelined);
	tcase_add_test(tc, test_bytewise);
	tcase_add_test(tc, test_line_ends);
	tcase_add_loop_test(tc, test_malformed, 0,
	    (int)(sizeof(malformed) / sizeof(malformed[0])));
	tcase_add_test(tc, test_code_change);
	tcase_add_test(tc, test_line_max);
	tcase_add_test(tc, test_lines_max);
	tcase_add_test(tc, test_flood);
	tcase_add_test(tc, test_nul);
	tcase_add_test(tc, test_truncated);
	tcase_add_loop_test(tc, test_diag, 0,
	    (int)(sizeof(diag_rows) / sizeof(diag_rows[0])));
	tcase_add_test(tc, test_diag_bounds);
	tcase_add_test(tc, test_ehlo);
	tcase_add_loop_test(tc, test_ehlo_size, 0,
	    (int)(sizeof(size_rows) / sizeof(size_rows[0])));
	tcase_add_test(tc, test_ehlo_truncated);
	tcase_add_test(tc, test_dotenc);
	tcase_add_test(tc, test_dotenc_cr_refused);
	tcase_add_test(tc, test_dotenc_cap);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(reply_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
