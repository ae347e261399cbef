/*
 * check_deadline.c - unit tests for common/deadline.c: fixed deadlines,
 * the progress rule (a trickle runs out, a steady sender never does,
 * the window caps what bytes can buy, expired stays expired), timer
 * intervals, and saturation of absurd durations.
 */
#include <check.h>
#include <stdlib.h>

#include "deadline.h"

START_TEST(test_in)
{
	ck_assert_int_eq(deadline_in(1000, 2), 3000);
	ck_assert_int_eq(deadline_in(1000, 0), 1000);
	ck_assert_int_eq(deadline_in(1000, -5), 1000);
	/* ten years of config maximum and beyond: no overflow */
	ck_assert(deadline_in(1000, 3650LL * 86400) > 1000);
	ck_assert(deadline_in(1000, 1LL << 62) > 1000);
	ck_assert(deadline_now() >= 0);
}
END_TEST

START_TEST(test_extend)
{
	/* 500 bytes/s: a byte is worth 2 ms, 1000 bytes 2 s */
	ck_assert_int_eq(deadline_extend(10000, 0, 1, 500, 600), 10002);
	ck_assert_int_eq(deadline_extend(10000, 0, 1000, 500, 600), 12000);
	/* never more than the window ahead of now */
	ck_assert_int_eq(deadline_extend(10000, 9000, 65536, 500, 4), 13000);
	ck_assert_int_eq(deadline_extend(13000, 9000, 1, 500, 4), 13000);
	/* a deadline already past the window (a smaller timeout after a
	 * reload) is not moved earlier */
	ck_assert_int_eq(deadline_extend(20000, 9000, 1, 500, 4), 20000);
	/* expired: late bytes do not revive it */
	ck_assert_int_eq(deadline_extend(9000, 9000, 1000, 500, 4), 9000);
	ck_assert_int_eq(deadline_extend(8000, 9000, 1000, 500, 4), 8000);
	/* rate 0 buys nothing */
	ck_assert_int_eq(deadline_extend(10000, 0, 1000, 0, 600), 10000);
	/* a huge read saturates at the window */
	ck_assert_int_eq(deadline_extend(10000, 0, (size_t)-1, 1, 600),
	    600000);
}
END_TEST

/* One byte every 500 ms against a 4 s window: out after about 4 s. */
START_TEST(test_trickle)
{
	long long now = 0, due = deadline_in(0, 4);

	while (now < due) {
		now += 500;
		due = deadline_extend(due, now, 1, 500, 4);
	}
	ck_assert(now >= 4000 && now <= 4500);
}
END_TEST

/* 64 KiB every 100 ms (640 KB/s) for ten minutes: never out. */
START_TEST(test_steady)
{
	long long now = 0, due = deadline_in(0, 2);

	for (; now < 600000; now += 100) {
		ck_assert(now < due);
		due = deadline_extend(due, now, 65536, 500, 2);
		ck_assert_int_eq(due, now + 2000);
	}
}
END_TEST

/* Just above the rate keeps going; just below runs out. */
START_TEST(test_rate_edge)
{
	long long now = 0, due = deadline_in(0, 4);

	for (; now < 120000; now += 1000) {
		ck_assert(now < due);
		due = deadline_extend(due, now, 510, 500, 4);
	}
	now = 0;
	due = deadline_in(0, 4);
	while (now < due && now < 1000000) {
		now += 1000;
		due = deadline_extend(due, now, 400, 500, 4);
	}
	/* each second buys 0.8 s: 4 s of slack last
	 * 16 to 20 s (in steps of a second) */
	ck_assert(now >= 15000 && now <= 21000);
}
END_TEST

START_TEST(test_timeval)
{
	struct timeval tv;

	deadline_timeval(3500, 1000, &tv);
	ck_assert_int_eq(tv.tv_sec, 2);
	ck_assert_int_eq(tv.tv_usec, 500000);
	deadline_timeval(1000, 3500, &tv);
	ck_assert_int_eq(tv.tv_sec, 0);
	ck_assert_int_eq(tv.tv_usec, 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("deadline");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_in);
	tcase_add_test(tc, test_extend);
	tcase_add_test(tc, test_trickle);
	tcase_add_test(tc, test_steady);
	tcase_add_test(tc, test_rate_edge);
	tcase_add_test(tc, test_timeval);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
