/*
 * check_dns.c - unit tests for kurir-remote's DNS module (remote/dns.c),
 * against tests/e2e/dnsserver.py on a free loopback port, through a real
 * libevent loop.
 * Covers: MX preference order, random order among equal preferences,
 * the implicit MX, null MX, NXDOMAIN, SERVFAIL/REFUSED, no answer (short
 * c-ares timeouts), MX hosts without addresses or with bad names, AAAA
 * before A with the port set, CNAMEs, duplicates, address literals,
 * route hosts, bounds (50 MX hosts, 80 addresses, long names, a reply
 * that needs TCP), the callback never made synchronously, many requests
 * at once, dns_set_server (also with lookups in flight), dns_shutdown
 * with requests outstanding, and a lookup inside the REMOTE seccomp
 * sandbox.
 * Runs from the repository root (tests/run-unit.sh does); needs python3
 * with dnslib (tools/bootstrap.sh test).  Runs as any user.
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sandbox.h"
#include "../remote/dns.c"

static pid_t srv_pid = -1;
static int srv_stdin = -1;
static int srv_port;
static char srv_addr[64];
static char zone_path[64];

static struct event_base *base;
static int in_call;		/* inside a dns_* call: no callback allowed */

struct result {
	int		 calls;
	enum dns_status	 st;
	char		 why[DNS_WHY_MAX];
	struct dns_target t[DNS_TARGETS_MAX];
	size_t		 n;
	void		(*then)(struct result *);	/* run inside the callback */
};

/* ---- the test DNS server ------------------------------------------------ */

static void
zone_write(FILE *f)
{
	int i;

	fputs("{\n"
	    "\"order.test\": {\"MX\": [[20, \"mx2.order.test\"], "
	    "[10, \"mx1.order.test\"], [30, \"mx3.order.test\"]]},\n"
	    "\"mx1.order.test\": {\"A\": [\"192.0.2.1\"], "
	    "\"AAAA\": [\"2001:db8::1\"]},\n"
	    "\"mx2.order.test\": {\"A\": [\"192.0.2.2\"]},\n"
	    "\"mx3.order.test\": {\"AAAA\": [\"2001:db8::3\"]},\n"
	    "\"equal.test\": {\"MX\": [[10, \"a.equal.test\"], "
	    "[10, \"b.equal.test\"], [5, \"first.equal.test\"], "
	    "[20, \"last.equal.test\"]]},\n"
	    "\"a.equal.test\": {\"A\": [\"192.0.2.11\"]},\n"
	    "\"b.equal.test\": {\"A\": [\"192.0.2.12\"]},\n"
	    "\"first.equal.test\": {\"A\": [\"192.0.2.10\"]},\n"
	    "\"last.equal.test\": {\"A\": [\"192.0.2.13\"]},\n"
	    "\"implicit.test\": {\"A\": [\"192.0.2.20\"], "
	    "\"AAAA\": [\"2001:db8::20\"]},\n"
	    "\"nomail.test\": {\"MX\": [[0, \".\"]]},\n"
	    "\"nullplus.test\": {\"MX\": [[0, \".\"], [10, \"mx2.order.test\"]]},\n"
	    "\"broken.test\": {\"rcode\": \"SERVFAIL\"},\n"
	    "\"noaddr.test\": {\"MX\": [[10, \"empty.noaddr.test\"]]},\n"
	    "\"empty.noaddr.test\": {},\n"
	    "\"nxmx.test\": {\"MX\": [[10, \"gone.nxmx.test\"], "
	    "[20, \"gone2.nxmx.test\"]]},\n"
	    "\"partial.test\": {\"MX\": [[10, \"empty.noaddr.test\"], "
	    "[20, \"gone.nxmx.test\"], [30, \"mx2.order.test\"]]},\n"
	    "\"halffail.test\": {\"MX\": [[10, \"hf.halffail.test\"]]},\n"
	    "\"hf.halffail.test\": {\"A\": [\"192.0.2.30\"], "
	    "\"AAAA\": \"SERVFAIL\"},\n"
	    "\"allfail.test\": {\"MX\": [[10, \"servfail.allfail.test\"], "
	    "[20, \"empty.noaddr.test\"]]},\n"
	    "\"slowmx.test\": {\"MX\": [[10, \"timeout.slowmx.test\"]]},\n"
	    "\"badname.test\": {\"MX\": [[10, \"bad_name.badname.test\"], "
	    "[15, \"192.0.2.99\"], [20, \"mx2.order.test\"]]},\n"
	    "\"onlybad.test\": {\"MX\": [[10, \"bad_name.onlybad.test\"]]},\n"
	    "\"bad_name.badname.test\": {\"A\": [\"192.0.2.98\"]},\n"
	    "\"bad_name.onlybad.test\": {\"A\": [\"192.0.2.98\"]},\n"
	    "\"dup.test\": {\"MX\": [[10, \"a.dup.test\"], [20, \"b.dup.test\"], "
	    "[30, \"A.dup.test\"]]},\n"
	    "\"a.dup.test\": {\"A\": [\"192.0.2.40\"]},\n"
	    "\"b.dup.test\": {\"A\": [\"192.0.2.40\", \"192.0.2.41\"]},\n"
	    "\"cname.test\": {\"MX\": [[10, \"alias.cname.test\"]]},\n"
	    "\"alias.cname.test\": {\"CNAME\": \"mx1.order.test\"},\n"
	    "\"zero.test\": {\"A\": [\"0.0.0.0\", \"192.0.2.50\"], "
	    "\"AAAA\": [\"::\"]},\n"
	    "\"many.test\": {\"MX\": [[10, \"many.many.test\"], "
	    "[20, \"mx2.order.test\"]]},\n", f);
	fputs("\"many.many.test\": {\"A\": [", f);
	for (i = 0; i < 40; i++)
		fprintf(f, "%s\"10.1.0.%d\"", i ? ", " : "", i + 1);
	fputs("], \"AAAA\": [", f);
	for (i = 0; i < 40; i++)
		fprintf(f, "%s\"2001:db8:1::%x\"", i ? ", " : "", i + 1);
	fputs("]},\n\"big.test\": {\"MX\": [", f);
	/* the reply outgrows 512 bytes: truncated, then asked over TCP */
	for (i = 0; i < 50; i++)
		fprintf(f, "%s[%d, \"host-number-%02d.mx.big.test\"]",
		    i ? ", " : "", 100 - i, 49 - i);
	fputs("]}", f);
	for (i = 0; i < 50; i++)
		fprintf(f, ",\n\"host-number-%02d.mx.big.test\": "
		    "{\"A\": [\"10.2.0.%d\"]}", i, i + 1);
	fputs("\n}\n", f);
}

