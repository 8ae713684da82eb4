# tls_lib.sh - certificates made for a test (POSIX sh; source it after
# lib.sh): used by etcd_lib.sh and amqp_lib.sh for their TLS listeners.
#
#   TLS_DIR=$T/tls         # where the keys and certificates go (made)
#   tls_cert NAME CA SUBJECT [SAN]
#                          # NAME.key and NAME.crt for SUBJECT ("/CN=..."),
#                          # signed by CA (NAME itself, a CA, when CA is
#                          # "self"), with subjectAltName SAN if given
#
# Keys are RSA 2048 without a passphrase, valid two days; a missing
# openssl skips the test (77), a failing one stops it (99).

TLS_DIR=

tls_cert() {
	command -v openssl >/dev/null 2>&1 || skip "openssl not installed"
	_t=${TLS_DIR:?set TLS_DIR before tls_cert}
	mkdir -p "$_t" || exit 99
	openssl req -new -newkey rsa:2048 -nodes -keyout "$_t/$1.key" \
	    -subj "$3" -out "$_t/$1.csr" 2>/dev/null || exit 99
	if [ "$2" = self ]; then
		openssl x509 -req -in "$_t/$1.csr" -signkey "$_t/$1.key" \
		    -days 2 -out "$_t/$1.crt" \
		    -extfile /dev/stdin 2>/dev/null <<-EOF2 || exit 99
		basicConstraints=critical,CA:TRUE
		keyUsage=keyCertSign,cRLSign
		EOF2
		return 0
	fi
	openssl x509 -req -in "$_t/$1.csr" -CA "$_t/$2.crt" \
	    -CAkey "$_t/$2.key" -CAcreateserial -days 2 -out "$_t/$1.crt" \
	    -extfile /dev/stdin 2>/dev/null <<-EOF2 || exit 99
	basicConstraints=CA:FALSE
	${4:+subjectAltName=$4}
	extendedKeyUsage=serverAuth,clientAuth
	EOF2
}
