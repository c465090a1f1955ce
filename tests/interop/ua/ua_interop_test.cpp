// Issue: user agent, dialogs, INVITE sessions and digest authentication — against real peers.
// referkit's UserAgent (core + Asio runtime) calls and is called by SIPp scenarios
// (tests/interop/sipp) over UDP and TCP, answers 401 and 407 challenges that SIPp checks, answers a
// hold re-INVITE, and establishes and ends calls with baresip in both directions. Every peer is
// started by the test on loopback and killed when it ends; every wait is bounded.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "baresip_peer.hpp"
#include "io_wait.hpp"
#include "process.hpp"
#include "sipp_peer.hpp"
#include "referkit/user_agent.hpp"

namespace referkit {
namespace {

using namespace std::chrono_literals;
using interop::SippOptions;
using interop::SippPeer;

const std::string scenario_dir = REFERKIT_SIPP_SCENARIO_DIR;

// One referkit user agent on 127.0.0.1 (ephemeral port) recording every session event it raises.
class Agent {
public:
    using Reaction = std::function<void(UserAgent&, const SessionEvent&)>;

    Agent(Transport transport, std::string password = "secret", Reaction react = {})
        : react_(std::move(react)),
          ua_(io_, options(transport, std::move(password)), [this](UserAgent& ua, const StackEvent& ev) {
              const auto* e = std::get_if<SessionEvent>(&ev);
              if (e == nullptr) return;
              events_.push_back(*e);
              if (react_) react_(ua, *e);
          }) {
        auto started = ua_.start();
        if (!started) ADD_FAILURE() << "start: " << started.error();
    }

    // Runs the io_context until pred() holds or bound passes (test::run_until).
    bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds bound) {
        return test::run_until(io_, pred, bound);
    }
    // Runs until the peer process exits (or bound); its exit code (test::run_until_exit).
    template <class Peer>
    std::optional<int> run_until_exit(Peer& process, std::chrono::milliseconds bound) {
        return test::run_until_exit(io_, process, bound);
    }

    const SessionEvent* find(SessionEventKind kind) const {
        for (const auto& e : events_)
            if (e.kind == kind) return &e;
        return nullptr;
    }
    std::size_t count(SessionEventKind kind) const {
        return static_cast<std::size_t>(
            std::count_if(events_.begin(), events_.end(), [&](const SessionEvent& e) { return e.kind == kind; }));
    }
    const std::vector<SessionEvent>& events() const { return events_; }
    bool has(SessionEventKind kind) const { return find(kind) != nullptr; }
    std::string timeline() const {
        std::string s;
        for (const auto& e : events_) {
            s += to_string(e.kind);
            if (e.status) s += " " + std::to_string(e.status);
            s += "\n";
        }
        return s;
    }

    SessionId invite(const std::string& target) {
        SessionId id;
        ua_.post([&](UserAgent& ua) {
            auto r = ua.invite(InviteOptions{.target = target});
            if (r) id = r->id();
            else ADD_FAILURE() << "invite: " << to_string(r.error());
        });
        run_until([&] { return bool(id); }, 2s);
        return id;
    }
    void bye(SessionId id) {
        bool done = false;
        ua_.post([&](UserAgent& ua) {
            auto r = ua.session(id).bye();
            if (!r) ADD_FAILURE() << "bye: " << to_string(r.error());
            done = true;
        });
        run_until([&] { return done; }, 2s);
    }

    std::uint16_t port() const { return ua_.local_endpoints().at(0).second.port; }
    UserAgent& ua() { return ua_; }

private:
    static UserAgentOptions options(Transport transport, std::string password) {
        UserAgentOptions o;
        o.core.aor = "sip:alice@127.0.0.1";
        o.core.contact_user = "alice";
        o.core.credentials = {Credentials{.username = "alice", .password = std::move(password), .realm = ""}};
        o.core.default_transport = transport;
        o.engine.listen = {runtime::ListenSpec{.transport = transport, .local = {"127.0.0.1", 0}}};
        return o;
    }

