/*
 * conf.c - the configuration file parser (conf.h).
 *
 * Read by every kurir program at start (kurird again on SIGHUP, kurirctl
 * for `check`), in whatever uid the program has then; it opens only the
 * file it is given.  One table, conf_keys[], lists each key with its type,
 * default and meaning (Postfix's CONFIG_*_TABLE idea); the loader, the
 * defaults, conf_free and conf_print all walk that table, so a new key is
 * one line there plus one field in struct conf.
 *
 * The line reader, error formatter and value parsers it shares with the
 * table loaders live in confread.c.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "qproto.h"

#define CONF_PATH_MAX		1024	/* room left for paths built on top */
#define CONF_DURATION_MAX	(3650LL * 86400)	/* ten years */
#define CONF_SIZE_MAX		(1ULL << 40)	/* 1 TiB: no sum can overflow */
#define CONF_MSG_MAX		512
#define CONF_LINE_LENGTH_MIN	998	/* octets before CRLF (RFC 5321) */

enum conf_type {
	CT_HOST,	/* one domain name */
	CT_PATH,	/* absolute after loading */
	CT_DOMAINS,	/* list of domain names, lower-cased */
	CT_LISTEN,	/* list of numeric host:port */
	CT_CIDRS,	/* list of networks */
	CT_SIZE,	/* bytes; k, m, g */
	CT_DURATION,	/* seconds; s, m, h, d */
	CT_UINT,
	CT_BOOL,
	CT_USER,	/* login name or uid[:gid] */
	CT_RESOLVER,	/* ip[:port], stored with the port */
};

#define CF_OPTIONAL	0x01	/* an empty value is allowed: unset, empty list */
#define CF_ZERO_OK	0x40	/* CT_SIZE: 0 is allowed (and means off) */

struct conf_key {
	const char	*name;
	enum conf_type	 type;
	int		 flags;
	size_t		 off;		/* the field in struct conf */
	size_t		 off2;		/* CT_CIDRS: the count field */
	const char	*def;		/* as it would be written; NULL: unset
					 * or computed (hostname, local_domains) */
	long long	 min, max;	/* CT_UINT, CT_DURATION */
	const char	*meaning;
};

#define F(f)	offsetof(struct conf, f)
#define SYSCONF	KURIR_SYSCONFDIR "/kurir/"
#define DMAX	CONF_DURATION_MAX
#define UMAX	1000000		/* no sane limit is larger; keeps sums in int */

