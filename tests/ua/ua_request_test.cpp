// Requests with no usage (§11 OPTIONS, §8.2 405/420), merged requests (§8.2.2.2: 482), dialog
// matching (§12.2.2: 481, 500), in-dialog requests and dialogs made by creates_dialog requests,
// incl. an early NOTIFY (RFC 6665 §4.1.2.4), and NOTIFYs outside any dialog (RFC 6665 §4.1.3).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
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

// A raw peer that records every final response it gets.
struct Raw {
    std::vector<Message> responses;
    std::vector<Message> requests;
    sim::CoreNode node;
    Raw(sim::Network& net, sim::CoreNode::EventHandler extra = {})
        : node(net, raw_addr, raw_options(900), [this, extra](sim::CoreNode& n, TransactionEvent& e, Time now) {
              if (e.kind == EventKind::response && e.message && e.message->status() >= 200)
                  responses.push_back(*e.message);
              if (e.kind == EventKind::request && e.message) requests.push_back(*e.message);
              if (extra) extra(n, e, now);
          }) {}
    void send(const RawRequest& r, const Endpoint& to, Time now) { ASSERT_TRUE(send_raw(node, r, to, now)); }
};

UaResponse ok200() {
    UaResponse r;
    r.status = 200;
    return r;
}

// A generic request outside any dialog.
OutOfDialogRequest out_of_dialog(std::string method, std::string target, HeaderList headers = {}) {
    return OutOfDialogRequest{.method = std::move(method), .target = std::move(target), .headers = std::move(headers),
                              .content_type = {}, .body = {}, .creates_dialog = false};
}

TEST(UaRequest, OptionsAnsweredWithAllowSupportedAccept) {
    sim::Network net(1);
    StackNode a(net, a_addr, ua_config("sip:alice@192.0.2.1", 1));
    auto bc = ua_config("sip:bob@192.0.2.2", 2);
    bc.supported = {"replaces", "norefersub"};
    StackNode b(net, b_addr, bc);
    auto id = a.stack().send_request(out_of_dialog("OPTIONS", b.uri("bob")), net.now());
    ASSERT_TRUE(id);
    a.pump(net.now());
    net.run_until(net.now() + 1s);
    ASSERT_EQ(a.count<ResponseEvent>(), 1u) << a.timeline();
    const ResponseEvent* r = a.find<ResponseEvent>();
    EXPECT_EQ(r->request, id->id);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->final);
    EXPECT_EQ(r->method, Method::options);
    ASSERT_TRUE(r->message);
    ASSERT_NE(r->message->find(HeaderId::allow), nullptr);
    EXPECT_NE(r->message->find(HeaderId::allow)->value.find("INVITE"), std::string_view::npos);
    EXPECT_NE(r->message->find(HeaderId::allow)->value.find("REFER"), std::string_view::npos);
    ASSERT_NE(r->message->find(HeaderId::supported), nullptr);
    EXPECT_EQ(r->message->find(HeaderId::supported)->value, "replaces, norefersub");
    ASSERT_NE(r->message->find(HeaderId::accept), nullptr);
    EXPECT_NE(r->message->find(HeaderId::accept)->value.find("application/sdp"), std::string_view::npos);
    EXPECT_EQ(b.events().size(), 0u);  // the stack answered it
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    EXPECT_TRUE(holds_nothing(a.stack()));
    EXPECT_TRUE(holds_nothing(b.stack()));
}

TEST(UaRequest, UnhandledMethodGets405WithAllow) {
    sim::Network net(1);
    StackNode a(net, a_addr, ua_config("sip:alice@192.0.2.1", 1));
    StackNode b(net, b_addr, ua_config("sip:bob@192.0.2.2", 2));
    ASSERT_TRUE(a.stack().send_request(out_of_dialog("PUBLISH", b.uri("bob")), net.now()));
    a.pump(net.now());
    net.run_until(net.now() + 1s);
    const ResponseEvent* r = a.find<ResponseEvent>();
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->status, 405);
    ASSERT_TRUE(r->message && r->message->find(HeaderId::allow));
    EXPECT_NE(r->message->find(HeaderId::allow)->value.find("OPTIONS"), std::string_view::npos);
    EXPECT_EQ(r->message->find(HeaderId::allow)->value.find("PUBLISH"), std::string_view::npos);
}

