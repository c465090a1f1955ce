// INVITE sessions between two UserAgentCores on the virtual clock (RFC 3261 §13-15).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "core_node.hpp"
#include "referkit/core/user_agent_core.hpp"
#include "referkit/core/writer.hpp"
#include "ua_node.hpp"

namespace referkit {
namespace {

using namespace std::chrono_literals;
using test::UaNode;

const Endpoint a_addr{"192.0.2.1", 5060};
const Endpoint b_addr{"192.0.2.2", 5060};
const Endpoint raw_addr{"192.0.2.9", 5060};

struct Pair {
    sim::Network net{42};
    UaNode a{net, a_addr, test::ua_config("sip:alice@192.0.2.1", 0x1000)};
    UaNode b{net, b_addr, test::ua_config("sip:bob@192.0.2.2", 0x2000)};

    SessionId call(InviteOptions o = {}) {
        if (o.target.empty()) o.target = b.uri("bob");
        auto s = a.core().invite(o, net.now());
        EXPECT_TRUE(s);
        a.pump(net.now());
        return s ? *s : SessionId{};
    }
    void run(Duration d) { net.run_until(net.now() + d); }
    // Runs until no timer is left anywhere (bounded) and checks that both cores are empty.
    void settle() {
        EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
        EXPECT_TRUE(test::empty(a.core().counts())) << test::describe(a.core().counts());
        EXPECT_TRUE(test::empty(b.core().counts())) << test::describe(b.core().counts());
    }
    // B answers every incoming call: 180, then 200.
    void auto_answer() {
        b.on_event = [](UaNode& n, const UaEvent& e, Time now) {
            if (e.kind != UaEventKind::incoming_call) return;
            ASSERT_TRUE(n.core().answer(e.session, AnswerOptions{.status = 180}, now));
            ASSERT_TRUE(n.core().answer(e.session, AnswerOptions{}, now));
        };
    }
    // Sets up a confirmed call; returns (A's session, B's session).
    std::pair<SessionId, SessionId> established() {
        auto_answer();
        SessionId s = call();
        run(2s);
        EXPECT_EQ(a.core().session_state(s), SessionState::confirmed) << a.timeline();
        const UaEvent* in = b.find(UaEventKind::incoming_call);
        EXPECT_NE(in, nullptr);
        SessionId bs = in != nullptr ? in->session : SessionId{};
        EXPECT_EQ(b.core().session_state(bs), SessionState::confirmed) << b.timeline();
        return {s, bs};
    }
};

std::vector<UaEventKind> kinds(const UaNode& n) {
    std::vector<UaEventKind> k;
    for (const UaEvent& e : n.events()) k.push_back(e.kind);
    return k;
}

const Message* find_sent(const UaNode& n, std::string_view start, std::vector<Message>& keep) {
    for (const std::string& s : n.sent()) {
        auto m = Message::parse(std::string_view(s));
        if (m && m->start_line().starts_with(start)) {
            keep.push_back(*m);
            return &keep.back();
        }
    }
    return nullptr;
}

using K = UaEventKind;

TEST(UaCall, CallWith180Then200AndByeFromCaller) {
    Pair p;
    auto [as, bs] = p.established();
    EXPECT_EQ(kinds(p.a), (std::vector<K>{K::session_progress, K::session_answered, K::answer_received,
                                          K::session_confirmed}));
    EXPECT_EQ(kinds(p.b), (std::vector<K>{K::incoming_call, K::offer_received, K::session_answered,
                                          K::session_confirmed}));
    EXPECT_EQ(p.a.find(K::session_progress)->status, 180);
    // Both sides share one dialog: A's local tag is B's remote tag.
    auto ad = p.a.core().dialog_info(*p.a.core().session_dialog(as));
    auto bd = p.b.core().dialog_info(*p.b.core().session_dialog(bs));
    ASSERT_TRUE(ad && bd);
    EXPECT_EQ(ad->call_id, bd->call_id);
    EXPECT_EQ(ad->local_tag, bd->remote_tag);
    EXPECT_EQ(ad->remote_tag, bd->local_tag);
    EXPECT_EQ(ad->remote_target, "sip:referkit@192.0.2.2:5060");
    EXPECT_FALSE(ad->early);
    // The INVITE carries what every dialog-creating request needs.
    std::vector<Message> keep;
    const Message* inv = find_sent(p.a, "INVITE ", keep);
    ASSERT_NE(inv, nullptr);
    EXPECT_EQ(inv->max_forwards(), 70u);
    EXPECT_NE(inv->find(HeaderId::contact), nullptr);
    EXPECT_NE(inv->find(HeaderId::allow), nullptr);
    EXPECT_NE(inv->find(HeaderId::user_agent), nullptr);
    EXPECT_FALSE(inv->from().tag.empty());
    const Message* ok = find_sent(p.b, "SIP/2.0 200", keep);
    ASSERT_NE(ok, nullptr);
    EXPECT_NE(ok->find(HeaderId::contact), nullptr);
    EXPECT_NE(ok->find(HeaderId::allow), nullptr);
    EXPECT_FALSE(ok->body().empty());

    ASSERT_TRUE(p.a.core().bye(as, p.net.now()));
    EXPECT_EQ(p.a.core().session_state(as), SessionState::ending);
    p.a.pump(p.net.now());
    p.run(1s);
    ASSERT_EQ(p.a.count(K::session_ended), 1u);
    EXPECT_EQ(p.a.find(K::session_ended)->cause, EndCause::bye_local);
    EXPECT_EQ(p.a.find(K::session_ended)->status, 200);
    ASSERT_EQ(p.b.count(K::session_ended), 1u);
    EXPECT_EQ(p.b.find(K::session_ended)->cause, EndCause::bye_remote);
    EXPECT_EQ(p.a.count(K::dialog_ended), 1u);
    EXPECT_EQ(p.b.count(K::dialog_ended), 1u);
    p.settle();
}

TEST(UaCall, ByeFromCallee) {
    Pair p;
    auto [as, bs] = p.established();
    ASSERT_TRUE(p.b.core().bye(bs, p.net.now()));
    p.b.pump(p.net.now());
    p.run(1s);
    ASSERT_EQ(p.a.count(K::session_ended), 1u);
    EXPECT_EQ(p.a.find(K::session_ended)->cause, EndCause::bye_remote);
    ASSERT_EQ(p.b.count(K::session_ended), 1u);
    EXPECT_EQ(p.b.find(K::session_ended)->cause, EndCause::bye_local);
    EXPECT_FALSE(p.a.core().session_state(as));
    p.settle();
}

TEST(UaCall, Reject486) {
    Pair p;
    p.b.on_event = [](UaNode& n, const UaEvent& e, Time now) {
        if (e.kind == K::incoming_call) {
            ASSERT_TRUE(n.core().reject(e.session, 486, "Busy Here", now));
        }
    };
    SessionId s = p.call();
    p.run(2s);
    ASSERT_EQ(p.a.count(K::session_ended), 1u) << p.a.timeline();
    EXPECT_EQ(p.a.find(K::session_ended)->cause, EndCause::rejected);
    EXPECT_EQ(p.a.find(K::session_ended)->status, 486);
    EXPECT_EQ(p.b.find(K::session_ended)->cause, EndCause::rejected);
    EXPECT_FALSE(p.a.core().session_state(s));
    p.settle();
}

TEST(UaCall, CancelBeforeAnyProvisional) {
    Pair p;
    SessionId s = p.call();
    // The CANCEL is held by the transaction layer until B's automatic 100 Trying (§9.1).
    ASSERT_TRUE(p.a.core().cancel(s, p.net.now()));
    EXPECT_EQ(p.a.core().cancel(s, p.net.now()).error(), UaError::wrong_state);
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
    p.b.on_event = [](UaNode& n, const UaEvent& e, Time now) {
        if (e.kind == K::incoming_call) {
            ASSERT_TRUE(n.core().answer(e.session, AnswerOptions{.status = 180}, now));
        }
    };
    SessionId s = p.call();
    p.run(1s);
    EXPECT_EQ(p.a.core().session_state(s), SessionState::proceeding);
    ASSERT_TRUE(p.a.core().cancel(s, p.net.now()));
    p.a.pump(p.net.now());
    p.run(2s);
    ASSERT_EQ(p.a.count(K::session_ended), 1u) << p.a.timeline();
    EXPECT_EQ(p.a.find(K::session_ended)->cause, EndCause::cancelled);
    EXPECT_EQ(p.b.find(K::session_ended)->cause, EndCause::cancelled);
    EXPECT_EQ(p.a.count(K::dialog_ended), 1u);  // the early dialog of the 180
    p.settle();
}

TEST(UaCall, AnswerAfterCancelCrossingGetsAckAndBye) {
    // B answers 200 at the same moment A's CANCEL leaves: A acknowledges the 2xx, then sends BYE.
    Pair p;
    p.b.on_event = [](UaNode& n, const UaEvent& e, Time now) {
        if (e.kind == K::incoming_call) {
            ASSERT_TRUE(n.core().answer(e.session, AnswerOptions{.status = 180}, now));
        }
    };
    SessionId s = p.call();
    p.run(1s);
    ASSERT_TRUE(p.a.core().cancel(s, p.net.now()));
    const UaEvent* in = p.b.find(K::incoming_call);
    ASSERT_NE(in, nullptr);
    ASSERT_TRUE(p.b.core().answer(in->session, AnswerOptions{}, p.net.now()));
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
    ASSERT_TRUE(p.b.core().reinvite(bs, ReinviteOptions{.direction = MediaDirection::sendonly}, p.net.now()));
    EXPECT_EQ(p.b.core().reinvite(bs, ReinviteOptions{}, p.net.now()).error(), UaError::wrong_state);
    p.b.pump(p.net.now());
    p.run(2s);
    ASSERT_NE(p.a.find(K::offer_received), nullptr) << p.a.timeline();
    EXPECT_EQ(p.a.find(K::offer_received)->direction, MediaDirection::sendonly);
    EXPECT_EQ(p.a.count(K::session_confirmed), 1u) << p.a.timeline();
    ASSERT_NE(p.b.find(K::answer_received), nullptr) << p.b.timeline();
    EXPECT_EQ(p.b.find(K::answer_received)->direction, MediaDirection::recvonly);
    EXPECT_EQ(p.a.core().session_state(as), SessionState::confirmed);
    // Unhold.
    ASSERT_TRUE(p.b.core().reinvite(bs, ReinviteOptions{.direction = MediaDirection::sendrecv}, p.net.now()));
    p.b.pump(p.net.now());
    p.run(2s);
    ASSERT_EQ(p.b.count(K::answer_received), 2u);
    EXPECT_EQ(p.b.find(K::answer_received, 1)->direction, MediaDirection::sendrecv);
    ASSERT_TRUE(p.a.core().bye(as, p.net.now()));
    p.a.pump(p.net.now());
    p.settle();
    EXPECT_EQ(p.b.count(K::session_ended), 1u);
}

TEST(UaCall, UnacceptableReinviteOfferGets488AndTheCallStays) {
    Pair p;
    auto [as, bs] = p.established();
    const std::string video_only =
        "v=0\r\no=x 1 2 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\n"
        "a=rtpmap:96 H264/90000\r\n";
    ASSERT_TRUE(p.b.core().reinvite(bs, ReinviteOptions{.direction = MediaDirection::sendrecv, .body = video_only},
                                    p.net.now()));
    p.b.pump(p.net.now());
    p.run(2s);
    ASSERT_NE(p.b.find(K::reinvite_failed), nullptr) << p.b.timeline();
    EXPECT_EQ(p.b.find(K::reinvite_failed)->status, 488);
    EXPECT_EQ(p.a.core().session_state(as), SessionState::confirmed);
    EXPECT_EQ(p.b.core().session_state(bs), SessionState::confirmed);
    EXPECT_EQ(p.a.count(K::session_ended), 0u);
    // The call still works: a hold goes through afterwards.
    ASSERT_TRUE(p.b.core().reinvite(bs, ReinviteOptions{.direction = MediaDirection::sendonly}, p.net.now()));
    p.b.pump(p.net.now());
    p.run(2s);
    EXPECT_EQ(p.b.count(K::answer_received), 1u) << p.b.timeline();
    ASSERT_TRUE(p.a.core().bye(as, p.net.now()));
    p.a.pump(p.net.now());
    p.settle();
}

TEST(UaCall, NoOfferInInviteAnswerInAck) {
    Pair p;
    p.auto_answer();
    SessionId s = p.call(InviteOptions{.target = {}, .headers = {}, .body = std::string(), .content_type = {}});
    p.run(2s);
    EXPECT_EQ(p.a.core().session_state(s), SessionState::confirmed);
    ASSERT_NE(p.a.find(K::offer_received), nullptr) << p.a.timeline();
    ASSERT_NE(p.b.find(K::answer_received), nullptr) << p.b.timeline();
    EXPECT_EQ(p.b.count(K::session_confirmed), 1u);
    ASSERT_TRUE(p.a.core().bye(s, p.net.now()));
    p.a.pump(p.net.now());
    p.settle();
}

TEST(UaCall, GlareBothSidesGet491AndRetry) {
    Pair p;
    auto [as, bs] = p.established();
    p.a.clear();
    p.b.clear();
    ASSERT_TRUE(p.a.core().reinvite(as, ReinviteOptions{.direction = MediaDirection::sendonly}, p.net.now()));
    ASSERT_TRUE(p.b.core().reinvite(bs, ReinviteOptions{.direction = MediaDirection::sendonly}, p.net.now()));
    p.a.pump(p.net.now());
    p.b.pump(p.net.now());
    p.run(10s);
    std::vector<Message> keep;
    EXPECT_NE(find_sent(p.a, "SIP/2.0 491", keep), nullptr);
    EXPECT_NE(find_sent(p.b, "SIP/2.0 491", keep), nullptr);
    // After the §14.1 waits both re-INVITEs went through.
    EXPECT_EQ(p.a.count(K::answer_received), 1u) << p.a.timeline();
    EXPECT_EQ(p.b.count(K::answer_received), 1u) << p.b.timeline();
    EXPECT_EQ(p.a.count(K::reinvite_failed), 0u);
    ASSERT_TRUE(p.a.core().bye(as, p.net.now()));
    p.a.pump(p.net.now());
    p.settle();
}

// A scripted peer on a bare TransactionLayer: it sends an INVITE and never ACKs the 2xx.
TEST(UaCall, AckLostMeans2xxRetransmissionsThenByeAt64T1) {
    sim::Network net(5);
    UaNode b(net, b_addr, test::ua_config("sip:bob@192.0.2.2", 0x2000));
    b.on_event = [](UaNode& n, const UaEvent& e, Time now) {
        if (e.kind == K::incoming_call) {
            ASSERT_TRUE(n.core().answer(e.session, AnswerOptions{}, now));
        }
    };
    std::vector<Time> oks;
    int byes = 0;
    TransactionOptions to;
    to.random = [n = std::uint64_t{77}]() mutable { return ++n; };
    to.sent_by = "192.0.2.9:5060";
    sim::CoreNode raw(net, raw_addr, to, [&](sim::CoreNode& node, TransactionEvent& e, Time now) {
        if (e.kind == EventKind::response && e.message && e.message->status() == 200) oks.push_back(now);
        if (e.kind == EventKind::request && e.message && e.message->method() == Method::bye) {
            ++byes;
            ResponseSpec ok;
            (void)node.layer().respond(e.id, ok, now);
        }
    });
    auto w = MessageWriter::request("INVITE", "sip:bob@192.0.2.2:5060");
    w.header(HeaderId::max_forwards, std::uint64_t{70})
        .header(HeaderId::from, "<sip:raw@192.0.2.9>;tag=rawtag")
        .header(HeaderId::to, "<sip:bob@192.0.2.2>")
        .header(HeaderId::call_id, "ack-lost@raw")
        .header(HeaderId::cseq, "1 INVITE")
        .header(HeaderId::contact, "<sip:raw@192.0.2.9:5060>");
    auto bytes = w.finish();
    ASSERT_TRUE(bytes);
    const Time start = net.now();
    ASSERT_TRUE(raw.layer().send_request(*bytes, Destination{Transport::udp, b_addr, 0}, start));
    raw.pump(start);
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
    EXPECT_TRUE(test::empty(b.core().counts())) << test::describe(b.core().counts());
}

}  // namespace
}  // namespace referkit
