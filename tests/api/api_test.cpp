// The public transfer API end to end over real loopback sockets (UDP and TCP, ports 0): A (the
// transferor) calls B (the transferee), then transfers B to C (RFC 3515, RFC 5589 §6). Every wait
// is bounded (run_until); nothing sleeps.
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/ip/udp.hpp>

#include <array>
#include <sstream>

#include "party.hpp"

namespace referkit::apitest {
namespace {

std::string transport_label(const testing::TestParamInfo<Transport>& info) {
    return info.param == Transport::udp ? "udp" : "tcp";
}

// Records every transfer event by its seed name.
struct Recorder {
    std::vector<std::string> names;
    std::vector<TransferEvent> events;
    TransferHandlers handlers() {
        TransferHandlers h;
        h.on_any = [this](Transfer&, const TransferEvent& e) {
            names.emplace_back(e.name());
            events.push_back(e);
        };
        return h;
    }
    [[nodiscard]] bool has(std::string_view name) const {
        return std::find(names.begin(), names.end(), name) != names.end();
    }
};

class TransferApi : public testing::TestWithParam<Transport> {
protected:
    boost::asio::io_context io;

    // Starts each of `parties` (a fatal failure for each that does not start).
    template <class... P>
    void start(P&... parties) {
        ([&] { ASSERT_TRUE(parties.start().has_value()); }(), ...);
    }
};

TEST_P(TransferApi, BlindTransferEndToEnd) {
    Party a(io, "alice", GetParam()), b(io, "bob", GetParam()), c(io, "carol", GetParam());
    start(a, b, c);
    Session ab = call(io, a, b);
    ASSERT_TRUE(ab.id());

    Recorder rec;
    std::vector<int> responses;
    auto t = ab.refer(c.uri(), TransferOptions{.refer = {.extra_headers = {"X-Test: blind"}},
                                               .receive_response = [&](const Message& m) { responses.push_back(m.status()); },
                                               .handlers = rec.handlers()});
    ASSERT_TRUE(t.has_value()) << to_string(t.error().code) << " " << t.error().detail;
    EXPECT_EQ(t->state(), ReferState::requesting);
    EXPECT_NE(t->id(), 0u);
    EXPECT_EQ(a.ua().transfers_live(), 1u);

    ASSERT_TRUE(run_until(io, [&] { return t->ended(); }));
    // SIP.js's events in order: the REFER's 2xx, then each NOTIFY's specific event and `notify`.
    ASSERT_GE(rec.names.size(), 5u);
    EXPECT_EQ(rec.names.front(), "referRequestAccepted");
    EXPECT_EQ(rec.names.back(), "ended");
    std::vector<std::string> specific;
    for (const auto& n : rec.names)
        if (n != "notify") specific.push_back(n);
    EXPECT_EQ(specific, (std::vector<std::string>{"referRequestAccepted", "referProgress", "referAccepted", "ended"}));
    // Each sipfrag event is followed by its `notify`, which carries the NOTIFY request.
    for (std::size_t i = 0; i + 1 < rec.events.size(); ++i) {
        if (rec.events[i].kind == ReferEventKind::refer_progress || rec.events[i].kind == ReferEventKind::refer_accepted) {
            EXPECT_EQ(rec.events[i + 1].kind, ReferEventKind::notify);
            ASSERT_TRUE(rec.events[i + 1].message.has_value());
            EXPECT_EQ(rec.events[i + 1].message->method(), Method::notify);
        }
    }
    ASSERT_TRUE(rec.events.front().message.has_value());
    EXPECT_EQ(rec.events.front().message->status(), rec.events.front().status);
    ASSERT_FALSE(responses.empty());
    EXPECT_GE(responses.back(), 200);
    EXPECT_LT(responses.back(), 300);

    EXPECT_EQ(t->outcome(), ReferOutcome::accepted);
    EXPECT_EQ(t->cause(), ReferCause::final_notify);
    EXPECT_EQ(t->final_sipfrag_status(), 200);
    EXPECT_EQ(a.ua().transfers_live(), 0u);

    // A hangs up the transferred call (the BYE follows the 200 to the final NOTIFY); B-C is up.
    ASSERT_TRUE(run_until(io, [&] { return !ab.state().has_value(); }));
    ASSERT_EQ(b.count(TransfereeEventKind::transfer_started), 1u);
    SessionId bc{};
    for (const auto& e : b.transferee())
        if (e.kind == TransfereeEventKind::transfer_started) bc = e.session;
    EXPECT_TRUE(run_until(io, [&] { return b.ua().session(bc).state() == SessionState::confirmed; }));
    EXPECT_TRUE(run_until(io, [&] { return b.count(TransfereeEventKind::transfer_ended) == 1; }));
    EXPECT_EQ(b.transferee().back().cause, ReferServerCause::final_notify);
    EXPECT_EQ(c.ua().session(c.last_incoming()).state(), SessionState::confirmed);
    // B's application saw the call from A end by A's BYE; the REFER never reached it.
    EXPECT_TRUE(run_until(io, [&] {
        return std::any_of(b.events().begin(), b.events().end(), [](const StackEvent& e) {
            const auto* s = std::get_if<SessionEvent>(&e);
            return s != nullptr && s->kind == SessionEventKind::session_ended && s->cause == EndCause::bye_remote;
        });
    }));
    for (const auto& e : b.events())
        if (const auto* r = std::get_if<RequestEvent>(&e)) {
            EXPECT_NE(r->method, Method::refer);
        }
}

TEST_P(TransferApi, TargetRejectsTransfer) {
    Party a(io, "alice", GetParam()), b(io, "bob", GetParam()), c(io, "carol", GetParam(), Answer::busy);
    start(a, b, c);
    Session ab = call(io, a, b);
    Recorder rec;
    auto t = ab.refer(c.uri(), TransferOptions{.handlers = rec.handlers()});
    ASSERT_TRUE(t.has_value());
    ASSERT_TRUE(run_until(io, [&] { return t->ended(); }));
    EXPECT_TRUE(rec.has("referRequestAccepted"));
    EXPECT_TRUE(rec.has("referRejected"));
    EXPECT_FALSE(rec.has("referAccepted"));
    EXPECT_EQ(rec.names.back(), "ended");
    EXPECT_EQ(t->outcome(), ReferOutcome::rejected);
    EXPECT_EQ(t->cause(), ReferCause::final_notify);
    EXPECT_EQ(t->final_sipfrag_status(), 486);
    // After a failed transfer the library leaves the call up.
    EXPECT_EQ(ab.state(), SessionState::confirmed);
    EXPECT_EQ(a.count(SessionEventKind::session_ended), 0u);
}

TEST_P(TransferApi, OutOfDialogRefer) {
    // R38: B allows out-of-dialog REFERs from alice on loopback.
    UserAgentOptions bo;
    bo.refer.allow_refer_from = [](const Message& refer, const Source& source) {
        return refer.from().uri.user == "alice" && source.remote.host == "127.0.0.1";
    };
    Party a(io, "alice", GetParam()), b(io, "bob", GetParam(), Answer::ok, std::move(bo)), c(io, "carol", GetParam());
    start(a, b, c);
    Recorder rec;
    Transfer t(a.ua(), OutOfDialog{.recipient = b.uri()}, c.uri(), TransferOptions{.handlers = rec.handlers()});
    EXPECT_EQ(t.state(), ReferState::idle);
    auto sent = t.refer(ReferCallOptions{.extra_headers = {"X-Out: of-dialog"}, .receive_response = {}});
    ASSERT_TRUE(sent.has_value()) << sent.error().detail;
    EXPECT_EQ(t.session(), SessionId{});
    ASSERT_TRUE(run_until(io, [&] { return t.ended(); }));
    EXPECT_TRUE(rec.has("referRequestAccepted"));
    EXPECT_TRUE(rec.has("referAccepted"));
    EXPECT_EQ(t.outcome(), ReferOutcome::accepted);
    // B called C because of it.
    EXPECT_TRUE(run_until(io, [&] { return c.ua().session(c.last_incoming()).state() == SessionState::confirmed; }));
    EXPECT_EQ(a.count(SessionEventKind::session_ended), 0u);
    // refer() twice is refused.
    auto again = t.refer();
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().code, TransferErrc::already_sent);
}

// R38: by default an out-of-dialog REFER is refused 403 and nothing is called; a throwing
// allow_refer_from refuses too (logged).
TEST_P(TransferApi, OutOfDialogReferIsRefusedByDefault) {
    UserAgentOptions throwing;
    throwing.refer.allow_refer_from = [](const Message&, const Source&) -> bool { throw std::runtime_error("boom"); };
    Party a(io, "alice", GetParam()), b(io, "bob", GetParam()), c(io, "carol", GetParam()),
        d(io, "dave", GetParam(), Answer::ok, std::move(throwing));
    start(a, b, c, d);
    for (Party* recipient : {&b, &d}) {
        Transfer t(a.ua(), OutOfDialog{.recipient = recipient->uri()}, c.uri());
        ASSERT_TRUE(t.refer().has_value());
        ASSERT_TRUE(run_until(io, [&] { return t.ended(); }));
        EXPECT_EQ(t.outcome(), ReferOutcome::rejected);
        EXPECT_EQ(t.final_response_status(), 403);
        EXPECT_TRUE(recipient->transferee().empty());  // no event: nothing was read past the 403
        EXPECT_EQ(recipient->ua().stack().counts().sessions, 0u);  // no INVITE placed
    }
    EXPECT_EQ(c.count(SessionEventKind::incoming_call), 0u);
    EXPECT_TRUE(std::any_of(d.log().begin(), d.log().end(),
                            [](const std::string& l) { return l.find("allow_refer_from threw") != std::string::npos; }));
}

TEST_P(TransferApi, ThrowingHandlersChangeNothingOnTheWire) {
    Party a(io, "alice", GetParam()), b(io, "bob", GetParam()), c(io, "carol", GetParam());
    start(a, b, c);
    Session ab = call(io, a, b);
    std::vector<std::string> names;
    TransferHandlers h;
    h.on_refer_request_accepted = [](Transfer&, const TransferEvent&) { throw std::runtime_error("boom"); };
    h.on_refer_progress = [](Transfer&, const TransferEvent&) { throw 42; };
    h.on_notify = [](Transfer&, const TransferEvent&) { throw std::runtime_error("notify boom"); };
    h.on_any = [&](Transfer&, const TransferEvent& e) { names.emplace_back(e.name()); };
    ReferOutcome seen = ReferOutcome::pending;
    h.on_ended = [&](Transfer& t, const TransferEvent& e) {
        seen = e.outcome;
        EXPECT_EQ(t.outcome(), e.outcome);
        throw std::runtime_error("ended boom");
    };
    auto t = ab.refer(c.uri(), TransferOptions{.handlers = h});
    ASSERT_TRUE(t.has_value());
    ASSERT_TRUE(run_until(io, [&] { return t->ended(); }));
    EXPECT_EQ(seen, ReferOutcome::accepted);
    EXPECT_EQ(names.back(), "ended");
    EXPECT_NE(std::find(names.begin(), names.end(), "referAccepted"), names.end());  // on_any still ran
    // Every NOTIFY was still answered 200 (B's subscription ended by its final NOTIFY) and A's BYE went out.
    EXPECT_TRUE(run_until(io, [&] { return b.count(TransfereeEventKind::transfer_ended) == 1; }));
    EXPECT_EQ(b.transferee().back().cause, ReferServerCause::final_notify);
    EXPECT_TRUE(run_until(io, [&] { return !ab.state().has_value(); }));
    const auto threw = std::count_if(a.log().begin(), a.log().end(),
                                     [](const std::string& l) { return l.find("threw") != std::string::npos; });
    EXPECT_GE(threw, 4);
}

TEST_P(TransferApi, StopMidTransferEndsWithShutDown) {
    Party a(io, "alice", GetParam()), b(io, "bob", GetParam()), c(io, "carol", GetParam(), Answer::ring_only);
    start(a, b, c);
    Session ab = call(io, a, b);
    Recorder rec;
    auto t = ab.refer(c.uri(), TransferOptions{.handlers = rec.handlers()});
    ASSERT_TRUE(t.has_value());
    // C rings forever: the transfer is live, subscribed, with progress reported.
    ASSERT_TRUE(run_until(io, [&] { return rec.has("referProgress") && t->state() == ReferState::subscribed; }));
    a.ua().stop();
    // stop() delivered the end before it returned.
    EXPECT_TRUE(t->ended());
    EXPECT_EQ(rec.names.back(), "ended");
    EXPECT_EQ(t->outcome(), ReferOutcome::unknown);
    EXPECT_EQ(t->cause(), ReferCause::shut_down);
    EXPECT_EQ(a.ua().transfers_live(), 0u);
    // A stopped user agent refuses new transfers.
    auto again = ab.refer(c.uri());
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().code, TransferErrc::no_user_agent);
}

