// What a peer sends cannot crash a UserAgentCore or leave state behind: odd but parseable
// requests and responses, then random byte mutations of a whole call's messages.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "core_node.hpp"
#include "raw_peer.hpp"
#include "referkit/core/user_agent_core.hpp"
#include "ua_node.hpp"

namespace referkit {
namespace {

using namespace std::chrono_literals;
using test::UaNode;
using K = UaEventKind;

const Endpoint b_addr{"192.0.2.2", 5060};
const Endpoint raw_addr{"192.0.2.9", 5060};

TransactionOptions raw_options() {
    TransactionOptions to;
    to.random = [n = std::uint64_t{8000}]() mutable { return ++n; };
    to.sent_by = "192.0.2.9:5060";
    return to;
}

TEST(UaHostile, OddRequestsAreAnsweredAndLeaveNothingBehind) {
    sim::Network net(1);
    UaNode b(net, b_addr, test::ua_config("sip:bob@192.0.2.2", 2));
    // B's application answers calls and requests, ignoring failures.
    b.on_event = [](UaNode& n, const UaEvent& e, Time now) {
        if (e.kind == K::incoming_call) (void)n.core().answer(e.session, AnswerOptions{}, now);
        if (e.kind == K::request) (void)n.core().respond(e.incoming, UaResponse{}, now);
    };
    std::vector<int> finals;
    std::string tag;
    sim::CoreNode raw(net, raw_addr, raw_options(), [&](sim::CoreNode&, TransactionEvent& e, Time) {
        if (e.kind == EventKind::response && e.message && e.message->status() >= 200 && !e.repeated) {
            finals.push_back(e.message->status());
            if (tag.empty() && e.message->status() == 200 && e.message->cseq().method == Method::invite)
                tag = std::string(e.message->to().tag);
        }
    });
    auto send = [&](test::RawRequest r) {
        auto bytes = test::build(r);
        ASSERT_FALSE(bytes.empty());
        if (r.method == "ACK") {
            ASSERT_TRUE(raw.layer().send_stateless(bytes, Destination{Transport::udp, b_addr, 0}, net.now()));
        } else {
            ASSERT_TRUE(raw.layer().send_request(bytes, Destination{Transport::udp, b_addr, 0}, net.now()));
        }
        raw.pump(net.now());
        net.run_until(net.now() + 50ms);
    };
    const test::RawRequest base{.method = "INVITE", .uri = "sip:bob@192.0.2.2:5060",
                                .from = "<sip:raw@192.0.2.9>;tag=r1", .to = "<sip:bob@192.0.2.2>",
                                .call_id = "hostile@raw", .cseq = "1", .headers = {}};
    auto with = [&](std::string method, std::string cseq, bool in_dialog, std::string ct = {}, std::string body = {}) {
        test::RawRequest r = base;
        r.method = std::move(method);
        r.cseq = std::move(cseq);
        if (in_dialog) r.to = "<sip:bob@192.0.2.2>;tag=" + tag;
        r.content_type = std::move(ct);
        r.body = std::move(body);
        return r;
    };
    send(with("INVITE", "1", false, "application/sdp", "v=0\r\nthis is not sdp\r\n"));  // 400
    send(with("INVITE", "2", false, "application/sdp", test::audio_answer));  // 200, never ACKed
    ASSERT_FALSE(tag.empty());
    send(with("ACK", "77", true));                     // wrong CSeq: ignored
    send(with("INVITE", "3", true, "application/sdp", "v=0\r\n"));  // re-INVITE before the ACK: 500
    send(with("ACK", "2", true));                      // confirms
    send(with("INVITE", "4", true, "application/sdp", "garbage"));  // 400, the call stays
    send(with("INVITE", "4", true));                   // same CSeq again: 500
    send(with("UPDATE", "5", true));                   // 405
    send(with("PRACK", "6", true));                    // 405
    send(with("NOTIFY", "7", true));                   // the app answers (default UaResponse 200)
    test::RawRequest stray_notify = with("NOTIFY", "1", false);
    stray_notify.to = "<sip:bob@192.0.2.2>;tag=nobody";
    send(stray_notify);                                // 481
    test::RawRequest ack_nowhere = with("ACK", "1", false);
    ack_nowhere.to = "<sip:bob@192.0.2.2>;tag=nobody";
    send(ack_nowhere);                                 // nothing
    send(with("FOO", "9", true));                      // 501
    send(with("BYE", "10", true));                     // 200: the call ends
    send(with("BYE", "11", true));                     // 481: no dialog any more
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    EXPECT_EQ(finals, (std::vector<int>{400, 200, 500, 400, 500, 405, 405, 200, 481, 501, 200, 481}));
    EXPECT_EQ(b.count(K::session_ended), 1u) << b.timeline();
    EXPECT_TRUE(test::empty(b.core().counts())) << test::describe(b.core().counts());
}

// Every message of a normal call, with random bytes changed, fed to fresh cores on both sides.
TEST(UaHostile, MutatedMessagesNeverCrash) {
    // Record the datagrams of a clean call.
    std::vector<std::pair<bool, std::string>> wire;  // (to B?, bytes)
    {
        sim::Network net(3);
        UaNode a(net, Endpoint{"192.0.2.1", 5060}, test::ua_config("sip:alice@192.0.2.1", 1));
        UaNode b(net, b_addr, test::ua_config("sip:bob@192.0.2.2", 2));
        net.on_deliver([&](const sim::Datagram& d, Time) { wire.emplace_back(d.to == b_addr, d.bytes); });
        b.on_event = [](UaNode& n, const UaEvent& e, Time now) {
            if (e.kind == K::incoming_call) (void)n.core().answer(e.session, AnswerOptions{}, now);
        };
        auto s = a.core().invite(InviteOptions{.target = "sip:bob@192.0.2.2:5060", .headers = {},
                                               .body = std::nullopt, .content_type = "application/sdp"},
                                 net.now());
        ASSERT_TRUE(s);
        a.pump(net.now());
        net.run_until(net.now() + 1s);
        ASSERT_TRUE(a.core().reinvite(*s, ReinviteOptions{.direction = MediaDirection::sendonly, .body = {}}, net.now()));
        a.pump(net.now());
        net.run_until(net.now() + 1s);
        ASSERT_TRUE(a.core().bye(*s, net.now()));
        a.pump(net.now());
        net.run_until(net.now() + 1s);
    }
    ASSERT_GE(wire.size(), 8u);
    std::mt19937_64 rng(12345);
    for (int round = 0; round < 300; ++round) {
        UserAgentCore a(test::ua_config("sip:alice@192.0.2.1", 100 + static_cast<std::uint64_t>(round)));
        UserAgentCore b(test::ua_config("sip:bob@192.0.2.2", 900 + static_cast<std::uint64_t>(round)));
        Time now{};
        for (auto [to_b, bytes] : wire) {
            const int flips = static_cast<int>(rng() % 4);
            for (int f = 0; f < flips && !bytes.empty(); ++f) {
                const std::size_t at = rng() % bytes.size();
                const char choices[] = {'\0', ' ', ':', ';', '<', '>', '\r', '\n', '9', 'a', ',', '"'};
                bytes[at] = choices[rng() % sizeof choices];
            }
            UserAgentCore& target = to_b ? b : a;
            target.receive(SharedBuffer::copy_of(bytes), Source{Transport::udp, {"192.0.2.7", 5060}, 0}, now);
            while (auto t = target.poll_transmit()) (void)t;
            while (auto e = target.poll_event()) {
                if (e->kind == K::incoming_call) (void)target.answer(e->session, AnswerOptions{}, now);
                if (e->kind == K::request) (void)target.respond(e->incoming, UaResponse{}, now);
            }
            now += 10ms;
        }
        // Whatever was left: time runs out for everything the peer started.
        for (int k = 0; k < 200; ++k) {
            now += 1s;
            for (UserAgentCore* c : {&a, &b}) {
                c->on_timer(now);
                while (auto t = c->poll_transmit()) (void)t;
                while (auto e = c->poll_event()) (void)e;
            }
        }
        for (UserAgentCore* c : {&a, &b}) {
            const UaCounts n = c->counts();
            EXPECT_EQ(n.transactions, 0u) << "round " << round;
            EXPECT_EQ(n.timers, 0u) << "round " << round;
            EXPECT_EQ(n.incoming, 0u) << "round " << round;
            EXPECT_EQ(n.transaction_owners, 0u) << "round " << round;
        }
    }
}

}  // namespace
}  // namespace referkit
