/*
 * hops.c - Received and Delivered-To fields counted as a message streams
 * past (see hops.h).
 *
 * Runs inside kurir-smtpd (smtpd user, chrooted, sandboxed) and
 * kurir-queue (queue user) on untrusted text from the network and from
 * local users.  Every byte is looked at at most once, and a line's rest
 * is skipped with memchr; the state is a few bytes, so no input can
 * make it grow.  Counters saturate rather than wrap: a message with four
 * billion Received fields must not look like one with none.
 */
#include <limits.h>
#include <string.h>

#include "hops.h"

void
hops_init(struct hops *h)
{
	memset(h, 0, sizeof(*h));
	h->state = HOPS_LINE_START;
}

static void
hops_inc(unsigned *c)
{
	if (*c < UINT_MAX)
		(*c)++;
}

/* The colon after a name: count it if it is one of ours. */
static void
hops_field(struct hops *h)
{
	if (h->namelen == 8 && memcmp(h->name, "received", 8) == 0)
		hops_inc(&h->received);
	else if (h->namelen == 12 && memcmp(h->name, "delivered-to", 12) == 0)
		hops_inc(&h->delivered_to);
}

static int
hops_blank(char c)
{
	return c == ' ' || c == '\t';
}

void
hops_add(struct hops *h, const char *p, size_t n)
{
	const char *end = p + n, *lf;
	char c;

	while (p < end) {
		switch (h->state) {
		case HOPS_BODY:
			return;
		case HOPS_SKIP:
			if ((lf = memchr(p, '\n', (size_t)(end - p))) == NULL)
				return;
			p = lf + 1;
			h->state = HOPS_LINE_START;
			continue;
		default:
			break;
		}
		c = *p++;
		switch (h->state) {
		case HOPS_LINE_START:
			h->namelen = 0;
			if (c == '\n')
				h->state = HOPS_BODY;	/* the empty line */
			else if (c == '\r')
				h->state = HOPS_LINE_CR;
			else if (hops_blank(c) || c == ':')
				h->state = HOPS_SKIP;	/* continuation, or no name */
			else {
				h->state = HOPS_NAME;
				h->name[h->namelen++] = (char)(c >= 'A' &&
				    c <= 'Z' ? c - 'A' + 'a' : c);
			}
			break;
		case HOPS_LINE_CR:
			/* "\r\n" is an empty line too; a lone CR starts no name */
			h->state = c == '\n' ? HOPS_BODY : HOPS_SKIP;
			break;
		case HOPS_NAME:
			if (c == ':') {
				hops_field(h);
				h->state = HOPS_SKIP;
			} else if (c == '\n')
				h->state = HOPS_LINE_START;
			else if (hops_blank(c))
				h->state = HOPS_BLANKS;
			else if (h->namelen >= sizeof(h->name))
				h->state = HOPS_SKIP;	/* longer than ours */
			else
				h->name[h->namelen++] = (char)(c >= 'A' &&
				    c <= 'Z' ? c - 'A' + 'a' : c);
			break;
		case HOPS_BLANKS:
			if (c == ':') {
				hops_field(h);
				h->state = HOPS_SKIP;
			} else if (c == '\n')
				h->state = HOPS_LINE_START;
			else if (!hops_blank(c))
				h->state = HOPS_SKIP;	/* "Received x:" is no field */
			break;
		default:
			break;
		}
	}
}

unsigned
hops_count(const struct hops *h)
{
	if (h->received > UINT_MAX - h->delivered_to)
		return UINT_MAX;
	return h->received + h->delivered_to;
}

int
hops_header_done(const struct hops *h)
{
	return h->state == HOPS_BODY;
}