TEST_P(TransferApi, DestructionMidTransferEndsWithShutDownAndHandleOutlivesUa) {
    Party b(io, "bob", GetParam()), c(io, "carol", GetParam(), Answer::ring_only);
    start(b, c);
    std::optional<Transfer> t;
    Recorder rec;
    {
        Party a(io, "alice", GetParam());
        start(a);
        Session ab = call(io, a, b);
        auto r = ab.refer(c.uri(), TransferOptions{.handlers = rec.handlers()});
        ASSERT_TRUE(r.has_value());
        t = *r;
        ASSERT_TRUE(run_until(io, [&] { return rec.has("referProgress"); }));
    }
    EXPECT_EQ(rec.names.back(), "ended");
    EXPECT_EQ(t->state(), ReferState::ended);
    EXPECT_EQ(t->outcome(), ReferOutcome::unknown);
    EXPECT_EQ(t->cause(), ReferCause::shut_down);
    EXPECT_FALSE(t->unsubscribe());
    EXPECT_EQ(t->refer().error().code, TransferErrc::no_user_agent);
}

TEST_P(TransferApi, InvalidTargetAndUnconfirmedSessionAreSynchronousErrors) {
    Party a(io, "alice", GetParam()), b(io, "bob", GetParam(), Answer::ring_only);
    start(a, b);
    auto s = a.ua().invite(InviteOptions{.target = b.uri(), .headers = {}, .body = std::nullopt,
                                         .content_type = "application/sdp"});
    ASSERT_TRUE(s.has_value());
    ASSERT_TRUE(run_until(io, [&] { return s->state() == SessionState::proceeding; }));
    auto early = s->refer(std::string("sip:carol@127.0.0.1"));
    ASSERT_FALSE(early.has_value());
    EXPECT_EQ(early.error().code, TransferErrc::not_confirmed);

    Transfer bad(a.ua(), *s, std::string("sip:"));
    auto r = bad.refer();
    ASSERT_FALSE(r.has_value());
    EXPECT_TRUE(r.error().code == TransferErrc::bad_target || r.error().code == TransferErrc::not_confirmed);
    EXPECT_EQ(bad.state(), ReferState::idle);

    Transfer none(a.ua(), Session{}, std::string("sip:carol@127.0.0.1"));
    EXPECT_EQ(none.refer().error().code, TransferErrc::no_such_session);

    Transfer ood(a.ua(), OutOfDialog{.recipient = b.uri()}, std::string("sip:carol@[bad"));
    auto rb = ood.refer();
    ASSERT_FALSE(rb.has_value());
    EXPECT_EQ(rb.error().code, TransferErrc::bad_target);
    EXPECT_EQ(a.ua().transfers_live(), 0u);
}

