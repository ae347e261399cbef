/*
 * dns.c - MX and address lookups for kurir-remote (c-ares on libevent).
 *
 * Runs in kurir-remote as the remote user, chrooted and in the REMOTE
 * seccomp profile.  Input: a destination domain (or a routes_file host)
 * and a port; output: one callback with the addresses to try, in order,
 * or a status and an enhanced status code for the DSN.
 *
 * Why ares_query and nothing higher: ares_gethostbyname and
 * ares_getaddrinfo read /etc/hosts and nsswitch on every call, which the
 * chroot and the sandbox forbid; ares_query only uses the resolver's
 * sockets.  Why one channel for the program's whole life: c-ares 1.18
 * seeds its query-ID generator from /dev/urandom when a channel is made
 * (rand() if that fails), so a channel made inside the sandbox would send
 * guessable IDs.  dns_set_server therefore changes the servers of the
 * channel dns_init made.
 *
 * The event loop: c-ares says which sockets it wants watched through
 * ARES_OPT_SOCK_STATE_CB (one persistent event each), the events call
 * ares_process_fd, and one timer set from ares_timeout drives
 * retransmissions and timeouts.
 *
 * A request: an MX lookup (skipped for dns_resolve_host), then AAAA and
 * A lookups for each chosen host, all in flight together; it ends when
 * the last answer is in.  Its callback always comes from its own event
 * (ev_done), never from inside c-ares or dns_resolve_*, so the caller
 * may do anything there (free its session, ask again, shut down).
 */
#include <sys/queue.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ares.h>
#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "dns.h"
#include "log.h"

#define DNS_NAME_MAX	255	/* RFC 1035 2.3.4, as text without the root dot */
#define DNS_WHY_MAX	640	/* status code + text with two names */
#define DNS_MX_SEEN_MAX	256	/* MX records sorted, at most (the rest: ignored) */
#define DNS_NOMEM_MAX	64	/* requests failed for want of memory, queued */

/*
 * Per try; c-ares doubles it for each round over the servers, so with
 * one server a lookup gives up after 1 + 2 + 4 = 7 seconds.  Not
 * constants: the unit tests, which include this file, shorten them.
 */
static int dns_timeout_ms = 1000;
static int dns_tries = 3;

enum dns_kind { DK_MX, DK_HOST };
enum dns_stage { DS_MX, DS_ADDR, DS_DONE };

struct dns_host {
	char		 name[DNS_NAME_MAX + 1];
	struct in6_addr	 a6[DNS_TARGETS_MAX];
	struct in_addr	 a4[DNS_TARGETS_MAX];
	int		 n6, n4;
	int		 st6, st4;	/* ARES_SUCCESS or why there is none */
};

struct dns_req {
	enum dns_kind	 kind;
	enum dns_stage	 stage;
	char		 name[DNS_NAME_MAX + 1];	/* domain or host, checked */
	unsigned short	 port;
	dns_cb		 cb;
	void		*arg;
	int		 refs;		/* lookups in flight, +1 while issuing */
	int		 cancelled;
	int		 implicit;	/* no MX: the domain is its own host */
	struct dns_host	 hosts[DNS_MX_MAX];
	size_t		 nhosts;
	enum dns_status	 status;
	char		 why[DNS_WHY_MAX];
	struct dns_target targets[DNS_TARGETS_MAX];
	size_t		 ntargets;
	struct event	*ev_done;
	TAILQ_ENTRY(dns_req) entry;
};

/* One ares_query in flight: c-ares' callback argument. */
struct dns_query {
	struct dns_req	*req;
	int		 type;		/* ns_t_mx, ns_t_aaaa, ns_t_a */
	size_t		 host;		/* AAAA, A: index into req->hosts */
	TAILQ_ENTRY(dns_query) entry;	/* on D.restart */
};

/* A socket c-ares asked us to watch. */
struct dns_sock {
	ares_socket_t	 fd;
	struct event	*ev;
	TAILQ_ENTRY(dns_sock) entry;
};