TEST(UaRequest, UnknownRequireGets420WithUnsupported) {
    sim::Network net(1);
    StackNode a(net, a_addr, ua_config("sip:alice@192.0.2.1", 1));
    StackNode b(net, b_addr, ua_config("sip:bob@192.0.2.2", 2));
    ASSERT_TRUE(a.stack().send_request(out_of_dialog("OPTIONS", b.uri("bob"), {{"Require", "foo, 100rel"}}), net.now()));
    a.pump(net.now());
    net.run_until(net.now() + 1s);
    const ResponseEvent* r = a.find<ResponseEvent>();
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->status, 420);
    ASSERT_TRUE(r->message && r->message->find(HeaderId::unsupported));
    EXPECT_EQ(r->message->find(HeaderId::unsupported)->value, "foo, 100rel");
}

TEST(UaRequest, GenericRequestsRefuseSessionMethods) {
    sim::Network net(1);
    StackNode a(net, a_addr, ua_config("sip:alice@192.0.2.1", 1));
    for (const char* m : {"INVITE", "ACK", "CANCEL", "BYE"})
        EXPECT_EQ(a.stack().send_request(out_of_dialog(m, "sip:x@192.0.2.2"), net.now()).error(), UaError::invalid_message);
    EXPECT_EQ(a.stack().send_request(out_of_dialog("MESSAGE", "not a uri"), net.now()).error(), UaError::invalid_target);
    EXPECT_EQ(a.stack().send_in_dialog(DialogId{99}, InDialogRequest{.method = "INFO", .headers = {},
                                                                    .content_type = {}, .body = {}},
                                       net.now())
                  .error(),
              UaError::no_such_dialog);
}

// A call between A and B, plus a raw peer that speaks into B's dialog.
struct CallFixture {
    sim::Network net{3};
    StackNode a{net, a_addr, ua_config("sip:alice@192.0.2.1", 0x10)};
    StackNode b{net, b_addr, ua_config("sip:bob@192.0.2.2", 0x20)};
    Raw raw{net};
    SessionId as, bs;
    DialogInfo a_dialog;
    CallFixture() {
        b.on_event = [](StackNode& n, const StackEvent& ev, Time now) {
            if (const SessionEvent* in = session_event(ev, K::incoming_call)) {
                ASSERT_TRUE(n.stack().answer(in->session, AnswerOptions{}, now));
            } else if (const auto* req = std::get_if<RequestEvent>(&ev)) {
                ASSERT_TRUE(n.stack().respond(req->incoming, ok200(), now));
            }
        };
        auto s = a.stack().invite(invite_to(b.uri("bob")), net.now());
        EXPECT_TRUE(s);
        as = *s;
        a.pump(net.now());
        net.run_until(net.now() + 2s);
        bs = b.find(K::incoming_call)->session;
        a_dialog = *a.stack().dialog_info(*a.stack().session_dialog(as));
    }
    // A request as if from A, in A's dialog, sent by the raw peer.
    RawRequest as_a(std::string method, std::string cseq) const {
        return RawRequest{.method = std::move(method), .uri = a_dialog.remote_target,
                          .from = a_dialog.local_uri + ";tag=" + a_dialog.local_tag,
                          .to = a_dialog.remote_uri + ";tag=" + a_dialog.remote_tag,
                          .call_id = a_dialog.call_id, .cseq = std::move(cseq)};
    }
    void info_from_a_works() {
        a.clear();
        ASSERT_TRUE(a.stack().send_in_dialog(*a.stack().session_dialog(as),
                                             InDialogRequest{.method = "INFO", .headers = {},
                                                             .content_type = "application/dtmf-relay",
                                                             .body = "Signal=5\r\nDuration=160\r\n"},
                                             net.now()));
        a.pump(net.now());
        net.run_until(net.now() + 1s);
        const ResponseEvent* r = a.find<ResponseEvent>();
        ASSERT_NE(r, nullptr) << a.timeline();
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->dialog, *a.stack().session_dialog(as));
    }
};

TEST(UaRequest, InDialogInfo) {
    CallFixture f;
    const std::uint32_t before = f.a.stack().dialog_info(*f.a.stack().session_dialog(f.as))->local_cseq;
    f.info_from_a_works();
    EXPECT_EQ(f.a.stack().dialog_info(*f.a.stack().session_dialog(f.as))->local_cseq, before + 1);
    const std::vector<RequestEvent> reqs = f.b.all<RequestEvent>();
    ASSERT_FALSE(reqs.empty());
    const RequestEvent& req = reqs.back();  // the last request B was handed
    EXPECT_EQ(req.method, Method::info);
    EXPECT_EQ(req.dialog, *f.b.stack().session_dialog(f.bs));
    // (RequestEvent::message is no longer optional: nothing to check before reading it.)
    EXPECT_EQ(req.message.body(), "Signal=5\r\nDuration=160\r\n");
}

