// Who may ask for a transfer (docs/transfer-rules.md R38, R39), end to end on the virtual clock:
// three full Stacks on the simulated network (refer_helpers.hpp, World), C configured per test.
// R38: an out-of-dialog REFER from a referrer nobody approved is refused 403 and nothing is called.
// R39: an INVITE with Replaces is honoured only from the replaced call's party or one it referred
// (RFC 3891 §3), or as ReferConfig::authorize_replace decides.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "refer_helpers.hpp"

namespace referkit::test {
namespace {
using namespace std::chrono_literals;

// C as a stack configured by default for out-of-dialog REFERs (World's parties allow them).
void refuse_out_of_dialog(StackConfig& c) { c.refer.out_of_dialog_refer = OutOfDialogRefer::refuse; }

// Counts the INVITEs the network delivers.
struct InviteCounter {
    explicit InviteCounter(sim::Network& net) {
        net.on_deliver([this](const sim::Datagram& d, Time) {
            if (d.bytes.starts_with("INVITE ")) ++invites;
        });
    }
    int invites = 0;
};

// ---------------------------------------------------------------- R38: out-of-dialog REFER

TEST(TransferAuthorization, OutOfDialogReferIsRefused403ByDefaultAndNothingIsCalled) {
    World w(41, refuse_out_of_dialog);
    InviteCounter counter(w.net);
    auto h = w.a.stack().refer_out_of_dialog(w.c.uri(), w.b.uri(), ReferOptions{}, w.net.now());
    ASSERT_TRUE(h) << h.error().detail;
    w.a.pump(w.net.now());
    w.run(10s);
    // A's transfer: rejected by the 403.
    ASSERT_FALSE(w.a.refer_events().empty());
    EXPECT_EQ(w.a.refer_events().front().kind, ReferEventKind::refer_request_rejected);
    EXPECT_EQ(w.a.refer_events().front().status, 403);
    EXPECT_EQ(w.a.refer_events().back().outcome, ReferOutcome::rejected);
    // C raised nothing and called nobody: no INVITE crossed the network, B was not called.
    EXPECT_TRUE(w.c.transferee_events().empty());
    EXPECT_EQ(counter.invites, 0);
    EXPECT_TRUE(w.b.incoming.empty());
    w.expect_empty_when_idle({&w.a, &w.b, &w.c});
}

TEST(TransferAuthorization, InDialogReferIsStillAcceptedByDefault) {
    World w(42, refuse_out_of_dialog);
    SessionId ac = w.a.call(w.c, w.net.now());
    w.run(2s);
    ASSERT_EQ(w.a.stack().session_state(ac), SessionState::confirmed);
    ASSERT_TRUE(w.a.stack().refer(ac, w.b.uri(), ReferOptions{}, w.net.now()));
    w.a.pump(w.net.now());
    w.run(10s);
    ASSERT_FALSE(w.a.refer_events().empty());
    EXPECT_EQ(w.a.refer_events().back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(w.c.count(TransfereeEventKind::refer_received), 1u);
    EXPECT_EQ(w.b.incoming.size(), 1u);
}

TEST(TransferAuthorization, AllowReferFromSeesTheRequestAndItsSource) {
    std::vector<std::string> seen;
    World w(43, [&seen](StackConfig& c) {
        refuse_out_of_dialog(c);
        c.refer.allow_refer_from = [&seen](const Message& refer, const Source& source) {
            seen.push_back(std::string(refer.from().uri.user) + "@" + source.remote.host);
            return refer.from().uri.user == "alice";
        };
    });
    // Allowed: from alice.
    auto h = w.a.stack().refer_out_of_dialog(w.c.uri(), w.b.uri(), ReferOptions{}, w.net.now());
    ASSERT_TRUE(h) << h.error().detail;
    w.a.pump(w.net.now());
    w.run(10s);
    ASSERT_FALSE(w.a.refer_events().empty());
    EXPECT_EQ(w.a.refer_events().back().outcome, ReferOutcome::accepted);
    ASSERT_EQ(w.b.incoming.size(), 1u);
    // Refused: from bob.
    auto hb = w.b.stack().refer_out_of_dialog(w.c.uri(), w.a.uri(), ReferOptions{}, w.net.now());
    ASSERT_TRUE(hb) << hb.error().detail;
    w.b.pump(w.net.now());
    w.run(10s);
    ASSERT_FALSE(w.b.refer_events().empty());
    EXPECT_EQ(w.b.refer_events().front().kind, ReferEventKind::refer_request_rejected);
    EXPECT_EQ(w.b.refer_events().front().status, 403);
    EXPECT_EQ(w.b.refer_events().back().outcome, ReferOutcome::rejected);
    EXPECT_TRUE(w.a.incoming.empty());
    EXPECT_EQ(seen, (std::vector<std::string>{"alice@192.0.2.1", "bob@192.0.2.2"}));
    EXPECT_EQ(w.c.count(TransfereeEventKind::refer_received), 1u);  // the refused one raised nothing
}

// ---------------------------------------------------------------- R39: Replaces

// An INVITE from `from` to C with Replaces naming A's confirmed call with C (to-tag = C's tag =
// A's remote tag; from-tag = A's tag), with `extra` headers.
std::expected<SessionId, UaError> replace_as(World& w, Party& from, SessionId ac, HeaderList extra) {
    auto d = w.a.stack().session_dialog(ac);
    auto info = d ? w.a.stack().dialog_info(*d) : std::nullopt;
    if (!info) return std::unexpected(UaError::no_such_dialog);
    InviteOptions o;
    o.target = w.c.uri();
    o.headers = {{"Replaces", info->call_id + ";to-tag=" + info->remote_tag + ";from-tag=" + info->local_tag}};
    for (auto& h : extra) o.headers.push_back(std::move(h));
    auto s = from.stack().invite(o, w.net.now());
    from.pump(w.net.now());
    return s;
}

TEST(TransferAuthorization, ReplacesFromAThirdPartyIs403AndTheCallStays) {
    World w(44);
    SessionId ac = w.a.call(w.c, w.net.now());
    w.run(2s);
    ASSERT_EQ(w.c.incoming.size(), 1u);
    SessionId ca = w.c.incoming[0];
    // B knows the dialog's identifiers but is neither A nor referred by A.
    auto s = replace_as(w, w.b, ac, {});
    ASSERT_TRUE(s);
    w.run(5s);
    ASSERT_EQ(w.c.transferee_events().size(), 1u);
    EXPECT_EQ(w.c.transferee_events()[0].kind, TransfereeEventKind::replace_rejected);
    EXPECT_EQ(w.c.transferee_events()[0].status, 403);
    EXPECT_EQ(w.c.transferee_events()[0].replaced, ca);
    EXPECT_EQ(w.b.ended.count(s->value), 1u);  // B's INVITE was refused
    // The call stays up at both ends; no BYE was sent.
    EXPECT_EQ(w.c.stack().session_state(ca), SessionState::confirmed);
    EXPECT_EQ(w.a.stack().session_state(ac), SessionState::confirmed);
    EXPECT_EQ(w.c.ended.count(ca.value), 0u);
    EXPECT_TRUE(w.a.ended.empty());
    // Referred-By naming someone else than A is no better.
    auto s2 = replace_as(w, w.b, ac, {{"Referred-By", "<" + w.b.aor() + ">"}});
    ASSERT_TRUE(s2);
    w.run(5s);
    ASSERT_EQ(w.c.transferee_events().size(), 2u);
    EXPECT_EQ(w.c.transferee_events()[1].status, 403);
    EXPECT_EQ(w.c.stack().session_state(ca), SessionState::confirmed);
}

TEST(TransferAuthorization, ReplacesReferredByTheReplacedPartyIsHonoured) {
    World w(45);
    SessionId ac = w.a.call(w.c, w.net.now());
    w.run(2s);
    ASSERT_EQ(w.c.incoming.size(), 1u);
    SessionId ca = w.c.incoming[0];
    // What B sends in an attended transfer A asked for: Referred-By A (addr-spec, as linphonec writes it).
    auto s = replace_as(w, w.b, ac, {{"Referred-By", w.a.aor()}});
    ASSERT_TRUE(s);
    w.run(5s);
    ASSERT_EQ(w.c.transferee_events().size(), 1u);
    EXPECT_EQ(w.c.transferee_events()[0].kind, TransfereeEventKind::replaced);
    EXPECT_EQ(w.c.ended[ca.value], EndCause::bye_local);
    EXPECT_EQ(w.a.ended[ac.value], EndCause::bye_remote);
}

TEST(TransferAuthorization, ReplacesFromTheReplacedPartyItselfIsHonoured) {
    World w(46);
    SessionId ac = w.a.call(w.c, w.net.now());
    w.run(2s);
    ASSERT_EQ(w.c.incoming.size(), 1u);
    SessionId ca = w.c.incoming[0];
    // A moves its own call to a new one (RFC 3891 §1: the same user from another device).
    auto s = replace_as(w, w.a, ac, {});
    ASSERT_TRUE(s);
    w.run(5s);
    ASSERT_EQ(w.c.transferee_events().size(), 1u);
    EXPECT_EQ(w.c.transferee_events()[0].kind, TransfereeEventKind::replaced);
    EXPECT_EQ(w.c.ended[ca.value], EndCause::bye_local);
    EXPECT_EQ(w.a.stack().session_state(*s), SessionState::confirmed);
}

TEST(TransferAuthorization, AuthorizeReplaceDecidesWithTheRelation) {
    std::vector<ReplaceRelation> asked;
    // A policy that trusts B (a specifically authorized party, RFC 3891 §6 case 4) and refuses
    // what the default would allow.
    World w(47, [&asked](StackConfig& c) {
        c.refer.authorize_replace = [&asked](const Message& invite, SessionId, ReplaceRelation relation) {
            asked.push_back(relation);
            return invite.from().uri.user == "bob";
        };
    });
    SessionId ac = w.a.call(w.c, w.net.now());
    w.run(2s);
    ASSERT_EQ(w.c.incoming.size(), 1u);
    SessionId ca = w.c.incoming[0];
    ASSERT_TRUE(replace_as(w, w.a, ac, {}));  // the same party: the policy refuses
    w.run(5s);
    ASSERT_EQ(w.c.transferee_events().size(), 1u);
    EXPECT_EQ(w.c.transferee_events()[0].status, 403);
    EXPECT_EQ(w.c.stack().session_state(ca), SessionState::confirmed);
    ASSERT_TRUE(replace_as(w, w.b, ac, {}));  // unrelated, but the policy trusts B
    w.run(5s);
    ASSERT_EQ(w.c.transferee_events().size(), 2u);
    EXPECT_EQ(w.c.transferee_events()[1].kind, TransfereeEventKind::replaced);
    EXPECT_EQ(w.c.ended[ca.value], EndCause::bye_local);
    EXPECT_EQ(asked, (std::vector<ReplaceRelation>{ReplaceRelation::same_party, ReplaceRelation::unrelated}));
}

// Found by fuzz_stack: a REFER accepted by policy whose 2xx cannot create its dialog (max_dialogs
// reached) was left unanswered while refer_received reported 202. It is refused 503 instead.
TEST(TransferAuthorization, AReferWhoseDialogExceedsMaxDialogsIsRefused503) {
    World w(44, [](StackConfig& c) { c.ua.max_dialogs = 0; });
    InviteCounter counter(w.net);
    auto h = w.a.stack().refer_out_of_dialog(w.c.uri(), w.b.uri(), ReferOptions{}, w.net.now());
    ASSERT_TRUE(h) << h.error().detail;
    w.a.pump(w.net.now());
    w.run(10s);
    ASSERT_FALSE(w.a.refer_events().empty());
    EXPECT_EQ(w.a.refer_events().front().kind, ReferEventKind::refer_request_rejected);
    EXPECT_EQ(w.a.refer_events().front().status, 503);
    ASSERT_EQ(w.c.transferee_events().size(), 1u);
    EXPECT_EQ(w.c.transferee_events().front().status, 503);  // as answered, not 202
    EXPECT_EQ(counter.invites, 0);
    w.expect_empty_when_idle({&w.a, &w.b, &w.c});
}

}  // namespace
}  // namespace referkit::test
