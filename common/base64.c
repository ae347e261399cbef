/*
 * base64.c - strict RFC 4648 base64 (API and rules in base64.h).
 *
 * Used by kurir-smtpd and kurir-pop3d for SASL responses; runs as their
 * unprivileged uids, touches nothing but the caller's buffers.  Decoding
 * validates the whole text before writing a byte, so a rejected input
 * never leaves half a secret in the caller's buffer.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "base64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of an alphabet character, or -1.  No table indexed by
 * an untrusted byte, no <ctype.h>: the locale must not change the rules. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Number of '=' at the end if in[0..n) is valid, else -1. */
static int
b64_check(const char *in, size_t n)
{
	size_t i, pad = 0;

	if (n % 4 != 0)
		return -1;
	while (pad < n && in[n - 1 - pad] == '=')
		pad++;
	if (pad > 2)
		return -1;
	for (i = 0; i < n - pad; i++)
		if (b64_value((unsigned char)in[i]) < 0)
			return -1;
	/* RFC 4648 3.5: the bits after the last octet must be zero, else
	 * "QQ==" and "QR==" would both decode to "A". */
	if (pad == 1 && (b64_value((unsigned char)in[n - 2]) & 0x03) != 0)
		return -1;
	if (pad == 2 && (b64_value((unsigned char)in[n - 3]) & 0x0f) != 0)
		return -1;
	return (int)pad;
}

int
base64_valid(const char *in, size_t inlen)
{
	return b64_check(in, inlen) >= 0;
}

size_t
base64_encoded_size(size_t inlen)
{
	size_t quads = inlen / 3 + (inlen % 3 != 0);

	if (quads > (SIZE_MAX - 1) / 4)
		return 0;
	return quads * 4 + 1;
}

int
base64_decode(const char *in, size_t inlen, unsigned char *out, size_t outcap,
    size_t *outlen)
{
	size_t i, o = 0, need;
	uint32_t acc;
	int pad, k;

	*outlen = 0;
	if ((pad = b64_check(in, inlen)) < 0) {
		errno = EINVAL;
		return -1;
	}
	need = inlen / 4 * 3 - (size_t)pad;
	if (need > outcap) {
		errno = EMSGSIZE;
		return -1;
	}
	for (i = 0; i < inlen; i += 4) {
		acc = 0;
		for (k = 0; k < 4; k++) {
			int v = b64_value((unsigned char)in[i + (size_t)k]);

			/* '=' (checked to be trailing padding) counts as 0 */
			acc = acc << 6 | (uint32_t)(v < 0 ? 0 : v);
		}
		/* the last quad may carry 1 or 2 octets; need bounds it */
		if (o < need)
			out[o++] = (unsigned char)(acc >> 16);
		if (o < need)
			out[o++] = (unsigned char)(acc >> 8 & 0xff);
		if (o < need)
			out[o++] = (unsigned char)(acc & 0xff);
	}
	*outlen = o;
	return 0;
}

int
base64_encode(const unsigned char *in, size_t inlen, char *out, size_t outcap)
{
	size_t i, o = 0, need = base64_encoded_size(inlen);
	uint32_t acc;

	if (need == 0 || need > outcap) {
		if (outcap > 0)
			out[0] = '\0';
		errno = EMSGSIZE;
		return -1;
	}
	for (i = 0; i + 2 < inlen; i += 3) {
		acc = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = alphabet[acc >> 18 & 0x3f];
		out[o++] = alphabet[acc >> 12 & 0x3f];
		out[o++] = alphabet[acc >> 6 & 0x3f];
		out[o++] = alphabet[acc & 0x3f];
	}
	if (inlen - i == 1) {
		acc = (uint32_t)in[i] << 16;
		out[o++] = alphabet[acc >> 18 & 0x3f];
		out[o++] = alphabet[acc >> 12 & 0x3f];
		out[o++] = '=';
		out[o++] = '=';
	} else if (inlen - i == 2) {
		acc = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = alphabet[acc >> 18 & 0x3f];
		out[o++] = alphabet[acc >> 12 & 0x3f];
		out[o++] = alphabet[acc >> 6 & 0x3f];
		out[o++] = '=';
	}
	out[o] = '\0';
	return 0;
}