static const struct conf_key conf_keys[] = {
{ "hostname", CT_HOST, 0, F(hostname), 0, NULL, 0, 0,
  "name in the greeting, Received and Message-ID (default: gethostname)" },
{ "local_domains", CT_DOMAINS, CF_OPTIONAL, F(local_domains), 0, NULL, 0, 0,
  "domains delivered locally (default: hostname and localhost)" },
{ "state_dir", CT_PATH, 0, F(state_dir), 0, "/var/spool/kurir", 0, 0,
  "queue and sockets live under it" },
{ "mail_dir", CT_PATH, 0, F(mail_dir), 0, "/var/mail/kurir", 0, 0,
  "Maildirs: <mail_dir>/<user>/{tmp,new,cur}" },
{ "users_file", CT_PATH, 0, F(users_file), 0, SYSCONF "users", 0, 0,
  "name:crypt-hash lines: the mailboxes and POP3/AUTH accounts" },
{ "aliases_file", CT_PATH, 0, F(aliases_file), 0, SYSCONF "aliases", 0, 0,
  "name: target, target lines" },
{ "routes_file", CT_PATH, 0, F(routes_file), 0, SYSCONF "routes", 0, 0,
  "domain host[:port] [tls=...] lines that override MX" },
{ "smtp_listen", CT_LISTEN, CF_OPTIONAL, F(smtp_listen), 0, "127.0.0.1:25",
  0, 0, "SMTP listen addresses (empty: none)" },
{ "submission_listen", CT_LISTEN, CF_OPTIONAL, F(submission_listen), 0, "",
  0, 0, "submission listen addresses, AUTH required (empty: none)" },
{ "pop3_listen", CT_LISTEN, CF_OPTIONAL, F(pop3_listen), 0, "", 0, 0,
  "POP3 listen addresses (empty: none)" },
{ "tls_cert_file", CT_PATH, CF_OPTIONAL, F(tls_cert_file), 0, "", 0, 0,
  "PEM certificate chain; with tls_key_file enables STARTTLS and STLS" },
{ "tls_key_file", CT_PATH, CF_OPTIONAL, F(tls_key_file), 0, "", 0, 0,
  "PEM private key for tls_cert_file" },
{ "tls_ca_file", CT_PATH, 0, F(tls_ca_file), 0,
  "/etc/ssl/certs/ca-certificates.crt", 0, 0,
  "CA bundle that tls=verify routes check the server against" },
{ "relay_clients", CT_CIDRS, CF_OPTIONAL, F(relay_clients),
  F(n_relay_clients), "127.0.0.0/8 ::1", 0, 0,
  "networks allowed to relay without AUTH" },
{ "message_size_limit", CT_SIZE, 0, F(message_size_limit), 0, "26214400",
  0, 0, "largest message in bytes, announced by SIZE" },
{ "queue_lifetime", CT_DURATION, 0, F(queue_lifetime), 0, "5d", 0, DMAX,
  "bounce a message still undelivered after this long" },
{ "retry_min", CT_DURATION, 0, F(retry_min), 0, "60s", 1, DMAX,
  "first retry interval" },
{ "retry_max", CT_DURATION, 0, F(retry_max), 0, "1h", 1, DMAX,
  "largest retry interval" },
{ "delay_warning", CT_DURATION, 0, F(delay_warning), 0, "4h", 0, DMAX,
  "tell the sender once mail is delayed this long (0: never)" },
{ "dns_server", CT_RESOLVER, CF_OPTIONAL, F(dns_server), 0, "", 0, 0,
  "resolver ip[:port] to use instead of /etc/resolv.conf" },
{ "smtpd_user", CT_USER, CF_OPTIONAL, F(smtpd_user), 0, "", 0, 0,
  "account of kurir-smtpd when started as root" },
{ "queue_user", CT_USER, CF_OPTIONAL, F(queue_user), 0, "", 0, 0,
  "account of kurir-queue and kurir-send when started as root" },
{ "mail_user", CT_USER, CF_OPTIONAL, F(mail_user), 0, "", 0, 0,
  "account owning the Maildirs when started as root" },
{ "remote_user", CT_USER, CF_OPTIONAL, F(remote_user), 0, "", 0, 0,
  "account of kurir-remote when started as root" },
{ "pop3_user", CT_USER, CF_OPTIONAL, F(pop3_user), 0, "", 0, 0,
  "account of the pre-auth kurir-pop3d when started as root" },
{ "auth_user", CT_USER, CF_OPTIONAL, F(auth_user), 0, "", 0, 0,
  "account of kurir-auth (checks passwords and mailboxes) when started as root" },
{ "smtp_greet_pause", CT_DURATION, 0, F(smtp_greet_pause), 0, "1s", 0, 60,
  "wait this long before the greeting to clients outside relay_clients; one "
  "that talks first is refused (0: off)" },
{ "smtp_command_timeout", CT_DURATION, 0, F(smtp_command_timeout), 0,
  "300s", 1, DMAX, "wait this long for an SMTP command (RFC 5321 4.5.3.2)" },
{ "smtp_data_timeout", CT_DURATION, 0, F(smtp_data_timeout), 0, "600s", 1,
  DMAX, "wait this long for each DATA block (RFC 5321 4.5.3.2)" },
{ "smtp_min_data_rate", CT_UINT, 0, F(smtp_min_data_rate), 0, "500", 1, UMAX,
  "bytes per second of message text that each buy 1/rate s more time "
  "(kurir-smtpd's DATA and BDAT deadline)" },
{ "pop3_idle_timeout", CT_DURATION, 0, F(pop3_idle_timeout), 0, "600s", 1,
  DMAX, "close an idle POP3 session (RFC 1939: at least 10 minutes)" },
{ "smtp_max_recipients", CT_UINT, 0, F(smtp_max_recipients), 0, "100", 1,
  UMAX, "recipients per message" },
{ "smtp_max_errors", CT_UINT, 0, F(smtp_max_errors), 0, "20", 1, UMAX,
  "errors per SMTP session before disconnect" },
{ "smtp_line_length_limit", CT_UINT, 0, F(smtp_line_length_limit), 0, "0",
  0, UMAX, "refuse text lines longer than this many octets before CRLF with "
  "550 5.6.0 (0: no limit but message_size_limit; else at least 998)" },
{ "max_hop_count", CT_UINT, 0, F(max_hop_count), 0, "50", 1, 1000,
  "Received and Delivered-To fields a message may carry; more: 554 5.4.6 "
  "Too many hops (mail loops end; Postfix's hopcount_limit)" },
{ "smtp_max_sessions", CT_UINT, 0, F(smtp_max_sessions), 0, "1000", 1, UMAX,
  "concurrent SMTP and submission sessions (at most 4096)" },
{ "smtp_max_sessions_per_ip", CT_UINT, 0, F(smtp_max_sessions_per_ip), 0,
  "20", 1, UMAX, "concurrent SMTP sessions from one address" },
{ "pop3_max_sessions", CT_UINT, 0, F(pop3_max_sessions), 0, "1000", 1, UMAX,
  "concurrent POP3 sessions" },
{ "pop3_max_sessions_per_ip", CT_UINT, 0, F(pop3_max_sessions_per_ip), 0,
  "20", 1, UMAX, "concurrent POP3 sessions from one address" },
{ "queue_min_free", CT_SIZE, CF_ZERO_OK, F(queue_min_free), 0, "100m", 0, 0,
  "free space kept on the queue's filesystem: below it new mail is "
  "deferred (452 4.3.1, sendmail EX_TEMPFAIL); 0: off" },
{ "queue_max_clients_per_uid", CT_UINT, 0, F(queue_max_clients_per_uid), 0,
  "50", 1, 1024, "local queue connections (kurir-sendmail) one user may "
  "hold at once" },
{ "client_ipv6_prefix", CT_UINT, 0, F(client_ipv6_prefix), 0, "64", 1, 128,
  "per-client limits (sessions per IP) count an IPv6 client by its network "
  "of this prefix length (128: by its exact address)" },
{ "auth_workers", CT_UINT, 0, F(auth_workers), 0, "2", 1, 16,
  "crypt worker processes of kurir-auth, so that mailbox lookups never "
  "wait behind password hashing (taken at start)" },
{ "auth_fail_limit", CT_UINT, 0, F(auth_fail_limit), 0, "20", 1, 100000,
  "failed logins per client network (IPv4 address, IPv6 network of "
  "client_ipv6_prefix) in auth_fail_window; then its logins are refused "
  "without a check until the window ends" },
{ "auth_fail_window", CT_DURATION, 0, F(auth_fail_window), 0, "15m", 1,
  86400, "the window of auth_fail_limit, from a network's first failure" },
{ "auth_link_rate", CT_UINT, 0, F(auth_link_rate), 0, "20", 1, 1000,
  "password checks per second that kurir-auth runs for one client link "
  "(kurir-smtpd, kurir-pop3d), whatever client addresses it names; "
  "bursts of as many; more get a temporary failure" },
{ "pop3_max_errors", CT_UINT, 0, F(pop3_max_errors), 0, "10", 1, UMAX,
  "errors per POP3 session before disconnect" },
{ "percent_hack", CT_BOOL, 0, F(percent_hack), 0, "no", 0, 0,
  "rewrite user%host@local-domain to user@host (never opens relaying)" },
{ "plaintext_auth", CT_BOOL, 0, F(plaintext_auth), 0, "no", 0, 0,
  "allow passwords without TLS from non-loopback clients" },
};
#define CONF_NKEYS	(sizeof(conf_keys) / sizeof(conf_keys[0]))