TEST_P(TransferApi, ParsedUriTarget) {
    Party a(io, "alice", GetParam()), b(io, "bob", GetParam()), c(io, "carol", GetParam());
    start(a, b, c);
    Session ab = call(io, a, b);
    const std::string text = c.uri();
    auto uri = parse_uri(text, UriContext::name_addr);
    ASSERT_TRUE(uri.has_value());
    auto t = ab.refer(*uri, TransferOptions{.refer = {.active_after_transfer = true}});
    ASSERT_TRUE(t.has_value());
    ASSERT_TRUE(run_until(io, [&] { return t->ended(); }));
    EXPECT_EQ(t->outcome(), ReferOutcome::accepted);
    // active_after_transfer: A keeps its call.
    EXPECT_EQ(ab.state(), SessionState::confirmed);
}

TEST_P(TransferApi, ThrowingReferPolicyFallsBackToDefault) {
    UserAgentOptions bo;
    bo.refer.refer_policy = [](const ReferServerContext&) -> ReferDecision { throw std::runtime_error("policy boom"); };
    Party a(io, "alice", GetParam()), b(io, "bob", GetParam(), Answer::ok, std::move(bo)), c(io, "carol", GetParam());
    start(a, b, c);
    Session ab = call(io, a, b);
    auto t = ab.refer(c.uri());
    ASSERT_TRUE(t.has_value());
    ASSERT_TRUE(run_until(io, [&] { return t->ended(); }));
    EXPECT_EQ(t->outcome(), ReferOutcome::accepted);  // default_refer_policy accepted the sip: target
    EXPECT_TRUE(std::any_of(b.log().begin(), b.log().end(),
                            [](const std::string& l) { return l.find("refer policy threw") != std::string::npos; }));
    ASSERT_GE(b.transferee().size(), 1u);
    EXPECT_EQ(b.transferee().front().kind, TransfereeEventKind::refer_received);
    EXPECT_EQ(b.transferee().front().status, 202);
}

