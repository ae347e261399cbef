/*
 * delay.c - kurir-auth's memory of recent password failures per client.
 *
 * Runs as the auth user inside kurir-auth.  Input: the client-ip field of
 * a failed AP_AUTH and the time; output: how long to hold the answer back
 * (AUTH_FAIL_DELAY_MS, plus DELAY_STEP_MS per failure from the same client
 * in the last 15 minutes, at most DELAY_CAP_MS).  A success does not clear
 * the count: one known account must not reset the count for guessing
 * others.
 *
 * Clients are keyed by address: an IPv4 address as itself (also when
 * written IPv4-mapped), an IPv6 address by its /64, since one host
 * usually has a whole /64 to rotate through.  Anything else (an empty
 * field, a name) is its own key.  The table has DELAY_SLOTS entries; when
 * it is full the entry idle longest is reused.  A linear scan is cheap
 * next to the crypt(3) call that precedes every use.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "authproto.h"

#define DELAY_COUNT_MAX	((DELAY_CAP_MS - AUTH_FAIL_DELAY_MS) / DELAY_STEP_MS)

long long
delay_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
delay_key(const char *ip, char *key, size_t keylen)
{
	struct in_addr a4;
	struct in6_addr a6;
	char s[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET, ip, &a4) == 1) {
		inet_ntop(AF_INET, &a4, key, (socklen_t)keylen);
		return;
	}
	if (inet_pton(AF_INET6, ip, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			memcpy(&a4, &a6.s6_addr[12], sizeof(a4));
			inet_ntop(AF_INET, &a4, key, (socklen_t)keylen);
			return;
		}
		memset(&a6.s6_addr[8], 0, 8);
		inet_ntop(AF_INET6, &a6, s, sizeof(s));
		strlcpy(key, s, keylen);
		strlcat(key, "/64", keylen);
		return;
	}
	/* "" would mark a free slot */
	strlcpy(key, "raw:", keylen);
	strlcat(key, ip, keylen);
}

unsigned
delay_fail(struct delay_table *t, const char *ip, long long now)
{
	struct delay_ent *e, *found = NULL, *spare = NULL;
	char key[DELAY_KEY_MAX];
	unsigned ms;
	size_t i;

	delay_key(ip, key, sizeof(key));
	for (i = 0; i < DELAY_SLOTS; i++) {
		e = &t->v[i];
		if (e->key[0] != '\0' && strcmp(e->key, key) == 0) {
			found = e;
			break;
		}
		/* a free or expired slot, else the one idle longest */
		if (spare == NULL || (spare->key[0] != '\0' &&
		    (e->key[0] == '\0' || e->last < spare->last)))
			spare = e;
	}
	if (found == NULL) {
		found = spare;
		strlcpy(found->key, key, sizeof(found->key));
		found->count = 0;
	} else if (now - found->last >= DELAY_EXPIRE_MS)
		found->count = 0;
	ms = AUTH_FAIL_DELAY_MS + DELAY_STEP_MS * found->count;
	if (ms > DELAY_CAP_MS)
		ms = DELAY_CAP_MS;
	/* counting past the cap would change nothing (and could overflow) */
	if (found->count < DELAY_COUNT_MAX)
		found->count++;
	found->last = now;
	return ms;
}
