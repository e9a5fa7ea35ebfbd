#!/usr/bin/env bash
# Packaging check: builds libmpsync with CMake (examples on, run through CTest),
# installs it into a temporary prefix, then builds and runs a C and a C++ consumer
# (mpsync.hpp) against the *installed* package, with find_package(mpsync)
# (examples/consumer) and with pkg-config, and checks the SONAME, the symlinks, the version checks, and that the
# installed libraries are stripped and export exactly the header's functions
# (scripts/check-exports.sh), also when installed with `cmake --install --strip`.
# Ends with "cmake-consume: N passed, N failed"; exits non-zero if anything failed.
#   bash .ci/cmake-consume.sh [workdir]     (default: a temporary directory, removed)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -ge 1 ]; then
    work=$1
    mkdir -p "$work"
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
fi
jobs=$(nproc 2>/dev/null || echo 2)

# The version, from Cargo.toml's [package] section (as CMakeLists.txt reads it).
version=$(awk '/^\[/{p=($0=="[package]")} p && /^version *=/{gsub(/.*= *"|".*/,""); print; exit}' "$root/Cargo.toml")
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}
echo "== cmake-consume: libmpsync $version, work dir $work"

build=$work/build
prefix=$work/prefix
libdir=$prefix/lib

echo "+ cmake configure / build / ctest / install"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMPSYNC_BUILD_EXAMPLES=ON \
    -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib
cmake --build "$build" -j "$jobs"
(cd "$build" && ctest --output-on-failure)
cmake --install "$build"

passed=0
failed=0
check() {
    local name=$1
    shift
    if "$@"; then
        echo "ok $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name"
        failed=$((failed + 1))
    fi
}

soname_is_major() {
    readelf -d "$libdir/libmpsync.so.$version" | tee "$work/readelf.txt" | grep -F "Library soname: [libmpsync.so.$major]"
}
symlinks() {
    [ "$(readlink "$libdir/libmpsync.so.$major")" = "libmpsync.so.$version" ] &&
        [ "$(readlink "$libdir/libmpsync.so")" = "libmpsync.so.$major" ] &&
        [ -f "$libdir/libmpsync.a" ]
}
header_installed() {
    cmp "$root/include/mpsync.h" "$prefix/include/mpsync.h" &&
        cmp "$root/include/mpsync.hpp" "$prefix/include/mpsync.hpp"
}

# Stripped, versioned, only the header's functions exported (shared and static).
exports_are_the_header() {
    sh "$root/scripts/check-exports.sh" "$prefix/include/mpsync.h" \
        "$libdir/libmpsync.so.$version" "$libdir/libmpsync.a"
}
debuginfo_installed() {
    readelf -S -W "$libdir/.debug/libmpsync.so.$version.debug" | grep -qF .debug_info &&
        readelf -p .gnu_debuglink "$libdir/libmpsync.so.$version" | grep -qF "libmpsync.so.$version.debug"
}
install_strip() {
    rm -rf "$work/prefix-strip" &&
        cmake --install "$build" --prefix "$work/prefix-strip" --strip &&
        sh "$root/scripts/check-exports.sh" "$work/prefix-strip/include/mpsync.h" \
            "$work/prefix-strip/lib/libmpsync.so.$version" "$work/prefix-strip/lib/libmpsync.a"
}
sizes() {
    ls -l "$libdir/libmpsync.so.$version" "$libdir/libmpsync.a" "$libdir/.debug/libmpsync.so.$version.debug"
}

