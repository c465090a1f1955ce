// Soak under a flood: alice calls bob and transfers him to carol, again and again, on the virtual
// clock, while strangers flood alice's and bob's port with what an off-path attacker can send
// (OPTIONS, NOTIFYs for no subscription, out-of-dialog REFERs, MESSAGEs, garbage; 40 sources at
// 300 requests/s together and one heavy source at 150/s, which its per-source share sheds).
// Carol accepts every other call and declines the rest (486), so each transfer has a known true
// outcome. Every cycle: three transfers under the flood, then the flood stops and the network
// goes quiet; then every stack must be empty and the heap in use (glibc mallinfo2) must be back
// at the baseline taken after the first cycle: no growth across cycles.
// Runs for REFERKIT_SOAK_SECONDS of wall time (60 by default).
#include <gtest/gtest.h>
#include <malloc.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "refer_helpers.hpp"

namespace referkit::test {
namespace {
using namespace std::chrono_literals;

std::size_t heap_in_use() { return mallinfo2().uordblks; }

double soak_seconds() {
    if (const char* v = std::getenv("REFERKIT_SOAK_SECONDS")) return std::atof(v);
    return 60;
}

// The three parties, as World's but refusing strangers' out-of-dialog REFERs (the default, R38).
void strict(StackConfig& c) { c.refer.out_of_dialog_refer = OutOfDialogRefer::refuse; }
struct Parties {
    sim::Network net{7};
    Party a{net, "alice", {"192.0.2.1", 5060}, 0x1007, strict};
    Party b{net, "bob", {"192.0.2.2", 5060}, 0x2007, strict};
    Party c{net, "carol", {"192.0.2.3", 5060}, 0x3007, strict};
    Parties() {
        for (Party* p : {&a, &b, &c}) p->record_sent(false);  // the harness keeps no copy of what is sent
    }
};

struct Soak {
    Parties w;
    std::uint64_t sent = 0;
    bool flooding = true;
    int transfers = 0, accepted = 0, rejected = 0;

    std::string stranger_message(std::uint64_t n, const Endpoint& from, const Endpoint& to) {
        const std::string id = std::to_string(n);
        const std::string via = "Via: SIP/2.0/UDP " + from.host + ":5060;branch=z9hG4bKsoak" + id + "\r\n";
        const std::string head = "Max-Forwards: 70\r\nFrom: <sip:x@" + from.host + ">;tag=s" + id + "\r\nCall-ID: soak-" + id + "\r\n";
        const std::string ruri = "sip:u@" + to.host;
        switch (n % 6) {
            case 0: return "OPTIONS " + ruri + " SIP/2.0\r\n" + via + head + "To: <" + ruri + ">\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
            case 1:  // a NOTIFY in a dialog that does not exist: 481
                return "NOTIFY " + ruri + " SIP/2.0\r\n" + via + head + "To: <" + ruri + ">;tag=t" + id +
                       "\r\nCSeq: 2 NOTIFY\r\nEvent: refer;id=1\r\nSubscription-State: terminated;reason=noresource\r\n"
                       "Content-Type: message/sipfrag\r\nContent-Length: 16\r\n\r\nSIP/2.0 486 Busy";
            case 2:  // a NOTIFY outside any dialog: 481
                return "NOTIFY " + ruri + " SIP/2.0\r\n" + via + head + "To: <" + ruri +
                       ">\r\nCSeq: 2 NOTIFY\r\nEvent: refer\r\nSubscription-State: active\r\nContent-Length: 0\r\n\r\n";
            case 3:  // an out-of-dialog REFER: 403
                return "REFER " + ruri + " SIP/2.0\r\n" + via + head + "To: <" + ruri +
                       ">\r\nCSeq: 1 REFER\r\nRefer-To: <sip:victim@203.0.113.9>\r\nContact: <sip:x@" + from.host +
                       ">\r\nContent-Length: 0\r\n\r\n";
            case 4: return "MESSAGE " + ruri + " SIP/2.0\r\n" + via + head + "To: <" + ruri +
                           ">\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi";
            default: return "INVITE sip:" + id + " SIP/2.0\r\n\x01\r\n\r\n";  // garbage
        }
    }

    // Runs the network for `d` in 10 ms steps, flooding while `flooding`.
    void run(Duration d) {
        const Time until = w.net.now() + d;
        while (w.net.now() < until) {
            if (flooding) {
                const Endpoint targets[2] = {w.a.address(), w.b.address()};
                for (int i = 0; i < 3; ++i) {  // 300/s from 40 sources
                    const Endpoint from{"198.51.100." + std::to_string(1 + sent % 40), 5060};
                    w.net.send(Transport::udp, from, targets[sent % 2], stranger_message(sent, from, targets[sent % 2]));
                    ++sent;
                }
                if (sent % 2 == 0) {  // 150/s from one source
                    const Endpoint heavy{"203.0.113.66", 5060};
                    w.net.send(Transport::udp, heavy, targets[sent % 2], stranger_message(sent * 6, heavy, targets[sent % 2]));
                }
                ++sent;
            }
            w.net.run_until(std::min(until, w.net.now() + 10ms));
        }
    }

