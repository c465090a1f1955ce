// INVITE sessions between two Stacks on the virtual clock (RFC 3261 §13-15).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "raw_peer.hpp"
#include "referkit/core/stack.hpp"
#include "sim_node.hpp"

namespace referkit::test {
namespace {

using namespace std::chrono_literals;
using K = SessionEventKind;

struct Pair {
    sim::Network net{42};
    StackNode a{net, a_addr, ua_config("sip:alice@192.0.2.1", 0x1000)};
    StackNode b{net, b_addr, ua_config("sip:bob@192.0.2.2", 0x2000)};

    SessionId call(InviteOptions o = {}) {
        if (o.target.empty()) o.target = b.uri("bob");
        auto s = a.stack().invite(o, net.now());
        EXPECT_TRUE(s);
        a.pump(net.now());
        return s ? *s : SessionId{};
    }
    void run(Duration d) { net.run_until(net.now() + d); }
    // Runs until no timer is left anywhere (bounded) and checks that both stacks are empty.
    void settle() {
        EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
        EXPECT_TRUE(holds_nothing(a.stack()));
        EXPECT_TRUE(holds_nothing(b.stack()));
    }
    // B answers every incoming call: 180, then 200.
    void auto_answer() { b.on_event = answer_calls({180, 200}); }
    // Sets up a confirmed call; returns (A's session, B's session).
    std::pair<SessionId, SessionId> established() {
        auto_answer();
        SessionId s = call();
        run(2s);
        EXPECT_EQ(a.stack().session_state(s), SessionState::confirmed) << a.timeline();
        const SessionEvent* in = b.find(K::incoming_call);
        EXPECT_NE(in, nullptr);
        SessionId bs = in != nullptr ? in->session : SessionId{};
        EXPECT_EQ(b.stack().session_state(bs), SessionState::confirmed) << b.timeline();
        return {s, bs};
    }
    // A hangs up and everything settles.
    void a_hangs_up(SessionId as) {
        ASSERT_TRUE(a.stack().bye(as, net.now()));
        a.pump(net.now());
        settle();
    }
};

// B's application answers incoming calls with `status` only.
StackNode::Handler on_incoming(int status) {
    return [status](StackNode& n, const StackEvent& ev, Time now) {
        const SessionEvent* in = session_event(ev, K::incoming_call);
        if (in == nullptr) return;
        if (status >= 300) {
            ASSERT_TRUE(n.stack().reject(in->session, status, "Busy Here", now));
        } else {
            ASSERT_TRUE(n.stack().answer(in->session, AnswerOptions{.status = status}, now));
        }
    };
}

TEST(UaCall, CallWith180Then200AndByeFromCaller) {
    Pair p;
    auto [as, bs] = p.established();
    EXPECT_EQ(kinds(p.a), kinds({K::session_progress, K::session_answered, K::answer_received, K::session_confirmed}));
    EXPECT_EQ(kinds(p.b), kinds({K::incoming_call, K::offer_received, K::session_answered, K::session_confirmed}));
    EXPECT_EQ(p.a.find(K::session_progress)->status, 180);
    // Both sides share one dialog: A's local tag is B's remote tag.
    auto ad = p.a.stack().dialog_info(*p.a.stack().session_dialog(as));
    auto bd = p.b.stack().dialog_info(*p.b.stack().session_dialog(bs));
    ASSERT_TRUE(ad && bd);
    EXPECT_EQ(ad->call_id, bd->call_id);
    EXPECT_EQ(ad->local_tag, bd->remote_tag);
    EXPECT_EQ(ad->remote_tag, bd->local_tag);
    EXPECT_EQ(ad->remote_target, "sip:referkit@192.0.2.2:5060");
    EXPECT_FALSE(ad->early);
    // The INVITE carries what every dialog-creating request needs.
    const std::vector<Message> invites = parsed(p.a.sent(), "INVITE ");
    ASSERT_FALSE(invites.empty());
    const Message& inv = invites.front();
    EXPECT_EQ(inv.max_forwards(), 70u);
    EXPECT_NE(inv.find(HeaderId::contact), nullptr);
    EXPECT_NE(inv.find(HeaderId::allow), nullptr);
    EXPECT_NE(inv.find(HeaderId::user_agent), nullptr);
    EXPECT_FALSE(inv.from().tag.empty());
    const std::vector<Message> oks = parsed(p.b.sent(), "SIP/2.0 200");
    ASSERT_FALSE(oks.empty());
    const Message& ok = oks.front();
    EXPECT_NE(ok.find(HeaderId::contact), nullptr);
    EXPECT_NE(ok.find(HeaderId::allow), nullptr);
    EXPECT_FALSE(ok.body().empty());

    ASSERT_TRUE(p.a.stack().bye(as, p.net.now()));
    EXPECT_EQ(p.a.stack().session_state(as), SessionState::ending);
    p.a.pump(p.net.now());
    p.run(1s);
    ASSERT_EQ(p.a.count(K::session_ended), 1u);
    EXPECT_EQ(p.a.find(K::session_ended)->cause, EndCause::bye_local);
    EXPECT_EQ(p.a.find(K::session_ended)->status, 200);
    ASSERT_EQ(p.b.count(K::session_ended), 1u);
    EXPECT_EQ(p.b.find(K::session_ended)->cause, EndCause::bye_remote);
    EXPECT_EQ(p.a.count<DialogEndedEvent>(), 1u);
    EXPECT_EQ(p.b.count<DialogEndedEvent>(), 1u);
    p.settle();
}

TEST(UaCall, ByeFromCallee) {
    Pair p;
    auto [as, bs] = p.established();
    ASSERT_TRUE(p.b.stack().bye(bs, p.net.now()));
    p.b.pump(p.net.now());
    p.run(1s);
    ASSERT_EQ(p.a.count(K::session_ended), 1u);
    EXPECT_EQ(p.a.find(K::session_ended)->cause, EndCause::bye_remote);
    ASSERT_EQ(p.b.count(K::session_ended), 1u);
    EXPECT_EQ(p.b.find(K::session_ended)->cause, EndCause::bye_local);
    EXPECT_FALSE(p.a.stack().session_state(as));
    p.settle();
}

TEST(UaCall, Reject486) {
    Pair p;
    p.b.on_event = on_incoming(486);
    SessionId s = p.call();
    p.run(2s);
    ASSERT_EQ(p.a.count(K::session_ended), 1u) << p.a.timeline();
    EXPECT_EQ(p.a.find(K::session_ended)->cause, EndCause::rejected);
    EXPECT_EQ(p.a.find(K::session_ended)->status, 486);
    EXPECT_EQ(p.b.find(K::session_ended)->cause, EndCause::rejected);
    EXPECT_FALSE(p.a.stack().session_state(s));
    p.settle();
}

TEST(UaCall, CancelBeforeAnyProvisional) {
    Pair p;
    SessionId s = p.call();
    // The CANCEL is held by the transaction layer until B's automatic 100 Trying (§9.1).
    ASSERT_TRUE(p.a.stack().cancel(s, p.net.now()));
    EXPECT_EQ(p.a.stack().cancel(s, p.net.now()).error(), UaError::wrong_state);
    p.a.pump(p.net.now());
    p.run(3s);
    ASSERT_EQ(p.a.count(K::session_ended), 1u) << p.a.timeline();
    EXPECT_EQ(p.a.find(K::session_ended)->cause, EndCause::cancelled);
    EXPECT_EQ(p.a.find(K::session_ended)->status, 487);
    ASSERT_EQ(p.b.count(K::session_ended), 1u) << p.b.timeline();
    EXPECT_EQ(p.b.find(K::session_ended)->cause, EndCause::cancelled);
    p.settle();
}

TEST(UaCall, CancelAfterRinging) {
    Pair p;
    p.b.on_event = on_incoming(180);
    SessionId s = p.call();
    p.run(1s);
    EXPECT_EQ(p.a.stack().session_state(s), SessionState::proceeding);
    ASSERT_TRUE(p.a.stack().cancel(s, p.net.now()));
    p.a.pump(p.net.now());
    p.run(2s);
    ASSERT_EQ(p.a.count(K::session_ended), 1u) << p.a.timeline();
    EXPECT_EQ(p.a.find(K::session_ended)->cause, EndCause::cancelled);
    EXPECT_EQ(p.b.find(K::session_ended)->cause, EndCause::cancelled);
    EXPECT_EQ(p.a.count<DialogEndedEvent>(), 1u);  // the early dialog of the 180
    p.settle();
}

TEST(UaCall, AnswerAfterCancelCrossingGetsAckAndBye) {
    // B answers 200 at the same moment A's CANCEL leaves: A acknowledges the 2xx, then sends BYE.
    Pair p;
    p.b.on_event = on_incoming(180);
    SessionId s = p.call();
    p.run(1s);
    ASSERT_TRUE(p.a.stack().cancel(s, p.net.now()));
    const SessionEvent* in = p.b.find(K::incoming_call);
    ASSERT_NE(in, nullptr);
    ASSERT_TRUE(p.b.stack().answer(in->session, AnswerOptions{}, p.net.now()));
    p.a.pump(p.net.now());
    p.b.pump(p.net.now());
    p.run(3s);
    ASSERT_EQ(p.a.count(K::session_ended), 1u) << p.a.timeline();
    EXPECT_EQ(p.a.find(K::session_ended)->cause, EndCause::cancelled);
    ASSERT_EQ(p.b.count(K::session_ended), 1u) << p.b.timeline();
    EXPECT_EQ(p.b.find(K::session_ended)->cause, EndCause::bye_remote);
    p.settle();
}

TEST(UaCall, HoldReinviteFromPeerAutoAnsweredRecvonly) {
    Pair p;
    auto [as, bs] = p.established();
    p.a.clear();
    p.b.clear();
    ASSERT_TRUE(p.b.stack().reinvite(bs, ReinviteOptions{.direction = MediaDirection::sendonly}, p.net.now()));
    EXPECT_EQ(p.b.stack().reinvite(bs, ReinviteOptions{}, p.net.now()).error(), UaError::wrong_state);
    p.b.pump(p.net.now());
    p.run(2s);
    ASSERT_NE(p.a.find(K::offer_received), nullptr) << p.a.timeline();
    EXPECT_EQ(p.a.find(K::offer_received)->direction, MediaDirection::sendonly);
    EXPECT_EQ(p.a.count(K::session_confirmed), 1u) << p.a.timeline();
    ASSERT_NE(p.b.find(K::answer_received), nullptr) << p.b.timeline();
    EXPECT_EQ(p.b.find(K::answer_received)->direction, MediaDirection::recvonly);
    EXPECT_EQ(p.a.stack().session_state(as), SessionState::confirmed);
    // Unhold.
    ASSERT_TRUE(p.b.stack().reinvite(bs, ReinviteOptions{.direction = MediaDirection::sendrecv}, p.net.now()));
    p.b.pump(p.net.now());
    p.run(2s);
    ASSERT_EQ(p.b.count(K::answer_received), 2u);
    EXPECT_EQ(p.b.find(K::answer_received, 1)->direction, MediaDirection::sendrecv);
    ASSERT_NO_FATAL_FAILURE(p.a_hangs_up(as));
    EXPECT_EQ(p.b.count(K::session_ended), 1u);
}

TEST(UaCall, UnacceptableReinviteOfferGets488AndTheCallStays) {
    Pair p;
    auto [as, bs] = p.established();
    const std::string video_only =
        "v=0\r\no=x 1 2 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\n"
        "a=rtpmap:96 H264/90000\r\n";
    ASSERT_TRUE(p.b.stack().reinvite(bs, ReinviteOptions{.direction = MediaDirection::sendrecv, .body = video_only},
                                     p.net.now()));
    p.b.pump(p.net.now());
    p.run(2s);
    ASSERT_NE(p.b.find(K::reinvite_failed), nullptr) << p.b.timeline();
    EXPECT_EQ(p.b.find(K::reinvite_failed)->status, 488);
    EXPECT_EQ(p.a.stack().session_state(as), SessionState::confirmed);
    EXPECT_EQ(p.b.stack().session_state(bs), SessionState::confirmed);
    EXPECT_EQ(p.a.count(K::session_ended), 0u);
    // The call still works: a hold goes through afterwards.
    ASSERT_TRUE(p.b.stack().reinvite(bs, ReinviteOptions{.direction = MediaDirection::sendonly}, p.net.now()));
    p.b.pump(p.net.now());
    p.run(2s);
    EXPECT_EQ(p.b.count(K::answer_received), 1u) << p.b.timeline();
    p.a_hangs_up(as);
}

TEST(UaCall, NoOfferInInviteAnswerInAck) {
    Pair p;
    p.auto_answer();
    SessionId s = p.call(InviteOptions{.target = {}, .headers = {}, .body = std::string(), .content_type = {}});
    p.run(2s);
    EXPECT_EQ(p.a.stack().session_state(s), SessionState::confirmed);
    ASSERT_NE(p.a.find(K::offer_received), nullptr) << p.a.timeline();
    ASSERT_NE(p.b.find(K::answer_received), nullptr) << p.b.timeline();
    EXPECT_EQ(p.b.count(K::session_confirmed), 1u);
    p.a_hangs_up(s);
}

TEST(UaCall, GlareBothSidesGet491AndRetry) {
    Pair p;
    auto [as, bs] = p.established();
    p.a.clear();
    p.b.clear();
    ASSERT_TRUE(p.a.stack().reinvite(as, ReinviteOptions{.direction = MediaDirection::sendonly}, p.net.now()));
    ASSERT_TRUE(p.b.stack().reinvite(bs, ReinviteOptions{.direction = MediaDirection::sendonly}, p.net.now()));
    p.a.pump(p.net.now());
    p.b.pump(p.net.now());
    p.run(10s);
    EXPECT_FALSE(parsed(p.a.sent(), "SIP/2.0 491").empty());
    EXPECT_FALSE(parsed(p.b.sent(), "SIP/2.0 491").empty());
    // After the §14.1 waits both re-INVITEs went through.
    EXPECT_EQ(p.a.count(K::answer_received), 1u) << p.a.timeline();
    EXPECT_EQ(p.b.count(K::answer_received), 1u) << p.b.timeline();
    EXPECT_EQ(p.a.count(K::reinvite_failed), 0u);
    p.a_hangs_up(as);
}

// A scripted peer on a bare TransactionLayer: it sends an INVITE and never ACKs the 2xx.
TEST(UaCall, AckLostMeans2xxRetransmissionsThenByeAt64T1) {
    sim::Network net(5);
    StackNode b(net, b_addr, ua_config("sip:bob@192.0.2.2", 0x2000));
    b.on_event = answer_calls();
    std::vector<Time> oks;
    int byes = 0;
    sim::CoreNode raw(net, raw_addr, raw_options(77), [&](sim::CoreNode& node, TransactionEvent& e, Time now) {
        if (e.kind == EventKind::response && e.message && e.message->status() == 200) oks.push_back(now);
        if (e.kind == EventKind::request && e.message && e.message->method() == Method::bye) {
            ++byes;
            ResponseSpec ok;
            (void)node.layer().respond(e.id, ok, now);
        }
    });
    const Time start = net.now();
    ASSERT_TRUE(send_raw(raw,
                         RawRequest{.method = "INVITE", .uri = "sip:bob@192.0.2.2:5060",
                                    .from = "<sip:raw@192.0.2.9>;tag=rawtag", .to = "<sip:bob@192.0.2.2>",
                                    .call_id = "ack-lost@raw", .cseq = "1",
                                    .headers = {{"Contact", "<sip:raw@192.0.2.9:5060>"}}},
                         b_addr, start));
    net.run_until(start + 40s);
    // The first 200 and the TU's retransmissions: T1, 2T1, 4T1, then every T2 (4 s) until 64*T1.
    ASSERT_GE(oks.size(), 8u);
    const Duration first_gap = oks[1] - oks[0];
    EXPECT_EQ(first_gap, 500ms);
    EXPECT_EQ(oks[2] - oks[1], 1s);
    EXPECT_EQ(oks[3] - oks[2], 2s);
    EXPECT_EQ(oks[4] - oks[3], 4s);
    EXPECT_EQ(oks[5] - oks[4], 4s);
    EXPECT_EQ(byes, 1);
    ASSERT_EQ(b.count(K::session_ended), 1u) << b.timeline();
    EXPECT_EQ(b.find(K::session_ended)->cause, EndCause::no_ack);
    EXPECT_EQ(b.count(K::session_confirmed), 0u);
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    EXPECT_TRUE(holds_nothing(b.stack()));
}

}  // namespace
}  // namespace referkit::test
