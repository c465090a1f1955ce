// Helpers of the REFER tests: NOTIFY builders for the state machines alone; for the end-to-end
// tests on the simulated network (sim_node.hpp), configuration builders, a transferor stack facing
// a scripted peer (Rig: the peer is a stack with transfer handling off, its REFERs and NOTIFYs
// answered by hand) and three-party worlds of full stacks (Party, World).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "referkit/core/message.hpp"
#include "referkit/core/stack.hpp"
#include "referkit/core/time.hpp"
#include "sim_network.hpp"
#include "sim_node.hpp"

namespace referkit::test {

// ---------------------------------------------------------------- NOTIFY builders

struct NotifySpec {
    std::string event = "Event: refer;id=7";          // whole header line, "" for none
    std::string sub_state = "Subscription-State: active;expires=60";
    std::string content_type = "Content-Type: message/sipfrag";
    std::string body = "SIP/2.0 100 Trying\r\n";
    std::string line_end = "\r\n";
};

inline std::string notify_text(const NotifySpec& s) {
    const std::string& e = s.line_end;
    std::string m = "NOTIFY sip:alice@192.0.2.1:5060 SIP/2.0" + e +
                    "Via: SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bK-n1" + e +
                    "Max-Forwards: 70" + e +
                    "From: <sip:bob@example.org>;tag=bt" + e +
                    "To: <sip:alice@example.com>;tag=at" + e +
                    "Call-ID: call-1@example.com" + e +
                    "CSeq: 3 NOTIFY" + e +
                    "Contact: <sip:bob@192.0.2.2>" + e;
    if (!s.event.empty()) m += s.event + e;
    if (!s.sub_state.empty()) m += s.sub_state + e;
    if (!s.content_type.empty()) m += s.content_type + e;
    m += "Content-Length: " + std::to_string(s.body.size()) + e + e + s.body;
    return m;
}

inline Message notify(const NotifySpec& s) {
    auto m = Message::parse(notify_text(s));
    if (!m) throw std::runtime_error("test NOTIFY does not parse: " + m.error().describe());
    return std::move(*m);
}

// A sipfrag body: "SIP/2.0 <status> <reason>\r\n".
inline std::string notify_body(int status, std::string_view reason) {
    return "SIP/2.0 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
}

// ---------------------------------------------------------------- configurations

// A user agent with AOR `aor`, Via sent-by `sent_by` and a counting random source from `seed`.
inline UserAgentConfig refer_ua_config(std::string aor, std::string sent_by, std::uint64_t seed) {
    UserAgentConfig c;
    c.aor = std::move(aor);
    c.transaction.sent_by = std::move(sent_by);
    c.transaction.random = [n = seed]() mutable { return ++n; };
    return c;
}

// Options that keep the call after a successful transfer.
inline ReferOptions keep_call() {
    ReferOptions o;
    o.active_after_transfer = true;
    return o;
}

// The kinds of a list of events, in order.
template <class E>
std::vector<decltype(E::kind)> kinds(const std::vector<E>& events) {
    std::vector<decltype(E::kind)> out;
    for (const auto& e : events) out.push_back(e.kind);
    return out;
}

// The transfer events of transfer `id` logged by `node`, in order.
inline std::vector<TransferEvent> events_of(const StackNode& node, TransferId id) {
    std::vector<TransferEvent> out;
    for (const TransferEvent& e : node.all<TransferEvent>())
        if (e.transfer == id) out.push_back(e);
    return out;
}

// How many events `node` logged that are the application's (sessions, requests, responses, dialogs).
inline std::size_t app_events(const StackNode& node) {
    return node.count<SessionEvent>() + node.count<RequestEvent>() + node.count<ResponseEvent>() +
           node.count<DialogEndedEvent>();
}

// ---------------------------------------------------------------- A (full stack) and a scripted B

// A (a full stack: the transferor under test) and a scripted B (transfer handling off) on the
// simulated network. B answers calls; its REFERs and SUBSCRIBEs go to `b_refer` / `b_subscribe`
// (default: 200). Everything delivered is recorded.
struct Rig {
    using Script = std::function<void(StackNode&, const RequestEvent&, Time)>;

