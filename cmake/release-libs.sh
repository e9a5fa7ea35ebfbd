#!/bin/sh
# Makes the release libraries from the static library that cargo builds:
#
#   cmake/release-libs.sh CARGO_LIBMPSYNC_A OUT_DIR REALNAME SONAME
#
# writes, in OUT_DIR:
#   libmpsync.a          one relocatable object: debug info stripped, every global
#                        symbol that is not mp_* made local (the Rust standard library,
#                        compiler-rt helpers and the TLS slot no longer clash with, or
#                        leak into, the program that links it);
#   REALNAME             the shared library, linked from the same object with the
#                        version script cmake/mpsync.map (exports exactly mp_*, each
#                        versioned MPSYNC_0.2), SONAME set, stripped, with a
#                        .gnu_debuglink to:
#   REALNAME.debug       its debug information (gdb finds it next to the library or in
#                        a .debug/ directory beside it).
#
# Why not cargo's own cdylib: rustc passes the linker its own (anonymous) version
# script, and GNU ld honours only that one, so a cdylib cannot carry symbol versions.
# Relinking the staticlib with our script is the usual way out.
#
# Tools: cc (the C compiler driver, for the final link), ld, readelf, objcopy, ar; the
# variables CC, LD, READELF, OBJCOPY and AR override them.
set -eu

if [ $# -ne 4 ]; then
    echo "usage: $0 CARGO_LIBMPSYNC_A OUT_DIR REALNAME SONAME" >&2
    exit 2
fi
archive=$1
out=$2
realname=$3
soname=$4
here=$(cd "$(dirname "$0")" && pwd)
map=$here/mpsync.map
CC=${CC:-cc}
LD=${LD:-ld}
READELF=${READELF:-readelf}
OBJCOPY=${OBJCOPY:-objcopy}
AR=${AR:-ar}

mkdir -p "$out"
work=$(mktemp -d "$out/.release-libs.XXXXXX")
trap 'rm -rf "$work"' EXIT

# 1. One relocatable object holding the whole archive, so that the references between
#    its members are resolved before the foreign symbols are made local.
"$LD" -r --whole-archive "$archive" -o "$work/all.o"

# 2. The public symbols: the defined global mp_* symbols.
#    (readelf, not nm: nm's LTO plugin chokes on some Rust objects.)
"$READELF" -s -W "$work/all.o" |
    awk '($5 == "GLOBAL" || $5 == "WEAK") && $7 != "UND" && $8 ~ /^mp_/ { print $8 }' |
    sort -u >"$work/keep.txt"
if [ ! -s "$work/keep.txt" ]; then
    echo "$0: no mp_* symbols in $archive" >&2
    exit 1
fi

# 3. The static library: foreign globals local, no debug info, and no embedded LLVM
#    bitcode (Rust's standard library carries some; binutils' LLVM plugin, which ar
#    and nm load to index archives, aborts on bitcode from a newer LLVM).
"$OBJCOPY" --strip-debug --keep-global-symbols="$work/keep.txt" \
    --remove-section=.llvmbc --remove-section=.llvmcmd "$work/all.o" "$work/mpsync.o"
rm -f "$work/libmpsync.a"
"$AR" rcs "$work/libmpsync.a" "$work/mpsync.o"

# 4. The shared library, from the object that still has its debug info. The system
#    libraries are those `rustc --print native-static-libs` lists for the staticlib.
"$CC" -shared -o "$work/$realname" -Wl,-soname,"$soname" -Wl,--version-script="$map" \
    -Wl,--gc-sections -Wl,-z,relro,-z,now -Wl,-z,noexecstack -Wl,--as-needed \
    "$work/all.o" -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

# 5. Split the debug information off, strip, and link the two.
"$OBJCOPY" --only-keep-debug "$work/$realname" "$work/$realname.debug"
"$OBJCOPY" --strip-all "$work/$realname" "$work/$realname.stripped"
(cd "$work" && "$OBJCOPY" --add-gnu-debuglink="$realname.debug" "$realname.stripped")
chmod 0755 "$work/$realname.stripped"
chmod 0644 "$work/$realname.debug"

mv -f "$work/libmpsync.a" "$out/libmpsync.a"
mv -f "$work/$realname.stripped" "$out/$realname"
mv -f "$work/$realname.debug" "$out/$realname.debug"