static struct {
	struct event_base *base;	/* NULL: not initialised */
	ares_channel	 chan;
	int		 stopping;	/* inside dns_shutdown */
	int		 restarting;	/* inside dns_set_server's ares_cancel */
	struct event	*timer;
	struct ares_addr_port_node *dflt;	/* resolv.conf's servers */
	char		 server[64];	/* as configured; "": resolv.conf's */
	TAILQ_HEAD(, dns_sock) socks;
	TAILQ_HEAD(, dns_req) reqs;
	TAILQ_HEAD(, dns_query) restart;
	/* out of memory: the callbacks still have to come from the loop */
	struct event	*ev_nomem;
	struct { dns_cb cb; void *arg; } nomem[DNS_NOMEM_MAX];
	size_t		 nnomem;
} D;

static const char nomem_why[] = "4.4.3 DNS lookup failed: out of memory";

static void	req_advance(struct dns_req *);
static void	query_cb(void *, int, int, unsigned char *, int);

/* ---- c-ares on the event loop ------------------------------------------- */

/*
 * Arm the timer for c-ares' next retransmission or timeout.  ares_timeout
 * rounds down to the millisecond; one more keeps the timer from firing
 * just before the deadline, again and again, until it passes.
 */
static void
dns_timer_update(void)
{
	struct timeval tv, *tvp;

	if (D.chan == NULL || D.timer == NULL)
		return;
	if ((tvp = ares_timeout(D.chan, NULL, &tv)) == NULL) {
		(void)evtimer_del(D.timer);
		return;
	}
	tv = *tvp;
	if ((tv.tv_usec += 1000) >= 1000000) {
		tv.tv_sec++;
		tv.tv_usec -= 1000000;
	}
	if (evtimer_add(D.timer, &tv) == -1)
		log_warnx("dns: cannot arm the timer");
}

static void
dns_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	ares_process_fd(D.chan, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	dns_timer_update();
}

static void
dns_sock_cb(evutil_socket_t fd, short what, void *arg)
{
	ares_process_fd(D.chan, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
	    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	dns_timer_update();
}

static void
dns_sock_free(struct dns_sock *s)
{
	TAILQ_REMOVE(&D.socks, s, entry);
	if (s->ev != NULL)
		event_free(s->ev);
	free(s);
}

/*
 * ARES_OPT_SOCK_STATE_CB: c-ares opened, changed or (both 0) is about to
 * close a socket.  It may run inside dns_sock_cb for the very socket
 * being closed; event_free is safe there.  If watching fails, the
 * lookups on that socket still end: the timer times them out.
 */
static void
dns_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns_sock *s;
	short what;

	TAILQ_FOREACH(s, &D.socks, entry)
		if (s->fd == fd)
			break;
	if (!readable && !writable) {
		if (s != NULL)
			dns_sock_free(s);
		return;
	}
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL) {
			log_warn("dns: socket %d not watched", (int)fd);
			return;
		}
		s->fd = fd;
		TAILQ_INSERT_TAIL(&D.socks, s, entry);
	} else if (s->ev != NULL) {
		event_free(s->ev);
		s->ev = NULL;
	}
	what = EV_PERSIST | (readable ? EV_READ : 0) |
	    (writable ? EV_WRITE : 0);
	if ((s->ev = event_new(D.base, fd, what, dns_sock_cb, NULL)) == NULL ||
	    event_add(s->ev, NULL) == -1) {
		log_warnx("dns: socket %d not watched", (int)fd);
		dns_sock_free(s);
	}
}

/* ---- requests ----------------------------------------------------------- */

static const char *
dns_strerror(int status)
{
	static const struct {
		int		 status;
		const char	*text;
	} t[] = {
		{ ARES_ETIMEOUT, "timeout" },
		{ ARES_ESERVFAIL, "server failure (SERVFAIL)" },
		{ ARES_EREFUSED, "refused by the server" },
		/*
		 * c-ares 1.18 also ends here when every try got SERVFAIL,
		 * REFUSED or NOTIMP: it moves on to the next server, then
		 * reports its initial status.
		 */
		{ ARES_ECONNREFUSED,
		    "no usable answer (SERVFAIL, REFUSED or no server)" },
		{ ARES_EBADRESP, "malformed reply" },
		{ ARES_EFORMERR, "format error" },
		{ ARES_ENOTIMP, "not implemented by the server" },
		{ ARES_ENOMEM, "out of memory" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].status == status)
			return t[i].text;
	return ares_strerror(status);
}

