/*
 * clock.c - kurir-smtpd's deadlines: one timer per session, armed for
 * the earliest thing the session waits for (issue 12).
 *
 * Runs as the smtpd user, chrooted and sandboxed (the clock is read with
 * clock_gettime, which SANDBOX_SMTPD allows).
 *
 * - A command must be complete smtp_command_timeout after the greeting
 *   or after the previous command was handled (its reply queued).  Reads
 *   never move that deadline, so a client that sends a byte now and then
 *   cannot hold a session open; idle time between commands counts the
 *   same way it always did.
 * - Message text (DATA, a BDAT chunk, the octets of a refused BDAT) has
 *   a progress deadline instead: at most smtp_data_timeout ahead, and
 *   each byte received buys 1/smtp_min_data_rate seconds (Postfix's
 *   smtpd_min_data_rate) - while the text may still be taken: once it is
 *   refused (too big, bare line ends; a refused BDAT) it earns nothing,
 *   so it ends within smtp_data_timeout or the session does.  A client that sends at that rate or faster
 *   is never cut off, whatever the size of the message or its lines; a
 *   trickle runs out after about smtp_data_timeout.  The BDAT chunks of
 *   one message share one such deadline, so a message cannot be spread
 *   over tiny chunks for ever either.
 * - While a session waits for kurir-auth or kurir-queue, the client's
 *   clock stops (the delay is ours); a lost answer still ends the
 *   session, after twice smtp_command_timeout.
 */
#include "deadline.h"
#include "log.h"
#include "smtpd.h"

static int
in_text(const struct session *s)
{
	return s->state == S_DATA || s->state == S_BDAT || s->state == S_SKIP;
}

/* The time by which the session must have moved on. */
static long long
clock_due(const struct session *s)
{
	if (s->awaiting)
		return s->await_due;
	if (in_text(s))
		return s->data_due;
	/* between the BDAT chunks of a message both clocks run */
	if (s->data_due != 0 && s->data_due < s->cmd_due)
		return s->data_due;
	return s->cmd_due;
}

static void
clock_arm(struct session *s, long long now)
{
	struct timeval tv;

	deadline_timeval(clock_due(s), now, &tv);
	if (evtimer_add(s->ev_timer, &tv) == -1)
		log_warnx("[%s] cannot arm the session timer", s->ip);
}

void
clock_greet_pause(struct session *s)
{
	long long now = deadline_now();

	s->cmd_due = deadline_in(now, S.conf.smtp_greet_pause);
	clock_arm(s, now);
}

/*
 * A command, a piece of message text, or a peer's answer was handled:
 * start the clock of whatever the session waits for now.
 */
void
clock_next(struct session *s)
{
	long long now = deadline_now();

	if (s->awaiting)
		;	/* await_due was set by clock_await */
	else if (in_text(s)) {
		/* a later BDAT chunk goes on with the message's deadline */
		if (s->data_due == 0)
			s->data_due = deadline_in(now,
			    S.conf.smtp_data_timeout);
	} else if (s->state != S_GREET_PAUSE) {
		/* S_CMD, S_AUTH, a STARTTLS handshake (S_TLS), and the flush
		 * of a last reply (S_CLOSING) to a client slow to read it */
		s->cmd_due = deadline_in(now, S.conf.smtp_command_timeout);
		if (!s->bdat_used)
			s->data_due = 0;	/* no message text under way */
	}
	clock_arm(s, now);
}

void
clock_await(struct session *s)
{
	s->await_due = deadline_in(deadline_now(),
	    2 * S.conf.smtp_command_timeout);
	clock_next(s);
}

/*
 * n bytes arrived: message text under way earns time by its progress -
 * but not text that is already refused (too big, a bare line end, a
 * refused BDAT's octets): that is read only so that the client hears the
 * answer at its end, and it must get there within what time is left,
 * at most smtp_data_timeout, however steadily it comes.
 */
void
clock_input(struct session *s, size_t n)
{
	if (s->data_due == 0 || s->state == S_SKIP ||
	    s->dec.error != ME_NONE)
		return;
	/* the timer is not moved: clock_expired re-arms it when it fires */
	s->data_due = deadline_extend(s->data_due, deadline_now(), n,
	    S.conf.smtp_min_data_rate, S.conf.smtp_data_timeout);
}

/* The timer fired: 1 if the deadline has passed, else it is re-armed. */
int
clock_expired(struct session *s)
{
	long long now = deadline_now();

	if (now >= clock_due(s))
		return 1;
	clock_arm(s, now);
	return 0;
}
