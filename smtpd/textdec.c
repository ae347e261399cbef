/*
 * textdec.c - DATA/BDAT text decoder (textdec.h).  Runs inside
 * kurir-smtpd (smtpd user, chrooted, sandboxed) on untrusted bytes.
 *
 * Only <CRLF>.<CRLF> ends DATA.  A bare CR or a bare LF anywhere never
 * ends a line, so "<LF>.<LF>", "<CR>.<CR>" and "<LF>.<CRLF>" are just
 * text - and they make the whole message refused at its real end, so no
 * second message can be smuggled inside one (and no other server that
 * reads our output can be fooled either).  A stuffed dot at the start of
 * a line is removed, exactly one (RFC 5321 4.5.2).
 *
 * Line length: by default (line_max 0) a line may be as long as the
 * message, as Postfix and the hosts people use accept (RFC 5321
 * 4.5.3.1 asks for no limits that can be avoided); text is passed on in
 * runs, so no line is ever held whole.  With smtp_line_length_limit set,
 * a longer line makes the message refused (550 5.6.0).
 */
#include <stdint.h>

#include "textdec.h"

void
textdec_init(struct textdec *d, size_t line_max)
{
	/* SIZE_MAX - 1 is as good as no limit and keeps line_max + 1 safe */
	d->line_max = line_max < SIZE_MAX ? line_max : SIZE_MAX - 1;
	d->line_start = 1;
	d->line_len = 0;
	d->cr_pending = 0;
	d->error = ME_NONE;
}

void
textdec_flag(struct textdec *d, enum msg_error e)
{
	if (d->error == ME_NONE)
		d->error = e;
}

static void
emit(struct textdec *d, textdec_emit fn, void *arg, const char *p, size_t n)
{
	if (d->error == ME_NONE && n > 0)
		fn(arg, p, n);
}

static void
line_grow(struct textdec *d, size_t k)
{
	if (d->line_max == 0)
		return;		/* no limit: nothing to count */
	/* saturate: the count only has to tell "over the limit" */
	d->line_len = k > SIZE_MAX - d->line_len ? SIZE_MAX : d->line_len + k;
	if (d->line_len > d->line_max)
		textdec_flag(d, ME_LONG_LINE);
}

/*
 * Ordinary text of the current line: emitted only up to the octet that
 * crosses the limit, so how the input was split into reads never changes
 * what reaches the caller.  Without a limit, all of it.
 */
static void
text_run(struct textdec *d, textdec_emit fn, void *arg, const char *p,
    size_t k)
{
	size_t room = k;

	/* line_max < SIZE_MAX (textdec_init), so line_max + 1 is safe */
	if (d->line_max != 0)
		room = d->line_len <= d->line_max ?
		    d->line_max + 1 - d->line_len : 0;
	emit(d, fn, arg, p, k < room ? k : room);
	line_grow(d, k);
}

/* how many bytes from p are ordinary text (not CR, LF or NUL) */
static size_t
text_span(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
			break;
	return i;
}

size_t
textdec_data(struct textdec *d, const char *p, size_t n, textdec_emit fn,
    void *arg, int *done)
{
	size_t i = 0, k;

	*done = 0;
	while (i < n) {
		if (d->line_start) {
			if (p[i] == '.') {
				if (n - i < 2 || (p[i + 1] == '\r' && n - i < 3))
					break;	/* cannot tell yet */
				if (p[i + 1] == '\r' && p[i + 2] == '\n') {
					*done = 1;
					return i + 3;
				}
				/* a stuffed dot: drop it; it does not count
				 * toward the line limit (RFC 5321 4.5.3.1.6) */
				i++;
			}
			d->line_start = 0;
		}
		k = text_span(p + i, n - i);
		text_run(d, fn, arg, p + i, k);
		i += k;
		if (i == n)
			break;
		if (p[i] == '\r') {
			if (i + 1 == n)
				break;		/* CR LF split across reads */
			if (p[i + 1] == '\n') {
				emit(d, fn, arg, "\n", 1);
				i += 2;
				d->line_start = 1;
				d->line_len = 0;
				continue;
			}
			textdec_flag(d, ME_BARE_EOL);	/* bare CR */
		} else if (p[i] == '\n')
			textdec_flag(d, ME_BARE_EOL);	/* bare LF: never a line end */
		else
			textdec_flag(d, ME_NUL);
		i++;
		line_grow(d, 1);
	}
	return i;
}

void
textdec_bdat(struct textdec *d, const char *p, size_t n, textdec_emit fn,
    void *arg)
{
	size_t i = 0, k;

	while (i < n) {
		if (d->cr_pending) {
			d->cr_pending = 0;
			if (p[i] == '\n') {
				emit(d, fn, arg, "\n", 1);
				d->line_len = 0;
				i++;
				continue;
			}
			textdec_flag(d, ME_BARE_EOL);
		}
		k = text_span(p + i, n - i);
		text_run(d, fn, arg, p + i, k);
		i += k;
		if (i == n)
			break;
		if (p[i] == '\r')
			d->cr_pending = 1;	/* decided by the next byte */
		else
			textdec_flag(d, p[i] == '\n' ? ME_BARE_EOL : ME_NUL);
		i++;
	}
}

void
textdec_bdat_end(struct textdec *d)
{
	if (d->cr_pending)
		textdec_flag(d, ME_BARE_EOL);
	d->cr_pending = 0;
}
