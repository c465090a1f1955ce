// Internal entry points of the URI parser shared with the header parsers.
#pragma once
#include <expected>

#include "parser/lex.hpp"
#include "referkit/core/uri.hpp"

namespace referkit::detail {

struct HostPort {
    std::string_view host;
    HostKind kind = HostKind::none;
    std::uint16_t port = 0;
};
// host [":" port] at c; offsets in errors relative to c.begin.
std::expected<HostPort, ParseError> parse_hostport(lex::Cursor& c, bool allow_port);
// A URI at c, stopping where the context says it ends (addr_spec: before ';' header params).
std::expected<Uri, ParseError> parse_uri_prefix(lex::Cursor& c, UriContext ctx, const Limits& limits);

}  // namespace referkit::detail