TEST_P(TransferApi, UnsubscribeEndsTheTransferEarly) {
    Party a(io, "alice", GetParam()), b(io, "bob", GetParam()), c(io, "carol", GetParam(), Answer::ring_only);
    start(a, b, c);
    Session ab = call(io, a, b);
    Recorder rec;
    auto t = ab.refer(c.uri(), TransferOptions{.handlers = rec.handlers()});
    ASSERT_TRUE(t.has_value());
    ASSERT_TRUE(run_until(io, [&] { return t->state() == ReferState::subscribed && rec.has("notify"); }));
    EXPECT_TRUE(t->unsubscribe());
    ASSERT_TRUE(run_until(io, [&] { return t->ended(); }));
    EXPECT_EQ(t->outcome(), ReferOutcome::unknown);
    EXPECT_EQ(t->cause(), ReferCause::unsubscribed);
    EXPECT_EQ(rec.names.back(), "ended");
    EXPECT_FALSE(t->unsubscribe());
    EXPECT_EQ(ab.state(), SessionState::confirmed);  // an unknown outcome leaves the call up
}

// Finding 8: session.refer("carol") with default options completes the bare name with the AOR's
// domain (UserAgentOptions::refer.default_domain left empty).
TEST_P(TransferApi, BareUserNameTakesTheAorsDomain) {
    UserAgentOptions bo;
    bo.refer.refer_policy = [](const ReferServerContext&) {
        return ReferDecision{.verdict = ReferVerdict::reject, .status = 603, .reason = {}};  // nothing is placed
    };
    Party a(io, "alice", GetParam()), b(io, "bob", GetParam(), Answer::ok, std::move(bo));
    start(a, b);
    Session ab = call(io, a, b);
    ASSERT_TRUE(ab.id());
    auto t = ab.refer("carol");
    ASSERT_TRUE(t.has_value()) << to_string(t.error().code) << " " << t.error().detail;
    ASSERT_TRUE(run_until(io, [&] { return b.count(TransfereeEventKind::refer_received) == 1; }));
    EXPECT_EQ(b.transferee().front().target, "sip:carol@127.0.0.1");
    ASSERT_TRUE(run_until(io, [&] { return t->ended(); }));
    EXPECT_EQ(t->outcome(), ReferOutcome::rejected);
    EXPECT_EQ(t->final_response_status(), 603);
}

