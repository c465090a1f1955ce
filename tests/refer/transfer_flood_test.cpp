// A transfer while strangers flood the transferor's port (docs/transfer-rules.md R37): the
// flood is shed (503 with Retry-After), never the transfer's own NOTIFYs. Limits are small so the
// flood is short; the rule is the same at the defaults (Limits::max_transactions_per_source,
// reserved_in_dialog_transactions).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "refer_helpers.hpp"

namespace referkit::test {
namespace {
using namespace std::chrono_literals;

// OPTIONS from `sources` stranger addresses, `each` apiece, all at once: each opens a server
// transaction that lives 64*T1 after its answer (UDP), so they hold the limits for the whole test.
void flood(Rig& r, int sources, int each) {
    for (int s = 0; s < sources; ++s) {
        const Endpoint from{"198.51.100." + std::to_string(10 + s), 5060};
        for (int i = 0; i < each; ++i) {
            const std::string id = std::to_string(s) + "-" + std::to_string(i);
            r.net.send(Transport::udp, from, r.a_addr,
                       "OPTIONS sip:alice@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP " + from.host +
                           ":5060;branch=z9hG4bKflood" + id + "\r\nMax-Forwards: 70\r\nFrom: <sip:x@" + from.host +
                           ">;tag=f" + id + "\r\nTo: <sip:alice@192.0.2.1>\r\nCall-ID: flood-" + id +
                           "\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
        }
    }
}

// B accepts the REFER and sends NOTIFY 100 at once and the final NOTIFY 2 s later; the flood
// comes in between.
void script_b(Rig& r) {
    r.b_refer = [](StackNode& node, const RequestEvent& ev, Time now) {
        const std::uint32_t id = ev.message.cseq().number;
        (void)node.stack().respond(ev.incoming, Rig::status(202), now);
        ASSERT_TRUE(node.stack().send_in_dialog(ev.dialog, Rig::notify(id, "active;expires=60", 100, "Trying"), now));
        node.later(now + 2s, [dialog = ev.dialog, id](StackNode& n, Time t) {
            ASSERT_TRUE(n.stack().send_in_dialog(dialog, Rig::notify(id, "terminated;reason=noresource", 200, "OK"), t));
        });
    };
}

UserAgentConfig small_limits(std::size_t per_source, std::size_t reserve) {
    UserAgentConfig a = refer_ua_config("sip:alice@192.0.2.1", "192.0.2.1:5060", 0x100);
    a.transaction.limits.max_transactions = 64;
    a.transaction.limits.max_transactions_per_source = per_source;
    a.transaction.limits.reserved_in_dialog_transactions = reserve;
    return a;
}

// One stranger sends 200 requests: it is held to its share (16), so the layer never fills and the
// final NOTIFY is served.
TEST(TransferUnderFlood, OneStrangerIsHeldToItsShare) {
    Rig r(Rig::transfer_config(), small_limits(16, 8));
    script_b(r);
    r.call_and_refer(keep_call());
    r.run(1s);
    flood(r, 1, 200);
    r.run(4s);
    EXPECT_EQ(r.answers_to("A> SIP/2.0 200", "NOTIFY"), 2u);
    ASSERT_FALSE(r.a_events().empty());
    EXPECT_EQ(r.a_events().back().outcome, ReferOutcome::accepted);
    EXPECT_EQ(r.stack().transactions().counters().rejected_source_overload, 200u - 16u);
}

// Ten strangers fill every transaction: the final NOTIFY, in a dialog of ours, is admitted from the
// reserve.
TEST(TransferUnderFlood, ManyStrangersFillTheLayerTheNotifyUsesTheReserve) {
    Rig r(Rig::transfer_config(), small_limits(16, 8));
    script_b(r);
    r.call_and_refer(keep_call());
    r.run(1s);
    flood(r, 10, 16);
    r.run(4s);
    const TransactionCounters& c = r.stack().transactions().counters();
    EXPECT_GT(c.rejected_overload, 0u);  // the layer was full
    EXPECT_GE(c.admitted_in_reserve, 1u);
    EXPECT_EQ(r.answers_to("A> SIP/2.0 200", "NOTIFY"), 2u);
    ASSERT_FALSE(r.a_events().empty());
    EXPECT_EQ(r.a_events().back().outcome, ReferOutcome::accepted);
}

// The same flood without a reserve: the final NOTIFY gets 503 like the strangers' requests, so
// the transfer's outcome is lost (what the reserve prevents).
TEST(TransferUnderFlood, WithoutAReserveTheNotifyIsShedToo) {
    Rig r(Rig::transfer_config(), small_limits(16, 0));
    script_b(r);
    r.call_and_refer(keep_call());
    r.run(1s);
    flood(r, 10, 16);
    r.run(4s);
    EXPECT_EQ(r.answers_to("A> SIP/2.0 200", "NOTIFY"), 1u);  // only the NOTIFY 100 before the flood
    EXPECT_GE(r.answers_to("A> SIP/2.0 503", "NOTIFY"), 1u);
    ASSERT_FALSE(r.a_events().empty());
    EXPECT_NE(r.a_events().back().outcome, ReferOutcome::accepted);
}

// UserAgentConfig::max_requests_per_source: requests the application has not answered yet are
// bounded per source address, so one sender cannot fill max_requests for everyone: its next one
// gets 503 while another source's still reaches the application.
TEST(TransferFlood, RequestsWaitingForTheApplicationAreBoundedPerSource) {
    sim::Network net(91);
    UserAgentConfig c = ua_config("sip:alice@192.0.2.1", 0x91);
    c.max_requests_per_source = 2;
    StackNode alice(net, {"192.0.2.1", 5060}, StackConfig{.ua = std::move(c), .refer = {}});  // answers nothing
    std::vector<std::string> answers;
    net.on_deliver([&answers](const sim::Datagram& d, Time) {
        if (d.bytes.starts_with("SIP/2.0 ")) answers.push_back(d.bytes.substr(8, 3) + "@" + d.to.host);
    });
    StackNode mallory(net, {"198.51.100.7", 5060}, ua_config("sip:m@198.51.100.7", 0x92));
    StackNode bob(net, {"192.0.2.2", 5060}, ua_config("sip:bob@192.0.2.2", 0x93));
    const auto message = [&net](StackNode& from, int n) {
        const std::string id = from.address().host + "-" + std::to_string(n);
        net.send(Transport::udp, from.address(), {"192.0.2.1", 5060},
                 "MESSAGE sip:alice@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP " + from.address().host +
                     ":5060;branch=z9hG4bKm" + id + "\r\nMax-Forwards: 70\r\nFrom: <sip:x@" + from.address().host +
                     ">;tag=" + id + "\r\nTo: <sip:alice@192.0.2.1>\r\nCall-ID: " + id +
                     "\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi");
    };
    for (int i = 0; i < 3; ++i) message(mallory, i);
    message(bob, 0);
    net.run_until(net.now() + std::chrono::seconds(1));
    EXPECT_EQ(alice.count<RequestEvent>(), 3u);  // mallory's first two and bob's
    EXPECT_EQ(answers, std::vector<std::string>{"503@198.51.100.7"});
    EXPECT_EQ(alice.stack().counts().incoming, 3u);
    // Once answered (here: the stack's 408 after unanswered_request_timeout), the source may send again.
    net.run_until(net.now() + std::chrono::seconds(40));
    EXPECT_EQ(alice.stack().counts().incoming, 0u);
    message(mallory, 3);
    net.run_until(net.now() + std::chrono::seconds(1));
    EXPECT_EQ(alice.count<RequestEvent>(), 4u);
}

// UserAgentConfig::max_sessions_per_source: a sender whose INVITEs are answered but never ACKed
// (each holds a session for 64*T1) cannot take max_sessions: beyond its share it gets 503, while
// another source's call is still answered; its sessions end without the ACK and free the share.
TEST(TransferFlood, CallsFromOneSourceAreBoundedPerSource) {
    sim::Network net(92);
    UserAgentConfig c = ua_config("sip:alice@192.0.2.1", 0x94);
    c.max_sessions_per_source = 2;
    StackNode alice(net, {"192.0.2.1", 5060}, StackConfig{.ua = std::move(c), .refer = {}});
    alice.on_event = [](StackNode& n, const StackEvent& e, Time now) {
        if (const auto* s = std::get_if<SessionEvent>(&e); s != nullptr && s->kind == SessionEventKind::incoming_call)
            (void)n.stack().answer(s->session, AnswerOptions{}, now);
    };
    std::vector<std::string> finals;
    net.on_deliver([&finals](const sim::Datagram& d, Time) {
        if (d.bytes.starts_with("SIP/2.0 ") && d.bytes.find("INVITE\r\n") != std::string::npos &&
            d.bytes.compare(8, 3, "100") != 0 && d.bytes.compare(8, 3, "180") != 0)
            finals.push_back(d.bytes.substr(8, 3) + "@" + d.to.host);
    });
    StackNode mallory(net, {"198.51.100.7", 5060}, ua_config("sip:m@198.51.100.7", 0x95));
    StackNode bob(net, {"192.0.2.2", 5060}, ua_config("sip:bob@192.0.2.2", 0x96));
    const auto invite = [&net](StackNode& from, int n) {  // never ACKed: the sender is a script
        const std::string id = from.address().host + "-" + std::to_string(n);
        net.send(Transport::udp, from.address(), {"192.0.2.1", 5060},
                 "INVITE sip:alice@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP " + from.address().host +
                     ":5060;branch=z9hG4bKi" + id + "\r\nMax-Forwards: 70\r\nFrom: <sip:x@" + from.address().host +
                     ">;tag=" + id + "\r\nTo: <sip:alice@192.0.2.1>\r\nCall-ID: " + id + "\r\nCSeq: 1 INVITE\r\nContact: <sip:x@" +
                     from.address().host + ">\r\nContent-Length: 0\r\n\r\n");
    };
    for (int i = 0; i < 3; ++i) invite(mallory, i);
    invite(bob, 0);
    net.run_until(net.now() + std::chrono::milliseconds(100));
    std::vector<std::string> sorted = finals;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, (std::vector<std::string>{"200@192.0.2.2", "200@198.51.100.7", "200@198.51.100.7",
                                                "503@198.51.100.7"}));
    EXPECT_EQ(alice.stack().counts().sessions, 3u);
    // No ACK: the sessions end (no_ack) after 64*T1 and the share is free again.
    net.run_until(net.now() + std::chrono::seconds(40));
    EXPECT_EQ(alice.stack().counts().sessions, 0u);
    finals.clear();
    invite(mallory, 3);
    net.run_until(net.now() + std::chrono::milliseconds(100));
    ASSERT_FALSE(finals.empty());
    EXPECT_EQ(finals.front(), "200@198.51.100.7");
}

}  // namespace
}  // namespace referkit::test
