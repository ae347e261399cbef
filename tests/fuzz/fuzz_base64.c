/*
 * fuzz_base64.c - libFuzzer target for common/base64.c and common/sasl.c,
 * the SASL helpers of kurir-smtpd and kurir-pop3d (unprivileged).
 *
 * Invariants, beyond ASan/UBSan (every output buffer is an exact-size
 * heap block, so one byte too far is caught):
 *  - decoding is strict, so decode then encode gives back the very input;
 *    base64_valid() agrees with base64_decode();
 *  - with a smaller output capacity decoding fails exactly when the
 *    result does not fit, and then leaves the buffer untouched;
 *  - encode then decode gives back the input;
 *  - sasl_plain_parse() either returns fields that rebuild the message
 *    ([authzid] NUL authcid NUL passwd, authzid empty or authcid) within
 *    their limits, or fails with a reason and both outputs zeroed.
 * Seeds: tests/fuzz/corpus/base64/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "sasl.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_decode(const uint8_t *data, size_t size)
{
	unsigned char *out, *small;
	char *enc;
	size_t n = 1, n2, cap, esz, i;
	int ok;

	out = malloc(size == 0 ? 1 : size);
	if (out == NULL)
		return;
	ok = base64_decode((const char *)data, size, out, size, &n) == 0;
	if (ok != base64_valid((const char *)data, size) || (!ok && n != 0))
		abort();
	if (ok) {
		if (n > size / 4 * 3)
			abort();
		esz = base64_encoded_size(n);
		if (esz != size + 1 || (enc = malloc(esz)) == NULL)
			abort();
		if (base64_encode(out, n, enc, esz) != 0 ||
		    memcmp(enc, data, size) != 0 || enc[size] != '\0')
			abort();
		free(enc);
	}
	/* a capacity chosen by the input's first byte */
	cap = size > 0 ? data[0] % 48 : 0;
	if ((small = malloc(cap == 0 ? 1 : cap)) == NULL) {
		free(out);
		return;
	}
	memset(small, 0xa5, cap);
	if (base64_decode((const char *)data, size, small, cap, &n2) == 0) {
		if (!ok || n2 != n || n2 > cap || memcmp(small, out, n2) != 0)
			abort();
	} else {
		if (ok && n <= cap)
			abort();
		for (i = 0; i < cap; i++)
			if (small[i] != 0xa5)
				abort();
	}
	free(small);
	free(out);
}

static void
fuzz_encode(const uint8_t *data, size_t size)
{
	size_t esz = base64_encoded_size(size), n;
	unsigned char *back;
	char *enc;

	if (esz == 0 || (enc = malloc(esz)) == NULL)
		return;
	if (base64_encode(data, size, enc, esz) != 0 || strlen(enc) + 1 != esz)
		abort();
	/* one byte less never fits */
	if (base64_encode(data, size, enc, esz - 1) != -1)
		abort();
	if (base64_encode(data, size, enc, esz) != 0)
		abort();
	if ((back = malloc(size == 0 ? 1 : size)) == NULL) {
		free(enc);
		return;
	}
	if (base64_decode(enc, esz - 1, back, size, &n) != 0 || n != size ||
	    memcmp(back, data, size) != 0)
		abort();
	free(back);
	free(enc);
}

static int
all_zero(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != '\0')
			return 0;
	return 1;
}

static void
fuzz_plain(const uint8_t *data, size_t size, size_t ucap, size_t pcap)
{
	char *user = malloc(ucap), *pass = malloc(pcap);
	const char *why = NULL;
	size_t ul, pl, zl, i;

	if (user == NULL || pass == NULL) {
		free(user);
		free(pass);
		return;
	}
	memset(user, 'U', ucap);
	memset(pass, 'P', pcap);
	if (sasl_plain_parse(data, size, user, ucap, pass, pcap, &why) == -1) {
		if (why == NULL || !all_zero(user, ucap) || !all_zero(pass, pcap))
			abort();
	} else {
		ul = strnlen(user, ucap);
		pl = strnlen(pass, pcap);
		if (ul == 0 || ul >= ucap || ul > SASL_AUTHCID_MAX ||
		    pl == 0 || pl >= pcap || pl > SASL_PASSWD_MAX)
			abort();
		for (i = 0; i < ul; i++)
			if ((unsigned char)user[i] < 0x20 ||
			    (unsigned char)user[i] == 0x7f)
				abort();
		/* rebuild: authzid, then NUL user NUL pass */
		if (size < ul + pl + 2)
			abort();
		zl = size - ul - pl - 2;
		if ((zl != 0 && (zl != ul || memcmp(data, user, ul) != 0)) ||
		    data[zl] != '\0' || memcmp(data + zl + 1, user, ul) != 0 ||
		    data[zl + 1 + ul] != '\0' ||
		    memcmp(data + zl + 2 + ul, pass, pl) != 0)
			abort();
	}
	free(user);
	free(pass);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	fuzz_decode(data, size);
	fuzz_encode(data, size);
	fuzz_plain(data, size, SASL_AUTHCID_MAX + 1, SASL_PASSWD_MAX + 1);
	fuzz_plain(data, size, 4, 6);
	return 0;
}
