// End to end on the virtual clock: two UserAgentCores on the simulated network. A calls B, then A
// REFERs B to C in the dialog through ReferAgent. B's application is scripted with bare
// UserAgentCore commands (202, NOTIFY 100 Trying active, NOTIFY 200 OK terminated), so the client
// side is checked against a peer independent of our own transferee (ReferServerContext); the
// three-party flows with ReferAgent on both sides are in transfer_e2e_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "referkit/core/refer_agent.hpp"
#include "referkit/core/user_agent_core.hpp"
#include "refer_helpers.hpp"
#include "sim_network.hpp"

namespace referkit {
namespace {
using namespace std::chrono_literals;

// A UserAgentCore attached to the network; events go to `on_event` after the transmits are out.
class UaNode : public sim::Node {
public:
    using Handler = std::function<void(UaNode&, UaEvent&, Time)>;
    UaNode(sim::Network& net, Endpoint address, UserAgentConfig config)
        : net_(net), address_(std::move(address)), core_(std::move(config)) {
        net_.attach(address_, *this);
        core_.on_local_address(Transport::udp, address_, address_.host + ":" + std::to_string(address_.port));
    }
    void deliver(const sim::Datagram& d, Time now) override {
        core_.receive(SharedBuffer::copy_of(d.bytes), Source{d.transport, d.from, d.connection}, now);
        pump(now);
    }
    [[nodiscard]] std::optional<Time> next_deadline() const override {
        auto a = core_.next_deadline();
        auto b = extra_deadline ? extra_deadline() : std::nullopt;
        for (const auto& l : later_)
            if (!b || l.first < *b) b = l.first;
        if (!a) return b;
        if (!b) return a;
        return std::min(*a, *b);
    }
    void on_timer(Time now) override {
        core_.on_timer(now);
        if (extra_timer) extra_timer(now);
        pump(now);
        test::run_due(later_, now, [&](auto& f) {
            f(*this, now);
            pump(now);
        });
    }
    // Runs f at virtual time `at` (the scripted application acting later), then pumps.
    void later(Time at, std::function<void(UaNode&, Time)> f) { later_.emplace_back(at, std::move(f)); }
    void pump(Time now) {
        for (int guard = 0; guard < 10000; ++guard) {
            if (auto t = core_.poll_transmit()) {
                net_.send(t->destination.transport, address_, t->destination.remote, t->bytes.view(),
                          t->destination.connection);
                continue;
            }
            if (auto e = core_.poll_event()) {
                if (on_event) on_event(*this, *e, now);
                continue;
            }
            break;
        }
    }
    UserAgentCore& core() noexcept { return core_; }

