/*
 * check_conf.c - unit tests for common/conf.c: defaults, every key type,
 * every error kind (each message must start "file:line: "), relative path
 * resolution, KURIR_CONF, role accounts, the shared line reader, the
 * print/load round trip, and conf/kurir.conf.example itself.
 * Writes temporary files under /tmp; runs as any user.
 */
#include <sys/stat.h>
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

#define EXAMPLE	"conf/kurir.conf.example"

static char tmp_path[64];

/* Write len bytes to a fresh temporary file; its name in tmp_path. */
static const char *
write_tmp(const char *data, size_t len)
{
	int fd;

	snprintf(tmp_path, sizeof(tmp_path), "/tmp/check_conf.XXXXXX");
	fd = mkstemp(tmp_path);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
	return tmp_path;
}

/* Load text as a file; returns conf_load's result, err filled. */
static int
load_text(struct conf *c, const char *text, char *err, size_t errlen)
{
	const char *p = write_tmp(text, strlen(text));
	int rc = conf_load(c, p, err, errlen);

	unlink(p);
	return rc;
}

static int
has_item(const struct strlist *l, const char *s)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

START_TEST(test_defaults)
{
	struct conf c;

	ck_assert_int_eq(conf_defaults(&c), 0);
	ck_assert_ptr_nonnull(c.hostname);
	ck_assert_uint_ge(c.local_domains.n, 1);
	ck_assert(has_item(&c.local_domains, "localhost"));
	ck_assert_int_eq(conf_is_local_domain(&c, "LocalHost"), 1);
	ck_assert_int_eq(conf_is_local_domain(&c, c.hostname), 1);
	ck_assert_int_eq(conf_is_local_domain(&c, "example.invalid"), 0);
	ck_assert_str_eq(c.state_dir, "/var/spool/kurir");
	ck_assert_str_eq(c.mail_dir, "/var/mail/kurir");
	ck_assert_str_eq(c.users_file, KURIR_SYSCONFDIR "/kurir/users");
	ck_assert_str_eq(c.aliases_file, KURIR_SYSCONFDIR "/kurir/aliases");
	ck_assert_str_eq(c.routes_file, KURIR_SYSCONFDIR "/kurir/routes");
	ck_assert_uint_eq(c.smtp_listen.n, 1);
	ck_assert_str_eq(c.smtp_listen.v[0], "127.0.0.1:25");
	ck_assert_uint_eq(c.submission_listen.n, 0);
	ck_assert_uint_eq(c.pop3_listen.n, 0);
	ck_assert_ptr_null(c.tls_cert_file);
	ck_assert_ptr_null(c.tls_key_file);
	ck_assert_uint_eq(c.n_relay_clients, 2);
	ck_assert_uint_eq(c.message_size_limit, 26214400);
	ck_assert_int_eq(c.queue_lifetime, 5 * 86400);
	ck_assert_int_eq(c.retry_min, 60);
	ck_assert_int_eq(c.retry_max, 3600);
	ck_assert_int_eq(c.delay_warning, 4 * 3600);
	ck_assert_ptr_null(c.dns_server);
	ck_assert_ptr_null(c.smtpd_user.spec);
	ck_assert_ptr_null(c.queue_user.spec);
	ck_assert_ptr_null(c.mail_user.spec);
	ck_assert_ptr_null(c.remote_user.spec);
	ck_assert_ptr_null(c.pop3_user.spec);
	ck_assert_int_eq(c.smtp_command_timeout, 300);
	ck_assert_int_eq(c.smtp_data_timeout, 600);
	ck_assert_uint_eq(c.smtp_min_data_rate, 500);
	ck_assert_int_eq(c.pop3_idle_timeout, 600);
	ck_assert_uint_eq(c.smtp_max_recipients, 100);
	ck_assert_uint_eq(c.smtp_max_errors, 20);
	ck_assert_uint_eq(c.smtp_line_length_limit, 0);	/* no limit */
	ck_assert_uint_eq(c.max_hop_count, 50);
	ck_assert_uint_eq(c.smtp_max_sessions, 1000);
	ck_assert_uint_eq(c.smtp_max_sessions_per_ip, 20);
	ck_assert_uint_eq(c.pop3_max_sessions, 1000);
	ck_assert_uint_eq(c.pop3_max_sessions_per_ip, 20);
	ck_assert_uint_eq(c.client_ipv6_prefix, 64);
	ck_assert_uint_eq(c.queue_min_free, 100 * 1024 * 1024);
	ck_assert_uint_eq(c.queue_max_clients_per_uid, 50);
	ck_assert_uint_eq(c.pop3_max_errors, 10);
	ck_assert_uint_eq(c.auth_workers, 2);
	ck_assert_uint_eq(c.auth_fail_limit, 20);
	ck_assert_int_eq(c.auth_fail_window, 900);
	ck_assert_uint_eq(c.auth_link_rate, 20);
	ck_assert_int_eq(c.percent_hack, 0);
	ck_assert_int_eq(c.plaintext_auth, 0);
	conf_free(&c);
	conf_free(&c);		/* twice is harmless */
	ck_assert_ptr_null(c.hostname);
}
END_TEST

