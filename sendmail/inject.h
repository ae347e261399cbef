/*
 * inject.h - message preparation for kurir-sendmail, kept apart from
 * main() so that tests/check_inject.c can drive it.
 *
 * Runs as the invoking user.  Input: the message on a file descriptor,
 * recipients from the command line and (with -t) from the header.
 * Output: the message with LF line ends and the header fields a mail
 * needs (Date, Message-ID, From) added when missing, plus the list of
 * canonical, qualified, de-duplicated envelope recipients.
 *
 * Functions return 0, or -1 with errno set and a one-line reason in
 * ij->err: EMSGSIZE (message too large), EINVAL (bad address), E2BIG
 * (too many recipients), the read(2) errno (input), ENOMEM.
 */
#ifndef KURIR_INJECT_H
#define KURIR_INJECT_H

#include <stddef.h>
#include <time.h>

#include "buf.h"

#define INJECT_MAX_RCPTS	10000	/* per message, whatever their source */
#define INJECT_FULLNAME_MAX	256	/* bytes of -F text we keep */
#define INJECT_ERR_MAX		512

struct inject_opts {
	int		 dot_ends;	/* no -i/-oi: a line "." ends the input */
	int		 extract;	/* -t: recipients from the header */
	size_t		 max_size;	/* message_size_limit; 0: none */
	const char	*hostname;	/* qualifies bare names; Message-ID */
	const char	*from_addr;	/* canonical address for an added From: */
	const char	*fullname;	/* -F, or NULL */
	time_t		 now;		/* 0: time(NULL) (tests pin it) */
	long		 pid;		/* 0: getpid() */
};

struct inject {
	struct buf	 msg;		/* as read, later as prepared */
	char		**rcpts;	/* "local@domain", unique */
	size_t		 nrcpts;
	char		 err[INJECT_ERR_MAX];
};

void	inject_init(struct inject *);
void	inject_free(struct inject *);

/*
 * Read the message from fd until EOF (or a "." line when dot_ends).
 * CRLF and LF both end a line and are stored as LF; a CR not followed
 * by LF is kept.  A last line without a line end gets one.  More than
 * max_size stored bytes (the added final LF not counted) fails with
 * EMSGSIZE.
 */
int	inject_read(struct inject *, int fd, const struct inject_opts *);

/*
 * Add recipients from one command-line argument.  An argument may be
 * an address list ("a, Bob <b@x>"), as sendmail allows; bare names are
 * qualified with the hostname.  -1 with EINVAL on any bad address.
 */
int	inject_add_rcpts(struct inject *, const char *arg,
	    const struct inject_opts *);

/*
 * Canonical envelope sender from a -f argument: "" for '' and '<>',
 * bare names qualified.  0, or -1 (EINVAL) with the reason in err.
 */
int	inject_sender(const char *arg, const char *hostname, char *out,
	    size_t outlen, char *err, size_t errlen);

/*
 * Finish the message: with extract, take recipients from To/Cc/Bcc (or
 * Resent-To/Cc/Bcc when any Resent- field exists) and remove Bcc and
 * Resent-Bcc; drop a leading mbox "From " line; add Date, Message-ID
 * and From when absent (names compared without regard to case).
 */
int	inject_prepare(struct inject *, const struct inject_opts *);

/* RFC 5322 date "Tue, 03 Jun 2025 14:05:09 +0200" in local time. */
int	inject_format_date(time_t, char *out, size_t outlen);

/* From: value for login@host and an optional full name, into out. */
int	inject_format_from(const char *addr, const char *fullname,
	    struct buf *out);

#endif
