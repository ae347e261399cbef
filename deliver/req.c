/*
 * req.c - the LP_DELIVER payload parser of kurir-local (mail user).
 *
 * Input: the payload of one frame from kurir-send, untrusted as far as
 * this parser is concerned.  Output: struct local_req, whose strings
 * point into the payload.  Strict: five NUL-terminated fields and an
 * optional sixth, the delivery tag (see local.h);
 * offset and size plain decimal (digits only, no leading zero, then
 * strtonum) whose sum fits off_t; a mailbox that users_name_valid()
 * accepts (so '/', "..", a leading dot, upper case or control bytes
 * never reach the filesystem); two addresses without control bytes
 * (they become header fields), the second non-empty.
 * Pure: no I/O and no allocation, so fuzz_local_req.c drives it alone.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"
#include "local.h"
#include "table.h"

/* a header value: no control bytes (no CR/LF to inject a field) */
static int
req_text_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* "<16 lower-case hex>-<1 to 5 digits>": safe in a file name */
static int
req_tag_ok(const char *s)
{
	size_t i, n;

	for (i = 0; i < 16; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	if (s[16] != '-')
		return 0;
	for (n = 0; s[17 + n] != '\0'; n++)
		if (s[17 + n] < '0' || s[17 + n] > '9' || n == 5)
			return 0;
	return n > 0;
}

int
local_req_parse(const char *p, size_t len, struct local_req *r,
    const char **why)
{
	const char *end = p + len, *off, *size;

	memset(r, 0, sizeof(*r));
	if ((off = field_next(&p, end, LOCAL_NUM_MAX)) == NULL ||
	    (size = field_next(&p, end, LOCAL_NUM_MAX)) == NULL ||
	    (r->mailbox = field_next(&p, end, LOCAL_MBOX_MAX)) == NULL ||
	    (r->sender = field_next(&p, end, LOCAL_ADDR_MAX)) == NULL ||
	    (r->rcpt = field_next(&p, end, LOCAL_ADDR_MAX)) == NULL) {
		*why = "not five fields";
		goto bad;
	}
	if (p != end) {
		if ((r->tag = field_next(&p, end, LOCAL_TAG_MAX + 1)) == NULL) {
			*why = "bad delivery tag";
			goto bad;
		}
		if (r->tag[0] == '!') {
			r->check = 1;
			r->tag++;
		}
		if (!req_tag_ok(r->tag)) {
			*why = "bad delivery tag";
			goto bad;
		}
	}
	if (p != end) {
		*why = "data after the last field";
		goto bad;
	}
	if (field_decimal(off, &r->offset) == -1 ||
	    field_decimal(size, &r->size) == -1 ||
	    r->size > LLONG_MAX - r->offset) {
		*why = "bad offset or size";
		goto bad;
	}
	if (!users_name_valid(r->mailbox)) {
		*why = "bad mailbox name";
		goto bad;
	}
	if (!req_text_ok(r->sender)) {
		*why = "bad return-path";
		goto bad;
	}
	if (r->rcpt[0] == '\0' || !req_text_ok(r->rcpt)) {
		*why = "bad delivered-to address";
		goto bad;
	}
	return 0;
bad:
	memset(r, 0, sizeof(*r));
	return -1;
}
