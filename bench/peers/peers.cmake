# Adapters around the C SIP stacks the benchmarks compare against (see peers.hpp).
# include()d from bench/CMakeLists.txt; defines the static library target referkit_bench_peers.
#
# Debian 12 packages / pkg-config names:
#   libosip2-dev        -> libosip2      (libosipparser2 + libosip2; only the parser is used)
#   libsofia-sip-ua-dev -> sofia-sip-ua  (headers under /usr/include/sofia-sip-1.12)
#   libre-dev           -> libre         (headers under /usr/include/re)
include_guard(GLOBAL)

find_package(PkgConfig REQUIRED)
pkg_check_modules(REFERKIT_PEER_OSIP REQUIRED IMPORTED_TARGET libosip2)
pkg_check_modules(REFERKIT_PEER_SOFIA REQUIRED IMPORTED_TARGET sofia-sip-ua)
pkg_check_modules(REFERKIT_PEER_RE REQUIRED IMPORTED_TARGET libre)

add_library(referkit_bench_peers STATIC
    ${CMAKE_CURRENT_LIST_DIR}/osip_adapter.cpp
    ${CMAKE_CURRENT_LIST_DIR}/sofia_adapter.cpp
    ${CMAKE_CURRENT_LIST_DIR}/re_adapter.cpp)

# Users include "peers.hpp"; it exposes no library header, so the stacks stay private.
target_include_directories(referkit_bench_peers PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_compile_features(referkit_bench_peers PUBLIC cxx_std_23)

# libre's headers depend on its build configuration: without HAVE_INTTYPES_H re_types.h defines
# its own integer types, without HAVE_STDBOOL_H it #defines bool/true/false (fatal in C++), and
# HAVE_INET6 matches the library's struct sa. Only re_adapter.cpp includes libre headers; the
# oSIP and Sofia headers do not look at these macros. (re.h already has extern "C" guards;
# re_adapter.cpp #undefs the min/max macros re_types.h defines.)
target_compile_definitions(referkit_bench_peers PRIVATE HAVE_INTTYPES_H HAVE_STDBOOL_H HAVE_INET6)
target_compile_options(referkit_bench_peers PRIVATE
    $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra>)

# PRIVATE on a static library still propagates the link dependencies to whatever links it.
target_link_libraries(referkit_bench_peers PRIVATE
    PkgConfig::REFERKIT_PEER_OSIP
    PkgConfig::REFERKIT_PEER_SOFIA
    PkgConfig::REFERKIT_PEER_RE)

# The hand-built check (not a target here), e.g.:
#   g++ -std=c++23 -O2 -Wall -Wextra -DHAVE_INTTYPES_H -DHAVE_STDBOOL_H -DHAVE_INET6 \
#       $(pkg-config --cflags libosip2 sofia-sip-ua libre) bench/peers/*.cpp \
#       -o peers_selftest $(pkg-config --libs libosip2 sofia-sip-ua libre)
#   ./peers_selftest bench/corpus
