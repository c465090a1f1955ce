// Text forms of addresses: "host:port", listener specifications.
#include <utility>  // before Asio: Boost 1.74 headers miss it under g++ 12 C++23

#include <charconv>

#include <boost/asio/ip/address.hpp>

#include "referkit/runtime/engine.hpp"

namespace referkit::runtime {

std::string format_hostport(const Endpoint& e) {
    std::string s;
    if (e.host.find(':') != std::string::npos) s.append("[").append(e.host).append("]");
    else s.append(e.host);
    s.append(":").append(std::to_string(e.port));
    return s;
}

namespace {
// "'<text>': <what>" (built by appending: GCC 12 flags `"'" + std::string` under -Wrestrict).
std::string bad(std::string_view text, std::string_view what) {
    std::string out("'");
    out.append(text).append("': ").append(what);
    return out;
}
}  // namespace

std::expected<Endpoint, std::string> parse_hostport(std::string_view text) {
    Endpoint e;
    std::string_view port;
    if (text.starts_with("[")) {
        const auto close = text.find(']');
        if (close == std::string_view::npos) return std::unexpected(bad(text, "missing ']'"));
        e.host = std::string(text.substr(1, close - 1));
        if (text.size() <= close + 1 || text[close + 1] != ':')
            return std::unexpected(bad(text, "port required after ']'"));
        port = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) return std::unexpected(bad(text, "port required"));
        e.host = std::string(text.substr(0, colon));
        if (e.host.find(':') != std::string::npos)
            return std::unexpected(bad(text, "IPv6 addresses go in brackets"));
        port = text.substr(colon + 1);
    }
    if (e.host.empty()) return std::unexpected(bad(text, "empty host"));
    unsigned value = 0;
    auto r = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || r.ec != std::errc{} || r.ptr != port.data() + port.size() || value > 65535)
        return std::unexpected(bad(text, "bad port"));
    e.port = static_cast<std::uint16_t>(value);
    return e;
}

std::expected<ListenSpec, std::string> parse_listen(std::string_view text) {
    const auto colon = text.find(':');
    if (colon == std::string_view::npos)
        return std::unexpected(bad(text, "expected transport:host:port"));
    const std::string_view name = text.substr(0, colon);
    ListenSpec spec;
    if (name == "udp") spec.transport = Transport::udp;
    else if (name == "tcp") spec.transport = Transport::tcp;
    else if (name == "tls") spec.transport = Transport::tls;
    else if (name == "ws") spec.transport = Transport::ws;
    else if (name == "wss") spec.transport = Transport::wss;
    else return std::unexpected(bad(text, "unknown transport '" + std::string(name) + "'"));
    std::string_view rest = text.substr(colon + 1);
    if (spec.transport == Transport::ws || spec.transport == Transport::wss) {
        const auto after_host = rest.starts_with("[") ? rest.find(']') : 0;
        const auto slash = rest.find('/', after_host == std::string_view::npos ? 0 : after_host);
        if (slash != std::string_view::npos) {
            spec.ws_path = std::string(rest.substr(slash));
            rest = rest.substr(0, slash);
        }
    }
    auto ep = parse_hostport(rest);
    if (!ep) return std::unexpected(ep.error());
    boost::system::error_code ec;
    (void)boost::asio::ip::make_address(ep->host, ec);
    if (ec) return std::unexpected(bad(text, "the host must be an IP address"));
    spec.local = std::move(*ep);
    return spec;
}

}  // namespace referkit::runtime