    Handler on_event;
    std::function<std::optional<Time>()> extra_deadline;
    std::function<void(Time)> extra_timer;

private:
    sim::Network& net_;
    Endpoint address_;
    UserAgentCore core_;
    std::vector<std::pair<Time, std::function<void(UaNode&, Time)>>> later_;
};

UserAgentConfig config(std::string aor, std::string host, std::uint64_t seed) {
    UserAgentConfig c;
    c.aor = std::move(aor);
    c.transaction.sent_by = std::move(host);
    c.transaction.random = [n = seed]() mutable { return ++n; };
    return c;
}

std::string notify_body(int status, std::string_view reason) {
    return "SIP/2.0 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
}

TEST(ReferAgentE2e, BlindTransferInDialog) {
    sim::Network net(7);
    Endpoint a_addr{"192.0.2.1", 5060}, b_addr{"192.0.2.2", 5060};
    UaNode a(net, a_addr, config("sip:alice@192.0.2.1", "192.0.2.1:5060", 0x100));
    UaNode b(net, b_addr, config("sip:bob@192.0.2.2", "192.0.2.2:5060", 0x900));
    ReferAgent agent(a.core(), ReferAgentConfig{.aor = "sip:alice@192.0.2.1", .default_domain = "192.0.2.3"});

    std::vector<ReferEvent> a_events;
    std::vector<std::string> wire_from_a;  // start line + CSeq of everything A sends, in order
    net.on_deliver([&](const sim::Datagram& d, Time) {
        if (!(d.from == a_addr)) return;
        auto m = Message::parse(std::string_view(d.bytes));
        if (m) wire_from_a.push_back(std::string(m->start_line()) + " / " + std::to_string(m->cseq().number) + " " +
                                     std::string(m->cseq().method_text));
    });
    SessionId a_session;
    bool a_confirmed = false;
    a.on_event = [&](UaNode&, UaEvent& ev, Time now) {
        if (agent.handle(ev, now)) {
            while (auto e = agent.poll_event()) a_events.push_back(e->second);
            return;
        }
        if (ev.kind == UaEventKind::session_answered && ev.session == a_session) a_confirmed = true;
        while (auto e = agent.poll_event()) a_events.push_back(e->second);
    };
    a.extra_deadline = [&] { return agent.next_deadline(); };
    a.extra_timer = [&](Time now) {
        agent.on_timer(now);
        while (auto e = agent.poll_event()) a_events.push_back(e->second);
    };

    bool b_bye_remote = false;
    std::string refer_to_seen;
    b.on_event = [&](UaNode& node, UaEvent& ev, Time now) {
        if (ev.kind == UaEventKind::incoming_call) {
            ASSERT_TRUE(node.core().answer(ev.session, AnswerOptions{}, now));
        } else if (ev.kind == UaEventKind::request) {
            if (ev.method == "REFER") {
                ASSERT_TRUE(ev.message);
                refer_to_seen = std::string(ev.message->find(HeaderId::refer_to)->value);
                std::uint32_t id = ev.message->cseq().number;
                UaResponse accepted;  // UaResponse members have no defaults: assigned, not designated
                accepted.status = 202;
                accepted.reason = "Accepted";
                auto d = node.core().respond(ev.incoming, accepted, now);
                ASSERT_TRUE(d);
                for (auto [status, state] : {std::pair{100, std::string("active;expires=60")},
                                             std::pair{200, std::string("terminated;reason=noresource")}}) {
                    InDialogRequest n{.method = "NOTIFY",
                                      .headers = {{"Event", "refer;id=" + std::to_string(id)},
                                                  {"Subscription-State", state}},
                                      .content_type = "message/sipfrag",
                                      .body = notify_body(status, status == 100 ? "Trying" : "OK")};
                    ASSERT_TRUE(node.core().send_in_dialog(ev.dialog, n, now));
                }
            } else {
                UaResponse ok;
                ok.status = 200;
                (void)node.core().respond(ev.incoming, ok, now);
            }
        } else if (ev.kind == UaEventKind::session_ended && ev.cause == EndCause::bye_remote) {
            b_bye_remote = true;
        }
    };

    InviteOptions invite;
    invite.target = "sip:bob@192.0.2.2:5060";
    auto s = a.core().invite(invite, net.now());
    ASSERT_TRUE(s);
    a_session = *s;
    a.pump(net.now());
    net.run_until(net.now() + 2s);
    ASSERT_TRUE(a_confirmed);
    ASSERT_EQ(a.core().session_state(a_session), SessionState::confirmed);

    auto h = agent.refer(a_session, "carol", ReferOptions{}, net.now());
    ASSERT_TRUE(h) << h.error().detail;
    a.pump(net.now());
    net.run_until(net.now() + 5s);

    EXPECT_EQ(refer_to_seen, "<sip:carol@192.0.2.3>");
    std::vector<ReferEventKind> kinds;
    for (const auto& e : a_events) kinds.push_back(e.kind);
    using K = ReferEventKind;
    EXPECT_EQ(kinds, (std::vector<K>{K::refer_request_accepted, K::refer_progress, K::notify, K::refer_accepted,
                                     K::notify, K::ended}));
    ASSERT_FALSE(a_events.empty());
    EXPECT_EQ(a_events.back().outcome, ReferOutcome::accepted);
    EXPECT_TRUE(a_events.back().hang_up);
    EXPECT_TRUE(b_bye_remote);
    EXPECT_EQ(agent.live(), 0u);
    // The BYE follows the 200 to the final NOTIFY.
    auto pos = [&](std::string_view needle) {
        return std::find_if(wire_from_a.begin(), wire_from_a.end(),
                            [&](const std::string& s2) { return s2.find(needle) != std::string::npos; });
    };
    auto last_notify_ok = std::find_if(wire_from_a.rbegin(), wire_from_a.rend(), [](const std::string& s2) {
        return s2.starts_with("SIP/2.0 200") && s2.ends_with("NOTIFY");
    });
    ASSERT_NE(last_notify_ok, wire_from_a.rend());
    auto bye = pos("BYE sip:");
    ASSERT_NE(bye, wire_from_a.end());
    EXPECT_LT(std::distance(wire_from_a.begin(), last_notify_ok.base() - 1), std::distance(wire_from_a.begin(), bye));
}

// ---------------------------------------------------------------- review fixes against a scripted peer

bool empty_counts(const UaCounts& c) {
    return c.sessions == 0 && c.dialogs == 0 && c.requests == 0 && c.incoming == 0 && c.transactions == 0 &&
           c.timers == 0;
}

// Options that keep the call after a successful transfer.
ReferOptions keep_call() {
    ReferOptions o;
    o.active_after_transfer = true;
    return o;
}

// A (core + ReferAgent) and a scripted B (bare core) on the simulated network. B answers calls;
// its REFERs and SUBSCRIBEs go to `b_refer` / `b_subscribe` (default: 200). Everything delivered is recorded.
struct Rig {
    explicit Rig(ReferAgentConfig cfg = agent_config(), UserAgentConfig a_config = config("sip:alice@192.0.2.1", "192.0.2.1:5060", 0x100))
        : a(net, a_addr, std::move(a_config)), b(net, b_addr, config("sip:bob@192.0.2.2", "192.0.2.2:5060", 0x900)),
          agent(a.core(), std::move(cfg)) {
        a.core().on_local_address(Transport::tcp, a_addr, "192.0.2.1:5060");
        b.core().on_local_address(Transport::tcp, b_addr, "192.0.2.2:5060");
        net.on_deliver([this](const sim::Datagram& d, Time) {
            delivered.push_back(d);
            auto m = Message::parse(std::string_view(d.bytes));
            if (!m) return;
            wire.push_back(std::string(d.from == a_addr ? "A> " : "B> ") + std::string(m->start_line()) + " / " +
                           std::to_string(m->cseq().number) + " " + std::string(m->cseq().method_text));
        });
        a.on_event = [this](UaNode& node, UaEvent& ev, Time now) {
            const bool taken = agent.handle(ev, now);
            drain();
            if (taken) return;
            if (answer_app_requests && ev.kind == UaEventKind::request)
                (void)node.core().respond(ev.incoming, status(200), now);
            a_app.push_back(ev);
        };
        a.extra_deadline = [this] { return agent.next_deadline(); };
        a.extra_timer = [this](Time now) {
            agent.on_timer(now);
            drain();
        };
        b.on_event = [this](UaNode& node, UaEvent& ev, Time now) {
            if (ev.kind == UaEventKind::incoming_call) {
                (void)node.core().answer(ev.session, AnswerOptions{}, now);
            } else if (ev.kind == UaEventKind::request) {
                if (ev.method == "REFER" && b_refer) b_refer(node, ev, now);
                else if (ev.method == "SUBSCRIBE" && b_subscribe) b_subscribe(node, ev, now);
                else (void)node.core().respond(ev.incoming, status(200), now);
            }
        };
    }
    static ReferAgentConfig agent_config() {
        return ReferAgentConfig{.aor = "sip:alice@192.0.2.1", .default_domain = "192.0.2.3"};
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
    void drain() {
        while (auto e = agent.poll_event()) {
            a_events.push_back(e->second);
            a_tagged.push_back(*e);
        }
        while (auto t = agent.poll_transferee_event()) a_transferee.push_back(*t);
    }
    // The event kinds of one context, in order.
    [[nodiscard]] std::vector<ReferEventKind> kinds_of(ReferHandle h) const {
        std::vector<ReferEventKind> k;
        for (const auto& [handle, e] : a_tagged)
            if (handle == h) k.push_back(e.kind);
        return k;
    }
    // The `ended` event of one context, nullptr when there is none.
    [[nodiscard]] const ReferEvent* ended_of(ReferHandle h) const {
        for (const auto& [handle, e] : a_tagged)
            if (handle == h && e.kind == ReferEventKind::ended) return &e;
        return nullptr;
    }
    void run(Duration d) { net.run_until(net.now() + d); }
    SessionId call() {
        InviteOptions invite;
        invite.target = "sip:bob@192.0.2.2:5060";
        auto s = a.core().invite(invite, net.now());
        EXPECT_TRUE(s);
        a.pump(net.now());
        run(2s);
        EXPECT_EQ(a.core().session_state(*s), SessionState::confirmed);
        return s ? *s : SessionId{};
    }
    // A calls B, then REFERs B to carol in that call (default options).
    SessionId call_and_refer(ReferOptions options = {}) {
        SessionId ab = call();
        EXPECT_TRUE(agent.refer(ab, "sip:carol@192.0.2.3", std::move(options), net.now()));
        a.pump(net.now());
        return ab;
    }
    // B answers every REFER with `st` and does nothing else.
    void answer_refers(int st) {
        b_refer = [st](UaNode& node, UaEvent& ev, Time now) { (void)node.core().respond(ev.incoming, status(st), now); };
    }
    [[nodiscard]] std::vector<ReferEventKind> kinds() const {
        std::vector<ReferEventKind> k;
        for (const auto& e : a_events) k.push_back(e.kind);
        return k;
    }
    [[nodiscard]] std::size_t responses_to_app() const {
        return static_cast<std::size_t>(std::count_if(a_app.begin(), a_app.end(), [](const UaEvent& e) {
            return e.kind == UaEventKind::response;
        }));
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
    UaNode a, b;
    ReferAgent agent;
    std::vector<ReferEvent> a_events;
    std::vector<std::pair<ReferHandle, ReferEvent>> a_tagged;  // a_events with their context
    std::vector<TransfereeEvent> a_transferee;
    std::vector<UaEvent> a_app;  // events the agent did not take
    bool answer_app_requests = false;  // A's application answers the requests it gets 200
    std::vector<std::string> wire;
    std::vector<sim::Datagram> delivered;
    // B's application for REFER and SUBSCRIBE requests (unset, and for any other request: 200).
    std::function<void(UaNode&, UaEvent&, Time)> b_refer, b_subscribe;
};

using K = ReferEventKind;

// Out of dialog over TCP: B accepts the REFER (202, creating the dialog) and sends the final
// NOTIFY (200 OK, terminated) at once.
void transfer_out_of_dialog_over_tcp(Rig& r) {
    r.b_refer = [&](UaNode& node, UaEvent& ev, Time now) {
        auto d = node.core().respond(ev.incoming, Rig::status(202, true), now);
        ASSERT_TRUE(d && *d);
        ASSERT_TRUE(node.core().send_in_dialog(*d, Rig::notify(ev.message->cseq().number, "terminated;reason=noresource", 200, "OK"), now));
    };
    ASSERT_TRUE(r.agent.refer_out_of_dialog("sip:bob@192.0.2.2:5060;transport=tcp", "sip:carol@192.0.2.3", ReferOptions{},
                                            r.net.now()));
    r.a.pump(r.net.now());
}

// The first NOTIFY B put on the network.
std::vector<sim::Datagram>::const_iterator first_notify_from_b(const Rig& r) {
    return std::find_if(r.delivered.begin(), r.delivered.end(), [&](const sim::Datagram& d) {
        auto m = Message::parse(std::string_view(d.bytes));
        return d.from == r.b_addr && m && m->is_request() && m->method() == Method::notify;
    });
}

// Finding 0: over TCP (Timer J = 0) an exact duplicate of the final NOTIFY, arriving after the
// subscription ended, is answered 200 without any event; a NOTIFY with a new CSeq still gets 481.
TEST(ReferAgentFixes, DuplicateFinalNotifyOverTcpIsAnswered200WithoutEvents) {
    Rig r;
    transfer_out_of_dialog_over_tcp(r);
    r.run(5s);
    ASSERT_FALSE(r.a_events.empty());
    EXPECT_EQ(r.a_events.back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(r.agent.live(), 0u);
    EXPECT_EQ(r.a.core().counts().dialogs, 0u);  // the subscription's dialog is gone
    EXPECT_EQ(r.a.core().counts().transactions, 0u);  // reliable transport: nothing absorbs a retransmission
    auto final_notify = first_notify_from_b(r);
    ASSERT_NE(final_notify, r.delivered.end());
    ASSERT_EQ(final_notify->transport, Transport::tcp);
    const std::string dup = final_notify->bytes;
    const std::size_t events = r.a_events.size(), app = r.a_app.size();

    r.wire.clear();
    r.net.send(Transport::tcp, r.b_addr, r.a_addr, dup);
    r.run(1s);
    EXPECT_EQ(r.on_wire("A> SIP/2.0 200"), 1u) << (r.wire.empty() ? "" : r.wire.back());
    EXPECT_EQ(r.on_wire("A> SIP/2.0 481"), 0u);

    // The same NOTIFY with a new CSeq (and branch) is a new request for an ended subscription.
    std::string fresh = dup;
    auto cseq = Message::parse(std::string_view(dup))->cseq().number;
    auto at = fresh.find("CSeq: " + std::to_string(cseq) + " NOTIFY");
    ASSERT_NE(at, std::string::npos);
    fresh.replace(at, 6 + std::to_string(cseq).size(), "CSeq: " + std::to_string(cseq + 1));
    auto br = fresh.find("z9hG4bK");
    ASSERT_NE(br, std::string::npos);
    fresh.insert(br + 7, "x1");
    r.wire.clear();
    r.net.send(Transport::tcp, r.b_addr, r.a_addr, fresh);
    r.run(1s);
    EXPECT_EQ(r.on_wire("A> SIP/2.0 481"), 1u) << (r.wire.empty() ? "" : r.wire.back());
    EXPECT_EQ(r.a_events.size(), events);  // no event raised by either
    EXPECT_EQ(r.a_app.size(), app);
}

// Finding 0: the memory is bounded in time (configurable; here 5 s): later, the duplicate gets 481.
TEST(ReferAgentFixes, FinalNotifyMemoryExpires) {
    UserAgentConfig ac = config("sip:alice@192.0.2.1", "192.0.2.1:5060", 0x100);
    ac.final_notify_memory = 5s;
    Rig r(Rig::agent_config(), std::move(ac));
    transfer_out_of_dialog_over_tcp(r);
    r.run(2s);
    ASSERT_EQ(r.agent.live(), 0u);
    auto final_notify = first_notify_from_b(r);
    ASSERT_NE(final_notify, r.delivered.end());
    const std::string dup = final_notify->bytes;
    r.run(10s);
    r.wire.clear();
    r.net.send(Transport::tcp, r.b_addr, r.a_addr, dup);
    r.run(1s);
    EXPECT_EQ(r.on_wire("A> SIP/2.0 481"), 1u);
}

// Finding 4: B challenges the REFER (401); the retry has a higher CSeq and B's NOTIFY carrying it
// arrives before the 2xx: it is accepted (200), not 481.
TEST(ReferAgentFixes, NotifyAfterDigestRetryBeatsThe2xx) {
    UserAgentConfig ac = config("sip:alice@192.0.2.1", "192.0.2.1:5060", 0x100);
    ac.credentials = {Credentials{.username = "alice", .password = "secret", .realm = ""}};
    ac.digest_hash = [](DigestAlgorithm, std::string_view) { return std::string(32, 'a'); };  // B does not verify
    Rig r(Rig::agent_config(), std::move(ac));
    std::vector<std::uint32_t> refer_cseqs;
    r.b_refer = [&](UaNode& node, UaEvent& ev, Time now) {
        const std::uint32_t id = ev.message->cseq().number;
        refer_cseqs.push_back(id);
        if (ev.message->find(HeaderId::authorization) == nullptr) {
            UaResponse challenge = Rig::status(401);
            challenge.headers = {{"WWW-Authenticate", "Digest realm=\"example.com\", nonce=\"n1\", qop=\"auth\", algorithm=MD5"}};
            (void)node.core().respond(ev.incoming, challenge, now);
            return;
        }
        ASSERT_TRUE(node.core().send_in_dialog(ev.dialog, Rig::notify(id, "active;expires=60", 100, "Trying"), now));
        node.later(now + 1s, [incoming = ev.incoming, dialog = ev.dialog, id](UaNode& n, Time t) {
            (void)n.core().respond(incoming, Rig::status(202), t);
            (void)n.core().send_in_dialog(dialog, Rig::notify(id, "terminated;reason=noresource", 200, "OK"), t);
        });
    };
    SessionId ab = r.call_and_refer(keep_call());
    r.run(5s);
    ASSERT_EQ(refer_cseqs.size(), 2u);
    EXPECT_GT(refer_cseqs[1], refer_cseqs[0]);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_progress, K::notify, K::refer_request_accepted, K::refer_accepted,
                                         K::notify, K::ended}));
    ASSERT_FALSE(r.a_events.empty());
    EXPECT_EQ(r.a_events.front().id, refer_cseqs[1]);
    EXPECT_EQ(r.a_events.back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(r.on_wire("A> SIP/2.0 481"), 0u);
    EXPECT_EQ(r.answers_to("A> SIP/2.0 200", "NOTIFY"), 2u);
    EXPECT_EQ(r.responses_to_app(), 0u);
    // The dialog's CSeq moved past the retry: the next request is not refused 500 (RFC 3261 §12.2.2).
    ASSERT_TRUE(r.a.core().bye(ab, r.net.now()));
    r.a.pump(r.net.now());
    r.run(3s);
    EXPECT_EQ(r.answers_to("B> SIP/2.0 200", "BYE"), 1u);
    auto bye = std::find_if(r.wire.begin(), r.wire.end(), [](const std::string& w) { return w.starts_with("A> BYE "); });
    ASSERT_NE(bye, r.wire.end());
    EXPECT_NE(bye->find(" / " + std::to_string(refer_cseqs[1] + 1) + " BYE"), std::string::npos) << *bye;
}

// Finding 5: a NOTIFY refused 400 (garbled sipfrag) that says terminated ends the context at once,
// before the 2xx; the 2xx then raises nothing and does not leak to the application.
TEST(ReferAgentFixes, RefusedTerminatingNotifyBeforeThe2xxEndsAtOnce) {
    Rig r;
    r.b_refer = [&](UaNode& node, UaEvent& ev, Time now) {
        InDialogRequest bad = Rig::notify(ev.message->cseq().number, "terminated;reason=noresource", 200, "OK");
        bad.body = "this is no sipfrag\r\n";
        ASSERT_TRUE(node.core().send_in_dialog(ev.dialog, bad, now));
        node.later(now + 2s, [incoming = ev.incoming](UaNode& n, Time t) { (void)n.core().respond(incoming, Rig::status(202), t); });
    };
    SessionId ab = r.call_and_refer();
    r.run(1s);  // the NOTIFY came, the 2xx not yet
    EXPECT_EQ(r.on_wire("A> SIP/2.0 400"), 1u);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::ended}));
    ASSERT_FALSE(r.a_events.empty());
    EXPECT_EQ(r.a_events.back().outcome, ReferOutcome::unknown);
    EXPECT_EQ(r.a_events.back().cause, ReferCause::refused_notify);
    EXPECT_EQ(r.agent.live(), 0u);
    r.run(5s);  // the 2xx arrives
    EXPECT_EQ(r.on_wire("B> SIP/2.0 202"), 1u);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::ended}));
    EXPECT_EQ(r.responses_to_app(), 0u);
    EXPECT_EQ(r.a.core().session_state(ab), SessionState::confirmed);  // unknown outcome: the call stays
}

