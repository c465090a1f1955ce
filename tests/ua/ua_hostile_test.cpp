// What a peer sends cannot crash a Stack or leave state behind: odd but parseable
// requests and responses, then random byte mutations of a whole call's messages.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "raw_peer.hpp"
#include "referkit/core/stack.hpp"
#include "sim_node.hpp"

namespace referkit::test {
namespace {

using namespace std::chrono_literals;
using K = SessionEventKind;

// An application that answers calls and requests, ignoring failures.
void answer_everything(Stack& stack, const StackEvent& ev, Time now) {
    if (const SessionEvent* in = session_event(ev, K::incoming_call))
        (void)stack.answer(in->session, AnswerOptions{}, now);
    if (const auto* req = std::get_if<RequestEvent>(&ev)) (void)stack.respond(req->incoming, UaResponse{}, now);
}

// UserAgentConfig::max_route_set_bytes (4 KB): an INVITE whose Record-Route set is larger is
// answered 400 and makes no dialog; one within the bound makes its call as usual.
TEST(UaHostile, RouteSetsLargerThanTheBoundAreRefused) {
    sim::Network net(1);
    StackNode b(net, b_addr, ua_config("sip:bob@192.0.2.2", 2));
    b.on_event = [](StackNode& n, const StackEvent& ev, Time now) { answer_everything(n.stack(), ev, now); };
    std::vector<int> finals;
    sim::CoreNode raw(net, raw_addr, raw_options(8000), [&](sim::CoreNode&, TransactionEvent& e, Time) {
        if (e.kind == EventKind::response && e.message && e.message->status() >= 200 && !e.repeated)
            finals.push_back(e.message->status());
    });
    auto invite = [&](std::string call_id, std::size_t hops) {
        RawRequest r{.method = "INVITE", .uri = "sip:bob@192.0.2.2:5060", .from = "<sip:raw@192.0.2.9>;tag=r1",
                     .to = "<sip:bob@192.0.2.2>", .call_id = std::move(call_id), .cseq = "1", .headers = {},
                     .content_type = "application/sdp", .body = audio_answer};
        for (std::size_t i = 0; i < hops; ++i)  // 46 bytes each
            r.headers.emplace_back("Record-Route", "<sip:proxy" + std::to_string(1000 + i) + ".example.com:5060;lr;x=pad-pad>");
        ASSERT_TRUE(send_raw(raw, r, b_addr, net.now()));
        net.run_until(net.now() + 50ms);
    };
    invite("big@raw", 100);   // about 4.6 KB: refused
    invite("small@raw", 40);  // about 1.8 KB: a call
    ASSERT_EQ(finals.size(), 2u);
    EXPECT_EQ(finals[0], 400);
    EXPECT_EQ(finals[1], 200);
    EXPECT_EQ(b.count(K::incoming_call), 1u) << b.timeline();
}

TEST(UaHostile, OddRequestsAreAnsweredAndLeaveNothingBehind) {
    sim::Network net(1);
    StackNode b(net, b_addr, ua_config("sip:bob@192.0.2.2", 2));
    b.on_event = [](StackNode& n, const StackEvent& ev, Time now) { answer_everything(n.stack(), ev, now); };
    std::vector<int> finals;
    std::string tag;
    sim::CoreNode raw(net, raw_addr, raw_options(8000), [&](sim::CoreNode&, TransactionEvent& e, Time) {
        if (e.kind == EventKind::response && e.message && e.message->status() >= 200 && !e.repeated) {
            finals.push_back(e.message->status());
            if (tag.empty() && e.message->status() == 200 && e.message->cseq().method == Method::invite)
                tag = std::string(e.message->to().tag);
        }
    });
    auto send = [&](const RawRequest& r) {
        ASSERT_TRUE(send_raw(raw, r, b_addr, net.now()));  // it builds, and goes (an ACK stateless)
        net.run_until(net.now() + 50ms);
    };
    const RawRequest base{.method = "INVITE", .uri = "sip:bob@192.0.2.2:5060", .from = "<sip:raw@192.0.2.9>;tag=r1",
                          .to = "<sip:bob@192.0.2.2>", .call_id = "hostile@raw", .cseq = "1", .headers = {}};
    auto with = [&](std::string method, std::string cseq, bool in_dialog, std::string ct = {}, std::string body = {}) {
        RawRequest r = base;
        r.method = std::move(method);
        r.cseq = std::move(cseq);
        if (in_dialog) r.to = "<sip:bob@192.0.2.2>;tag=" + tag;
        r.content_type = std::move(ct);
        r.body = std::move(body);
        return r;
    };
    send(with("INVITE", "1", false, "application/sdp", "v=0\r\nthis is not sdp\r\n"));  // 400
    send(with("INVITE", "2", false, "application/sdp", audio_answer));  // 200, never ACKed
    ASSERT_FALSE(tag.empty());
    send(with("ACK", "77", true));                     // wrong CSeq: ignored
    send(with("INVITE", "3", true, "application/sdp", "v=0\r\n"));  // re-INVITE before the ACK: 500
    send(with("ACK", "2", true));                      // confirms
    send(with("INVITE", "4", true, "application/sdp", "garbage"));  // 400, the call stays
    send(with("INVITE", "4", true));                   // same CSeq again: 500
    send(with("UPDATE", "5", true));                   // 405
    send(with("PRACK", "6", true));                    // 405
    send(with("NOTIFY", "7", true));                   // the app answers (default UaResponse 200)
    RawRequest stray_notify = with("NOTIFY", "1", false);
    stray_notify.to = "<sip:bob@192.0.2.2>;tag=nobody";
    send(stray_notify);                                // 481
    RawRequest ack_nowhere = with("ACK", "1", false);
    ack_nowhere.to = "<sip:bob@192.0.2.2>;tag=nobody";
    send(ack_nowhere);                                 // nothing
    send(with("FOO", "9", true));                      // 501
    send(with("BYE", "10", true));                     // 200: the call ends
    send(with("BYE", "11", true));                     // 481: no dialog any more
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    EXPECT_EQ(finals, (std::vector<int>{400, 200, 500, 400, 500, 405, 405, 200, 481, 501, 200, 481}));
    EXPECT_EQ(b.count(K::session_ended), 1u) << b.timeline();
    EXPECT_TRUE(holds_nothing(b.stack()));
}

// Every message of a normal call, with random bytes changed, fed to fresh stacks on both sides.
TEST(UaHostile, MutatedMessagesNeverCrash) {
    // Record the datagrams of a clean call.
    std::vector<std::pair<bool, std::string>> wire;  // (to B?, bytes)
    {
        sim::Network net(3);
        StackNode a(net, a_addr, ua_config("sip:alice@192.0.2.1", 1));
        StackNode b(net, b_addr, ua_config("sip:bob@192.0.2.2", 2));
        net.on_deliver([&](const sim::Datagram& d, Time) { wire.emplace_back(d.to == b_addr, d.bytes); });
        b.on_event = [](StackNode& n, const StackEvent& ev, Time now) {
            if (const SessionEvent* in = session_event(ev, K::incoming_call))
                (void)n.stack().answer(in->session, AnswerOptions{}, now);
        };
        auto s = a.stack().invite(invite_to("sip:bob@192.0.2.2:5060"), net.now());
        ASSERT_TRUE(s);
        a.pump(net.now());
        net.run_until(net.now() + 1s);
        ASSERT_TRUE(a.stack().reinvite(*s, ReinviteOptions{.direction = MediaDirection::sendonly, .body = {}}, net.now()));
        a.pump(net.now());
        net.run_until(net.now() + 1s);
        ASSERT_TRUE(a.stack().bye(*s, net.now()));
        a.pump(net.now());
        net.run_until(net.now() + 1s);
    }
    ASSERT_GE(wire.size(), 8u);
    std::mt19937_64 rng(12345);
    for (int round = 0; round < 300; ++round) {
        Stack a(StackNode::app_handled(ua_config("sip:alice@192.0.2.1", 100 + static_cast<std::uint64_t>(round))));
        Stack b(StackNode::app_handled(ua_config("sip:bob@192.0.2.2", 900 + static_cast<std::uint64_t>(round))));
        Time now{};
        for (auto [to_b, bytes] : wire) {
            const int flips = static_cast<int>(rng() % 4);
            for (int f = 0; f < flips && !bytes.empty(); ++f) {
                const std::size_t at = rng() % bytes.size();
                const char choices[] = {'\0', ' ', ':', ';', '<', '>', '\r', '\n', '9', 'a', ',', '"'};
                bytes[at] = choices[rng() % sizeof choices];
            }
            Stack& target = to_b ? b : a;
            target.receive(SharedBuffer::copy_of(bytes), Source{Transport::udp, {"192.0.2.7", 5060}, 0}, now);
            while (auto t = target.poll_transmit()) (void)t;
            while (auto e = target.poll_event()) answer_everything(target, *e, now);
            now += 10ms;
        }
        // Whatever was left: time runs out for everything the peer started.
        for (int k = 0; k < 200; ++k) {
            now += 1s;
            for (Stack* c : {&a, &b}) {
                c->on_timer(now);
                while (auto t = c->poll_transmit()) (void)t;
                while (auto e = c->poll_event()) (void)e;
            }
        }
        for (Stack* c : {&a, &b}) {
            const StackCounts n = c->counts();
            EXPECT_EQ(n.transactions, 0u) << "round " << round;
            EXPECT_EQ(n.timers, 0u) << "round " << round;
            EXPECT_EQ(n.incoming, 0u) << "round " << round;
            EXPECT_EQ(n.transaction_owners, 0u) << "round " << round;
        }
    }
}

}  // namespace
}  // namespace referkit::test
