/*
 * check_hdr.c - unit tests for common/hdr.c: the header field iterator,
 * field-name matching, unfolding and address-list extraction.
 * Runs as the developer; no files, no network.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "hdr.h"

#define GOT_MAX	16

struct got {
	int	 n;
	int	 nbad;
	char	 text[GOT_MAX][ADDR_TEXT_MAX];	/* "" for a bad one */
	char	 raw[GOT_MAX][256];
	char	 why[GOT_MAX][64];
	int	 stop_after;			/* 0: never */
};

static int
collect(const struct hdr_mailbox *mb, void *arg)
{
	struct got *g = arg;

	if (g->n < GOT_MAX) {
		snprintf(g->text[g->n], sizeof(g->text[0]), "%s",
		    mb->why ? "" : mb->text);
		snprintf(g->raw[g->n], sizeof(g->raw[0]), "%.*s",
		    (int)mb->rawlen, mb->raw);
		snprintf(g->why[g->n], sizeof(g->why[0]), "%s",
		    mb->why ? mb->why : "");
	}
	g->n++;
	if (mb->why)
		g->nbad++;
	if (g->stop_after && g->n >= g->stop_after)
		return -1;
	return 0;
}

static int
extract(const char *v, struct got *g)
{
	memset(g, 0, sizeof(*g));
	return hdr_addr_extract(v, strlen(v), ADDR_ALLOW_NODOMAIN, collect, g);
}

/* ---- fields ---- */

START_TEST(fields_basic)
{
	const char *m = "From: a@x.test\nSubject: hi\n\nbody\n";
	struct hdr_iter it;
	struct hdr_field f;

	hdr_iter_init(&it, m, strlen(m));
	ck_assert_int_eq(hdr_iter_next(&it, &f), 1);
	ck_assert_int_eq((int)f.namelen, 4);
	ck_assert(memcmp(f.name, "From", 4) == 0);
	ck_assert_int_eq((int)f.valuelen, 9);
	ck_assert(memcmp(f.value, " a@x.test", 9) == 0);
	ck_assert_int_eq((int)f.off, 0);
	ck_assert_int_eq((int)f.len, 15);
	ck_assert_int_eq(hdr_iter_next(&it, &f), 1);
	ck_assert(hdr_name_is(&f, "subject"));
	ck_assert_int_eq((int)f.off, 15);
	ck_assert_int_eq((int)f.len, 12);
	ck_assert_int_eq(hdr_iter_next(&it, &f), 0);
	ck_assert_int_eq(hdr_iter_next(&it, &f), 0);	/* stays done */
	ck_assert_int_eq((int)it.hdr_end, 27);
	ck_assert_int_eq((int)it.body_off, 28);
	ck_assert_int_eq(it.has_sep, 1);
}
END_TEST

START_TEST(fields_folding)
{
	const char *m = "Subject: one\n two\n\tthree\nTo: b\n\nx";
	struct hdr_iter it;
	struct hdr_field f;
	struct buf b;

	hdr_iter_init(&it, m, strlen(m));
	ck_assert_int_eq(hdr_iter_next(&it, &f), 1);
	ck_assert_int_eq((int)f.valuelen, (int)strlen(" one\n two\n\tthree"));
	ck_assert(memcmp(f.value, " one\n two\n\tthree", f.valuelen) == 0);
	ck_assert_int_eq((int)f.len, (int)strlen("Subject: one\n two\n\tthree\n"));
	buf_init(&b, 0);
	ck_assert_int_eq(hdr_value_unfold(&f, &b), 0);
	ck_assert_str_eq(buf_cstr(&b), "one two\tthree");
	buf_free(&b);
	ck_assert_int_eq(hdr_iter_next(&it, &f), 1);
	ck_assert(hdr_name_is(&f, "TO"));
	ck_assert_int_eq(hdr_iter_next(&it, &f), 0);
	ck_assert_int_eq((int)it.body_off, (int)strlen(m) - 1);
}
END_TEST

START_TEST(fields_blank_continuation)
{
	/* a line of blanks continues the field (obs-FWS), it ends nothing */
	const char *m = "A: 1\n \nB: 2\n\n";
	struct hdr_iter it;
	struct hdr_field f;

	hdr_iter_init(&it, m, strlen(m));
	ck_assert_int_eq(hdr_iter_next(&it, &f), 1);
	ck_assert_int_eq((int)f.len, 7);
	ck_assert_int_eq(hdr_iter_next(&it, &f), 1);
	ck_assert(hdr_name_is(&f, "b"));
	ck_assert_int_eq(hdr_iter_next(&it, &f), 0);
}
END_TEST