/* Hand the callback to the loop: the request is finished. */
static void
req_finish(struct dns_req *req, enum dns_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void
req_finish(struct dns_req *req, enum dns_status st, const char *fmt, ...)
{
	va_list ap;

	if (req->stage == DS_DONE)
		return;
	req->stage = DS_DONE;
	req->status = st;
	if (fmt != NULL) {
		va_start(ap, fmt);
		/* names in the text are checked (at most 255 bytes): fits */
		(void)vsnprintf(req->why, sizeof(req->why), fmt, ap);
		va_end(ap);
	}
	if (!D.stopping)
		event_active(req->ev_done, EV_TIMEOUT, 1);
}

static void
req_cancel(struct dns_req *req)
{
	req_finish(req, DNS_TEMP, "4.4.3 DNS lookup of %s cancelled",
	    req->name[0] != '\0' ? req->name : "a destination");
}

static void
req_deliver(struct dns_req *req)
{
	int ok = req->status == DNS_OK;

	if (req->stage != DS_DONE) {
		req_cancel(req);
		ok = 0;
	}
	req->cb(req->arg, req->status, ok ? NULL : req->why,
	    ok ? req->targets : NULL, ok ? req->ntargets : 0);
	event_free(req->ev_done);
	free(req);
}

static void
req_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_req *req = arg;

	/* off the list first: the callback may call dns_shutdown */
	TAILQ_REMOVE(&D.reqs, req, entry);
	req_deliver(req);
}

static void
nomem_cb(evutil_socket_t fd, short what, void *arg)
{
	dns_cb cb;
	void *cbarg;

	while (D.nnomem > 0) {
		cb = D.nomem[0].cb;
		cbarg = D.nomem[0].arg;
		D.nnomem--;
		memmove(&D.nomem[0], &D.nomem[1],
		    D.nnomem * sizeof(D.nomem[0]));
		cb(cbarg, DNS_TEMP, nomem_why, NULL, 0);
	}
}

/*
 * A new request, on the list, or NULL when there is no memory for one:
 * its callback has been queued (or, with nothing initialised to defer
 * with, made at once: the one synchronous callback, a caller's bug).
 */
static struct dns_req *
req_new(enum dns_kind kind, unsigned short port, dns_cb cb, void *arg)
{
	struct dns_req *req;

	if (D.base == NULL) {
		log_warnx("dns: lookup before dns_init or after dns_shutdown");
		cb(arg, DNS_TEMP, "4.4.3 DNS resolver not running", NULL, 0);
		return NULL;
	}
	if ((req = calloc(1, sizeof(*req))) == NULL ||
	    (req->ev_done = evtimer_new(D.base, req_done_cb, req)) == NULL) {
		log_warn("dns: new request");
		free(req);
		if (D.nnomem == DNS_NOMEM_MAX) {
			cb(arg, DNS_TEMP, nomem_why, NULL, 0);
			return NULL;
		}
		D.nomem[D.nnomem].cb = cb;
		D.nomem[D.nnomem++].arg = arg;
		event_active(D.ev_nomem, EV_TIMEOUT, 1);
		return NULL;
	}
	req->kind = kind;
	req->port = port;
	req->cb = cb;
	req->arg = arg;
	TAILQ_INSERT_TAIL(&D.reqs, req, entry);
	return req;
}

static void
req_release(struct dns_req *req)
{
	if (--req->refs == 0)
		req_advance(req);
}

static const char *
query_name(const struct dns_query *q)
{
	return q->type == ns_t_mx ? q->req->name : q->req->hosts[q->host].name;
}

static void
req_result(struct dns_req *, int, size_t, int, const unsigned char *, int);

/* Ask c-ares; the answer comes to query_cb (possibly before this returns). */
static void
req_query(struct dns_req *req, int type, size_t host)
{
	struct dns_query *q;

	if ((q = calloc(1, sizeof(*q))) == NULL) {
		log_warn("dns: new query");
		req_result(req, type, host, ARES_ENOMEM, NULL, 0);
		return;
	}
	q->req = req;
	q->type = type;
	q->host = host;
	req->refs++;
	ares_query(D.chan, query_name(q), ns_c_in, type, query_cb, q);
}