static const char *
repo_file(const char *rel, char *buf, size_t len)
{
	static const char *const up[] = { "", "../", "../../" };
	size_t i;

	for (i = 0; i < sizeof(up) / sizeof(up[0]); i++) {
		snprintf(buf, len, "%s%s", up[i], rel);
		if (access(buf, R_OK) == 0)
			return buf;
	}
	return NULL;
}

static void
server_start(void)
{
	char script[256], line[32];
	const char *py = access("/usr/bin/python3", X_OK) == 0 ?
	    "/usr/bin/python3" : "python3";
	int out[2], in[2], fd, n;
	size_t got = 0;
	struct pollfd pfd;
	FILE *f;

	ck_assert_msg(repo_file("tests/e2e/dnsserver.py", script,
	    sizeof(script)) != NULL, "run from the repository root");
	strlcpy(zone_path, "/tmp/check_dns.XXXXXX", sizeof(zone_path));
	ck_assert_int_ne(fd = mkstemp(zone_path), -1);
	ck_assert_ptr_nonnull(f = fdopen(fd, "w"));
	zone_write(f);
	ck_assert_int_eq(fclose(f), 0);

	ck_assert_int_eq(pipe(out), 0);
	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_ne(srv_pid = fork(), -1);
	if (srv_pid == 0) {
		if (dup2(in[0], 0) == -1 || dup2(out[1], 1) == -1)
			_exit(127);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		/* --stdin-eof: it goes when the test does, however it ends */
		execlp(py, py, script, "--port", "0", "--zone", zone_path,
		    "--stdin-eof", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	srv_stdin = in[1];
	pfd.fd = out[0];
	pfd.events = POLLIN;
	while (got < sizeof(line) - 1 && memchr(line, '\n', got) == NULL) {
		ck_assert_msg(poll(&pfd, 1, 15000) == 1,
		    "dnsserver.py did not start (is python3-dnslib installed?)");
		n = (int)read(out[0], line + got, sizeof(line) - 1 - got);
		ck_assert_msg(n > 0, "dnsserver.py died");
		got += (size_t)n;
	}
	line[got] = '\0';
	close(out[0]);
	srv_port = atoi(line);
	ck_assert_int_gt(srv_port, 0);
	snprintf(srv_addr, sizeof(srv_addr), "127.0.0.1:%d", srv_port);
}

static void
server_stop(void)
{
	if (srv_pid > 0) {
		close(srv_stdin);
		kill(srv_pid, SIGTERM);
		waitpid(srv_pid, NULL, 0);
		srv_pid = -1;
	}
	if (zone_path[0] != '\0')
		unlink(zone_path);
}

/* ---- harness ------------------------------------------------------------ */

static void
setup(void)
{
	char err[256];

	/* a timeout test ends in 300 + 600 ms, not 7 s */
	dns_timeout_ms = 300;
	dns_tries = 2;
	ck_assert_ptr_nonnull(base = event_base_new());
	ck_assert_msg(dns_init(base, srv_addr, err, sizeof(err)) == 0, "%s",
	    err);
}

static void
teardown(void)
{
	dns_shutdown();
	event_base_free(base);
	base = NULL;
}

static void
cb(void *arg, enum dns_status st, const char *why,
    const struct dns_target *t, size_t n)
{
	struct result *r = arg;

	ck_assert_msg(!in_call, "callback made from inside the call");
	r->calls++;
	r->st = st;
	ck_assert_int_le(n, DNS_TARGETS_MAX);
	if (st == DNS_OK) {
		ck_assert_ptr_null(why);
		ck_assert_int_gt(n, 0);
		memcpy(r->t, t, n * sizeof(*t));
		r->why[0] = '\0';
	} else {
		ck_assert_ptr_nonnull(why);
		ck_assert_int_eq(n, 0);
		strlcpy(r->why, why, sizeof(r->why));
	}
	r->n = n;
	if (r->then != NULL)
		r->then(r);
}

static void
mx(const char *domain, unsigned short port, struct result *r)
{
	in_call = 1;
	dns_resolve_mx(domain, port, cb, r);
	in_call = 0;
	ck_assert_int_eq(r->calls, 0);
}

static void
host(const char *name, unsigned short port, struct result *r)
{
	in_call = 1;
	dns_resolve_host(name, port, cb, r);
	in_call = 0;
	ck_assert_int_eq(r->calls, 0);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* Run the loop until every r[i] has its callback, at most max_s seconds. */
static void
wait_all(struct result *r, size_t n, double max_s)
{
	struct event *guard;
	struct timeval tv = { 0, 50000 };
	double end = now() + max_s;
	size_t i;

	/* something always pending: EVLOOP_ONCE never returns at once */
	ck_assert_ptr_nonnull(guard = event_new(base, -1, EV_PERSIST, guard_cb,
	    NULL));
	ck_assert_int_eq(event_add(guard, &tv), 0);
	for (;;) {
		for (i = 0; i < n && r[i].calls > 0; i++)
			;
		if (i == n || now() > end)
			break;
		ck_assert_int_ne(event_base_loop(base, EVLOOP_ONCE), -1);
	}
	event_free(guard);
	for (i = 0; i < n; i++)
		ck_assert_msg(r[i].calls == 1, "request %zu: %d callbacks", i,
		    r[i].calls);
}

static void
wait1(struct result *r)
{
	wait_all(r, 1, 10);
}

static void
check_target(const struct dns_target *t, const char *host_name,
    const char *addr, unsigned short port)
{
	char text[INET6_ADDRSTRLEN];
	const void *a;
	int fam;

	ck_assert_str_eq(t->host, host_name);
	fam = t->ss.ss_family;
	if (fam == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)&t->ss;

		ck_assert_int_eq(t->sslen, sizeof(*s6));
		ck_assert_int_eq(ntohs(s6->sin6_port), port);
		a = &s6->sin6_addr;
	} else {
		const struct sockaddr_in *s4 = (const void *)&t->ss;

		ck_assert_int_eq(fam, AF_INET);
		ck_assert_int_eq(t->sslen, sizeof(*s4));
		ck_assert_int_eq(ntohs(s4->sin_port), port);
		a = &s4->sin_addr;
	}
	ck_assert_ptr_nonnull(inet_ntop(fam, a, text, sizeof(text)));
	ck_assert_str_eq(text, addr);
}

#define EXPECT_FAIL(r, status, prefix) do {				\
	ck_assert_msg((r)->st == (status), "status %d, want %d (%s)",	\
	    (int)(r)->st, (int)(status), (r)->why);			\
	ck_assert_msg(strncmp((r)->why, prefix, strlen(prefix)) == 0,	\
	    "why \"%s\", want \"%s...\"", (r)->why, prefix);		\
} while (0)

/* ---- MX ----------------------------------------------------------------- */

START_TEST(test_mx_order)
{
	struct result r = { 0 };

	mx("order.test", 2525, &r);
	wait1(&r);
	ck_assert_msg(r.st == DNS_OK, "%s", r.why);
	ck_assert_int_eq(r.n, 4);
	/* by preference; each host's IPv6 before its IPv4 */
	check_target(&r.t[0], "mx1.order.test", "2001:db8::1", 2525);
	check_target(&r.t[1], "mx1.order.test", "192.0.2.1", 2525);
	check_target(&r.t[2], "mx2.order.test", "192.0.2.2", 2525);
	check_target(&r.t[3], "mx3.order.test", "2001:db8::3", 2525);

	/* a trailing dot is the same name */
	memset(&r, 0, sizeof(r));
	mx("order.test.", 25, &r);
	wait1(&r);
	ck_assert_int_eq(r.n, 4);
	check_target(&r.t[3], "mx3.order.test", "2001:db8::3", 25);
}
END_TEST

START_TEST(test_mx_random_equal)
{
	struct result r[60];
	char err[128];
	size_t i;
	int ab = 0, ba = 0;

	/*
	 * All at once: many requests in flight together.  540 lookups queue
	 * up at the one-threaded test server: normal timeouts for this one.
	 */
	dns_shutdown();
	dns_timeout_ms = 2000;
	dns_tries = 3;
	ck_assert_msg(dns_init(base, srv_addr, err, sizeof(err)) == 0, "%s",
	    err);
	memset(r, 0, sizeof(r));
	for (i = 0; i < 60; i++)
		mx("equal.test", 25, &r[i]);
	wait_all(r, 60, 10);
	for (i = 0; i < 60; i++) {
		ck_assert_msg(r[i].st == DNS_OK, "%s", r[i].why);
		ck_assert_int_eq(r[i].n, 4);
		ck_assert_str_eq(r[i].t[0].host, "first.equal.test");
		ck_assert_str_eq(r[i].t[3].host, "last.equal.test");
		if (strcmp(r[i].t[1].host, "a.equal.test") == 0) {
			ck_assert_str_eq(r[i].t[2].host, "b.equal.test");
			ab++;
		} else {
			ck_assert_str_eq(r[i].t[1].host, "b.equal.test");
			ck_assert_str_eq(r[i].t[2].host, "a.equal.test");
			ba++;
		}
	}
	/* each order missing by chance: 2 * 2^-60 */
	ck_assert_int_gt(ab, 0);
	ck_assert_int_gt(ba, 0);
}
END_TEST

START_TEST(test_mx_implicit)
{
	struct result r = { 0 };

	mx("implicit.test", 25, &r);
	wait1(&r);
	ck_assert_msg(r.st == DNS_OK, "%s", r.why);
	ck_assert_int_eq(r.n, 2);
	check_target(&r.t[0], "implicit.test", "2001:db8::20", 25);
	check_target(&r.t[1], "implicit.test", "192.0.2.20", 25);

	/* an empty non-terminal: NODATA for MX, A and AAAA */
	memset(&r, 0, sizeof(r));
	mx("test", 25, &r);
	wait1(&r);
	EXPECT_FAIL(&r, DNS_TEMP, "4.4.4 test has no MX and no address");
}
END_TEST

START_TEST(test_mx_null)
{
	struct result r = { 0 };

	mx("nomail.test", 25, &r);
	wait1(&r);
	EXPECT_FAIL(&r, DNS_PERM, "5.1.10 nomail.test accepts no mail");

	/* a null MX beside a real one: the real one is used */
	memset(&r, 0, sizeof(r));
	mx("nullplus.test", 25, &r);
	wait1(&r);
	ck_assert_msg(r.st == DNS_OK, "%s", r.why);
	ck_assert_int_eq(r.n, 1);
	check_target(&r.t[0], "mx2.order.test", "192.0.2.2", 25);
}
END_TEST

START_TEST(test_mx_nxdomain)
{
	struct result r = { 0 };

	mx("nosuch.test", 25, &r);
	wait1(&r);
	EXPECT_FAIL(&r, DNS_PERM, "5.1.2 no such domain nosuch.test");
}
END_TEST

START_TEST(test_mx_servfail)
{
	struct result r[3];

	memset(r, 0, sizeof(r));
	mx("broken.test", 25, &r[0]);
	mx("servfail.x.test", 25, &r[1]);
	mx("refused.x.test", 25, &r[2]);
	wait_all(r, 3, 10);
	/* c-ares 1.18 does not tell SERVFAIL from REFUSED (dns_strerror) */
	EXPECT_FAIL(&r[0], DNS_TEMP, "4.4.3 DNS lookup of broken.test "
	    "failed: ");
	EXPECT_FAIL(&r[1], DNS_TEMP, "4.4.3 DNS lookup of servfail.x.test "
	    "failed: ");
	EXPECT_FAIL(&r[2], DNS_TEMP, "4.4.3 DNS lookup of refused.x.test "
	    "failed: ");
}
END_TEST

START_TEST(test_timeout)
{
	struct result r[3];
	double t0 = now();

	memset(r, 0, sizeof(r));
	mx("timeout.x.test", 25, &r[0]);
	mx("slowmx.test", 25, &r[1]);	/* the MX host's lookups time out */
	host("timeout.y.test", 25, &r[2]);
	wait_all(r, 3, 10);
	ck_assert_msg(now() - t0 < 3, "took %.1f s", now() - t0);
	EXPECT_FAIL(&r[0], DNS_TEMP, "4.4.3 DNS lookup of timeout.x.test "
	    "failed: timeout");
	EXPECT_FAIL(&r[1], DNS_TEMP, "4.4.3 DNS lookup of timeout.slowmx.test "
	    "failed: timeout");
	EXPECT_FAIL(&r[2], DNS_TEMP, "4.4.3 DNS lookup of timeout.y.test");
}
END_TEST

START_TEST(test_mx_hosts_without_address)
{
	struct result r[6];

	memset(r, 0, sizeof(r));
	mx("noaddr.test", 25, &r[0]);
	mx("nxmx.test", 25, &r[1]);
	mx("partial.test", 25, &r[2]);
	mx("halffail.test", 25, &r[3]);
	mx("allfail.test", 25, &r[4]);
	mx("onlybad.test", 25, &r[5]);
	wait_all(r, 6, 10);
	EXPECT_FAIL(&r[0], DNS_TEMP, "4.4.4 no MX host of noaddr.test has an "
	    "address");
	EXPECT_FAIL(&r[1], DNS_PERM, "5.4.4 no MX host of nxmx.test exists");
	ck_assert_msg(r[2].st == DNS_OK, "%s", r[2].why);
	ck_assert_int_eq(r[2].n, 1);
	check_target(&r[2].t[0], "mx2.order.test", "192.0.2.2", 25);
	/* AAAA failed, A answered: what there is will do */
	ck_assert_msg(r[3].st == DNS_OK, "%s", r[3].why);
	ck_assert_int_eq(r[3].n, 1);
	check_target(&r[3].t[0], "hf.halffail.test", "192.0.2.30", 25);
	EXPECT_FAIL(&r[4], DNS_TEMP, "4.4.3 DNS lookup of "
	    "servfail.allfail.test failed");
	EXPECT_FAIL(&r[5], DNS_PERM, "5.4.4 no MX host of onlybad.test");
}
END_TEST

START_TEST(test_mx_bad_names)
{
	struct result r[5];
	char longname[300];

	memset(r, 0, sizeof(r));
	/* "bad_name" and "192.0.2.99" are not host names: skipped */
	mx("badname.test", 25, &r[0]);
	mx("bad_domain.test", 25, &r[1]);
	mx("192.0.2.1", 25, &r[2]);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	for (size_t i = 50; i < sizeof(longname) - 1; i += 50)
		longname[i] = '.';
	mx(longname, 25, &r[3]);
	mx("", 25, &r[4]);
	wait_all(r, 5, 10);
	ck_assert_msg(r[0].st == DNS_OK, "%s", r[0].why);
	ck_assert_int_eq(r[0].n, 1);
	check_target(&r[0].t[0], "mx2.order.test", "192.0.2.2", 25);
	EXPECT_FAIL(&r[1], DNS_PERM, "5.1.2 ");
	EXPECT_FAIL(&r[2], DNS_PERM, "5.1.2 ");
	EXPECT_FAIL(&r[3], DNS_PERM, "5.1.2 ");
	EXPECT_FAIL(&r[4], DNS_PERM, "5.1.2 ");
}
END_TEST

START_TEST(test_mx_cname_dup_zero)
{
	struct result r[3];

	memset(r, 0, sizeof(r));
	mx("cname.test", 25, &r[0]);
	mx("dup.test", 25, &r[1]);
	mx("zero.test", 25, &r[2]);
	wait_all(r, 3, 10);
	/* the MX host's name is kept, the CNAME's target's addresses used */
	ck_assert_msg(r[0].st == DNS_OK, "%s", r[0].why);
	ck_assert_int_eq(r[0].n, 2);
	check_target(&r[0].t[0], "alias.cname.test", "2001:db8::1", 25);
	check_target(&r[0].t[1], "alias.cname.test", "192.0.2.1", 25);
	/* a host listed twice, an address under two names: once each */
	ck_assert_msg(r[1].st == DNS_OK, "%s", r[1].why);
	ck_assert_int_eq(r[1].n, 2);
	check_target(&r[1].t[0], "a.dup.test", "192.0.2.40", 25);
	check_target(&r[1].t[1], "b.dup.test", "192.0.2.41", 25);
	/* 0.0.0.0 and :: are not mail hosts */
	ck_assert_msg(r[2].st == DNS_OK, "%s", r[2].why);
	ck_assert_int_eq(r[2].n, 1);
	check_target(&r[2].t[0], "zero.test", "192.0.2.50", 25);
}
END_TEST

START_TEST(test_bounds)
{
	struct result r[2];
	char name[64], addr[32];
	int i;

	memset(r, 0, sizeof(r));
	mx("big.test", 25, &r[0]);	/* 50 MX hosts: the reply needs TCP */
	mx("many.test", 25, &r[1]);	/* a host with 80 addresses */
	wait_all(r, 2, 10);
	ck_assert_msg(r[0].st == DNS_OK, "%s", r[0].why);
	ck_assert_int_eq(r[0].n, DNS_MX_MAX);
	for (i = 0; i < DNS_MX_MAX; i++) {
		snprintf(name, sizeof(name), "host-number-%02d.mx.big.test", i);
		snprintf(addr, sizeof(addr), "10.2.0.%d", i + 1);
		check_target(&r[0].t[i], name, addr, 25);
	}
	ck_assert_msg(r[1].st == DNS_OK, "%s", r[1].why);
	ck_assert_int_eq(r[1].n, DNS_TARGETS_MAX);
	for (i = 0; i < DNS_TARGETS_MAX; i++) {
		snprintf(addr, sizeof(addr), "2001:db8:1::%x", i + 1);
		check_target(&r[1].t[i], "many.many.test", addr, 25);
	}
}
END_TEST

/* ---- literals and route hosts ------------------------------------------- */

START_TEST(test_literals)
{
	struct result r[13];
	size_t i;

	memset(r, 0, sizeof(r));
	mx("[192.0.2.55]", 2525, &r[0]);
	mx("[IPv6:2001:db8::55]", 25, &r[1]);
	mx("[ipv6:2001:DB8::56]", 25, &r[2]);
	mx("[IPv6:192.0.2.1]", 25, &r[3]);
	mx("[300.1.1.1]", 25, &r[4]);
	mx("[192.0.2.1", 25, &r[5]);
	host("192.0.2.9", 587, &r[6]);
	host("2001:db8::9", 587, &r[7]);
	host("[2001:db8::10]", 587, &r[8]);
	host("[nonsense]", 587, &r[9]);
	/* this host itself, by another name */
	mx("[0.0.0.0]", 25, &r[10]);
	mx("[IPv6:::]", 25, &r[11]);
	host("0.0.0.0", 25, &r[12]);
	wait_all(r, 13, 5);
	for (i = 0; i < 3; i++)
		ck_assert_msg(r[i].st == DNS_OK, "%zu: %s", i, r[i].why);
	check_target(&r[0].t[0], "[192.0.2.55]", "192.0.2.55", 2525);
	check_target(&r[1].t[0], "[IPv6:2001:db8::55]", "2001:db8::55", 25);
	check_target(&r[2].t[0], "[ipv6:2001:DB8::56]", "2001:db8::56", 25);
	EXPECT_FAIL(&r[3], DNS_PERM, "5.1.2 ");
	EXPECT_FAIL(&r[4], DNS_PERM, "5.1.2 ");
	EXPECT_FAIL(&r[5], DNS_PERM, "5.1.2 ");
	for (i = 6; i < 9; i++) {
		ck_assert_msg(r[i].st == DNS_OK, "%zu: %s", i, r[i].why);
		ck_assert_int_eq(r[i].n, 1);
	}
	check_target(&r[6].t[0], "192.0.2.9", "192.0.2.9", 587);
	check_target(&r[7].t[0], "2001:db8::9", "2001:db8::9", 587);
	check_target(&r[8].t[0], "[2001:db8::10]", "2001:db8::10", 587);
	EXPECT_FAIL(&r[9], DNS_TEMP, "4.4.4 ");
	EXPECT_FAIL(&r[10], DNS_PERM, "5.1.2 bad address literal");
	EXPECT_FAIL(&r[11], DNS_PERM, "5.1.2 bad address literal");
	EXPECT_FAIL(&r[12], DNS_TEMP, "4.4.4 bad address literal");
}
END_TEST

START_TEST(test_host)
{
	struct result r[5];

	memset(r, 0, sizeof(r));
	host("mx1.order.test", 26, &r[0]);
	host("order.test", 26, &r[1]);		/* no MX lookup: no address */
	host("nosuch.test", 26, &r[2]);
	host("bad_host.test", 26, &r[3]);
	host("broken.test", 26, &r[4]);
	wait_all(r, 5, 10);
	ck_assert_msg(r[0].st == DNS_OK, "%s", r[0].why);
	ck_assert_int_eq(r[0].n, 2);
	check_target(&r[0].t[0], "mx1.order.test", "2001:db8::1", 26);
	check_target(&r[0].t[1], "mx1.order.test", "192.0.2.1", 26);
	/* a route is the admin's: its failures wait, they never bounce */
	EXPECT_FAIL(&r[1], DNS_TEMP, "4.4.4 no address for host order.test");
	EXPECT_FAIL(&r[2], DNS_TEMP, "4.4.4 no address for host nosuch.test");
	EXPECT_FAIL(&r[3], DNS_TEMP, "4.4.4 ");
	EXPECT_FAIL(&r[4], DNS_TEMP, "4.4.3 DNS lookup of broken.test");
}
END_TEST

/* ---- servers, shutdown, sandbox ----------------------------------------- */

START_TEST(test_server_parse)
{
	static const struct {
		const char *in;
		int family, port;
	} good[] = {
		{ "127.0.0.1", AF_INET, 53 },
		{ "127.0.0.1:5353", AF_INET, 5353 },
		{ "[::1]:5300", AF_INET6, 5300 },
		{ "[::1]", AF_INET6, 53 },
		{ "2001:db8::1", AF_INET6, 53 },
	};
	static const char *const bad[] = {
		"", "dns.example", "1.2.3.4:", "1.2.3.4:0", "1.2.3.4:65536",
		"[::1", "[::1]x", "[::1]:", "1.2.3.4: 5", "1.2.3.4:+5",
		"1.2.3.4:53x", "[1.2.3.4:53]", "[]:53",
		"[aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa]:53",
	};
	struct ares_addr_port_node n;
	char err[128];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(dns_parse_server(good[i].in, &n, err,
		    sizeof(err)) == 0, "%s", good[i].in);
		ck_assert_int_eq(n.family, good[i].family);
		ck_assert_int_eq(n.udp_port, good[i].port);
		ck_assert_int_eq(n.tcp_port, good[i].port);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(dns_parse_server(bad[i], &n, err,
		    sizeof(err)) == -1, "accepted \"%s\"", bad[i]);
	ck_assert_int_eq(dns_set_server("nonsense", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "dns_server"));
}
END_TEST

START_TEST(test_set_server)
{
	struct result r[2];
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char err[128], silent[64];
	int fd;

	/* nobody on port 1: refused at once (ICMP), a temporary failure */
	memset(r, 0, sizeof(r));
	ck_assert_int_eq(dns_set_server("127.0.0.1:1", err, sizeof(err)), 0);
	mx("order.test", 25, &r[0]);
	wait1(&r[0]);
	EXPECT_FAIL(&r[0], DNS_TEMP, "4.4.3 DNS lookup of order.test failed");

	/* a server that never answers; the switch asks again at once */
	ck_assert_int_ne(fd = socket(AF_INET, SOCK_DGRAM, 0), -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(silent, sizeof(silent), "127.0.0.1:%d", ntohs(sin.sin_port));
	ck_assert_int_eq(dns_set_server(silent, err, sizeof(err)), 0);
	memset(r, 0, sizeof(r));
	mx("order.test", 25, &r[0]);
	mx("implicit.test", 25, &r[1]);
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(r[0].calls + r[1].calls, 0);
	ck_assert_int_eq(dns_set_server(srv_addr, err, sizeof(err)), 0);
	wait_all(r, 2, 10);
	ck_assert_msg(r[0].st == DNS_OK, "%s", r[0].why);
	ck_assert_int_eq(r[0].n, 4);
	ck_assert_msg(r[1].st == DNS_OK, "%s", r[1].why);
	close(fd);

	/* NULL or "": resolv.conf's servers, as read by dns_init */
	ck_assert_int_eq(dns_set_server(NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(dns_set_server("", err, sizeof(err)), 0);
	ck_assert_int_eq(dns_set_server(srv_addr, err, sizeof(err)), 0);

	/* the same server again: the lookup in flight is not asked anew */
	memset(r, 0, sizeof(r));
	mx("[192.0.2.1]", 25, &r[0]);
	mx("timeout.x.test", 25, &r[1]);
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(dns_set_server(srv_addr, err, sizeof(err)), 0);
	wait_all(r, 2, 10);
	EXPECT_FAIL(&r[1], DNS_TEMP, "4.4.3 DNS lookup of timeout.x.test "
	    "failed: timeout");
}
END_TEST

static void
shutdown_cb(evutil_socket_t fd, short what, void *arg)
{
	dns_shutdown();
}

static void
shutdown_in_cb(struct result *r)
{
	dns_shutdown();
}

static struct result again;

/* from a callback inside dns_shutdown: cancelled too, still called */
static void
ask_again(struct result *r)
{
	r->then = NULL;
	in_call = 1;
	dns_resolve_mx("order.test", 25, cb, &again);
	in_call = 0;
}

START_TEST(test_shutdown)
{
	struct result r[4];
	struct timeval tv = { 0, 100000 };
	char err[128];

	memset(r, 0, sizeof(r));
	mx("timeout.x.test", 25, &r[0]);
	mx("slowmx.test", 25, &r[1]);
	host("timeout.y.test", 25, &r[2]);
	r[2].then = ask_again;
	mx("[192.0.2.1]", 25, &r[3]);
	ck_assert_int_eq(event_base_once(base, -1, EV_TIMEOUT, shutdown_cb,
	    NULL, &tv), 0);
	/* the loop ends by itself: dns_shutdown leaves no event behind */
	ck_assert_int_eq(event_base_dispatch(base), 1);
	EXPECT_FAIL(&r[0], DNS_TEMP, "4.4.3 DNS lookup of timeout.x.test "
	    "cancelled");
	EXPECT_FAIL(&r[1], DNS_TEMP, "4.4.3 DNS lookup of slowmx.test "
	    "cancelled");
	EXPECT_FAIL(&r[2], DNS_TEMP, "4.4.3 DNS lookup of timeout.y.test "
	    "cancelled");
	ck_assert_int_eq(r[3].st, DNS_OK);
	ck_assert_int_eq(r[0].calls + r[1].calls + r[2].calls + r[3].calls, 4);
	ck_assert_int_eq(again.calls, 1);
	EXPECT_FAIL(&again, DNS_TEMP, "4.4.3 DNS lookup of order.test "
	    "cancelled");

	/* again, and shut down before the loop ever ran */
	ck_assert_int_eq(dns_init(base, srv_addr, err, sizeof(err)), 0);
	memset(r, 0, sizeof(r));
	mx("order.test", 25, &r[0]);
	mx("[192.0.2.1]", 25, &r[1]);
	dns_shutdown();
	ck_assert_int_eq(r[0].calls + r[1].calls, 2);
	EXPECT_FAIL(&r[0], DNS_TEMP, "4.4.3 DNS lookup of order.test "
	    "cancelled");
	ck_assert_int_eq(event_base_loop(base, EVLOOP_NONBLOCK), 1);
	ck_assert_int_eq(dns_set_server(srv_addr, err, sizeof(err)), -1);
	ck_assert_int_eq(dns_init(base, srv_addr, err, sizeof(err)), 0);
	ck_assert_int_eq(dns_init(base, srv_addr, err, sizeof(err)), -1);

	/* dns_shutdown from inside a callback */
	memset(r, 0, sizeof(r));
	r[0].then = shutdown_in_cb;
	mx("[192.0.2.1]", 25, &r[0]);
	mx("timeout.x.test", 25, &r[1]);
	ck_assert_int_eq(event_base_dispatch(base), 1);
	ck_assert_int_eq(r[0].st, DNS_OK);
	EXPECT_FAIL(&r[1], DNS_TEMP, "4.4.3 DNS lookup of timeout.x.test "
	    "cancelled");
}
END_TEST

/* A grandchild: dns_init, the REMOTE sandbox, then lookups (UDP, TCP). */
static int
sandboxed_lookups(void)
{
	struct event_base *b;
	struct result r[3];
	char err[128];

	/* a base of its own; the global one stays referenced (LeakSanitizer
	 * checks once, in sandbox_enter) */
	memset(r, 0, sizeof(r));
	if ((b = event_base_new()) == NULL ||
	    dns_init(b, srv_addr, err, sizeof(err)) == -1)
		return 10;
	if (sandbox_enter(SANDBOX_REMOTE) == -1)
		return 11;
	dns_resolve_mx("order.test", 25, cb, &r[0]);
	dns_resolve_mx("big.test", 25, cb, &r[1]);
	dns_resolve_mx("timeout.x.test", 25, cb, &r[2]);
	while (r[0].calls + r[1].calls + r[2].calls < 3)
		if (event_base_loop(b, EVLOOP_ONCE) == -1)
			return 12;
	if (r[0].st != DNS_OK || r[0].n != 4)
		return 13;
	if (r[1].st != DNS_OK || r[1].n != DNS_MX_MAX)
		return 14;
	if (r[2].st != DNS_TEMP)
		return 15;
	/* a reload inside the sandbox: no file, same channel */
	if (dns_set_server(srv_addr, err, sizeof(err)) == -1)
		return 16;
	dns_shutdown();
	event_base_free(b);
	return 0;
}

START_TEST(test_sandbox)
{
	pid_t pid;
	int status;

	dns_shutdown();		/* the grandchild makes its own */
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0)
		_exit(sandboxed_lookups());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "killed by signal %d (seccomp?)",
	    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	ck_assert_msg(WEXITSTATUS(status) == 0, "failed at step %d",
	    WEXITSTATUS(status));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("dns");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int nf;

	tcase_add_unchecked_fixture(tc, server_start, server_stop);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_mx_order);
	tcase_add_test(tc, test_mx_random_equal);
	tcase_add_test(tc, test_mx_implicit);
	tcase_add_test(tc, test_mx_null);
	tcase_add_test(tc, test_mx_nxdomain);
	tcase_add_test(tc, test_mx_servfail);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_mx_hosts_without_address);
	tcase_add_test(tc, test_mx_bad_names);
	tcase_add_test(tc, test_mx_cname_dup_zero);
	tcase_add_test(tc, test_bounds);
	tcase_add_test(tc, test_literals);
	tcase_add_test(tc, test_host);
	tcase_add_test(tc, test_server_parse);
	tcase_add_test(tc, test_set_server);
	tcase_add_test(tc, test_shutdown);
	tcase_add_test(tc, test_sandbox);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
