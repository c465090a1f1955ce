// Issue: REFER interop. referkit's Transfer (the transferor) against real peers, every peer started
// on loopback by the test, every wait bounded:
//   - SIPp REFER targets out of dialog (tests/interop/sipp/uas_refer_*.xml), UDP and TCP;
//   - SIPp called and REFERred in the call (uas_call_then_refer.xml), UDP and TCP;
//   - baresip as a real transferee, transferred to a SIPp UAS (uas_answer_then_bye.xml);
//   - SIP.js 0.21 (npm) over WebSocket as the transferee (tests/interop/sipjs/transferee.mjs),
//     transferred to a second referkit UserAgent.
// Each test skips (GTEST_SKIP with the reason) when sipp, baresip, node or the npm modules are absent.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <strings.h>

#include <nlohmann/json.hpp>

#include "baresip_peer.hpp"
#include "io_wait.hpp"
#include "process.hpp"
#include "sipp_peer.hpp"
#include "referkit/core/digest.hpp"
#include "referkit/runtime/engine.hpp"
#include "referkit/user_agent.hpp"

namespace referkit {
namespace {

using namespace std::chrono_literals;
using interop::SippOptions;
using interop::SippPeer;

// SIPp/baresip transport names (they only take udp and tcp).
std::string lower(Transport t) { return t == Transport::tcp ? "tcp" : "udp"; }

// Appends `bytes` to `out` with the values of (Proxy-)Authorization masked (they carry credentials).
void append_masked(std::string& out, std::string_view bytes) {
    std::size_t at = 0;
    while (at < bytes.size()) {
        auto eol = bytes.find('\n', at);
        if (eol == std::string_view::npos) eol = bytes.size();
        std::string_view line = bytes.substr(at, eol - at);
        std::string_view name;
        for (std::string_view h : {"Authorization:", "Proxy-Authorization:"})
            if (line.size() >= h.size() && strncasecmp(line.data(), h.data(), h.size()) == 0) name = h;
        if (name.empty()) out.append(line);
        else {
            std::string_view value = line.substr(name.size());
            while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
            while (!value.empty() && value.back() == '\r') value.remove_suffix(1);
            out.append(name).append(" ").append(mask_credentials(value));
        }
        out += "\n";
        at = eol + 1;
    }
}

// One referkit UserAgent on 127.0.0.1 (ephemeral port) over `t`, recording its session events, the
// events of the transfers given recorder(), and a SIP trace for failure messages.
struct Rig {
    // `shared`: run on that io_context (several user agents driven together); else on its own.
    explicit Rig(Transport t, std::string user = "alice", boost::asio::io_context* shared = nullptr)
        : io(shared ? *shared : own_io),
          ua(io,
             [this, t, user] {
                 UserAgentOptions o;
                 o.core.aor = "sip:" + user + "@127.0.0.1";
                 o.core.contact_user = user;
                 o.core.credentials = {Credentials{.username = "alice", .password = "secret", .realm = ""}};
                 o.core.default_transport = t;
                 o.engine.listen = {runtime::ListenSpec{.transport = t, .local = {"127.0.0.1", 0}, .ws_path = "/"}};
                 o.engine.trace = [this](runtime::TraceDirection d, Transport tr, const Endpoint& remote,
                                         std::string_view bytes) {
                     if (trace.size() > 200000) return;  // bounded: enough for any of these flows
                     trace += std::string(d == runtime::TraceDirection::sent ? ">>> to " : "<<< from ") +
                              std::string(transport_name(tr)) + " " + runtime::format_hostport(remote) + "\n";
                     append_masked(trace, bytes);
                 };
                 return o;
             }(),
             [this](UserAgent& agent, const StackEvent& ev) {
                 const auto* e = std::get_if<SessionEvent>(&ev);
                 if (e == nullptr) return;
                 ua_events.push_back(*e);
                 if (on_event) on_event(agent, *e);
             }) {
        auto s = ua.start();
        if (!s) ADD_FAILURE() << "start: " << s.error();
    }
    // Runs io until pred() holds or bound passes (test::run_until).
    bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds bound) {
        return test::run_until(io, pred, bound);
    }
    // Runs io until the peer process exits or bound passes: its exit code (test::run_until_exit).
    template <class Peer>
    std::optional<int> run_until_exit(Peer& peer, std::chrono::milliseconds bound) {
        return test::run_until_exit(io, peer, bound);
    }
    std::string names() const {
        std::string s;
        for (const auto& n : events) s += n + " ";
        return s;
    }
    // A TransferHandlers::on_any that records "name(status)" into events.
    TransferHandlers::Handler recorder() {
        return [this](Transfer&, const TransferEvent& e) {
            std::string n(e.name());
            if (e.status) n += "(" + std::to_string(e.status) + ")";
            events.push_back(n);
        };
    }
    const SessionEvent* find(SessionEventKind kind) const {
        for (const auto& e : ua_events)
            if (e.kind == kind) return &e;
        return nullptr;
    }
    bool has(SessionEventKind kind) const { return find(kind) != nullptr; }
    std::string timeline() const {
        std::string s;
        for (const auto& e : ua_events) {
            s += std::string(to_string(e.kind));
            if (e.status) s += " " + std::to_string(e.status);
            s += "; ";
        }
        return s;
    }

