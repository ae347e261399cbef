/*
 * dsn.c - compose RFC 3464 delivery status notifications (see dsn.h).
 *
 * Runs inside kurir-send as the queue user; no I/O but arc4random (the
 * MIME boundary, the Message-ID) and the time zone for dates.  Almost
 * every text that reaches the message came from a peer (addresses,
 * remote replies, the original header), so:
 *  - report field values lose CR, LF and other controls (made spaces)
 *    and are bounded (DSN_VALUE_MAX): no input can start a line of its
 *    own or pass the 998-byte line limit of RFC 5322;
 *  - the explanation part says us-ascii, so anything but printable ASCII
 *    in it becomes '?';
 *  - our host name and the queue id are cut down to [A-Za-z0-9._-], as
 *    they also go into the Message-ID and the boundary;
 *  - the original header is copied byte for byte, and the boundary is
 *    fresh randomness checked not to occur in any of the parts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "dsn.h"

#define DSN_VALUE_MAX	900	/* bytes of one report field value */
#define DSN_TEXT_MAX	300	/* bytes of one item in the explanation (3 a line) */
#define DSN_TOKEN_MAX	256	/* our host name, the queue id */
#define DSN_QID_BND	32	/* queue id bytes in the boundary: 8+24+1+32 <= 70 */
#define DSN_DATE_MAX	64
#define DSN_BND_MAX	80
#define DSN_BND_TRIES	8
#define DSN_CTE_8BIT	"Content-Transfer-Encoding: 8bit\n"

/* What every part needs, made safe once per call. */
struct dsn_ctx {
	char	host[DSN_TOKEN_MAX];
	char	qid[DSN_TOKEN_MAX];
	char	now[DSN_DATE_MAX];
	char	arrival[DSN_DATE_MAX];	/* "" when unknown */
	char	retry[DSN_DATE_MAX];	/* "" when none */
};

/* RFC 5322 date-time of t in local time (C locale: English names). */
static int
dsn_date(long long t, char *out, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (localtime_r(&tt, &tm) == NULL ||
	    strftime(out, len, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0) {
		errno = EOVERFLOW;
		return -1;
	}
	return 0;
}

/* Copy s keeping [A-Za-z0-9._-], anything else made '_'. */
static void
dsn_token(char *dst, size_t len, const char *s)
{
	unsigned char c;
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < len; i++) {
		c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')
			dst[i] = (char)c;
		else
			dst[i] = '_';
	}
	dst[i] = '\0';
	if (i == 0)
		strlcpy(dst, "unknown", len);
}

