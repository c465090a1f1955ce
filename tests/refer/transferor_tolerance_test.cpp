// The transferor against a scripted peer (refer_helpers.hpp, Rig) that makes the mistakes deployed
// peers make (docs/transfer-rules.md R35-R36): a malformed parameter in Subscription-State or Event
// never loses the outcome (RFC 3261 §7.3.1 leniency), and a NOTIFY re-sent with the same CSeq
// after its server transaction ended is answered like a retransmission (RFC 3261 §12.2.2 refuses
// only lower CSeqs).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "refer_helpers.hpp"

namespace referkit::test {
namespace {
using namespace std::chrono_literals;
using K = ReferEventKind;

// The NOTIFY notes A's transfer events carried, in order ("" for none).
std::vector<std::string> notify_notes(const Rig& r) {
    std::vector<std::string> out;
    for (const TransferEvent& e : r.a_events())
        if (e.kind == K::notify) out.push_back(e.note);
    return out;
}

// R35: linphone 5.1 ends a successful transfer with "terminated;reason=reason=noresource" and the
// sipfrag "SIP/2.0 200 Ok": answered 200, the transfer ends accepted, and the note says what was
// skipped.
TEST(TransferTolerance, MalformedSubscriptionStateParameterKeepsTheOutcome) {
    Rig r;
    r.b_refer = [&](StackNode& node, const RequestEvent& ev, Time now) {
        const std::uint32_t id = ev.message.cseq().number;
        (void)node.stack().respond(ev.incoming, Rig::status(202), now);
        const std::vector<std::pair<Duration, InDialogRequest>> script = {
            {100ms, Rig::notify(id, "active;expires=60", 100, "Trying")},
            {500ms, Rig::notify(id, "terminated;reason=reason=noresource", 200, "Ok")}};
        for (const auto& [at, req] : script)
            node.later(now + at, [dialog = ev.dialog, req](StackNode& n, Time t) { ASSERT_TRUE(n.stack().send_in_dialog(dialog, req, t)); });
    };
    r.call_and_refer(keep_call());
    r.run(3s);
    EXPECT_EQ(r.answers_to("A> SIP/2.0 200", "NOTIFY"), 2u);
    EXPECT_EQ(r.on_wire("A> SIP/2.0 400"), 0u);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_accepted, K::refer_progress, K::notify, K::refer_accepted,
                                         K::notify, K::ended}));
    ASSERT_FALSE(r.a_events().empty());
    EXPECT_EQ(r.a_events().back().outcome, ReferOutcome::accepted);
    const std::vector<std::string> notes = notify_notes(r);
    ASSERT_EQ(notes.size(), 2u);
    EXPECT_EQ(notes[0], "");
    EXPECT_NE(notes[1].find("Subscription-State"), std::string::npos) << notes[1];
    EXPECT_EQ(r.stack().counts().transfers, 0u);
}

// R35: a malformed extra parameter in Event does not hide its id: the NOTIFY reaches its
// subscription and the outcome is the sipfrag's.
TEST(TransferTolerance, MalformedEventParameterKeepsTheId) {
    Rig r;
    r.b_refer = [&](StackNode& node, const RequestEvent& ev, Time now) {
        const std::uint32_t id = ev.message.cseq().number;
        (void)node.stack().respond(ev.incoming, Rig::status(202), now);
        InDialogRequest final_notify = Rig::notify(id, "terminated;reason=noresource", 486, "Busy Here");
        final_notify.headers[0].second = "refer;id=" + std::to_string(id) + ";x-vendor=a=b";
        node.later(now + 100ms, [dialog = ev.dialog, final_notify](StackNode& n, Time t) {
            ASSERT_TRUE(n.stack().send_in_dialog(dialog, final_notify, t));
        });
    };
    r.call_and_refer(keep_call());
    r.run(3s);
    EXPECT_EQ(r.answers_to("A> SIP/2.0 200", "NOTIFY"), 1u);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_accepted, K::refer_rejected, K::notify, K::ended}));
    ASSERT_FALSE(r.a_events().empty());
    EXPECT_EQ(r.a_events().back().outcome, ReferOutcome::rejected);
    EXPECT_EQ(r.a_events().back().status, 486);
    const std::vector<std::string> notes = notify_notes(r);
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_NE(notes[0].find("Event"), std::string::npos) << notes[0];
}

// R36: B's NOTIFY comes again, byte for byte, after A's server transaction for it ended (Timer J,
// 64*T1 = 32 s over UDP). It is answered 200 as the first was and raises nothing; a lower CSeq is
// still refused with 500.
TEST(TransferTolerance, NotifyResentAfterItsTransactionEndedGetsTheSameAnswer) {
    Rig r;
    r.accept_refers_with_trying("active;expires=120");
    r.call_and_refer(keep_call());
    r.run(2s);
    ASSERT_EQ(r.kinds(), (std::vector<K>{K::refer_request_accepted, K::refer_progress, K::notify}));
    const sim::Datagram* first = nullptr;
    for (const sim::Datagram& d : r.delivered) {
        auto m = Message::parse(std::string_view(d.bytes));
        if (d.from == r.b_addr && m && m->is_request() && m->method() == Method::notify) first = &d;
    }
    ASSERT_NE(first, nullptr);
    const sim::Datagram again = *first;
    r.run(40s);  // A's server transaction for it is gone
    r.net.send(again.transport, again.from, again.to, again.bytes);
    r.run(1s);
    EXPECT_EQ(r.answers_to("A> SIP/2.0 200", "NOTIFY"), 2u);
    EXPECT_EQ(r.on_wire("A> SIP/2.0 500"), 0u);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_accepted, K::refer_progress, K::notify}));  // nothing new

    // The same request with a lower CSeq is out of order: 500 (RFC 3261 §12.2.2).
    auto m = Message::parse(std::string_view(again.bytes));
    ASSERT_TRUE(m);
    const std::string cseq = std::to_string(m->cseq().number);
    std::string lower = again.bytes;
    const std::size_t at = lower.find("CSeq: " + cseq);
    ASSERT_NE(at, std::string::npos);
    lower.replace(at, 6 + cseq.size(), "CSeq: " + std::to_string(m->cseq().number - 1));
    const std::size_t branch = lower.find("branch=z9hG4bK");
    ASSERT_NE(branch, std::string::npos);
    lower.insert(branch + 14, "lower");  // a new branch: a new server transaction
    r.net.send(again.transport, again.from, again.to, lower);
    r.run(1s);
    EXPECT_EQ(r.on_wire("A> SIP/2.0 500"), 1u);
    EXPECT_EQ(r.kinds(), (std::vector<K>{K::refer_request_accepted, K::refer_progress, K::notify}));
}

}  // namespace
}  // namespace referkit::test
