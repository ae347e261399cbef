/*
 * check_fields.c - unit tests for common/fields.c: NUL-terminated
 * payload fields and plain decimals.
 */
#include <check.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"

START_TEST(test_next)
{
	static const char p[] = "ab\0\0cdef\0tail";	/* no NUL after tail */
	const char *pp = p, *end = p + sizeof(p) - 1, *f;

	ck_assert_ptr_nonnull(f = field_next(&pp, end, 2));
	ck_assert_str_eq(f, "ab");
	ck_assert_ptr_nonnull(f = field_next(&pp, end, 0));	/* empty */
	ck_assert_str_eq(f, "");
	/* longer than max: refused, and the position stays */
	ck_assert_ptr_null(field_next(&pp, end, 3));
	ck_assert_ptr_nonnull(f = field_next(&pp, end, 4));
	ck_assert_str_eq(f, "cdef");
	/* no NUL before the end: never read past it */
	ck_assert_ptr_null(field_next(&pp, end, 100));
	pp = end;
	ck_assert_ptr_null(field_next(&pp, end, 100));
}
END_TEST

START_TEST(test_decimal)
{
	static const char *const bad[] = { "", "-1", "+1", " 1", "1 ", "01",
	    "00", "1x", "0x10", "9223372036854775808",
	    "99999999999999999999999" };
	long long v;
	size_t i;

	ck_assert_int_eq(field_decimal("0", &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(field_decimal("4096", &v), 0);
	ck_assert_int_eq(v, 4096);
	ck_assert_int_eq(field_decimal("9223372036854775807", &v), 0);
	ck_assert(v == LLONG_MAX);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(field_decimal(bad[i], &v) == -1, "%s", bad[i]);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("fields");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_next);
	tcase_add_test(tc, test_decimal);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
