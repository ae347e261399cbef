/*
 * check_dsn.c - unit tests for send/dsn.c, the RFC 3464 delivery status
 * notification composer of kurir-send.
 * Covers: the header fields (each once), the boundary seen only on
 * delimiter lines, the three parts and their types, each recipient
 * block, Status from status / diag / default, delayed warnings and
 * postmaster notices, injection of lines through CR, LF and controls,
 * bounded values, us-ascii explanation, the original header cut at a
 * line end and its 8bit label, dsn_status and dsn_header_len, errors.
 * Runs as the developer, in TZ=UTC; no files, no network.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../send/dsn.c"

#define NOW		1700000000LL	/* Tue, 14 Nov 2023 22:13:20 +0000 */
#define NOW_DATE	"Tue, 14 Nov 2023 22:13:20 +0000"
#define ORIG_HDR	"Received: from x by y; Mon, 1 Jan 2024 00:00:00 +0000\n" \
			"From: bob@example.test\nTo: alice@example.test\n" \
			"Subject: hello\n\nbody line\n"
#define ORIG_HDR_LEN	(sizeof(ORIG_HDR) - 1 - strlen("body line\n"))

/* The parsed DSN: pointers into a copy, NUL-terminated pieces. */
struct msg {
	char	*copy;
	char	*hdr;			/* top-level header, without the blank line */
	char	 bnd[128];
	int	 nparts;
	char	*part[4];		/* each part: its header, blank line, content */
	int	 closed;		/* ended with "--bnd--\n" */
};

static struct dsn_rcpt two[2] = {
	{ "alice@example.test", NULL, NULL, "550 5.1.1 <alice>: no such user",
	    "mx.example.test", NOW - 60 },
	{ "carol@local.test", "list@local.test", "5.2.2", "mailbox full",
	    NULL, 0 },
};

static void
dsn_fill(struct dsn *d, enum dsn_kind kind, const struct dsn_rcpt *r, size_t n)
{
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	d->hostname = "mail.kurir.test";
	d->qid = "Q0123abcd";
	d->sender = "bob@example.test";
	d->arrival = NOW - 3600;
	d->now = NOW;
	d->retry_until = kind == DSN_DELAYED ? NOW + 4 * 86400 : 0;
	d->rcpts = r;
	d->nrcpts = n;
	d->orig_hdr = ORIG_HDR;
	d->orig_hdr_len = sizeof(ORIG_HDR) - 1;
}

/* Count the lines of s that start with prefix. */
static int
lines_starting(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);
	int count = 0;

	for (; s != NULL && *s != '\0'; s = strchr(s, '\n'), s = s ? s + 1 : s)
		if (strncmp(s, prefix, n) == 0)
			count++;
	return count;
}

