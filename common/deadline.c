/*
 * deadline.c - session deadlines on the monotonic clock (deadline.h).
 * Used by kurir-smtpd and kurir-pop3d in their sandboxes: the only
 * system call is clock_gettime, which both profiles allow.
 */
#include <time.h>

#include "deadline.h"

/* far enough (about 290 million years) that no sum below overflows */
#define DEADLINE_SECS_MAX	(1LL << 43)

long long
deadline_now(void)
{
	struct timespec ts;

	/* cannot fail for CLOCK_MONOTONIC on Linux */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return 0;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long
deadline_in(long long now, long long secs)
{
	if (secs <= 0)
		return now;
	if (secs > DEADLINE_SECS_MAX)
		secs = DEADLINE_SECS_MAX;
	return now + secs * 1000;
}

long long
deadline_extend(long long due, long long now, size_t n, unsigned rate,
    long long window)
{
	long long cap = deadline_in(now, window), ext;

	/* time that ran out is not given back by late bytes */
	if (due <= now || rate == 0)
		return due;
	/* n is one read (far below 2^43), so n * 1000 cannot overflow */
	ext = (long long)(n < (1ULL << 40) ? n : (1ULL << 40)) * 1000 / rate;
	if (due > cap - ext)
		return due > cap ? due : cap;
	return due + ext;
}

void
deadline_timeval(long long due, long long now, struct timeval *tv)
{
	long long left = due > now ? due - now : 0;

	tv->tv_sec = left / 1000;
	tv->tv_usec = (left % 1000) * 1000;
}
