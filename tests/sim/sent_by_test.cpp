// TransactionLayer::set_sent_by: each transport's Via names that transport's listener; transports
// without one fall back to TransactionOptions::sent_by.
#include <gtest/gtest.h>

#include <string>

#include "referkit/core/transaction_layer.hpp"

namespace referkit {
namespace {

const std::string request =
    "OPTIONS sip:bob@example.com SIP/2.0\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
    "To: <sip:bob@example.com>\r\nCall-ID: sb1@example.com\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

class SentBy : public ::testing::Test {
protected:
    SentBy() : layer_(options()) {}
    TransactionOptions options() {
        TransactionOptions o;
        o.sent_by = "fallback.example:5060";
        o.random = [this] { return ++random_; };
        return o;
    }
    // The top Via's sent-by of the next transmit, which must be a request sent over `t`.
    std::string sent_by_of_next(Transport t) {
        auto tx = layer_.poll_transmit();
        EXPECT_TRUE(tx.has_value());
        if (!tx) return {};
        EXPECT_EQ(tx->destination.transport, t);
        auto m = Message::parse(tx->bytes.view());
        EXPECT_TRUE(m.has_value());
        if (!m) return {};
        EXPECT_EQ(m->top_via().transport, transport_name(t));
        std::string s(m->top_via().host);
        if (m->top_via().port != 0) s += ":" + std::to_string(m->top_via().port);
        return s;
    }
    std::uint64_t random_ = 0;
    TransactionLayer layer_;
};

TEST_F(SentBy, FallbackWhenUnset) {
    ASSERT_TRUE(layer_.send_request(request, {Transport::udp, {"192.0.2.1", 5060}, 0}, Time{}));
    EXPECT_EQ(sent_by_of_next(Transport::udp), "fallback.example:5060");
}

TEST_F(SentBy, EachTransportUsesItsOwn) {
    layer_.set_sent_by(Transport::udp, "198.51.100.7:5070");
    layer_.set_sent_by(Transport::tcp, "[2001:db8::7]:5071");
    layer_.set_sent_by(Transport::ws, "abc123.invalid");
    ASSERT_TRUE(layer_.send_request(request, {Transport::udp, {"192.0.2.1", 5060}, 0}, Time{}));
    EXPECT_EQ(sent_by_of_next(Transport::udp), "198.51.100.7:5070");
    ASSERT_TRUE(layer_.send_request(request, {Transport::tcp, {"2001:db8::1", 5060}, 0}, Time{}));
    EXPECT_EQ(sent_by_of_next(Transport::tcp), "[2001:db8::7]:5071");
    ASSERT_TRUE(layer_.send_request(request, {Transport::ws, {"192.0.2.1", 80}, 0}, Time{}));
    EXPECT_EQ(sent_by_of_next(Transport::ws), "abc123.invalid");
    // TLS has none: the fallback.
    ASSERT_TRUE(layer_.send_request(request, {Transport::tls, {"192.0.2.1", 5061}, 0}, Time{}));
    EXPECT_EQ(sent_by_of_next(Transport::tls), "fallback.example:5060");
    // ACK outside a transaction (send_stateless) too.
    std::string ack = request;
    ack.replace(0, 7, "ACK");
    ack.replace(ack.find("1 OPTIONS"), 9, "1 ACK");
    ASSERT_TRUE(layer_.send_stateless(ack, {Transport::tcp, {"2001:db8::1", 5060}, 0}, Time{}));
    EXPECT_EQ(sent_by_of_next(Transport::tcp), "[2001:db8::7]:5071");
}

TEST_F(SentBy, EmptyRestoresFallback) {
    layer_.set_sent_by(Transport::udp, "198.51.100.7:5070");
    layer_.set_sent_by(Transport::udp, "");
    ASSERT_TRUE(layer_.send_request(request, {Transport::udp, {"192.0.2.1", 5060}, 0}, Time{}));
    EXPECT_EQ(sent_by_of_next(Transport::udp), "fallback.example:5060");
}

TEST_F(SentBy, TcpSwitchForLargeRequestUsesTcpSentBy) {
    // §18.1.1: a request over udp_max_request_size goes over TCP, and its Via says TCP's sent-by.
    layer_.set_sent_by(Transport::udp, "198.51.100.7:5070");
    layer_.set_sent_by(Transport::tcp, "198.51.100.7:5071");
    std::string big = request;
    big.replace(big.find("Content-Length"), 0, "X-Pad: " + std::string(1400, 'p') + "\r\n");
    ASSERT_TRUE(layer_.send_request(big, {Transport::udp, {"192.0.2.1", 5060}, 0}, Time{}));
    EXPECT_EQ(sent_by_of_next(Transport::tcp), "198.51.100.7:5071");
}

}  // namespace
}  // namespace referkit
