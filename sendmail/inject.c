/*
 * inject.c - read and prepare a locally injected message (see inject.h).
 *
 * Runs inside kurir-sendmail as the invoking user: any local user can
 * feed it anything, so every input is bounded (message_size_limit,
 * INJECT_MAX_RCPTS, INJECT_FULLNAME_MAX) and nothing from the user can
 * add a line to the header (the -F name loses its control characters).
 * Input: the message on a file descriptor; recipients and options from
 * main.c.  Output: ij->msg (LF line ends, complete header) and
 * ij->rcpts.  No main() here: tests/check_inject.c includes this file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "hdr.h"
#include "inject.h"

void
inject_init(struct inject *ij)
{
	memset(ij, 0, sizeof(*ij));
	buf_init(&ij->msg, 0);
}

void
inject_free(struct inject *ij)
{
	size_t i;

	for (i = 0; i < ij->nrcpts; i++)
		free(ij->rcpts[i]);
	free(ij->rcpts);
	ij->rcpts = NULL;
	ij->nrcpts = 0;
	buf_free(&ij->msg);
}

static int
inject_fail(struct inject *ij, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
inject_fail(struct inject *ij, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ij->err, sizeof(ij->err), fmt, ap);
	va_end(ap);
	errno = errnum;
	return -1;
}

/* ---- reading ---------------------------------------------------------- */

struct inject_reader {
	struct inject	*ij;
	size_t		 max;		/* stored bytes allowed */
	size_t		 line;		/* where the current line starts */
	int		 dot_ends;
};

/*
 * Store one byte.  The cap is checked here, byte by byte, so memory never
 * grows past it; the one exception is a "." that may still turn out to
 * be the end-of-input line and then is never stored.
 */
static int
inject_put(struct inject_reader *r, char c)
{
	struct buf *b = &r->ij->msg;
	int maybe_dot = r->dot_ends && c == '.' && b->len == r->line;

	if (b->len >= r->max && !maybe_dot)
		return inject_fail(r->ij, EMSGSIZE,
		    "message too large (limit %zu bytes)", r->max);
	if (buf_addch(b, c) == -1)
		return inject_fail(r->ij, errno, "cannot store the message: %s",
		    strerror(errno));
	return 0;
}

/* 1 if the current line is a lone "." and ends the input */
static int
inject_is_dot_line(const struct inject_reader *r)
{
	const struct buf *b = &r->ij->msg;

	return r->dot_ends && b->len == r->line + 1 && b->data[r->line] == '.';
}

int
inject_read(struct inject *ij, int fd, const struct inject_opts *o)
{
	struct inject_reader r;
	char in[65536];
	ssize_t n, i;
	int cr = 0, done = 0;

	r.ij = ij;
	r.max = o->max_size ? o->max_size : SIZE_MAX / 4;
	r.line = 0;
	r.dot_ends = o->dot_ends;
	buf_reset(&ij->msg);
	if (r.max > SIZE_MAX / 4)
		r.max = SIZE_MAX / 4;
	ij->msg.max = r.max + 2;	/* the pending "." and the final LF */
	while (!done) {
		if ((n = read(fd, in, sizeof(in))) == -1) {
			if (errno == EINTR)
				continue;
			return inject_fail(ij, errno, "cannot read the message: %s",
			    strerror(errno));
		}
		if (n == 0)
			break;
		for (i = 0; i < n && !done; i++) {
			if (cr) {
				cr = 0;
				/* a CR alone is data, CRLF is a line end */
				if (in[i] != '\n' && inject_put(&r, '\r') == -1)
					return -1;
			}
			if (in[i] == '\r') {
				cr = 1;
			} else if (in[i] == '\n') {
				if (inject_is_dot_line(&r)) {
					ij->msg.len = r.line;
					done = 1;
				} else if (inject_put(&r, '\n') == -1)
					return -1;
				r.line = ij->msg.len;
			} else if (inject_put(&r, in[i]) == -1)
				return -1;
		}
	}
	if (done)
		return 0;
	if (cr && inject_put(&r, '\r') == -1)
		return -1;
	if (inject_is_dot_line(&r))
		ij->msg.len = r.line;
	else if (ij->msg.len > r.line && buf_addch(&ij->msg, '\n') == -1)
		return inject_fail(ij, errno, "cannot store the message: %s",
		    strerror(errno));
	return 0;
}

