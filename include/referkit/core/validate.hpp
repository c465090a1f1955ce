// What a UAS checks after parsing and before handing a request to a transaction user
// (RFC 3261 §8.2.1-§8.2.3 and the typed syntax of every known header it carries).
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "referkit/core/error.hpp"
#include "referkit/core/message.hpp"

namespace referkit {

struct UasCapabilities {
    std::span<const Method> methods;                  // methods we implement (405 otherwise; unknown: 501)
    std::span<const std::string_view> extensions;     // option tags we support (Require check, 420)
    std::span<const std::string_view> content_types;  // bodies we accept ("application/sdp" ...; 415)
    std::span<const std::string_view> answer_types;   // bodies we can send in an INVITE answer (Accept, 406)
};

// The answer a UAS gives a request it will not process.
struct Rejection {
    ParseError error;                // code, offset and status (400, 415, 416, 420, 406)
    std::string unsupported;         // 420: the Unsupported header's value
    std::string accept;              // 415: the Accept header's value
    std::string allow;               // 405: the Allow header's value
};

// In order: every known header's syntax (Event and Subscription-State tolerantly, HeaderSyntax
// below) and single-value rules (400), the method (501 unknown,
// 405 not allowed), the Request-URI scheme (416), Require (420), the body's Content-Type (415) and
// Accept (406 when an INVITE's answer body could not be in any accepted type). nullopt when the
// request may proceed.
[[nodiscard]] std::optional<Rejection> validate_request(const Message& request, const UasCapabilities& caps);

// How Event and Subscription-State are checked: strict (every parameter), or tolerant (headers.hpp:
// Tolerated; only the leading value and the limits: what a UAS needs to act, R35 of
// docs/transfer-rules.md).
enum class HeaderSyntax : std::uint8_t { strict, tolerant };

// Typed syntax of one known header's value (offsets relative to value); nullopt when valid or
// when the library has no typed parser for it.
[[nodiscard]] std::optional<ParseError> check_header_value(HeaderId id, std::string_view value, const Limits& limits = {},
                                                           HeaderSyntax syntax = HeaderSyntax::strict);

// Typed syntax of every known header of any message (responses included); the first error.
[[nodiscard]] std::optional<ParseError> validate_headers(const Message& message,
                                                         HeaderSyntax syntax = HeaderSyntax::strict);

// What a UAC checks on a response before matching it to a transaction: validate_headers, and
// RFC 3261 §8.1.3.3: a response with more than one Via is discarded (RFC 4475 §3.3.10).
[[nodiscard]] std::optional<ParseError> validate_response(const Message& response);

}  // namespace referkit
