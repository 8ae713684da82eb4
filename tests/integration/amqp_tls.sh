#!/bin/sh
# amqp_tls.sh - AMQP jobs over TLS (amqps://) against a real RabbitMQ with
# an AMQPS listener whose certificate the test made (amqp_lib.sh): with the
# CA that signed it as ca_file the message is published (a consumer on the
# broker's plain listener gets it), the URL's host being an IP address
# (checked against the certificate's IP address) or a name (its DNS name);
# with another CA, or with none (the system's CAs), every run fails at
# once (well inside its timeout) with an error that names the certificate
# verification and the CAs used; the config's amqp.ca_file is the CA of a
# job that takes the config's amqps:// URL.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/amqp_lib.sh"
api_setup
amqp_require
amqp_start_tls
trap 'daemon_log_report "$T/daemon.log"; [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; amqp_cleanup; rm -rf "$T"' EXIT

amqp_cat declare tls topic

# The config's broker is the AMQPS listener, verified with amqp.ca_file.
API_CONFIG=$T/distcrond.conf
printf '{"amqp": {"url": "%s", "ca_file": "%s"}}\n' "$AMQPS_URL" \
    "$AMQP_CA" >"$API_CONFIG"
chmod 600 "$API_CONFIG"
# job NAME TIMEOUT AMQP: a job publishing every second.
job() {
	printf '{"schedule": {"cron": "* * * * * *"}, "timeout": "%s",
 "amqp": %s}\n' "$2" "$3" >"$J/$1.json"
}
job good 20s "{\"url\": \"$AMQPS_URL\", \"ca_file\": \"$AMQP_CA\",
 \"exchange\": \"tls\", \"routing_key\": \"good\", \"body\": \"over tls\"}"
job byname 20s "{\"url\": \"amqps://guest:guest@localhost:$AMQPS_PORT\",
 \"ca_file\": \"$AMQP_CA\", \"exchange\": \"tls\", \"routing_key\": \"byname\"}"
job wrongca 20s "{\"url\": \"$AMQPS_URL\", \"ca_file\": \"$AMQP_OTHER_CA\",
 \"exchange\": \"tls\", \"routing_key\": \"wrongca\"}"
job noca 20s "{\"url\": \"$AMQPS_URL\", \"exchange\": \"tls\",
 \"routing_key\": \"noca\"}"
job dflt 20s '{"exchange": "tls", "routing_key": "dflt", "body": "default"}'

amqp_consume tls good 1 "$T/good"
cons_good=$!
amqp_consume tls byname 1 "$T/byname"
cons_byname=$!
amqp_consume tls dflt 1 "$T/dflt"
cons_dflt=$!
amqp_consume tls "*ca" 1 "$T/bad"
cons_bad=$!
check "the daemon starts with AMQPS jobs" api_daemon_start

wait "$cons_good"
check "with the right ca_file the message is published over TLS" \
    contains "$T/good" '"body":"over tls"'
wait "$cons_byname"
check "... and to localhost, checked against the certificate's DNS name" \
    contains "$T/byname" '"routing_key":"byname"'
wait "$cons_dflt"
check "a job without url takes the config's amqps:// URL and amqp.ca_file" \
    contains "$T/dflt" '"body":"default"'

check "with another CA the run fails: certificate verify failed" \
    wait_for 10 amqp_failed_with wrongca "certificate verify failed" \
    "not signed by the CA file $AMQP_OTHER_CA"
check "without ca_file (the system's CAs) it fails likewise" \
    wait_for 10 amqp_failed_with noca "certificate verify failed" \
    "not signed by one of the system's CAs"
for j in wrongca noca; do
	check "... $j at once, not at its 20 s timeout" \
	    eval "! amqp_failed_with $j 'timed out'"
done
check "... and nothing of theirs reached the broker" test ! -s "$T/bad"
kill "$cons_bad"
check "... the error names the broker, not its password" \
    eval "amqp_failed_with noca '127.0.0.1:$AMQPS_PORT' &&
    ! grep -q guest:guest '$T/h.json'"

api_daemon_stop
check "the daemon stops cleanly" test "$stop_rc" -eq 0
finish
