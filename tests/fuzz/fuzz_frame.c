/*
 * fuzz_frame.c - libFuzzer target for common/frame.c, the framing of
 * every message between kurir programs (frame_peek, frame_consume,
 * frame_pack; the I/O helpers are left to tests/check_frame.c).
 *
 * 1. The input as received bytes: frames are peeked and consumed from a
 *    buffer of exactly the input's size (so ASan sees a read past it).
 *    Aborts unless each frame's header is decoded as frame.h says, its
 *    len <= FRAME_MAX, its data lies within the buffer right after its
 *    header, and consume takes exactly header plus payload; unless 0
 *    ("more") is returned only for a header or a payload that is not all
 *    there yet, and -1 only for a length over FRAME_MAX or reserved bits
 *    set.
 * 2. The input as a list of frames to send: 8 bytes each (type, id, a
 *    length selector), payloads made from the input bytes, some lengths
 *    at and around FRAME_MAX.  Every frame_pack of len <= FRAME_MAX
 *    succeeds, every larger one fails with EMSGSIZE leaving the buffer as
 *    it was, and so does one that would overflow the buffer's cap; the
 *    packed stream, handed over in pieces, gives back exactly the frames
 *    that were packed, each only once all of its bytes are in.
 * Seeds: tests/fuzz/corpus/frame/.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

#define MAX_FRAMES	24

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint16_t
get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* 1: arbitrary bytes as they would arrive on a link */
static void
peek_raw(const uint8_t *data, size_t size)
{
	struct buf b;
	struct frame f;
	const unsigned char *h;
	size_t before;
	uint32_t len;
	int r;

	/* a buf over an exact-size copy: any overread is an ASan report */
	if ((b.data = malloc(size == 0 ? 1 : size)) == NULL)
		return;
	memcpy(b.data, data, size);
	b.len = b.cap = b.max = size;
	for (;;) {
		memset(&f, 0xa5, sizeof(f));
		before = b.len;
		r = frame_peek(&b, &f);
		h = (const unsigned char *)b.data;
		if (b.len != before)
			abort();		/* peek never changes the buffer */
		if (b.len < FRAME_HDR) {
			if (r != 0)
				abort();
			break;
		}
		len = get32(h);
		if (r == -1) {
			if (len <= FRAME_MAX && get16(h + 6) == 0)
				abort();
			break;
		}
		if (len > FRAME_MAX || get16(h + 6) != 0)
			abort();
		if (r == 0) {
			if (b.len - FRAME_HDR >= len)
				abort();
			break;
		}
		if (r != 1 || f.len != len || f.len > FRAME_MAX ||
		    f.type != get16(h + 4) || f.id != get32(h + 8) ||
		    f.fd != -1 || f.data != b.data + FRAME_HDR ||
		    f.data + f.len > b.data + b.len)
			abort();
		frame_consume(&b, &f);
		if (b.len != before - FRAME_HDR - len)
			abort();
	}
	free(b.data);
}

struct want {
	uint16_t	 type;
	uint32_t	 id;
	size_t		 len;
	size_t		 seed;		/* payload: src bytes from here on */
};

/* payload byte i of a frame: the input, repeated, from w->seed on */
static char
pay(const uint8_t *src, size_t n, const struct want *w, size_t i)
{
	return n == 0 ? (char)i : (char)(src[(w->seed + i) % n] ^ (i >> 8));
}

static void
check_frame(const struct frame *f, const struct want *w, const uint8_t *src,
    size_t n)
{
	size_t i;

	if (f->type != w->type || f->id != w->id || f->len != w->len ||
	    f->fd != -1)
		abort();
	for (i = 0; i < f->len; i++)
		if (f->data[i] != pay(src, n, w, i))
			abort();
}

/* 2: frames packed, then taken back from the stream in pieces */
static void
pack_roundtrip(const uint8_t *data, size_t size)
{
	static char payload[FRAME_MAX + 512];
	struct want w[MAX_FRAMES];
	struct buf out, in, capped;
	struct frame f;
	size_t nw = 0, off = 0, i, j, before, piece, got, sel;
	unsigned lenhi, lenlo;
	int r;

	buf_init(&out, 0);
	/* a cap from the input: packing must fail whole or not at all */
	buf_init(&capped, size < 2 ? 64 : (size_t)(data[0] << 8 | data[1]) * 4);
	while (size - off >= 8 && nw < MAX_FRAMES) {
		struct want *x = &w[nw];

		x->type = get16(data + off);
		x->id = get32(data + off + 2);
		lenhi = data[off + 6];
		lenlo = data[off + 7];
		off += 8;
		if (lenhi & 0x80)	/* around the limit */
			x->len = FRAME_MAX - 64 + (lenhi & 1) * 128 + lenlo;
		else
			x->len = (lenhi << 8 | lenlo) % 1024;
		x->seed = off;
		for (i = 0; i < x->len; i++)
			payload[i] = pay(data, size, x, i);
		before = out.len;
		errno = 0;
		r = frame_pack(&out, x->type, x->id, x->len == 0 && (lenhi & 2) ?
		    NULL : payload, x->len);
		if (x->len > FRAME_MAX) {
			if (r != -1 || errno != EMSGSIZE || out.len != before)
				abort();
		} else {
			if (r != 0 || out.len != before + FRAME_HDR + x->len)
				abort();
			nw++;
		}
		before = capped.len;
		r = frame_pack(&capped, x->type, x->id, payload, x->len);
		if (r == 0 ? capped.len != before + FRAME_HDR + x->len :
		    capped.len != before || errno != EMSGSIZE)
			abort();
		if (r == 0 && (x->len > FRAME_MAX || capped.len > capped.max))
			abort();
		/* the payload is used up as a source of bytes */
		off += x->len < size - off ? x->len : size - off;
	}
	/* the stream back, in pieces chosen by the input */
	buf_init(&in, 0);
	got = 0;
	sel = 0;
	for (i = 0; i < out.len; i += piece) {
		piece = size == 0 ? 1 : 1 + data[sel++ % size] * 37;
		if (piece > out.len - i)
			piece = out.len - i;
		if (buf_add(&in, out.data + i, piece) == -1)
			abort();
		while ((r = frame_peek(&in, &f)) == 1) {
			if (got >= nw)
				abort();
			check_frame(&f, &w[got], data, size);
			got++;
			frame_consume(&in, &f);
		}
		if (r != 0)
			abort();
		/* nothing complete is left waiting */
		for (j = 0, before = 0; j < got; j++)
			before += FRAME_HDR + w[j].len;
		if (in.len != i + piece - before)
			abort();
	}
	if (got != nw || in.len != 0)
		abort();
	buf_free(&in);
	buf_free(&out);
	buf_free(&capped);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	peek_raw(data, size);
	pack_roundtrip(data, size);
	return 0;
}
