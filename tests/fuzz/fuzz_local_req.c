/*
 * fuzz_local_req.c - libFuzzer target for deliver/req.c, the LP_DELIVER
 * payload parser of kurir-local (mail user).
 *
 * The input is one frame payload as kurir-send would send it (the frame
 * layer allows up to FRAME_MAX bytes), copied to a buffer of exactly its
 * size so that any read past the end is caught.  Beyond ASan/UBSan it
 * aborts when an invariant breaks: a success whose mailbox could leave
 * mail_dir ('/', a leading dot, "..", control bytes, over 64 bytes), an
 * address field with a control byte (a header injection), a negative or
 * overflowing offset/size, strings that do not point into the input, or
 * fields that do not re-serialise to the input byte for byte; a failure
 * without a printable reason or with anything left in the result.
 * Seeds: tests/fuzz/corpus/local_req/.
 *
 * The fuzz build compiles only the common sources, so the parser comes
 * in here.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../deliver/req.c"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
inside(const char *s, const char *buf, size_t len)
{
	return s != NULL && s >= buf && s < buf + len &&
	    memchr(s, '\0', (size_t)(buf + len - s)) != NULL;
}

static void
check_ok(const struct local_req *r, const char *buf, size_t len)
{
	char again[LOCAL_REQ_MAX + 64];
	const char *s;
	int n;

	if (!inside(r->mailbox, buf, len) || !inside(r->sender, buf, len) ||
	    !inside(r->rcpt, buf, len))
		abort();
	if (r->offset < 0 || r->size < 0 || r->size > LLONG_MAX - r->offset)
		abort();
	/* nothing that could name a path outside mail_dir */
	s = r->mailbox;
	if (s[0] == '\0' || s[0] == '.' || strlen(s) > LOCAL_MBOX_MAX ||
	    strchr(s, '/') != NULL || strstr(s, "..") != NULL)
		abort();
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			abort();
	/* nothing that could break out of a header field */
	for (s = r->sender; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
	if (r->rcpt[0] == '\0')
		abort();
	for (s = r->rcpt; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
	/* the tag goes into a file name: hex, '-', digits only */
	if (r->tag != NULL) {
		if (!inside(r->tag, buf, len) || strlen(r->tag) > LOCAL_TAG_MAX)
			abort();
		for (s = r->tag; *s != '\0'; s++)
			if (!((*s >= '0' && *s <= '9') || (*s >= 'a' &&
			    *s <= 'f') || *s == '-'))
				abort();
	} else if (r->check)
		abort();
	/* canonical: the fields say exactly what the input said */
	n = snprintf(again, sizeof(again), "%lld%c%lld%c%s%c%s%c%s%c",
	    r->offset, 0, r->size, 0, r->mailbox, 0, r->sender, 0, r->rcpt, 0);
	if (n > 0 && r->tag != NULL && (size_t)n < sizeof(again))
		n += snprintf(again + n, sizeof(again) - (size_t)n, "%s%s%c",
		    r->check ? "!" : "", r->tag, 0);
	if (n < 0 || (size_t)n >= sizeof(again) || (size_t)n != len ||
	    memcmp(again, buf, len) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct local_req r, zero;
	const char *why = NULL;
	char *buf;
	size_t i;

	if (size > 65536)
		return 0;
	if ((buf = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	if (local_req_parse(buf, size, &r, &why) == 0)
		check_ok(&r, buf, size);
	else {
		memset(&zero, 0, sizeof(zero));
		if (memcmp(&r, &zero, sizeof(r)) != 0 || why == NULL ||
		    why[0] == '\0')
			abort();
		for (i = 0; why[i] != '\0'; i++)
			if (i > 80 || why[i] < 0x20 || why[i] > 0x7e)
				abort();
	}
	free(buf);
	return 0;
}