    boost::asio::io_context io_;
    Reaction react_;
    std::vector<SessionEvent> events_;
    UserAgent ua_;
};

std::string transport_name_lower(Transport t) { return t == Transport::tcp ? "tcp" : "udp"; }

// SIPp as UAS with `scenario` (waits until it listens).
std::expected<SippPeer, std::string> sipp_server(const std::string& scenario, Transport t,
                                                 std::vector<std::string> extra = {}) {
    return SippPeer::start(SippOptions{.scenario = scenario, .transport = transport_name_lower(t), .extra_args = std::move(extra)});
}
// SIPp as UAC sending to our UA.
std::expected<SippPeer, std::string> sipp_client(const std::string& scenario, Transport t, std::uint16_t ua_port) {
    return SippPeer::start(SippOptions{.scenario = scenario, .transport = transport_name_lower(t),
                                       .remote = "127.0.0.1:" + std::to_string(ua_port), .service = "alice"});
}

class UaSipp : public ::testing::TestWithParam<Transport> {
protected:
    void SetUp() override {
        if (!interop::find_program("sipp")) GTEST_SKIP() << "sipp (Debian package sip-tester) is not installed";
    }
};

std::string name(const ::testing::TestParamInfo<Transport>& info) {
    return info.param == Transport::tcp ? "tcp" : "udp";
}

// We call SIPp's "bob"; the call must be answered (after whatever the scenario demands first), then
// we hang up and SIPp must count the call as successful.
void call_answered_then_bye(Agent& a, SippPeer& sipp) {
    const SessionId s = a.invite(sipp.uri("bob"));
    ASSERT_TRUE(s);
    ASSERT_TRUE(a.run_until([&] { return a.has(SessionEventKind::session_answered) || a.has(SessionEventKind::session_ended); }, 10s))
        << a.timeline();
    ASSERT_TRUE(a.has(SessionEventKind::session_answered)) << a.timeline() << sipp.output();
    a.bye(s);
    ASSERT_TRUE(a.run_until([&] { return a.has(SessionEventKind::session_ended); }, 10s)) << a.timeline();
    EXPECT_EQ(a.find(SessionEventKind::session_ended)->cause, EndCause::bye_local) << a.timeline();
    EXPECT_EQ(a.run_until_exit(sipp, 10s), 0) << sipp.output();
}

// We call a SIPp UAS (100, 180, 200), ACK, then hang up with BYE.
TEST_P(UaSipp, OutgoingCallEndedByUs) {
    const Transport t = GetParam();
    Agent a(t);
    auto sipp = sipp_server("uas_answer.xml", t);
    ASSERT_TRUE(sipp) << sipp.error();
    call_answered_then_bye(a, *sipp);
    EXPECT_TRUE(a.has(SessionEventKind::session_progress)) << a.timeline();  // SIPp's 180
}

// SIPp answers, then hangs up; we answer its BYE.
TEST_P(UaSipp, OutgoingCallEndedByPeer) {
    const Transport t = GetParam();
    Agent a(t);
    auto sipp = sipp_server("uas_answer_then_bye.xml", t);
    ASSERT_TRUE(sipp) << sipp.error();
    ASSERT_TRUE(a.invite(sipp->uri("bob")));
    ASSERT_TRUE(a.run_until([&] { return a.has(SessionEventKind::session_ended); }, 10s)) << a.timeline();
    EXPECT_EQ(a.find(SessionEventKind::session_ended)->cause, EndCause::bye_remote);
    EXPECT_EQ(a.run_until_exit(*sipp, 10s), 0) << sipp->output();
}

// SIPp calls us; we answer 200 with an SDP answer; SIPp hangs up.
TEST_P(UaSipp, IncomingCall) {
    const Transport t = GetParam();
    Agent a(t, "secret", [](UserAgent& ua, const SessionEvent& e) {
        if (e.kind == SessionEventKind::incoming_call) {
            auto r = ua.session(e.session).answer(AnswerOptions{.status = 200});
            if (!r) ADD_FAILURE() << "answer: " << to_string(r.error());
        }
    });
    auto sipp = sipp_client("uac_call.xml", t, a.port());
    ASSERT_TRUE(sipp) << sipp.error();
    ASSERT_TRUE(a.run_until([&] { return a.has(SessionEventKind::session_ended); }, 10s)) << a.timeline();
    EXPECT_TRUE(a.has(SessionEventKind::incoming_call));
    EXPECT_TRUE(a.has(SessionEventKind::session_confirmed)) << a.timeline();
    EXPECT_EQ(a.find(SessionEventKind::session_ended)->cause, EndCause::bye_remote);
    EXPECT_EQ(a.run_until_exit(*sipp, 10s), 0) << sipp->output();
}

// OPTIONS from SIPp, answered by the core.
TEST_P(UaSipp, OptionsAnswered) {
    const Transport t = GetParam();
    Agent a(t);
    auto sipp = sipp_client("uac_options.xml", t, a.port());
    ASSERT_TRUE(sipp) << sipp.error();
    EXPECT_EQ(a.run_until_exit(*sipp, 10s), 0) << sipp->output();
}

// 401: SIPp recomputes our digest with verifyauth; the call then goes through.
TEST_P(UaSipp, Challenge401VerifiedBySipp) {
    const Transport t = GetParam();
    Agent a(t);
    auto sipp = sipp_server("uas_auth_401.xml", t, {"-set", "auth_user", "alice", "-set", "auth_pass", "secret"});
    ASSERT_TRUE(sipp) << sipp.error();
    call_answered_then_bye(a, *sipp);
}

// Wrong password: exactly one retry, then SIPp's 403 ends the session; SIPp reports the failure.
TEST_P(UaSipp, Challenge401WrongPasswordOneRetry) {
    const Transport t = GetParam();
    Agent a(t, "not-the-password");
    auto sipp = sipp_server("uas_auth_401.xml", t, {"-set", "auth_user", "alice", "-set", "auth_pass", "secret"});
    ASSERT_TRUE(sipp) << sipp.error();
    ASSERT_TRUE(a.invite(sipp->uri("bob")));
    ASSERT_TRUE(a.run_until([&] { return a.has(SessionEventKind::session_ended); }, 10s)) << a.timeline();
    EXPECT_EQ(a.find(SessionEventKind::session_ended)->status, 403) << a.timeline();
    EXPECT_FALSE(a.has(SessionEventKind::session_answered));
    auto code = a.run_until_exit(*sipp, 10s);
    ASSERT_TRUE(code.has_value());
    EXPECT_NE(*code, 0) << "SIPp must count the call as failed";
}

// 407: Proxy-Authorization checked field by field by SIPp.
TEST_P(UaSipp, Challenge407) {
    const Transport t = GetParam();
    Agent a(t);
    auto sipp = sipp_server("uas_auth_407.xml", t);
    ASSERT_TRUE(sipp) << sipp.error();
    call_answered_then_bye(a, *sipp);
}

// The peer puts us on hold mid-call: the re-INVITE is answered recvonly by default (SIPp checks).
TEST_P(UaSipp, HoldReinviteFromPeerAnswered) {
    const Transport t = GetParam();
    Agent a(t);
    auto sipp = sipp_server("uas_hold_reinvite.xml", t);
    ASSERT_TRUE(sipp) << sipp.error();
    const SessionId s = a.invite(sipp->uri("bob"));
    auto held = [&] {
        for (const auto& e : a.events())
            if (e.kind == SessionEventKind::offer_received && e.direction == MediaDirection::sendonly) return true;
        return false;
    };
    ASSERT_TRUE(a.run_until(held, 10s)) << a.timeline();
    // SIPp ACKs our 200 before it expects the BYE: wait for the re-INVITE's ACK.
    ASSERT_TRUE(a.run_until([&] { return a.count(SessionEventKind::session_confirmed) >= 2; }, 5s)) << a.timeline();
    a.bye(s);
    ASSERT_TRUE(a.run_until([&] { return a.has(SessionEventKind::session_ended); }, 10s)) << a.timeline();
    EXPECT_EQ(a.run_until_exit(*sipp, 10s), 0) << sipp->output();
}

INSTANTIATE_TEST_SUITE_P(Transports, UaSipp, ::testing::Values(Transport::udp, Transport::tcp), name);

class UaBaresip : public ::testing::TestWithParam<Transport> {
protected:
    void SetUp() override {
        if (!interop::find_program("baresip")) GTEST_SKIP() << "baresip (Debian package baresip-core) is not installed";
    }
    std::expected<interop::BaresipPeer, std::string> start_baresip() {
        return interop::BaresipPeer::start(
            interop::BaresipOptions{.transport = transport_name_lower(GetParam())});
    }
};

// We call baresip (auto-answer), the call is established on both sides, we hang up.
TEST_P(UaBaresip, WeCallAndHangUp) {
    const Transport t = GetParam();
    auto bob = start_baresip();
    ASSERT_TRUE(bob) << bob.error();
    Agent a(t);
    std::string target = bob->uri();
    if (t == Transport::tcp && target.find(";transport=") == std::string::npos) target += ";transport=tcp";
    const SessionId s = a.invite(target);
    ASSERT_TRUE(s);
    ASSERT_TRUE(a.run_until([&] { return a.has(SessionEventKind::session_answered) || a.has(SessionEventKind::session_ended); }, 10s))
        << a.timeline() << bob->output();
    ASSERT_TRUE(a.has(SessionEventKind::session_answered)) << a.timeline() << bob->output();
    ASSERT_TRUE(a.run_until([&] { return bob->count_in_output("Call established: ") >= 1; }, 10s)) << bob->output();
    a.bye(s);
    ASSERT_TRUE(a.run_until([&] { return a.has(SessionEventKind::session_ended); }, 10s)) << a.timeline();
    EXPECT_EQ(a.find(SessionEventKind::session_ended)->cause, EndCause::bye_local);
    EXPECT_EQ(a.find(SessionEventKind::session_ended)->status, 200) << a.timeline();
    EXPECT_TRUE(a.run_until([&] { return bob->count_in_output(": session closed") >= 1; }, 10s)) << bob->output();
}

// baresip calls us, we answer, baresip hangs up.
TEST_P(UaBaresip, BaresipCallsAndHangsUp) {
    const Transport t = GetParam();
    auto bob = start_baresip();
    ASSERT_TRUE(bob) << bob.error();
    Agent a(t, "secret", [](UserAgent& ua, const SessionEvent& e) {
        if (e.kind == SessionEventKind::incoming_call) {
            auto r = ua.session(e.session).answer(AnswerOptions{.status = 200});
            if (!r) ADD_FAILURE() << "answer: " << to_string(r.error());
        }
    });
    ASSERT_TRUE(bob->dial("sip:alice@127.0.0.1:" + std::to_string(a.port()))) << bob->output();
    ASSERT_TRUE(a.run_until([&] { return a.has(SessionEventKind::session_confirmed) || a.has(SessionEventKind::session_ended); }, 10s))
        << a.timeline() << bob->output();
    ASSERT_TRUE(a.has(SessionEventKind::session_confirmed)) << a.timeline() << bob->output();
    ASSERT_TRUE(a.run_until([&] { return bob->count_in_output("Call established: ") >= 1; }, 10s)) << bob->output();
    ASSERT_TRUE(bob->hangup()) << bob->output();
    ASSERT_TRUE(a.run_until([&] { return a.has(SessionEventKind::session_ended); }, 10s)) << a.timeline() << bob->output();
    EXPECT_EQ(a.find(SessionEventKind::session_ended)->cause, EndCause::bye_remote);
}

INSTANTIATE_TEST_SUITE_P(Transports, UaBaresip, ::testing::Values(Transport::udp, Transport::tcp), name);

}  // namespace
}  // namespace referkit