// An application that never answers a request it was handed: after unanswered_request_timeout
// (64*T1 by default) the stack answers 408 and forgets it; nothing leaks and the call goes on.
TEST(UaRequest, RequestTheApplicationNeverAnswersGets408AndIsForgotten) {
    CallFixture f;
    f.b.on_event = [](StackNode&, const StackEvent&, Time) {};  // B's application ignores everything now
    f.raw.send(f.as_a("INFO", "5"), b_addr, f.net.now());
    f.net.run_until(f.net.now() + 1s);
    EXPECT_EQ(f.b.stack().counts().incoming, 1u);
    EXPECT_TRUE(f.raw.responses.empty());
    const auto sent_408 = [&f] {
        std::size_t n = 0;
        for (const std::string& m : f.b.sent()) n += m.starts_with("SIP/2.0 408 ") && m.find(" INFO\r\n") != std::string::npos;
        return n;
    };
    f.net.run_until(f.net.now() + 30s);  // 31 s after the INFO: still waiting for the application
    EXPECT_EQ(sent_408(), 0u);
    EXPECT_EQ(f.b.stack().counts().incoming, 1u);
    f.net.run_until(f.net.now() + 2s);
    // (The raw peer's Timer F fired at 32 s, just before: the 408 is for B's own bookkeeping.)
    EXPECT_EQ(sent_408(), 1u);
    EXPECT_EQ(f.b.stack().counts().incoming, 0u);
    EXPECT_EQ(f.b.stack().session_state(f.bs), SessionState::confirmed);
    // Too late for the application now: its answer is refused, nothing is sent.
    const RequestEvent* req = f.b.find<RequestEvent>();
    ASSERT_NE(req, nullptr);
    EXPECT_EQ(f.b.stack().respond(req->incoming, ok200(), f.net.now()).error(), UaError::no_such_request);
}

TEST(UaRequest, RequestForUnknownDialogGets481) {
    CallFixture f;
    auto r = f.as_a("BYE", "5");
    r.call_id = "no-such-call@x";
    f.raw.send(r, b_addr, f.net.now());
    auto r2 = f.as_a("INFO", "6");
    r2.to = f.a_dialog.remote_uri + ";tag=wrongtag";
    f.raw.send(r2, b_addr, f.net.now());
    f.net.run_until(f.net.now() + 1s);
    ASSERT_EQ(f.raw.responses.size(), 2u);
    EXPECT_EQ(f.raw.responses[0].status(), 481);
    EXPECT_EQ(f.raw.responses[1].status(), 481);
    EXPECT_EQ(f.b.stack().session_state(f.bs), SessionState::confirmed);
}

TEST(UaRequest, LowerOrEqualCSeqGets500AndTheDialogStays) {
    CallFixture f;
    f.raw.send(f.as_a("INFO", "1"), b_addr, f.net.now());  // the INVITE had CSeq 1
    f.net.run_until(f.net.now() + 1s);
    ASSERT_EQ(f.raw.responses.size(), 1u);
    EXPECT_EQ(f.raw.responses[0].status(), 500);
    f.info_from_a_works();
}

TEST(UaRequest, MalformedRequestInDialogGets400AndTheDialogStays) {
    CallFixture f;
    auto r = f.as_a("INFO", "7");
    r.headers = {{"Expires", "soon"}};  // a known header with a bad value
    f.raw.send(r, b_addr, f.net.now());
    f.net.run_until(f.net.now() + 1s);
    ASSERT_EQ(f.raw.responses.size(), 1u);
    EXPECT_EQ(f.raw.responses[0].status(), 400);
    f.info_from_a_works();
    EXPECT_EQ(f.b.stack().session_state(f.bs), SessionState::confirmed);
}