static void
query_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_query *q = arg;
	struct dns_req *req = q->req;

	if (D.restarting && status == ARES_ECANCELLED) {
		/* dns_set_server asks again of the new server */
		TAILQ_INSERT_TAIL(&D.restart, q, entry);
		return;
	}
	req_result(req, q->type, q->host, status, abuf, alen);
	free(q);
	req_release(req);
}

/* ---- MX ----------------------------------------------------------------- */

struct mx_rec {
	unsigned short	 pref;
	const char	*host;
};

static int
mx_cmp(const void *a, const void *b)
{
	const struct mx_rec *x = a, *y = b;

	return (int)x->pref - (int)y->pref;
}

/* RFC 5321 5.1: equal preferences are tried in random order. */
static void
mx_shuffle(struct mx_rec *r, size_t n)
{
	struct mx_rec t;
	size_t i, j, k, m;

	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && r[j].pref == r[i].pref; j++)
			;
		for (k = j - 1; k > i; k--) {
			m = i + arc4random_uniform((uint32_t)(k - i + 1));
			t = r[k];
			r[k] = r[m];
			r[m] = t;
		}
	}
}

static int
host_valid(const char *name)
{
	return strlen(name) <= DNS_NAME_MAX && addr_domain_valid(name, 0);
}

/* The domain is its own mail host (RFC 5321 5.1, no MX records). */
static void
req_implicit(struct dns_req *req)
{
	req->implicit = 1;
	req->nhosts = 1;
	(void)strlcpy(req->hosts[0].name, req->name,
	    sizeof(req->hosts[0].name));
}

static void
req_mx(struct dns_req *req, int status, const unsigned char *abuf, int alen)
{
	struct ares_mx_reply *mx = NULL, *m;
	struct mx_rec rec[DNS_MX_SEEN_MAX];
	size_t n = 0, nnull = 0, i, k;

	switch (status) {
	case ARES_SUCCESS:
		break;
	case ARES_ENODATA:
		req_implicit(req);
		return;
	case ARES_ENOTFOUND:
		req_finish(req, DNS_PERM, "5.1.2 no such domain %s", req->name);
		return;
	default:
		req_finish(req, DNS_TEMP, "4.4.3 DNS lookup of %s failed: %s",
		    req->name, dns_strerror(status));
		return;
	}
	if ((status = ares_parse_mx_reply(abuf, alen, &mx)) != ARES_SUCCESS) {
		/* answers, none of them MX (a CNAME to a name without any) */
		if (status == ARES_ENODATA)
			req_implicit(req);
		else
			req_finish(req, DNS_TEMP, "4.4.3 DNS lookup of %s "
			    "failed: %s", req->name, dns_strerror(status));
		return;
	}
	for (m = mx; m != NULL && n < DNS_MX_SEEN_MAX; m = m->next, n++) {
		rec[n].pref = m->priority;
		rec[n].host = m->host;
		/* c-ares writes the root name "." as "" */
		if (m->host[0] == '\0' || strcmp(m->host, ".") == 0)
			nnull++;
	}
	/*
	 * RFC 7505: a null MX is the only MX record.  Several null records
	 * mean the same; a null one beside real ones is skipped as not a
	 * host name, and the real ones are used.
	 */
	if (n > 0 && nnull == n) {
		ares_free_data(mx);
		req_finish(req, DNS_PERM, "5.1.10 %s accepts no mail (null MX)",
		    req->name);
		return;
	}
	qsort(rec, n, sizeof(rec[0]), mx_cmp);
	mx_shuffle(rec, n);
	for (i = 0; i < n && req->nhosts < DNS_MX_MAX; i++) {
		if (!host_valid(rec[i].host)) {
			log_debug("dns: %s: MX host \"%.80s\" is not a host "
			    "name, skipped", req->name, rec[i].host);
			continue;
		}
		for (k = 0; k < req->nhosts; k++)
			if (strcasecmp(req->hosts[k].name, rec[i].host) == 0)
				break;
		if (k < req->nhosts)
			continue;	/* listed twice: the better preference */
		(void)strlcpy(req->hosts[req->nhosts++].name, rec[i].host,
		    sizeof(req->hosts[0].name));
	}
	ares_free_data(mx);
}