    // Declared before `ua`: the UserAgent's destructor still delivers events into them.
    boost::asio::io_context own_io;
    boost::asio::io_context& io;
    std::vector<std::string> events;
    std::vector<SessionEvent> ua_events;
    std::function<void(UserAgent&, const SessionEvent&)> on_event;
    std::string trace;
    UserAgent ua;
};

class ReferSipp : public ::testing::TestWithParam<Transport> {
protected:
    void SetUp() override {
        if (!interop::find_program("sipp")) GTEST_SKIP() << "sipp (Debian package sip-tester) is not installed";
    }
    // Sends an out-of-dialog REFER from `r` (the transfer: `tr`) to SIPp running `scenario`;
    // returns SIPp's exit code.
    std::optional<int> run(const std::string& scenario, std::vector<std::string> extra, bool refer_sub) {
        const Transport t = GetParam();
        auto sipp = SippPeer::start(SippOptions{.scenario = scenario, .transport = lower(t), .extra_args = std::move(extra)});
        if (!sipp) {
            ADD_FAILURE() << sipp.error();
            return std::nullopt;
        }
        TransferOptions o{.refer = {.refer_sub = refer_sub}};
        o.handlers.on_any = r.recorder();
        tr.emplace(r.ua, OutOfDialog{.recipient = sipp->uri("bob")}, std::string("sip:carol@127.0.0.1"), std::move(o));
        auto sent = tr->refer();
        EXPECT_TRUE(sent) << (sent ? "" : sent.error().detail);
        EXPECT_TRUE(r.run_until([&] { return tr->ended(); }, 40s)) << r.names();
        const std::optional<int> code = r.run_until_exit(*sipp, 15s);
        if (code != 0) ADD_FAILURE() << sipp->output();
        return code;
    }