TEST(UaRequest, ByeEndsTheInviteUsageButAnotherUsageKeepsTheDialog) {
    CallFixture f;
    DialogId d = *f.a.stack().session_dialog(f.as);
    ASSERT_TRUE(f.a.stack().add_usage(d));
    ASSERT_TRUE(f.a.stack().bye(f.as, f.net.now()));
    f.a.pump(f.net.now());
    f.net.run_until(f.net.now() + 1s);
    EXPECT_EQ(f.a.count(K::session_ended), 1u);
    EXPECT_EQ(f.a.count<DialogEndedEvent>(), 0u);
    EXPECT_TRUE(f.a.stack().dialog_info(d));
    ASSERT_TRUE(f.a.stack().remove_usage(d, f.net.now()));
    f.a.pump(f.net.now());
    EXPECT_EQ(f.a.count<DialogEndedEvent>(), 1u);
    EXPECT_FALSE(f.a.stack().dialog_info(d));
    EXPECT_EQ(f.a.stack().remove_usage(d, f.net.now()).error(), UaError::no_such_dialog);
}

TEST(UaRequest, CreatesDialog2xxGivesOneUsageToTheRequester) {
    sim::Network net(1);
    StackNode a(net, a_addr, ua_config("sip:alice@192.0.2.1", 1));
    StackNode b(net, b_addr, ua_config("sip:bob@192.0.2.2", 2));
    DialogId bd;
    b.on_event = [&](StackNode& n, const StackEvent& ev, Time now) {
        const auto* req = std::get_if<RequestEvent>(&ev);
        if (req == nullptr) return;
        UaResponse r;
        r.status = 202;
        r.creates_dialog = true;
        auto d = n.stack().respond(req->incoming, r, now);
        ASSERT_TRUE(d);
        bd = *d;
    };
    auto id = a.stack().send_request(
        OutOfDialogRequest{.method = "SUBSCRIBE", .target = b.uri("bob"), .headers = {{"Event", "dialog"}, {"Expires", "60"}},
                           .content_type = {}, .body = {}, .creates_dialog = true},
        net.now());
    ASSERT_TRUE(id);
    auto info = a.stack().request_info(id->id);
    ASSERT_TRUE(info);
    EXPECT_FALSE(info->call_id.empty());
    EXPECT_FALSE(info->local_tag.empty());
    EXPECT_EQ(info->local_cseq, 1u);
    a.pump(net.now());
    net.run_until(net.now() + 1s);
    ASSERT_NE(a.find<ResponseEvent>(), nullptr);
    const ResponseEvent r = *a.find<ResponseEvent>();  // copied: the log grows below
    EXPECT_EQ(r.status, 202);
    ASSERT_TRUE(r.dialog);
    ASSERT_TRUE(bd);
    auto ad = a.stack().dialog_info(r.dialog);
    auto bdi = b.stack().dialog_info(bd);
    ASSERT_TRUE(ad && bdi);
    EXPECT_EQ(ad->call_id, info->call_id);
    EXPECT_EQ(ad->local_tag, bdi->remote_tag);
    EXPECT_EQ(ad->remote_tag, bdi->local_tag);
    EXPECT_FALSE(a.stack().request_info(id->id));  // final response reported
    // B notifies in the dialog; A's application answers.
    a.on_event = [](StackNode& n, const StackEvent& ev, Time now) {
        if (const auto* req = std::get_if<RequestEvent>(&ev)) {
            ASSERT_TRUE(n.stack().respond(req->incoming, ok200(), now));
        }
    };
    ASSERT_TRUE(b.stack().send_in_dialog(bd, InDialogRequest{.method = "NOTIFY",
                                                             .headers = {{"Event", "dialog"},
                                                                         {"Subscription-State", "terminated"}},
                                                             .content_type = {}, .body = {}},
                                         net.now()));
    b.pump(net.now());
    net.run_until(net.now() + 1s);
    const RequestEvent* n = a.find<RequestEvent>();
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->dialog, r.dialog);
    ASSERT_TRUE(a.stack().remove_usage(r.dialog, net.now()));
    ASSERT_TRUE(b.stack().remove_usage(bd, net.now()));
    a.pump(net.now());
    b.pump(net.now());
    EXPECT_EQ(a.count<DialogEndedEvent>(), 1u);
    EXPECT_EQ(b.count<DialogEndedEvent>(), 1u);
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    EXPECT_TRUE(holds_nothing(a.stack()));
    EXPECT_TRUE(holds_nothing(b.stack()));
}