INSTANTIATE_TEST_SUITE_P(Transports, TransferApi, testing::Values(Transport::udp, Transport::tcp), transport_label);

// Finding 9: the constructor's and refer()'s extra headers reach the wire, each once (refer()'s
// wins for a name given in both), and receive_response sees the 1xx and the 4xx. The peer is a
// bare UDP socket that answers the REFER by hand.
// A phone doing an attended transfer may send its INVITE with `Require: replaces` (RFC 3891 §6.1).
// A default-configured UserAgent implements Replaces and must say so: replace the call, not 420.
TEST_P(TransferApi, RequireReplacesIsUnderstoodByDefault) {
    Party a(io, "alice", GetParam()), b(io, "bob", GetParam()), c(io, "carol", GetParam());
    start(a, b, c);
    Session ac = call(io, a, c);
    auto info = ac.dialog();
    ASSERT_TRUE(info.has_value());
    // Replaces names the call at carol: to-tag is carol's tag, from-tag alice's (RFC 3891 §3).
    auto bc = b.ua().invite(InviteOptions{
        .target = c.uri(),
        .headers = {{"Replaces", info->call_id + ";to-tag=" + info->remote_tag + ";from-tag=" + info->local_tag},
                    {"Require", "replaces"},
                    {"Referred-By", info->local_uri}},  // acting for alice, the replaced party (R39)
        .body = std::nullopt,
        .content_type = "application/sdp"});
    ASSERT_TRUE(bc.has_value());
    ASSERT_TRUE(run_until(io, [&] { return bc->state() == SessionState::confirmed || !bc->state(); }));
    EXPECT_EQ(bc->state(), SessionState::confirmed) << "the INVITE with Require: replaces was refused";
    EXPECT_EQ(c.count(TransfereeEventKind::replaced), 1u);
    // Carol hung up the replaced call with alice.
    EXPECT_TRUE(run_until(io, [&] { return !ac.state().has_value(); }));
}