// Finding 6: after a final sipfrag arrived before the 2xx, a later NOTIFY answered 200 still raises
// `notify`.
TEST(ReferAgentFixes, NotifyAfterAnEarlyFinalStillRaisesNotify) {
    Rig r;
    r.b_refer = [&](UaNode& node, UaEvent& ev, Time now) {
        const std::uint32_t id = ev.message->cseq().number;
        ASSERT_TRUE(node.core().send_in_dialog(ev.dialog, Rig::notify(id, "active;expires=60", 200, "OK"), now));
        node.later(now + 500ms, [dialog = ev.dialog, id](UaNode& n, Time t) {
            (void)n.core().send_in_dialog(dialog, Rig::notify(id, "terminated;reason=noresource", 200, "OK"), t);
        });
        node.later(now + 2s, [incoming = ev.incoming](UaNode& n, Time t) { (void)n.core().respond(incoming, Rig::status(202), t); });
    };
    SessionId ab = r.call_and_refer(keep_call());
    r.run(5s);
    EXPECT_EQ(r.answers_to("A> SIP/2.0 200", "NOTIFY"), 2u);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_accepted, K::notify, K::notify, K::refer_request_accepted, K::ended}));
    ASSERT_FALSE(r.a_events.empty());
    EXPECT_EQ(r.a_events.back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(r.a.core().session_state(ab), SessionState::confirmed);  // active_after_transfer
}