TEST(UaRequest, EarlyNotifyCreatesTheDialogBeforeThe2xx) {
    sim::Network net(1);
    StackNode a(net, a_addr, ua_config("sip:alice@192.0.2.1", 1));
    // The notifier sends its NOTIFY first and its 202 100 ms later (RFC 6665 §4.1.2.4).
    std::optional<TransactionId> refer_tx;
    Raw raw(net, [&](sim::CoreNode& n, TransactionEvent& e, Time now) {
        if (e.kind != EventKind::request || !e.message || e.message->method() != Method::refer) return;
        refer_tx = e.id;
        const Message& m = *e.message;
        RawRequest notify{.method = "NOTIFY", .uri = "sip:referkit@192.0.2.1:5060",
                          .from = "<sip:srv@192.0.2.9>;tag=ntag",
                          .to = std::string(m.find(HeaderId::from)->value),
                          .call_id = std::string(m.call_id()), .cseq = "1",
                          .headers = {{"Event", "refer"}, {"Subscription-State", "active;expires=60"},
                                      {"Contact", "<sip:srv@192.0.2.9:5060>"}},
                          .content_type = "message/sipfrag", .body = "SIP/2.0 100 Trying\r\n"};
        ASSERT_TRUE(n.layer().send_request(build(notify), Destination{Transport::udp, a_addr, 0}, now));
    });
    auto id = a.stack().send_request(OutOfDialogRequest{.method = "REFER", .target = "sip:srv@192.0.2.9:5060",
                                                        .headers = {{"Refer-To", "<sip:carol@192.0.2.3>"}},
                                                        .content_type = {}, .body = {}, .creates_dialog = true},
                                     net.now());
    ASSERT_TRUE(id);
    DialogId from_notify;
    a.on_event = [&](StackNode& n, const StackEvent& ev, Time now) {
        const auto* req = std::get_if<RequestEvent>(&ev);
        if (req == nullptr) return;
        from_notify = req->dialog;
        EXPECT_EQ(req->created_by, id->id);
        EXPECT_EQ(req->method, Method::notify);
        ASSERT_TRUE(n.stack().respond(req->incoming, ok200(), now));
    };
    a.pump(net.now());
    net.run_until(net.now() + 100ms);
    ASSERT_TRUE(refer_tx);
    ASSERT_TRUE(from_notify) << a.timeline();
    EXPECT_EQ(a.count<ResponseEvent>(), 0u);
    auto info = a.stack().dialog_info(from_notify);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->remote_tag, "ntag");
    EXPECT_EQ(info->remote_target, "sip:srv@192.0.2.9:5060");
    EXPECT_EQ(info->local_cseq, 1u);
    // Now the 202, with the same To tag: the dialog is the NOTIFY's.
    ResponseSpec accepted;
    accepted.status = 202;
    accepted.to_tag = "ntag";
    accepted.headers = {{"Contact", "<sip:srv@192.0.2.9:5060>"}};
    ASSERT_TRUE(raw.node.layer().respond(*refer_tx, accepted, net.now()));
    raw.node.pump(net.now());
    net.run_until(net.now() + 1s);
    const ResponseEvent* r = a.find<ResponseEvent>();
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->status, 202);
    EXPECT_EQ(r->dialog, from_notify);
    EXPECT_EQ(a.stack().counts().dialogs, 1u);
    ASSERT_TRUE(a.stack().remove_usage(from_notify, net.now()));  // the requester's one usage
    a.pump(net.now());
    EXPECT_EQ(a.count<DialogEndedEvent>(), 1u);
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    EXPECT_TRUE(holds_nothing(a.stack()));
}

// ---------------------------------------------------------------- merged requests (§8.2.2.2)

// A request without To tag from the raw peer; each send_raw gives it a branch of its own.
RawRequest merge_candidate(std::string method) {
    RawRequest r{.method = method, .uri = "sip:bob@192.0.2.2:5060", .from = "<sip:raw@192.0.2.9>;tag=m1",
                 .to = "<sip:bob@192.0.2.2>", .call_id = "merged-" + method + "@raw", .cseq = "5",
                 .headers = {{"Contact", "<sip:raw@192.0.2.9:5060>"}}};
    if (method == "REFER") r.headers.emplace_back("Refer-To", "<sip:carol@192.0.2.3>");
    if (method == "MESSAGE") {
        r.content_type = "text/plain";
        r.body = "hello";
    }
    return r;
}

std::vector<int> sorted_statuses(const std::vector<Message>& responses) {
    std::vector<int> s;
    for (const Message& m : responses) s.push_back(m.status());
    std::sort(s.begin(), s.end());
    return s;
}

