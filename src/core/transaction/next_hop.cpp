// Next-hop selection for a request: RFC 3261 §8.1.2 / §18.1.1 / §19.1.1, RFC 3263 §4.1-§4.2 for
// numeric targets, RFC 7118 §5.5 / §9.2 for WebSocket. Host names are passed on unresolved: the
// runtime resolves them (A/AAAA). RFC 3263 NAPTR/SRV lookup is not done yet (a later issue).
#include "referkit/core/next_hop.hpp"

#include <optional>

#include "referkit/core/header_id.hpp"

namespace referkit {

namespace {

std::optional<Transport> transport_token(std::string_view t) noexcept {
    if (iequals(t, "udp")) return Transport::udp;
    if (iequals(t, "tcp")) return Transport::tcp;
    if (iequals(t, "tls")) return Transport::tls;
    if (iequals(t, "ws")) return Transport::ws;
    if (iequals(t, "wss")) return Transport::wss;
    return std::nullopt;  // sctp, tls-sctp and extensions: we cannot send on them
}

// sips: needs the whole path secure (RFC 3261 §26.2.2). "transport=tcp" on a sips URI means TLS over
// TCP (§26.2.2: "transport is independent of TLS"); "transport=ws" means secure WebSocket (RFC 7118
// §9.2, and §5.5 gives it port 443). UDP is never valid for sips (§19.1.1).
std::expected<Transport, NextHopError> secure(Transport t) noexcept {
    switch (t) {
    case Transport::udp: return std::unexpected(NextHopError::insecure_transport_for_sips);
    case Transport::tcp:
    case Transport::tls: return Transport::tls;
    case Transport::ws:
    case Transport::wss: return Transport::wss;
    }
    return std::unexpected(NextHopError::insecure_transport_for_sips);
}

std::uint16_t port_for(Transport t) noexcept {
    switch (t) {
    case Transport::udp:
    case Transport::tcp:
    case Transport::tls: return default_port(t);
    case Transport::ws: return 80;    // RFC 7118 §5.5
    case Transport::wss: return 443;  // RFC 7118 §5.5
    }
    return default_port(t);
}

}  // namespace

std::string_view to_string(NextHopError e) noexcept {
    switch (e) {
    case NextHopError::unsupported_transport: return "unsupported transport";
    case NextHopError::insecure_transport_for_sips: return "sips: URI with an insecure transport";
    case NextHopError::bad_uri: return "not a sip: or sips: URI with a host";
    }
    return "";
}

std::expected<Destination, NextHopError> next_hop(const Uri& uri, const NextHopPolicy& policy) {
    const bool is_sips = uri.scheme == Scheme::sips;
    if (!is_sips && uri.scheme != Scheme::sip) return std::unexpected(NextHopError::bad_uri);
    if (uri.host.empty()) return std::unexpected(NextHopError::bad_uri);

    Transport transport = policy.default_transport;
    if (auto param = uri.param("transport")) {
        if (!param->has_value) return std::unexpected(NextHopError::unsupported_transport);
        auto t = transport_token(param->value);
        if (!t) return std::unexpected(NextHopError::unsupported_transport);
        transport = *t;
    } else if (is_sips) {
        // RFC 3263 §4.1 would use TCP (meaning TLS) for a sips URI; a WebSocket-only client keeps to WSS.
        transport = (policy.default_transport == Transport::ws || policy.default_transport == Transport::wss)
                        ? Transport::wss
                        : Transport::tls;
    }
    if (is_sips) {
        auto t = secure(transport);
        if (!t) return std::unexpected(t.error());
        transport = *t;
    }

    Destination d;
    d.transport = transport;
    d.remote.host = std::string(uri.host_address());
    // RFC 3261 §19.1.1: maddr overrides the host; the URI's port and transport apply to it
    // (RFC 3263 §4: TARGET is maddr when present).
    if (auto maddr = uri.param("maddr")) {
        std::string_view m = maddr->value;
        if (m.size() >= 2 && m.front() == '[' && m.back() == ']') m = m.substr(1, m.size() - 2);
        if (m.empty()) return std::unexpected(NextHopError::bad_uri);
        d.remote.host = std::string(m);
    }
    d.remote.port = uri.port != 0 ? uri.port : port_for(transport);
    return d;
}

}  // namespace referkit