    explicit Rig(ReferConfig cfg = transfer_config(),
                 UserAgentConfig a_config = refer_ua_config("sip:alice@192.0.2.1", "192.0.2.1:5060", 0x100))
        : a(net, a_addr, StackConfig{.ua = std::move(a_config), .refer = std::move(cfg)}),
          b(net, b_addr, refer_ua_config("sip:bob@192.0.2.2", "192.0.2.2:5060", 0x900)) {
        a.stack().on_local_address(Transport::tcp, a_addr, "192.0.2.1:5060");
        b.stack().on_local_address(Transport::tcp, b_addr, "192.0.2.2:5060");
        net.on_deliver([this](const sim::Datagram& d, Time) {
            delivered.push_back(d);
            auto m = Message::parse(std::string_view(d.bytes));
            if (!m) return;
            wire.push_back(std::string(d.from == a_addr ? "A> " : "B> ") + std::string(m->start_line()) + " / " +
                           std::to_string(m->cseq().number) + " " + std::string(m->cseq().method_text));
        });
        a.on_event = [this](StackNode& node, const StackEvent& ev, Time now) {
            if (const auto* r = std::get_if<RequestEvent>(&ev); r != nullptr && answer_app_requests)
                (void)node.stack().respond(r->incoming, status(200), now);
        };
        b.on_event = [this](StackNode& node, const StackEvent& ev, Time now) {
            if (const auto* s = std::get_if<SessionEvent>(&ev)) {
                if (s->kind == SessionEventKind::incoming_call) (void)node.stack().answer(s->session, AnswerOptions{}, now);
            } else if (const auto* r = std::get_if<RequestEvent>(&ev)) {
                if (r->method == Method::refer && b_refer) b_refer(node, *r, now);
                else if (r->method == Method::subscribe && b_subscribe) b_subscribe(node, *r, now);
                else (void)node.stack().respond(r->incoming, status(200), now);
            }
        };
    }
    Rig(const Rig&) = delete;
    Rig& operator=(const Rig&) = delete;

    static ReferConfig transfer_config() {
        return ReferConfig{.aor = "sip:alice@192.0.2.1", .default_domain = "192.0.2.3"};
    }
    static UaResponse status(int st, bool creates_dialog = false) {
        UaResponse r;
        r.status = st;
        r.creates_dialog = creates_dialog;
        return r;
    }
    static InDialogRequest notify(std::uint32_t id, std::string state, int status, std::string_view reason) {
        return InDialogRequest{.method = "NOTIFY",
                               .headers = {{"Event", "refer;id=" + std::to_string(id)}, {"Subscription-State", state}},
                               .content_type = "message/sipfrag", .body = notify_body(status, reason)};
    }

    Stack& stack() noexcept { return a.stack(); }
    // A's transfer events, in order.
    [[nodiscard]] std::vector<TransferEvent> a_events() const { return a.all<TransferEvent>(); }
    [[nodiscard]] std::vector<ReferEventKind> kinds() const { return test::kinds(a_events()); }
    // The event kinds of one transfer, in order.
    [[nodiscard]] std::vector<ReferEventKind> kinds_of(TransferId id) const { return test::kinds(events_of(a, id)); }
    // The `ended` event of one transfer, nullopt when there is none.
    [[nodiscard]] std::optional<TransferEvent> ended_of(TransferId id) const {
        for (const TransferEvent& e : events_of(a, id))
            if (e.kind == ReferEventKind::ended) return e;
        return std::nullopt;
    }
    // Responses A's application got (those to a transfer's requests are TransferResponseEvents or nothing).
    [[nodiscard]] std::size_t responses_to_app() const { return a.count<ResponseEvent>(); }
    // The packages of the NOTIFYs A's application got, in order.
    [[nodiscard]] std::vector<std::string> app_notify_packages() const {
        std::vector<std::string> out;
        for (const RequestEvent& e : a.all<RequestEvent>())
            if (e.method == Method::notify && e.message.event()) out.push_back(std::string(e.message.event()->package));
        return out;
    }

