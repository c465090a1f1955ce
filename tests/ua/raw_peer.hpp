// Helpers shared by the tests of tests/ua, which drive Stacks (test::StackNode) and scripted peers
// (sim::CoreNode, a bare TransactionLayer) on the virtual network of tests/support/sim_node.hpp:
//   - scripted peers: requests built by hand, so that tests can send what a Stack never would;
//   - reading what a StackNode logged (its events) and sent (its messages);
//   - the few commands and handlers every suite repeats.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "referkit/core/stack.hpp"
#include "referkit/core/transaction_layer.hpp"
#include "referkit/core/writer.hpp"
#include "sim_node.hpp"

namespace referkit::test {

// The addresses of the user agents (A calls B) and of the scripted peer.
inline const Endpoint a_addr{"192.0.2.1", 5060};
inline const Endpoint b_addr{"192.0.2.2", 5060};
inline const Endpoint raw_addr{"192.0.2.9", 5060};

// --- scripted peers

struct RawRequest {
    std::string method = "OPTIONS";
    std::string uri;
    std::string from;  // full From value with tag
    std::string to;    // full To value (tag or not)
    std::string call_id = "raw@test";
    std::string cseq = "1";
    HeaderList headers = {};
    std::string content_type = {};
    std::string body = {};
};

inline std::string build(const RawRequest& r) {
    auto w = MessageWriter::request(r.method, r.uri);
    w.header(HeaderId::max_forwards, std::uint64_t{70})
        .header(HeaderId::from, r.from)
        .header(HeaderId::to, r.to)
        .header(HeaderId::call_id, r.call_id)
        .header(HeaderId::cseq, r.cseq + " " + r.method);
    for (const auto& [n, v] : r.headers) w.header(n, v);
    if (!r.body.empty()) w.body(r.content_type, r.body);
    auto b = w.finish();
    return b ? *b : std::string();
}

inline const char* audio_answer =
    "v=0\r\no=srv 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"
    "a=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n";

// The transaction options of a scripted peer at raw_addr: its random source counts up from `seed`.
inline TransactionOptions raw_options(std::uint64_t seed) {
    TransactionOptions to;
    to.random = [n = seed]() mutable { return ++n; };
    to.sent_by = "192.0.2.9:5060";
    return to;
}

// Sends r from a scripted peer to `to` over UDP (an ACK outside any transaction, any other method
// in a client transaction of its own), then pumps the peer. False when r does not build or the
// layer refuses it.
inline bool send_raw(sim::CoreNode& peer, const RawRequest& r, const Endpoint& to, Time now) {
    const std::string bytes = build(r);
    if (bytes.empty()) return false;
    const Destination d{Transport::udp, to, 0};
    const bool sent = r.method == "ACK" ? peer.layer().send_stateless(bytes, d, now).has_value()
                                        : peer.layer().send_request(bytes, d, now).has_value();
    peer.pump(now);
    return sent;
}

// A scripted peer's 200 to an INVITE that sets up a call: To tag `to_tag`, its Contact, an audio answer.
inline ResponseSpec raw_call_answer(std::string_view to_tag) {
    ResponseSpec ok;
    ok.to_tag = to_tag;
    ok.headers = {{"Contact", "<sip:srv@192.0.2.9:5060>"}};
    ok.content_type = "application/sdp";
    ok.body = audio_answer;
    return ok;
}

// --- a StackNode's events and messages

// ev when it is a session event of kind k, else nullptr.
inline const SessionEvent* session_event(const StackEvent& ev, SessionEventKind k) {
    const auto* e = std::get_if<SessionEvent>(&ev);
    return e != nullptr && e->kind == k ? e : nullptr;
}

// One word per kind of event: the SessionEventKind's name, or the event type's ("request",
// "response", "dialog_ended", "transfer", "transfer_response", "transferee").
inline std::string event_name(const StackEvent& ev) {
    if (const auto* s = std::get_if<SessionEvent>(&ev)) return std::string(to_string(s->kind));
    if (std::holds_alternative<RequestEvent>(ev)) return "request";
    if (std::holds_alternative<ResponseEvent>(ev)) return "response";
    if (std::holds_alternative<DialogEndedEvent>(ev)) return "dialog_ended";
    if (std::holds_alternative<TransferEvent>(ev)) return "transfer";
    if (std::holds_alternative<TransferResponseEvent>(ev)) return "transfer_response";
    return "transferee";
}

// The kind of every event the node logged, in order (event_name).
inline std::vector<std::string> kinds(const StackNode& n) {
    std::vector<std::string> k;
    for (const StackEvent& e : n.events()) k.push_back(event_name(e));
    return k;
}
// The names of session event kinds, to compare with kinds().
inline std::vector<std::string> kinds(std::initializer_list<SessionEventKind> list) {
    std::vector<std::string> k;
    for (SessionEventKind e : list) k.emplace_back(to_string(e));
    return k;
}

// The message an event carries, or nullptr.
inline const Message* message_of(const StackEvent& ev) {
    return std::visit(
        [](const auto& e) -> const Message* {
            using E = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<E, RequestEvent>) {
                return &e.message;
            } else if constexpr (std::is_same_v<E, TransferResponseEvent>) {
                return &e.response;
            } else if constexpr (requires { e.message.has_value(); }) {
                return e.message ? &*e.message : nullptr;
            } else {
                return nullptr;
            }
        },
        ev);
}

// The messages in `sent` (a node's sent()) whose start line begins with `start` ("INVITE ",
// "SIP/2.0 491"), parsed, in order.
inline std::vector<Message> parsed(const std::vector<std::string>& sent, std::string_view start) {
    std::vector<Message> out;
    for (const std::string& s : sent) {
        auto m = Message::parse(std::string_view(s));
        if (m && m->start_line().starts_with(start)) out.push_back(*m);
    }
    return out;
}

// Success when the stack holds nothing any more (every StackCounts member zero); the failure
// message says what it still holds.
inline ::testing::AssertionResult holds_nothing(const Stack& s) {
    const StackCounts c = s.counts();
    if (empty(c)) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << describe(c);
}

// --- commands and handlers

// An INVITE to `target` with the default offer.
inline InviteOptions invite_to(std::string target) {
    return InviteOptions{.target = std::move(target), .headers = {}, .body = std::nullopt,
                         .content_type = "application/sdp"};
}

// A handler that answers every incoming call with each of `statuses` in turn (180 then 200, ...).
inline StackNode::Handler answer_calls(std::vector<int> statuses = {200}) {
    return [list = std::move(statuses)](StackNode& n, const StackEvent& ev, Time now) {
        const SessionEvent* in = session_event(ev, SessionEventKind::incoming_call);
        if (in == nullptr) return;
        for (int status : list) ASSERT_TRUE(n.stack().answer(in->session, AnswerOptions{.status = status}, now));
    };
}

}  // namespace referkit::test