// Finding 7: a refreshing SUBSCRIBE answered 481 is the agent's (it does not leak to the
// application) and ends the context: unknown, subscription_ended.
TEST(ReferAgentFixes, RefreshAnswered481EndsTheContext) {
    Rig r;
    r.b_subscribe = [&](UaNode& node, UaEvent& ev, Time now) {
        (void)node.core().respond(ev.incoming, Rig::status(481), now);
    };
    r.b_refer = [&](UaNode& node, UaEvent& ev, Time now) {
        (void)node.core().respond(ev.incoming, Rig::status(202), now);
        ASSERT_TRUE(node.core().send_in_dialog(ev.dialog, Rig::notify(ev.message->cseq().number, "active;expires=40", 100, "Trying"), now));
    };
    SessionId ab = r.call_and_refer();
    r.run(30s);  // refresh at half of 40 s
    EXPECT_EQ(r.on_wire("B> SIP/2.0 481"), 1u);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_accepted, K::refer_progress, K::notify, K::ended}));
    ASSERT_FALSE(r.a_events.empty());
    EXPECT_EQ(r.a_events.back().outcome, ReferOutcome::unknown);
    EXPECT_EQ(r.a_events.back().cause, ReferCause::subscription_ended);
    EXPECT_EQ(r.responses_to_app(), 0u);
    EXPECT_EQ(r.agent.live(), 0u);
    EXPECT_EQ(r.a.core().session_state(ab), SessionState::confirmed);
}

// Finding 7: the unsubscribing SUBSCRIBE's 200 does not leak either.
TEST(ReferAgentFixes, UnsubscribeResponseIsTheAgents) {
    Rig r;
    r.b_refer = [&](UaNode& node, UaEvent& ev, Time now) {
        (void)node.core().respond(ev.incoming, Rig::status(202), now);
        ASSERT_TRUE(node.core().send_in_dialog(ev.dialog, Rig::notify(ev.message->cseq().number, "active;expires=60", 100, "Trying"), now));
    };
    SessionId ab = r.call();
    auto h = r.agent.refer(ab, "sip:carol@192.0.2.3", ReferOptions{}, r.net.now());
    ASSERT_TRUE(h);
    r.a.pump(r.net.now());
    r.run(2s);
    ASSERT_TRUE(r.agent.unsubscribe(*h, r.net.now()));
    r.a.pump(r.net.now());
    r.run(40s);  // B sends no final NOTIFY: the NOTIFY wait ends it
    EXPECT_EQ(r.answers_to("B> SIP/2.0 200", "SUBSCRIBE"), 1u);
    ASSERT_FALSE(r.a_events.empty());
    EXPECT_EQ(r.a_events.back().cause, ReferCause::unsubscribed);
    EXPECT_EQ(r.responses_to_app(), 0u);
}

// Finding 10: a forked out-of-dialog REFER (RFC 6665 §4.1.2.4): a NOTIFY from a second notifier
// (new From tag) after the 2xx creates a dialog of its own and reaches the same context; every
// dialog is released when the context ends.
TEST(ReferAgentFixes, ForkedOutOfDialogReferAcceptsNotifiesFromEachFork) {
    Rig r;
    r.b_refer = [&](UaNode& node, UaEvent& ev, Time now) {
        auto d = node.core().respond(ev.incoming, Rig::status(202, true), now);
        ASSERT_TRUE(d && *d);
        ASSERT_TRUE(node.core().send_in_dialog(*d, Rig::notify(ev.message->cseq().number, "active;expires=60", 100, "Trying"), now));
    };
    ASSERT_TRUE(r.agent.refer_out_of_dialog("sip:bob@192.0.2.2:5060", "sip:carol@192.0.2.3", ReferOptions{}, r.net.now()));
    r.a.pump(r.net.now());
    r.run(2s);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_accepted, K::refer_progress, K::notify}));
    auto first = first_notify_from_b(r);
    ASSERT_NE(first, r.delivered.end());
    // The other fork's NOTIFY: same Call-ID and To (our tag), its own From tag, final status.
    std::string fork = first->bytes;
    const std::string b_tag(Message::parse(std::string_view(first->bytes))->from().tag);
    auto replace = [&](std::string_view from, std::string_view to) {
        auto at = fork.find(from);
        ASSERT_NE(at, std::string::npos) << from;
        fork.replace(at, from.size(), to);
    };
    replace(";tag=" + b_tag, ";tag=fork2");
    replace("z9hG4bK", "z9hG4bKf2");
    replace("active;expires=60", "terminated;reason=noresource");
    replace("SIP/2.0 100 Trying", "SIP/2.0 200 Trying");  // same length: Content-Length holds
    r.wire.clear();
    r.net.send(Transport::udp, r.b_addr, r.a_addr, fork);
    r.run(1s);
    EXPECT_EQ(r.answers_to("A> SIP/2.0 200", "NOTIFY"), 1u);
    EXPECT_EQ(r.on_wire("A> SIP/2.0 481"), 0u);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_accepted, K::refer_progress, K::notify, K::refer_accepted,
                                         K::notify, K::ended}));
    ASSERT_FALSE(r.a_events.empty());
    EXPECT_EQ(r.a_events.back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(r.agent.live(), 0u);
    EXPECT_EQ(r.a.core().counts().dialogs, 0u);  // both forks' dialogs released
    for (const UaEvent& e : r.a_app) EXPECT_NE(e.kind, UaEventKind::request) << e.method;
}

// Finding 3: the policy option hangs up the call after a 481 to the REFER; off by default.
TEST(ReferAgentFixes, ByeOn481PolicyEndsTheCall) {
    for (bool policy : {false, true}) {
        SCOPED_TRACE(policy ? "policy on" : "policy off");
        ReferAgentConfig cfg = Rig::agent_config();
        cfg.bye_on_refer_481_408 = policy;
        Rig r(std::move(cfg));
        r.answer_refers(481);
        SessionId ab = r.call_and_refer();
        r.run(5s);
        EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_rejected, K::ended}));
        ASSERT_FALSE(r.a_events.empty());
        EXPECT_EQ(r.a_events.back().outcome, ReferOutcome::rejected);
        EXPECT_EQ(r.on_wire("A> BYE "), policy ? 1u : 0u);
        if (policy) EXPECT_FALSE(r.a.core().session_state(ab).has_value());
        else EXPECT_EQ(r.a.core().session_state(ab), SessionState::confirmed);
    }
}

// Finding 3: with the policy on, a REFER that times out (synthesised 408) also hangs up the call.
TEST(ReferAgentFixes, ByeOn408PolicyHangsUpAfterATimeout) {
    ReferAgentConfig cfg = Rig::agent_config();
    cfg.bye_on_refer_481_408 = true;
    Rig r(std::move(cfg));
    SessionId ab = r.call();
    sim::LinkConfig dead;
    dead.loss = 1.0;
    r.net.set_link(r.a_addr, r.b_addr, dead);
    ASSERT_TRUE(r.agent.refer(ab, "sip:carol@192.0.2.3", ReferOptions{}, r.net.now()));
    r.a.pump(r.net.now());
    r.run(33s);  // Timer F
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_rejected, K::ended}));
    ASSERT_FALSE(r.a_events.empty());
    EXPECT_EQ(r.a_events.back().outcome, ReferOutcome::failed);
    EXPECT_EQ(r.a_events.back().cause, ReferCause::refer_timeout);
    EXPECT_NE(r.a.core().session_state(ab), SessionState::confirmed);  // BYE sent (ending) or already gone
    r.run(40s);
    EXPECT_FALSE(r.a.core().session_state(ab).has_value());
}

// Finding 9: B accepts the REFER, then vanishes (no NOTIFY ever): the NOTIFY wait ends the context
// (unknown, no_notify); nothing leaks and the call is still usable.
TEST(ReferAgentFixes, PeerVanishesAfterThe2xx) {
    Rig r;
    r.answer_refers(202);
    SessionId ab = r.call_and_refer();
    r.run(31s);
    EXPECT_EQ(r.agent.live(), 1u);
    r.run(5s);  // 32 s after the 2xx
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_accepted, K::ended}));
    ASSERT_FALSE(r.a_events.empty());
    EXPECT_EQ(r.a_events.back().outcome, ReferOutcome::unknown);
    EXPECT_EQ(r.a_events.back().cause, ReferCause::no_notify);
    EXPECT_EQ(r.agent.live(), 0u);
    EXPECT_EQ(r.responses_to_app(), 0u);
    r.a_app.clear();
    ASSERT_TRUE(r.a.core().reinvite(ab, ReinviteOptions{}, r.net.now()));
    r.a.pump(r.net.now());
    r.run(3s);
    EXPECT_TRUE(std::any_of(r.a_app.begin(), r.a_app.end(),
                            [](const UaEvent& e) { return e.kind == UaEventKind::answer_received; }));
    EXPECT_EQ(r.a.core().session_state(ab), SessionState::confirmed);
}