    void run(Duration d) { net.run_until(net.now() + d); }
    // A INVITEs B and the network runs for `wait`; nullopt when the INVITE could not be sent.
    std::optional<SessionId> dial(Duration wait) {
        InviteOptions invite;
        invite.target = "sip:bob@192.0.2.2:5060";
        auto s = a.stack().invite(invite, net.now());
        EXPECT_TRUE(s);
        a.pump(net.now());
        run(wait);
        if (!s) return std::nullopt;
        return *s;
    }
    SessionId call() {
        auto s = dial(std::chrono::seconds(2));
        if (!s) return SessionId{};
        EXPECT_EQ(a.stack().session_state(*s), SessionState::confirmed);
        return *s;
    }
    // A calls B, then REFERs B to carol in that call.
    SessionId call_and_refer(ReferOptions options = {}) {
        SessionId ab = call();
        EXPECT_TRUE(a.stack().refer(ab, "sip:carol@192.0.2.3", std::move(options), net.now()));
        a.pump(net.now());
        return ab;
    }
    // B accepts every REFER (202) and sends one NOTIFY, 100 Trying with Subscription-State `state`.
    void accept_refers_with_trying(std::string state = "active;expires=60") {
        b_refer = [state](StackNode& node, const RequestEvent& ev, Time now) {
            (void)node.stack().respond(ev.incoming, status(202), now);
            ASSERT_TRUE(node.stack().send_in_dialog(ev.dialog, notify(ev.message.cseq().number, state, 100, "Trying"), now));
        };
    }
    // A calls B, REFERs B to carol, runs `before`, then ends the subscription. False (a failure
    // recorded) when the REFER or the unsubscribe was refused.
    bool call_refer_and_unsubscribe(Duration before) {
        SessionId ab = call();
        auto h = a.stack().refer(ab, "sip:carol@192.0.2.3", ReferOptions{}, net.now());
        EXPECT_TRUE(h);
        if (!h) return false;
        a.pump(net.now());
        run(before);
        const bool ended = a.stack().unsubscribe(*h, net.now());
        EXPECT_TRUE(ended);
        a.pump(net.now());
        return ended;
    }
    // B answers every REFER with `st` and does nothing else.
    void answer_refers(int st) {
        b_refer = [st](StackNode& node, const RequestEvent& ev, Time now) {
            (void)node.stack().respond(ev.incoming, status(st), now);
        };
    }
    // Messages starting with `start` whose CSeq method is `method`.
    [[nodiscard]] std::size_t answers_to(std::string_view start, std::string_view method) const {
        return static_cast<std::size_t>(std::count_if(wire.begin(), wire.end(), [&](const std::string& w) {
            return w.starts_with(start) && w.ends_with(" " + std::string(method));
        }));
    }
    [[nodiscard]] std::size_t on_wire(std::string_view needle) const {
        return static_cast<std::size_t>(std::count_if(wire.begin(), wire.end(), [&](const std::string& w) {
            return w.find(needle) != std::string::npos;
        }));
    }

    sim::Network net{11};
    Endpoint a_addr{"192.0.2.1", 5060}, b_addr{"192.0.2.2", 5060};
    StackNode a, b;
    bool answer_app_requests = false;  // A's application answers the requests it gets 200
    std::vector<std::string> wire;
    std::vector<sim::Datagram> delivered;
    // B's application for REFER and SUBSCRIBE requests (unset, and for any other request: 200).
    Script b_refer, b_subscribe;
};

// ---------------------------------------------------------------- three parties, full stacks

// What the scripted application of a party does with an incoming call.
struct CallScript {
    int provisional = 180;  // 0 = none
    int final = 200;        // 2xx answers, else reject with it
    Duration delay = Duration::zero();  // the final answer comes this long after the provisional
};

// One full stack (transferor, transferee, Replaces) on the network with a scripted application:
// it answers calls per `script` and every request 200, and records how each session ended.
class Party : public StackNode {
public:
    // `tweak` changes the party's configuration before its stack is built.
    Party(sim::Network& net, std::string name, const Endpoint& address, std::uint64_t seed,
          const std::function<void(StackConfig&)>& tweak = {})
        : StackNode(net, address, party_config(name, address, seed, tweak)), name_(std::move(name)) {
        on_event = [this](StackNode&, const StackEvent& ev, Time now) { application(ev, now); };
    }