// How many responses with `status` a node sent.
std::size_t sent_status(const StackNode& n, int status) {
    const std::string start = "SIP/2.0 " + std::to_string(status) + " ";
    return static_cast<std::size_t>(
        std::count_if(n.sent().begin(), n.sent().end(), [&](const std::string& m) { return m.starts_with(start); }));
}

// §8.2.2.2: the same request (From tag, Call-ID, CSeq) twice with two branches, as a forking proxy
// delivers it: the second copy gets 482 Loop Detected and the application sees one request.
TEST(UaMerged, SecondCopyOnAnotherBranchGets482AndTheApplicationSeesOne) {
    for (const char* method : {"MESSAGE", "REFER"}) {
        SCOPED_TRACE(method);
        sim::Network net(1);
        // The application takes REFER itself (StackNode with a UserAgentConfig).
        StackNode b(net, b_addr, ua_config("sip:bob@192.0.2.2", 2));
        b.on_event = [](StackNode& n, const StackEvent& ev, Time now) {
            const auto* req = std::get_if<RequestEvent>(&ev);
            if (req == nullptr) return;
            UaResponse answer;
            answer.status = req->method == Method::refer ? 202 : 200;
            ASSERT_TRUE(n.stack().respond(req->incoming, answer, now));
        };
        Raw raw(net);
        const RawRequest r = merge_candidate(method);
        raw.send(r, b_addr, net.now());
        raw.send(r, b_addr, net.now());
        net.run_until(net.now() + 1s);
        ASSERT_EQ(raw.responses.size(), 2u);
        EXPECT_NE(raw.responses[0].top_via().branch, raw.responses[1].top_via().branch);
        const int ok = std::string_view(method) == "REFER" ? 202 : 200;
        EXPECT_EQ(sorted_statuses(raw.responses), (std::vector<int>{ok, 482}));
        EXPECT_EQ(b.count<RequestEvent>(), 1u) << b.timeline();
        EXPECT_EQ(b.events().size(), 1u) << b.timeline();
        EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
        EXPECT_TRUE(holds_nothing(b.stack()));  // the keys went with their transactions
    }
}

TEST(UaMerged, SecondCopyOfAnInviteGets482AndOneCallIsSetUp) {
    sim::Network net(1);
    StackNode b(net, b_addr, ua_config("sip:bob@192.0.2.2", 2));
    b.on_event = answer_calls({200});
    Raw raw(net, [](sim::CoreNode& n, TransactionEvent& e, Time now) {
        if (e.kind == EventKind::request && e.message && e.message->method() == Method::bye) {
            ASSERT_TRUE(n.layer().respond(e.id, ResponseSpec{}, now));
        }
    });
    RawRequest invite = merge_candidate("INVITE");
    invite.content_type = "application/sdp";
    invite.body = audio_answer;  // an offer
    raw.send(invite, b_addr, net.now());
    raw.send(invite, b_addr, net.now());
    net.run_until(net.now() + 100ms);
    ASSERT_EQ(raw.responses.size(), 2u);
    EXPECT_EQ(sorted_statuses(raw.responses), (std::vector<int>{200, 482}));
    EXPECT_EQ(b.count(K::incoming_call), 1u) << b.timeline();
    EXPECT_EQ(b.stack().counts().sessions, 1u);
    // The call goes on as usual: ACK, then B hangs up.
    const Message& ok = raw.responses[0].status() == 200 ? raw.responses[0] : raw.responses[1];
    RawRequest ack = invite;
    ack.method = "ACK";
    ack.to = invite.to + ";tag=" + std::string(ok.to().tag);
    ack.content_type = {};
    ack.body = {};
    raw.send(ack, b_addr, net.now());
    net.run_until(net.now() + 100ms);
    const SessionEvent* call = b.find(K::incoming_call);
    ASSERT_NE(call, nullptr);
    EXPECT_EQ(b.stack().session_state(call->session), SessionState::confirmed);
    ASSERT_TRUE(b.stack().bye(call->session, net.now()));
    b.pump(net.now());
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    EXPECT_EQ(b.count(K::session_ended), 1u) << b.timeline();
    EXPECT_TRUE(holds_nothing(b.stack()));
}

