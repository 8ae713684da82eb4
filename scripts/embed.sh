#!/bin/sh
# embed.sh SRCDIR FILE... - writes to stdout the C file that compiles the
# dashboard's files into distcrond (the table ui_files[] of
# include/distcron/ui.h).  FILEs are paths under SRCDIR starting "ui/";
# each becomes a byte array (od, which every system has), with its
# content type from its extension and a strong ETag made of its CRC and
# length (cksum).  Makefile.am runs it when a ui/ file changes.
set -eu
srcdir=$1
shift

ctype() {
	case $1 in
	*.html) echo 'text/html; charset=utf-8' ;;
	*.css) echo 'text/css; charset=utf-8' ;;
	*.js | *.mjs) echo 'text/javascript; charset=utf-8' ;;
	*.svg) echo 'image/svg+xml' ;;
	*.png) echo 'image/png' ;;
	*.ico) echo 'image/x-icon' ;;
	*) echo "embed.sh: $1: no content type for this extension" >&2
	   return 1 ;;
	esac
}

echo '/* Made by scripts/embed.sh from the files of ui/: do not edit. */'
echo '#include "distcron/ui.h"'
n=0
for f in "$@"; do
	case $f in
	ui/*) ;;
	*) echo "embed.sh: $f: not under ui/" >&2; exit 1 ;;
	esac
	case $f in
	*[!A-Za-z0-9._/-]* | *..*)
		echo "embed.sh: $f: a name of letters, digits, . _ - / only" >&2
		exit 1 ;;
	esac
	ctype "$f" >/dev/null
	echo "static const unsigned char f${n}[] = {"
	od -An -v -tx1 "$srcdir/$f" | sed -e 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'
	echo '0 };'
	n=$((n + 1))
done
echo 'const struct ui_file ui_files[] = {'
n=0
for f in "$@"; do
	len=$(wc -c <"$srcdir/$f" | tr -d ' ')
	crc=$(cksum <"$srcdir/$f" | cut -d ' ' -f 1)
	printf '\t{ "%s", "%s", f%d, %s, "\\"%s-%s\\"" },\n' "${f#ui/}" \
	    "$(ctype "$f")" "$n" "$len" "$crc" "$len"
	n=$((n + 1))
done
echo '};'
echo "const size_t ui_nfiles = $n;"
