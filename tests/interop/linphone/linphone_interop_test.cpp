// linphonec 5.1 (Debian linphone-cli) as a real transferee of referkit's Transfer, every peer on
// loopback over UDP, every wait bounded (tests/support/io_wait.hpp):
//   alice - a referkit UserAgent, the transferor (the library's Session/Transfer API);
//   bob   - linphonec, auto-answering (tests/interop/linphone/linphone_peer.hpp);
//   carol - a second referkit UserAgent, the transfer target, answering every call.
// Blind: alice calls bob and REFERs him to carol (RFC 3515 §2.4.1, in dialog). Attended: alice
// also calls carol and REFERs bob with Refer-To carol?Replaces=<alice-carol call> (RFC 3891 §3):
// bob's INVITE replaces that call at carol, who hangs up on alice.
// Each test asserts the transfer's outcome as the transferor sees it: accepted, ended by the
// final NOTIFY whose sipfrag is 200, each NOTIFY answered 200.
//
// linphonec 5.1.65 as observed: it answers the REFER 202 and, before any NOTIFY, puts alice's call
// on hold with a re-INVITE (Subject: Call on hold, a=sendonly, RFC 3264 §8.4); it NOTIFYs
// "Event: refer" (no id) with "Subscription-State: active" and sipfrag "SIP/2.0 100 Trying", then
// "Subscription-State: terminated;reason=reason=noresource" (sic: the parameter repeated) with
// "SIP/2.0 200 Ok". It does not BYE alice: with that NOTIFY answered 200 it sends nothing more and
// answers alice's BYE 200. (A SUBSCRIBE in that dialog gets 501, after which it forgets the
// dialog: a later BYE gets 481.) Its INVITE to carol carries Referred-By, and in the attended
// case Replaces (RFC 3891 §3); its From and SDP there use the host's own address, not 127.0.0.1.
// The tests skip (GTEST_SKIP with the reason) when linphonec is not installed.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io_wait.hpp"
#include "linphone_peer.hpp"
#include "process.hpp"
#include "referkit/runtime/engine.hpp"
#include "referkit/user_agent.hpp"

namespace referkit {
namespace {

using namespace std::chrono_literals;
using interop::LinphonePeer;

constexpr std::chrono::milliseconds kCallBound{10000};
constexpr std::chrono::milliseconds kTransferBound{30000};

// One referkit UserAgent on 127.0.0.1 (ephemeral UDP port) on a shared io_context, recording its
// session events, transferee events, the events of transfers given recorder(), and a SIP trace.
struct Party {
    Party(boost::asio::io_context& context, std::string user, bool answer_calls)
        : io(context),
          ua(io,
             [this, user] {
                 UserAgentOptions o;
                 o.core.aor = "sip:" + user + "@127.0.0.1";
                 o.core.contact_user = user;
                 o.core.default_transport = Transport::udp;
                 o.engine.listen = {runtime::ListenSpec{.transport = Transport::udp, .local = {"127.0.0.1", 0}}};
                 o.engine.trace = [this](runtime::TraceDirection d, Transport tr, const Endpoint& remote,
                                         std::string_view bytes) {
                     if (trace.size() > 200000) return;  // bounded: enough for these flows
                     trace += std::string(d == runtime::TraceDirection::sent ? ">>> to " : "<<< from ") +
                              std::string(transport_name(tr)) + " " + runtime::format_hostport(remote) + "\n";
                     trace.append(bytes);
                     trace += "\n";
                 };
                 o.on_transferee = [this](UserAgent&, const TransfereeEvent& e) { transferee_events.push_back(e); };
                 return o;
             }(),
             [this, answer_calls](UserAgent& agent, const StackEvent& ev) {
                 const auto* e = std::get_if<SessionEvent>(&ev);
                 if (e == nullptr) return;
                 session_events.push_back(*e);
                 if (e->kind == SessionEventKind::offer_received && e->direction == MediaDirection::sendonly)
                     hold_offers.push_back({e->session, transfer_events.size()});
                 if (answer_calls && e->kind == SessionEventKind::incoming_call) {
                     auto a = agent.session(e->session).answer();
                     if (!a) ADD_FAILURE() << "answer: " << to_string(a.error());
                 }
             }) {
        auto s = ua.start();
        if (!s) ADD_FAILURE() << "start: " << s.error();
    }

    bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds bound) {
        return test::run_until(io, pred, bound);
    }
    [[nodiscard]] std::string uri() const { return ua.contact_uri(Transport::udp).value_or(""); }
    // A TransferHandlers::on_any that records "name(status)".
    TransferHandlers::Handler recorder() {
        return [this](Transfer&, const TransferEvent& e) {
            std::string n(e.name());
            if (e.status) n += "(" + std::to_string(e.status) + ")";
            transfer_events.push_back(n);
        };
    }
    [[nodiscard]] std::string names() const {
        std::string s;
        for (const auto& n : transfer_events) s += n + " ";
        return s;
    }
    [[nodiscard]] const SessionEvent* find(SessionEventKind kind, SessionId session = {}) const {
        for (const auto& e : session_events)
            if (e.kind == kind && (session == SessionId{} || e.session == session)) return &e;
        return nullptr;
    }
    [[nodiscard]] bool has(SessionEventKind kind, SessionId session = {}) const { return find(kind, session) != nullptr; }
    [[nodiscard]] std::size_t count(SessionEventKind kind, SessionId session) const {
        std::size_t n = 0;
        for (const auto& e : session_events) n += e.kind == kind && e.session == session ? 1 : 0;
        return n;
    }
    [[nodiscard]] const TransfereeEvent* find(TransfereeEventKind kind) const {
        for (const auto& e : transferee_events)
            if (e.kind == kind) return &e;
        return nullptr;
    }
    [[nodiscard]] std::string timeline() const {
        std::string s;
        for (const auto& e : session_events) {
            s += std::string(to_string(e.kind));
            if (e.status) s += " " + std::to_string(e.status);
            if (e.kind == SessionEventKind::offer_received || e.kind == SessionEventKind::answer_received)
                s += " " + std::string(to_string(e.direction));
            s += "; ";
        }
        for (const auto& e : transferee_events) s += "transferee " + std::string(to_string(e.kind)) + "; ";
        return s;
    }

    struct HoldOffer {
        SessionId session{};
        std::size_t transfer_events_before = 0;  // how many transfer events had arrived then
    };

    boost::asio::io_context& io;
    // Declared before `ua`: the UserAgent's destructor still delivers events into them.
    std::vector<SessionEvent> session_events;
    std::vector<TransfereeEvent> transferee_events;
    std::vector<std::string> transfer_events;
    std::vector<HoldOffer> hold_offers;
    std::string trace;
    UserAgent ua;
};

// The events without the provisional ones (linphonec may relay a 180 from the target as well).
std::string without_progress(const std::vector<std::string>& events) {
    std::string s;
    for (const auto& e : events) {
        if (e.rfind("referProgress", 0) == 0 || e.rfind("notify(1", 0) == 0) continue;
        s += e + " ";
    }
    return s;
}

class ReferLinphone : public ::testing::Test {
protected:
    void SetUp() override {
        if (!interop::find_program("linphonec"))
            GTEST_SKIP() << "linphonec (Debian package linphone-cli) is not installed";
        auto peer = LinphonePeer::start();
        ASSERT_TRUE(peer) << peer.error();
        bob.emplace(std::move(*peer));
    }

    // After a failure, once: both parties' SIP traces and linphonec's messages and status lines.
    void TearDown() override {
        if (!HasFailure()) return;
        std::cout << "--- alice trace\n" << alice.trace << "\n--- carol trace\n" << carol.trace << "\n--- linphonec\n"
                  << (bob ? bob->messages() : std::string()) << std::endl;
    }

    // What each failed expectation prints: the transfer's events and both parties' timelines.
    [[nodiscard]] std::string dump() const {
        return "\nevents: " + alice.names() + "\nalice: " + alice.timeline() + "\ncarol: " + carol.timeline() +
               "\n(SIP traces and linphonec's log follow the test's failures)";
    }