#undef F
#undef SYSCONF
#undef DMAX
#undef UMAX

static void *
conf_field(struct conf *c, size_t off)
{
	return (char *)c + off;
}

static const void *
conf_cfield(const struct conf *c, size_t off)
{
	return (const char *)c + off;
}

/*
 * A login name as shadow-utils accepts it: a letter or '_' first (a digit
 * first would be read as a uid), then letters, digits, '_', '.', '-', and
 * an optional final '$'.
 */
static int
conf_login_valid(const char *s)
{
	size_t i, len = strlen(s);

	if (len == 0 || len > 32 || (!isalpha((unsigned char)s[0]) &&
	    s[0] != '_'))
		return 0;
	for (i = 1; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '$' && i == len - 1)
			continue;
		if (!isalnum(ch) && ch != '_' && ch != '.' && ch != '-')
			return 0;
	}
	return 1;
}

/* "uid[:gid]": 0 well-formed, -1 malformed, -2 root (uid or gid 0) */
static int
conf_parse_ids(const char *s, uid_t *uid, gid_t *gid)
{
	long long u, g;
	const char *end;

	if (conf_parse_digits(s, &u, &end) == -1)
		return -1;
	g = u;
	if (*end == ':' && conf_parse_digits(end + 1, &g, &end) == -1)
		return -1;
	if (*end != '\0')
		return -1;
	/* (uid_t)-1 means "no change" to setresuid(2): never a real id */
	if (u >= (long long)UINT32_MAX || g >= (long long)UINT32_MAX)
		return -1;
	if (u == 0 || g == 0)
		return -2;
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return 0;
}