// R24: 489 only for a different event package. A UserAgent takes `refer` (its Stack's) and
// the packages the application lists in core.event_packages; a NOTIFY of any other package in a
// call is answered 489 with Allow-Events, and the call goes on.
TEST_P(TransferApi, UnlistedEventPackageGets489ListedOneReachesTheApplication) {
    UserAgentOptions bo;
    bo.core.event_packages = {"dialog"};
    Party a(io, "alice", GetParam()), b(io, "bob", GetParam(), Answer::ok, std::move(bo));
    start(a, b);
    Session ab = call(io, a, b);
    auto d = a.ua().stack().session_dialog(ab.id());
    ASSERT_TRUE(d.has_value());
    for (const char* package : {"presence", "dialog"}) {
        a.ua().post([dialog = *d, package](UserAgent& ua) {
            auto sent = ua.send_in_dialog(
                dialog,
                InDialogRequest{.method = "NOTIFY",
                                .headers = {{"Event", package}, {"Subscription-State", "active;expires=60"}},
                                .content_type = {}, .body = {}});
            EXPECT_TRUE(sent.has_value());
        });
    }
    // presence: 489 at once. dialog: reaches bob's application (which does not answer it here).
    ASSERT_TRUE(run_until(io, [&] { return a.count<ResponseEvent>() >= 1 && b.count<RequestEvent>() >= 1; }));
    const ResponseEvent* answer = nullptr;
    for (const auto& e : a.events())
        if (const auto* r = std::get_if<ResponseEvent>(&e); r != nullptr && r->final) answer = r;
    ASSERT_NE(answer, nullptr);
    EXPECT_EQ(answer->status, 489);
    ASSERT_TRUE(answer->message.has_value());
    const HeaderField* allow = answer->message->find(HeaderId::allow_events);
    ASSERT_NE(allow, nullptr);
    EXPECT_NE(allow->value.find("dialog"), std::string_view::npos);
    EXPECT_NE(allow->value.find("refer"), std::string_view::npos);
    std::vector<std::string> reached;
    for (const auto& e : b.events())
        if (const auto* r = std::get_if<RequestEvent>(&e); r != nullptr && r->message.event())
            reached.emplace_back(r->message.event()->package);
    EXPECT_EQ(reached, std::vector<std::string>{"dialog"});
    EXPECT_EQ(ab.state(), SessionState::confirmed);
}

