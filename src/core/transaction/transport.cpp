#include "referkit/core/transport.hpp"

namespace referkit {

std::string_view transport_name(Transport t) noexcept {
    switch (t) {
    case Transport::udp: return "UDP";
    case Transport::tcp: return "TCP";
    case Transport::tls: return "TLS";
    case Transport::ws: return "WS";
    case Transport::wss: return "WSS";
    }
    return "UDP";
}

std::uint16_t default_port(Transport t) noexcept {
    switch (t) {
    case Transport::udp:
    case Transport::tcp:
    case Transport::ws: return 5060;
    case Transport::tls:
    case Transport::wss: return 5061;
    }
    return 5060;
}

}  // namespace referkit