START_TEST(fields_end_at_nonfield)
{
	const char *m = "Subject: a\nthis is not a field\nTo: x\n";
	struct hdr_iter it;
	struct hdr_field f;

	hdr_iter_init(&it, m, strlen(m));
	ck_assert_int_eq(hdr_iter_next(&it, &f), 1);
	ck_assert_int_eq(hdr_iter_next(&it, &f), 0);
	ck_assert_int_eq((int)it.hdr_end, 11);
	ck_assert_int_eq((int)it.body_off, 11);
	ck_assert_int_eq(it.has_sep, 0);
}
END_TEST

START_TEST(fields_headerless)
{
	static const char *cases[] = {
		"hello world\n", " indented: x\n", ":novalue\n", "Subject hi\n",
		"Sub\x01ject: x\n", "Caf\xc3\xa9: x\n", "\r\n", "",
	};
	struct hdr_iter it;
	struct hdr_field f;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hdr_iter_init(&it, cases[i], strlen(cases[i]));
		ck_assert_msg(hdr_iter_next(&it, &f) == 0, "case %zu", i);
		ck_assert_int_eq((int)it.hdr_end, 0);
	}
	/* "\r\n" is an empty line (a separator), the others are body */
	hdr_iter_init(&it, "\r\nbody", 6);
	ck_assert_int_eq(hdr_iter_next(&it, &f), 0);
	ck_assert_int_eq(it.has_sep, 1);
	ck_assert_int_eq((int)it.body_off, 2);
	hdr_iter_init(&it, "\nbody", 5);
	ck_assert_int_eq(hdr_iter_next(&it, &f), 0);
	ck_assert_int_eq(it.has_sep, 1);
	ck_assert_int_eq((int)it.body_off, 1);
}
END_TEST

START_TEST(fields_obs_and_crlf)
{
	const char *m = "Subject\t : hi\r\nX:\r\n\r\nb";
	struct hdr_iter it;
	struct hdr_field f;

	hdr_iter_init(&it, m, strlen(m));
	ck_assert_int_eq(hdr_iter_next(&it, &f), 1);
	ck_assert_int_eq((int)f.namelen, 7);
	ck_assert(hdr_name_is(&f, "subject"));
	ck_assert_int_eq((int)f.valuelen, 3);	/* CR not in the value */
	ck_assert_int_eq(hdr_iter_next(&it, &f), 1);
	ck_assert_int_eq((int)f.valuelen, 0);
	ck_assert_int_eq(hdr_iter_next(&it, &f), 0);
	ck_assert_int_eq(it.has_sep, 1);
	ck_assert_int_eq((int)it.body_off, (int)strlen(m) - 1);
}
END_TEST

START_TEST(fields_no_final_lf)
{
	const char *m = "A: b\n c";
	struct hdr_iter it;
	struct hdr_field f;

	hdr_iter_init(&it, m, strlen(m));
	ck_assert_int_eq(hdr_iter_next(&it, &f), 1);
	ck_assert_int_eq((int)f.len, 7);
	ck_assert_int_eq((int)f.valuelen, 5);
	ck_assert_int_eq(hdr_iter_next(&it, &f), 0);
	ck_assert_int_eq((int)it.hdr_end, 7);
	ck_assert_int_eq((int)it.body_off, 7);
	ck_assert_int_eq(it.has_sep, 0);
}
END_TEST

START_TEST(names_match)
{
	struct hdr_field f;
	const char *m = "x-a: 1\nMESSAGE-ID: <1@x>\nTo: a\n\nMessage-ID: body\n";

	ck_assert(hdr_name_eq("Message-ID", 10, "message-id"));
	ck_assert(hdr_name_eq("BCC", 3, "bcc"));
	ck_assert(!hdr_name_eq("Bcc", 3, "Bc"));
	ck_assert(!hdr_name_eq("Bc", 2, "Bcc"));
	ck_assert(!hdr_name_eq("Resent-To", 9, "To"));
	ck_assert(hdr_name_eq("", 0, ""));
	ck_assert_int_eq(hdr_find(m, strlen(m), "message-id", &f), 1);
	ck_assert_int_eq((int)f.off, 7);
	ck_assert_int_eq(hdr_find(m, strlen(m), "Date", &f), 0);
}
END_TEST

/* ---- addresses ---- */

