// Where to send a request (RFC 3261 §8.1.2, §18.1.1). Names are not resolved here: the runtime
// resolves host names (A/AAAA). RFC 3263 NAPTR/SRV selection is a later issue.
#pragma once
#include <cstdint>
#include <expected>
#include <string_view>

#include "referkit/core/transport.hpp"
#include "referkit/core/uri.hpp"

namespace referkit {

struct NextHopPolicy {
    Transport default_transport = Transport::udp;  // for sip: URIs without a transport parameter
};

enum class NextHopError : std::uint8_t {
    unsupported_transport,        // transport parameter not udp/tcp/tls/ws/wss (RFC 3261 §8.1.2: cannot send)
    insecure_transport_for_sips,  // sips: with transport=udp (RFC 3261 §19.1.1: SIPS needs a reliable, secured transport)
    bad_uri,                      // not a sip:/sips: URI, or no host
};
[[nodiscard]] std::string_view to_string(NextHopError e) noexcept;

// Destination for a request to `uri` (the Request-URI, or the top Route when loose routing,
// §8.1.2). Transport: the `transport` parameter (udp/tcp/tls/ws/wss, case-insensitive), else
// sips: → TLS (WSS when the policy's default is ws/wss), else the policy's default. For sips: the
// transport is made secure: tcp → TLS (RFC 3261 §26.2.2: sips;transport=tcp is TLS over TCP),
// ws → WSS (RFC 7118 §9.2, §5.5), udp → insecure_transport_for_sips. Port: the URI's, else 5060
// (UDP/TCP), 5061 (TLS), 80 (WS), 443 (WSS) (RFC 7118 §5.5). Host: maddr when present (RFC 3261
// §19.1.1: the port and transport then apply to it), else the URI's host; IPv6 without brackets;
// names are not resolved here. connection is 0. Errors: bad_uri (not sip:/sips:, no host, empty
// maddr), unsupported_transport (other tokens, e.g. sctp), insecure_transport_for_sips.
[[nodiscard]] std::expected<Destination, NextHopError> next_hop(const Uri& uri, const NextHopPolicy& policy = {});

}  // namespace referkit