// Finding 9: a malformed NOTIFY (garbled sipfrag) through the full stack gets 400, raises no event
// and changes nothing; the transfer and the call go on.
TEST(ReferAgentFixes, MalformedNotifyIs400AndRaisesNothing) {
    Rig r;
    r.b_refer = [&](UaNode& node, UaEvent& ev, Time now) {
        const std::uint32_t id = ev.message->cseq().number;
        (void)node.core().respond(ev.incoming, Rig::status(202), now);
        InDialogRequest bad = Rig::notify(id, "active;expires=60", 100, "Trying");
        bad.body = "SIP/2.0 abc Broken\r\n";
        ASSERT_TRUE(node.core().send_in_dialog(ev.dialog, bad, now));
        node.later(now + 1s, [dialog = ev.dialog, id](UaNode& n, Time t) {
            (void)n.core().send_in_dialog(dialog, Rig::notify(id, "terminated;reason=noresource", 486, "Busy Here"), t);
        });
    };
    SessionId ab = r.call_and_refer();
    r.run(500ms);
    EXPECT_EQ(r.answers_to("A> SIP/2.0 400", "NOTIFY"), 1u);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_accepted}));
    EXPECT_EQ(r.agent.live(), 1u);
    r.run(3s);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_accepted, K::refer_rejected, K::notify, K::ended}));
    EXPECT_EQ(r.a_events.back().outcome, ReferOutcome::rejected);
    for (const UaEvent& e : r.a_app) EXPECT_NE(e.kind, UaEventKind::request);
    EXPECT_EQ(r.a.core().session_state(ab), SessionState::confirmed);
    ASSERT_TRUE(r.a.core().bye(ab, r.net.now()));
    r.a.pump(r.net.now());
    r.run(60s);  // past Timer J / K (64*T1)
    EXPECT_FALSE(r.a.core().session_state(ab).has_value());
    EXPECT_TRUE(empty_counts(r.a.core().counts()));
}

// ---------------------------------------------------------------- audit gaps

// Gap 1: while a refer subscription lives in the call, NOTIFYs of other event packages in the same
// dialog (dialog, message-summary) are the application's: they reach it as request events and it
// answers them; the transfer goes on unaffected.
TEST(ReferAgentAudit, OtherPackageNotifyDuringTransferReachesTheApplication) {
    Rig r;
    r.answer_app_requests = true;
    r.b_refer = [&](UaNode& node, UaEvent& ev, Time now) {
        const std::uint32_t id = ev.message->cseq().number;
        (void)node.core().respond(ev.incoming, Rig::status(202), now);
        ASSERT_TRUE(node.core().send_in_dialog(ev.dialog, Rig::notify(id, "active;expires=60", 100, "Trying"), now));
        for (const auto& [at, package] : {std::pair{300ms, std::string("dialog")}, std::pair{600ms, std::string("message-summary")}}) {
            node.later(now + at, [dialog = ev.dialog, pkg = package](UaNode& n, Time t) {
                InDialogRequest other{.method = "NOTIFY",
                                      .headers = {{"Event", pkg}, {"Subscription-State", "active;expires=3600"}},
                                      .content_type = {}, .body = {}};
                ASSERT_TRUE(n.core().send_in_dialog(dialog, other, t));
            });
        }
        node.later(now + 1s, [dialog = ev.dialog, id](UaNode& n, Time t) {
            (void)n.core().send_in_dialog(dialog, Rig::notify(id, "terminated;reason=noresource", 200, "OK"), t);
        });
    };
    r.call_and_refer();
    r.run(5s);
    std::vector<std::string> app_notifies;
    for (const UaEvent& e : r.a_app)
        if (e.kind == UaEventKind::request && e.method == "NOTIFY" && e.message && e.message->event())
            app_notifies.push_back(std::string(e.message->event()->package));
    EXPECT_EQ(app_notifies, (std::vector<std::string>{"dialog", "message-summary"}));
    EXPECT_EQ(r.on_wire("A> SIP/2.0 489"), 0u);
    EXPECT_EQ(r.answers_to("A> SIP/2.0 200", "NOTIFY"), 4u);  // 2 refer (agent) + 2 others (application)
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_accepted, K::refer_progress, K::notify, K::refer_accepted,
                                         K::notify, K::ended}));
    ASSERT_FALSE(r.a_events.empty());
    EXPECT_EQ(r.a_events.back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(r.on_wire("A> BYE "), 1u);  // hang up after success, as without the other NOTIFYs
    EXPECT_EQ(r.agent.live(), 0u);
}

// Gap 2: A sends two REFERs to B in one call (B's NOTIFYs for each id interleaved), and B REFERs A
// (back to B itself) while both are live. Each context gets its own NOTIFYs and ends exactly once
// with its own outcome; A's transferee side completes; everything ends empty.
TEST(ReferAgentAudit, TwoRefersInOneDialogAndAReferBackWhileLive) {
    Rig r;
    std::vector<std::uint32_t> ids;
    DialogId b_dialog;
    std::vector<int> b_refer_answers;  // responses B got to its own REFER
    r.b_refer = [&](UaNode& node, UaEvent& ev, Time now) {
        ids.push_back(ev.message->cseq().number);
        b_dialog = ev.dialog;
        (void)node.core().respond(ev.incoming, Rig::status(202), now);
        if (ids.size() != 2) return;
        const std::uint32_t id1 = ids[0], id2 = ids[1];
        const DialogId d = ev.dialog;
        auto notify_at = [&node, d, now](Duration at, std::uint32_t id, std::string state, int st, std::string reason) {
            node.later(now + at, [d, id, state, st, reason](UaNode& n, Time t) {
                ASSERT_TRUE(n.core().send_in_dialog(d, Rig::notify(id, state, st, reason), t));
            });
        };
        notify_at(200ms, id2, "active;expires=60", 100, "Trying");
        notify_at(400ms, id1, "active;expires=60", 100, "Trying");
        node.later(now + 600ms, [d](UaNode& n, Time t) {
            InDialogRequest refer{.method = "REFER",
                                  .headers = {{"Refer-To", "<sip:bob@192.0.2.2:5060>"},
                                              {"Referred-By", "<sip:bob@192.0.2.2>"}},
                                  .content_type = {}, .body = {}};
            ASSERT_TRUE(n.core().send_in_dialog(d, refer, t));
        });
        notify_at(1500ms, id2, "terminated;reason=noresource", 486, "Busy Here");
        notify_at(2000ms, id1, "terminated;reason=noresource", 200, "OK");
    };
    std::vector<std::uint32_t> refer_notify_ids_at_b;  // NOTIFYs from A's transferee side
    std::uint32_t b_refer_cseq = 0;
    r.b.on_event = [&](UaNode& node, UaEvent& ev, Time now) {
        if (ev.kind == UaEventKind::incoming_call) {
            (void)node.core().answer(ev.session, AnswerOptions{}, now);
        } else if (ev.kind == UaEventKind::request) {
            if (ev.method == "REFER") {
                r.b_refer(node, ev, now);
                return;
            }
            if (ev.method == "NOTIFY" && ev.message->event() && ev.message->event()->has_id)
                refer_notify_ids_at_b.push_back(*parse_uint(ev.message->event()->id, 0xffffffffu));
            (void)node.core().respond(ev.incoming, Rig::status(200), now);
        } else if (ev.kind == UaEventKind::response && ev.method == "REFER" && ev.final) {
            b_refer_answers.push_back(ev.status);
            if (ev.message) b_refer_cseq = ev.message->cseq().number;
        }
    };
    SessionId ab = r.call();
    auto h1 = r.agent.refer(ab, "sip:carol@192.0.2.3", ReferOptions{}, r.net.now());
    auto h2 = r.agent.refer(ab, "sip:dave@192.0.2.3", keep_call(), r.net.now());
    ASSERT_TRUE(h1);
    ASSERT_TRUE(h2);
    r.a.pump(r.net.now());
    r.run(5s);

    ASSERT_EQ(ids.size(), 2u);
    EXPECT_LT(ids[0], ids[1]);
    EXPECT_EQ(r.kinds_of(*h1), (std::vector<K>{K::refer_request_accepted, K::refer_progress, K::notify,
                                               K::refer_accepted, K::notify, K::ended}));
    EXPECT_EQ(r.kinds_of(*h2), (std::vector<K>{K::refer_request_accepted, K::refer_progress, K::notify,
                                               K::refer_rejected, K::notify, K::ended}));
    for (const auto& [h, e] : r.a_tagged) EXPECT_EQ(e.id, h == *h1 ? ids[0] : ids[1]) << seed_name(e.kind);
    const ReferEvent* end1 = r.ended_of(*h1);
    const ReferEvent* end2 = r.ended_of(*h2);
    ASSERT_NE(end1, nullptr);
    ASSERT_NE(end2, nullptr);
    EXPECT_EQ(end1->outcome, ReferOutcome::accepted);
    EXPECT_EQ(end1->status, 200);
    EXPECT_TRUE(end1->hang_up);
    EXPECT_EQ(end2->outcome, ReferOutcome::rejected);
    EXPECT_EQ(end2->status, 486);
    EXPECT_FALSE(end2->hang_up);
    EXPECT_EQ(r.answers_to("A> SIP/2.0 200", "NOTIFY"), 4u);
    EXPECT_EQ(r.on_wire("A> SIP/2.0 4"), 0u);  // no 400/481/489 from A

    // B's REFER to A: A's transferee side accepted it, called B and reported the outcome.
    EXPECT_EQ(b_refer_answers, (std::vector<int>{202}));
    std::vector<TransfereeEventKind> tk;
    for (const auto& t : r.a_transferee) tk.push_back(t.kind);
    ASSERT_FALSE(tk.empty());
    EXPECT_EQ(tk.front(), TransfereeEventKind::refer_received);
    EXPECT_EQ(tk.back(), TransfereeEventKind::transfer_ended);
    EXPECT_EQ(std::count(tk.begin(), tk.end(), TransfereeEventKind::transfer_ended), 1);
    EXPECT_EQ(r.a_transferee.back().status, 200);
    ASSERT_FALSE(refer_notify_ids_at_b.empty());
    for (std::uint32_t id : refer_notify_ids_at_b) EXPECT_EQ(id, b_refer_cseq);  // RFC 3515 §2.4.6: B's REFER's CSeq
    EXPECT_EQ(r.agent.live(), 0u);
    EXPECT_EQ(r.agent.transferees_live(), 0u);
    EXPECT_EQ(r.on_wire("A> BYE "), 1u);  // h1 succeeded: the transferred call is hung up

    // The call the transfer placed (A to B again) is the application's: hang it up, then all is empty.
    auto started = std::find_if(r.a_transferee.begin(), r.a_transferee.end(), [](const TransfereeEvent& t) {
        return t.kind == TransfereeEventKind::transfer_started;
    });
    ASSERT_NE(started, r.a_transferee.end());
    const SessionId placed = started->session;
    EXPECT_FALSE(r.a.core().session_state(ab).has_value());
    ASSERT_TRUE(r.a.core().bye(placed, r.net.now()));
    r.a.pump(r.net.now());
    r.run(60s);  // past Timer J / K (64*T1)
    EXPECT_TRUE(empty_counts(r.a.core().counts()));
    EXPECT_TRUE(empty_counts(r.b.core().counts()));
}