/* ---- recipients ------------------------------------------------------- */

/* A printable, bounded copy of untrusted text for an error message. */
static void
inject_quote_raw(const char *raw, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 4 < outlen; i++) {
		unsigned char c = (unsigned char)raw[i];

		out[o++] = (c < 32 || c == 127) ? '?' : (char)c;
	}
	if (i < len && o + 4 <= outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* Qualify a bare name with the hostname and format it. */
static int
inject_qualify(struct addr *a, const char *hostname, char *out, size_t outlen)
{
	size_t i;

	if (!a->null && a->domain[0] == '\0') {
		if (strlcpy(a->domain, hostname, sizeof(a->domain)) >=
		    sizeof(a->domain))
			return -1;
		/* domains are stored in lower case (addr.h) */
		for (i = 0; a->domain[i] != '\0'; i++)
			if (a->domain[i] >= 'A' && a->domain[i] <= 'Z')
				a->domain[i] += 'a' - 'A';
	}
	return addr_format(a, out, outlen);
}

static int
inject_add_one(struct inject *ij, const char *text)
{
	char **v;
	size_t i;

	/* addr.h: domains are lower case, local parts match in any case */
	for (i = 0; i < ij->nrcpts; i++)
		if (strcasecmp(ij->rcpts[i], text) == 0)
			return 0;
	if (ij->nrcpts >= INJECT_MAX_RCPTS)
		return inject_fail(ij, E2BIG, "too many recipients (limit %d)",
		    INJECT_MAX_RCPTS);
	v = reallocarray(ij->rcpts, ij->nrcpts + 1, sizeof(*v));
	if (v == NULL)
		return inject_fail(ij, ENOMEM, "out of memory");
	ij->rcpts = v;
	if ((v[ij->nrcpts] = strdup(text)) == NULL)
		return inject_fail(ij, ENOMEM, "out of memory");
	ij->nrcpts++;
	return 0;
}

struct inject_rcpt_ctx {
	struct inject		*ij;
	const char		*hostname;
	const char		*where;	/* "in the To: field", ... */
};

static int
inject_rcpt_cb(const struct hdr_mailbox *mb, void *arg)
{
	struct inject_rcpt_ctx *ctx = arg;
	struct addr a = mb->addr;
	char raw[128], text[ADDR_TEXT_MAX];

	inject_quote_raw(mb->raw, mb->rawlen, raw, sizeof(raw));
	if (mb->why != NULL)
		return inject_fail(ctx->ij, EINVAL,
		    "bad recipient address \"%s\" %s: %s", raw, ctx->where,
		    mb->why);
	if (inject_qualify(&a, ctx->hostname, text, sizeof(text)) == -1)
		return inject_fail(ctx->ij, EINVAL,
		    "bad recipient address \"%s\" %s: too long", raw,
		    ctx->where);
	return inject_add_one(ctx->ij, text);
}

int
inject_add_rcpts(struct inject *ij, const char *arg,
    const struct inject_opts *o)
{
	struct inject_rcpt_ctx ctx = { ij, o->hostname, "on the command line" };

	return hdr_addr_extract(arg, strlen(arg), ADDR_ALLOW_NODOMAIN,
	    inject_rcpt_cb, &ctx) == -1 ? -1 : 0;
}

struct inject_sender_ctx {
	struct addr	 a;
	const char	*why;
	int		 n;
};

static int
inject_sender_cb(const struct hdr_mailbox *mb, void *arg)
{
	struct inject_sender_ctx *ctx = arg;

	if (++ctx->n == 1) {
		ctx->a = mb->addr;
		ctx->why = mb->why;
	}
	return 0;
}

int
inject_sender(const char *arg, const char *hostname, char *out, size_t outlen,
    char *err, size_t errlen)
{
	struct inject_sender_ctx ctx;
	char raw[128];

	memset(&ctx, 0, sizeof(ctx));
	inject_quote_raw(arg, strlen(arg), raw, sizeof(raw));
	/* the address-list parser also takes "Name <a@b>" and "<>" */
	if (hdr_addr_extract(arg, strlen(arg), ADDR_ALLOW_NODOMAIN |
	    ADDR_ALLOW_NULL, inject_sender_cb, &ctx) == -1 || ctx.n > 1)
		ctx.why = "more than one address";
	if (ctx.why != NULL) {
		snprintf(err, errlen, "bad sender address \"%s\": %s", raw,
		    ctx.why);
		errno = EINVAL;
		return -1;
	}
	if (ctx.n == 0)		/* -f '' */
		ctx.a.null = 1;
	if (inject_qualify(&ctx.a, hostname, out, outlen) == -1) {
		snprintf(err, errlen, "bad sender address \"%s\": too long", raw);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* ---- added header fields ---------------------------------------------- */

int
inject_format_date(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	/* the C locale (we never call setlocale) gives English names */
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(out, outlen, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0) {
		errno = EOVERFLOW;
		return -1;
	}
	return 0;
}

/* Length of a valid UTF-8 sequence at p (at most n bytes), 0 if none. */
static size_t
inject_utf8_len(const unsigned char *p, size_t n)
{
	size_t len, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/*
 * Clean a -F name: control characters become blanks (no header
 * injection), invalid UTF-8 becomes '?', blanks are squeezed and
 * trimmed, and at most INJECT_FULLNAME_MAX bytes are kept.  Returns 1 if
 * the result holds non-ASCII text.
 */
static int
inject_clean_name(const char *in, char *out, size_t outlen)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t n = strlen(in), i = 0, o = 0, k;
	int eight = 0;

	while (i < n) {
		k = inject_utf8_len(p + i, n - i);
		if (k == 0 || p[i] < 32 || p[i] == 127) {
			char c = k == 0 ? '?' : ' ';

			k = k == 0 ? 1 : k;
			if (c == ' ' && (o == 0 || out[o - 1] == ' ')) {
				i += k;
				continue;
			}
			if (o + 1 >= outlen)
				break;
			out[o++] = c;
		} else {
			if (p[i] == ' ' && (o == 0 || out[o - 1] == ' ')) {
				i++;
				continue;
			}
			if (o + k >= outlen)
				break;
			memcpy(out + o, p + i, k);
			o += k;
			eight |= k > 1;
		}
		i += k;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	return eight;
}

static int
inject_base64(struct buf *out, const unsigned char *p, size_t n)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];
	size_t i;
	uint32_t v;

	for (i = 0; i < n; i += 3) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = b64[(v >> 18) & 63];
		q[1] = b64[(v >> 12) & 63];
		q[2] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? b64[v & 63] : '=';
		if (buf_add(out, q, 4) == -1)
			return -1;
	}
	return 0;
}

/*
 * Non-ASCII names go out as RFC 2047 encoded words of whole characters,
 * 45 bytes (60 base64 characters, 72 in all: under the 75 limit) each,
 * folded onto their own lines.
 */
static int
inject_encode_name(struct buf *out, const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t n = strlen(name), i = 0, k, chunk;

	while (i < n) {
		chunk = 0;
		while (i + chunk < n) {
			k = inject_utf8_len(p + i + chunk, n - i - chunk);
			if (k == 0 || chunk + k > 45)
				break;
			chunk += k;
		}
		if (chunk == 0)		/* cannot happen after cleaning */
			chunk = 1;
		if (buf_addstr(out, i == 0 ? "=?UTF-8?B?" : "\n =?UTF-8?B?")
		    == -1 || inject_base64(out, p + i, chunk) == -1 ||
		    buf_addstr(out, "?=") == -1)
			return -1;
		i += chunk;
	}
	return 0;
}

int
inject_format_from(const char *addr, const char *fullname, struct buf *out)
{
	char name[INJECT_FULLNAME_MAX + 1];
	size_t i;
	int eight;

	if (fullname == NULL)
		return buf_addstr(out, addr);
	eight = inject_clean_name(fullname, name, sizeof(name));
	if (name[0] == '\0')
		return buf_addstr(out, addr);
	if (eight) {
		if (inject_encode_name(out, name) == -1)
			return -1;
	} else {
		/* always a quoted-string: "." or "," in a name is common */
		if (buf_addch(out, '"') == -1)
			return -1;
		for (i = 0; name[i] != '\0'; i++)
			if (((name[i] == '"' || name[i] == '\\') &&
			    buf_addch(out, '\\') == -1) ||
			    buf_addch(out, name[i]) == -1)
				return -1;
		if (buf_addch(out, '"') == -1)
			return -1;
	}
	return buf_printf(out, " <%s>", addr);
}

static int
inject_add_fields(struct buf *out, const struct inject_opts *o, int has_date,
    int has_msgid, int has_from)
{
	char date[64], stamp[32];
	time_t now = o->now ? o->now : time(NULL);
	struct tm tm;

	if (!has_from && (buf_addstr(out, "From: ") == -1 ||
	    inject_format_from(o->from_addr, o->fullname, out) == -1 ||
	    buf_addch(out, '\n') == -1))
		return -1;
	if (!has_date && (inject_format_date(now, date, sizeof(date)) == -1 ||
	    buf_printf(out, "Date: %s\n", date) == -1))
		return -1;
	if (!has_msgid) {
		/* time, pid and 64 random bits: unique without any state */
		if (gmtime_r(&now, &tm) == NULL ||
		    strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm) == 0) {
			errno = EOVERFLOW;
			return -1;
		}
		if (buf_printf(out, "Message-ID: <%s.%ld.%08x%08x@%s>\n", stamp,
		    o->pid ? o->pid : (long)getpid(), arc4random(), arc4random(),
		    o->hostname) == -1)
			return -1;
	}
	return 0;
}

