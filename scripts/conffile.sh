#!/bin/sh
# conffile.sh install|uninstall DESTDIR_CONFDIR GENDIR FILE... - the files
# under $(sysconfdir)/distcron as Debian treats conffiles (make install and
# make uninstall run it; INSTALL_DATA comes from the environment).
#
# install: a FILE that is absent is installed from GENDIR/FILE; one that is
# the same is left; one that differs (the operator edited it, or enabled an
# example job) is kept, and this version's is installed beside it as
# FILE.new, which the output names.
# uninstall: a FILE that is still what install would install is removed,
# an edited one is kept (and named), FILE.new is removed when it is this
# version's.
set -e
action=$1 dir=$2 gen=$3
shift 3
: "${INSTALL_DATA:=install -m 644}"

for f in "$@"; do
	src=$gen/$f dst=$dir/$f
	case $action in
	install)
		if [ ! -e "$dst" ]; then
			$INSTALL_DATA "$src" "$dst"
		elif ! cmp -s "$src" "$dst"; then
			$INSTALL_DATA "$src" "$dst.new"
			echo "distcron: $dst differs from this version's" \
			    "(edited?): kept; this version's is $dst.new"
		fi ;;
	uninstall)
		if [ -e "$dst.new" ] && cmp -s "$src" "$dst.new"; then
			rm -f "$dst.new"
		fi
		if [ -e "$dst" ] && cmp -s "$src" "$dst"; then
			rm -f "$dst"
		elif [ -e "$dst" ]; then
			echo "distcron: $dst differs from this version's" \
			    "(edited?): kept"
		fi ;;
	*)
		echo "usage: $0 install|uninstall DIR GENDIR FILE..." >&2
		exit 2 ;;
	esac
done