// Gap 3: B challenges the REFER (401), the core retries with credentials, B answers 202:
// receive_response saw both, in order, and referRequestAccepted is raised exactly once.
TEST(ReferAgentAudit, ReceiveResponseSeesTheChallengeTheCoreAnswered) {
    UserAgentConfig ac = config("sip:alice@192.0.2.1", "192.0.2.1:5060", 0x100);
    ac.credentials = {Credentials{.username = "alice", .password = "secret", .realm = ""}};
    ac.digest_hash = [](DigestAlgorithm, std::string_view) { return std::string(32, 'a'); };  // B does not verify
    Rig r(Rig::agent_config(), std::move(ac));
    r.b_refer = [&](UaNode& node, UaEvent& ev, Time now) {
        if (ev.message->find(HeaderId::authorization) == nullptr) {
            UaResponse challenge = Rig::status(401);
            challenge.headers = {{"WWW-Authenticate", "Digest realm=\"example.com\", nonce=\"n1\", qop=\"auth\", algorithm=MD5"}};
            (void)node.core().respond(ev.incoming, challenge, now);
            return;
        }
        const std::uint32_t id = ev.message->cseq().number;
        (void)node.core().respond(ev.incoming, Rig::status(202), now);
        ASSERT_TRUE(node.core().send_in_dialog(ev.dialog, Rig::notify(id, "terminated;reason=noresource", 200, "OK"), now));
    };
    std::vector<int> seen;
    std::vector<std::uint32_t> seen_cseq;
    ReferOptions o = keep_call();
    o.receive_response = [&](const Message& m) {
        seen.push_back(m.status());
        seen_cseq.push_back(m.cseq().number);
    };
    r.call_and_refer(std::move(o));
    r.run(5s);
    EXPECT_EQ(seen, (std::vector<int>{401, 202}));
    ASSERT_EQ(seen_cseq.size(), 2u);
    EXPECT_GT(seen_cseq[1], seen_cseq[0]);
    const auto accepted = std::count_if(r.a_events.begin(), r.a_events.end(),
                                        [](const ReferEvent& e) { return e.kind == K::refer_request_accepted; });
    EXPECT_EQ(accepted, 1);
    EXPECT_EQ(std::count_if(r.a_events.begin(), r.a_events.end(),
                            [](const ReferEvent& e) { return e.kind == K::refer_request_rejected; }),
              0);
    ASSERT_FALSE(r.a_events.empty());
    EXPECT_EQ(r.a_events.back().kind, K::ended);
    EXPECT_EQ(r.a_events.back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(r.responses_to_app(), 0u);  // the challenge is the agent's too
}

// Gap 4: attended transfer with a consultation call that is still ringing (proceeding): an error,
// nothing on the wire, no context; either argument order.
TEST(ReferAgentAudit, AttendedTransferWithARingingConsultationCallIsRefused) {
    Rig r;
    SessionId ab = r.call();
    SessionId ringing_at_b;
    r.b.on_event = [&](UaNode& node, UaEvent& ev, Time now) {
        if (ev.kind == UaEventKind::request) {
            if (ev.method == "REFER" && r.b_refer) r.b_refer(node, ev, now);
            else (void)node.core().respond(ev.incoming, Rig::status(200), now);
            return;
        }
        if (ev.kind != UaEventKind::incoming_call) return;
        ringing_at_b = ev.session;
        (void)node.core().answer(ev.session, AnswerOptions{.status = 180, .reason = {}, .headers = {}, .body = std::nullopt}, now);
    };
    InviteOptions invite;
    invite.target = "sip:bob@192.0.2.2:5060";
    auto consult = r.a.core().invite(invite, r.net.now());
    ASSERT_TRUE(consult);
    r.a.pump(r.net.now());
    r.run(1s);
    ASSERT_TRUE(ringing_at_b);
    ASSERT_EQ(r.a.core().session_state(*consult), SessionState::proceeding);
    r.wire.clear();
    for (auto [session, other] : {std::pair{ab, *consult}, std::pair{*consult, ab}}) {
        auto h = r.agent.refer_attended(session, other, ReferOptions{}, r.net.now());
        ASSERT_FALSE(h);
        EXPECT_EQ(h.error().code, ReferStartErrc::not_confirmed) << h.error().detail;
        r.a.pump(r.net.now());
    }
    r.run(1s);
    EXPECT_EQ(r.on_wire("REFER"), 0u);
    EXPECT_EQ(r.agent.live(), 0u);
    EXPECT_TRUE(r.a_events.empty());
    EXPECT_EQ(r.a.core().session_state(ab), SessionState::confirmed);
    EXPECT_EQ(r.a.core().session_state(*consult), SessionState::proceeding);
    // Once the consultation call is answered, the same command succeeds.
    ASSERT_TRUE(r.b.core().answer(ringing_at_b, AnswerOptions{}, r.net.now()));
    r.b.pump(r.net.now());
    r.run(1s);
    ASSERT_EQ(r.a.core().session_state(*consult), SessionState::confirmed);
    r.answer_refers(603);
    EXPECT_TRUE(r.agent.refer_attended(ab, *consult, ReferOptions{}, r.net.now()));
    r.a.pump(r.net.now());
    r.run(1s);
    EXPECT_EQ(r.on_wire("A> REFER "), 1u);
}


// ---------------------------------------------------------------- SPEC-REFER rules on the wire

// Parsed copies of the requests (method given) or responses (status != 0, CSeq method given) that
// `from` put on the network, in order.
std::vector<Message> sent(const Rig& r, const Endpoint& from, Method method, bool responses = false) {
    std::vector<Message> out;
    for (const sim::Datagram& d : r.delivered) {
        if (!(d.from == from)) continue;
        auto m = Message::parse(std::string_view(d.bytes));
        if (!m || m->is_response() != responses) continue;
        if ((responses ? m->cseq().method : m->method()) == method) out.push_back(std::move(*m));
    }
    return out;
}

std::string header_value(const Message& m, HeaderId id) {
    const HeaderField* f = m.find(id);
    return f ? std::string(f->value) : std::string("<absent>");
}

// SPEC "Sending the REFER / In dialog": Call-ID and tags of the dialog, Request-URI = the remote
// target (B's Contact), Route = the route set (RFC 3261 §12.1.2: Record-Route of the 2xx, reversed),
// CSeq = the dialog's next, exactly one Contact; Allow = the Allow of the UA's INVITE.
TEST(SpecRules, InDialogReferCarriesTheDialogsFields) {
    Rig r;
    r.b.on_event = [&](UaNode& node, UaEvent& ev, Time now) {
        if (ev.kind == UaEventKind::incoming_call) {
            // B plays its own proxy: both Record-Route entries lead back to B.
            AnswerOptions answer{.status = 200, .reason = {},
                                 .headers = {{"Record-Route", "<sip:192.0.2.2:5060;lr;rr=2>"},
                                             {"Record-Route", "<sip:192.0.2.2:5060;lr;rr=1>"}},
                                 .body = std::nullopt};
            (void)node.core().answer(ev.session, answer, now);
        } else if (ev.kind == UaEventKind::request) {
            (void)node.core().respond(ev.incoming, Rig::status(ev.method == "REFER" ? 603 : 200), now);
        }
    };
    r.call_and_refer();
    r.run(3s);
    auto invites = sent(r, r.a_addr, Method::invite);
    auto oks = sent(r, r.b_addr, Method::invite, true);
    auto refers = sent(r, r.a_addr, Method::refer);
    ASSERT_EQ(invites.size(), 1u);
    ASSERT_FALSE(oks.empty());
    ASSERT_EQ(refers.size(), 1u);
    const Message& inv = invites.front();
    const Message& ok = oks.back();
    const Message& refer = refers.front();
    ASSERT_EQ(ok.status(), 200);
    EXPECT_EQ(refer.call_id(), inv.call_id());
    EXPECT_FALSE(refer.from().tag.empty());
    EXPECT_EQ(refer.from().tag, inv.from().tag);
    EXPECT_FALSE(ok.to().tag.empty());
    EXPECT_EQ(refer.to().tag, ok.to().tag);
    auto b_contact = ok.contacts();
    ASSERT_TRUE(b_contact);
    ASSERT_EQ(b_contact->entries.size(), 1u);
    EXPECT_EQ(refer.request_uri().text, b_contact->entries.front().uri.text);
    auto routes = refer.name_addrs(HeaderId::route);
    ASSERT_TRUE(routes);
    ASSERT_EQ(routes->size(), 2u);
    EXPECT_EQ((*routes)[0].uri.text, "sip:192.0.2.2:5060;lr;rr=1");
    EXPECT_EQ((*routes)[1].uri.text, "sip:192.0.2.2:5060;lr;rr=2");
    EXPECT_EQ(refer.cseq().number, inv.cseq().number + 1);  // §12.2.1.1: the INVITE was the dialog's last
    EXPECT_EQ(refer.count(HeaderId::contact), 1u);
    auto contacts = refer.contacts();
    ASSERT_TRUE(contacts);
    EXPECT_EQ(contacts->entries.size(), 1u);
    EXPECT_EQ(refer.count(HeaderId::allow), 1u);
    EXPECT_EQ(header_value(refer, HeaderId::allow), header_value(inv, HeaderId::allow));
    EXPECT_EQ(header_value(refer, HeaderId::allow), allow_value(UserAgentConfig{}.app_methods));
    // The 603 arrived: the REFER is rejected and the call goes on.
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_rejected, K::ended}));
}