// §8.2.2.2 compares a request with the *ongoing* transactions only: once the first copy's server
// transaction has ended (Timer J: 64*T1 after its final response on UDP), the same request is a
// new one, processed and delivered again. A copy answered 482 holds no key of its own.
TEST(UaMerged, SameRequestAfterTheFirstTransactionEndedIsANewRequest) {
    sim::Network net(1);
    StackNode b(net, b_addr, ua_config("sip:bob@192.0.2.2", 2));
    b.on_event = [](StackNode& n, const StackEvent& ev, Time now) {
        if (const auto* req = std::get_if<RequestEvent>(&ev)) {
            ASSERT_TRUE(n.stack().respond(req->incoming, ok200(), now));
        }
    };
    Raw raw(net);
    const RawRequest r = merge_candidate("MESSAGE");
    raw.send(r, b_addr, net.now());
    net.run_until(net.now() + 10s);
    raw.send(r, b_addr, net.now());  // 10 s later: the first transaction is in Timer J still
    net.run_until(net.now() + 1s);
    ASSERT_EQ(raw.responses.size(), 2u);
    EXPECT_EQ(raw.responses[0].status(), 200);
    EXPECT_EQ(raw.responses[1].status(), 482);
    net.run_until(net.now() + 25s);  // 36 s: the first transaction has ended, the 482's has not
    EXPECT_EQ(b.stack().counts().transactions, 1u);
    raw.send(r, b_addr, net.now());
    net.run_until(net.now() + 1s);
    ASSERT_EQ(raw.responses.size(), 3u);
    EXPECT_EQ(raw.responses[2].status(), 200);
    EXPECT_EQ(b.count<RequestEvent>(), 2u) << b.timeline();
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    EXPECT_TRUE(holds_nothing(b.stack()));
}

// A retransmission (the same branch) is the transaction layer's, as before: absorbed while the
// application thinks, then answered with the final response; never 482, one request event.
TEST(UaMerged, RetransmissionsOnTheSameBranchAreStillAbsorbed) {
    sim::Network net(1);
    StackNode b(net, b_addr, ua_config("sip:bob@192.0.2.2", 2));
    b.on_event = [](StackNode& n, const StackEvent& ev, Time now) {
        const auto* req = std::get_if<RequestEvent>(&ev);
        if (req == nullptr) return;
        n.later(now + 2s, [in = req->incoming](StackNode& node, Time t) {
            ASSERT_TRUE(node.stack().respond(in, ok200(), t));
        });
    };
    std::size_t copies = 0;
    net.on_deliver([&](const sim::Datagram& d, Time) {
        if (d.to == b_addr && d.bytes.starts_with("MESSAGE ")) ++copies;
    });
    Raw raw(net);
    raw.send(merge_candidate("MESSAGE"), b_addr, net.now());
    net.run_until(net.now() + 5s);
    EXPECT_GE(copies, 3u);  // Timer E: 0.5 s, 1.5 s before the answer at 2 s
    ASSERT_EQ(raw.responses.size(), 1u);
    EXPECT_EQ(raw.responses[0].status(), 200);
    EXPECT_EQ(sent_status(b, 482), 0u);
    EXPECT_EQ(b.count<RequestEvent>(), 1u) << b.timeline();
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    EXPECT_TRUE(holds_nothing(b.stack()));
}

// ---------------------------------------------------------------- NOTIFY outside any dialog (RFC 6665 §4.1.3)

// A NOTIFY without To tag from the raw peer.
RawRequest unsolicited_notify(std::string cseq, HeaderList headers, std::string content_type, std::string body) {
    return RawRequest{.method = "NOTIFY", .uri = "sip:bob@192.0.2.2:5060", .from = "<sip:raw@192.0.2.9>;tag=n1",
                      .to = "<sip:bob@192.0.2.2>", .call_id = "unsolicited@raw", .cseq = std::move(cseq),
                      .headers = std::move(headers), .content_type = std::move(content_type), .body = std::move(body)};
}

// The final status the raw peer got for its request with CSeq `cseq`, 0 when none.
int status_for(const std::vector<Message>& responses, std::uint32_t cseq) {
    for (const Message& m : responses)
        if (m.cseq().number == cseq) return m.status();
    return 0;
}

