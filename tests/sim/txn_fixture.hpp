// Shared by the transaction-layer tests on a virtual clock: helpers building requests and
// responses, and the Txn fixture driving one TransactionLayer (every instant exact).
#pragma once
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "referkit/core/transaction_layer.hpp"

namespace referkit::txntest {

using namespace std::chrono_literals;

constexpr Time ms(std::int64_t v) { return std::chrono::duration_cast<Time>(std::chrono::milliseconds(v)); }
inline std::int64_t to_ms(Time t) { return std::chrono::duration_cast<std::chrono::milliseconds>(t).count(); }

inline const Endpoint peer{"192.0.2.1", 5070};
inline const Destination udp_dest{Transport::udp, {"192.0.2.1", 5070}, 0};
inline const Destination tcp_dest{Transport::tcp, {"192.0.2.1", 5070}, 0};
inline const Source udp_src{Transport::udp, {"192.0.2.1", 40000}, 0};
inline const Source tcp_src{Transport::tcp, {"192.0.2.1", 40000}, 7};

inline std::string outgoing(std::string_view method, std::uint32_t cseq = 1) {
    std::string m(method);
    return m + " sip:bob@example.com SIP/2.0\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
               "To: <sip:bob@example.com>\r\nCall-ID: c1@example.com\r\nCSeq: " +
           std::to_string(cseq) + " " + m + "\r\nContent-Length: 0\r\n\r\n";
}

// A request as a peer sends it. via: the whole Via value.
inline std::string incoming(std::string_view method, std::string_view via = "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKpeer1",
                     std::string_view to_tag = {}, std::string_view cseq_method = {}) {
    std::string m(method);
    std::string to = "<sip:bob@example.com>";
    if (!to_tag.empty()) to += ";tag=" + std::string(to_tag);
    return m + " sip:bob@example.com SIP/2.0\r\nVia: " + std::string(via) +
           "\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\nTo: " + to +
           "\r\nCall-ID: c2@example.com\r\nCSeq: 7 " + std::string(cseq_method.empty() ? method : cseq_method) +
           "\r\nContent-Length: 0\r\n\r\n";
}

inline Message parse(std::string_view bytes) {
    auto m = Message::parse(bytes);
    EXPECT_TRUE(m.has_value()) << (m ? "" : m.error().describe()) << "\n" << bytes;
    return std::move(*m);
}

// The response a peer would send to the request `sent` (as the layer transmitted it).
inline std::string response_to(const Transmit& sent, int status, std::string_view to_tag = "b1") {
    Message req = parse(sent.bytes.view());
    std::string to(req.find(HeaderId::to)->value);
    if (!to_tag.empty() && status > 100) to += ";tag=" + std::string(to_tag);
    return "SIP/2.0 " + std::to_string(status) + " Whatever\r\nVia: " + std::string(req.find(HeaderId::via)->value) +
           "\r\nFrom: " + std::string(req.find(HeaderId::from)->value) + "\r\nTo: " + to +
           "\r\nCall-ID: " + std::string(req.call_id()) + "\r\nCSeq: " + std::string(req.find(HeaderId::cseq)->value) +
           "\r\nContent-Length: 0\r\n\r\n";
}

inline ResponseSpec answer(int status, std::string_view tag = "s1") {
    ResponseSpec r;
    r.status = status;
    r.to_tag = tag;
    return r;
}

struct Sent {
    std::int64_t at_ms;
    Transmit t;
};

class Txn : public ::testing::Test {
protected:
    TransactionOptions options() {
        TransactionOptions o;
        o.sent_by = "198.51.100.7:5060";
        o.random = [this] { return ++random_; };
        return o;
    }
    void SetUp() override { layer_ = std::make_unique<TransactionLayer>(options()); }
    void reset(TransactionOptions o) { layer_ = std::make_unique<TransactionLayer>(std::move(o)); }

    TransactionLayer& L() { return *layer_; }
    std::vector<Transmit> drain() {
        std::vector<Transmit> v;
        while (auto t = L().poll_transmit()) v.push_back(std::move(*t));
        for (const Transmit& t : v) log_.push_back(Sent{to_ms(now_), t});
        return v;
    }
    std::vector<TransactionEvent> events() {
        std::vector<TransactionEvent> v;
        while (auto e = L().poll_event()) v.push_back(std::move(*e));
        return v;
    }
    // Fires every timer up to t, in order, recording each transmit with the instant it was made.
    void run_until(Time t) {
        while (auto d = L().next_deadline()) {
            if (*d > t) break;
            now_ = *d;
            L().on_timer(now_);
            drain();
        }
        now_ = t;
    }
    void at(Time t) { run_until(t); }
    void receive(std::string_view bytes, const Source& s = udp_src) {
        L().receive(bytes, s, now_);
    }
    std::vector<std::int64_t> sent_times() const {
        std::vector<std::int64_t> v;
        for (const Sent& s : log_) v.push_back(s.at_ms);
        return v;
    }

    std::unique_ptr<TransactionLayer> layer_;
    std::uint64_t random_ = 0x1000;
    Time now_{};
    std::vector<Sent> log_;
};
}  // namespace referkit::txntest