    [[nodiscard]] std::string aor() const { return "sip:" + name_ + "@" + address().host; }
    [[nodiscard]] std::string uri() const { return StackNode::uri(name_); }

    SessionId call(const Party& peer, Time now) {
        InviteOptions o;
        o.target = peer.uri();
        auto s = stack().invite(o, now);
        EXPECT_TRUE(s);
        pump(now);
        return s ? *s : SessionId{};
    }
    [[nodiscard]] std::vector<TransferEvent> refer_events() const { return all<TransferEvent>(); }
    [[nodiscard]] std::vector<TransfereeEvent> transferee_events() const { return all<TransfereeEvent>(); }

    CallScript script;
    std::map<std::uint64_t, EndCause> ended;  // session -> how it ended
    std::vector<SessionId> incoming;          // calls offered to the application

private:
    static StackConfig party_config(const std::string& name, const Endpoint& address, std::uint64_t seed,
                                    const std::function<void(StackConfig&)>& tweak) {
        UserAgentConfig c;
        c.aor = "sip:" + name + "@" + address.host;  // From of its calls, Referred-By of its REFERs
        c.transaction.random = [n = seed]() mutable { return n += 0x9E3779B97F4A7C15ull; };
        c.supported = {"replaces", "norefersub"};
        StackConfig config{.ua = std::move(c), .refer = ReferConfig{.aor = "sip:" + name + "@" + address.host}};
        // The parties take out-of-dialog REFERs from one another (R38 refuses strangers' by default).
        config.refer.out_of_dialog_refer = OutOfDialogRefer::allow;
        if (tweak) tweak(config);
        return config;
    }
    static AnswerOptions with_status(int st) {
        return AnswerOptions{.status = st, .reason = {}, .headers = {}, .body = std::nullopt};
    }
    void application(const StackEvent& event, Time now) {
        if (const auto* r = std::get_if<RequestEvent>(&event)) {
            (void)stack().respond(r->incoming, UaResponse{.status = 200, .reason = "OK", .headers = {},
                                                          .content_type = {}, .body = {}, .creates_dialog = false},
                                  now);
            return;
        }
        const auto* ev = std::get_if<SessionEvent>(&event);
        if (ev == nullptr) return;
        switch (ev->kind) {
            case SessionEventKind::incoming_call:
                incoming.push_back(ev->session);
                if (script.provisional != 0) {
                    EXPECT_TRUE(stack().answer(ev->session, with_status(script.provisional), now));
                }
                if (script.delay > Duration::zero()) {
                    later(now + script.delay, [s = ev->session, f = script.final](StackNode& n, Time t) {
                        if (f < 300) (void)n.stack().answer(s, with_status(f), t);
                        else (void)n.stack().reject(s, f, {}, t);
                    });
                } else if (script.final < 300) {
                    EXPECT_TRUE(stack().answer(ev->session, with_status(script.final), now));
                } else {
                    EXPECT_TRUE(stack().reject(ev->session, script.final, {}, now));
                }
                break;
            case SessionEventKind::session_ended: ended[ev->session.value] = ev->cause; break;
            case SessionEventKind::session_progress:
            case SessionEventKind::session_answered:
            case SessionEventKind::session_confirmed:
            case SessionEventKind::offer_received:
            case SessionEventKind::answer_received:
            case SessionEventKind::reinvite_failed: break;
        }
    }

