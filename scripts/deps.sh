# Sourced by scripts/start and scripts/test: installs the Debian packages
# distcron needs when some are missing, then builds in the given directory.

# Packages to build and run distcron.
DC_BUILD_PKGS="build-essential autoconf automake libtool pkg-config
  libjson-c-dev libcurl4-openssl-dev libssh2-1-dev libmicrohttpd-dev
  libsqlite3-dev zlib1g-dev tzdata"
# Encrypted secrets (crypto_secretbox).
DC_BUILD_PKGS="$DC_BUILD_PKGS libsodium-dev"
# Extra packages for the test suite.
DC_TEST_PKGS="libcmocka-dev clang libclang-rt-14-dev sqlite3 python3
  openssh-server openssh-client
  procps openssl zsh mksh fish tcsh passwd curl python3-aiosmtpd"
# tests/integration/manuals.sh renders the manuals.
DC_TEST_PKGS="$DC_TEST_PKGS man-db groff-base"

dc_install() {
	missing=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q "install ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "==> installing:$missing"
	if [ "$(id -u)" != 0 ]; then
		echo "error: missing packages:$missing (run as root or install them)" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# dc_build DIR [configure args...]: configures (once) and builds in DIR.
dc_build() {
	dir=$1
	shift
	if [ ! -x "$DC_TOP/configure" ] ||
	    [ "$DC_TOP/configure.ac" -nt "$DC_TOP/configure" ] ||
	    [ "$DC_TOP/Makefile.am" -nt "$DC_TOP/Makefile.in" ]; then
		echo "==> autogen"
		(cd "$DC_TOP" && ./autogen.sh >/dev/null 2>&1) || {
			echo "error: autogen.sh failed" >&2; exit 1; }
	fi
	mkdir -p "$dir"
	if [ ! -f "$dir/Makefile" ] || [ "$DC_TOP/configure" -nt "$dir/Makefile" ]; then
		echo "==> configure $*"
		(cd "$dir" && "$DC_TOP/configure" -q "$@") || {
			echo "error: configure failed (see $dir/config.log)" >&2; exit 1; }
	fi
	echo "==> make ($dir)"
	make -s -C "$dir" -j"$(nproc)" >/dev/null || {
		make -C "$dir" 2>&1 | tail -30; exit 1; }
}

# tests/integration/supervisor.sh, systemd_unit.sh (systemd-analyze) and
# logfile.sh (logrotate) run the real programs.
DC_TEST_PKGS="$DC_TEST_PKGS supervisor systemd logrotate"
# tests/integration/debpkg.sh builds, checks and installs the Debian package.
DC_TEST_PKGS="$DC_TEST_PKGS dpkg-dev debhelper lintian"
# tests/integration/etcd_client.sh and the cluster tests start real etcd
# clusters (etcd) and set them up with etcdctl.
DC_TEST_PKGS="$DC_TEST_PKGS etcd-server etcd-client"
# AMQP jobs and ticks (issue 17): the client library, and a broker the
# tests start on loopback ports (amqp.sh), never the system's service.
DC_BUILD_PKGS="$DC_BUILD_PKGS librabbitmq-dev"
# amqps:// to an IP address: amqpc.c checks the certificate with OpenSSL.
DC_BUILD_PKGS="$DC_BUILD_PKGS libssl-dev"
DC_TEST_PKGS="$DC_TEST_PKGS rabbitmq-server"
# The dashboard's browser test (tests/integration/ui.sh): Debian's chromium,
# driven by playwright-core from npm (tests/ui/package-lock.json), which
# dc_ui_deps installs; node and npm from Debian when the machine has none.
DC_TEST_PKGS="$DC_TEST_PKGS chromium"
command -v npm >/dev/null 2>&1 || DC_TEST_PKGS="$DC_TEST_PKGS nodejs npm"

# dc_ui_deps: npm ci in tests/ui when its node_modules is missing or older
# than the lock file (a failure leaves ui.sh to skip, or fail under CI).
dc_ui_deps() {
	_d=$DC_TOP/tests/ui
	[ -f "$_d/node_modules/.package-lock.json" ] &&
	    [ ! "$_d/package-lock.json" -nt "$_d/node_modules/.package-lock.json" ] &&
	    return 0
	echo "==> npm ci (tests/ui)"
	(cd "$_d" && npm ci --no-audit --no-fund --silent) ||
	    echo "warning: npm ci failed in tests/ui" >&2
}
