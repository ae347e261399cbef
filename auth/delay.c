/*
 * delay.c - kurir-auth's limits on password checks: the memory of recent
 * failures per client network, and the rate of checks per client link.
 *
 * Runs as the auth user inside kurir-auth's event loop; pure functions of
 * their table and the time given (tests drive them with a synthetic
 * clock).  No I/O.
 *
 * Per client network (delay_fail, delay_blocked).  Input: the client-ip
 * field of a request (the link's claim) and the time.
 *  - The answer to a failure is held back AUTH_FAIL_DELAY_MS, plus
 *    DELAY_STEP_MS per earlier failure from the same network, at most
 *    DELAY_CAP_MS; that count is forgotten after DELAY_EXPIRE_MS without
 *    a failure.
 *  - auth_fail_limit failures within auth_fail_window of the network's
 *    first one block it: until the window ends its checks are refused
 *    without crypt(3), right password or wrong (anything else would leave
 *    the oracle open).  A success clears neither count: one known account
 *    must not reset the count for guessing others.
 * A network is an IPv4 address (also written IPv4-mapped) or the IPv6
 * network of client_ipv6_prefix bits (net_client_net_text); anything else
 * (an empty field, a name) is its own key.  The table has DELAY_SLOTS
 * entries; a new network takes a free slot, else the one idle longest, so
 * memory is bounded whatever an attacker rotates through (a flood of
 * networks can push a blocked one out: the per-link rate still holds).
 * A linear scan is cheap next to what each use stands for.
 *
 * Per link (rate_take): a token bucket kept as one number, the time at
 * which the bucket would be full again (GCRA).  Each check costs 1000/rate
 * ms of it and at most one second's worth may be owed, so a link gets
 * `rate` checks a second in bursts of `rate`.  It counts checks, not
 * failures, and trusts nothing in the request.
 */
#include <limits.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "authproto.h"
#include "net.h"

#define DELAY_COUNT_MAX	((DELAY_CAP_MS - AUTH_FAIL_DELAY_MS) / DELAY_STEP_MS)

long long
delay_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
delay_key(const char *ip, unsigned v6prefix, char *key, size_t keylen)
{
	if (net_client_net_text(ip, v6prefix ? v6prefix : 64, key,
	    keylen) == 0)
		return;
	/* "" would mark a free slot */
	strlcpy(key, "raw:", keylen);
	strlcat(key, ip, keylen);
}

/* The entry of ip's network, or NULL; *spare: the slot a new one takes. */
static struct delay_ent *
delay_find(struct delay_table *t, const char *key, struct delay_ent **spare)
{
	struct delay_ent *e;
	size_t i;

	*spare = NULL;
	for (i = 0; i < DELAY_SLOTS; i++) {
		e = &t->v[i];
		if (e->key[0] != '\0' && strcmp(e->key, key) == 0)
			return e;
		/* a free slot, else the one idle longest */
		if (*spare == NULL || ((*spare)->key[0] != '\0' &&
		    (e->key[0] == '\0' || e->last < (*spare)->last)))
			*spare = e;
	}
	return NULL;
}

int
delay_blocked(struct delay_table *t, const char *ip, long long now)
{
	struct delay_ent *e, *spare;
	char key[DELAY_KEY_MAX];

	delay_key(ip, t->v6prefix, key, sizeof(key));
	if ((e = delay_find(t, key, &spare)) == NULL)
		return 0;
	return t->limit > 0 && e->wcount >= t->limit &&
	    now - e->wstart < t->window_ms;
}

unsigned
delay_fail(struct delay_table *t, const char *ip, long long now)
{
	struct delay_ent *found, *spare;
	char key[DELAY_KEY_MAX];
	unsigned ms;

	delay_key(ip, t->v6prefix, key, sizeof(key));
	if ((found = delay_find(t, key, &spare)) == NULL) {
		found = spare;
		strlcpy(found->key, key, sizeof(found->key));
		found->count = 0;
		found->wcount = 0;
		found->wstart = now;
	} else if (now - found->last >= DELAY_EXPIRE_MS)
		found->count = 0;
	if (now - found->wstart >= t->window_ms) {
		found->wstart = now;
		found->wcount = 0;
	}
	ms = AUTH_FAIL_DELAY_MS + DELAY_STEP_MS * found->count;
	if (ms > DELAY_CAP_MS)
		ms = DELAY_CAP_MS;
	/* counting past the cap would change nothing (and could overflow) */
	if (found->count < DELAY_COUNT_MAX)
		found->count++;
	if (found->wcount < UINT_MAX)
		found->wcount++;
	found->last = now;
	return ms;
}

int
rate_take(long long *tat, long long now, unsigned rate)
{
	long long cost;

	if (rate == 0)
		return 0;
	cost = 1000 / (long long)rate;
	if (cost == 0)
		cost = 1;
	if (*tat < now)
		*tat = now;
	/* owing more than a second's worth: refuse, and charge nothing */
	if (*tat + cost - now > 1000)
		return 0;
	*tat += cost;
	return 1;
}
