/*
 * check_hops.c - unit tests for common/hops.c: Received and Delivered-To
 * fields counted in the header only, whatever the pieces the message
 * arrives in.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hops.h"

/* The count for msg fed whole, and byte by byte, and in pieces of 7. */
static unsigned
count(const char *msg)
{
	struct hops a, b, c;
	size_t n = strlen(msg), i;

	hops_init(&a);
	hops_add(&a, msg, n);
	hops_init(&b);
	for (i = 0; i < n; i++)
		hops_add(&b, msg + i, 1);
	hops_init(&c);
	for (i = 0; i < n; i += 7)
		hops_add(&c, msg + i, n - i < 7 ? n - i : 7);
	ck_assert_uint_eq(hops_count(&a), hops_count(&b));
	ck_assert_uint_eq(hops_count(&a), hops_count(&c));
	ck_assert_int_eq(hops_header_done(&a), hops_header_done(&b));
	return hops_count(&a);
}

START_TEST(test_fields)
{
	ck_assert_uint_eq(count(""), 0);
	ck_assert_uint_eq(count("Subject: x\n\nbody\n"), 0);
	ck_assert_uint_eq(count("Received: from a\nReceived: from b\n"
	    "Subject: x\n\n"), 2);
	ck_assert_uint_eq(count("Delivered-To: a@b\nReceived: x\n\n"), 2);
	/* any case; blanks before the colon (RFC 5322 obs-optional) */
	ck_assert_uint_eq(count("RECEIVED: x\nreceived : y\n"
	    "dElIvErEd-To\t: z\n\n"), 3);
	/* CRLF line ends */
	ck_assert_uint_eq(count("Received: x\r\nReceived: y\r\n\r\n"
	    "Received: body\r\n"), 2);
	/* folded: the continuation is not another field */
	ck_assert_uint_eq(count("Received: from a\n  by b\n\tReceived: c\n"
	    "\n"), 1);
	/* no header at all: the body starts at once */
	ck_assert_uint_eq(count("\nReceived: x\n"), 0);
	ck_assert_uint_eq(count("\r\nReceived: x\n"), 0);
}
END_TEST

START_TEST(test_not_fields)
{
	/* names that only start or end like ours */
	ck_assert_uint_eq(count("Received-SPF: pass\nX-Received: x\n"
	    "Receive: x\nDelivered-To-X: y\nDelivered: z\n\n"), 0);
	/* a word between name and colon; no colon at all */
	ck_assert_uint_eq(count("Received x: y\nReceived\nReceived \n\n"), 0);
	/* a line that starts with a colon or a lone CR */
	ck_assert_uint_eq(count(": Received: x\n\rReceived: y\n\n"), 0);
	/* the body: a bounce quotes the original header there */
	ck_assert_uint_eq(count("From: MAILER-DAEMON\n\n"
	    "Received: a\nDelivered-To: b\n"), 0);
	/* "\r\r\n" is not an empty line; the next line still counts */
	ck_assert_uint_eq(count("Subject: x\n\r\r\nReceived: y\n\n"), 1);
}
END_TEST

START_TEST(test_long)
{
	struct buf b;
	struct hops h;
	size_t i;

	/* a field of any length is one field; the next one counts */
	buf_init(&b, 0);
	buf_add(&b, "Received: ", 10);
	for (i = 0; i < 100000; i++)
		buf_add(&b, "x", 1);
	buf_add(&b, "\nReceived: y\n", 13);
	for (i = 0; i < 50000; i++)
		buf_add(&b, "Y", 1);		/* a very long name */
	buf_add(&b, ": z\nDelivered-To: q\n\nReceived: no\n", 34);
	hops_init(&h);
	hops_add(&h, b.data, b.len);
	ck_assert_uint_eq(h.received, 2);
	ck_assert_uint_eq(h.delivered_to, 1);
	ck_assert_int_eq(hops_header_done(&h), 1);
	buf_free(&b);

	/* many: each one counted; the counters saturate, never wrap */
	hops_init(&h);
	for (i = 0; i < 1000; i++)
		hops_add(&h, "Received: x\n", 12);
	ck_assert_uint_eq(hops_count(&h), 1000);
	h.received = UINT_MAX - 1;
	hops_add(&h, "Received: x\nReceived: x\n", 24);
	ck_assert_uint_eq(h.received, UINT_MAX);
	hops_add(&h, "Delivered-To: x\n", 16);
	ck_assert_uint_eq(hops_count(&h), UINT_MAX);
	ck_assert_int_eq(hops_header_done(&h), 0);
	hops_add(&h, NULL, 0);
	hops_add(&h, "\n", 1);
	ck_assert_int_eq(hops_header_done(&h), 1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("hops");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_fields);
	tcase_add_test(tc, test_not_fields);
	tcase_add_test(tc, test_long);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
