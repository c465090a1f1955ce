// Seeded simulations of whole calls (INVITE, hold re-INVITE, BYE) between two Stacks over
// a network that loses 20%, duplicates 10% and reorders 10% of datagrams. For every seed: every
// session that started on either side ends exactly once, and both stacks end empty (no session,
// dialog, request, transaction or timer outlives its protocol timers).
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <variant>

#include "raw_peer.hpp"
#include "referkit/core/stack.hpp"
#include "sim_node.hpp"

namespace referkit {
namespace {

using namespace std::chrono_literals;
using test::StackNode;
using K = SessionEventKind;
using test::invite_to;

const Endpoint a_addr{"10.0.0.1", 5060};
const Endpoint b_addr{"10.0.0.2", 5060};

// The application puts session s on hold (sendonly re-INVITE) at `at`, ignoring a refusal.
void later_hold(StackNode& n, SessionId s, Time at) {
    n.later(at, [s](StackNode& node, Time t) {
        (void)node.stack().reinvite(s, ReinviteOptions{.direction = MediaDirection::sendonly, .body = {}}, t);
    });
}
// The application hangs up session s at `at`, ignoring a refusal.
void later_bye(StackNode& n, SessionId s, Time at) {
    n.later(at, [s](StackNode& node, Time t) { (void)node.stack().bye(s, t); });
}

struct Outcome {
    bool ok = true;
    std::string why;
    int answered = 0;  // calls that reached session_answered on A
    int held = 0;      // hold answers seen by A
};

Outcome run_seed(std::uint64_t seed, bool callee_hangs_up) {
    Outcome out;
    sim::Network net(seed);
    net.set_default_link(sim::LinkConfig{.latency = 20ms, .jitter = 30ms, .loss = 0.2, .duplicate = 0.1,
                                         .reorder = 0.1, .reorder_delay = 150ms});
    StackNode a(net, a_addr, test::ua_config("sip:alice@10.0.0.1", seed * 2 + 1));
    StackNode b(net, b_addr, test::ua_config("sip:bob@10.0.0.2", seed * 2 + 2));
    std::map<std::uint64_t, int> a_ended, b_ended;
    std::map<std::uint64_t, int> b_started;
    b.on_event = [&](StackNode& n, const StackEvent& ev, Time now) {
        const auto* e = std::get_if<SessionEvent>(&ev);
        if (e == nullptr) return;
        if (e->kind == K::incoming_call) {
            ++b_started[e->session.value];
            (void)n.stack().answer(e->session, AnswerOptions{.status = 180, .reason = {}, .headers = {}, .body = {}}, now);
            (void)n.stack().answer(e->session, AnswerOptions{}, now);
        }
        if (e->kind == K::session_ended) ++b_ended[e->session.value];
        if (e->kind == K::session_confirmed && callee_hangs_up) later_bye(n, e->session, now + 3s);
    };
    a.on_event = [&](StackNode& n, const StackEvent& ev, Time now) {
        const auto* e = std::get_if<SessionEvent>(&ev);
        if (e == nullptr) return;
        if (e->kind == K::session_ended) ++a_ended[e->session.value];
        if (e->kind == K::session_answered) {
            ++out.answered;
            later_hold(n, e->session, now + 1s);
        }
        if (e->kind == K::answer_received && e->direction == MediaDirection::recvonly) {
            ++out.held;
            if (!callee_hangs_up) later_bye(n, e->session, now + 1s);
        }
        if (e->kind == K::reinvite_failed && !callee_hangs_up) later_bye(n, e->session, now + 1s);
    };
    auto s = a.stack().invite(invite_to("sip:bob@10.0.0.2:5060"), net.now());
    if (!s) return Outcome{false, "invite refused", 0, 0};
    a.pump(net.now());
    if (!net.run_until_idle(net.now() + 30min)) {
        out.ok = false;
        out.why += "never idle; ";
    }
    if (a_ended.size() != 1 || a_ended.begin()->second != 1) {
        out.ok = false;
        out.why += "A: " + a.timeline() + "; ";
    }
    for (const auto& [id, n] : b_started)
        if (b_ended[id] != n) {
            out.ok = false;
            out.why += "B: " + b.timeline() + "; ";
        }
    for (const auto& [id, n] : b_ended)
        if (n != 1) out.ok = false;
    if (!test::empty(a.stack().counts())) {
        out.ok = false;
        out.why += "A not empty: " + test::describe(a.stack().counts()) + "; ";
    }
    if (!test::empty(b.stack().counts())) {
        out.ok = false;
        out.why += "B not empty: " + test::describe(b.stack().counts()) + "; ";
    }
    return out;
}

TEST(UaSimulation, CallHoldByeUnderLossDuplicationReordering) {
    int answered = 0, held = 0;
    for (std::uint64_t seed = 1; seed <= 200; ++seed) {
        Outcome o = run_seed(seed, false);
        ASSERT_TRUE(o.ok) << "seed " << seed << ": " << o.why;
        answered += o.answered;
        held += o.held;
    }
    // Loss must not make the scenario vacuous: most calls get through and are held.
    EXPECT_GE(answered, 180);
    EXPECT_GE(held, 150);
}

TEST(UaSimulation, CalleeHangsUpUnderLossDuplicationReordering) {
    int answered = 0;
    for (std::uint64_t seed = 1001; seed <= 1200; ++seed) {
        Outcome o = run_seed(seed, true);
        ASSERT_TRUE(o.ok) << "seed " << seed << ": " << o.why;
        answered += o.answered;
    }
    EXPECT_GE(answered, 180);
}

// Both sides hold at the same moment (glare, §14.1: 491 and retries), then A hangs up whatever
// the re-INVITEs' fate.
TEST(UaSimulation, SimultaneousHoldsUnderLossDuplicationReordering) {
    int both_held = 0;
    for (std::uint64_t seed = 2001; seed <= 2100; ++seed) {
        sim::Network net(seed);
        net.set_default_link(sim::LinkConfig{.latency = 20ms, .jitter = 30ms, .loss = 0.2, .duplicate = 0.1,
                                             .reorder = 0.1, .reorder_delay = 150ms});
        StackNode a(net, a_addr, test::ua_config("sip:alice@10.0.0.1", seed * 2 + 1));
        StackNode b(net, b_addr, test::ua_config("sip:bob@10.0.0.2", seed * 2 + 2));
        std::map<std::uint64_t, int> a_ended, b_ended, b_started;
        int a_answers = 0, b_answers = 0;
        const Time hold_at = net.now() + 5s;
        b.on_event = [&](StackNode& n, const StackEvent& ev, Time now) {
            const auto* e = std::get_if<SessionEvent>(&ev);
            if (e == nullptr) return;
            if (e->kind == K::incoming_call) {
                ++b_started[e->session.value];
                (void)n.stack().answer(e->session, AnswerOptions{}, now);
            }
            if (e->kind == K::session_ended) ++b_ended[e->session.value];
            if (e->kind == K::answer_received) ++b_answers;
            if (e->kind == K::session_confirmed && b_started.size() == 1 && now < hold_at)
                later_hold(n, e->session, hold_at);
        };
        a.on_event = [&](StackNode& n, const StackEvent& ev, Time now) {
            const auto* e = std::get_if<SessionEvent>(&ev);
            if (e == nullptr) return;
            if (e->kind == K::session_ended) ++a_ended[e->session.value];
            if (e->kind == K::answer_received && now >= hold_at) ++a_answers;
            if (e->kind == K::session_answered) {
                later_hold(n, e->session, hold_at);
                later_bye(n, e->session, hold_at + 20s);
            }
        };
        auto s = a.stack().invite(invite_to("sip:bob@10.0.0.2:5060"), net.now());
        ASSERT_TRUE(s);
        a.pump(net.now());
        ASSERT_TRUE(net.run_until_idle(net.now() + 30min)) << "seed " << seed;
        ASSERT_EQ(a_ended.size(), 1u) << "seed " << seed << ": " << a.timeline();
        EXPECT_EQ(a_ended.begin()->second, 1) << "seed " << seed;
        for (const auto& [id, n] : b_started) EXPECT_EQ(b_ended[id], n) << "seed " << seed << ": " << b.timeline();
        ASSERT_TRUE(test::holds_nothing(a.stack())) << "seed " << seed;
        ASSERT_TRUE(test::holds_nothing(b.stack())) << "seed " << seed;
        if (a_answers >= 1 && b_answers >= 1) ++both_held;
    }
    EXPECT_GE(both_held, 70);  // most glares are resolved within the 20 s before the BYE
}

}  // namespace
}  // namespace referkit
