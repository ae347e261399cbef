/*
 * hops.h - counting a message's hops (Received and Delivered-To fields)
 * while it streams past, for max_hop_count (SPEC 9: loops end).
 *
 * Runs inside the calling program (kurir-smtpd as the smtpd user,
 * kurir-queue as the queue user).  Input: the message text in pieces of
 * any size, split anywhere (LF line ends; a CR before the LF is
 * tolerated).  Nothing is buffered: a field name is matched a byte at a
 * time, so a field of any length, cut across any number of reads, is
 * counted once.  Only names at the start of a header line count
 * ("Received" or "Delivered-To", any case, blanks allowed before the
 * colon); continuation lines and everything from the first empty line on
 * (the body, where a bounce quotes the original header) are skipped.
 */
#ifndef KURIR_HOPS_H
#define KURIR_HOPS_H

#include <stddef.h>

enum hops_state {
	HOPS_LINE_START,	/* at the first byte of a header line */
	HOPS_LINE_CR,		/* a CR first: an empty line if LF follows */
	HOPS_NAME,		/* inside what may be a field name */
	HOPS_BLANKS,		/* after the name, before the colon */
	HOPS_SKIP,		/* to the end of this line */
	HOPS_BODY,		/* the header is over: nothing more counts */
};

struct hops {
	enum hops_state	 state;
	char		 name[16];	/* the name so far (lower case) */
	size_t		 namelen;	/* > sizeof(name): too long to match */
	unsigned	 received;	/* Received fields (saturating) */
	unsigned	 delivered_to;	/* Delivered-To fields (saturating) */
};

void	hops_init(struct hops *);
/* Feed the next piece of the message (any length, n may be 0). */
void	hops_add(struct hops *, const char *p, size_t n);
/* Received + Delivered-To so far (saturating at UINT_MAX). */
unsigned hops_count(const struct hops *);
/* 1 once the header has ended (the empty line was seen), else 0. */
int	hops_header_done(const struct hops *);

#endif