    // One transfer whose true outcome is carol's answer.
    void transfer() {
        const bool carol_answers = transfers % 2 == 0;
        ++transfers;
        w.c.script.final = carol_answers ? 200 : 486;
        const std::size_t a_before = w.a.refer_events().size(), b_before = w.b.transferee_events().size();
        SessionId ab = w.a.call(w.b, w.net.now());
        run(2s);
        ASSERT_EQ(w.a.stack().session_state(ab), SessionState::confirmed) << "transfer " << transfers;
        ASSERT_TRUE(w.a.stack().refer(ab, w.c.uri(), ReferOptions{}, w.net.now()));
        w.a.pump(w.net.now());
        run(6s);
        const auto a_events = w.a.refer_events();
        ASSERT_GT(a_events.size(), a_before) << "transfer " << transfers;
        EXPECT_EQ(a_events.back().kind, ReferEventKind::ended) << "transfer " << transfers;
        EXPECT_EQ(a_events.back().outcome, carol_answers ? ReferOutcome::accepted : ReferOutcome::rejected)
            << "transfer " << transfers << ": " << w.a.timeline();
        const auto b_events = w.b.transferee_events();
        ASSERT_GT(b_events.size(), b_before);
        EXPECT_EQ(b_events.back().kind, TransfereeEventKind::transfer_ended) << w.b.timeline();
        EXPECT_EQ(b_events.back().status, carol_answers ? 200 : 486);
        (carol_answers ? accepted : rejected) += 1;
        // Calls still up are hung up: alice's when the transfer failed, bob's new call when it worked.
        if (w.a.stack().session_state(ab)) (void)w.a.stack().bye(ab, w.net.now());
        for (std::size_t i = b_before; i < b_events.size(); ++i)
            if (b_events[i].kind == TransfereeEventKind::transfer_started && w.b.stack().session_state(b_events[i].session))
                (void)w.b.stack().bye(b_events[i].session, w.net.now());
        for (SessionId s : w.b.incoming)
            if (w.b.stack().session_state(s)) (void)w.b.stack().bye(s, w.net.now());
        w.a.pump(w.net.now());
        w.b.pump(w.net.now());
        run(2s);
    }

    // The flood stops and everything in flight ends; then every stack is empty.
    void quiet() {
        flooding = false;
        ASSERT_TRUE(w.net.run_until_idle(w.net.now() + 120s));
        for (Party* p : {&w.a, &w.b, &w.c}) {
            EXPECT_TRUE(empty(p->stack().counts())) << p->aor() << " " << describe(p->stack().counts());
            p->clear();
            std::exchange(p->incoming, {});
            p->ended.clear();
        }
        flooding = true;
    }
};

TEST(Soak, TransfersKeepTheirTrueOutcomeUnderAFloodAndMemoryReturnsToItsBaseline) {
    const double seconds = soak_seconds();
    const auto started = std::chrono::steady_clock::now();
    const auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
    Soak s;
    // The heap after the first cycles' quiet spells is the baseline: the first floods grew every
    // table, queue and buffer (the stacks' and the simulator's) to its working size, which then
    // stays. After that, nothing may grow: what a cycle left behind (a record per transfer or per
    // flood message: 3 transfers and 12,000 messages a cycle) would add up over the cycles.
    constexpr int k_warm = 5;
    std::size_t baseline = 0, worst = 0;
    int cycles = 0;
    do {
        for (int i = 0; i < 3; ++i) {
            s.transfer();
            if (testing::Test::HasFatalFailure()) return;
        }
        s.quiet();
        ++cycles;
        const std::size_t heap = heap_in_use();
        if (std::getenv("REFERKIT_SOAK_VERBOSE")) std::printf("cycle %d: heap in use %zu B\n", cycles, heap);
        if (cycles <= k_warm) baseline = std::max(baseline, heap);
        else worst = std::max(worst, heap);
    } while ((elapsed() < seconds || cycles <= k_warm + 1) && !testing::Test::HasFailure());
    std::printf("soak: %d cycles, %d transfers (%d accepted, %d rejected, each its true outcome) under %llu flood "
                "messages in %.1f s; heap in use after quiet spells: at most %zu B in the first %d cycles, at most %zu B "
                "after\n",
                cycles, s.transfers, s.accepted, s.rejected, static_cast<unsigned long long>(s.sent), elapsed(), baseline,
                k_warm, worst);
    EXPECT_LE(worst, baseline + 64 * 1024) << "heap in use grew from " << baseline << " to " << worst;
}

}  // namespace
}  // namespace referkit::test
