// Transport-level addressing shared by the core and the runtime: which transport, which remote
// endpoint, which connection. Plain values; no sockets.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace referkit {

enum class Transport : std::uint8_t { udp, tcp, tls, ws, wss };

// True for stream transports (TCP, TLS, WS, WSS): no retransmissions, zero wait timers (RFC 3261 §17).
[[nodiscard]] constexpr bool is_reliable(Transport t) noexcept { return t != Transport::udp; }
// The Via transport token: "UDP", "TCP", "TLS", "WS", "WSS" (RFC 3261 §20.42, RFC 7118 §5).
[[nodiscard]] std::string_view transport_name(Transport t) noexcept;
// The default port of a transport when a URI or Via gives none: 5061 for TLS and WSS, else 5060
// (RFC 3261 §18.2.2; RFC 7118 leaves WS ports to the URI).
[[nodiscard]] std::uint16_t default_port(Transport t) noexcept;

// A remote or local address: a host (IP literal or name, IPv6 without brackets) and a port.
struct Endpoint {
    std::string host;
    std::uint16_t port = 0;
    friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// Identifies a connection of a reliable transport within one runtime; 0 = no connection.
using ConnectionId = std::uint64_t;

// Where a message came from: the transport, the remote endpoint (the packet's source address and
// port) and, for reliable transports, the connection it arrived on.
struct Source {
    Transport transport = Transport::udp;
    Endpoint remote;
    ConnectionId connection = 0;
};

// Where to send a message. For reliable transports, `connection` (when not 0) names the connection
// to use if it is still open (RFC 3261 §18.2.2); otherwise the runtime connects to `remote`.
struct Destination {
    Transport transport = Transport::udp;
    Endpoint remote;
    ConnectionId connection = 0;
    friend bool operator==(const Destination&, const Destination&) = default;
};

}  // namespace referkit