static void
dsn_hex(char *out, const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/*
 * Append at most max bytes of s.  ascii: the us-ascii part, where all
 * but printable ASCII becomes '?'.  Else a field value: controls become
 * spaces, bytes >= 0x80 stay (SMTPUTF8 addresses), and a cut backs off
 * so as not to split a UTF-8 sequence.
 */
static int
dsn_put(struct buf *b, const char *s, size_t max, int ascii)
{
	size_t n, i, k, start = b->len;
	unsigned char c;

	if ((n = strnlen(s, max + 1)) > max) {
		n = max;
		for (k = 0; k < 3 && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80; k++)
			n--;
	}
	if (buf_add(b, s, n) == -1)
		return -1;
	for (i = start; i < b->len; i++) {
		c = (unsigned char)b->data[i];
		if (ascii && (c < 0x20 || c > 0x7e))
			b->data[i] = '?';
		else if (!ascii && (c < 0x20 || c == 0x7f))
			b->data[i] = ' ';
	}
	return 0;
}

/* One report field: "Name: type; value\n" (prefix holds up to "; "). */
static int
dsn_field(struct buf *b, const char *prefix, const char *v)
{
	if (buf_addstr(b, prefix) == -1 ||
	    dsn_put(b, v, DSN_VALUE_MAX, 0) == -1 || buf_addch(b, '\n') == -1)
		return -1;
	return 0;
}

static int
dsn_8bit(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return 1;
	return 0;
}

int
dsn_status(const char *text, char *code, size_t codelen)
{
	const char *p = text, *q;
	size_t n;
	int i;

	if (text == NULL)
		return -1;
	/* an SMTP reply code first: three digits, then SP or '-' */
	if (p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9' &&
	    p[2] >= '0' && p[2] <= '9' && (p[3] == ' ' || p[3] == '-'))
		p += 4;
	if (*p != '2' && *p != '4' && *p != '5')
		return -1;
	q = p + 1;
	for (i = 0; i < 2; i++) {	/* ".subject" then ".detail" */
		if (*q++ != '.')
			return -1;
		for (n = 0; *q >= '0' && *q <= '9'; n++)
			q++;
		if (n < 1 || n > 3)
			return -1;
	}
	/* "5.1.1x" is no code: it must end at a blank or the end */
	if (*q != '\0' && *q != ' ' && *q != '\t' && *q != '\r' && *q != '\n')
		return -1;
	if ((n = (size_t)(q - p)) >= codelen)
		return -1;
	memcpy(code, p, n);
	code[n] = '\0';
	return 0;
}

/*
 * The Status of a recipient: its own status, else the code in its diag,
 * else a default.  A code of the wrong class for the report is ignored:
 * "delayed" takes only 4.x.x; "failed" takes 5.x.x and 4.x.x (a message
 * that timed out in the queue fails with 4.4.7, as Postfix reports it).
 */
static void
dsn_rcpt_status(const struct dsn *d, const struct dsn_rcpt *r, char *code,
    size_t len)
{
	const char *src[2] = { r->status, r->diag };
	int i;

	for (i = 0; i < 2; i++)
		if (dsn_status(src[i], code, len) == 0 && (code[0] == '4' ||
		    (code[0] == '5' && d->kind != DSN_DELAYED)))
			return;
	strlcpy(code, d->kind == DSN_DELAYED ? "4.0.0" : "5.0.0", len);
}

size_t
dsn_header_len(const char *p, size_t len, size_t max)
{
	const char *lf;
	size_t pos = 0, end;

	while (pos < len) {
		lf = memchr(p + pos, '\n', len - pos);
		end = lf ? (size_t)(lf - p) + 1 : len;
		if (end > max)
			break;		/* keep only whole lines */
		/* the empty line (a CR before the LF tolerated) ends it */
		if (lf != NULL && (end - pos == 1 ||
		    (end - pos == 2 && p[pos] == '\r')))
			return end;
		pos = end;
	}
	return pos;
}

/* Part 1: the human explanation, us-ascii. */
static int
dsn_text(struct buf *b, const struct dsn *d, const struct dsn_ctx *c)
{
	const struct dsn_rcpt *r;
	const char *what = d->kind == DSN_NOTICE ?
	    "A delivery status notification" : "Your message";
	size_t i;
	int rc;

	if (buf_printf(b, "This is the mail system at host %s.\n\n"
	    "%s (queue id %s%s%s)\n", c->host, what, c->qid,
	    c->arrival[0] ? ", received " : "", c->arrival) == -1)
		return -1;
	if (d->kind == DSN_FAILED)
		rc = buf_addstr(b, "could not be delivered to one or more "
		    "recipients.\nThis is a permanent error.\n");
	else if (d->kind == DSN_DELAYED)
		rc = buf_printf(b, "has not yet been delivered to the "
		    "recipients below.\nThe mail system will keep trying%s%s;\n"
		    "you do not need to send it again.\n",
		    c->retry[0] ? " until " : "", c->retry);
	else
		rc = buf_addstr(b, "could not be delivered to its recipient "
		    "below.\nIt has a null sender, so it is not returned; "
		    "its header is attached.\n");
	if (rc == -1 || buf_addch(b, '\n') == -1)
		return -1;
	for (i = 0; i < d->nrcpts; i++) {
		r = &d->rcpts[i];
		if (buf_addch(b, '<') == -1 ||
		    dsn_put(b, r->final, DSN_TEXT_MAX, 1) == -1 ||
		    buf_addch(b, '>') == -1)
			return -1;
		if (r->original != NULL && strcmp(r->original, r->final) != 0 &&
		    (buf_addstr(b, " (expanded from <") == -1 ||
		    dsn_put(b, r->original, DSN_TEXT_MAX, 1) == -1 ||
		    buf_addstr(b, ">)") == -1))
			return -1;
		if (buf_addstr(b, ": ") == -1 || dsn_put(b, r->diag ? r->diag :
		    "(no details)", DSN_TEXT_MAX, 1) == -1 ||
		    buf_addch(b, '\n') == -1)
			return -1;
	}
	return 0;
}

/* Part 2: message/delivery-status, RFC 3464 section 2. */
static int
dsn_report(struct buf *b, const struct dsn *d, const struct dsn_ctx *c)
{
	const struct dsn_rcpt *r;
	char code[16], date[DSN_DATE_MAX];
	size_t i;

	if (buf_printf(b, "Reporting-MTA: dns; %s\nX-Kurir-Queue-ID: %s\n",
	    c->host, c->qid) == -1 || (c->arrival[0] &&
	    buf_printf(b, "Arrival-Date: %s\n", c->arrival) == -1))
		return -1;
	for (i = 0; i < d->nrcpts; i++) {
		r = &d->rcpts[i];
		dsn_rcpt_status(d, r, code, sizeof(code));
		if (buf_addch(b, '\n') == -1)
			return -1;
		if (r->original != NULL && strcmp(r->original, r->final) != 0 &&
		    dsn_field(b, "Original-Recipient: rfc822; ", r->original) == -1)
			return -1;
		if (dsn_field(b, "Final-Recipient: rfc822; ", r->final) == -1 ||
		    buf_printf(b, "Action: %s\nStatus: %s\n", d->kind ==
		    DSN_DELAYED ? "delayed" : "failed", code) == -1)
			return -1;
		if (r->remote_mta != NULL &&
		    dsn_field(b, "Remote-MTA: dns; ", r->remote_mta) == -1)
			return -1;
		if (r->diag != NULL && dsn_field(b, r->remote_mta != NULL ?
		    "Diagnostic-Code: smtp; " : "Diagnostic-Code: x-kurir; ",
		    r->diag) == -1)
			return -1;
		if (r->last_attempt != 0 && (dsn_date(r->last_attempt, date,
		    sizeof(date)) == -1 ||
		    buf_printf(b, "Last-Attempt-Date: %s\n", date) == -1))
			return -1;
		if (c->retry[0] &&
		    buf_printf(b, "Will-Retry-Until: %s\n", c->retry) == -1)
			return -1;
	}
	return 0;
}

static int
dsn_contains(const char *p, size_t n, const char *s)
{
	return n > 0 && memmem(p, n, s, strlen(s)) != NULL;
}

/*
 * A boundary found in none of the parts.  "=_" cannot occur in quoted-
 * printable text, and 96 random bits make a match in the original
 * header (chosen by a stranger) a matter of luck that we still check.
 */
static int
dsn_boundary(char *bnd, size_t len, const char *qid, const struct buf *text,
    const struct buf *report, const char *hdr, size_t hlen)
{
	unsigned char rnd[12];
	char hex[2 * sizeof(rnd) + 1];
	int i, n;

	for (i = 0; i < DSN_BND_TRIES; i++) {
		arc4random_buf(rnd, sizeof(rnd));
		dsn_hex(hex, rnd, sizeof(rnd));
		n = snprintf(bnd, len, "=_kurir_%s.%.*s", hex, DSN_QID_BND, qid);
		if (n < 0 || (size_t)n >= len) {
			errno = EOVERFLOW;
			return -1;
		}
		if (!dsn_contains(text->data, text->len, bnd) &&
		    !dsn_contains(report->data, report->len, bnd) &&
		    !dsn_contains(hdr, hlen, bnd))
			return 0;
	}
	errno = EAGAIN;
	return -1;
}

int
dsn_format(struct buf *out, const struct dsn *d)
{
	struct dsn_ctx c;
	struct buf text, report;
	char bnd[DSN_BND_MAX], mid[17];
	unsigned char rnd[8];
	const char *hdr = d->orig_hdr;
	size_t i, hlen = 0, start = out->len;
	int hdr8, rep8, rc = -1, saved;

	for (i = 0; d->rcpts != NULL && i < d->nrcpts; i++)
		if (d->rcpts[i].final == NULL)
			break;
	if (d->nrcpts == 0 || d->rcpts == NULL || i < d->nrcpts ||
	    d->hostname == NULL || d->qid == NULL || d->sender == NULL) {
		errno = EINVAL;
		return -1;
	}
	memset(&c, 0, sizeof(c));
	dsn_token(c.host, sizeof(c.host), d->hostname);
	dsn_token(c.qid, sizeof(c.qid), d->qid);
	if (dsn_date(d->now, c.now, sizeof(c.now)) == -1 ||
	    (d->arrival != 0 &&
	    dsn_date(d->arrival, c.arrival, sizeof(c.arrival)) == -1) ||
	    (d->kind == DSN_DELAYED && d->retry_until != 0 &&
	    dsn_date(d->retry_until, c.retry, sizeof(c.retry)) == -1))
		return -1;

	/* the parts first, so that the boundary can be checked against them */
	buf_init(&text, 0);
	buf_init(&report, 0);
	if (dsn_text(&text, d, &c) == -1 || dsn_report(&report, d, &c) == -1)
		goto done;
	if (hdr != NULL)
		hlen = dsn_header_len(hdr, d->orig_hdr_len, DSN_HDR_MAX);
	hdr8 = dsn_8bit(hdr, hlen);
	rep8 = dsn_8bit(report.data, report.len);
	if (dsn_boundary(bnd, sizeof(bnd), c.qid, &text, &report, hdr,
	    hlen) == -1)
		goto done;
	arc4random_buf(rnd, sizeof(rnd));
	dsn_hex(mid, rnd, sizeof(rnd));

	/* a multipart holding an 8bit part must say 8bit too (RFC 2045 6.4) */
	if (buf_printf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>\n"
	    "To: <", c.host) == -1 ||
	    dsn_put(out, d->sender, DSN_VALUE_MAX, 0) == -1 ||
	    buf_printf(out, ">\nSubject: %s\nDate: %s\n"
	    "Message-ID: <%s.%s@%s>\nAuto-Submitted: auto-replied\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\n"
	    "\tboundary=\"%s\"\n%s\n"
	    "This is a MIME-encapsulated message.\n\n",
	    d->kind == DSN_DELAYED ? "Delayed Mail (still being retried)" :
	    d->kind == DSN_NOTICE ? "Undeliverable bounce (postmaster notice)" :
	    "Undelivered Mail Returned to Sender", c.now, c.qid, mid, c.host, bnd,
	    hdr8 || rep8 ? DSN_CTE_8BIT : "") == -1)
		goto done;
	/* each part's content ends in LF, then the delimiter's own LF */
	if (buf_printf(out, "--%s\nContent-Description: Notification\n"
	    "Content-Type: text/plain; charset=us-ascii\n\n", bnd) == -1 ||
	    buf_add(out, text.data, text.len) == -1 ||
	    buf_printf(out, "\n--%s\nContent-Description: Delivery report\n"
	    "Content-Type: message/delivery-status\n%s\n", bnd,
	    rep8 ? DSN_CTE_8BIT : "") == -1 ||
	    buf_add(out, report.data, report.len) == -1)
		goto done;
	/* no original header: no third part (RFC 6522 allows that) */
	if (hlen > 0 && (buf_printf(out, "\n--%s\n"
	    "Content-Description: Undelivered message header\n"
	    "Content-Type: text/rfc822-headers\n%s\n", bnd,
	    hdr8 ? DSN_CTE_8BIT : "") == -1 ||
	    buf_add(out, hdr, hlen) == -1 ||
	    (hdr[hlen - 1] != '\n' && buf_addch(out, '\n') == -1)))
		goto done;
	if (buf_printf(out, "\n--%s--\n", bnd) == -1)
		goto done;
	rc = 0;
done:
	saved = errno;
	if (rc == -1)
		out->len = start;	/* nothing half-written */
	buf_free(&text);
	buf_free(&report);
	errno = saved;
	return rc;
}