int
conf_user_resolve(const struct conf_user *u, uid_t *uid, gid_t *gid)
{
	struct passwd *pw;
	int rc;

	if (u == NULL || u->spec == NULL)
		return 1;
	if (isdigit((unsigned char)u->spec[0])) {
		if ((rc = conf_parse_ids(u->spec, uid, gid)) < 0) {
			errno = rc == -2 ? EPERM : EINVAL;
			return -1;
		}
		return 0;
	}
	if (!conf_login_valid(u->spec)) {
		errno = EINVAL;
		return -1;
	}
	errno = 0;
	if ((pw = getpwnam(u->spec)) == NULL) {
		if (errno == 0)
			errno = ENOENT;
		return -1;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		errno = EPERM;
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

int
conf_is_local_domain(const struct conf *c, const char *domain)
{
	size_t i;

	if (c == NULL || domain == NULL)
		return 0;
	for (i = 0; i < c->local_domains.n; i++)
		if (strcasecmp(c->local_domains.v[i], domain) == 0)
			return 1;
	return 0;
}

const char *
conf_path(const char *arg)
{
	const char *env;

	if (arg != NULL)
		return arg;
	env = getenv("KURIR_CONF");
	if (env != NULL && *env != '\0')
		return env;
	return KURIR_SYSCONFDIR "/kurir/kurir.conf";
}

const char *
conf_key_name(size_t i, const char **meaning)
{
	if (i >= CONF_NKEYS)
		return NULL;
	if (meaning != NULL)
		*meaning = conf_keys[i].meaning;
	return conf_keys[i].name;
}

/* ---- setting one key ----------------------------------------------------- */

static void
conf_strlist_free(struct strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* The next item of a list (blanks and commas separate); 0 at the end. */
static size_t
conf_next_item(const char **pp, char *item, size_t itemlen)
{
	const char *p = *pp + strspn(*pp, " \t,");
	size_t len = strcspn(p, " \t,");

	*pp = p + len;
	if (len >= itemlen)	/* cannot happen: items come from one line */
		len = itemlen - 1;
	memcpy(item, p, len);
	item[len] = '\0';
	return len;
}

static void
conf_free_key(struct conf *c, const struct conf_key *k)
{
	void *f = conf_field(c, k->off);

	switch (k->type) {
	case CT_HOST: case CT_PATH: case CT_RESOLVER:
		free(*(char **)f);
		*(char **)f = NULL;
		break;
	case CT_USER:
		free(((struct conf_user *)f)->spec);
		((struct conf_user *)f)->spec = NULL;
		break;
	case CT_DOMAINS: case CT_LISTEN:
		conf_strlist_free(f);
		break;
	case CT_CIDRS:
		free(*(struct cidr **)f);
		*(struct cidr **)f = NULL;
		*(size_t *)conf_field(c, k->off2) = 0;
		break;
	default:
		break;
	}
}

/* Replace a string field; ENOMEM is the only failure. */
static int
conf_set_str(struct conf *c, const struct conf_key *k, const char *v,
    char *msg, size_t msglen)
{
	char *dup = NULL;

	if (v != NULL && (dup = strdup(v)) == NULL) {
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	conf_free_key(c, k);
	if (k->type == CT_USER)
		((struct conf_user *)conf_field(c, k->off))->spec = dup;
	else
		*(char **)conf_field(c, k->off) = dup;
	return 0;
}

static int
conf_set_list(struct conf *c, const struct conf_key *k, const char *val,
    char *msg, size_t msglen)
{
	struct strlist l = { NULL, 0 };
	struct cidr *nets = NULL, *nn;
	char item[CONF_LINE_MAX + 1], **nv;
	struct sockaddr_storage ss;
	socklen_t sslen;
	const char *why, *p = val;
	size_t i, n = 0;

	while (conf_next_item(&p, item, sizeof(item)) > 0) {
		if (k->type == CT_CIDRS) {
			if ((nn = reallocarray(nets, n + 1, sizeof(*nets))) == NULL)
				goto nomem;
			nets = nn;
			if (net_parse_cidr(item, &nets[n], &why) == -1) {
				snprintf(msg, msglen, "bad network '%.64s': %s",
				    item, why);
				goto fail;
			}
			n++;
			continue;
		}
		if (k->type == CT_DOMAINS) {
			if (!addr_domain_valid(item, 0)) {
				snprintf(msg, msglen, "bad domain '%.64s'", item);
				goto fail;
			}
			for (i = 0; item[i] != '\0'; i++)
				item[i] = (char)tolower((unsigned char)item[i]);
		} else if (net_parse_hostport(item, &ss, &sslen, &why) == -1) {
			snprintf(msg, msglen, "bad listen address '%.64s': %s",
			    item, why);
			goto fail;
		}
		if ((nv = reallocarray(l.v, l.n + 1, sizeof(*l.v))) == NULL)
			goto nomem;
		l.v = nv;
		if ((l.v[l.n] = strdup(item)) == NULL)
			goto nomem;
		l.n++;
	}
	conf_free_key(c, k);
	if (k->type == CT_CIDRS) {
		*(struct cidr **)conf_field(c, k->off) = nets;
		*(size_t *)conf_field(c, k->off2) = n;
	} else
		*(struct strlist *)conf_field(c, k->off) = l;
	return 0;
nomem:
	snprintf(msg, msglen, "out of memory");
fail:
	free(nets);
	conf_strlist_free(&l);
	return -1;
}

static int
conf_set_value(struct conf *c, const struct conf_key *k, const char *val,
    const char *basedir, char *msg, size_t msglen)
{
	char tmp[CONF_LINE_MAX + 16];
	struct sockaddr_storage ss;
	socklen_t sslen;
	const char *why, *errstr;
	long long n;
	uint64_t size;
	uid_t uid;
	gid_t gid;
	int b, rc;

	switch (k->type) {
	case CT_HOST:
		/* a greeting name is a name, not an address literal */
		if (*val == '[' || !addr_domain_valid(val, 0)) {
			snprintf(msg, msglen, "bad domain '%.64s'", val);
			return -1;
		}
		return conf_set_str(c, k, val, msg, msglen);
	case CT_PATH:
		if (*val == '\0')
			return conf_set_str(c, k, NULL, msg, msglen);
		if (*val == '/')
			rc = snprintf(tmp, sizeof(tmp), "%s", val);
		else if (basedir != NULL)
			rc = snprintf(tmp, sizeof(tmp), "%s%s%s", basedir,
			    basedir[strlen(basedir) - 1] == '/' ? "" : "/", val);
		else {
			snprintf(msg, msglen, "relative path with no base");
			return -1;
		}
		if (rc < 0 || rc > CONF_PATH_MAX) {
			snprintf(msg, msglen, "path longer than %d bytes",
			    CONF_PATH_MAX);
			return -1;
		}
		return conf_set_str(c, k, tmp, msg, msglen);
	case CT_DOMAINS: case CT_LISTEN: case CT_CIDRS:
		return conf_set_list(c, k, val, msg, msglen);
	case CT_SIZE:
		if (conf_parse_size(val, &size) == -1 || size > CONF_SIZE_MAX ||
		    (size == 0 && !(k->flags & CF_ZERO_OK))) {
			snprintf(msg, msglen, "bad size '%.64s' (want bytes, "
			    "with k, m or g: %d to 1024g)", val,
			    (k->flags & CF_ZERO_OK) ? 0 : 1);
			return -1;
		}
		*(uint64_t *)conf_field(c, k->off) = size;
		return 0;
	case CT_DURATION:
		if (conf_parse_duration(val, &n) == -1 || n < k->min ||
		    n > k->max) {
			snprintf(msg, msglen, "bad duration '%.64s' (want "
			    "seconds, or a number with s, m, h or d: %llds to "
			    "3650d)", val, k->min);
			return -1;
		}
		*(long long *)conf_field(c, k->off) = n;
		return 0;
	case CT_UINT:
		n = -1;
		if (*val >= '0' && *val <= '9')
			n = strtonum(val, k->min, k->max, &errstr);
		if (n < 0 || errstr != NULL) {
			snprintf(msg, msglen, "bad number '%.64s' (want %lld "
			    "to %lld)", val, k->min, k->max);
			return -1;
		}
		*(unsigned *)conf_field(c, k->off) = (unsigned)n;
		return 0;
	case CT_BOOL:
		if (conf_parse_bool(val, &b) == -1) {
			snprintf(msg, msglen, "bad boolean '%.64s' (want yes "
			    "or no)", val);
			return -1;
		}
		*(int *)conf_field(c, k->off) = b;
		return 0;
	case CT_USER:
		if (*val == '\0')
			return conf_set_str(c, k, NULL, msg, msglen);
		rc = isdigit((unsigned char)*val) ?
		    conf_parse_ids(val, &uid, &gid) :
		    (conf_login_valid(val) ? 0 : -1);
		if (rc == -2 || strcmp(val, "root") == 0) {
			snprintf(msg, msglen, "'%.64s' is root: a role account "
			    "must be unprivileged", val);
			return -1;
		}
		if (rc == -1) {
			snprintf(msg, msglen, "bad user '%.64s' (want a login "
			    "name or uid[:gid])", val);
			return -1;
		}
		return conf_set_str(c, k, val, msg, msglen);
	case CT_RESOLVER:
		if (*val == '\0')
			return conf_set_str(c, k, NULL, msg, msglen);
		why = "bad address";
		rc = -1;
		if (strcmp(val, "*") != 0 && strncmp(val, "*:", 2) != 0) {
			rc = net_parse_hostport(val, &ss, &sslen, &why);
			snprintf(tmp, sizeof(tmp), "%s", val);
		}
		if (rc == -1 && strcmp(val, "*") != 0) {
			/* no port written: the DNS port */
			if (*val == '[' || strchr(val, ':') == NULL)
				snprintf(tmp, sizeof(tmp), "%s:53", val);
			else
				snprintf(tmp, sizeof(tmp), "[%s]:53", val);
			if (net_parse_hostport(tmp, &ss, &sslen, &errstr) == 0)
				rc = 0;
		}
		if (rc == -1) {
			snprintf(msg, msglen, "bad resolver '%.64s': %s", val,
			    why);
			return -1;
		}
		return conf_set_str(c, k, tmp, msg, msglen);
	}
	snprintf(msg, msglen, "internal error: bad key type");
	return -1;
}

static const struct conf_key *
conf_find_key(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < CONF_NKEYS; i++)
		if (strlen(conf_keys[i].name) == len &&
		    memcmp(conf_keys[i].name, name, len) == 0)
			return &conf_keys[i];
	return NULL;
}

static size_t
conf_key_index(const char *name)
{
	return (size_t)(conf_find_key(name, strlen(name)) - conf_keys);
}

/* local_domains when not written: the host name and localhost */
static int
conf_default_domains(struct conf *c, char *msg, size_t msglen)
{
	char v[ADDR_DOMAIN_MAX + 16];

	if (c->hostname == NULL || strcasecmp(c->hostname, "localhost") == 0)
		snprintf(v, sizeof(v), "localhost");
	else
		snprintf(v, sizeof(v), "%s localhost", c->hostname);
	return conf_set_value(c, &conf_keys[conf_key_index("local_domains")],
	    v, NULL, msg, msglen);
}

int
conf_defaults(struct conf *c)
{
	char msg[CONF_MSG_MAX], host[256];
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < CONF_NKEYS; i++) {
		if (conf_keys[i].def == NULL)
			continue;
		if (conf_set_value(c, &conf_keys[i], conf_keys[i].def, NULL,
		    msg, sizeof(msg)) == -1)
			goto fail;
	}
	/* a host whose name is unset or odd still gets a working default */
	if (gethostname(host, sizeof(host)) == -1)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	if (!addr_domain_valid(host, 0))
		snprintf(host, sizeof(host), "localhost");
	if (conf_set_value(c, &conf_keys[conf_key_index("hostname")], host,
	    NULL, msg, sizeof(msg)) == -1 ||
	    conf_default_domains(c, msg, sizeof(msg)) == -1)
		goto fail;
	return 0;
fail:
	conf_free(c);
	errno = strcmp(msg, "out of memory") == 0 ? ENOMEM : EINVAL;
	return -1;
}

int
conf_load_mem(struct conf *c, const char *name, const char *basedir,
    const char *data, size_t len, char *err, size_t errlen)
{
	struct conf_reader r;
	const struct conf_key *k;
	unsigned long seen[CONF_NKEYS], ln;
	char line[CONF_LINE_MAX + 1], msg[CONF_MSG_MAX], *eq, *val;
	size_t klen, i;
	int rc;

	if (name == NULL)
		name = "(config)";
	if (conf_defaults(c) == -1)
		return conf_error(err, errlen, name, 0, "defaults: %s",
		    strerror(errno));
	if ((c->path = strdup(name)) == NULL) {
		conf_error(err, errlen, name, 0, "out of memory");
		goto fail;
	}
	memset(seen, 0, sizeof(seen));
	conf_reader_init(&r, name, data, len);
	while ((rc = conf_reader_next(&r, line, sizeof(line), err,
	    errlen)) == 1) {
		if ((eq = strchr(line, '=')) == NULL) {
			conf_error(err, errlen, name, r.line,
			    "missing '=' (want key = value)");
			goto fail;
		}
		for (klen = (size_t)(eq - line); klen > 0 &&
		    (line[klen - 1] == ' ' || line[klen - 1] == '\t'); klen--)
			;
		if (klen == 0) {
			conf_error(err, errlen, name, r.line, "missing key "
			    "before '='");
			goto fail;
		}
		if ((k = conf_find_key(line, klen)) == NULL) {
			conf_error(err, errlen, name, r.line,
			    "unknown key '%.*s'", klen > 64 ? 64 : (int)klen,
			    line);
			goto fail;
		}
		i = (size_t)(k - conf_keys);
		if (seen[i] != 0) {
			conf_error(err, errlen, name, r.line, "duplicate key "
			    "'%s' (first set on line %lu)", k->name, seen[i]);
			goto fail;
		}
		seen[i] = r.line;
		for (val = eq + 1; *val == ' ' || *val == '\t'; val++)
			;
		if (*val == '\0' && !(k->flags & CF_OPTIONAL)) {
			conf_error(err, errlen, name, r.line, "%s: empty value",
			    k->name);
			goto fail;
		}
		if (conf_set_value(c, k, val, basedir, msg, sizeof(msg)) == -1) {
			conf_error(err, errlen, name, r.line, "%s: %s", k->name,
			    msg);
			goto fail;
		}
	}
	if (rc == -1)
		goto fail;

	if (seen[conf_key_index("hostname")] != 0 &&
	    seen[conf_key_index("local_domains")] == 0 &&
	    conf_default_domains(c, msg, sizeof(msg)) == -1) {
		conf_error(err, errlen, name, 0, "local_domains: %s", msg);
		goto fail;
	}
	if (c->retry_min > c->retry_max) {
		ln = seen[conf_key_index("retry_min")];
		if (seen[conf_key_index("retry_max")] > ln)
			ln = seen[conf_key_index("retry_max")];
		conf_error(err, errlen, name, ln, "retry_min (%llds) is larger "
		    "than retry_max (%llds)", c->retry_min, c->retry_max);
		goto fail;
	}
	/* RFC 5321 4.5.3.1.6: a server must take 998 octets plus CRLF */
	if (c->smtp_line_length_limit != 0 &&
	    c->smtp_line_length_limit < CONF_LINE_LENGTH_MIN) {
		conf_error(err, errlen, name,
		    seen[conf_key_index("smtp_line_length_limit")],
		    "smtp_line_length_limit (%u) must be 0 (no limit) or at "
		    "least %d (RFC 5321 4.5.3.1.6)", c->smtp_line_length_limit,
		    CONF_LINE_LENGTH_MIN);
		goto fail;
	}
	/* one queue transaction per session: more would close the link */
	if (c->smtp_max_sessions > QP_TRUSTED_TXN_MAX) {
		conf_error(err, errlen, name,
		    seen[conf_key_index("smtp_max_sessions")],
		    "smtp_max_sessions (%u) is more than the %d transactions "
		    "kurir-queue takes from kurir-smtpd at once",
		    c->smtp_max_sessions, QP_TRUSTED_TXN_MAX);
		goto fail;
	}
	if ((c->tls_cert_file == NULL) != (c->tls_key_file == NULL)) {
		ln = seen[conf_key_index("tls_cert_file")] +
		    seen[conf_key_index("tls_key_file")];
		conf_error(err, errlen, name, ln, "tls_cert_file and "
		    "tls_key_file must be set together");
		goto fail;
	}
	return 0;
fail:
	conf_free(c);
	return -1;
}

int
conf_load(struct conf *c, const char *path, char *err, size_t errlen)
{
	struct buf b;
	char dir[PATH_MAX], absdir[PATH_MAX], *abs = NULL;
	const char *slash, *base;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	path = conf_path(path);
	if (conf_read_file(path, CONF_FILE_MAX, &b) == -1)
		return conf_error(err, errlen, path, 0, "%s", errno == EFBIG ?
		    "file larger than 1 MiB" : strerror(errno));
	/*
	 * Relative paths in the file are taken from the directory of the
	 * file as named (a symlinked kurir.conf keeps its link's folder),
	 * made absolute so that they survive kurird's chdir and chroots.
	 */
	if ((slash = strrchr(path, '/')) == NULL) {
		snprintf(dir, sizeof(dir), ".");
		base = path;
	} else {
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 :
		    (int)(slash - path), path);
		base = slash + 1;
	}
	if (realpath(dir, absdir) == NULL) {
		conf_error(err, errlen, path, 0, "%s", strerror(errno));
		goto out;
	}
	if (asprintf(&abs, "%s%s%s", absdir, strcmp(absdir, "/") == 0 ? "" :
	    "/", base) == -1) {
		abs = NULL;
		conf_error(err, errlen, path, 0, "out of memory");
		goto out;
	}
	rc = conf_load_mem(c, path, absdir, b.data, b.len, err, errlen);
	if (rc == 0) {
		free(c->path);
		c->path = abs;
		abs = NULL;
	}
out:
	free(abs);
	buf_free(&b);
	return rc;
}

void
conf_free(struct conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < CONF_NKEYS; i++)
		conf_free_key(c, &conf_keys[i]);
	free(c->path);
	memset(c, 0, sizeof(*c));
}