static int
starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Is line (without LF) one whole line of s? */
static int
has_line(const char *s, const char *line)
{
	size_t n = strlen(line);
	const char *p;

	for (p = s; (p = strstr(p, line)) != NULL; p++)
		if ((p == s || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return 1;
	return 0;
}

/*
 * Split a DSN and check the MIME frame on the way: the boundary occurs
 * on delimiter lines only, and the message ends with the close delimiter.
 */
static void
parse(struct buf *b, struct msg *m)
{
	char *p, *q, *line, delim[140];
	size_t n;

	memset(m, 0, sizeof(*m));
	m->copy = strdup(buf_cstr(b));
	ck_assert_ptr_nonnull(m->copy);
	ck_assert_uint_eq(strlen(m->copy), b->len);	/* no NUL inside */
	ck_assert_ptr_nonnull(p = strstr(m->copy, "\n\n"));
	*++p = '\0';
	m->hdr = m->copy;
	ck_assert_ptr_nonnull(q = strstr(m->hdr, "boundary=\""));
	q += strlen("boundary=\"");
	n = strcspn(q, "\"");
	ck_assert(n > 0 && n < sizeof(m->bnd) && n <= 70);
	memcpy(m->bnd, q, n);
	snprintf(delim, sizeof(delim), "--%s", m->bnd);
	/* every occurrence of the boundary is a whole delimiter line */
	for (q = p + 1; (q = strstr(q, m->bnd)) != NULL; q++) {
		ck_assert(q[-1] == '-' && q[-2] == '-' && q[-3] == '\n');
		ck_assert(q[n] == '\n' || strcmp(q + n, "--\n") == 0);
	}
	/* cut the body at the delimiters */
	line = p + 1;
	while ((q = strstr(line, delim)) != NULL) {
		q[-1] = '\0';		/* the LF before belongs to the delimiter */
		if (m->nparts > 0)
			m->part[m->nparts - 1] = line;
		q += strlen(delim);
		if (strcmp(q, "--\n") == 0) {
			m->closed = 1;
			break;
		}
		ck_assert(*q == '\n');
		ck_assert_int_lt(m->nparts, 4);
		m->nparts++;
		line = q + 1;
	}
	ck_assert(m->closed);
}

/* The content of part i (after its header). */
static const char *
content(const struct msg *m, int i)
{
	const char *p = strstr(m->part[i], "\n\n");

	ck_assert_ptr_nonnull(p);
	return p + 2;
}

static void
format_ok(const struct dsn *d, struct buf *b, struct msg *m)
{
	buf_init(b, 0);
	ck_assert_int_eq(dsn_format(b, d), 0);
	parse(b, m);
}

START_TEST(failed_structure)
{
	static const char *once[] = { "From: ", "To: ", "Subject: ", "Date: ",
	    "Message-ID: ", "Auto-Submitted: ", "MIME-Version: ",
	    "Content-Type: " };
	struct dsn d;
	struct buf b;
	struct msg m;
	const char *rep;
	size_t i;

	dsn_fill(&d, DSN_FAILED, two, 2);
	format_ok(&d, &b, &m);
	for (i = 0; i < sizeof(once) / sizeof(once[0]); i++)
		ck_assert_int_eq(lines_starting(m.hdr, once[i]), 1);
	ck_assert(has_line(m.hdr,
	    "From: Mail Delivery System <MAILER-DAEMON@mail.kurir.test>"));
	ck_assert(has_line(m.hdr, "To: <bob@example.test>"));
	ck_assert(has_line(m.hdr, "Subject: Undelivered Mail Returned to Sender"));
	ck_assert(has_line(m.hdr, "Date: " NOW_DATE));
	ck_assert(has_line(m.hdr, "Auto-Submitted: auto-replied"));
	ck_assert(has_line(m.hdr, "MIME-Version: 1.0"));
	ck_assert(has_line(m.hdr, "Content-Type: multipart/report; "
	    "report-type=delivery-status;"));
	ck_assert(lines_starting(m.hdr, "Message-ID: <Q0123abcd.") == 1);
	ck_assert(strstr(m.hdr, "@mail.kurir.test>\n") != NULL);
	ck_assert(strstr(m.hdr, "Content-Transfer-Encoding") == NULL);
	ck_assert(strncmp(m.bnd, "=_kurir_", 8) == 0);

	ck_assert_int_eq(m.nparts, 3);
	ck_assert(has_line(m.part[0], "Content-Type: text/plain; charset=us-ascii"));
	ck_assert(has_line(m.part[1], "Content-Type: message/delivery-status"));
	ck_assert(has_line(m.part[2], "Content-Type: text/rfc822-headers"));

	/* the explanation */
	ck_assert(strstr(content(&m, 0), "queue id Q0123abcd, received "
	    "Tue, 14 Nov 2023 21:13:20 +0000") != NULL);
	ck_assert(strstr(content(&m, 0), "This is a permanent error.") != NULL);
	ck_assert(has_line(content(&m, 0), "<alice@example.test>: "
	    "550 5.1.1 <alice>: no such user"));
	ck_assert(has_line(content(&m, 0), "<carol@local.test> (expanded from "
	    "<list@local.test>): mailbox full"));

	/* the report: per message, then one block per recipient */
	rep = content(&m, 1);
	ck_assert(starts_with(rep, "Reporting-MTA: dns; mail.kurir.test\n"
	    "X-Kurir-Queue-ID: Q0123abcd\n"
	    "Arrival-Date: Tue, 14 Nov 2023 21:13:20 +0000\n\n"));
	ck_assert(strstr(rep, "\n\nFinal-Recipient: rfc822; alice@example.test\n"
	    "Action: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx.example.test\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 <alice>: no such user\n"
	    "Last-Attempt-Date: Tue, 14 Nov 2023 22:12:20 +0000\n\n") != NULL);
	ck_assert(strstr(rep, "\n\nOriginal-Recipient: rfc822; list@local.test\n"
	    "Final-Recipient: rfc822; carol@local.test\n"
	    "Action: failed\nStatus: 5.2.2\n"
	    "Diagnostic-Code: x-kurir; mailbox full\n") != NULL);
	ck_assert_int_eq(lines_starting(rep, "Original-Recipient:"), 1);
	ck_assert_int_eq(lines_starting(rep, "Remote-MTA:"), 1);
	ck_assert_int_eq(lines_starting(rep, "Last-Attempt-Date:"), 1);
	ck_assert_int_eq(lines_starting(rep, "Will-Retry-Until:"), 0);
	/* the content ends in a line end (the blank line before the delimiter) */
	ck_assert(rep[strlen(rep) - 1] == '\n');

	/* the original header, exactly, without the body */
	ck_assert_str_eq(content(&m, 2), "Received: from x by y; Mon, 1 Jan 2024 "
	    "00:00:00 +0000\nFrom: bob@example.test\nTo: alice@example.test\n"
	    "Subject: hello\n\n");
	free(m.copy);
	buf_free(&b);
}
END_TEST

START_TEST(fresh_randomness)
{
	struct dsn d;
	struct buf a, b;
	struct msg ma, mb;

	dsn_fill(&d, DSN_FAILED, two, 1);
	format_ok(&d, &a, &ma);
	format_ok(&d, &b, &mb);
	ck_assert_str_ne(ma.bnd, mb.bnd);
	ck_assert(strlen(ma.bnd) == strlen("=_kurir_") + 24 + 1 + strlen("Q0123abcd"));
	ck_assert(strstr(ma.hdr, "Message-ID: ") != NULL);
	ck_assert_str_ne(strstr(ma.hdr, "Message-ID: "), strstr(mb.hdr, "Message-ID: "));
	free(ma.copy);
	free(mb.copy);
	buf_free(&a);
	buf_free(&b);
}
END_TEST

/* The Status of one recipient in a DSN of this kind. */
static void
status_is(enum dsn_kind kind, const char *status, const char *diag,
    const char *want)
{
	struct dsn_rcpt r = { "a@b.test", NULL, status, diag, NULL, 0 };
	struct dsn d;
	struct buf b;
	struct msg m;
	char line[64];

	dsn_fill(&d, kind, &r, 1);
	format_ok(&d, &b, &m);
	snprintf(line, sizeof(line), "Status: %s", want);
	ck_assert_msg(has_line(content(&m, 1), line), "status %s diag %s: want %s",
	    status ? status : "NULL", diag ? diag : "NULL", want);
	ck_assert_int_eq(lines_starting(content(&m, 1), "Status: "), 1);
	free(m.copy);
	buf_free(&b);
}

START_TEST(status_derived)
{
	status_is(DSN_FAILED, NULL, "550 5.1.1 x", "5.1.1");
	status_is(DSN_FAILED, NULL, "5.7.1 relaying denied", "5.7.1");
	status_is(DSN_FAILED, NULL, "no code", "5.0.0");
	status_is(DSN_FAILED, NULL, NULL, "5.0.0");
	status_is(DSN_FAILED, NULL, "4.4.7 expired", "4.4.7");
	status_is(DSN_FAILED, "5.2.2", "550 5.1.1 x", "5.2.2");
	status_is(DSN_FAILED, "bogus", "550 5.1.1 x", "5.1.1");
	status_is(DSN_FAILED, NULL, "250 2.0.0 ok", "5.0.0");
	status_is(DSN_DELAYED, NULL, "no code", "4.0.0");
	status_is(DSN_DELAYED, NULL, "451 4.3.0 try later", "4.3.0");
	/* a permanent code cannot describe a delay */
	status_is(DSN_DELAYED, NULL, "550 5.1.1 x", "4.0.0");
	status_is(DSN_NOTICE, NULL, "550 5.1.1 x", "5.1.1");
}
END_TEST

START_TEST(delayed)
{
	struct dsn d;
	struct buf b;
	struct msg m;
	const char *rep;

	dsn_fill(&d, DSN_DELAYED, two, 2);
	format_ok(&d, &b, &m);
	ck_assert(has_line(m.hdr, "Subject: Delayed Mail (still being retried)"));
	rep = content(&m, 1);
	ck_assert_int_eq(lines_starting(rep, "Action: delayed"), 2);
	ck_assert_int_eq(lines_starting(rep, "Action: "), 2);
	ck_assert_int_eq(lines_starting(rep,
	    "Will-Retry-Until: Sat, 18 Nov 2023 22:13:20 +0000"), 2);
	ck_assert(strstr(content(&m, 0), "has not yet been delivered") != NULL);
	ck_assert(strstr(content(&m, 0),
	    "keep trying until Sat, 18 Nov 2023 22:13:20 +0000") != NULL);
	free(m.copy);
	buf_free(&b);

	d.retry_until = 0;
	format_ok(&d, &b, &m);
	ck_assert_int_eq(lines_starting(content(&m, 1), "Will-Retry-Until:"), 0);
	ck_assert(strstr(content(&m, 0), "will keep trying;") != NULL);
	free(m.copy);
	buf_free(&b);
}
END_TEST

START_TEST(notice)
{
	struct dsn_rcpt r = { "bob@example.test", NULL, NULL,
	    "550 5.1.1 no such user", "mx.example.test", NOW };
	struct dsn d;
	struct buf b;
	struct msg m;

	dsn_fill(&d, DSN_NOTICE, &r, 1);
	d.sender = "postmaster@mail.kurir.test";
	format_ok(&d, &b, &m);
	ck_assert(has_line(m.hdr,
	    "Subject: Undeliverable bounce (postmaster notice)"));
	ck_assert(has_line(m.hdr, "To: <postmaster@mail.kurir.test>"));
	ck_assert(strstr(content(&m, 0), "A delivery status notification "
	    "(queue id Q0123abcd") != NULL);
	ck_assert(has_line(content(&m, 1), "Action: failed"));
	ck_assert(has_line(content(&m, 1), "Status: 5.1.1"));
	ck_assert_int_eq(m.nparts, 3);
	free(m.copy);
	buf_free(&b);
}
END_TEST

START_TEST(no_injection)
{
	static const char *evil[] = { "Bcc:", "X-Injected", "Evil", "Action: delivered",
	    "Content-Type: text/html" };
	struct dsn_rcpt r[2] = {
		{ "a@x.test\r\nBcc: victim@x.test", "o@x.test\nEvil1: 1",
		    "5.1.1\nEvil2: 1", "550 5.1.1 no\r\nX-Injected: yes\n"
		    "Action: delivered\n\nContent-Type: text/html\x01\x1b\x7f",
		    "mx.x.test\nEvil3: 1", NOW },
		{ "b@x.test\rEvil4: 1", NULL, NULL, "x\n--=_kurir_\nEvil5: 1",
		    NULL, 0 },
	};
	struct dsn d;
	struct buf b;
	struct msg m;
	const char *p;
	size_t i;

	dsn_fill(&d, DSN_FAILED, r, 2);
	d.sender = "s@x.test>\nEvil6: 1";
	d.hostname = "h.test\nEvil7: 1";
	d.qid = "Q1\nEvil8: 1\"";
	format_ok(&d, &b, &m);
	/* over the whole output, before the split put NULs in it */
	for (i = 0; i < sizeof(evil) / sizeof(evil[0]); i++)
		ck_assert_msg(lines_starting(buf_cstr(&b), evil[i]) == 0, "%s",
		    evil[i]);
	ck_assert_int_eq(lines_starting(buf_cstr(&b), "Action: "), 2);
	ck_assert_int_eq(lines_starting(buf_cstr(&b), "Final-Recipient: "), 2);
	ck_assert(has_line(content(&m, 1),
	    "Final-Recipient: rfc822; a@x.test  Bcc: victim@x.test"));
	ck_assert(has_line(content(&m, 1), "Diagnostic-Code: smtp; 550 5.1.1 no  "
	    "X-Injected: yes Action: delivered  Content-Type: text/html   "));
	/* our own names become tokens, everywhere they go */
	ck_assert(has_line(m.hdr,
	    "From: Mail Delivery System <MAILER-DAEMON@h.test_Evil7__1>"));
	ck_assert(has_line(content(&m, 1), "X-Kurir-Queue-ID: Q1_Evil8__1_"));
	ck_assert(strchr(m.bnd, '"') == NULL);
	/* the explanation stays printable ASCII */
	for (p = content(&m, 0); *p != '\0'; p++)
		ck_assert(*p == '\n' || (*p >= 0x20 && *p < 0x7f));
	free(m.copy);
	buf_free(&b);
}
END_TEST

START_TEST(long_values_bounded)
{
	static char diag[5000], addr[3000];
	struct dsn_rcpt r = { addr, addr, NULL, diag, diag, NOW };
	struct dsn d;
	struct buf b;
	struct msg m;
	const char *p, *lf;

	memset(diag, 'd', sizeof(diag) - 1);
	memset(addr, 'a', sizeof(addr) - 1);
	addr[0] = 'b';		/* original differs from final */
	r.final = addr + 1;
	dsn_fill(&d, DSN_FAILED, &r, 1);
	d.sender = addr;
	d.qid = diag;
	d.hostname = diag;
	format_ok(&d, &b, &m);
	/* RFC 5322 2.1.1: no line over 998 characters */
	for (p = buf_cstr(&b); (lf = strchr(p, '\n')) != NULL; p = lf + 1)
		ck_assert_int_le(lf - p, 998);
	ck_assert_int_le(strlen(m.bnd), 70);
	free(m.copy);
	buf_free(&b);
}
END_TEST

START_TEST(utf8_and_8bit)
{
	struct dsn_rcpt r = { "j\xc3\xb6rg@b\xc3\xbc.test", NULL, NULL,
	    "5.1.1 caf\xc3\xa9", NULL, 0 };
	static const char h8[] = "Subject: caf\xc3\xa9\nFrom: a@b\n\nbody";
	struct dsn d;
	struct buf b;
	struct msg m;

	dsn_fill(&d, DSN_FAILED, &r, 1);
	d.orig_hdr = h8;
	d.orig_hdr_len = sizeof(h8) - 1;
	format_ok(&d, &b, &m);
	/* the addresses stay UTF-8 in the report, '?' in the us-ascii text */
	ck_assert(has_line(content(&m, 1),
	    "Final-Recipient: rfc822; j\xc3\xb6rg@b\xc3\xbc.test"));
	ck_assert(has_line(content(&m, 0), "<j??rg@b??.test>: 5.1.1 caf??"));
	ck_assert(has_line(m.hdr, "Content-Transfer-Encoding: 8bit"));
	ck_assert(!has_line(m.part[0], "Content-Transfer-Encoding: 8bit"));
	ck_assert(has_line(m.part[1], "Content-Transfer-Encoding: 8bit"));
	ck_assert(has_line(m.part[2], "Content-Transfer-Encoding: 8bit"));
	ck_assert_str_eq(content(&m, 2), "Subject: caf\xc3\xa9\nFrom: a@b\n\n");
	free(m.copy);
	buf_free(&b);

	/* only the header is 8bit */
	r.final = "a@b.test";
	r.diag = "x";
	format_ok(&d, &b, &m);
	ck_assert(has_line(m.hdr, "Content-Transfer-Encoding: 8bit"));
	ck_assert(!has_line(m.part[1], "Content-Transfer-Encoding: 8bit"));
	ck_assert(has_line(m.part[2], "Content-Transfer-Encoding: 8bit"));
	free(m.copy);
	buf_free(&b);
}
END_TEST

START_TEST(header_variants)
{
	static const char nosep[] = "Subject: x\nFrom: y";
	struct dsn d;
	struct buf b;
	struct msg m;

	/* no blank line, no final LF: all of it, with a line end added */
	dsn_fill(&d, DSN_FAILED, two, 1);
	d.orig_hdr = nosep;
	d.orig_hdr_len = sizeof(nosep) - 1;
	format_ok(&d, &b, &m);
	ck_assert_str_eq(content(&m, 2), "Subject: x\nFrom: y\n");
	ck_assert(strstr(buf_cstr(&b), "From: y\n\n--") != NULL);
	free(m.copy);
	buf_free(&b);

	/* no header at all: two parts */
	d.orig_hdr = NULL;
	d.orig_hdr_len = 0;
	format_ok(&d, &b, &m);
	ck_assert_int_eq(m.nparts, 2);
	ck_assert(strstr(buf_cstr(&b), "text/rfc822-headers") == NULL);
	free(m.copy);
	buf_free(&b);

	d.orig_hdr = "";
	format_ok(&d, &b, &m);
	ck_assert_int_eq(m.nparts, 2);
	free(m.copy);
	buf_free(&b);

	/* a message that starts with its blank line: just that line */
	d.orig_hdr = "\nbody\n";
	d.orig_hdr_len = 6;
	format_ok(&d, &b, &m);
	ck_assert_int_eq(m.nparts, 3);
	ck_assert_str_eq(content(&m, 2), "\n");
	free(m.copy);
	buf_free(&b);
}
END_TEST

START_TEST(header_truncated)
{
	struct buf h, b;
	struct dsn d;
	struct msg m;
	size_t want = 0, i;

	/* 100-byte lines, well past DSN_HDR_MAX, and a body */
	buf_init(&h, 0);
	for (i = 0; h.len < DSN_HDR_MAX + 500; i++) {
		ck_assert_int_eq(buf_printf(&h, "X-Fill-%06zu: %*s\n", i, 84, "v"), 0);
		if (h.len <= DSN_HDR_MAX)
			want = h.len;
	}
	ck_assert_int_eq(buf_addstr(&h, "\nbody\n"), 0);
	ck_assert_uint_lt(want, DSN_HDR_MAX);	/* the limit falls mid-line */
	ck_assert_uint_eq(dsn_header_len(h.data, h.len, DSN_HDR_MAX), want);

	dsn_fill(&d, DSN_FAILED, two, 2);
	d.orig_hdr = h.data;
	d.orig_hdr_len = h.len;
	format_ok(&d, &b, &m);
	ck_assert_uint_eq(strlen(content(&m, 2)), want);
	ck_assert(memcmp(content(&m, 2), h.data, want) == 0);
	free(m.copy);
	buf_free(&b);
	buf_free(&h);
}
END_TEST

START_TEST(header_len)
{
	const char *p;

	p = "A: b\n\nbody";
	ck_assert_uint_eq(dsn_header_len(p, strlen(p), 1000), 6);
	p = "A: b\r\n\r\nbody";
	ck_assert_uint_eq(dsn_header_len(p, strlen(p), 1000), 8);
	p = "A: b\nC: d";
	ck_assert_uint_eq(dsn_header_len(p, strlen(p), 1000), 9);
	ck_assert_uint_eq(dsn_header_len(p, strlen(p), 9), 9);
	ck_assert_uint_eq(dsn_header_len(p, strlen(p), 8), 5);
	ck_assert_uint_eq(dsn_header_len(p, strlen(p), 5), 5);
	ck_assert_uint_eq(dsn_header_len(p, strlen(p), 4), 0);
	p = "A: b\n\n";
	ck_assert_uint_eq(dsn_header_len(p, strlen(p), 5), 5);
	ck_assert_uint_eq(dsn_header_len(p, strlen(p), 6), 6);
	ck_assert_uint_eq(dsn_header_len(NULL, 0, 10), 0);
	ck_assert_uint_eq(dsn_header_len("\n", 1, 10), 1);
	/* counted: bytes past len are not looked at */
	p = "A: b\nC: d\n\nbody";
	ck_assert_uint_eq(dsn_header_len(p, 7, 100), 7);
}
END_TEST

START_TEST(status_table)
{
	static const struct {
		const char	*in;
		int		 rc;
		const char	*code;
	} t[] = {
		{ "5.1.1 a", 0, "5.1.1" },
		{ "550 5.1.1 a", 0, "5.1.1" },
		{ "550-5.7.1 a", 0, "5.7.1" },
		{ "4.4.7", 0, "4.4.7" },
		{ "2.0.0\r\n", 0, "2.0.0" },
		{ "5.123.456\tx", 0, "5.123.456" },
		{ "421 4.3.2 bye", 0, "4.3.2" },
		{ "6.1.1 x", -1, NULL },
		{ "5.1 x", -1, NULL },
		{ "5.1234.1", -1, NULL },
		{ "5.1.1234", -1, NULL },
		{ "", -1, NULL },
		{ "5.1.1x", -1, NULL },
		{ "550 no code", -1, NULL },
		{ "550", -1, NULL },
		{ "550  5.1.1 two blanks", -1, NULL },
		{ " 5.1.1", -1, NULL },
		{ "5..1", -1, NULL },
		{ "5.1.", -1, NULL },
		{ "55 5.1.1", -1, NULL },
	};
	char code[12];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(code, 'z', sizeof(code));
		ck_assert_msg(dsn_status(t[i].in, code, sizeof(code)) == t[i].rc,
		    "\"%s\"", t[i].in);
		if (t[i].rc == 0)
			ck_assert_str_eq(code, t[i].code);
	}
	ck_assert_int_eq(dsn_status(NULL, code, sizeof(code)), -1);
	/* too small a buffer: no code rather than a cut one */
	ck_assert_int_eq(dsn_status("5.123.456", code, 9), -1);
	ck_assert_int_eq(dsn_status("5.123.456", code, 10), 0);
}
END_TEST

START_TEST(errors)
{
	struct dsn_rcpt r = { NULL, NULL, NULL, NULL, NULL, 0 };
	struct dsn d;
	struct buf b;

	buf_init(&b, 0);
	ck_assert_int_eq(buf_addstr(&b, "keep"), 0);
	dsn_fill(&d, DSN_FAILED, two, 0);
	errno = 0;
	ck_assert_int_eq(dsn_format(&b, &d), -1);
	ck_assert_int_eq(errno, EINVAL);
	dsn_fill(&d, DSN_FAILED, &r, 1);
	ck_assert_int_eq(dsn_format(&b, &d), -1);
	ck_assert_int_eq(errno, EINVAL);
	dsn_fill(&d, DSN_FAILED, two, 2);
	d.sender = NULL;
	ck_assert_int_eq(dsn_format(&b, &d), -1);
	ck_assert_str_eq(buf_cstr(&b), "keep");
	buf_free(&b);

	/* the output's cap is hit half-way: out is as it was */
	buf_init(&b, 1500);
	ck_assert_int_eq(buf_addstr(&b, "keep"), 0);
	dsn_fill(&d, DSN_FAILED, two, 2);
	ck_assert_int_eq(dsn_format(&b, &d), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_str_eq(buf_cstr(&b), "keep");
	buf_free(&b);
}
END_TEST

static Suite *
dsn_suite(void)
{
	Suite *s = suite_create("dsn");
	TCase *tf = tcase_create("format");
	TCase *tp = tcase_create("parse");

	tcase_add_test(tf, failed_structure);
	tcase_add_test(tf, fresh_randomness);
	tcase_add_test(tf, status_derived);
	tcase_add_test(tf, delayed);
	tcase_add_test(tf, notice);
	tcase_add_test(tf, no_injection);
	tcase_add_test(tf, long_values_bounded);
	tcase_add_test(tf, utf8_and_8bit);
	tcase_add_test(tf, header_variants);
	tcase_add_test(tf, header_truncated);
	tcase_add_test(tf, errors);
	tcase_add_test(tp, header_len);
	tcase_add_test(tp, status_table);
	suite_add_tcase(s, tf);
	suite_add_tcase(s, tp);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	/* the expected dates are in UTC */
	if (setenv("TZ", "UTC", 1) == -1)
		return EXIT_FAILURE;
	tzset();
	sr = srunner_create(dsn_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
