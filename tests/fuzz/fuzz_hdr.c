/*
 * fuzz_hdr.c - libFuzzer target for common/hdr.c (header fields and
 * address lists) and for kurir-sendmail's use of them (inject_prepare).
 *
 * The first input byte picks options, the rest is a message.  Beyond
 * memory errors (ASan, UBSan) it aborts when an invariant breaks: a
 * field or body offset outside the message, fields that do not tile the
 * header, a rejected mailbox without a reason, a valid one whose
 * canonical text does not re-parse to itself, or a prepared message
 * that still carries Bcc (with -t), lost a field, or doubled Date,
 * Message-ID or From.  Seeds: tests/fuzz/corpus/hdr/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sendmail/inject.c"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(c)	do { if (!(c)) { fprintf(stderr, "invariant: %s (line %d)\n", \
			    #c, __LINE__); abort(); } } while (0)

static int
fuzz_mailbox(const struct hdr_mailbox *mb)
{
	struct addr again;
	char text[ADDR_TEXT_MAX];
	const char *why;

	if (mb->why != NULL)
		return 0;
	/* the canonical text is itself a valid address, unchanged */
	CHECK(mb->text[0] != '\0');
	CHECK(addr_parse(mb->text, ADDR_ALLOW_NODOMAIN, &again, &why) == 0);
	CHECK(addr_format(&again, text, sizeof(text)) == 0);
	CHECK(strcmp(text, mb->text) == 0);
	return 0;
}

static int
fuzz_mailbox_raw(const struct hdr_mailbox *mb, void *arg)
{
	const char *v = ((const char **)arg)[0];
	size_t len = (size_t)(uintptr_t)((const char **)arg)[1];

	CHECK(mb->raw >= v && mb->raw + mb->rawlen <= v + len);
	return fuzz_mailbox(mb);
}

static void
fuzz_extract(const char *v, size_t len)
{
	const void *ctx[2] = { v, (const void *)(uintptr_t)len };

	CHECK(hdr_addr_extract(v, len, ADDR_ALLOW_NODOMAIN, fuzz_mailbox_raw,
	    ctx) >= 0);
}

/* Walk the header; returns the number of fields. */
static size_t
fuzz_fields(const char *m, size_t len)
{
	struct hdr_iter it;
	struct hdr_field f;
	struct buf b;
	size_t n = 0, expect = 0;

	hdr_iter_init(&it, m, len);
	while (hdr_iter_next(&it, &f)) {
		/* fields follow each other with no gap, inside the message */
		CHECK(f.off == expect && f.len > 0 && f.off + f.len <= len);
		CHECK(f.name == m + f.off && f.namelen > 0 && f.namelen < f.len);
		CHECK(f.value > f.name && f.value + f.valuelen <= m + f.off + f.len);
		expect = f.off + f.len;
		buf_init(&b, 0);
		CHECK(hdr_value_unfold(&f, &b) == 0 && b.len <= f.valuelen);
		CHECK(memchr(buf_cstr(&b), '\n', b.len) == NULL);
		buf_free(&b);
		fuzz_extract(f.value, f.valuelen);
		n++;
	}
	CHECK(it.hdr_end == expect && it.hdr_end <= it.body_off);
	CHECK(it.body_off <= len);
	CHECK(!it.has_sep || it.body_off > it.hdr_end);
	return n;
}

static int
fuzz_count(const char *m, size_t len, const char *name)
{
	struct hdr_iter it;
	struct hdr_field f;
	int n = 0;

	hdr_iter_init(&it, m, len);
	while (hdr_iter_next(&it, &f))
		n += hdr_name_is(&f, name);
	return n;
}

static void
fuzz_prepare(const char *m, size_t len, int extract)
{
	static const char *const added[] = { "Date", "From", "Message-ID" };
	struct inject_opts o;
	struct inject ij;
	size_t before, after, hlen, i, want;
	int n[3], bcc = 0;
	const char *h = m, *lf;

	memset(&o, 0, sizeof(o));
	o.extract = extract;
	o.hostname = "host.test";
	o.from_addr = "u@host.test";
	o.now = 1700000000;
	inject_init(&ij);
	if (buf_add(&ij.msg, m, len) == -1)
		abort();
	/* what inject_prepare sees: past a leading mbox "From " line */
	if (len >= 5 && memcmp(m, "From ", 5) == 0)
		h = (lf = memchr(m, '\n', len)) ? lf + 1 : m + len;
	hlen = len - (size_t)(h - m);
	before = fuzz_fields(h, hlen);
	if (extract)
		bcc = fuzz_count(h, hlen, "Bcc") + fuzz_count(h, hlen, "Resent-Bcc");
	want = before - (size_t)bcc;
	for (i = 0; i < 3; i++) {
		n[i] = fuzz_count(h, hlen, added[i]);
		want += n[i] == 0;
	}
	if (inject_prepare(&ij, &o) == 0) {
		/* nothing lost but Bcc, nothing doubled, only what was missing */
		after = fuzz_fields(ij.msg.data, ij.msg.len);
		CHECK(after == want);
		if (extract) {
			CHECK(fuzz_count(ij.msg.data, ij.msg.len, "Bcc") == 0);
			CHECK(fuzz_count(ij.msg.data, ij.msg.len, "Resent-Bcc") == 0);
		}
		for (i = 0; i < 3; i++)
			CHECK(fuzz_count(ij.msg.data, ij.msg.len, added[i]) ==
			    (n[i] ? n[i] : 1));
		for (i = 0; i < ij.nrcpts; i++)
			CHECK(strchr(ij.rcpts[i], '@') != NULL);
	} else
		CHECK(ij.err[0] != '\0');
	inject_free(&ij);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *m;
	char *copy;

	if (size < 1)
		return 0;
	m = (const char *)data + 1;
	size--;
	/* an exact-size heap copy, so ASan sees any read past the end */
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, m, size);
	if (data[0] & 1)
		fuzz_extract(copy, size);
	else
		fuzz_prepare(copy, size, (data[0] & 2) != 0);
	free(copy);
	return 0;
}
