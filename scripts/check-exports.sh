#!/bin/sh
# Checks that release libraries export exactly the functions that include/mpsync.h
# declares, and carry no debug information:
#
#   scripts/check-exports.sh HEADER LIBRARY...
#
# For a shared library (*.so*): the defined dynamic symbols are exactly the header's
# functions, each with the version MPSYNC_0.2 (cmake/mpsync.map), plus that version's
# own definition; no .debug_* or .symtab section; a .gnu_debuglink section.
# For a static library (*.a): the defined global and weak symbols are exactly the
# header's functions; no .debug_* section.
# The function list is parsed from the header (every top-level declaration
# `... mp_name(...);`), so adding a function to the header needs no change here.
# Prints what differs and exits non-zero on any difference.
set -eu

if [ $# -lt 2 ]; then
    echo "usage: $0 HEADER LIBRARY..." >&2
    exit 2
fi
header=$1
shift
version=MPSYNC_0.2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Top-level function declarations: a line that starts with a type (not a comment, a
# preprocessor line, a typedef or a struct body) and names mp_* before its first '('.
grep -E '^[A-Za-z_][A-Za-z0-9_ *]*[ *]mp_[a-z0-9_]+\(' "$header" | grep -v '^typedef' |
    sed -E 's/^[^(]*[ *](mp_[a-z0-9_]+)\(.*/\1/' | sort -u >"$work/header.txt"
if [ ! -s "$work/header.txt" ]; then
    echo "check-exports: no functions found in $header" >&2
    exit 1
fi

status=0
for lib in "$@"; do
    case $lib in
    *.a)
        readelf -s -W "$lib" |
            awk '($5 == "GLOBAL" || $5 == "WEAK") && $7 != "UND" { print $8 }' |
            sort -u >"$work/lib.txt"
        ;;
    *)
        # Versioned dynamic symbols read "name@@VERSION"; anything else is unversioned.
        readelf --dyn-syms -W "$lib" |
            awk '$1 ~ /^[0-9]+:$/ && $5 != "LOCAL" && $7 != "UND" { print $8 }' |
            sort -u >"$work/dyn.txt"
        grep -vxF "$version" "$work/dyn.txt" | sed "s/@@$version\$//" >"$work/lib.txt" || true
        if grep -v -e "@@$version\$" -e "^$version\$" "$work/dyn.txt" >"$work/unversioned.txt"; then
            echo "check-exports: $lib: exported without the version $version:" >&2
            sed 's/^/  /' "$work/unversioned.txt" >&2
            status=1
        fi
        if ! readelf -S -W "$lib" | grep -qF .gnu_debuglink; then
            echo "check-exports: $lib: no .gnu_debuglink section" >&2
            status=1
        fi
        if readelf -S -W "$lib" | grep -qF ' .symtab '; then
            echo "check-exports: $lib: not stripped (has .symtab)" >&2
            status=1
        fi
        ;;
    esac
    # (.debug_gdb_scripts is not debug information: an allocated section that tells gdb
    # to load Rust's pretty-printers; debug builds have it.)
    if readelf -S -W "$lib" | grep -F ' .debug_' | grep -qvF .debug_gdb_scripts; then
        echo "check-exports: $lib: carries debug information (.debug_* sections)" >&2
        status=1
    fi
    if ! cmp -s "$work/header.txt" "$work/lib.txt"; then
        echo "check-exports: $lib: exported symbols differ from $header's functions" >&2
        echo "  (- only in the header, + only in the library):" >&2
        diff "$work/header.txt" "$work/lib.txt" | grep '^[<>]' | sed 's/^</  -/; s/^>/  +/' >&2 || true
        status=1
    else
        echo "check-exports: $lib: exports exactly the $(wc -l <"$work/header.txt") functions of $(basename "$header")"
    fi
done
exit $status
