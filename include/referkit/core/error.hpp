// Errors of the sans-I/O core. A peer's malformed input is a ParseError: it carries the byte
// offset where the problem was found and the SIP status a UA should answer with.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace referkit {

enum class ErrorCode : std::uint8_t {
    empty_message,           // nothing but line endings
    message_too_large,       // > Limits::max_message_size
    too_many_headers,        // > Limits::max_headers
    line_too_long,           // > Limits::max_line_length
    uri_too_long,            // > Limits::max_uri_length
    too_many_params,         // > Limits::max_params
    bad_start_line,          // not "Method SP URI SP SIP/x.y" nor "SIP/x.y SP code SP reason"
    bad_method,              // method is not a token
    bad_version,             // SIP-Version syntax
    unsupported_version,     // SIP-Version other than 2.0
    bad_status_code,         // not three digits in 100..699
    bad_reason_phrase,       // control characters in the reason phrase
    bad_request_uri,         // Request-URI syntax (incl. <...> and embedded spaces)
    bad_header_name,         // header line without a token name and ':'
    bad_header_value,        // control characters or a broken line in a value
    bad_line_ending,         // CR not followed by LF
    missing_header,          // a mandatory header (Via, From, To, Call-ID, CSeq) is absent
    duplicate_header,        // a single-value header appears more than once
    bad_content_length,      // not a non-negative decimal, or conflicting values
    body_truncated,          // Content-Length larger than the bytes present
    missing_content_length,  // stream transports need Content-Length (RFC 3261 §18.3)
    cseq_method_mismatch,    // CSeq method differs from the request method
    bad_uri,                 // URI syntax
    bad_scheme,              // URI scheme not sip/sips/tel (where one of them is required)
    bad_host,                // host / IPv6 reference syntax
    bad_port,                // port out of range
    bad_escape,              // % not followed by two hex digits where an escape is required
    bad_name_addr,           // display name / <uri> / params syntax
    bad_quoted_string,       // unterminated quoted string or bad quoted-pair
    bad_param,               // parameter syntax
    bad_via,                 // Via syntax
    bad_cseq,                // CSeq syntax or number out of range
    bad_call_id,             // Call-ID syntax
    bad_number,              // a numeric value out of range or not a number
    bad_token,               // token / token list syntax
    bad_auth,                // challenge or credentials syntax
    bad_sipfrag,             // message/sipfrag body syntax
    header_absent,           // typed access to a header the message does not have
    stream_failed,           // the framer already failed; the connection must be closed
};

// A malformed input from a peer. Offsets count bytes from the start of the parsed input.
struct ParseError {
    ErrorCode code{};
    std::uint32_t offset = 0;
    std::uint16_t status = 400;   // what a UAS answers a request with (responses are dropped)
    std::string_view what;        // static text; never owns memory

    // "offset 42: Content-Length larger than the message (400 Bad Request)"
    [[nodiscard]] std::string describe() const;
};

[[nodiscard]] std::string_view to_string(ErrorCode code) noexcept;
// The reason phrase RFC 3261 §21 gives a status code ("Bad Request" ...); "" when unknown.
[[nodiscard]] std::string_view reason_phrase(int status) noexcept;

}  // namespace referkit
