/*
 * check_buf.c - unit tests for common/buf.c.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

START_TEST(test_add_and_grow)
{
	struct buf b;
	int i;

	buf_init(&b, 0);
	ck_assert_str_eq(buf_cstr(&b), "");
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(buf_addstr(&b, "abc"), 0);
	ck_assert_uint_eq(b.len, 3000);
	ck_assert(b.cap > b.len);
	ck_assert_int_eq(memcmp(b.data + 2997, "abc", 3), 0);
	ck_assert_uint_eq(strlen(buf_cstr(&b)), 3000);
	buf_free(&b);
	ck_assert_ptr_null(b.data);
}
END_TEST

START_TEST(test_cap_enforced)
{
	struct buf b;

	buf_init(&b, 10);
	ck_assert_int_eq(buf_add(&b, "0123456789", 10), 0);
	errno = 0;
	ck_assert_int_eq(buf_addch(&b, 'x'), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_uint_eq(b.len, 10);
	buf_reset(&b);
	ck_assert_int_eq(buf_printf(&b, "%s", "0123456789a"), -1);
	ck_assert_int_eq(buf_printf(&b, "%d", 123456789), 0);
	ck_assert_str_eq(buf_cstr(&b), "123456789");
	buf_free(&b);
}
END_TEST

START_TEST(test_overflow_sizes)
{
	struct buf b;

	buf_init(&b, 0);
	ck_assert_int_eq(buf_add(&b, "x", 1), 0);
	/* a length near SIZE_MAX must fail cleanly, not wrap */
	ck_assert_int_eq(buf_reserve(&b, SIZE_MAX), -1);
	ck_assert_int_eq(buf_reserve(&b, SIZE_MAX - 1), -1);
	ck_assert_uint_eq(b.len, 1);
	buf_free(&b);
}
END_TEST

START_TEST(test_drain_and_find)
{
	struct buf b;

	buf_init(&b, 0);
	buf_addstr(&b, "line one\nline two\n");
	ck_assert_int_eq(buf_find_lf(&b), 8);
	buf_drain(&b, 9);
	ck_assert_str_eq(buf_cstr(&b), "line two\n");
	ck_assert_int_eq(buf_find_lf(&b), 8);
	buf_drain(&b, 100);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(buf_find_lf(&b), -1);
	buf_addstr(&b, "no newline");
	ck_assert_int_eq(buf_find_lf(&b), -1);
	buf_free(&b);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_add_and_grow);
	tcase_add_test(tc, test_cap_enforced);
	tcase_add_test(tc, test_overflow_sizes);
	tcase_add_test(tc, test_drain_and_find);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
