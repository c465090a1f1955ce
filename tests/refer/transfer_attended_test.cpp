// Attended transfer end to end on the virtual clock: three full Stacks on the simulated network
// (RFC 5589 §7, RFC 3891 Replaces), their applications scripted (refer_helpers.hpp, Party).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "refer_helpers.hpp"

namespace referkit::test {
namespace {
using namespace std::chrono_literals;

// ---------------------------------------------------------------- attended transfer

TEST(TransferE2e, AttendedTransferReplacesCarolsCallWithAlice) {
    World w(6);
    SessionId ab = w.a.call(w.b, w.net.now());
    SessionId ac = w.a.call(w.c, w.net.now());
    w.run(2s);
    ASSERT_EQ(w.a.stack().session_state(ab), SessionState::confirmed);
    ASSERT_EQ(w.a.stack().session_state(ac), SessionState::confirmed);
    ASSERT_EQ(w.c.incoming.size(), 1u);
    SessionId ca = w.c.incoming[0];

    auto h = w.a.stack().refer_attended(ab, ac, ReferOptions{}, w.net.now());
    ASSERT_TRUE(h) << h.error().detail;
    w.a.pump(w.net.now());
    w.run(10s);

    // C replaced its call with A by B's call and hung up on A.
    ASSERT_EQ(w.c.transferee_events().size(), 1u);
    EXPECT_EQ(w.c.transferee_events()[0].kind, TransfereeEventKind::replaced);
    EXPECT_EQ(w.c.transferee_events()[0].replaced, ca);
    SessionId cb = w.c.transferee_events()[0].session;
    EXPECT_EQ(w.c.stack().session_state(cb), SessionState::confirmed);
    EXPECT_EQ(w.c.incoming.size(), 1u);  // the replacing call was not offered as a new call
    EXPECT_EQ(w.c.ended[ca.value], EndCause::bye_local);
    EXPECT_EQ(w.a.ended[ac.value], EndCause::bye_remote);

    // A saw the transfer succeed and hung up on B.
    ASSERT_FALSE(w.a.refer_events().empty());
    EXPECT_EQ(w.a.refer_events().back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(w.a.ended[ab.value], EndCause::bye_local);
    ASSERT_FALSE(w.b.transferee_events().empty());
    EXPECT_EQ(w.b.transferee_events().back().status, 200);
    w.b_hangs_up_the_new_call();
}

TEST(TransferE2e, ReplacesNamingNoCallIs481) {
    World w(7);
    InviteOptions o;
    o.target = w.c.uri();
    o.headers = {{"Replaces", "nosuchcall@192.0.2.9;to-tag=1;from-tag=2"}};
    auto s = w.b.stack().invite(o, w.net.now());
    ASSERT_TRUE(s);
    w.b.pump(w.net.now());
    w.run(5s);
    ASSERT_EQ(w.c.transferee_events().size(), 1u);
    EXPECT_EQ(w.c.transferee_events()[0].kind, TransfereeEventKind::replace_rejected);
    EXPECT_EQ(w.c.transferee_events()[0].status, 481);
    EXPECT_TRUE(w.c.incoming.empty());
    EXPECT_EQ(w.b.ended.count(s->value), 1u);
    w.expect_empty_when_idle({&w.a, &w.b, &w.c}, 120s);
}

TEST(TransferE2e, ReplacesWithEarlyOnlyOnAConfirmedCallIs486AndTheCallStays) {
    World w(8);
    SessionId ac = w.a.call(w.c, w.net.now());
    w.run(2s);
    ASSERT_EQ(w.c.incoming.size(), 1u);
    SessionId ca = w.c.incoming[0];
    auto d = w.a.stack().session_dialog(ac);
    ASSERT_TRUE(d);
    auto info = w.a.stack().dialog_info(*d);
    ASSERT_TRUE(info);
    InviteOptions o;
    o.target = w.c.uri();
    // Seen from C: to-tag = C's tag = A's remote tag; from-tag = A's tag.
    // Referred-By A: B acts for the replaced party (R39), so the 486 is the RFC 3891 §3 answer.
    o.headers = {{"Replaces", info->call_id + ";to-tag=" + info->remote_tag + ";from-tag=" + info->local_tag +
                                  ";early-only"},
                 {"Referred-By", "<" + w.a.aor() + ">"}};
    ASSERT_TRUE(w.b.stack().invite(o, w.net.now()));
    w.b.pump(w.net.now());
    w.run(5s);
    ASSERT_EQ(w.c.transferee_events().size(), 1u);
    EXPECT_EQ(w.c.transferee_events()[0].kind, TransfereeEventKind::replace_rejected);
    EXPECT_EQ(w.c.transferee_events()[0].status, 486);
    EXPECT_EQ(w.c.stack().session_state(ca), SessionState::confirmed);
    EXPECT_EQ(w.a.stack().session_state(ac), SessionState::confirmed);
}

TEST(TransferE2e, AttendedTransferOverALossyNetwork) {
    for (std::uint64_t seed = 200; seed < 230; ++seed) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        World w(seed);
        w.net.set_default_link(lossy());
        SessionId ab = w.a.call(w.b, w.net.now());
        SessionId ac = w.a.call(w.c, w.net.now());
        w.run(40s);
        ASSERT_EQ(w.a.stack().session_state(ab), SessionState::confirmed);
        ASSERT_EQ(w.a.stack().session_state(ac), SessionState::confirmed);
        ASSERT_TRUE(w.a.stack().refer_attended(ab, ac, ReferOptions{}, w.net.now()));
        w.a.pump(w.net.now());
        w.run(60s);
        EXPECT_EQ(w.a.count(ReferEventKind::ended), 1u);
        ASSERT_FALSE(w.a.refer_events().empty());
        EXPECT_EQ(w.a.refer_events().back().outcome, ReferOutcome::accepted);
        EXPECT_EQ(w.c.count(TransfereeEventKind::replaced), 1u);
        EXPECT_EQ(w.c.count(TransfereeEventKind::replace_rejected), 0u);
        EXPECT_EQ(w.a.ended.count(ab.value), 1u);
        EXPECT_EQ(w.a.ended.count(ac.value), 1u);
        ASSERT_GE(w.b.transferee_events().size(), 2u);
        w.b_hangs_up_the_new_call(300s);
    }
}

}  // namespace
}  // namespace referkit::test