// A user agent that handles transfers owns the refer package: a refer NOTIFY outside any dialog
// belongs to none of its subscriptions (they all carry its tag), so it is answered 481 at once,
// and 400 without a usable Event (RFC 6665 §8.2.1); the application never sees them.
TEST(UaUnsolicitedNotify, ReferNotifyOutsideAnyDialogIsAnswered481AtOnce) {
    sim::Network net(1);
    StackNode b(net, b_addr, StackConfig{.ua = ua_config("sip:bob@192.0.2.2", 2)});  // handle_refer
    Raw raw(net);
    const std::string sipfrag = "SIP/2.0 200 OK\r\n";
    raw.send(unsolicited_notify("1", {{"Event", "refer"}, {"Subscription-State", "terminated;reason=noresource"}},
                                "message/sipfrag", sipfrag),
             b_addr, net.now());
    raw.send(unsolicited_notify("2", {{"Event", "refer;id=7"}, {"Subscription-State", "active;expires=60"}},
                                "message/sipfrag", sipfrag),
             b_addr, net.now());
    raw.send(unsolicited_notify("3", {{"Subscription-State", "active;expires=60"}}, "message/sipfrag", sipfrag), b_addr,
             net.now());
    raw.send(unsolicited_notify("4", {{"Event", ";id=7"}, {"Subscription-State", "active;expires=60"}},
                                "message/sipfrag", sipfrag),
             b_addr, net.now());
    net.run_until(net.now() + 100ms);  // at once: nobody waits for an application
    ASSERT_EQ(raw.responses.size(), 4u);
    EXPECT_EQ(status_for(raw.responses, 1), 481);
    EXPECT_EQ(status_for(raw.responses, 2), 481);
    EXPECT_EQ(status_for(raw.responses, 3), 400);  // no Event
    EXPECT_EQ(status_for(raw.responses, 4), 400);  // an Event without its package
    EXPECT_TRUE(b.events().empty()) << b.timeline();
    EXPECT_EQ(b.stack().counts().incoming, 0u);
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    EXPECT_TRUE(holds_nothing(b.stack()));
}

// Another package the application takes (an unsolicited message-summary, RFC 3842) still reaches
// it outside a dialog; one it does not list gets 489 (§8.2.2). A user agent that leaves transfers to
// the application hands it a refer NOTIFY too.
TEST(UaUnsolicitedNotify, NotifyOfAnApplicationPackageReachesTheApplication) {
    sim::Network net(1);
    UserAgentConfig bc = ua_config("sip:bob@192.0.2.2", 2);
    bc.event_packages = {"message-summary"};
    bc.accept.emplace_back("application/simple-message-summary");
    StackNode b(net, b_addr, StackConfig{.ua = bc});  // handle_refer: refer is the stack's
    StackNode c(net, Endpoint{"192.0.2.3", 5060}, ua_config("sip:carol@192.0.2.3", 3));  // refer is the application's
    for (StackNode* n : {&b, &c}) {
        n->on_event = [](StackNode& node, const StackEvent& ev, Time now) {
            if (const auto* req = std::get_if<RequestEvent>(&ev)) {
                ASSERT_TRUE(node.stack().respond(req->incoming, ok200(), now));
            }
        };
    }
    Raw raw(net);
    raw.send(unsolicited_notify("1", {{"Event", "message-summary"}, {"Subscription-State", "active"}},
                                "application/simple-message-summary", "Messages-Waiting: yes\r\n"),
             b_addr, net.now());
    raw.send(unsolicited_notify("2", {{"Event", "presence"}, {"Subscription-State", "active"}}, {}, {}), b_addr,
             net.now());
    raw.send(unsolicited_notify("3", {{"Event", "refer"}, {"Subscription-State", "active;expires=60"}},
                                "message/sipfrag", "SIP/2.0 100 Trying\r\n"),
             c.address(), net.now());
    net.run_until(net.now() + 100ms);
    ASSERT_EQ(raw.responses.size(), 3u);
    EXPECT_EQ(status_for(raw.responses, 1), 200);
    EXPECT_EQ(status_for(raw.responses, 2), 489);
    EXPECT_EQ(status_for(raw.responses, 3), 200);
    ASSERT_EQ(b.count<RequestEvent>(), 1u) << b.timeline();
    const RequestEvent* mwi = b.find<RequestEvent>();
    EXPECT_EQ(mwi->method, Method::notify);
    EXPECT_FALSE(mwi->dialog);
    ASSERT_TRUE(mwi->message.event());
    EXPECT_EQ(mwi->message.event()->package, "message-summary");
    ASSERT_EQ(c.count<RequestEvent>(), 1u) << c.timeline();
    EXPECT_EQ(c.find<RequestEvent>()->method, Method::notify);
    EXPECT_TRUE(net.run_until_idle(net.now() + 10min));
    EXPECT_TRUE(holds_nothing(b.stack()));
    EXPECT_TRUE(holds_nothing(c.stack()));
}

}  // namespace
}  // namespace referkit::test