int
conf_print(const struct conf *c, FILE *fp)
{
	const struct conf_key *k;
	const struct strlist *l;
	const struct cidr *nets;
	const void *f;
	char a[INET6_ADDRSTRLEN];
	const char *s;
	size_t i, j, n;

	for (i = 0; i < CONF_NKEYS; i++) {
		k = &conf_keys[i];
		f = conf_cfield(c, k->off);
		fprintf(fp, "# %s\n%s =", k->meaning, k->name);
		switch (k->type) {
		case CT_HOST: case CT_PATH: case CT_RESOLVER: case CT_USER:
			s = k->type == CT_USER ?
			    ((const struct conf_user *)f)->spec :
			    *(char *const *)f;
			if (s != NULL)
				fprintf(fp, " %s", s);
			break;
		case CT_DOMAINS: case CT_LISTEN:
			l = f;
			for (j = 0; j < l->n; j++)
				fprintf(fp, " %s", l->v[j]);
			break;
		case CT_CIDRS:
			nets = *(struct cidr *const *)f;
			n = *(const size_t *)conf_cfield(c, k->off2);
			for (j = 0; j < n; j++) {
				if (inet_ntop(nets[j].family, nets[j].addr, a,
				    sizeof(a)) == NULL)
					return -1;
				fprintf(fp, " %s", a);
				/* a host is written without its /32 or /128 */
				if (nets[j].prefix != (nets[j].family ==
				    AF_INET ? 32 : 128))
					fprintf(fp, "/%d", nets[j].prefix);
			}
			break;
		case CT_SIZE:
			fprintf(fp, " %llu",
			    (unsigned long long)*(const uint64_t *)f);
			break;
		case CT_DURATION:
			fprintf(fp, " %llds", *(const long long *)f);
			break;
		case CT_UINT:
			fprintf(fp, " %u", *(const unsigned *)f);
			break;
		case CT_BOOL:
			fprintf(fp, " %s", *(const int *)f ? "yes" : "no");
			break;
		}
		fputc('\n', fp);
	}
	return ferror(fp) ? -1 : 0;
}