/* ---- addresses ---------------------------------------------------------- */

static void
host_aaaa(struct dns_host *h, int status, const unsigned char *abuf, int alen)
{
	struct ares_addr6ttl t[DNS_TARGETS_MAX];
	int n = DNS_TARGETS_MAX, i;

	if (status == ARES_SUCCESS)
		status = ares_parse_aaaa_reply(abuf, alen, NULL, t, &n);
	if (status == ARES_SUCCESS) {
		for (i = 0; i < n && i < DNS_TARGETS_MAX; i++) {
			memcpy(&h->a6[h->n6], &t[i].ip6addr, 16);
			/* :: would connect to this host: never a mail host */
			if (!IN6_IS_ADDR_UNSPECIFIED(&h->a6[h->n6]))
				h->n6++;
		}
		if (h->n6 == 0)
			status = ARES_ENODATA;
	}
	h->st6 = status;
}

static void
host_a(struct dns_host *h, int status, const unsigned char *abuf, int alen)
{
	struct ares_addrttl t[DNS_TARGETS_MAX];
	int n = DNS_TARGETS_MAX, i;

	if (status == ARES_SUCCESS)
		status = ares_parse_a_reply(abuf, alen, NULL, t, &n);
	if (status == ARES_SUCCESS) {
		for (i = 0; i < n && i < DNS_TARGETS_MAX; i++) {
			if (t[i].ipaddr.s_addr == htonl(INADDR_ANY))
				continue;
			h->a4[h->n4++] = t[i].ipaddr;
		}
		if (h->n4 == 0)
			status = ARES_ENODATA;
	}
	h->st4 = status;
}

static void
req_result(struct dns_req *req, int type, size_t host, int status,
    const unsigned char *abuf, int alen)
{
	if (status == ARES_ECANCELLED || status == ARES_EDESTRUCTION) {
		req->cancelled = 1;
		return;
	}
	if (req->stage == DS_DONE)
		return;
	if (type == ns_t_mx)
		req_mx(req, status, abuf, alen);
	else if (type == ns_t_aaaa)
		host_aaaa(&req->hosts[host], status, abuf, alen);
	else
		host_a(&req->hosts[host], status, abuf, alen);
}

static void
target_add(struct dns_req *req, const char *host, int family,
    const void *addr)
{
	struct dns_target *t;
	struct sockaddr_in *s4;
	struct sockaddr_in6 *s6;
	size_t i;

	if (req->ntargets == DNS_TARGETS_MAX)
		return;
	/* two MX names for one machine: one try is enough */
	for (i = 0; i < req->ntargets; i++) {
		t = &req->targets[i];
		if (t->ss.ss_family != family)
			continue;
		if (family == AF_INET6 && memcmp(&((struct sockaddr_in6 *)
		    &t->ss)->sin6_addr, addr, 16) == 0)
			return;
		if (family == AF_INET && memcmp(&((struct sockaddr_in *)
		    &t->ss)->sin_addr, addr, 4) == 0)
			return;
	}
	t = &req->targets[req->ntargets++];
	(void)strlcpy(t->host, host, sizeof(t->host));
	memset(&t->ss, 0, sizeof(t->ss));
	if (family == AF_INET6) {
		s6 = (struct sockaddr_in6 *)&t->ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(req->port);
		memcpy(&s6->sin6_addr, addr, 16);
		t->sslen = sizeof(*s6);
	} else {
		s4 = (struct sockaddr_in *)&t->ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(req->port);
		memcpy(&s4->sin_addr, addr, 4);
		t->sslen = sizeof(*s4);
	}
}

static int
st_temp(int st)
{
	return st != ARES_SUCCESS && st != ARES_ENODATA &&
	    st != ARES_ENOTFOUND;
}

