/*
 * fuzz_textdec.c - libFuzzer target for smtpd/textdec.c, the DATA/BDAT
 * decoder of kurir-smtpd (smtpd user).
 *
 * Input: one mode byte, eight bytes that choose the sizes of the reads,
 * then the message bytes.  Mode bit 0 picks DATA or BDAT; in BDAT mode
 * bit 1 says whether BDAT LAST follows; bits 2-3 pick the line limit
 * (smtp_line_length_limit): none (the default), 998, and small ones
 * (8, 64; the decoder takes any, the config refuses them) so that short
 * inputs reach the limit too.  The text is decoded at once and
 * again in the chosen pieces (what the decoder leaves unused is offered
 * again with the next piece, as session.c does), and checked against a
 * small reference decoder written from RFC 5321 and textdec.h.  Aborts
 * when: the pieces give another result than at once (done, bytes used,
 * error; the text exactly when there is no error, else the pieces' text
 * is a prefix of the text at once); the output holds a CR or a NUL; more
 * than 2 bytes are kept back; used > n; "done" without the consumed bytes
 * ending in <CRLF>.<CRLF> (or being exactly ".<CRLF>"); a bare CR or LF
 * or a NUL before the end with no error; ME_LONG_LINE without a limit;
 * or any difference from the reference (end, used, error, and the text
 * up to the error): without a limit, lines of any length come out
 * byte-exact.
 * Seeds: tests/fuzz/corpus/textdec/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../smtpd/textdec.c"

#define HDR		9

/* the limit for this input (mode bits 2-3); 0: none */
static size_t line_max;

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct out {
	char		*p;
	size_t		 len, cap;
	struct textdec	*d;
};

static void
out_emit(void *arg, const char *p, size_t n)
{
	struct out *o = arg;

	if (n == 0 || o->d->error != ME_NONE || o->len + n > o->cap)
		abort();
	memcpy(o->p + o->len, p, n);
	o->len += n;
}

struct run {
	struct out	 o;
	int		 done;
	size_t		 used;
	enum msg_error	 error;
};

static size_t
piece_size(const uint8_t *sel, size_t k)
{
	uint8_t b = sel[k % 8];

	/* mostly small, sometimes long enough to cross the line limit */
	return b < 224 ? b % 32 : (size_t)(b - 223) * 64;
}

static void
run_init(struct run *r, struct textdec *d, size_t n)
{
	memset(r, 0, sizeof(*r));
	textdec_init(d, line_max);
	r->o.d = d;
	r->o.cap = n;
	if ((r->o.p = malloc(n == 0 ? 1 : n)) == NULL)
		abort();
}

static void
data_at_once(const char *in, size_t n, struct run *r)
{
	struct textdec d;

	run_init(r, &d, n);
	r->used = textdec_data(&d, in, n, out_emit, &r->o, &r->done);
	if (r->used > n)
		abort();
	r->error = d.error;
}

static void
data_pieces(const char *in, size_t n, const uint8_t *sel, struct run *r)
{
	struct textdec d;
	char *pend;
	size_t plen = 0, off = 0, k, sz, used, zero = 0;

	run_init(r, &d, n);
	if ((pend = malloc(n + 1)) == NULL)
		abort();
	for (k = 0; ; k++) {
		sz = piece_size(sel, k);
		if (sz == 0 && ++zero > 8)
			sz = 1;		/* all eight zero: go on anyway */
		if (sz > n - off)
			sz = n - off;
		/* a fresh allocation per call: ASan sees any overread */
		memcpy(pend + plen, in + off, sz);
		plen += sz;
		off += sz;
		{
			char *call = malloc(plen == 0 ? 1 : plen);

			if (call == NULL)
				abort();
			memcpy(call, pend, plen);
			used = textdec_data(&d, call, plen, out_emit, &r->o,
			    &r->done);
			free(call);
		}
		if (used > plen)
			abort();
		memmove(pend, pend + used, plen - used);
		plen -= used;
		if (r->done)
			break;
		if (plen > 2)
			abort();
		if (off == n)
			break;
	}
	r->used = off - plen;
	r->error = d.error;
	free(pend);
}

/*
 * The reference: split the wire text at CRLF only.  A line that is
 * exactly "." ends the text; a line starting with "." loses that dot;
 * within a line every CR or LF is bare, a NUL is refused, and more than
 * line_max octets (the stuffed dot not counted, RFC 5321) is too long
 * when there is a limit; the first reason wins and ends the output.  An unfinished last
 * line is taken as far as it can be decided.
 */
