// Internal entry points of the URI parser shared with the header parsers.
#pragma once
#include <expected>
#include <optional>

#include "lex.hpp"
#include "referkit/core/headers.hpp"
#include "referkit/core/uri.hpp"

namespace referkit::detail {

// The text between an IPv6 reference's brackets is an IPv6address (RFC 3986 §3.2.2; RFC 5118 §4.10's
// "::: before an IPv4 part" tolerated).
bool valid_ipv6(std::string_view s) noexcept;

struct HostPort {
    std::string_view host;
    HostKind kind = HostKind::none;
    std::uint16_t port = 0;
};
// host [":" port] at c; offsets in errors relative to c.begin.
std::expected<HostPort, ParseError> parse_hostport(lex::Cursor& c, bool allow_port);
// A URI at c into u (fields of u not set by the URI keep their defaults), stopping where the
// context says it ends (addr_spec: before ';' header params). Offsets relative to c.begin.
std::optional<ParseError> parse_uri_into(lex::Cursor& c, UriContext ctx, const Limits& limits, Uri& u);

// name-addr / addr-spec with header parameters into na; Via (one via-parm) into v.
std::optional<ParseError> parse_name_addr_into(std::string_view text, const Limits& limits, NameAddr& na);
std::optional<ParseError> parse_via_into(std::string_view text, const Limits& limits, Via& v);

}  // namespace referkit::detail