    std::string name_;
};

// The statuses of the NOTIFYs a transferee answered 2xx, in order.
inline std::vector<int> notified(const std::vector<TransfereeEvent>& events) {
    std::vector<int> out;
    for (const auto& e : events)
        if (e.kind == TransfereeEventKind::transfer_notified) out.push_back(e.status);
    return out;
}

// 10 % loss, duplication and reordering, 20-50 ms latency.
inline sim::LinkConfig lossy() {
    using std::chrono::milliseconds;
    return sim::LinkConfig{.latency = milliseconds(20), .jitter = milliseconds(30), .loss = 0.1, .duplicate = 0.1,
                           .reorder = 0.1, .reorder_delay = milliseconds(150)};
}

// A (alice), B (bob) and C (carol), full stacks on one network.
struct World {
    // `carol`: changes C's configuration (the transfer target, whose calls are replaced).
    explicit World(std::uint64_t seed, const std::function<void(StackConfig&)>& carol = {})
        : net(seed), a(net, "alice", {"192.0.2.1", 5060}, 0x1000 + seed), b(net, "bob", {"192.0.2.2", 5060}, 0x2000 + seed),
          c(net, "carol", {"192.0.2.3", 5060}, 0x3000 + seed, carol) {}
    void run(Duration d) { net.run_until(net.now() + d); }
    // A calls B (given `setup` to be confirmed), REFERs B to C in that call, then runs `then`.
    SessionId call_and_refer(Duration then, Duration setup = std::chrono::seconds(2)) {
        SessionId ab = a.call(b, net.now());
        run(setup);
        EXPECT_EQ(a.stack().session_state(ab), SessionState::confirmed);
        EXPECT_TRUE(a.stack().refer(ab, c.uri(), ReferOptions{}, net.now()));
        a.pump(net.now());
        run(then);
        return ab;
    }
    // Nothing may be left in any of `parties` once the network is idle (within `bound`).
    void expect_empty_when_idle(std::initializer_list<Party*> parties, Duration bound = std::chrono::seconds(120)) {
        EXPECT_TRUE(net.run_until_idle(net.now() + bound));
        for (Party* q : parties) EXPECT_TRUE(empty(q->stack().counts())) << q->aor() << " " << describe(q->stack().counts());
    }
    // `p` hangs up `call`; then nothing may be left in any stack once the network is idle.
    void hang_up_and_expect_empty(Party& p, SessionId call, Duration bound = std::chrono::seconds(120)) {
        EXPECT_TRUE(p.stack().bye(call, net.now()));
        p.pump(net.now());
        expect_empty_when_idle({&a, &b, &c}, bound);
    }
    // B's call to the target (the INVITE its transferee side placed) is up; B hangs it up, then
    // nothing may be left in any stack once the network is idle.
    void b_hangs_up_the_new_call(Duration bound = std::chrono::seconds(120)) {
        const auto events = b.transferee_events();
        ASSERT_GE(events.size(), 2u);
        const SessionId bc = events[1].session;
        EXPECT_EQ(b.stack().session_state(bc), SessionState::confirmed);
        hang_up_and_expect_empty(b, bc, bound);
    }
    sim::Network net;
    Party a, b, c;
};

// Both sides saw the transfer end exactly once: A's transfer with `outcome` after one 2xx to the
// REFER, B's transfer with the target's final status.
inline void expect_ended_once(const World& w, ReferOutcome outcome, int target_status) {
    EXPECT_EQ(w.a.count(ReferEventKind::ended), 1u);
    EXPECT_EQ(w.a.count(ReferEventKind::refer_request_accepted), 1u);
    const auto a_events = w.a.refer_events();
    ASSERT_FALSE(a_events.empty());
    EXPECT_EQ(a_events.back().kind, ReferEventKind::ended);
    EXPECT_EQ(a_events.back().outcome, outcome);
    EXPECT_EQ(w.b.count(TransfereeEventKind::refer_received), 1u);
    EXPECT_EQ(w.b.count(TransfereeEventKind::transfer_ended), 1u);
    const auto b_events = w.b.transferee_events();
    ASSERT_FALSE(b_events.empty());
    EXPECT_EQ(b_events.back().kind, TransfereeEventKind::transfer_ended);
    EXPECT_EQ(b_events.back().status, target_status);
}

}  // namespace referkit::test