// SPEC "Out of dialog": a new Call-ID and From tag per REFER, no To tag, CSeq 1, one Contact, the
// UA's Allow.
TEST(SpecRules, OutOfDialogReferStartsAFreshDialog) {
    Rig r;
    r.answer_refers(603);
    for (int i = 0; i < 2; ++i) {
        ASSERT_TRUE(r.agent.refer_out_of_dialog("sip:bob@192.0.2.2:5060", "sip:carol@192.0.2.3", ReferOptions{}, r.net.now()));
        r.a.pump(r.net.now());
        r.run(1s);
    }
    auto refers = sent(r, r.a_addr, Method::refer);
    ASSERT_EQ(refers.size(), 2u);
    for (const Message& refer : refers) {
        EXPECT_EQ(refer.request_uri().text, "sip:bob@192.0.2.2:5060");
        EXPECT_FALSE(refer.call_id().empty());
        EXPECT_FALSE(refer.from().tag.empty());
        EXPECT_TRUE(refer.to().tag.empty());
        EXPECT_EQ(refer.cseq().number, 1u);
        EXPECT_EQ(refer.count(HeaderId::contact), 1u);
        EXPECT_EQ(header_value(refer, HeaderId::allow), allow_value(UserAgentConfig{}.app_methods));
    }
    EXPECT_NE(refers[0].call_id(), refers[1].call_id());
    EXPECT_NE(refers[0].from().tag, refers[1].from().tag);
}

// SPEC "A NOTIFY may arrive before the 2xx": out of dialog, B's 202 is lost on the way (the link
// drops it), B's NOTIFY arrives first and is answered 200; the retransmitted REFER draws the 202
// again from B's server transaction and referRequestAccepted is raised once, after the NOTIFY's events.
TEST(SpecRules, OutOfDialogNotifyBeatingThe2xxIsMatched) {
    Rig r;
    r.b_refer = [&](UaNode& node, UaEvent& ev, Time now) {
        const std::uint32_t id = ev.message->cseq().number;
        r.net.set_link(r.b_addr, r.a_addr, sim::LinkConfig{.loss = 1.0});  // the 202 is lost
        auto d = node.core().respond(ev.incoming, Rig::status(202, true), now);
        ASSERT_TRUE(d && *d);
        node.later(now + 1ms, [&net = r.net, a = r.a_addr, b = r.b_addr, dialog = *d, id](UaNode& n, Time t) {
            net.set_link(b, a, sim::LinkConfig{});
            ASSERT_TRUE(n.core().send_in_dialog(dialog, Rig::notify(id, "active;expires=60", 100, "Trying"), t));
        });
        node.later(now + 2s, [dialog = *d, id](UaNode& n, Time t) {
            ASSERT_TRUE(n.core().send_in_dialog(dialog, Rig::notify(id, "terminated;reason=noresource", 200, "OK"), t));
        });
    };
    ASSERT_TRUE(r.agent.refer_out_of_dialog("sip:bob@192.0.2.2:5060", "sip:carol@192.0.2.3", ReferOptions{}, r.net.now()));
    r.a.pump(r.net.now());
    r.run(300ms);  // the NOTIFY came, no 2xx yet (the REFER's first retransmission is at T1 = 500 ms)
    EXPECT_EQ(r.on_wire("B> SIP/2.0 202"), 0u);
    EXPECT_EQ(r.answers_to("A> SIP/2.0 200", "NOTIFY"), 1u);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_progress, K::notify}));
    r.run(5s);
    EXPECT_EQ(r.on_wire("A> SIP/2.0 481"), 0u);
    EXPECT_GE(r.on_wire("B> SIP/2.0 202"), 1u);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_progress, K::notify, K::refer_request_accepted, K::refer_accepted,
                                         K::notify, K::ended}));
    ASSERT_FALSE(r.a_events.empty());
    EXPECT_EQ(r.a_events.back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(r.agent.live(), 0u);
}