TEST(TransferApiWire, ExtraHeadersReachTheWireAndReceiveResponseSeesEveryResponse) {
    boost::asio::io_context io;
    Party a(io, "alice", Transport::udp);
    ASSERT_TRUE(a.start().has_value());
    using boost::asio::ip::udp;
    udp::socket peer(io, udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    const std::string recipient = "sip:bob@127.0.0.1:" + std::to_string(peer.local_endpoint().port());

    std::vector<int> responses;
    Recorder rec;
    TransferOptions o;
    o.refer.extra_headers = {"X-Ctor: from-constructor", "Subject: constructor"};
    o.receive_response = [&](const Message& m) { responses.push_back(m.status()); };
    o.handlers = rec.handlers();
    Transfer t(a.ua(), OutOfDialog{.recipient = recipient}, std::string("sip:carol@127.0.0.1"), std::move(o));
    ASSERT_TRUE(t.refer(ReferCallOptions{.extra_headers = {"X-Call: from-refer", "Subject: refer"}, .receive_response = {}}));

    std::array<char, 16384> buf{};
    udp::endpoint from;
    std::size_t got = 0;
    peer.async_receive_from(boost::asio::buffer(buf), from, [&](boost::system::error_code ec, std::size_t n) {
        if (!ec) got = n;
    });
    ASSERT_TRUE(run_until(io, [&] { return got > 0; }));
    const std::string text(buf.data(), got);
    auto refer = Message::parse(std::string_view(text));
    ASSERT_TRUE(refer);
    EXPECT_EQ(refer->method(), Method::refer);
    ASSERT_NE(refer->find("X-Ctor"), nullptr);
    EXPECT_EQ(refer->find("X-Ctor")->value, "from-constructor");
    ASSERT_NE(refer->find("X-Call"), nullptr);
    EXPECT_EQ(refer->find("X-Call")->value, "from-refer");
    EXPECT_EQ(refer->count(HeaderId::subject), 1u);
    ASSERT_NE(refer->find(HeaderId::subject), nullptr);
    EXPECT_EQ(refer->find(HeaderId::subject)->value, "refer");

    // Answer 100 then 486, copying Via, From, To, Call-ID and CSeq (RFC 3261 §8.2.6.2).
    auto reply = [&](int status, std::string_view reason) {
        std::string r = "SIP/2.0 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
        std::istringstream lines(text);
        for (std::string line; std::getline(lines, line) && line != "\r";) {
            const std::string name = line.substr(0, line.find(':'));
            for (std::string_view keep : {"Via", "From", "Call-ID", "CSeq"})
                if (iequals(name, keep)) r += line + "\n";
            if (iequals(name, "To")) r += line.substr(0, line.size() - 1) + ";tag=peer1\r\n";
        }
        r += "Content-Length: 0\r\n\r\n";
        peer.send_to(boost::asio::buffer(r), from);
    };
    reply(100, "Trying");
    ASSERT_TRUE(run_until(io, [&] { return !responses.empty(); }));
    reply(486, "Busy Here");
    ASSERT_TRUE(run_until(io, [&] { return t.ended(); }));
    EXPECT_EQ(responses, (std::vector<int>{100, 486}));
    EXPECT_EQ(t.outcome(), ReferOutcome::rejected);
    EXPECT_EQ(t.final_response_status(), 486);
    EXPECT_EQ(rec.names, (std::vector<std::string>{"referRequestRejected", "ended"}));
}

TEST(TransferApiNames, SeedNamesAndAlias) {
    TransferEvent e;
    e.kind = ReferEventKind::refer_request_accepted;
    EXPECT_EQ(e.name(), "referRequestAccepted");
    e.kind = ReferEventKind::notify;
    EXPECT_EQ(e.name(), "notify");
    static_assert(std::is_same_v<sipjs::ReferClientContext, Transfer>);
    EXPECT_EQ(to_string(TransferErrc::already_sent), "already_sent");
}

// The delivery contract (docs/transfer-rules.md R8, driven.hpp): when referAccepted reaches the handler, the 200
// to that NOTIFY and the BYE that follows it have already been handed to the transport. UDP sends
// synchronously, so stopping A inside the handler cannot lose them: B sees its final NOTIFY
// answered 2xx and A's BYE.
TEST(TransferApiDelivery, HandlerRunsAfterTheStepsMessagesWereSent) {
    boost::asio::io_context io;
    Party a(io, "alice", Transport::udp), b(io, "bob", Transport::udp), c(io, "carol", Transport::udp);
    ASSERT_TRUE(a.start() && b.start() && c.start());
    auto s = a.ua().invite(InviteOptions{.target = b.uri(), .headers = {}, .body = std::nullopt,
                                         .content_type = "application/sdp"});
    ASSERT_TRUE(s.has_value());
    ASSERT_TRUE(run_until(io, [&] { return s->state() == SessionState::confirmed; }));
    std::vector<std::string> names;
    TransferHandlers h;
    h.on_refer_accepted = [&](Transfer&, const TransferEvent&) { a.ua().stop(); };
    h.on_any = [&](Transfer&, const TransferEvent& e) { names.emplace_back(e.name()); };
    auto t = s->refer(c.uri(), TransferOptions{.handlers = h});
    ASSERT_TRUE(t.has_value());
    ASSERT_TRUE(run_until(io, [&] { return t->ended(); }));
    EXPECT_EQ(t->outcome(), ReferOutcome::accepted);  // decided by the NOTIFY, not by the stop
    EXPECT_EQ(names.back(), "ended");
    ASSERT_TRUE(run_until(io, [&] { return b.count(TransfereeEventKind::transfer_ended) == 1; }));
    EXPECT_EQ(b.transferee().back().cause, ReferServerCause::final_notify);
    EXPECT_TRUE(run_until(io, [&] {
        return std::any_of(b.events().begin(), b.events().end(), [](const StackEvent& e) {
            const auto* se = std::get_if<SessionEvent>(&e);
            return se != nullptr && se->kind == SessionEventKind::session_ended && se->cause == EndCause::bye_remote;
        });
    }));
}

// A UserAgent built without an event handler answers no request event, so MESSAGE and INFO are
// refused 405 at once (RFC 3261 §8.2.1; before, they waited 32 s for a 408) and leave its Allow.
TEST(TransferApiDelivery, WithoutAHandlerMessageAndInfoGet405AtOnce) {
    boost::asio::io_context io;
    Party a(io, "alice", Transport::udp);
    UserAgentOptions bo;
    bo.core.aor = "sip:bob@127.0.0.1";
    bo.engine.listen = {runtime::ListenSpec{.transport = Transport::udp, .local = Endpoint{"127.0.0.1", 0}, .ws_path = "/"}};
    UserAgent b(io, std::move(bo));
    ASSERT_TRUE(a.start() && b.start());
    const std::string target = b.contact_uri(Transport::udp).value_or("");
    for (const char* method : {"MESSAGE", "INFO"}) {
        auto sent = a.ua().send_request(OutOfDialogRequest{.method = method, .target = target, .headers = {},
                                                           .content_type = "text/plain", .body = "hello"});
        ASSERT_TRUE(sent.has_value()) << method;
        const ResponseEvent* answer = nullptr;
        ASSERT_TRUE(run_until(io, [&] {
            for (const StackEvent& e : a.events())
                if (const auto* r = std::get_if<ResponseEvent>(&e); r != nullptr && r->request == sent->id && r->final)
                    answer = r;
            return answer != nullptr;
        }, 5s)) << method;
        EXPECT_EQ(answer->status, 405) << method;
        ASSERT_TRUE(answer->message);
        const HeaderField* allow = answer->message->find(HeaderId::allow);
        ASSERT_NE(allow, nullptr);
        EXPECT_EQ(std::string(allow->value).find("MESSAGE"), std::string::npos) << allow->value;
        EXPECT_EQ(std::string(allow->value).find("INFO"), std::string::npos) << allow->value;
        EXPECT_NE(std::string(allow->value).find("REFER"), std::string::npos) << allow->value;
    }
}

}  // namespace
}  // namespace referkit::apitest
