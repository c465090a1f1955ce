// libFuzzer target: message/sipfrag in both modes. Invariant: strict acceptance implies tolerant
// acceptance with the same start line.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "referkit/core/sipfrag.hpp"

using namespace referkit;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto tolerant = parse_sipfrag(text);
    auto strict = parse_sipfrag(text, {}, SipfragMode::strict);
    if (strict && (!tolerant || tolerant->status != strict->status || tolerant->method != strict->method)) std::abort();
    if (tolerant && tolerant->is_response && (tolerant->status < 100 || tolerant->status > 699)) std::abort();
    return 0;
}