// SPEC "Answer first, then raise events": through the agent and checked on the wire. A wrong
// Content-Type gets 415 with Accept: message/sipfrag; another event package in the dialog is the
// application's; an unknown id gets 481; a garbled sipfrag 400. None raises a transfer event; the
// transfer then completes normally.
TEST(SpecRules, RefusedNotifiesAreAnsweredOnTheWireAndRaiseNothing) {
    Rig r;
    r.answer_app_requests = true;
    r.b_refer = [&](UaNode& node, UaEvent& ev, Time now) {
        const std::uint32_t id = ev.message->cseq().number;
        (void)node.core().respond(ev.incoming, Rig::status(202), now);
        InDialogRequest plain = Rig::notify(id, "active;expires=60", 100, "Trying");
        plain.content_type = "text/plain";
        InDialogRequest presence{.method = "NOTIFY",
                                 .headers = {{"Event", "presence"}, {"Subscription-State", "active;expires=3600"}},
                                 .content_type = {}, .body = {}};
        InDialogRequest unknown_id = Rig::notify(id + 1000, "active;expires=60", 100, "Trying");
        InDialogRequest garbled = Rig::notify(id, "active;expires=60", 100, "Trying");
        garbled.body = "SIP/2.0 1x0 Trying\r\n";
        const std::vector<std::pair<Duration, InDialogRequest>> script = {
            {100ms, plain}, {200ms, presence}, {300ms, unknown_id}, {400ms, garbled},
            {1000ms, Rig::notify(id, "active;expires=60", 180, "Ringing")},
            {1500ms, Rig::notify(id, "terminated;reason=noresource", 200, "OK")}};
        for (const auto& [at, req] : script)
            node.later(now + at, [dialog = ev.dialog, req](UaNode& n, Time t) { ASSERT_TRUE(n.core().send_in_dialog(dialog, req, t)); });
    };
    r.call_and_refer(keep_call());
    r.run(700ms);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_accepted}));  // the four refused/foreign NOTIFYs raised nothing
    r.run(3s);
    std::vector<int> statuses;
    std::string accept_of_415 = "<none>";
    for (const Message& m : sent(r, r.a_addr, Method::notify, true)) {
        statuses.push_back(m.status());
        if (m.status() == 415) accept_of_415 = header_value(m, HeaderId::accept);
    }
    EXPECT_EQ(statuses, (std::vector<int>{415, 200, 481, 400, 200, 200}));
    EXPECT_EQ(accept_of_415, "message/sipfrag");
    std::vector<std::string> app_packages;
    for (const UaEvent& e : r.a_app)
        if (e.kind == UaEventKind::request && e.method == "NOTIFY" && e.message && e.message->event())
            app_packages.push_back(std::string(e.message->event()->package));
    EXPECT_EQ(app_packages, (std::vector<std::string>{"presence"}));
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_accepted, K::refer_progress, K::notify, K::refer_accepted,
                                         K::notify, K::ended}));
    ASSERT_FALSE(r.a_events.empty());
    EXPECT_EQ(r.a_events.back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(r.agent.live(), 0u);
}

// SPEC "Timers ... all configurable" + "retransmitted at 0, T1, 3 T1, ...": with T1 = 100 ms and
// T2 = 400 ms, an unanswered REFER over UDP leaves A at 0, 100, 300, 700, 1100, 1500 ... ms (Timer E
// doubling, capped at T2, RFC 3261 §17.1.2.2) until Timer F = 64 T1 = 6.4 s, then referRequestRejected 408
// and the context ends failed/refer_timeout.
TEST(SpecRules, ReferRetransmissionFollowsConfiguredT1T2) {
    UserAgentConfig ac = config("sip:alice@192.0.2.1", "192.0.2.1:5060", 0x100);
    ac.transaction.t1 = 100ms;
    ac.transaction.t2 = 400ms;
    Rig r(Rig::agent_config(), std::move(ac));
    r.b_refer = [](UaNode&, UaEvent&, Time) {};  // B never answers the REFER
    SessionId ab = r.call();
    std::vector<Duration> at;  // sending instants of A's REFERs, relative to the refer() call
    const Time start = r.net.now();
    r.net.on_deliver([&](const sim::Datagram& d, Time now) {
        auto m = Message::parse(std::string_view(d.bytes));
        if (d.from == r.a_addr && m && m->is_request() && m->method() == Method::refer)
            at.push_back(now - start - sim::LinkConfig{}.latency);  // delivered one link latency after sending
    });
    ASSERT_TRUE(r.agent.refer(ab, "sip:carol@192.0.2.3", ReferOptions{}, start));
    r.a.pump(start);
    r.run(10s);
    std::vector<Duration> expected;
    for (Duration t = 0ms, step = 100ms; t < 6400ms; t += step, step = std::min<Duration>(step * 2, 400ms))
        expected.push_back(t);
    EXPECT_EQ(at, expected);
    ASSERT_FALSE(r.a_events.empty());
    EXPECT_EQ(r.a_events.front().kind, K::refer_request_rejected);
    EXPECT_EQ(r.a_events.front().status, 408);
    EXPECT_EQ(r.a_events.back().kind, K::ended);
    EXPECT_EQ(r.a_events.back().outcome, ReferOutcome::failed);  // never answered (refer.hpp)
    EXPECT_EQ(r.a_events.back().cause, ReferCause::refer_timeout);
    EXPECT_EQ(r.a.core().session_state(ab), SessionState::confirmed);  // default policy: a 408 keeps the call
}

// SPEC "In dialog ... Refused with a clear error (nothing sent) unless the session is confirmed":
// a blind REFER in a call that is still ringing is not_confirmed, and no REFER reaches the wire.
TEST(SpecRules, InDialogReferInARingingCallIsRefusedAndNothingIsSent) {
    Rig r;
    r.b.on_event = [&](UaNode& node, UaEvent& ev, Time now) {
        if (ev.kind == UaEventKind::incoming_call)
            (void)node.core().answer(ev.session, AnswerOptions{.status = 180, .reason = {}, .headers = {}, .body = std::nullopt}, now);
        else if (ev.kind == UaEventKind::request)
            (void)node.core().respond(ev.incoming, Rig::status(200), now);
    };
    InviteOptions invite;
    invite.target = "sip:bob@192.0.2.2:5060";
    auto ringing = r.a.core().invite(invite, r.net.now());
    ASSERT_TRUE(ringing);
    r.a.pump(r.net.now());
    r.run(1s);
    ASSERT_EQ(r.a.core().session_state(*ringing), SessionState::proceeding);
    auto h = r.agent.refer(*ringing, "sip:carol@192.0.2.3", ReferOptions{}, r.net.now());
    ASSERT_FALSE(h);
    EXPECT_EQ(h.error().code, ReferStartErrc::not_confirmed) << h.error().detail;
    EXPECT_FALSE(h.error().detail.empty());
    r.a.pump(r.net.now());
    r.run(1s);
    EXPECT_EQ(r.on_wire("REFER"), 0u);
    EXPECT_EQ(r.agent.live(), 0u);
    EXPECT_TRUE(r.a_events.empty());
}

// SPEC "Subscription-State ... explicit unsubscribe" (RFC 6665 §4.1.2.3, RFC 3515 §2.4.6): the
// unsubscribing SUBSCRIBE goes in the REFER's dialog with Event: refer;id=<the REFER's CSeq> and
// Expires: 0, after the REFER in CSeq order.
TEST(SpecRules, UnsubscribeIsASubscribeWithExpiresZeroAndTheRefersId) {
    Rig r;
    r.b_refer = [&](UaNode& node, UaEvent& ev, Time now) {
        (void)node.core().respond(ev.incoming, Rig::status(202), now);
        ASSERT_TRUE(node.core().send_in_dialog(ev.dialog, Rig::notify(ev.message->cseq().number, "active;expires=60", 100, "Trying"), now));
    };
    SessionId ab = r.call();
    auto h = r.agent.refer(ab, "sip:carol@192.0.2.3", ReferOptions{}, r.net.now());
    ASSERT_TRUE(h);
    r.a.pump(r.net.now());
    r.run(2s);
    ASSERT_TRUE(r.agent.unsubscribe(*h, r.net.now()));
    r.a.pump(r.net.now());
    r.run(2s);
    auto refers = sent(r, r.a_addr, Method::refer);
    auto subscribes = sent(r, r.a_addr, Method::subscribe);
    ASSERT_EQ(refers.size(), 1u);
    ASSERT_EQ(subscribes.size(), 1u);
    const Message& refer = refers.front();
    const Message& sub = subscribes.front();
    EXPECT_EQ(header_value(sub, HeaderId::expires), "0");
    const std::string event = header_value(sub, HeaderId::event);
    EXPECT_TRUE(event.starts_with("refer")) << event;
    EXPECT_NE(event.find("id=" + std::to_string(refer.cseq().number)), std::string::npos) << event;
    EXPECT_EQ(sub.call_id(), refer.call_id());
    EXPECT_EQ(sub.from().tag, refer.from().tag);
    EXPECT_EQ(sub.to().tag, refer.to().tag);
    EXPECT_GT(sub.cseq().number, refer.cseq().number);
    EXPECT_EQ(sub.count(HeaderId::contact), 1u);  // SUBSCRIBE is a target refresh (RFC 6665 §4.1.2.1)
}

}  // namespace
}  // namespace referkit