/* Every lookup is in: the targets, or why there are none. */
static void
req_build(struct dns_req *req)
{
	const struct dns_host *h, *failed = NULL;
	size_t i;
	int j, allnx = 1, st = ARES_SUCCESS;

	for (i = 0; i < req->nhosts; i++) {
		h = &req->hosts[i];
		for (j = 0; j < h->n6; j++)
			target_add(req, h->name, AF_INET6, &h->a6[j]);
		for (j = 0; j < h->n4; j++)
			target_add(req, h->name, AF_INET, &h->a4[j]);
		if (h->st6 != ARES_ENOTFOUND || h->st4 != ARES_ENOTFOUND)
			allnx = 0;
		if (failed == NULL && (st_temp(h->st6) || st_temp(h->st4))) {
			failed = h;
			st = st_temp(h->st6) ? h->st6 : h->st4;
		}
	}
	if (req->ntargets > 0) {
		log_debug("dns: %s: %zu address%s", req->name, req->ntargets,
		    req->ntargets == 1 ? "" : "es");
		req_finish(req, DNS_OK, NULL);
	} else if (failed != NULL)
		req_finish(req, DNS_TEMP, "4.4.3 DNS lookup of %s failed: %s",
		    failed->name, dns_strerror(st));
	else if (req->kind == DK_HOST)
		req_finish(req, DNS_TEMP, "4.4.4 no address for host %s%s",
		    req->name, allnx ? " (no such domain)" : "");
	else if (req->implicit)
		req_finish(req, allnx ? DNS_PERM : DNS_TEMP, allnx ?
		    "5.1.2 no such domain %s" : "4.4.4 %s has no MX and no "
		    "address records", req->name);
	else if (allnx)
		req_finish(req, DNS_PERM, "5.4.4 no MX host of %s exists",
		    req->name);
	else
		req_finish(req, DNS_TEMP, "4.4.4 no MX host of %s has an "
		    "address", req->name);
}

/* The lookups of one stage are in (or there were none). */
static void
req_advance(struct dns_req *req)
{
	size_t i;

	if (req->stage == DS_DONE)
		return;
	if (req->cancelled || D.stopping || D.chan == NULL) {
		req_cancel(req);
		return;
	}
	if (req->stage == DS_MX) {
		req->stage = DS_ADDR;
		req->refs++;
		for (i = 0; i < req->nhosts; i++) {
			req_query(req, ns_t_aaaa, i);
			req_query(req, ns_t_a, i);
		}
		req_release(req);
		return;
	}
	req_build(req);
}

/* ---- literals and names ------------------------------------------------- */

/*
 * "[192.0.2.1]", "[IPv6:2001:db8::1]" (RFC 5321 4.1.3), and, from a
 * route, bare addresses: into h.  1 done, 0 not an address, -1 a broken
 * literal or 0.0.0.0 / :: (which would reach this very host).
 */
static int
dns_literal(const char *s, int bare_ok, struct dns_host *h)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *a = s;
	size_t len = strlen(s);
	int tagged = 0;

	if (s[0] == '[') {
		if (len < 3 || s[len - 1] != ']' || len - 2 >= sizeof(buf))
			return -1;
		memcpy(buf, s + 1, len - 2);
		buf[len - 2] = '\0';
		if (strncasecmp(buf, "IPv6:", 5) == 0) {
			a = buf + 5;
			tagged = 1;
		} else
			a = buf;
	} else if (!bare_ok)
		return 0;
	if (!tagged && inet_pton(AF_INET, a, &h->a4[0]) == 1) {
		h->n4 = 1;
		return h->a4[0].s_addr == htonl(INADDR_ANY) ? -1 : 1;
	}
	if (inet_pton(AF_INET6, a, &h->a6[0]) == 1) {
		h->n6 = 1;
		return IN6_IS_ADDR_UNSPECIFIED(&h->a6[0]) ? -1 : 1;
	}
	return s[0] == '[' ? -1 : 0;
}

/* A name to ask for: at most 255 bytes, one trailing dot dropped. */
static int
dns_name(struct dns_req *req, const char *s)
{
	size_t len = strnlen(s, DNS_NAME_MAX + 2);

	if (len > 1 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_NAME_MAX)
		return -1;
	memcpy(req->name, s, len);
	req->name[len] = '\0';
	return addr_domain_valid(req->name, 0) ? 0 : -1;
}

/*
 * Both entry points.  A bad MX domain is permanent; a bad route host is
 * the admin's to mend, so the mail waits (4.4.4) instead of bouncing.
 */