    // alice calls linphonec and waits until both sides have the call up.
    Session call_bob() {
        auto call = alice.ua.invite(InviteOptions{.target = bob->uri()});
        if (!call) {
            ADD_FAILURE() << "invite: " << to_string(call.error());
            return {};
        }
        const SessionId id = call->id();
        EXPECT_TRUE(alice.run_until(
            [&] { return alice.has(SessionEventKind::session_confirmed, id) || alice.has(SessionEventKind::session_ended, id); },
            kCallBound))
            << dump();
        EXPECT_TRUE(alice.has(SessionEventKind::session_confirmed, id)) << dump();
        EXPECT_TRUE(alice.run_until([&] { return bob->count_calls(interop::kConnectedLine) >= 1; }, kCallBound)) << dump();
        return *call;
    }

    // The checks both flows share, once the transfer ended: the outcome alice saw, the NOTIFYs,
    // linphonec's hold re-INVITE before them, and alice's BYE of the transferred call.
    void expect_accepted(const Transfer& tr, const Session& call) {
        RecordProperty("transfer_events", alice.names());
        EXPECT_EQ(tr.outcome(), ReferOutcome::accepted) << "outcome " << to_string(tr.outcome()) << dump();
        EXPECT_EQ(tr.cause(), ReferCause::final_notify) << "cause " << to_string(tr.cause()) << dump();
        EXPECT_EQ(tr.final_response_status(), 202) << alice.names();
        EXPECT_EQ(tr.final_sipfrag_status(), 200) << alice.names();
        // 202, then NOTIFY 100 (answered 200), then NOTIFY 200 (answered 200, RFC 3515 §2.4.5).
        EXPECT_EQ(alice.names().rfind("referRequestAccepted(202) referProgress(100) notify(100) ", 0), 0u) << dump();
        EXPECT_EQ(without_progress(alice.transfer_events), "referRequestAccepted(202) referAccepted(200) notify(200) ended(200) ")
            << dump();
        // linphonec held the call (a=sendonly offer, RFC 3264 §8.4) before its first NOTIFY, and
        // the call went on: our 200 to that re-INVITE was ACKed (a second session_confirmed).
        ASSERT_FALSE(alice.hold_offers.empty()) << dump();
        EXPECT_EQ(alice.hold_offers.front().session, call.id()) << dump();
        EXPECT_LE(alice.hold_offers.front().transfer_events_before, 1u) << dump();  // at most the 202
        EXPECT_GE(alice.count(SessionEventKind::session_confirmed, call.id()), 2u) << dump();
        // Accepted: alice hung up the transferred call herself (the default), and linphonec took the BYE.
        const SessionEvent* ended = alice.find(SessionEventKind::session_ended, call.id());
        ASSERT_NE(ended, nullptr) << dump();
        EXPECT_EQ(ended->cause, EndCause::bye_local) << to_string(ended->cause) << dump();
        EXPECT_EQ(ended->status, 200) << dump();
    }

