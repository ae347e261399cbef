/*
 * check_linecut.c - unit tests for common/linecut.c: lines with CRLF and
 * bare LF, partial input, the limit exactly at and one past max, the
 * skipping of an overlong line across several calls and inputs.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "linecut.h"

START_TEST(test_lines)
{
	size_t len, used;
	int skip = 0;

	ck_assert_int_eq(linecut_next("NOOP\r\nQUIT\r\n", 12, 255, &skip,
	    &len, &used), LINECUT_LINE);
	ck_assert_uint_eq(len, 4);
	ck_assert_uint_eq(used, 6);
	ck_assert_int_eq(linecut_next("QUIT\n", 5, 255, &skip, &len, &used),
	    LINECUT_LINE);
	ck_assert_uint_eq(len, 4);
	ck_assert_uint_eq(used, 5);
	ck_assert_int_eq(linecut_next("\r\n", 2, 255, &skip, &len, &used),
	    LINECUT_LINE);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(linecut_next("\n", 1, 255, &skip, &len, &used),
	    LINECUT_LINE);
	ck_assert_uint_eq(len, 0);
	ck_assert_uint_eq(used, 1);
	/* a CR inside stays: only the one before LF goes */
	ck_assert_int_eq(linecut_next("a\rb\r\n", 5, 255, &skip, &len, &used),
	    LINECUT_LINE);
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(linecut_next("STAT", 4, 255, &skip, &len, &used),
	    LINECUT_MORE);
	ck_assert_uint_eq(used, 0);
	ck_assert_int_eq(linecut_next("", 0, 255, &skip, &len, &used),
	    LINECUT_MORE);
	ck_assert_int_eq(skip, 0);
}
END_TEST

START_TEST(test_limit)
{
	char line[300];
	size_t len, used;
	int skip = 0;

	/* max octets with the LF: allowed */
	memset(line, 'x', sizeof(line));
	line[254] = '\n';
	ck_assert_int_eq(linecut_next(line, 255, 255, &skip, &len, &used),
	    LINECUT_LINE);
	ck_assert_uint_eq(len, 254);
	ck_assert_uint_eq(used, 255);
	/* one more: too long, max taken, the rest skipped */
	line[254] = 'x';
	line[255] = '\n';
	ck_assert_int_eq(linecut_next(line, 256, 255, &skip, &len, &used),
	    LINECUT_LONG);
	ck_assert_uint_eq(used, 255);
	ck_assert_int_eq(skip, 1);
	ck_assert_uint_eq(linecut_skip(line + 255, 1, &skip), 1);
	ck_assert_int_eq(skip, 0);
	/* not yet max and no LF: wait */
	ck_assert_int_eq(linecut_next(line, 254, 255, &skip, &len, &used),
	    LINECUT_MORE);
	ck_assert_int_eq(skip, 0);
}
END_TEST

START_TEST(test_skip)
{
	int skip = 1;

	/* the tail of an overlong line, in pieces */
	ck_assert_uint_eq(linecut_skip("xxxx", 4, &skip), 4);
	ck_assert_int_eq(skip, 1);
	ck_assert_uint_eq(linecut_skip("", 0, &skip), 0);
	ck_assert_int_eq(skip, 1);
	ck_assert_uint_eq(linecut_skip("xx\r\nSTAT\r\n", 10, &skip), 4);
	ck_assert_int_eq(skip, 0);
	/* nothing to skip: nothing dropped */
	ck_assert_uint_eq(linecut_skip("STAT\r\n", 6, &skip), 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("linecut");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_lines);
	tcase_add_test(tc, test_limit);
	tcase_add_test(tc, test_skip);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