static void
dns_start(enum dns_kind kind, const char *s, unsigned short port, dns_cb cb,
    void *arg)
{
	enum dns_status bad = kind == DK_MX ? DNS_PERM : DNS_TEMP;
	const char *code = kind == DK_MX ? "5.1.2" : "4.4.4";
	struct dns_req *req;
	int lit;

	if ((req = req_new(kind, port, cb, arg)) == NULL)
		return;
	if ((lit = dns_literal(s, kind == DK_HOST, &req->hosts[0])) == -1) {
		req_finish(req, bad, "%s bad address literal", code);
		return;
	}
	if (lit == 1)	/* dns_literal took at most 54 bytes */
		(void)strlcpy(req->name, s, sizeof(req->name));
	else if (dns_name(req, s) == -1) {
		req_finish(req, bad, "%s bad %s name", code,
		    kind == DK_MX ? "destination domain" : "route host");
		return;
	}
	(void)strlcpy(req->hosts[0].name, req->name,
	    sizeof(req->hosts[0].name));
	if (lit == 1) {
		req->nhosts = 1;
		req_build(req);
		return;
	}
	if (D.stopping || D.chan == NULL) {
		req_cancel(req);
		return;
	}
	req->refs++;
	if (kind == DK_MX)
		req_query(req, ns_t_mx, 0);
	else
		req->nhosts = 1;	/* its one "MX" is itself */
	req_release(req);
	dns_timer_update();
}

void
dns_resolve_mx(const char *domain, unsigned short port, dns_cb cb, void *arg)
{
	dns_start(DK_MX, domain, port, cb, arg);
}

void
dns_resolve_host(const char *host, unsigned short port, dns_cb cb, void *arg)
{
	dns_start(DK_HOST, host, port, cb, arg);
}

/* ---- set-up --------------------------------------------------------------- */

/* "ip", "ip:port", "[ip6]", "[ip6]:port", "ip6" (port 53) */
static int
dns_parse_server(const char *s, struct ares_addr_port_node *n, char *err,
    size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *end, *port = NULL, *errstr;
	size_t hlen;
	long long p = 53;

	memset(n, 0, sizeof(*n));
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL ||
		    (end[1] != '\0' && end[1] != ':'))
			goto bad;
		hlen = (size_t)(end - s - 1);
		s++;
		if (end[1] == ':')
			port = end + 2;
	} else if ((end = strchr(s, ':')) != NULL &&
	    strchr(end + 1, ':') == NULL) {
		hlen = (size_t)(end - s);	/* one colon: v4 and a port */
		port = end + 1;
	} else
		hlen = strlen(s);
	if (hlen == 0 || hlen >= sizeof(host))
		goto bad;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (port != NULL) {
		/* strtonum would take " 1" and "+1" */
		if (port[0] < '0' || port[0] > '9')
			goto bad;
		p = strtonum(port, 1, 65535, &errstr);
		if (errstr != NULL)
			goto bad;
	}
	if (inet_pton(AF_INET, host, &n->addr.addr4) == 1)
		n->family = AF_INET;
	else if (inet_pton(AF_INET6, host, &n->addr.addr6) == 1)
		n->family = AF_INET6;
	else
		goto bad;
	n->udp_port = n->tcp_port = (int)p;
	return 0;
bad:
	(void)snprintf(err, errlen, "dns_server: expected ip, ip:port or "
	    "[ip6]:port");
	return -1;
}