# find_package(mpsync X.Y) + mpsync::mpsync / mpsync::mpsync_static
cmake_consumer() {
    cmake -S "$root/examples/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$prefix" \
        -DMPSYNC_REQUIRED_VERSION="$major.$minor" &&
        cmake --build "$work/consumer" -j "$jobs" &&
        "$work/consumer/consumer" "find_package consumer (shared)" &&
        readelf -d "$work/consumer/consumer" | grep -F "Shared library: [libmpsync.so.$major]"
}
cmake_consumer_cpp() {
    "$work/consumer/consumer_cpp" "find_package C++ consumer (mpsync.hpp)" &&
        readelf -d "$work/consumer/consumer_cpp" | grep -F "Shared library: [libmpsync.so.$major]"
}
cmake_consumer_static() {
    "$work/consumer/consumer_static" "find_package consumer (static)" &&
        ! readelf -d "$work/consumer/consumer_static" | grep -F libmpsync
}
# SameMajorVersion: asking for the next major version must fail.
cmake_rejects_next_major() {
    ! cmake -S "$root/examples/consumer" -B "$work/consumer-next" -DCMAKE_PREFIX_PATH="$prefix" \
        -DMPSYNC_REQUIRED_VERSION="$((major + 1)).0" >"$work/next-major.log" 2>&1 &&
        grep -qF "mpsyncConfig.cmake, version: $version" "$work/next-major.log"
}

# pkg-config, plain cc, as in the README.
pkgconfig_consumer() {
    local pc_libdir
    pc_libdir=$(PKG_CONFIG_PATH=$1/lib/pkgconfig pkg-config --variable=libdir mpsync) &&
        [ "$(PKG_CONFIG_PATH=$1/lib/pkgconfig pkg-config --modversion mpsync)" = "$version" ] &&
        # shellcheck disable=SC2046
        cc -std=c99 -Wall -Wextra -Werror "$root/examples/consumer/consumer.c" \
            -o "$work/pc-consumer" $(PKG_CONFIG_PATH=$1/lib/pkgconfig pkg-config --cflags --libs mpsync) \
            -Wl,-rpath,"$pc_libdir" &&
        "$work/pc-consumer" "pkg-config consumer ($2)" &&
        readelf -d "$work/pc-consumer" | grep -F "Shared library: [libmpsync.so.$major]"
}
# pkg-config with the C++ header: C++17, every warning an error.
pkgconfig_consumer_cpp() {
    local pc_libdir
    pc_libdir=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --variable=libdir mpsync) &&
        # shellcheck disable=SC2046
        c++ -std=c++17 -Wall -Wextra -Wpedantic -Werror "$root/examples/consumer/consumer.cpp" \
            -o "$work/pc-consumer-cpp" $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs mpsync) \
            -Wl,-rpath,"$pc_libdir" &&
        "$work/pc-consumer-cpp" "pkg-config C++ consumer (mpsync.hpp)"
}
# The .pc file locates its prefix from its own directory: a moved tree still works.
relocated_pkgconfig() {
    rm -rf "$work/moved" && cp -a "$prefix" "$work/moved" && pkgconfig_consumer "$work/moved" "moved prefix" &&
        readelf -d "$work/pc-consumer" | grep -F "$work/moved/lib"
}

check "installed libmpsync.so.$version has SONAME libmpsync.so.$major" soname_is_major
check "symlinks libmpsync.so -> libmpsync.so.$major -> libmpsync.so.$version, and libmpsync.a" symlinks
check "installed include/mpsync.h and mpsync.hpp are the committed headers" header_installed
check "installed libraries are stripped and export exactly the header's functions (MPSYNC_0.2)" exports_are_the_header
check "debug information installed in lib/.debug and linked from the library" debuginfo_installed
check "cmake --install --strip works" install_strip
sizes
check "find_package(mpsync $major.$minor) + mpsync::mpsync builds and runs" cmake_consumer
check "find_package(mpsync) + mpsync::mpsync builds and runs the C++ (mpsync.hpp) consumer" cmake_consumer_cpp
check "mpsync::mpsync_static links libmpsync.a and runs" cmake_consumer_static
check "find_package(mpsync $((major + 1)).0) is rejected (SameMajorVersion)" cmake_rejects_next_major
check "pkg-config --cflags --libs mpsync builds and runs" pkgconfig_consumer "$prefix" "installed prefix"
check "pkg-config --cflags --libs mpsync builds and runs the C++ (mpsync.hpp) consumer" pkgconfig_consumer_cpp
check "mpsync.pc works from a moved install tree" relocated_pkgconfig

echo "cmake-consume: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
