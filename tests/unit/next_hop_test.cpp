// Next-hop selection (RFC 3261 §8.1.2, §18.1.1, §19.1.1, §26.2.2; RFC 3263 §4; RFC 7118 §5.5, §9.2).
#include <gtest/gtest.h>

#include <string_view>

#include "referkit/core/next_hop.hpp"
#include "referkit/core/uri.hpp"
#include "test_support.hpp"

namespace referkit {
namespace {

std::expected<Destination, NextHopError> hop(std::string_view text, NextHopPolicy policy = {}) {
    auto u = parse_uri(text, UriContext::name_addr);
    EXPECT_TRUE(test::Ok(u)) << text;
    if (!u) return std::unexpected(NextHopError::bad_uri);
    return next_hop(*u, policy);
}

Destination ok(std::string_view text, NextHopPolicy policy = {}) {
    auto d = hop(text, policy);
    EXPECT_TRUE(d.has_value()) << text << ": " << (d ? "" : to_string(d.error()));
    return d ? *d : Destination{};
}

NextHopError err(std::string_view text, NextHopPolicy policy = {}) {
    auto d = hop(text, policy);
    EXPECT_FALSE(d.has_value()) << text;
    return d ? NextHopError::bad_uri : d.error();
}

TEST(NextHop, PlainSipUsesPolicyAndDefaultPort) {
    Destination d = ok("sip:bob@biloxi.com");
    EXPECT_EQ(d.transport, Transport::udp);
    EXPECT_EQ(d.remote.host, "biloxi.com");
    EXPECT_EQ(d.remote.port, 5060);
    EXPECT_EQ(d.connection, 0U);
    Destination t = ok("sip:bob@biloxi.com", NextHopPolicy{.default_transport = Transport::tcp});
    EXPECT_EQ(t.transport, Transport::tcp);
    EXPECT_EQ(t.remote.port, 5060);
}

TEST(NextHop, TransportParameterCaseInsensitive) {
    EXPECT_EQ(ok("sip:bob@biloxi.com;transport=TCP").transport, Transport::tcp);
    EXPECT_EQ(ok("sip:bob@biloxi.com;transport=udp", NextHopPolicy{.default_transport = Transport::tcp}).transport,
              Transport::udp);
    Destination tls = ok("sip:bob@biloxi.com;transport=tls");
    EXPECT_EQ(tls.transport, Transport::tls);
    EXPECT_EQ(tls.remote.port, 5061);
}

TEST(NextHop, ExplicitPortWins) {
    Destination d = ok("sip:bob@192.0.2.4:5080;transport=tcp");
    EXPECT_EQ(d.remote, (Endpoint{"192.0.2.4", 5080}));
    EXPECT_EQ(d.transport, Transport::tcp);
}

TEST(NextHop, Ipv6WithoutBrackets) {
    Destination d = ok("sip:bob@[2001:db8::10]:5070");
    EXPECT_EQ(d.remote.host, "2001:db8::10");
    EXPECT_EQ(d.remote.port, 5070);
    EXPECT_EQ(ok("sip:[::1]").remote, (Endpoint{"::1", 5060}));
}

TEST(NextHop, SipsDefaultsToTls) {
    Destination d = ok("sips:bob@biloxi.com");
    EXPECT_EQ(d.transport, Transport::tls);
    EXPECT_EQ(d.remote.port, 5061);
    // A WebSocket-only client keeps to WSS.
    Destination w = ok("sips:bob@biloxi.com", NextHopPolicy{.default_transport = Transport::ws});
    EXPECT_EQ(w.transport, Transport::wss);
    EXPECT_EQ(w.remote.port, 443);
}

TEST(NextHop, SipsWithTcpMeansTls) {
    // RFC 3261 §26.2.2: "sips:alice@atlanta.com;transport=tcp" is valid: TLS over TCP.
    Destination d = ok("sips:alice@atlanta.com;transport=tcp");
    EXPECT_EQ(d.transport, Transport::tls);
    EXPECT_EQ(d.remote.port, 5061);
}

TEST(NextHop, SipsWithUdpIsRefused) {
    EXPECT_EQ(err("sips:alice@atlanta.com;transport=udp"), NextHopError::insecure_transport_for_sips);
    EXPECT_FALSE(to_string(NextHopError::insecure_transport_for_sips).empty());
}

TEST(NextHop, WebSocketPorts) {
    // RFC 7118 §5.5: sip + ws → 80; sips + ws → secure WebSocket on 443 (§9.2).
    Destination ws = ok("sip:proxy.example.com;transport=ws");
    EXPECT_EQ(ws.transport, Transport::ws);
    EXPECT_EQ(ws.remote.port, 80);
    Destination sws = ok("sips:proxy.example.com;transport=ws");
    EXPECT_EQ(sws.transport, Transport::wss);
    EXPECT_EQ(sws.remote.port, 443);
    Destination wss = ok("sip:proxy.example.com;transport=WSS");
    EXPECT_EQ(wss.transport, Transport::wss);
    EXPECT_EQ(wss.remote.port, 443);
    EXPECT_EQ(ok("sip:proxy.example.com:8080;transport=ws").remote.port, 8080);
}

TEST(NextHop, MaddrReplacesHostKeepsPortAndTransport) {
    // RFC 3261 §19.1.1: port and transport apply to the maddr address.
    Destination d = ok("sip:alice@atlanta.com:5062;maddr=192.0.2.7;transport=tcp");
    EXPECT_EQ(d.remote, (Endpoint{"192.0.2.7", 5062}));
    EXPECT_EQ(d.transport, Transport::tcp);
    EXPECT_EQ(ok("sip:alice@atlanta.com;maddr=[2001:db8::1]").remote, (Endpoint{"2001:db8::1", 5060}));
    EXPECT_EQ(ok("sip:alice@atlanta.com;maddr=proxy.atlanta.com").remote.host, "proxy.atlanta.com");
}

TEST(NextHop, LooseRouteUri) {
    // The caller passes the top Route (;lr) when loose routing (§8.1.2); lr does not change anything.
    Destination d = ok("sip:p1.example.com;lr;transport=tcp");
    EXPECT_EQ(d.remote, (Endpoint{"p1.example.com", 5060}));
    EXPECT_EQ(d.transport, Transport::tcp);
}

TEST(NextHop, Errors) {
    EXPECT_EQ(err("sip:bob@biloxi.com;transport=sctp"), NextHopError::unsupported_transport);
    EXPECT_EQ(err("sip:bob@biloxi.com;transport"), NextHopError::unsupported_transport);
    EXPECT_EQ(err("tel:+1-201-555-0123"), NextHopError::bad_uri);
    // Values the parser would refuse, built by hand: maddr without a value, no host.
    auto u = parse_uri("sip:bob@biloxi.com");
    ASSERT_TRUE(test::Ok(u));
    Uri no_maddr_value = *u;
    no_maddr_value.params = ParamList("maddr");
    EXPECT_EQ(next_hop(no_maddr_value).error(), NextHopError::bad_uri);
    Uri no_host = *u;
    no_host.host = {};
    EXPECT_EQ(next_hop(no_host).error(), NextHopError::bad_uri);
    EXPECT_FALSE(to_string(NextHopError::unsupported_transport).empty());
    EXPECT_FALSE(to_string(NextHopError::bad_uri).empty());
}

}  // namespace
}  // namespace referkit