    // Our user agent over the test's transport, and the transfer run() made (declared after `r`,
    // so destroyed before it).
    Rig r{GetParam()};
    std::optional<Transfer> tr;
};

std::string name(const ::testing::TestParamInfo<Transport>& info) { return lower(info.param); }

TEST_P(ReferSipp, Accept) {
    EXPECT_EQ(run("uas_refer_accept.xml", {}, true), 0);
    EXPECT_EQ(r.names(), "referRequestAccepted(202) referProgress(100) notify(100) referAccepted(200) notify(200) ended(200) ")
        << "actual: " << r.names();
    EXPECT_EQ(tr->outcome(), ReferOutcome::accepted);
    EXPECT_EQ(tr->cause(), ReferCause::final_notify);
}

TEST_P(ReferSipp, Reject603) {
    EXPECT_EQ(run("uas_refer_reject.xml", {}, true), 0);
    ASSERT_TRUE(tr);
    EXPECT_EQ(tr->outcome(), ReferOutcome::rejected) << r.names();
    EXPECT_EQ(tr->final_response_status(), 603) << r.names();
    EXPECT_NE(r.names().find("referRequestRejected"), std::string::npos) << r.names();
}

TEST_P(ReferSipp, Notify486) {
    EXPECT_EQ(run("uas_refer_notify_486.xml", {}, true), 0);
    ASSERT_TRUE(tr);
    EXPECT_EQ(tr->outcome(), ReferOutcome::rejected) << r.names();
    EXPECT_EQ(tr->final_sipfrag_status(), 486) << r.names();
    EXPECT_NE(r.names().find("referRejected"), std::string::npos) << r.names();
}

TEST_P(ReferSipp, SubFalse) {
    EXPECT_EQ(run("uas_refer_sub_false.xml", {}, false), 0);
    ASSERT_TRUE(tr);
    EXPECT_EQ(tr->outcome(), ReferOutcome::accepted) << r.names();
    EXPECT_EQ(tr->cause(), ReferCause::no_subscription) << r.names();
    EXPECT_EQ(r.names().find("notify"), std::string::npos) << r.names();
}

// Digest on the REFER: 401 (realm referkit.test; our credentials have realm "" = any) and 407.
TEST_P(ReferSipp, Auth401) {
    EXPECT_EQ(run("uas_refer_auth_401.xml", {"-set", "auth_user", "alice", "-set", "auth_pass", "secret"}, true), 0);
    ASSERT_TRUE(tr);
    EXPECT_EQ(tr->outcome(), ReferOutcome::accepted) << r.names();
    // The retried REFER carried our digest (masked in the trace, §22.2).
    EXPECT_NE(r.trace.find("Authorization: Digest"), std::string::npos) << r.trace;
    EXPECT_NE(r.trace.find("response=\"***\""), std::string::npos) << r.trace;
}

TEST_P(ReferSipp, Auth407) {
    EXPECT_EQ(run("uas_refer_auth_407.xml", {}, true), 0);
    ASSERT_TRUE(tr);
    EXPECT_EQ(tr->outcome(), ReferOutcome::accepted) << r.names();
}

// SIPp drops the NOTIFY 200 / REFER retransmission cases: exactly one referAccepted (RFC 3261 §17).
TEST_P(ReferSipp, NotifyRetransmitted) {
    std::vector<std::string> extra;
    if (GetParam() == Transport::udp) extra.push_back("-nr");
    EXPECT_EQ(run("uas_refer_notify_retransmit.xml", extra, true), 0);
    ASSERT_TRUE(tr);
    EXPECT_EQ(tr->outcome(), ReferOutcome::accepted) << r.names();
    std::size_t n = 0;
    for (const auto& e : r.events) n += e.rfind("referAccepted", 0) == 0 ? 1 : 0;
    EXPECT_EQ(n, 1u) << r.names();
}

// SIPp ignores our first REFER (UDP only): accepted after our Timer A retransmission.
TEST(ReferSippUdp, IgnoreFirst) {
    if (!interop::find_program("sipp")) GTEST_SKIP() << "sipp (Debian package sip-tester) is not installed";
    Rig r(Transport::udp);
    auto sipp = SippPeer::start(SippOptions{.scenario = "uas_refer_ignore_first.xml", .transport = "udp", .extra_args = {"-nr"}});
    ASSERT_TRUE(sipp) << sipp.error();
    Transfer tr(r.ua, OutOfDialog{.recipient = sipp->uri("bob")}, std::string("sip:carol@127.0.0.1"));
    ASSERT_TRUE(tr.refer());
    EXPECT_TRUE(r.run_until([&] { return tr.ended(); }, 40s));
    EXPECT_EQ(tr.outcome(), ReferOutcome::accepted);
    EXPECT_EQ(r.run_until_exit(*sipp, 15s), 0) << sipp->output();
}

// In dialog (RFC 3515 §2.4.1): we call SIPp (uas_call_then_refer.xml), REFER in the confirmed call;
// SIPp NOTIFYs 100 then 200 (terminated) in the INVITE dialog (§2.4.4); we answer both 200 and then
// hang up by default. SIPp's scenario only takes the BYE after the 200 to its final NOTIFY.
TEST_P(ReferSipp, InDialogThenBye) {
    const Transport t = GetParam();
    auto sipp = SippPeer::start(SippOptions{.scenario = "uas_call_then_refer.xml", .transport = lower(t)});
    ASSERT_TRUE(sipp) << sipp.error();
    auto call = r.ua.invite(InviteOptions{.target = sipp->uri("bob")});
    ASSERT_TRUE(call) << to_string(call.error());
    ASSERT_TRUE(r.run_until([&] { return r.has(SessionEventKind::session_confirmed) || r.has(SessionEventKind::session_ended); }, 10s))
        << r.timeline() << sipp->output();
    ASSERT_TRUE(r.has(SessionEventKind::session_confirmed)) << r.timeline() << sipp->output();
    TransferOptions o;
    o.handlers.on_any = r.recorder();
    auto transfer = call->refer(std::string("sip:carol@127.0.0.1"), std::move(o));
    ASSERT_TRUE(transfer) << transfer.error().detail;
    EXPECT_TRUE(r.run_until([&] { return transfer->ended() && r.has(SessionEventKind::session_ended); }, 20s))
        << r.names() << "\n" << r.timeline() << "\n" << r.trace;
    EXPECT_EQ(r.names(), "referRequestAccepted(202) referProgress(100) notify(100) referAccepted(200) notify(200) ended(200) ")
        << r.trace;
    EXPECT_EQ(transfer->outcome(), ReferOutcome::accepted);
    EXPECT_EQ(transfer->cause(), ReferCause::final_notify);
    EXPECT_EQ(transfer->session(), call->id());
    const SessionEvent* ended = r.find(SessionEventKind::session_ended);
    ASSERT_NE(ended, nullptr) << r.timeline();
    EXPECT_EQ(ended->cause, EndCause::bye_local) << r.timeline();
    EXPECT_EQ(ended->status, 200) << r.timeline();
    // Our BYE left after our 200 to the final NOTIFY (CSeq 2): the last trace line naming it.
    const auto final_notify = r.trace.rfind("CSeq: 2 NOTIFY");
    ASSERT_NE(final_notify, std::string::npos) << r.trace;
    EXPECT_NE(r.trace.find("BYE sip:", final_notify), std::string::npos) << r.trace;
    EXPECT_EQ(r.trace.find("BYE sip:"), r.trace.find("BYE sip:", final_notify)) << r.trace;
    EXPECT_EQ(r.run_until_exit(*sipp, 15s), 0) << sipp->output();
}

INSTANTIATE_TEST_SUITE_P(Transports, ReferSipp, ::testing::Values(Transport::udp, Transport::tcp), name);

// baresip 1.0 as a real transferee (tests/interop/baresip/baresip_peer.hpp): we call it (it
// auto-answers), REFER it to a SIPp UAS (uas_answer_then_bye.xml) acting as the target; baresip
// answers 202, INVITEs SIPp, NOTIFYs the target's answers; our Transfer ends accepted and we BYE
// our call with baresip. SIPp exiting 0 proves its call with baresip was established (and then
// hung up by SIPp, which baresip answered 200).
class ReferBaresip : public ::testing::TestWithParam<Transport> {
protected:
    void SetUp() override {
        if (!interop::find_program("baresip")) GTEST_SKIP() << "baresip (Debian package baresip-core) is not installed";
        if (!interop::find_program("sipp")) GTEST_SKIP() << "sipp (Debian package sip-tester) is not installed";
    }
};

// The events without the provisional ones (baresip may or may not relay 180 Ringing as a NOTIFY).
std::string without_progress(const std::vector<std::string>& events) {
    std::string s;
    for (std::size_t i = 0; i < events.size(); ++i) {
        const bool progress = events[i].rfind("referProgress", 0) == 0;
        const bool progress_notify = events[i].rfind("notify(1", 0) == 0;
        if (!progress && !progress_notify) s += events[i] + " ";
    }
    return s;
}

TEST_P(ReferBaresip, TransfersToSippTarget) {
    const Transport t = GetParam();
    auto bob = interop::BaresipPeer::start(interop::BaresipOptions{.transport = lower(t)});
    ASSERT_TRUE(bob) << bob.error();
    auto carol = SippPeer::start(SippOptions{.scenario = "uas_answer_then_bye.xml", .transport = lower(t),
                                             .timeout = std::chrono::seconds(30)});
    ASSERT_TRUE(carol) << carol.error();
    Rig r(t);
    auto call = r.ua.invite(InviteOptions{.target = bob->uri()});
    ASSERT_TRUE(call) << to_string(call.error());
    ASSERT_TRUE(r.run_until([&] { return r.has(SessionEventKind::session_confirmed) || r.has(SessionEventKind::session_ended); }, 10s))
        << r.timeline() << bob->output();
    ASSERT_TRUE(r.has(SessionEventKind::session_confirmed)) << r.timeline() << bob->output();
    ASSERT_TRUE(r.run_until([&] { return bob->count_in_output(interop::kEstablishedLine) >= 1; }, 10s)) << bob->output();

    TransferOptions o;
    o.handlers.on_any = r.recorder();
    auto tr = call->refer(carol->uri("carol"), std::move(o));
    ASSERT_TRUE(tr) << tr.error().detail;
    EXPECT_TRUE(r.run_until([&] { return tr->ended() && r.has(SessionEventKind::session_ended); }, 30s))
        << r.names() << "\n" << r.timeline() << "\n" << r.trace << bob->output();
    EXPECT_EQ(tr->outcome(), ReferOutcome::accepted) << r.names() << r.trace;
    EXPECT_EQ(tr->cause(), ReferCause::final_notify) << r.names();
    RecordProperty("transfer_events", r.names());
    ASSERT_FALSE(r.events.empty());
    EXPECT_EQ(r.names().rfind("referRequestAccepted(202) referProgress(100) notify(100) ", 0), 0u) << r.names();
    EXPECT_EQ(without_progress(r.events), "referRequestAccepted(202) referAccepted(200) notify(200) ended(200) ")
        << r.names() << r.trace;
    const SessionEvent* ended = r.find(SessionEventKind::session_ended);
    ASSERT_NE(ended, nullptr) << r.timeline();
    EXPECT_EQ(ended->cause, EndCause::bye_local) << r.timeline();
    EXPECT_EQ(ended->status, 200) << r.timeline();
    // baresip established its second call (to SIPp); SIPp's scenario (answer, ACK, BYE, 200) passed.
    EXPECT_TRUE(r.run_until([&] { return bob->count_in_output(interop::kEstablishedLine) >= 2; }, 10s)) << bob->output();
    EXPECT_EQ(r.run_until_exit(*carol, 20s), 0) << carol->output() << bob->output();
}

#ifdef REFERKIT_CLI
// The same transfer driven by the command a person would type:
//   referkit transfer BARESIP_URI --to SIPP_URI --transport T --json
// Its exit code (0: the transfer succeeded) and the JSON lines it prints (SIP.js's event names;
// the last line states the outcome) are what a script relies on.
TEST_P(ReferBaresip, CommandTransfersToSippTarget) {
    const Transport t = GetParam();
    auto bob = interop::BaresipPeer::start(interop::BaresipOptions{.transport = lower(t)});
    ASSERT_TRUE(bob) << bob.error();
    auto carol = SippPeer::start(SippOptions{.scenario = "uas_answer_then_bye.xml", .transport = lower(t),
                                             .timeout = std::chrono::seconds(30)});
    ASSERT_TRUE(carol) << carol.error();
    auto cli = interop::ChildProcess::spawn({REFERKIT_CLI, "transfer", bob->uri(), "--to", carol->uri("carol"),
                                             "--transport", lower(t), "--json", "--timeout", "20"});
    ASSERT_TRUE(cli) << cli.error();
    const std::optional<int> code = cli->wait_for(std::chrono::seconds(40));
    const std::string out = cli->output();
    ASSERT_EQ(code, 0) << out << bob->output();
    std::vector<std::string> events;
    nlohmann::json last;
    std::size_t at = 0;
    while (at < out.size()) {
        const std::size_t nl = out.find('\n', at);
        const std::string line = out.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
        at = nl == std::string::npos ? out.size() : nl + 1;
        if (line.empty() || line.front() != '{') continue;  // (stderr lines share the log)
        auto j = nlohmann::json::parse(line, nullptr, false);
        ASSERT_FALSE(j.is_discarded()) << "not JSON: " << line;
        events.push_back(j.value("event", ""));
        last = j;
    }
    const auto seen = [&](std::string_view e) { return std::find(events.begin(), events.end(), e) != events.end(); };
    for (const char* e : {"session_confirmed", "referRequestAccepted", "referProgress", "referAccepted", "notify", "ended",
                          "session_ended"})
        EXPECT_TRUE(seen(e)) << e << " missing:\n" << out;
    EXPECT_FALSE(seen("referRequestRejected")) << out;
    EXPECT_FALSE(seen("referRejected")) << out;
    EXPECT_EQ(last.value("event", ""), "outcome") << out;
    EXPECT_EQ(last.value("outcome", ""), "accepted") << out;
    EXPECT_EQ(last.value("exit", -1), 0) << out;
    // baresip called SIPp (its second established call) and SIPp's scenario passed.
    EXPECT_TRUE(interop::wait_until([&] { return bob->count_in_output(interop::kEstablishedLine) >= 2; }, std::chrono::seconds(10)))
        << bob->output();
    EXPECT_EQ(carol->wait_for(std::chrono::seconds(20)), 0) << carol->output() << bob->output();
}
#endif

INSTANTIATE_TEST_SUITE_P(Transports, ReferBaresip, ::testing::Values(Transport::udp, Transport::tcp), name);

// SIP.js 0.21 (npm, tests/interop/sipjs) over WebSocket as the transferee of an in-dialog transfer:
// alice (us, WS listener) calls SIP.js (transferee.mjs, connected as a WS client to alice and to
// carol), REFERs it to carol (a second referkit UserAgent on its own WS listener); SIP.js accepts
// the REFER, INVITEs carol and NOTIFYs alice with carol's answers; alice's Transfer ends accepted
// and alice hangs up; SIP.js then hangs up its call with carol.
// Who calls whom before the REFER, and how the target answers.
enum class SipJsFlow : std::uint8_t {
    we_call,      // alice INVITEs SIP.js over the connection SIP.js opened; carol answers 200
    sipjs_calls,  // SIP.js INVITEs alice; carol answers 200
    target_rings, // SIP.js INVITEs alice; carol rings (180) first, answers 200 once alice saw it
};

class ReferSipJs : public ::testing::Test {
protected:
    void SetUp() override {
        node_ = interop::find_program("node");
        if (!node_) GTEST_SKIP() << "node is not installed";
        if (!std::filesystem::exists(dir_ + "/node_modules/sip.js") || !std::filesystem::exists(dir_ + "/node_modules/ws"))
            GTEST_SKIP() << "sip.js/ws npm modules missing: run `npm ci` in tests/interop/sipjs";
    }
    // The whole flow; alice REFERs SIP.js to carol in the call once it is confirmed.
    void transfer(SipJsFlow flow);

