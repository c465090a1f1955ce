// message/sipfrag bodies (RFC 3420), parsed as tolerantly as real transferees require: bare LF or
// CRLF, no final line ending, empty or multi-word or UTF-8 reason phrases, any case of "SIP/2.0",
// trailing header lines and body. Only the start line must be well formed.
#pragma once
#include <cstdint>
#include <expected>
#include <optional>
#include <string_view>
#include <vector>

#include "referkit/core/error.hpp"
#include "referkit/core/header_id.hpp"
#include "referkit/core/headers.hpp"
#include "referkit/core/limits.hpp"

namespace referkit {

struct SipfragHeader {
    HeaderId id = HeaderId::other;
    std::string_view name;
    std::string_view value;
};

struct Sipfrag {
    bool is_response = true;
    int status = 0;                 // responses: 100..699
    std::string_view reason;        // may be empty
    std::string_view method;        // requests
    std::string_view request_uri;   // requests
    std::vector<SipfragHeader> headers;
    std::string_view body;
    // Offset of the first line after the start line that was not a header line and not the blank
    // line before a body: such trailing junk is tolerated (the status is what a REFER needs) but
    // reported here.
    std::optional<std::uint32_t> junk_offset;
};

enum class SipfragMode : std::uint8_t {
    tolerant,  // what a REFER needs: the start line strict, the rest reported (junk_offset) not refused
    strict,    // RFC 3420 §2 validity: every line a header, known headers type-checked, no duplicates
};

// Errors (bad_sipfrag, 400): empty input, no valid status line or request line, status outside
// 100..699, a SIP version other than 2.0; in strict mode also junk lines, malformed known headers
// (their own error code) and duplicated single-value headers.
[[nodiscard]] std::expected<Sipfrag, ParseError> parse_sipfrag(std::string_view body, const Limits& limits = {},
                                                               SipfragMode mode = SipfragMode::tolerant);

}  // namespace referkit
