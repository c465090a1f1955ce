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
        if (!a) return b;
        if (!b) return a;
        return std::min(*a, *b);
    }
    void on_timer(Time now) override {
        core_.on_timer(now);
        if (extra_timer) extra_timer(now);
        pump(now);
    }
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

}  // namespace
}  // namespace referkit