    std::optional<std::string> node_;
    const std::string dir_ = REFERKIT_SIPJS_DIR;
};

// The first message of `trace` starting with `start_line` (up to the next trace heading), or "".
std::string trace_message(const std::string& trace, std::string_view start_line, std::size_t from = 0) {
    const auto at = trace.find(start_line, from);
    if (at == std::string::npos) return {};
    const auto end = std::min(trace.find("\n<<<", at), trace.find("\n>>>", at));
    return trace.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

void ReferSipJs::transfer(SipJsFlow flow) {
    const bool we_call = flow == SipJsFlow::we_call;
    const bool rings = flow == SipJsFlow::target_rings;
    boost::asio::io_context io;
    Rig alice(Transport::ws, "alice", &io);
    Rig carol(Transport::ws, "carol", &io);
    SessionId carol_call{};
    carol.on_event = [&carol_call, rings](UserAgent& ua, const SessionEvent& e) {
        if (e.kind != SessionEventKind::incoming_call) return;
        carol_call = e.session;
        auto a = ua.session(e.session).answer(AnswerOptions{.status = rings ? 180 : 200});
        if (!a) ADD_FAILURE() << "carol answer: " << to_string(a.error());
    };
    if (!we_call) {
        alice.on_event = [](UserAgent& ua, const SessionEvent& e) {
            if (e.kind != SessionEventKind::incoming_call) return;
            auto a = ua.session(e.session).answer();
            if (!a) ADD_FAILURE() << "alice answer: " << to_string(a.error());
        };
    }
    const auto ws_url = [](Rig& r) { return "ws://" + runtime::format_hostport(r.ua.local_endpoints().at(0).second); };
    const std::string alice_url = ws_url(alice);
    std::vector<std::string> argv = {*node_, "transferee.mjs", alice_url, ws_url(carol)};
    if (!we_call) argv.push_back(alice.ua.contact_uri(Transport::ws).value_or(""));
    auto sipjs = interop::ChildProcess::spawn(std::move(argv), interop::SpawnOptions{.cwd = dir_});
    ASSERT_TRUE(sipjs) << sipjs.error();
    const auto dump = [&] {
        return alice.names() + "\nalice: " + alice.timeline() + "\ncarol: " + carol.timeline() + "\n--- alice trace\n" +
               alice.trace + "\n--- carol trace\n" + carol.trace + "\n--- sip.js\n" + sipjs->output();
    };
    // Its port on the connection to alice, printed once that WebSocket is up.
    const std::string marker = "LOCAL_PORT " + alice_url + " ";
    std::string port;
    ASSERT_TRUE(alice.run_until(
        [&] {
            const std::string out = sipjs->output();
            const auto at = out.find(marker);
            if (at == std::string::npos) return !sipjs->running();
            const auto eol = out.find('\n', at);
            if (eol == std::string::npos) return false;
            port = out.substr(at + marker.size(), eol - at - marker.size());
            return true;
        },
        20s))
        << sipjs->output();
    ASSERT_FALSE(port.empty()) << sipjs->output();
    ASSERT_TRUE(alice.run_until([&] { return sipjs->output().find("connected to ") != std::string::npos || !sipjs->running(); }, 10s))
        << sipjs->output();
    Session call;
    if (we_call) {
        // SIP.js's own address on that connection: the engine reuses the connection (same remote).
        auto placed = alice.ua.invite(InviteOptions{.target = "sip:sipjs@127.0.0.1:" + port + ";transport=ws"});
        ASSERT_TRUE(placed) << to_string(placed.error());
        call = *placed;
    }
    ASSERT_TRUE(alice.run_until([&] { return alice.has(SessionEventKind::session_confirmed) || alice.has(SessionEventKind::session_ended); }, 10s))
        << dump();
    ASSERT_TRUE(alice.has(SessionEventKind::session_confirmed)) << dump();
    if (!we_call) call = alice.ua.session(alice.find(SessionEventKind::session_confirmed)->session);

    TransferOptions o;
    o.handlers.on_any = alice.recorder();
    auto tr = call.refer(carol.ua.contact_uri(Transport::ws).value_or(""), std::move(o));
    ASSERT_TRUE(tr) << tr.error().detail;
    if (rings) {
        // SIP.js NOTIFYs carol's 180 with "Subscription-State: terminated": RFC 6665 §4.1.3 makes
        // that the end of the subscription, so the transfer ends without a final status.
        EXPECT_TRUE(alice.run_until([&] { return tr->ended(); }, 10s)) << dump();
        RecordProperty("transfer_events", alice.names());
        EXPECT_EQ(tr->outcome(), ReferOutcome::unknown) << dump();
        EXPECT_EQ(tr->cause(), ReferCause::subscription_ended) << dump();
        EXPECT_NE(alice.names().find("referProgress(180)"), std::string::npos) << alice.names();
        const std::string notify180 = trace_message(alice.trace, "NOTIFY sip:alice@");
        RecordProperty("sipjs_notify_180", notify180);
        EXPECT_NE(notify180.find("Subscription-State: terminated"), std::string::npos) << notify180;
        EXPECT_NE(notify180.find("SIP/2.0 180 Ringing"), std::string::npos) << notify180;
        // carol answers now; SIP.js NOTIFYs the 200 in a subscription that is over: 481 (§4.1.3).
        ASSERT_TRUE(carol_call);
        ASSERT_TRUE(carol.ua.session(carol_call).answer());
        const auto second = [&] { return alice.trace.find("SIP/2.0 200 OK", alice.trace.find("NOTIFY sip:alice@") + 20); };
        EXPECT_TRUE(alice.run_until([&] { return carol.has(SessionEventKind::session_confirmed) && second() != std::string::npos; }, 10s))
            << dump();
        const std::string notify200 = trace_message(alice.trace, "NOTIFY sip:alice@", alice.trace.find("NOTIFY sip:alice@") + 1);
        RecordProperty("sipjs_notify_200", notify200);
        EXPECT_NE(notify200.find("SIP/2.0 200 OK"), std::string::npos) << dump();
        EXPECT_NE(alice.trace.find("SIP/2.0 481"), std::string::npos) << dump();
        // The transfer did not succeed as far as alice knows: she keeps the call; hang up now.
        EXPECT_FALSE(alice.has(SessionEventKind::session_ended)) << dump();
        ASSERT_TRUE(call.bye());
    }
    const bool done = alice.run_until(
        [&] { return tr->ended() && alice.has(SessionEventKind::session_ended) && carol.has(SessionEventKind::session_ended); }, 20s);
    if (!rings) RecordProperty("transfer_events", alice.names());
    EXPECT_TRUE(done) << dump();
    if (!rings) {
        EXPECT_EQ(tr->outcome(), ReferOutcome::accepted) << alice.names();
        EXPECT_EQ(tr->cause(), ReferCause::final_notify) << alice.names();
        // SIP.js (Inviter.notifyReferer) NOTIFYs each response of the target, with "Event: refer"
        // (no id) and "Subscription-State: terminated" (no reason); carol sends no 1xx here.
        EXPECT_EQ(alice.names(), "referRequestAccepted(202) referAccepted(200) notify(200) ended(200) ");
        const std::string notify = trace_message(alice.trace, "NOTIFY sip:alice@");
        RecordProperty("sipjs_notify", notify);
        EXPECT_NE(notify.find("Event: refer"), std::string::npos) << notify;
        EXPECT_NE(notify.find("SIP/2.0 200 OK"), std::string::npos) << notify;
    }
    EXPECT_TRUE(carol.has(SessionEventKind::session_confirmed)) << carol.timeline();
    const SessionEvent* alice_end = alice.find(SessionEventKind::session_ended);
    ASSERT_NE(alice_end, nullptr) << alice.timeline();
    EXPECT_EQ(alice_end->cause, EndCause::bye_local) << alice.timeline();
    const SessionEvent* carol_end = carol.find(SessionEventKind::session_ended);
    ASSERT_NE(carol_end, nullptr) << carol.timeline();
    EXPECT_EQ(carol_end->cause, EndCause::bye_remote) << carol.timeline();
    EXPECT_EQ(alice.run_until_exit(*sipjs, 15s), 0) << sipjs->output();
}

// As the task asks: alice INVITEs SIP.js (over the connection SIP.js opened), then REFERs it.
TEST_F(ReferSipJs, WeCallThenReferOverWebSocket) { transfer(SipJsFlow::we_call); }

// SIP.js INVITEs alice; alice REFERs it in that call.
TEST_F(ReferSipJs, SipJsCallsThenWeReferOverWebSocket) { transfer(SipJsFlow::sipjs_calls); }

// As above, the target rings first: SIP.js 0.21's NOTIFY of the 180 already says "terminated".
TEST_F(ReferSipJs, TargetRingsFirstOverWebSocket) { transfer(SipJsFlow::target_rings); }

}  // namespace
}  // namespace referkit
