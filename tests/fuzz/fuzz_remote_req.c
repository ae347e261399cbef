/*
 * fuzz_remote_req.c - libFuzzer target for remote/req.c, the RP_DELIVER
 * payload parser of kurir-remote (remote user, facing the network).
 *
 * The input is one frame payload, copied to a buffer of exactly its size
 * so any read past the end is caught.  Beyond ASan/UBSan it aborts when
 * a success breaks an invariant: an address with a control byte (it
 * would inject an SMTP command), a recipient outside the request's
 * domain, no recipient or more than RP_RCPTS_MAX, a negative or
 * overflowing offset/size, strings outside the input, or fields that do
 * not re-serialise to the input byte for byte; or when a failure leaves
 * anything in the result or gives no printable reason.
 * Seeds: tests/fuzz/corpus/remote_req/.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../remote/req.c"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
inside(const char *s, const char *buf, size_t len)
{
	return s != NULL && s >= buf && s < buf + len &&
	    memchr(s, '\0', (size_t)(buf + len - s)) != NULL;
}

static void
no_controls(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
}

static void
check_ok(const struct remote_req *r, const char *buf, size_t len)
{
	struct buf again;
	const char *at;
	size_t i;

	if (!inside(r->sender, buf, len) || !inside(r->domain, buf, len) ||
	    r->nrcpts == 0 || r->nrcpts > RP_RCPTS_MAX)
		abort();
	if (r->offset < 0 || r->size < 0 || r->size > LLONG_MAX - r->offset)
		abort();
	no_controls(r->sender);
	no_controls(r->domain);
	buf_init(&again, 0);
	buf_printf(&again, "%lld%c%lld%c", r->offset, 0, r->size, 0);
	buf_add(&again, r->sender, strlen(r->sender) + 1);
	buf_add(&again, r->domain, strlen(r->domain) + 1);
	for (i = 0; i < r->nrcpts; i++) {
		if (!inside(r->rcpts[i], buf, len))
			abort();
		no_controls(r->rcpts[i]);
		if ((at = strrchr(r->rcpts[i], '@')) == NULL ||
		    strcasecmp(at + 1, r->domain) != 0)
			abort();
		buf_add(&again, r->rcpts[i], strlen(r->rcpts[i]) + 1);
	}
	if (again.len != len || memcmp(again.data, buf, len) != 0)
		abort();
	buf_free(&again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct remote_req r, zero;
	const char *why = NULL;
	char *buf;
	size_t i;

	if (size > 65536)
		return 0;
	if ((buf = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	if (remote_req_parse(buf, size, &r, &why) == 0)
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