    boost::asio::io_context io;
    Party alice{io, "alice", false};
    Party carol{io, "carol", true};
    // Declared after the parties: linphonec stops (and its dir goes) before they do.
    std::optional<LinphonePeer> bob;
};

// The peer itself: linphonec auto-answers our call and takes our BYE.
TEST_F(ReferLinphone, AnswersOurCallAndTakesBye) {
    Session call = call_bob();
    ASSERT_TRUE(call.state().has_value()) << dump();
    ASSERT_TRUE(call.bye());
    EXPECT_TRUE(alice.run_until([&] { return alice.has(SessionEventKind::session_ended, call.id()); }, kCallBound)) << dump();
    const SessionEvent* ended = alice.find(SessionEventKind::session_ended, call.id());
    ASSERT_NE(ended, nullptr) << dump();
    EXPECT_EQ(ended->cause, EndCause::bye_local) << to_string(ended->cause) << dump();
    EXPECT_EQ(ended->status, 200) << dump();
    EXPECT_TRUE(bob->wait_ended(kCallBound)) << dump();
}

// Blind: alice REFERs linphonec to carol; linphonec calls carol and NOTIFYs the answer.
TEST_F(ReferLinphone, BlindTransferToReferkitTarget) {
    Session call = call_bob();
    ASSERT_TRUE(call.state().has_value()) << dump();
    TransferOptions o;
    o.handlers.on_any = alice.recorder();
    auto tr = call.refer(carol.uri(), std::move(o));
    ASSERT_TRUE(tr) << tr.error().detail;
    EXPECT_TRUE(alice.run_until([&] { return tr->ended() && alice.has(SessionEventKind::session_ended, call.id()); }, kTransferBound))
        << dump();
    expect_accepted(*tr, call);
    // carol has linphonec's call (the INVITE carries Referred-By, RFC 3892).
    ASSERT_TRUE(alice.run_until([&] { return carol.has(SessionEventKind::session_confirmed); }, kCallBound)) << dump();
    const SessionEvent* incoming = carol.find(SessionEventKind::incoming_call);
    ASSERT_NE(incoming, nullptr) << dump();
    ASSERT_TRUE(incoming->message.has_value());
    EXPECT_NE(incoming->message->find("Referred-By"), nullptr) << dump();
    // carol hangs up the transferred call; linphonec answers the BYE.
    Session transferred = carol.ua.session(incoming->session);
    ASSERT_TRUE(transferred.bye());
    EXPECT_TRUE(alice.run_until([&] { return carol.has(SessionEventKind::session_ended, transferred.id()); }, kCallBound)) << dump();
    const SessionEvent* carol_end = carol.find(SessionEventKind::session_ended, transferred.id());
    ASSERT_NE(carol_end, nullptr) << dump();
    EXPECT_EQ(carol_end->cause, EndCause::bye_local) << to_string(carol_end->cause) << dump();
    EXPECT_EQ(carol_end->status, 200) << dump();
}

// Attended: alice calls carol too (the consultation call), then REFERs linphonec to carol with
// Replaces naming that call; linphonec's INVITE replaces it at carol, who BYEs alice.
TEST_F(ReferLinphone, AttendedTransferReplacesConsultationCall) {
    Session call = call_bob();
    ASSERT_TRUE(call.state().has_value()) << dump();
    auto consultation = alice.ua.invite(InviteOptions{.target = carol.uri()});
    ASSERT_TRUE(consultation) << to_string(consultation.error());
    ASSERT_TRUE(alice.run_until([&] { return alice.has(SessionEventKind::session_confirmed, consultation->id()) &&
                                             carol.has(SessionEventKind::session_confirmed); },
                                kCallBound))
        << dump();
    TransferOptions o;
    o.handlers.on_any = alice.recorder();
    auto tr = call.refer(*consultation, std::move(o));
    ASSERT_TRUE(tr) << tr.error().detail;
    EXPECT_TRUE(alice.run_until(
        [&] {
            return tr->ended() && alice.has(SessionEventKind::session_ended, call.id()) &&
                   alice.has(SessionEventKind::session_ended, consultation->id());
        },
        kTransferBound))
        << dump();
    expect_accepted(*tr, call);
    // carol took linphonec's INVITE with Replaces (answered 200) and hung up the consultation call.
    const TransfereeEvent* replaced = carol.find(TransfereeEventKind::replaced);
    ASSERT_NE(replaced, nullptr) << dump();
    EXPECT_EQ(replaced->status, 200) << dump();
    const SessionEvent* consultation_end = alice.find(SessionEventKind::session_ended, consultation->id());
    ASSERT_NE(consultation_end, nullptr) << dump();
    EXPECT_EQ(consultation_end->cause, EndCause::bye_remote) << to_string(consultation_end->cause) << dump();
    ASSERT_TRUE(alice.run_until([&] { return carol.has(SessionEventKind::session_confirmed, replaced->session); }, kCallBound))
        << dump();
    // The replacing call is up at carol; she hangs it up and linphonec answers the BYE.
    Session transferred = carol.ua.session(replaced->session);
    ASSERT_TRUE(transferred.bye());
    EXPECT_TRUE(alice.run_until([&] { return carol.has(SessionEventKind::session_ended, transferred.id()); }, kCallBound)) << dump();
    const SessionEvent* carol_end = carol.find(SessionEventKind::session_ended, transferred.id());
    ASSERT_NE(carol_end, nullptr) << dump();
    EXPECT_EQ(carol_end->status, 200) << dump();
}

}  // namespace
}  // namespace referkit
