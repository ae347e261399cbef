#!/bin/sh
# run-demo.sh - `make run`: a working mail host under ./run/ with a demo
# user, in the foreground.  Idempotent: an existing ./run/ is reused.
# usage: tools/run-demo.sh BUILD
set -eu
build=$(cd "${1:-build}" && pwd)
top=$(pwd)
run=$top/run
mkdir -p "$run"
conf=$run/kurir.conf
if [ ! -f "$conf" ]; then
	cat > "$conf" <<EOC
# kurir demo configuration, written by make run.  See conf/kurir.conf.example.
hostname = localhost
local_domains = localhost example.test
state_dir = $run/state
mail_dir = $run/mail
users_file = $run/users
aliases_file = $run/aliases
routes_file = $run/routes
smtp_listen = 127.0.0.1:2525
pop3_listen = 127.0.0.1:1110
relay_clients = 127.0.0.0/8 ::1
message_size_limit = 25m
EOC
	printf 'postmaster: demo\nabuse: demo\n' > "$run/aliases"
	: > "$run/routes"
fi
if [ ! -s "$run/users" ] || ! grep -q '^demo:' "$run/users"; then
	pw=$(od -An -N9 -tx1 /dev/urandom | tr -d ' \n')
	echo "$pw" | "$build/kurirctl" -f "$conf" user add demo >/dev/null
	echo "$pw" > "$run/demo-password"
	chmod 600 "$run/demo-password"
fi
"$build/kurirctl" -f "$conf" setup >/dev/null
"$build/kurirctl" -f "$conf" check
cat <<EOM

kurir demo host
  config        $conf
  demo user     demo@localhost, password: $(cat "$run/demo-password")
  send mail     printf 'Subject: hi\n\nhello\n' | KURIR_CONF=$conf $build/sendmail demo
                swaks --server 127.0.0.1:2525 --to demo@localhost   (any SMTP client)
  read it        $run/mail/demo/new/   (a Maildir: mutt -f $run/mail/demo)
  see the queue $build/kurirctl -f $conf queue   (deferred mail; flush: kurirctl flush)
  fetch by POP3 curl -u demo:$(cat "$run/demo-password") pop3://127.0.0.1:1110/1   (message 1; .../ lists them)
                any POP3 client: 127.0.0.1 port 1110, user demo, USER/PASS or AUTH PLAIN
  other domains kurir-remote delivers them by MX (or routes in $run/routes)
  stop          Ctrl-C

EOM
exec "$build/kurird" -d -f "$conf"
