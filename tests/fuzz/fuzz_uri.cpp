// libFuzzer target: URIs in every context, name-addr, and URI comparison.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "referkit/core/headers.hpp"
#include "referkit/core/uri.hpp"

using namespace referkit;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    for (UriContext ctx : {UriContext::request_uri, UriContext::name_addr, UriContext::addr_spec}) {
        auto u = parse_uri(text, ctx);
        if (!u) {
            if (u.error().offset > size) std::abort();
            continue;
        }
        if (!uri_equivalent(*u, *u)) std::abort();  // reflexive
        for (const Param& p : u->params) (void)p;
        (void)u->header("Replaces");
        (void)percent_decode(u->user);
    }
    if (auto na = parse_name_addr(text)) (void)na->display();
    return 0;
}