START_TEST(test_empty_file)
{
	struct conf c;
	char err[512];

	ck_assert_msg(load_text(&c, "", err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_nonnull(c.path);
	ck_assert_int_eq(c.path[0], '/');
	ck_assert_uint_eq(c.message_size_limit, 26214400);
	conf_free(&c);
	ck_assert_msg(load_text(&c, "# only a comment\n\n   \n\t# indented\n",
	    err, sizeof(err)) == 0, "%s", err);
	conf_free(&c);
}
END_TEST

static const char good_conf[] =
    "# every key, every type\n"
    "  hostname = Mail.Example.TEST\n"
    "local_domains = Example.test, localhost   other.test\n"
    "state_dir = /srv/kurir/state\n"
    "mail_dir=/srv/kurir/mail\n"
    "users_file = /etc/k/users\n"
    "aliases_file\t=\t/etc/k/aliases\n"
    "routes_file = /etc/k/routes\n"
    "smtp_listen = 127.0.0.1:2525, [::1]:2525\n"
    "submission_listen = *:587\n"
    "pop3_listen =\n"
    "tls_cert_file = /k/cert.pem\n"
    "tls_key_file = /k/key.pem\n"
    "relay_clients = 10.0.0.0/8, 2001:db8::/32 192.0.2.7\n"
    "message_size_limit = 10m\n"
    "queue_min_free = 0\n"
    "queue_max_clients_per_uid = 7\n"
    "queue_lifetime = 2d\n"
    "retry_min = 30s\n"
    "retry_max = 2h\n"
    "delay_warning = 0\n"
    "dns_server = 127.0.0.1:5353\n"
    "smtpd_user = kurir-smtpd\n"
    "queue_user = 1001\n"
    "mail_user = 1002:1003\n"
    "remote_user = _kremote\n"
    "pop3_user =\n"
    "smtp_command_timeout = 5m\n"
    "smtp_data_timeout = 10M\n"
    "smtp_min_data_rate = 2000\n"
    "pop3_idle_timeout = 2\n"
    "smtp_max_recipients = 50\n"
    "smtp_max_errors = 5\n"
    "smtp_line_length_limit = 998\n"
    "max_hop_count = 30\n"
    "smtp_max_sessions = 7\n"
    "smtp_max_sessions_per_ip = 3\n"
    "pop3_max_sessions = 8\n"
    "pop3_max_sessions_per_ip = 4\n"
    "pop3_max_errors = 6\n"
    "auth_workers = 4\n"
    "auth_fail_limit = 5\n"
    "auth_fail_window = 2m\n"
    "auth_link_rate = 100\n"
    "percent_hack = YES\n"
    "plaintext_auth = off\n";

static void
check_good(const struct conf *c)
{
	ck_assert_str_eq(c->hostname, "Mail.Example.TEST");
	ck_assert_uint_eq(c->local_domains.n, 3);
	ck_assert_str_eq(c->local_domains.v[0], "example.test");
	ck_assert_int_eq(conf_is_local_domain(c, "EXAMPLE.test"), 1);
	ck_assert_int_eq(conf_is_local_domain(c, "other.test"), 1);
	ck_assert_int_eq(conf_is_local_domain(c, "mail.example.test"), 0);
	ck_assert_str_eq(c->state_dir, "/srv/kurir/state");
	ck_assert_str_eq(c->mail_dir, "/srv/kurir/mail");
	ck_assert_str_eq(c->aliases_file, "/etc/k/aliases");
	ck_assert_uint_eq(c->smtp_listen.n, 2);
	ck_assert_str_eq(c->smtp_listen.v[1], "[::1]:2525");
	ck_assert_uint_eq(c->submission_listen.n, 1);
	ck_assert_uint_eq(c->pop3_listen.n, 0);
	ck_assert_str_eq(c->tls_cert_file, "/k/cert.pem");
	ck_assert_uint_eq(c->n_relay_clients, 3);
	ck_assert_int_eq(c->relay_clients[1].family, AF_INET6);
	ck_assert_int_eq(c->relay_clients[2].prefix, 32);
	ck_assert_uint_eq(c->message_size_limit, 10 * 1024 * 1024);
	ck_assert_uint_eq(c->queue_min_free, 0);	/* off */
	ck_assert_uint_eq(c->queue_max_clients_per_uid, 7);
	ck_assert_int_eq(c->queue_lifetime, 2 * 86400);
	ck_assert_int_eq(c->retry_min, 30);
	ck_assert_int_eq(c->retry_max, 7200);
	ck_assert_int_eq(c->delay_warning, 0);
	ck_assert_str_eq(c->dns_server, "127.0.0.1:5353");
	ck_assert_str_eq(c->smtpd_user.spec, "kurir-smtpd");
	ck_assert_str_eq(c->queue_user.spec, "1001");
	ck_assert_str_eq(c->mail_user.spec, "1002:1003");
	ck_assert_ptr_null(c->pop3_user.spec);
	ck_assert_int_eq(c->smtp_command_timeout, 300);
	ck_assert_int_eq(c->smtp_data_timeout, 600);
	ck_assert_uint_eq(c->smtp_min_data_rate, 2000);
	ck_assert_int_eq(c->pop3_idle_timeout, 2);
	ck_assert_uint_eq(c->smtp_max_recipients, 50);
	ck_assert_uint_eq(c->smtp_max_errors, 5);
	ck_assert_uint_eq(c->smtp_line_length_limit, 998);
	ck_assert_uint_eq(c->max_hop_count, 30);
	ck_assert_uint_eq(c->smtp_max_sessions, 7);
	ck_assert_uint_eq(c->smtp_max_sessions_per_ip, 3);
	ck_assert_uint_eq(c->auth_workers, 4);
	ck_assert_uint_eq(c->auth_fail_limit, 5);
	ck_assert_int_eq(c->auth_fail_window, 120);
	ck_assert_uint_eq(c->auth_link_rate, 100);
	ck_assert_uint_eq(c->pop3_max_sessions, 8);
	ck_assert_uint_eq(c->pop3_max_sessions_per_ip, 4);
	ck_assert_uint_eq(c->pop3_max_errors, 6);
	ck_assert_int_eq(c->percent_hack, 1);
	ck_assert_int_eq(c->plaintext_auth, 0);
}

START_TEST(test_every_key)
{
	struct conf c;
	char err[512], crlf[sizeof(good_conf) * 2];
	size_t i, j;

	ck_assert_msg(load_text(&c, good_conf, err, sizeof(err)) == 0, "%s",
	    err);
	check_good(&c);
	conf_free(&c);

	/* the same with CRLF line ends and no final newline */
	for (i = j = 0; good_conf[i] != '\0'; i++) {
		if (good_conf[i] == '\n')
			crlf[j++] = '\r';
		crlf[j++] = good_conf[i];
	}
	crlf[j - 2] = '\0';
	ck_assert_msg(load_text(&c, crlf, err, sizeof(err)) == 0, "%s", err);
	check_good(&c);
	conf_free(&c);
}
END_TEST

START_TEST(test_hostname_domains)
{
	struct conf c;
	char err[512];

	/* local_domains follows hostname when not written */
	ck_assert_int_eq(load_text(&c, "hostname = MX.Example.test\n", err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(c.local_domains.n, 2);
	ck_assert_str_eq(c.local_domains.v[0], "mx.example.test");
	ck_assert_str_eq(c.local_domains.v[1], "localhost");
	conf_free(&c);
	ck_assert_int_eq(load_text(&c, "hostname = localhost\n", err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(c.local_domains.n, 1);
	conf_free(&c);
	/* an empty local_domains is allowed: a relay-only host */
	ck_assert_int_eq(load_text(&c, "local_domains =\n", err, sizeof(err)),
	    0);
	ck_assert_uint_eq(c.local_domains.n, 0);
	ck_assert_int_eq(conf_is_local_domain(&c, "localhost"), 0);
	conf_free(&c);
}
END_TEST

START_TEST(test_relative_paths)
{
	struct conf c;
	char dir[] = "/tmp/check_conf_dir.XXXXXX", real[PATH_MAX];
	char path[PATH_MAX], want[PATH_MAX + 64], err[512], cwd[PATH_MAX];
	char link[PATH_MAX];
	FILE *fp;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_nonnull(realpath(dir, real));
	snprintf(path, sizeof(path), "%s/kurir.conf", dir);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	fputs("state_dir = run/state\nmail_dir = ./mail\n"
	    "users_file = ../users\ntls_cert_file = c.pem\n"
	    "tls_key_file = /abs/k.pem\n", fp);
	ck_assert_int_eq(fclose(fp), 0);

	/* load it by a relative name from the parent directory */
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir("/tmp"), 0);
	ck_assert_msg(conf_load(&c, path + strlen("/tmp/"), err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(chdir(cwd), 0);
	snprintf(want, sizeof(want), "%s/run/state", real);
	ck_assert_str_eq(c.state_dir, want);
	snprintf(want, sizeof(want), "%s/./mail", real);
	ck_assert_str_eq(c.mail_dir, want);
	snprintf(want, sizeof(want), "%s/../users", real);
	ck_assert_str_eq(c.users_file, want);
	snprintf(want, sizeof(want), "%s/c.pem", real);
	ck_assert_str_eq(c.tls_cert_file, want);
	ck_assert_str_eq(c.tls_key_file, "/abs/k.pem");
	snprintf(want, sizeof(want), "%s/kurir.conf", real);
	ck_assert_str_eq(c.path, want);
	conf_free(&c);

	/* through a symlink elsewhere: the link's folder anchors paths */
	snprintf(link, sizeof(link), "%s/sub", dir);
	ck_assert_int_eq(mkdir(link, 0700), 0);
	snprintf(link, sizeof(link), "%s/sub/link.conf", dir);
	ck_assert_int_eq(symlink(path, link), 0);
	ck_assert_msg(conf_load(&c, link, err, sizeof(err)) == 0, "%s", err);
	snprintf(want, sizeof(want), "%s/sub/run/state", real);
	ck_assert_str_eq(c.state_dir, want);
	snprintf(want, sizeof(want), "%s/sub/link.conf", real);
	ck_assert_str_eq(c.path, want);
	conf_free(&c);
	unlink(link);
	snprintf(link, sizeof(link), "%s/sub", dir);
	rmdir(link);
	unlink(path);
	rmdir(dir);

	/* from memory without a base, a relative path is an error */
	ck_assert_int_eq(conf_load_mem(&c, "mem", NULL, "state_dir = x\n", 14,
	    err, sizeof(err)), -1);
	ck_assert_str_eq(err, "mem:1: state_dir: relative path with no base");
	ck_assert_int_eq(conf_load_mem(&c, "mem", "/base/", "state_dir = x\n",
	    14, err, sizeof(err)), 0);
	ck_assert_str_eq(c.state_dir, "/base/x");
	conf_free(&c);
}
END_TEST

static const struct {
	const char	*text;
	unsigned long	 line;
	const char	*want;
} bad[] = {
	{ "foo = 1\n", 1, "unknown key 'foo'" },
	{ "Hostname = x.test\n", 1, "unknown key 'Hostname'" },
	{ "# c\nhostname = a.test\nhostname = b.test\n", 3,
	  "duplicate key 'hostname' (first set on line 2)" },
	{ "\nhostname\n", 2, "missing '='" },
	{ "hostname: a.test\n", 1, "missing '='" },
	{ " = x\n", 1, "missing key before '='" },
	{ "state_dir =\n", 1, "state_dir: empty value" },
	{ "hostname =   \n", 1, "hostname: empty value" },
	{ "retry_min =\n", 1, "retry_min: empty value" },
	{ "percent_hack =\n", 1, "percent_hack: empty value" },
	{ "message_size_limit = 10x\n", 1, "bad size '10x'" },
	{ "message_size_limit = 10 m\n", 1, "bad size" },
	{ "message_size_limit = 10mb\n", 1, "bad size" },
	{ "message_size_limit = 0\n", 1, "bad size" },
	{ "message_size_limit = 1025g\n", 1, "bad size" },
	{ "message_size_limit = 99999999999999999999\n", 1, "bad size" },
	{ "message_size_limit = 18014398509481984k\n", 1, "bad size" },
	{ "message_size_limit = -5\n", 1, "bad size" },
	{ "queue_min_free = -1\n", 1, "bad size" },
	{ "queue_min_free = 1025g\n", 1, "bad size" },
	{ "queue_max_clients_per_uid = 0\n", 1, "queue_max_clients_per_uid" },
	{ "queue_max_clients_per_uid = 1025\n", 1,
	  "queue_max_clients_per_uid" },
	{ "queue_lifetime = 5w\n", 1, "bad duration '5w'" },
	{ "queue_lifetime = 1h30m\n", 1, "bad duration" },
	{ "queue_lifetime = 3651d\n", 1, "bad duration" },
	{ "queue_lifetime = 9223372036854775807d\n", 1, "bad duration" },
	{ "queue_lifetime = 9223372036854775808\n", 1, "bad duration" },
	{ "queue_lifetime = +5d\n", 1, "bad duration" },
	{ "retry_min = 0\n", 1, "bad duration '0'" },
	{ "smtp_command_timeout = 0s\n", 1, "bad duration" },
	{ "smtp_max_recipients = 0\n", 1, "bad number '0'" },
	/* 0 would let message text stall forever: not allowed */
	{ "smtp_min_data_rate = 0\n", 1, "bad number '0'" },
	{ "smtp_min_data_rate = 500k\n", 1, "bad number" },
	{ "smtp_max_recipients = -1\n", 1, "bad number" },
	{ "smtp_max_recipients = 1e3\n", 1, "bad number" },
	{ "smtp_max_recipients = +3\n", 1, "bad number" },
	{ "smtp_max_sessions = 4294967296\n", 1, "bad number" },
	/* kurir-auth needs a worker; a few per core is all crypt can use */
	{ "auth_workers = 0\n", 1, "bad number '0'" },
	{ "auth_workers = 17\n", 1, "bad number" },
	{ "auth_fail_limit = 0\n", 1, "bad number '0'" },
	/* a window over a day would keep a network locked out too long;
	 * in ms it must also fit the arithmetic of auth/delay.c */
	{ "auth_fail_window = 0\n", 1, "bad duration" },
	{ "auth_fail_window = 2d\n", 1, "bad duration" },
	{ "auth_link_rate = 0\n", 1, "bad number '0'" },
	{ "auth_link_rate = 1001\n", 1, "bad number" },
	{ "auth_link_rate = 1000\n", 0, NULL },
	{ "percent_hack = maybe\n", 1, "bad boolean 'maybe'" },
	{ "smtp_listen = 127.0.0.1\n", 1,
	  "bad listen address '127.0.0.1': missing ':port'" },
	{ "smtp_listen = 127.0.0.1:25 localhost:25\n", 1,
	  "bad listen address 'localhost:25'" },
	{ "pop3_listen = ::1:110\n", 1, "must be in brackets" },
	{ "submission_listen = 127.0.0.1:0\n", 1, "port not in 1..65535" },
	{ "relay_clients = 10.0.0.0/33\n", 1, "bad network '10.0.0.0/33'" },
	{ "relay_clients = 127.0.0.0/8 10.1.2.3/8\n", 1, "bits set beyond" },
	{ "relay_clients = example.test\n", 1, "bad network" },
	{ "local_domains = example.test bad_domain\n", 1,
	  "bad domain 'bad_domain'" },
	{ "local_domains = example.test.\n", 1, "bad domain" },
	{ "hostname = -bad-.test\n", 1, "bad domain" },
	{ "hostname = [192.0.2.1]\n", 1, "bad domain" },
	{ "smtpd_user = bad user\n", 1, "bad user 'bad user'" },
	{ "smtpd_user = 12:x\n", 1, "bad user '12:x'" },
	{ "smtpd_user = 12:\n", 1, "bad user" },
	{ "smtpd_user = 4294967295\n", 1, "bad user" },
	{ "smtpd_user = 123\n", 0, NULL },
	{ "queue_user = -x\n", 1, "bad user" },
	{ "mail_user = root\n", 1, "is root" },
	{ "remote_user = 0\n", 1, "is root" },
	{ "pop3_user = 100:0\n", 1, "is root" },
	{ "dns_server = nameserver\n", 1, "bad resolver 'nameserver'" },
	{ "dns_server = *\n", 1, "bad resolver" },
	{ "dns_server = 127.0.0.1:0\n", 1, "bad resolver" },
	{ "retry_min = 2h\nretry_max = 1h\n", 2,
	  "retry_min (7200s) is larger than retry_max (3600s)" },
	{ "retry_max = 1h\n\nretry_min = 2h\n", 3, "is larger than" },
	{ "retry_max = 30s\n# x\n", 1, "retry_min (60s) is larger" },
	/* kurir-queue takes 4096 open transactions from kurir-smtpd */
	{ "smtp_max_sessions = 4096\n", 0, NULL },
	{ "# c\n\nsmtp_max_sessions = 4097\n", 3,
	  "smtp_max_sessions (4097) is more than the 4096 transactions "
	  "kurir-queue takes from kurir-smtpd at once" },
	{ "smtp_max_sessions = 100000\n", 1, "is more than the 4096" },
	{ "smtp_line_length_limit = 0\n", 0, NULL },
	{ "smtp_line_length_limit = 998\n", 0, NULL },
	{ "smtp_line_length_limit = 1000000\n", 0, NULL },
	{ "# c\nsmtp_line_length_limit = 997\n", 2,
	  "smtp_line_length_limit (997) must be 0 (no limit) or at least 998" },
	{ "smtp_line_length_limit = 1\n", 1, "at least 998" },
	{ "smtp_line_length_limit = 1000001\n", 1, "bad number" },
	{ "smtp_line_length_limit = -1\n", 1, "bad number" },
	{ "smtp_line_length_limit = 2k\n", 1, "bad number" },
	{ "max_hop_count = 1\n", 0, NULL },
	{ "max_hop_count = 1000\n", 0, NULL },
	{ "max_hop_count = 0\n", 1, "bad number" },
	{ "max_hop_count = 1001\n", 1, "bad number" },
	{ "max_hop_count = fifty\n", 1, "bad number" },
	{ "# c\ntls_cert_file = /x.pem\n", 2, "must be set together" },
	{ "tls_key_file = /x.pem\n", 1, "must be set together" },
	{ "state_dir = /" "0123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "\n", 1, "path longer than" },
};

START_TEST(test_errors)
{
	struct conf c;
	char err[512], prefix[128];
	const char *p;
	size_t len;
	int rc;

	p = write_tmp(bad[_i].text, strlen(bad[_i].text));
	memset(err, 0, sizeof(err));
	rc = conf_load(&c, p, err, sizeof(err));
	unlink(p);		/* before any assertion can end the test */
	if (bad[_i].want == NULL) {
		ck_assert_msg(rc == 0, "%s", err);
		conf_free(&c);
		return;
	}
	ck_assert_msg(rc == -1, "accepted: %s", bad[_i].text);
	/* the error starts with file:line and names the reason */
	if (bad[_i].line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%lu: ", p, bad[_i].line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", p);
	len = strlen(prefix);
	ck_assert_msg(strncmp(err, prefix, len) == 0, "want '%s' got '%s'",
	    prefix, err);
	ck_assert_msg(strstr(err, bad[_i].want) != NULL, "want '%s' in '%s'",
	    bad[_i].want, err);
	/* nothing half-loaded survives an error */
	ck_assert_ptr_null(c.hostname);
	ck_assert_ptr_null(c.path);
	ck_assert_uint_eq(c.local_domains.n, 0);
}
END_TEST

START_TEST(test_line_rules)
{
	struct conf c;
	char err[512], *big;
	size_t n;

	/* a line of exactly CONF_LINE_MAX bytes is fine, one more is not */
	n = CONF_LINE_MAX + 64;
	ck_assert_ptr_nonnull(big = malloc(n));
	memset(big, ' ', n);
	memcpy(big, "# x", 3);
	big[CONF_LINE_MAX] = '\n';
	big[CONF_LINE_MAX + 1] = '\0';
	ck_assert_msg(load_text(&c, big, err, sizeof(err)) == 0, "%s", err);
	conf_free(&c);
	big[CONF_LINE_MAX] = ' ';
	big[CONF_LINE_MAX + 1] = '\n';
	big[CONF_LINE_MAX + 2] = '\0';
	ck_assert_int_eq(load_text(&c, big, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, ":1: line longer than 4096 bytes") != NULL,
	    "%s", err);
	free(big);

	/* a NUL byte on line 2 */
	write_tmp("# a\nhostname = a\0b.test\n", 24);
	ck_assert_int_eq(conf_load(&c, tmp_path, err, sizeof(err)), -1);
	unlink(tmp_path);
	ck_assert_msg(strstr(err, ":2: NUL byte in line") != NULL, "%s", err);

	/* control bytes from the file never reach the message raw */
	ck_assert_int_eq(load_text(&c, "hostname = a\033[2Jb\n", err,
	    sizeof(err)), -1);
	ck_assert_ptr_null(strchr(err, '\033'));
	ck_assert_ptr_nonnull(strstr(err, "a?[2Jb"));

	/* a file that is not there, and one that is too big */
	ck_assert_int_eq(conf_load(&c, "/nonexistent/kurir.conf", err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "/nonexistent/kurir.conf: No such file or "
	    "directory");
	n = CONF_FILE_MAX + 1;
	ck_assert_ptr_nonnull(big = malloc(n));
	memset(big, '\n', n);
	write_tmp(big, n);
	free(big);
	ck_assert_int_eq(conf_load(&c, tmp_path, err, sizeof(err)), -1);
	unlink(tmp_path);
	ck_assert_ptr_nonnull(strstr(err, "larger than 1 MiB"));
	/* a short error buffer still ends in NUL */
	ck_assert_int_eq(load_text(&c, "foo = 1\n", err, 8), -1);
	ck_assert_uint_eq(strlen(err), 7);
}
END_TEST

START_TEST(test_reader)
{
	struct conf_reader r;
	char line[CONF_LINE_MAX + 1], err[256], small[16];
	static const char text[] = "  a = 1 \t\r\n\n# c\n  # d\r\nlast";

	conf_reader_init(&r, "t", text, sizeof(text) - 1);
	ck_assert_int_eq(conf_reader_next(&r, line, sizeof(line), err,
	    sizeof(err)), 1);
	ck_assert_str_eq(line, "a = 1");
	ck_assert_uint_eq(r.line, 1);
	ck_assert_int_eq(conf_reader_next(&r, line, sizeof(line), err,
	    sizeof(err)), 1);
	ck_assert_str_eq(line, "last");
	ck_assert_uint_eq(r.line, 5);
	ck_assert_int_eq(conf_reader_next(&r, line, sizeof(line), err,
	    sizeof(err)), 0);
	conf_reader_init(&r, "t", NULL, 0);
	ck_assert_int_eq(conf_reader_next(&r, line, sizeof(line), err,
	    sizeof(err)), 0);
	conf_reader_init(&r, "t", text, sizeof(text) - 1);
	ck_assert_int_eq(conf_reader_next(&r, small, sizeof(small), err,
	    sizeof(err)), -1);
}
END_TEST

START_TEST(test_value_parsers)
{
	long long d;
	uint64_t s;
	int b;

	ck_assert_int_eq(conf_parse_duration("0", &d), 0);
	ck_assert_int_eq(d, 0);
	ck_assert_int_eq(conf_parse_duration("90", &d), 0);
	ck_assert_int_eq(d, 90);
	ck_assert_int_eq(conf_parse_duration("90s", &d), 0);
	ck_assert_int_eq(conf_parse_duration("2m", &d), 0);
	ck_assert_int_eq(d, 120);
	ck_assert_int_eq(conf_parse_duration("3h", &d), 0);
	ck_assert_int_eq(d, 10800);
	ck_assert_int_eq(conf_parse_duration("5d", &d), 0);
	ck_assert_int_eq(d, 432000);
	ck_assert_int_eq(conf_parse_duration("9223372036854775807", &d), 0);
	ck_assert_int_eq(conf_parse_duration("9223372036854775807s", &d), 0);
	ck_assert_int_eq(conf_parse_duration("153722867280912931m", &d), -1);
	ck_assert_int_eq(conf_parse_duration("106751991167300d", &d), 0);
	ck_assert_int_eq(d, 106751991167300LL * 86400);
	ck_assert_int_eq(conf_parse_duration("106751991167301d", &d), -1);
	ck_assert_int_eq(conf_parse_duration("", &d), -1);
	ck_assert_int_eq(conf_parse_duration("s", &d), -1);
	ck_assert_int_eq(conf_parse_duration("5ss", &d), -1);
	ck_assert_int_eq(conf_parse_duration(" 5", &d), -1);
	ck_assert_int_eq(conf_parse_duration("-5", &d), -1);
	ck_assert_int_eq(conf_parse_duration(NULL, &d), -1);

	ck_assert_int_eq(conf_parse_size("0", &s), 0);
	ck_assert_int_eq(conf_parse_size("1k", &s), 0);
	ck_assert_uint_eq(s, 1024);
	ck_assert_int_eq(conf_parse_size("25M", &s), 0);
	ck_assert_uint_eq(s, 26214400);
	ck_assert_int_eq(conf_parse_size("2g", &s), 0);
	ck_assert_uint_eq(s, 2147483648ULL);
	ck_assert_int_eq(conf_parse_size("9223372036854775807", &s), 0);
	ck_assert_int_eq(conf_parse_size("17179869183g", &s), 0);
	ck_assert_int_eq(conf_parse_size("17179869184g", &s), -1);
	ck_assert_int_eq(conf_parse_size("9223372036854775808", &s), -1);
	ck_assert_int_eq(conf_parse_size("1t", &s), -1);
	ck_assert_int_eq(conf_parse_size("k", &s), -1);
	ck_assert_int_eq(conf_parse_size("1kk", &s), -1);

	ck_assert_int_eq(conf_parse_bool("yes", &b), 0);
	ck_assert_int_eq(b, 1);
	ck_assert_int_eq(conf_parse_bool("On", &b), 0);
	ck_assert_int_eq(b, 1);
	ck_assert_int_eq(conf_parse_bool("TRUE", &b), 0);
	ck_assert_int_eq(conf_parse_bool("1", &b), 0);
	ck_assert_int_eq(conf_parse_bool("no", &b), 0);
	ck_assert_int_eq(b, 0);
	ck_assert_int_eq(conf_parse_bool("off", &b), 0);
	ck_assert_int_eq(conf_parse_bool("False", &b), 0);
	ck_assert_int_eq(conf_parse_bool("0", &b), 0);
	ck_assert_int_eq(conf_parse_bool("y", &b), -1);
	ck_assert_int_eq(conf_parse_bool("", &b), -1);
	ck_assert_int_eq(conf_parse_bool(NULL, &b), -1);
}
END_TEST

START_TEST(test_dns_server)
{
	static const struct { const char *in, *out; } t[] = {
		{ "127.0.0.1:5353", "127.0.0.1:5353" },
		{ "127.0.0.1", "127.0.0.1:53" },
		{ "[::1]:5353", "[::1]:5353" },
		{ "[::1]", "[::1]:53" },
		{ "::1", "[::1]:53" },
		{ "2001:db8::53", "[2001:db8::53]:53" },
		{ "", NULL },
	};
	struct conf c;
	char text[128], err[512];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(text, sizeof(text), "dns_server = %s\n", t[i].in);
		ck_assert_msg(load_text(&c, text, err, sizeof(err)) == 0, "%s",
		    err);
		if (t[i].out == NULL)
			ck_assert_ptr_null(c.dns_server);
		else
			ck_assert_str_eq(c.dns_server, t[i].out);
		conf_free(&c);
	}
}
END_TEST

START_TEST(test_conf_path)
{
	ck_assert_str_eq(conf_path("/x/y.conf"), "/x/y.conf");
	ck_assert_int_eq(setenv("KURIR_CONF", "/from/env.conf", 1), 0);
	ck_assert_str_eq(conf_path(NULL), "/from/env.conf");
	ck_assert_str_eq(conf_path("/arg/wins.conf"), "/arg/wins.conf");
	ck_assert_int_eq(setenv("KURIR_CONF", "", 1), 0);
	ck_assert_str_eq(conf_path(NULL), KURIR_SYSCONFDIR "/kurir/kurir.conf");
	ck_assert_int_eq(unsetenv("KURIR_CONF"), 0);
	ck_assert_str_eq(conf_path(NULL), KURIR_SYSCONFDIR "/kurir/kurir.conf");
}
END_TEST

START_TEST(test_conf_load_env)
{
	struct conf c;
	char err[512];
	const char *p = write_tmp("hostname = env.example.test\n", 28);

	/* conf_load(NULL) reads the file KURIR_CONF names */
	ck_assert_int_eq(setenv("KURIR_CONF", p, 1), 0);
	ck_assert_msg(conf_load(&c, NULL, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.hostname, "env.example.test");
	conf_free(&c);
	unsetenv("KURIR_CONF");
	unlink(p);
}
END_TEST

START_TEST(test_user_resolve)
{
	struct conf_user u;
	struct passwd *pw;
	uid_t uid;
	gid_t gid;
	char spec[64];

	u.spec = NULL;
	ck_assert_int_eq(conf_user_resolve(&u, &uid, &gid), 1);
	u.spec = spec;
	snprintf(spec, sizeof(spec), "1234");
	ck_assert_int_eq(conf_user_resolve(&u, &uid, &gid), 0);
	ck_assert_uint_eq(uid, 1234);
	ck_assert_uint_eq(gid, 1234);
	snprintf(spec, sizeof(spec), "1234:99");
	ck_assert_int_eq(conf_user_resolve(&u, &uid, &gid), 0);
	ck_assert_uint_eq(uid, 1234);
	ck_assert_uint_eq(gid, 99);
	snprintf(spec, sizeof(spec), "0");
	ck_assert_int_eq(conf_user_resolve(&u, &uid, &gid), -1);
	ck_assert_int_eq(errno, EPERM);
	snprintf(spec, sizeof(spec), "12:0");
	ck_assert_int_eq(conf_user_resolve(&u, &uid, &gid), -1);
	ck_assert_int_eq(errno, EPERM);
	snprintf(spec, sizeof(spec), "12x");
	ck_assert_int_eq(conf_user_resolve(&u, &uid, &gid), -1);
	ck_assert_int_eq(errno, EINVAL);
	snprintf(spec, sizeof(spec), "no-such-user-kurir-test");
	ck_assert_int_eq(conf_user_resolve(&u, &uid, &gid), -1);
	ck_assert_int_eq(errno, ENOENT);
	snprintf(spec, sizeof(spec), "root");
	ck_assert_int_eq(conf_user_resolve(&u, &uid, &gid), -1);
	ck_assert_int_eq(errno, EPERM);
	/* a real unprivileged account, looked up by name */
	if ((pw = getpwnam("nobody")) != NULL && pw->pw_uid != 0 &&
	    pw->pw_gid != 0) {
		snprintf(spec, sizeof(spec), "nobody");
		ck_assert_int_eq(conf_user_resolve(&u, &uid, &gid), 0);
		ck_assert_uint_eq(uid, pw->pw_uid);
		ck_assert_uint_eq(gid, pw->pw_gid);
	}
}
END_TEST

/* print, load the output, print again: the two texts must agree */
START_TEST(test_print_roundtrip)
{
	struct conf c, c2;
	char err[512], *t1 = NULL, *t2 = NULL;
	size_t n1 = 0, n2 = 0;
	FILE *fp;

	ck_assert_msg(load_text(&c, good_conf, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_ptr_nonnull(fp = open_memstream(&t1, &n1));
	ck_assert_int_eq(conf_print(&c, fp), 0);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_msg(conf_load_mem(&c2, "printed", "/", t1, n1, err,
	    sizeof(err)) == 0, "%s", err);
	check_good(&c2);
	ck_assert_ptr_nonnull(fp = open_memstream(&t2, &n2));
	ck_assert_int_eq(conf_print(&c2, fp), 0);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_str_eq(t1, t2);
	ck_assert_ptr_nonnull(strstr(t1, "\nrelay_clients = 10.0.0.0/8 "
	    "2001:db8::/32 192.0.2.7\n"));
	ck_assert_ptr_nonnull(strstr(t1, "\npop3_user =\n"));
	free(t1);
	free(t2);
	conf_free(&c);
	conf_free(&c2);
}
END_TEST

/* Read conf/kurir.conf.example (run from the source tree). */
static char *
read_example(void)
{
	struct buf b;
	char *s;

	if (conf_read_file(EXAMPLE, CONF_FILE_MAX, &b) == -1)
		return NULL;
	ck_assert_ptr_nonnull(s = malloc(b.len + 1));
	memcpy(s, b.data, b.len);
	s[b.len] = '\0';
	buf_free(&b);
	return s;
}

START_TEST(test_example_file)
{
	struct conf c;
	const char *key, *meaning;
	char err[512], pat[128], *text, *un, *p, *q;
	size_t i;

	if ((text = read_example()) == NULL) {
		fprintf(stderr, "check_conf: %s not found, skipped\n", EXAMPLE);
		return;
	}
	/* as shipped (make install copies it) it loads */
	ck_assert_msg(conf_load(&c, EXAMPLE, err, sizeof(err)) == 0, "%s", err);
	conf_free(&c);
	/* every key is documented as "#key = default" */
	for (i = 0; (key = conf_key_name(i, &meaning)) != NULL; i++) {
		ck_assert_ptr_nonnull(meaning);
		snprintf(pat, sizeof(pat), "\n#%s = ", key);
		ck_assert_msg(strstr(text, pat) != NULL, "%s not in %s", key,
		    EXAMPLE);
	}
	ck_assert_ptr_null(conf_key_name(i, NULL));
	/* and with every "#key = value" line switched on it still loads */
	ck_assert_ptr_nonnull(un = malloc(strlen(text) + 1));
	for (p = text, q = un; *p != '\0'; p++) {
		if (*p == '#' && (p == text || p[-1] == '\n') &&
		    p[1] >= 'a' && p[1] <= 'z')
			continue;
		*q++ = *p;
	}
	*q = '\0';
	ck_assert_msg(conf_load_mem(&c, "uncommented", "/", un, strlen(un),
	    err, sizeof(err)) == 0, "%s", err);
	conf_free(&c);
	free(un);
	free(text);
}
END_TEST

START_TEST(test_free_zeroed)
{
	struct conf c;

	memset(&c, 0, sizeof(c));
	conf_free(&c);
	conf_free(&c);
	conf_free(NULL);
	ck_assert_int_eq(conf_is_local_domain(NULL, "x"), 0);
	ck_assert_int_eq(conf_is_local_domain(&c, NULL), 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_empty_file);
	tcase_add_test(tc, test_every_key);
	tcase_add_test(tc, test_hostname_domains);
	tcase_add_test(tc, test_relative_paths);
	tcase_add_loop_test(tc, test_errors, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_line_rules);
	tcase_add_test(tc, test_reader);
	tcase_add_test(tc, test_value_parsers);
	tcase_add_test(tc, test_dns_server);
	tcase_add_test(tc, test_conf_path);
	tcase_add_test(tc, test_conf_load_env);
	tcase_add_test(tc, test_user_resolve);
	tcase_add_test(tc, test_print_roundtrip);
	tcase_add_test(tc, test_example_file);
	tcase_add_test(tc, test_free_zeroed);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