/* ---- the whole message ------------------------------------------------ */

/* Is this one of the fields -t takes recipients from? */
static int
inject_is_rcpt_field(const struct hdr_field *f, int resent)
{
	if (resent)
		return hdr_name_is(f, "Resent-To") ||
		    hdr_name_is(f, "Resent-Cc") || hdr_name_is(f, "Resent-Bcc");
	return hdr_name_is(f, "To") || hdr_name_is(f, "Cc") ||
	    hdr_name_is(f, "Bcc");
}

int
inject_prepare(struct inject *ij, const struct inject_opts *o)
{
	struct inject_rcpt_ctx ctx = { ij, o->hostname, NULL };
	struct hdr_iter it;
	struct hdr_field f;
	struct buf out;
	const char *m = ij->msg.data ? ij->msg.data : "";
	size_t len = ij->msg.len, start = 0;
	int has_date = 0, has_msgid = 0, has_from = 0, resent = 0;
	char where[80];
	const char *lf;

	/* an mbox "From " line is not a header field (Postfix drops it too) */
	if (len >= 5 && memcmp(m, "From ", 5) == 0) {
		lf = memchr(m, '\n', len);
		start = lf ? (size_t)(lf - m) + 1 : len;
	}
	hdr_iter_init(&it, m + start, len - start);
	while (hdr_iter_next(&it, &f)) {
		has_date |= hdr_name_is(&f, "Date");
		has_msgid |= hdr_name_is(&f, "Message-ID");
		has_from |= hdr_name_is(&f, "From");
		resent |= f.namelen > 7 && hdr_name_eq(f.name, 7, "Resent-");
	}
	if (o->extract) {
		hdr_iter_init(&it, m + start, len - start);
		while (hdr_iter_next(&it, &f)) {
			if (!inject_is_rcpt_field(&f, resent))
				continue;
			snprintf(where, sizeof(where), "in the %.*s: field",
			    (int)(f.namelen > 40 ? 40 : f.namelen), f.name);
			ctx.where = where;
			if (hdr_addr_extract(f.value, f.valuelen,
			    ADDR_ALLOW_NODOMAIN, inject_rcpt_cb, &ctx) == -1)
				return -1;
		}
	}

	/* the prepared copy is a little larger than the input: no cap */
	buf_init(&out, 0);
	hdr_iter_init(&it, m + start, len - start);
	while (hdr_iter_next(&it, &f)) {
		/* Bcc must not reach the recipients it hides them from */
		if (o->extract && (hdr_name_is(&f, "Bcc") ||
		    hdr_name_is(&f, "Resent-Bcc")))
			continue;
		if (buf_add(&out, m + start + f.off, f.len) == -1 ||
		    (m[start + f.off + f.len - 1] != '\n' &&
		    buf_addch(&out, '\n') == -1))
			goto fail;
	}
	if (inject_add_fields(&out, o, has_date, has_msgid, has_from) == -1 ||
	    buf_addch(&out, '\n') == -1 ||
	    buf_add(&out, m + start + it.body_off, len - start - it.body_off)
	    == -1)
		goto fail;
	buf_free(&ij->msg);
	ij->msg = out;
	return 0;
fail:
	buf_free(&out);
	return inject_fail(ij, errno, "cannot prepare the message: %s",
	    strerror(errno));
}