int
dns_init(struct event_base *base, const char *server, char *err,
    size_t errlen)
{
	static char lookups[] = "b";	/* never files: no ares_gethostbyname */
	struct ares_options o;
	struct ares_addr_port_node srv;
	int rc;

	if (D.base != NULL) {
		(void)snprintf(err, errlen, "dns: already initialised");
		return -1;
	}
	if (server != NULL && server[0] == '\0')
		server = NULL;
	if (server != NULL && dns_parse_server(server, &srv, err, errlen) == -1)
		return -1;
	if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		(void)snprintf(err, errlen, "dns: %s", ares_strerror(rc));
		return -1;
	}
	TAILQ_INIT(&D.socks);
	TAILQ_INIT(&D.reqs);
	TAILQ_INIT(&D.restart);
	D.base = base;
	memset(&o, 0, sizeof(o));
	/*
	 * No EDNS: c-ares 1.18 turns it off for the whole channel at the
	 * first SERVFAIL anyway, so replies over 512 bytes come over TCP
	 * (c-ares retries there by itself), always the same way.
	 */
	o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	o.timeout = dns_timeout_ms;
	o.tries = dns_tries;
	o.lookups = lookups;
	o.sock_state_cb = dns_sock_state;
	o.sock_state_cb_data = NULL;
	/* the servers come from resolv.conf, read now, before the chroot */
	if ((rc = ares_init_options(&D.chan, &o, ARES_OPT_FLAGS |
	    ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS |
	    ARES_OPT_SOCK_STATE_CB)) != ARES_SUCCESS) {
		(void)snprintf(err, errlen, "dns: %s", ares_strerror(rc));
		D.chan = NULL;
		goto fail;
	}
	if ((rc = ares_get_servers_ports(D.chan, &D.dflt)) != ARES_SUCCESS ||
	    (server != NULL &&
	    (rc = ares_set_servers_ports(D.chan, &srv)) != ARES_SUCCESS)) {
		(void)snprintf(err, errlen, "dns: servers: %s",
		    ares_strerror(rc));
		goto fail;
	}
	(void)strlcpy(D.server, server != NULL ? server : "", sizeof(D.server));
	if ((D.timer = evtimer_new(base, dns_timer_cb, NULL)) == NULL ||
	    (D.ev_nomem = evtimer_new(base, nomem_cb, NULL)) == NULL) {
		(void)snprintf(err, errlen, "dns: event_new failed");
		goto fail;
	}
	return 0;
fail:
	dns_shutdown();
	return -1;
}

int
dns_set_server(const char *server, char *err, size_t errlen)
{
	struct ares_addr_port_node srv, *list = D.dflt;
	struct dns_query *q;
	int rc;

	if (D.chan == NULL || D.stopping) {
		(void)snprintf(err, errlen, "dns: not running");
		return -1;
	}
	if (server != NULL && server[0] == '\0')
		server = NULL;
	/* a reload that keeps the server keeps the lookups in flight */
	if (strcmp(server != NULL ? server : "", D.server) == 0)
		return 0;
	if (server != NULL) {
		if (dns_parse_server(server, &srv, err, errlen) == -1)
			return -1;
		list = &srv;
	}
	/*
	 * c-ares 1.18 refuses new servers while a query is queued, and a
	 * queued query stays with its server; so take them all back, switch,
	 * and ask again.  Their callbacks go to D.restart (query_cb).
	 */
	D.restarting = 1;
	ares_cancel(D.chan);
	D.restarting = 0;
	rc = ares_set_servers_ports(D.chan, list);
	while ((q = TAILQ_FIRST(&D.restart)) != NULL) {
		TAILQ_REMOVE(&D.restart, q, entry);
		ares_query(D.chan, query_name(q), ns_c_in, q->type, query_cb,
		    q);
	}
	dns_timer_update();
	if (rc != ARES_SUCCESS) {
		(void)snprintf(err, errlen, "dns: servers: %s",
		    ares_strerror(rc));
		return -1;
	}
	(void)strlcpy(D.server, server != NULL ? server : "", sizeof(D.server));
	return 0;
}

void
dns_shutdown(void)
{
	struct dns_req *req;
	struct dns_sock *s;

	if (D.base == NULL || D.stopping)
		return;
	D.stopping = 1;
	/* every query's callback runs now with ARES_EDESTRUCTION */
	if (D.chan != NULL)
		ares_destroy(D.chan);
	D.chan = NULL;
	/* callbacks may ask for more: those are cancelled in this loop too */
	while ((req = TAILQ_FIRST(&D.reqs)) != NULL) {
		TAILQ_REMOVE(&D.reqs, req, entry);
		(void)event_del(req->ev_done);
		req_deliver(req);
	}
	if (D.nnomem > 0)
		nomem_cb(-1, 0, NULL);
	while ((s = TAILQ_FIRST(&D.socks)) != NULL)
		dns_sock_free(s);
	if (D.timer != NULL)
		event_free(D.timer);
	if (D.ev_nomem != NULL)
		event_free(D.ev_nomem);
	if (D.dflt != NULL)
		ares_free_data(D.dflt);
	ares_library_cleanup();
	memset(&D, 0, sizeof(D));
}