START_TEST(addr_simple_list)
{
	struct got g;

	ck_assert_int_eq(extract("a@x.test, Bob <b@X.Test>,"
	    " \"Doe, John\" <j@x.test>", &g), 3);
	ck_assert_int_eq(g.nbad, 0);
	ck_assert_str_eq(g.text[0], "a@x.test");
	ck_assert_str_eq(g.text[1], "b@x.test");
	ck_assert_str_eq(g.text[2], "j@x.test");
	ck_assert_str_eq(g.raw[1], "Bob <b@X.Test>");
	ck_assert_str_eq(g.raw[2], "\"Doe, John\" <j@x.test>");
}
END_TEST

START_TEST(addr_groups)
{
	struct got g;

	ck_assert_int_eq(extract("undisclosed-recipients:;", &g), 0);
	ck_assert_int_eq(extract("undisclosed-recipients: ;", &g), 0);
	ck_assert_int_eq(extract("Team: a@x.test, B <b@x.test>;, c@x.test",
	    &g), 3);
	ck_assert_int_eq(g.nbad, 0);
	ck_assert_str_eq(g.text[0], "a@x.test");
	ck_assert_str_eq(g.text[2], "c@x.test");
	/* an unclosed group at the end of the value is tolerated */
	ck_assert_int_eq(extract("\"My Team\": d@x.test", &g), 1);
	ck_assert_str_eq(g.text[0], "d@x.test");
	/* an address is no group name: reported, not dropped */
	ck_assert_int_eq(extract("a@x.test: b@x.test", &g), 1);
	ck_assert_int_eq(g.nbad, 1);
	ck_assert_str_eq(g.raw[0], "a@x.test: b@x.test");
	/* no nested groups */
	ck_assert_int_eq(extract("a: b: c@x.test;;", &g), 1);
	ck_assert_int_eq(g.nbad, 1);
}
END_TEST

START_TEST(addr_comments)
{
	struct got g;

	ck_assert_int_eq(extract("a@x.test (Alice (the (nested) one))", &g), 1);
	ck_assert_str_eq(g.text[0], "a@x.test");
	ck_assert_int_eq(extract("(c) a (d) @ (e) x.test (f\\) still)", &g), 1);
	ck_assert_str_eq(g.text[0], "a@x.test");
	ck_assert_int_eq(extract("(just a comment)", &g), 0);
	ck_assert_int_eq(extract("Bob (x, y: z;) <b@x.test>", &g), 1);
	ck_assert_str_eq(g.text[0], "b@x.test");
	ck_assert_int_eq(extract("a@x.test (unterminated", &g), 1);
	ck_assert_str_eq(g.why[0], "unterminated comment");
}
END_TEST

START_TEST(addr_quoted)
{
	struct got g;

	ck_assert_int_eq(extract("\"dave\"@X.TEST", &g), 1);
	ck_assert_str_eq(g.text[0], "dave@x.test");
	ck_assert_int_eq(extract("\"john doe\"@x.test", &g), 1);
	ck_assert_int_eq(g.nbad, 0);
	ck_assert_str_eq(g.text[0], "\"john doe\"@x.test");
	ck_assert_int_eq(extract("\"A \\\"B\\\" C\" <a@x.test>, "
	    "\"x,y\"@x.test", &g), 2);
	ck_assert_int_eq(g.nbad, 0);
	ck_assert_str_eq(g.text[0], "a@x.test");
	ck_assert_int_eq(extract("\"unterminated <a@x.test>", &g), 1);
	ck_assert_str_eq(g.why[0], "unterminated quoted string");
	/* folding inside a quoted display name */
	ck_assert_int_eq(extract("\"Long\n Name\" <l@x.test>", &g), 1);
	ck_assert_str_eq(g.text[0], "l@x.test");
}
END_TEST

START_TEST(addr_obsolete)
{
	struct got g;

	ck_assert_int_eq(extract("<@r1.test,@r2.test:a@x.test>", &g), 1);
	ck_assert_str_eq(g.text[0], "a@x.test");
	ck_assert_int_eq(extract("john . doe @ x . test", &g), 1);
	ck_assert_str_eq(g.text[0], "john.doe@x.test");
	ck_assert_int_eq(extract(",, a@x.test ,,\n b@x.test,", &g), 2);
	ck_assert_int_eq(g.nbad, 0);
	ck_assert_int_eq(extract("a@x.test; b@x.test", &g), 2);
	ck_assert_int_eq(g.nbad, 0);
	ck_assert_int_eq(extract("John Q. Public <jqp@x.test>", &g), 1);
	ck_assert_str_eq(g.text[0], "jqp@x.test");
	ck_assert_int_eq(extract("a@[192.0.2.1]", &g), 1);
	ck_assert_str_eq(g.text[0], "a@[192.0.2.1]");
	ck_assert_int_eq(extract("=?utf-8?q?J=C3=B6rg?= <j@x.test>", &g), 1);
	ck_assert_str_eq(g.text[0], "j@x.test");
}
END_TEST