static void
reference(const char *in, size_t n, int bdat, int last, struct run *r)
{
	size_t pos = 0, e, j, take, octets;
	const char *crlf;
	int stuffed;

	memset(r, 0, sizeof(*r));
	if ((r->o.p = malloc(n == 0 ? 1 : n)) == NULL)
		abort();
	r->o.cap = n;
	while (pos < n) {
		crlf = memmem(in + pos, n - pos, "\r\n", 2);
		e = crlf ? (size_t)(crlf - in) : n;
		take = e;
		if (!bdat && crlf != NULL && e == pos + 1 && in[pos] == '.') {
			r->done = 1;
			r->used = e + 2;
			return;
		}
		if (crlf == NULL) {
			/* DATA keeps back ".", ".\r" at a line start, a last CR */
			if (!bdat && in[pos] == '.' && (n - pos < 2 ||
			    (in[pos + 1] == '\r' && n - pos < 3)))
				take = pos;
			else if (in[n - 1] == '\r' && !(bdat && last))
				take = n - 1;
		}
		stuffed = !bdat && take > pos && in[pos] == '.';
		octets = 0;
		for (j = pos; j < take; j++) {
			if (r->error == ME_NONE) {
				if (in[j] == '\r' || in[j] == '\n')
					r->error = ME_BARE_EOL;
				else if (in[j] == '\0')
					r->error = ME_NUL;
				else if (!(stuffed && j == pos))
					r->o.p[r->o.len++] = in[j];
			}
			/* BDAT counts only the octets it emits; DATA all
			 * but the stuffed dot */
			if (bdat ? (in[j] != '\r' && in[j] != '\n' &&
			    in[j] != '\0') : !(stuffed && j == pos))
				octets++;
			if (line_max != 0 && octets > line_max &&
			    r->error == ME_NONE)
				r->error = ME_LONG_LINE;
		}
		r->used = take;
		if (crlf == NULL)
			return;
		if (r->error == ME_NONE)
			r->o.p[r->o.len++] = '\n';
		pos = r->used = e + 2;
	}
}

/* same result; a's text is a prefix of b's (equal without an error) */
static void
same(const struct run *a, const struct run *b)
{
	if (a->done != b->done || a->used != b->used || a->error != b->error)
		abort();
	if (a->o.len > b->o.len || memcmp(a->o.p, b->o.p, a->o.len) != 0)
		abort();
	if (a->error != ME_LONG_LINE && a->o.len != b->o.len)
		abort();
}

static void
clean(const struct run *r)
{
	if (line_max == 0 && r->error == ME_LONG_LINE)
		abort();
	if (memchr(r->o.p, '\r', r->o.len) != NULL ||
	    memchr(r->o.p, '\0', r->o.len) != NULL)
		abort();
}

static void
fuzz_data(const char *in, size_t n, const uint8_t *sel)
{
	struct run once, pieces, ref;
	size_t j;

	data_at_once(in, n, &once);
	data_pieces(in, n, sel, &pieces);
	reference(in, n, 0, 0, &ref);
	clean(&once);
	clean(&pieces);
	same(&pieces, &once);
	same(&ref, &pieces);
	if (once.done) {
		/* only <CRLF>.<CRLF> ends it (the DATA line's CRLF counts) */
		if (!(once.used == 3 && memcmp(in, ".\r\n", 3) == 0) &&
		    (once.used < 5 ||
		    memcmp(in + once.used - 5, "\r\n.\r\n", 5) != 0))
			abort();
	}
	/* a bare CR or LF, or a NUL, before the end is never let through */
	for (j = 0; j < once.used - (once.done ? 3 : 0); j++) {
		if ((in[j] == '\r' && (j + 1 >= n || in[j + 1] != '\n')) ||
		    (in[j] == '\n' && (j == 0 || in[j - 1] != '\r')) ||
		    in[j] == '\0') {
			if (once.error == ME_NONE)
				abort();
			break;
		}
	}
	free(once.o.p);
	free(pieces.o.p);
	free(ref.o.p);
}

static void
bdat_feed(const char *in, size_t n, const uint8_t *sel, int split, int last,
    struct run *r)
{
	struct textdec d;
	size_t off = 0, k, sz, zero = 0;
	char *call;

	run_init(r, &d, n);
	for (k = 0; off < n; k++) {
		sz = split ? piece_size(sel, k) : n;
		if (sz == 0 && ++zero > 8)
			sz = 1;
		if (sz > n - off)
			sz = n - off;
		if ((call = malloc(sz == 0 ? 1 : sz)) == NULL)
			abort();
		memcpy(call, in + off, sz);
		textdec_bdat(&d, call, sz, out_emit, &r->o);
		free(call);
		off += sz;
	}
	/* a last CR stays undecided until the next byte or BDAT LAST */
	if (d.cr_pending != (n > 0 && in[n - 1] == '\r'))
		abort();
	if (last) {
		textdec_bdat_end(&d);
		if (d.cr_pending)
			abort();
	}
	r->used = n;
	r->error = d.error;
}

static void
fuzz_bdat(const char *in, size_t n, const uint8_t *sel, int last)
{
	struct run once, pieces, ref;

	bdat_feed(in, n, sel, 0, last, &once);
	bdat_feed(in, n, sel, 1, last, &pieces);
	reference(in, n, 1, last, &ref);
	clean(&once);
	clean(&pieces);
	same(&pieces, &once);
	ref.used = n;
	same(&ref, &pieces);
	free(once.o.p);
	free(pieces.o.p);
	free(ref.o.p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t limits[] = { 0, 998, 8, 64 };
	const uint8_t *sel;
	char *in;
	size_t n;
	int mode;

	if (size < HDR)
		return 0;
	mode = data[0];
	line_max = limits[(mode >> 2) & 3];
	sel = data + 1;
	n = size - HDR;
	/* an exact-size copy: ASan sees any read past the end */
	if ((in = malloc(n == 0 ? 1 : n)) == NULL)
		return 0;
	memcpy(in, data + HDR, n);
	if ((mode & 1) == 0)
		fuzz_data(in, n, sel);
	else
		fuzz_bdat(in, n, sel, (mode & 2) != 0);
	free(in);
	return 0;
}
