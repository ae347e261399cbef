/*
 * check_inject.c - unit tests for kurir-sendmail's message preparation
 * (sendmail/inject.c, included here because the Makefile links tests
 * only with libkurir.a; inject.c has no main()).  Input is fed through a
 * temporary file descriptor, as stdin would be.  Runs as the developer.
 */
#include "../sendmail/inject.c"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOST	"host.test"

static struct inject_opts
opts(void)
{
	struct inject_opts o;

	memset(&o, 0, sizeof(o));
	o.dot_ends = 1;
	o.hostname = HOST;
	o.from_addr = "user@" HOST;
	o.now = 1700000000;
	o.pid = 4242;
	return o;
}

/* An fd positioned at the start of data, like a redirected stdin. */
static int
data_fd(const char *data, size_t len)
{
	FILE *f = tmpfile();
	int fd;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq((int)fwrite(data, 1, len, f), (int)len);
	ck_assert_int_eq(fflush(f), 0);
	fd = dup(fileno(f));
	fclose(f);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq((int)lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* Read data into ij; returns inject_read's result. */
static int
feed(struct inject *ij, const char *data, size_t len,
    const struct inject_opts *o)
{
	int fd = data_fd(data, len), r;

	inject_init(ij);
	r = inject_read(ij, fd, o);
	close(fd);
	return r;
}

static void
read_expect(const char *in, int dot_ends, const char *want)
{
	struct inject_opts o = opts();
	struct inject ij;

	o.dot_ends = dot_ends;
	ck_assert_int_eq(feed(&ij, in, strlen(in), &o), 0);
	ck_assert_msg(ij.msg.len == strlen(want) &&
	    memcmp(ij.msg.data ? ij.msg.data : "", want, ij.msg.len) == 0,
	    "input [%s]: got [%.*s] want [%s]", in, (int)ij.msg.len,
	    ij.msg.data ? ij.msg.data : "", want);
	inject_free(&ij);
}

/* Read and prepare; the prepared message as a string (caller frees). */
static char *
prepared(const char *in, struct inject_opts *o, struct inject *ij)
{
	ck_assert_int_eq(feed(ij, in, strlen(in), o), 0);
	ck_assert_msg(inject_prepare(ij, o) == 0, "prepare: %s", ij->err);
	return strndup(ij->msg.data, ij->msg.len);
}

static int
count_prefix(const char *msg, const char *prefix)
{
	const char *p = msg;
	int n = 0;

	for (;;) {
		if (strncasecmp(p, prefix, strlen(prefix)) == 0)
			n++;
		if ((p = strchr(p, '\n')) == NULL || *++p == '\n')
			return n;	/* only the header is looked at */
	}
}

/* ---- reading ---- */

START_TEST(read_line_ends)
{
	read_expect("A: b\r\n\r\nline1\r\nline2\r\n", 1, "A: b\n\nline1\nline2\n");
	read_expect("a\nb\r\nc\n", 1, "a\nb\nc\n");
	read_expect("a\rb\n", 1, "a\rb\n");		/* lone CR is data */
	read_expect("a\r\r\n", 1, "a\r\n");
	read_expect("a\r", 1, "a\r\n");
	read_expect("\r", 1, "\r\n");
	read_expect("abc", 1, "abc\n");			/* final LF added */
	read_expect("", 1, "");
}
END_TEST

START_TEST(read_dot)
{
	read_expect("a\n.\nb\n", 1, "a\n");
	read_expect("a\r\n.\r\nb\r\n", 1, "a\n");
	read_expect(".\n", 1, "");
	read_expect("a\n.", 1, "a\n");			/* "." at EOF */
	read_expect("a\n..\n .\n.x\n", 1, "a\n..\n .\n.x\n");
	read_expect("a\n.\r\n", 1, "a\n");
	read_expect("a\n.\rx\n", 1, "a\n.\rx\n");
	/* with -i a dot is just data */
	read_expect("a\n.\nb\n", 0, "a\n.\nb\n");
	read_expect("a\n.", 0, "a\n.\n");
}
END_TEST

START_TEST(read_size_cap)
{
	struct inject_opts o = opts();
	struct inject ij;

	o.max_size = 10;
	ck_assert_int_eq(feed(&ij, "123456789\n", 10, &o), 0);
	ck_assert_int_eq((int)ij.msg.len, 10);
	inject_free(&ij);
	ck_assert_int_eq(feed(&ij, "1234567890\n", 11, &o), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_ptr_nonnull(strstr(ij.err, "message too large"));
	inject_free(&ij);
	/* the limit counts stored bytes: CRLF is one */
	ck_assert_int_eq(feed(&ij, "12345678\r\n", 10, &o), 0);
	inject_free(&ij);
	o.max_size = 9;
	ck_assert_int_eq(feed(&ij, "12345678\r\n", 10, &o), 0);
	inject_free(&ij);
	/* the end-of-input "." after a message of exactly the limit */
	o.max_size = 10;
	ck_assert_int_eq(feed(&ij, "123456789\n.\n", 12, &o), 0);
	ck_assert_int_eq((int)ij.msg.len, 10);
	inject_free(&ij);
	ck_assert_int_eq(feed(&ij, "123456789\n.x\n", 13, &o), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	inject_free(&ij);
	ck_assert_int_eq(feed(&ij, "123456789\n.\r\n", 13, &o), 0);
	inject_free(&ij);
	/* a last line without LF may use the whole limit */
	ck_assert_int_eq(feed(&ij, "1234567890", 10, &o), 0);
	ck_assert_int_eq((int)ij.msg.len, 11);
	inject_free(&ij);
	ck_assert_int_eq(feed(&ij, "12345678901", 11, &o), -1);
	inject_free(&ij);
}
END_TEST

START_TEST(read_large)
{
	/* more than one read(2) chunk, no cap */
	struct inject_opts o = opts();
	struct inject ij;
	size_t n = 200000, i;
	char *big = malloc(n);

	ck_assert_ptr_nonnull(big);
	for (i = 0; i < n; i++)
		big[i] = (i % 100 == 98) ? '\r' : (i % 100 == 99) ? '\n' : 'x';
	ck_assert_int_eq(feed(&ij, big, n, &o), 0);
	ck_assert_int_eq((int)ij.msg.len, (int)(n - n / 100));
	inject_free(&ij);
	free(big);
}
END_TEST

/* Lines of 2,000 and 100,000 octets, LF or CRLF: kept byte-exact. */
START_TEST(read_long_lines)
{
	static const size_t lens[] = { 2000, 100000 };
	struct inject_opts o = opts();
	struct inject ij;
	size_t k, i, n, want;
	char *in, *out;
	int crlf;

	for (k = 0; k < 2; k++)
		for (crlf = 0; crlf <= 1; crlf++) {
			in = malloc(lens[k] + 32);
			out = malloc(lens[k] + 32);
			ck_assert_ptr_nonnull(in);
			ck_assert_ptr_nonnull(out);
			n = (size_t)snprintf(in, 32, "Subject: x%s%s",
			    crlf ? "\r\n" : "\n", crlf ? "\r\n" : "\n");
			want = (size_t)snprintf(out, 32, "Subject: x\n\n");
			for (i = 0; i < lens[k]; i++)
				in[n++] = out[want++] = (char)('a' + i % 26);
			memcpy(in + n, crlf ? "\r\nend\r\n" : "\nend\n",
			    crlf ? 7 : 5);
			n += crlf ? 7 : 5;
			memcpy(out + want, "\nend\n", 5);
			want += 5;
			ck_assert_int_eq(feed(&ij, in, n, &o), 0);
			ck_assert_uint_eq(ij.msg.len, want);
			ck_assert_int_eq(memcmp(ij.msg.data, out, want), 0);
			inject_free(&ij);
			free(in);
			free(out);
		}
}
END_TEST

/* ---- recipients ---- */

START_TEST(rcpt_extract)
{
	struct inject_opts o = opts();
	struct inject ij;
	char *m;

	o.extract = 1;
	m = prepared("To: a@x.test, B <b@x.test>\nCc: c@x.test\n"
	    "BCC: d@x.test,\n e@x.test\nSubject: s\n\nbody\n", &o, &ij);
	ck_assert_int_eq((int)ij.nrcpts, 5);
	ck_assert_str_eq(ij.rcpts[0], "a@x.test");
	ck_assert_str_eq(ij.rcpts[3], "d@x.test");
	ck_assert_str_eq(ij.rcpts[4], "e@x.test");
	ck_assert_ptr_null(strcasestr(m, "bcc"));
	ck_assert_ptr_null(strstr(m, "e@x.test"));
	ck_assert_ptr_nonnull(strstr(m, "To: a@x.test, B <b@x.test>\n"));
	ck_assert_ptr_nonnull(strstr(m, "Cc: c@x.test\nSubject: s\n"));
	ck_assert_ptr_nonnull(strstr(m, "\n\nbody\n"));
	free(m);
	inject_free(&ij);
}
END_TEST

START_TEST(rcpt_resent)
{
	struct inject_opts o = opts();
	struct inject ij;
	char *m;

	o.extract = 1;
	m = prepared("To: old@x.test\nBcc: oldbcc@x.test\n"
	    "Resent-From: r@x.test\nresent-to: new@x.test\n"
	    "Resent-Bcc: hid@x.test\n\nbody\n", &o, &ij);
	ck_assert_int_eq((int)ij.nrcpts, 2);
	ck_assert_str_eq(ij.rcpts[0], "new@x.test");
	ck_assert_str_eq(ij.rcpts[1], "hid@x.test");
	ck_assert_ptr_null(strstr(m, "hid@x.test"));
	ck_assert_ptr_null(strstr(m, "oldbcc@x.test"));
	ck_assert_ptr_nonnull(strstr(m, "To: old@x.test\n"));
	free(m);
	inject_free(&ij);
}
END_TEST

START_TEST(rcpt_no_extract)
{
	struct inject_opts o = opts();
	struct inject ij;
	char *m;

	m = prepared("To: a@x.test\nBcc: b@x.test\n\nbody\n", &o, &ij);
	ck_assert_int_eq((int)ij.nrcpts, 0);
	ck_assert_ptr_nonnull(strstr(m, "Bcc: b@x.test\n"));
	free(m);
	inject_free(&ij);
}
END_TEST

START_TEST(rcpt_bare_and_dups)
{
	struct inject_opts o = opts();
	struct inject ij;
	char *m;

	inject_init(&ij);
	ck_assert_int_eq(inject_add_rcpts(&ij, "alice", &o), 0);
	ck_assert_int_eq(inject_add_rcpts(&ij, "Bob <bob>, carol@X.Test", &o), 0);
	ck_assert_int_eq(inject_add_rcpts(&ij, "ALICE@host.test", &o), 0);
	ck_assert_int_eq(inject_add_rcpts(&ij, "", &o), 0);
	ck_assert_int_eq((int)ij.nrcpts, 3);
	ck_assert_str_eq(ij.rcpts[0], "alice@" HOST);
	ck_assert_str_eq(ij.rcpts[1], "bob@" HOST);
	ck_assert_str_eq(ij.rcpts[2], "carol@x.test");
	ck_assert_int_eq(inject_add_rcpts(&ij, "good@x.test, bad@", &o), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_nonnull(strstr(ij.err, "bad@"));
	inject_free(&ij);

	/* -t qualifies too, and merges with the command line */
	o.extract = 1;
	ck_assert_int_eq(feed(&ij, "To: carol, dave@" HOST "\n\nx\n",
	    strlen("To: carol, dave@" HOST "\n\nx\n"), &o), 0);
	ck_assert_int_eq(inject_add_rcpts(&ij, "dave", &o), 0);
	ck_assert_int_eq(inject_prepare(&ij, &o), 0);
	ck_assert_int_eq((int)ij.nrcpts, 2);
	ck_assert_str_eq(ij.rcpts[0], "dave@" HOST);
	ck_assert_str_eq(ij.rcpts[1], "carol@" HOST);
	m = strndup(ij.msg.data, ij.msg.len);
	ck_assert_ptr_nonnull(strstr(m, "To: carol, dave@" HOST "\n"));
	free(m);
	inject_free(&ij);
}
END_TEST

START_TEST(rcpt_bad_header)
{
	struct inject_opts o = opts();
	struct inject ij;
	const char *in = "To: ok@x.test, John Doe\n\nx\n";

	o.extract = 1;
	ck_assert_int_eq(feed(&ij, in, strlen(in), &o), 0);
	ck_assert_int_eq(inject_prepare(&ij, &o), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_nonnull(strstr(ij.err, "John Doe"));
	ck_assert_ptr_nonnull(strstr(ij.err, "To:"));
	inject_free(&ij);
}
END_TEST

START_TEST(rcpt_groups)
{
	struct inject_opts o = opts();
	struct inject ij;
	char *m;

	o.extract = 1;
	m = prepared("To: undisclosed-recipients:;\nBcc: x@x.test\n\nb\n",
	    &o, &ij);
	ck_assert_int_eq((int)ij.nrcpts, 1);
	ck_assert_ptr_nonnull(strstr(m, "To: undisclosed-recipients:;\n"));
	free(m);
	inject_free(&ij);
}
END_TEST

START_TEST(sender_forms)
{
	char out[ADDR_TEXT_MAX], err[256];

	ck_assert_int_eq(inject_sender("", HOST, out, sizeof(out), err,
	    sizeof(err)), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(inject_sender("<>", HOST, out, sizeof(out), err,
	    sizeof(err)), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(inject_sender("bob", HOST, out, sizeof(out), err,
	    sizeof(err)), 0);
	ck_assert_str_eq(out, "bob@" HOST);
	ck_assert_int_eq(inject_sender("Bob <b@X.test>", HOST, out, sizeof(out),
	    err, sizeof(err)), 0);
	ck_assert_str_eq(out, "b@x.test");
	ck_assert_int_eq(inject_sender("a@x.test, b@x.test", HOST, out,
	    sizeof(out), err, sizeof(err)), -1);
	ck_assert_int_eq(inject_sender("bad@", HOST, out, sizeof(out), err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "bad@"));
}
END_TEST

/* ---- added fields ---- */

START_TEST(add_when_missing)
{
	struct inject_opts o = opts();
	struct inject ij;
	char *m;

	m = prepared("Subject: hi\n\nbody\n", &o, &ij);
	ck_assert_int_eq(count_prefix(m, "From: user@" HOST "\n"), 1);
	ck_assert_int_eq(count_prefix(m, "Date: "), 1);
	ck_assert_int_eq(count_prefix(m, "Message-ID: <"), 1);
	ck_assert_ptr_nonnull(strstr(m, ".4242."));
	ck_assert_ptr_nonnull(strstr(m, "@" HOST ">\n"));
	ck_assert(strncmp(m, "Subject: hi\n", 12) == 0);
	ck_assert_ptr_nonnull(strstr(m, ">\n\nbody\n"));
	free(m);
	inject_free(&ij);
}
END_TEST

START_TEST(add_never_doubles)
{
	struct inject_opts o = opts();
	struct inject ij;
	const char *in = "FROM: x@x.test\nmessage-id: <1@x.test>\n"
	    "dAtE: Mon, 1 Jan 2024 00:00:00 +0000\n\nbody\n";
	char *m;

	m = prepared(in, &o, &ij);
	ck_assert_str_eq(m, in);
	free(m);
	inject_free(&ij);
	/* one present, two added */
	m = prepared("Message-Id: <2@x.test>\n\nb\n", &o, &ij);
	ck_assert_int_eq(count_prefix(m, "message-id:"), 1);
	ck_assert_int_eq(count_prefix(m, "from:"), 1);
	ck_assert_int_eq(count_prefix(m, "date:"), 1);
	free(m);
	inject_free(&ij);
}
END_TEST

START_TEST(add_headerless)
{
	struct inject_opts o = opts();
	struct inject ij;
	char *m, *p;

	/* no header at all: the first line is body */
	m = prepared("hello world\nsecond\n", &o, &ij);
	ck_assert(strncmp(m, "From: ", 6) == 0);
	ck_assert_ptr_nonnull(p = strstr(m, "\n\nhello world\nsecond\n"));
	ck_assert_str_eq(p, "\n\nhello world\nsecond\n");
	free(m);
	inject_free(&ij);
	/* an empty first line: the separator is not doubled */
	m = prepared("\nbody\n", &o, &ij);
	ck_assert_ptr_nonnull(p = strstr(m, "\n\nbody\n"));
	ck_assert_str_eq(p, "\n\nbody\n");
	ck_assert_ptr_null(strstr(m, "\n\n\n"));
	free(m);
	inject_free(&ij);
	/* a header that ends at a non-field line gets a separator */
	m = prepared("Subject: s\nnot a field\n", &o, &ij);
	ck_assert_ptr_nonnull(strstr(m, ">\n\nnot a field\n"));
	free(m);
	inject_free(&ij);
	/* nothing at all */
	m = prepared("", &o, &ij);
	ck_assert(strncmp(m, "From: ", 6) == 0);
	ck_assert_int_eq((int)strlen(m) - (int)(strstr(m, ">\n\n") - m), 3);
	free(m);
	inject_free(&ij);
}
END_TEST

START_TEST(add_mbox_from_line)
{
	struct inject_opts o = opts();
	struct inject ij;
	char *m;

	m = prepared("From alice Mon Jan  1 00:00:00 2024\nSubject: s\n\nb\n",
	    &o, &ij);
	ck_assert(strncmp(m, "Subject: s\n", 11) == 0);
	ck_assert_int_eq(count_prefix(m, "From: "), 1);
	free(m);
	inject_free(&ij);
}
END_TEST

START_TEST(add_date_format)
{
	char d[64];

	setenv("TZ", "UTC", 1);
	tzset();
	ck_assert_int_eq(inject_format_date(0, d, sizeof(d)), 0);
	ck_assert_str_eq(d, "Thu, 01 Jan 1970 00:00:00 +0000");
	setenv("TZ", "EST5", 1);
	tzset();
	ck_assert_int_eq(inject_format_date(1700000000, d, sizeof(d)), 0);
	ck_assert_str_eq(d, "Tue, 14 Nov 2023 17:13:20 -0500");
}
END_TEST

static void
from_expect(const char *name, const char *want)
{
	struct buf b;

	buf_init(&b, 0);
	ck_assert_int_eq(inject_format_from("u@" HOST, name, &b), 0);
	ck_assert_str_eq(buf_cstr(&b), want);
	buf_free(&b);
}

START_TEST(add_fullname)
{
	from_expect(NULL, "u@" HOST);
	from_expect("", "u@" HOST);
	from_expect("   ", "u@" HOST);
	from_expect("Full Name", "\"Full Name\" <u@" HOST ">");
	from_expect("Doe, John Q.", "\"Doe, John Q.\" <u@" HOST ">");
	from_expect("A \"B\" C\\", "\"A \\\"B\\\" C\\\\\" <u@" HOST ">");
	/* no header injection through -F */
	from_expect("Evil\nBcc: victim@x.test", "\"Evil Bcc: victim@x.test\" <u@"
	    HOST ">");
	from_expect("Cron\r\n\tDaemon", "\"Cron Daemon\" <u@" HOST ">");
	/* UTF-8 becomes an RFC 2047 encoded word; bad bytes become '?' */
	from_expect("J\xc3\xb6rg", "=?UTF-8?B?SsO2cmc=?= <u@" HOST ">");
	from_expect("J\xf6rg", "\"J?rg\" <u@" HOST ">");
}
END_TEST

START_TEST(add_fullname_long)
{
	char name[600];
	const char *p;
	struct buf b;
	size_t i;

	/* many two-byte characters: split into words on whole characters */
	for (i = 0; i + 2 < sizeof(name); i += 2)
		memcpy(name + i, "\xc3\xa9", 2);
	name[i] = '\0';
	buf_init(&b, 0);
	ck_assert_int_eq(inject_format_from("u@" HOST, name, &b), 0);
	p = buf_cstr(&b);
	ck_assert(strncmp(p, "=?UTF-8?B?", 10) == 0);
	ck_assert_ptr_nonnull(strstr(p, "?=\n =?UTF-8?B?"));
	/* every line of the field stays short */
	for (; (i = strcspn(p, "\n")), p[i] != '\0'; p += i + 1)
		ck_assert_int_le((int)i, 78);
	buf_free(&b);
}
END_TEST

START_TEST(add_fullname_in_message)
{
	struct inject_opts o = opts();
	struct inject ij;
	char *m;

	o.fullname = "Cron Daemon";
	m = prepared("Subject: x\n\nb\n", &o, &ij);
	ck_assert_ptr_nonnull(strstr(m, "\nFrom: \"Cron Daemon\" <user@" HOST
	    ">\n"));
	free(m);
	inject_free(&ij);
}
END_TEST

static Suite *
inject_suite(void)
{
	Suite *s = suite_create("inject");
	TCase *tr = tcase_create("read"), *tc = tcase_create("recipients");
	TCase *ta = tcase_create("fields");

	tcase_add_test(tr, read_line_ends);
	tcase_add_test(tr, read_dot);
	tcase_add_test(tr, read_size_cap);
	tcase_add_test(tr, read_large);
	tcase_add_test(tr, read_long_lines);
	tcase_add_test(tc, rcpt_extract);
	tcase_add_test(tc, rcpt_resent);
	tcase_add_test(tc, rcpt_no_extract);
	tcase_add_test(tc, rcpt_bare_and_dups);
	tcase_add_test(tc, rcpt_bad_header);
	tcase_add_test(tc, rcpt_groups);
	tcase_add_test(tc, sender_forms);
	tcase_add_test(ta, add_when_missing);
	tcase_add_test(ta, add_never_doubles);
	tcase_add_test(ta, add_headerless);
	tcase_add_test(ta, add_mbox_from_line);
	tcase_add_test(ta, add_date_format);
	tcase_add_test(ta, add_fullname);
	tcase_add_test(ta, add_fullname_long);
	tcase_add_test(ta, add_fullname_in_message);
	suite_add_tcase(s, tr);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, ta);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(inject_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