START_TEST(addr_bare)
{
	struct got g;

	ck_assert_int_eq(extract("alice, Bob <bob>", &g), 2);
	ck_assert_int_eq(g.nbad, 0);
	ck_assert_str_eq(g.text[0], "alice");
	ck_assert_str_eq(g.text[1], "bob");
	/* without ADDR_ALLOW_NODOMAIN a bare name is refused */
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(hdr_addr_extract("alice", 5, 0, collect, &g), 1);
	ck_assert_int_eq(g.nbad, 1);
}
END_TEST

START_TEST(addr_bad)
{
	static const char *bad[] = {
		"John Doe", "a@", "<a@x.test", "a@x.test>", "<a@x.test> junk",
		"<a b@x.test>", "<>", "a\001@x.test", "<<a@x.test>>",
		"a@x.test)", "<x:a@x.test>", "[1.2.3.4", "\\a@x.test",
		"caf\xc3\xa9@x.test",
	};
	struct got g;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(extract(bad[i], &g) == 1, "count for %s", bad[i]);
		ck_assert_msg(g.nbad == 1, "accepted %s", bad[i]);
		ck_assert_msg(g.why[0][0] != '\0', "no reason for %s", bad[i]);
	}
	ck_assert_int_eq(extract("a@x.test) , b", &g), 2);
	ck_assert_str_eq(g.raw[0], "a@x.test)");
	ck_assert_str_eq(g.text[1], "b");
	/* the good ones around a bad one still come through */
	ck_assert_int_eq(extract("a@x.test, John Doe, c@x.test", &g), 3);
	ck_assert_int_eq(g.nbad, 1);
	ck_assert_str_eq(g.raw[1], "John Doe");
	ck_assert_str_eq(g.why[1], "not an address");
	ck_assert_str_eq(g.text[2], "c@x.test");
}
END_TEST

START_TEST(addr_too_long)
{
	char v[2000];
	struct got g;

	memset(v, 'a', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	ck_assert_int_eq(extract(v, &g), 1);
	ck_assert_int_eq(g.nbad, 1);
	ck_assert_str_eq(g.why[0], "address too long");
}
END_TEST

START_TEST(addr_stop)
{
	struct got g;

	memset(&g, 0, sizeof(g));
	g.stop_after = 1;
	ck_assert_int_eq(hdr_addr_extract("a@x.test, b@x.test", 18,
	    ADDR_ALLOW_NODOMAIN, collect, &g), -1);
	ck_assert_int_eq(g.n, 1);
}
END_TEST

START_TEST(addr_counted_not_terminated)
{
	/* the value is counted: bytes past len are never read */
	const char v[] = "a@x.test, b@x.test";
	struct got g;

	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(hdr_addr_extract(v, 8, ADDR_ALLOW_NODOMAIN, collect,
	    &g), 1);
	ck_assert_str_eq(g.text[0], "a@x.test");
}
END_TEST

static Suite *
hdr_suite(void)
{
	Suite *s = suite_create("hdr");
	TCase *tf = tcase_create("fields"), *ta = tcase_create("addresses");

	tcase_add_test(tf, fields_basic);
	tcase_add_test(tf, fields_folding);
	tcase_add_test(tf, fields_blank_continuation);
	tcase_add_test(tf, fields_end_at_nonfield);
	tcase_add_test(tf, fields_headerless);
	tcase_add_test(tf, fields_obs_and_crlf);
	tcase_add_test(tf, fields_no_final_lf);
	tcase_add_test(tf, names_match);
	tcase_add_test(ta, addr_simple_list);
	tcase_add_test(ta, addr_groups);
	tcase_add_test(ta, addr_comments);
	tcase_add_test(ta, addr_quoted);
	tcase_add_test(ta, addr_obsolete);
	tcase_add_test(ta, addr_bare);
	tcase_add_test(ta, addr_bad);
	tcase_add_test(ta, addr_too_long);
	tcase_add_test(ta, addr_stop);
	tcase_add_test(ta, addr_counted_not_terminated);
	suite_add_tcase(s, tf);
	suite_add_tcase(s, ta);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(hdr_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
