/*
 * deadline.h - session deadlines on the monotonic clock, in milliseconds,
 * for kurir-smtpd and kurir-pop3d (no I/O but one clock read).
 *
 * A command must be complete by a fixed time however slowly its bytes
 * trickle in: reads never move that deadline.  Message text has a
 * progress rule instead (Postfix's smtpd_min_data_rate): each byte
 * received moves the deadline later by 1/rate seconds, but never more
 * than a window ahead of now, so a client that keeps sending at the
 * rate is never cut off and one that trickles runs out of time.
 */
#ifndef KURIR_DEADLINE_H
#define KURIR_DEADLINE_H

#include <sys/time.h>
#include <stddef.h>

/* Now on the monotonic clock, in ms. */
long long	deadline_now(void);
/* now + secs seconds, in ms (secs <= 0: now; huge values saturate). */
long long	deadline_in(long long now, long long secs);
/*
 * The deadline after n more bytes arrived at now: due + n / rate seconds,
 * moved no further than now + window seconds.  An expired deadline (due <= now) stays
 * expired; rate 0 extends nothing.
 */
long long	deadline_extend(long long due, long long now, size_t n,
		    unsigned rate, long long window);
/* The time from now until due as a timer interval (0 if past). */
void		deadline_timeval(long long due, long long now, struct timeval *);

#endif
