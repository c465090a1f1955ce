// Client transactions of RFC 3261 §17.1 (with RFC 6026) driven directly on a virtual clock: every
// instant below is exact. Server transactions are in transaction_server_test.cpp, errors, limits
// and review fixes in transaction_edge_test.cpp.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "txn_fixture.hpp"

namespace referkit::txntest {
namespace {

// ---------------------------------------------------------------- non-INVITE client (§17.1.2)

TEST_F(Txn, NonInviteClientUdpRetransmitsOnTheExactScheduleThenTimesOutWith408) {
    auto id = L().send_request(outgoing("OPTIONS"), udp_dest, now_);
    ASSERT_TRUE(id);
    drain();
    EXPECT_EQ(L().non_invite_client_state(*id), NonInviteClientState::trying);
    run_until(ms(31999));
    EXPECT_EQ(sent_times(), (std::vector<std::int64_t>{0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500,
                                                       31500}));
    EXPECT_TRUE(events().empty());
    run_until(ms(32000));  // Timer F = 64*T1
    auto ev = events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].kind, EventKind::timeout);
    EXPECT_EQ(ev[0].id, *id);
    ASSERT_TRUE(ev[0].message);
    EXPECT_EQ(ev[0].message->status(), 408);
    EXPECT_EQ(ev[0].message->cseq().method, Method::options);
    EXPECT_EQ(ev[1].kind, EventKind::terminated);
    EXPECT_EQ(L().transaction_count(), 0u);
    EXPECT_EQ(L().timer_count(), 0u);
    EXPECT_FALSE(L().next_deadline());
}

TEST_F(Txn, NonInviteClientRequestCarriesViaWithFreshBranchAndRport) {
    ASSERT_TRUE(L().send_request(outgoing("OPTIONS"), udp_dest, now_));
    auto t = drain();
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].destination, udp_dest);
    Message m = parse(t[0].bytes.view());
    EXPECT_EQ(m.top_via().transport, "UDP");
    EXPECT_EQ(m.top_via().host, "198.51.100.7");
    EXPECT_EQ(m.top_via().port, 5060);
    EXPECT_EQ(m.top_via().branch, "z9hG4bK0000000000001001");
    EXPECT_TRUE(m.top_via().has_rport);
    ASSERT_TRUE(L().send_request(outgoing("OPTIONS", 2), tcp_dest, now_));
    Message m2 = parse(drain()[0].bytes.view());
    EXPECT_EQ(m2.top_via().transport, "TCP");
    EXPECT_NE(m2.top_via().branch, m.top_via().branch);
}

TEST_F(Txn, LargeRequestsSwitchFromUdpToTcp) {
    std::string big = outgoing("MESSAGE");
    big.insert(big.find("Content-Length"), "X-Pad: " + std::string(1300, 'x') + "\r\n");
    ASSERT_TRUE(L().send_request(big, udp_dest, now_));
    auto t = drain();
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].destination.transport, Transport::tcp);  // §18.1.1
    EXPECT_EQ(parse(t[0].bytes.view()).top_via().transport, "TCP");
    run_until(ms(5000));
    EXPECT_EQ(log_.size(), 1u);  // reliable: no Timer E
}

TEST_F(Txn, NonInviteClientReliableSendsOnceAndTimesOutAtTimerF) {
    auto id = L().send_request(outgoing("OPTIONS"), tcp_dest, now_);
    ASSERT_TRUE(id);
    drain();
    run_until(ms(31999));
    EXPECT_EQ(sent_times(), std::vector<std::int64_t>{0});
    run_until(ms(32000));
    auto ev = events();
    ASSERT_FALSE(ev.empty());
    EXPECT_EQ(ev[0].kind, EventKind::timeout);
    EXPECT_EQ(L().transaction_count(), 0u);
}

TEST_F(Txn, NonInviteClientProceedingRetransmitsAtT2ThenCompletedForT4) {
    auto id = L().send_request(outgoing("OPTIONS"), udp_dest, now_);
    auto first = drain();
    at(ms(100));
    receive(response_to(first[0], 100));
    EXPECT_EQ(L().non_invite_client_state(*id), NonInviteClientState::proceeding);
    auto ev = events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, EventKind::response);
    EXPECT_EQ(ev[0].message->status(), 100);
    run_until(ms(9000));
    // E armed for 500 fires, then T2 = 4 s in Proceeding (§17.1.2.2).
    EXPECT_EQ(sent_times(), (std::vector<std::int64_t>{0, 500, 4500, 8500}));
    receive(response_to(first[0], 200));
    EXPECT_EQ(L().non_invite_client_state(*id), NonInviteClientState::completed);
    ev = events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].message->status(), 200);
    EXPECT_FALSE(ev[0].repeated);
    receive(response_to(first[0], 200));  // retransmission: absorbed
    receive(response_to(first[0], 100));  // late provisional: absorbed
    EXPECT_TRUE(events().empty());
    EXPECT_EQ(L().counters().retransmissions_absorbed, 2u);
    run_until(ms(13999));
    EXPECT_EQ(L().non_invite_client_state(*id), NonInviteClientState::completed);
    EXPECT_EQ(log_.size(), 4u);  // nothing sent in Completed
    run_until(ms(14000));  // Timer K = T4 after the final response
    EXPECT_FALSE(L().non_invite_client_state(*id));
    ev = events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, EventKind::terminated);
}

TEST_F(Txn, NonInviteClientFinalInTryingOverTcpTerminatesAtOnce) {
    auto id = L().send_request(outgoing("OPTIONS"), tcp_dest, now_);
    auto first = drain();
    receive(response_to(first[0], 404), tcp_src);
    auto ev = events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].message->status(), 404);
    EXPECT_EQ(ev[1].kind, EventKind::terminated);
    EXPECT_FALSE(L().non_invite_client_state(*id));
    EXPECT_EQ(L().timer_count(), 0u);
}

// ---------------------------------------------------------------- INVITE client (§17.1.1, RFC 6026)

TEST_F(Txn, InviteClientUdpTimerAScheduleThenTimerB) {
    auto id = L().send_request(outgoing("INVITE"), udp_dest, now_);
    ASSERT_TRUE(id);
    drain();
    EXPECT_EQ(L().invite_client_state(*id), InviteClientState::calling);
    run_until(ms(31999));
    EXPECT_EQ(sent_times(), (std::vector<std::int64_t>{0, 500, 1500, 3500, 7500, 15500, 31500}));
    run_until(ms(32000));
    auto ev = events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].kind, EventKind::timeout);
    EXPECT_EQ(ev[0].message->status(), 408);
    EXPECT_EQ(L().transaction_count(), 0u);
}

TEST_F(Txn, InviteClientProvisionalStopsRetransmissionsAndNonTwoXxIsAckedOnTheSameBranch) {
    auto id = L().send_request(outgoing("INVITE"), udp_dest, now_);
    auto first = drain();
    at(ms(700));
    receive(response_to(first[0], 180));
    EXPECT_EQ(L().invite_client_state(*id), InviteClientState::proceeding);
    EXPECT_EQ(L().timer_count(), 0u);  // no A, no B in Proceeding
    run_until(ms(60000));
    EXPECT_EQ(sent_times(), (std::vector<std::int64_t>{0, 500}));
    receive(response_to(first[0], 486));
    EXPECT_EQ(L().invite_client_state(*id), InviteClientState::completed);
    auto acks = drain();
    ASSERT_EQ(acks.size(), 1u);
    EXPECT_EQ(acks[0].destination, udp_dest);
    Message ack = parse(acks[0].bytes.view());
    Message inv = parse(first[0].bytes.view());
    EXPECT_EQ(ack.method(), Method::ack);
    EXPECT_EQ(ack.top_via().branch, inv.top_via().branch);  // §17.1.1.3
    EXPECT_EQ(ack.count(HeaderId::via), 1u);
    EXPECT_EQ(ack.cseq().number, inv.cseq().number);
    EXPECT_EQ(ack.cseq().method, Method::ack);
    EXPECT_EQ(ack.to().tag, "b1");
    EXPECT_EQ(ack.request_uri().text, inv.request_uri().text);
    auto ev = events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[1].message->status(), 486);
    at(ms(61000));
    receive(response_to(first[0], 486));  // retransmitted final: ACK again, not passed up
    EXPECT_EQ(drain().size(), 1u);
    EXPECT_TRUE(events().empty());
    run_until(ms(60000 + 31999));
    EXPECT_EQ(L().invite_client_state(*id), InviteClientState::completed);
    run_until(ms(92000));  // Timer D = 32 s
    EXPECT_FALSE(L().invite_client_state(*id));
}

TEST_F(Txn, InviteClientTwoXxGoesToAcceptedPassesRepeatsAndEndsAtTimerM) {
    auto id = L().send_request(outgoing("INVITE"), udp_dest, now_);
    auto first = drain();
    at(ms(200));
    receive(response_to(first[0], 200));
    EXPECT_EQ(L().invite_client_state(*id), InviteClientState::accepted);
    EXPECT_TRUE(drain().empty());  // the ACK for a 2xx is the TU's
    auto ev = events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_FALSE(ev[0].repeated);
    at(ms(1000));
    receive(response_to(first[0], 200));
    receive(response_to(first[0], 200, "fork2"));
    ev = events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_TRUE(ev[0].repeated);
    EXPECT_TRUE(ev[1].repeated);
    EXPECT_EQ(ev[1].message->to().tag, "fork2");
    receive(response_to(first[0], 486));  // a non-2xx in Accepted is absorbed
    EXPECT_TRUE(events().empty());
    EXPECT_EQ(sent_times(), std::vector<std::int64_t>{0});
    run_until(ms(32199));
    EXPECT_EQ(L().invite_client_state(*id), InviteClientState::accepted);
    run_until(ms(32200));  // Timer M = 64*T1 (RFC 6026)
    EXPECT_FALSE(L().invite_client_state(*id));
    EXPECT_EQ(L().timer_count(), 0u);
}

TEST_F(Txn, InviteClientReliableSendsOnceAndEndsRightAfterAckingAFailure) {
    auto id = L().send_request(outgoing("INVITE"), tcp_dest, now_);
    auto first = drain();
    run_until(ms(10000));
    EXPECT_EQ(sent_times(), std::vector<std::int64_t>{0});
    receive(response_to(first[0], 603), tcp_src);
    EXPECT_EQ(drain().size(), 1u);  // the ACK
    EXPECT_FALSE(L().invite_client_state(*id));  // Timer D = 0
}

TEST_F(Txn, CancelIsHeldUntilAProvisionalResponseThenSentOnTheInviteBranch) {
    auto inv = L().send_request(outgoing("INVITE"), udp_dest, now_);
    auto first = drain();
    auto cancel = L().cancel(*inv, now_);
    ASSERT_TRUE(cancel);
    EXPECT_TRUE(drain().empty());  // §9.1: not before a provisional response
    EXPECT_EQ(L().cancel(*inv, now_).error(), TransactionError::wrong_state);
    at(ms(300));
    receive(response_to(first[0], 180));
    auto sent = drain();
    ASSERT_EQ(sent.size(), 1u);
    Message c = parse(sent[0].bytes.view());
    EXPECT_EQ(c.method(), Method::cancel);
    EXPECT_EQ(c.top_via().branch, parse(first[0].bytes.view()).top_via().branch);
    EXPECT_EQ(c.cseq().number, 1u);
    EXPECT_EQ(L().non_invite_client_state(*cancel), NonInviteClientState::trying);
    receive(response_to(sent[0], 200));
    EXPECT_EQ(L().non_invite_client_state(*cancel), NonInviteClientState::completed);
    receive(response_to(first[0], 487));
    EXPECT_EQ(L().invite_client_state(*inv), InviteClientState::completed);
    auto ev = events();
    ASSERT_EQ(ev.size(), 3u);
    EXPECT_EQ(ev[1].id, *cancel);
    EXPECT_EQ(ev[1].message->status(), 200);
    EXPECT_EQ(ev[2].message->status(), 487);
}

TEST_F(Txn, HeldCancelIsDroppedWhenTheInviteEndsFirst) {
    auto inv = L().send_request(outgoing("INVITE"), tcp_dest, now_);
    auto first = drain();
    auto cancel = L().cancel(*inv, now_);
    receive(response_to(first[0], 486), tcp_src);
    EXPECT_FALSE(L().non_invite_client_state(*cancel));
    EXPECT_EQ(L().transaction_count(), 0u);
    auto sent = drain();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(parse(sent[0].bytes.view()).method(), Method::ack);
    EXPECT_EQ(L().cancel(*inv, now_).error(), TransactionError::no_such_transaction);
}

// ---------------------------------------------------------------- the typed send path

OutgoingRequest typed(std::string method, std::uint32_t cseq = 1) {
    return OutgoingRequest{.method = std::move(method),
                           .request_uri = "sip:bob@example.com",
                           .routes = {"<sip:proxy.example.com;lr>"},
                           .max_forwards = 70,
                           .from = "<sip:alice@example.com>;tag=a1",
                           .to = "<sip:bob@example.com>",
                           .call_id = "c1@example.com",
                           .cseq = cseq,
                           .headers = {{"Contact", "<sip:alice@198.51.100.7>"}, {"X-Extra", "one"}},
                           .content_type = "text/plain",
                           .body = "hello"};
}

TEST_F(Txn, TypedRequestIsWrittenOnceWithTheViaOnTopAndAnExactContentLength) {
    auto id = L().send_request(typed("MESSAGE"), udp_dest, now_);
    ASSERT_TRUE(id);
    auto sent = drain();
    ASSERT_EQ(sent.size(), 1u);
    const std::string_view text = sent[0].bytes.view();
    EXPECT_TRUE(text.starts_with("MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK"))
        << text;
    Message m = parse(text);
    EXPECT_EQ(m.size(), text.size());  // nothing after the body Content-Length announces
    EXPECT_EQ(m.body(), "hello");
    EXPECT_EQ(m.content_length(), 5u);
    EXPECT_EQ(m.cseq().number, 1u);
    EXPECT_EQ(m.cseq().method, Method::message);
    EXPECT_EQ(m.top_via().transport, "UDP");
    EXPECT_TRUE(m.top_via().has_rport);
    ASSERT_NE(m.find(HeaderId::route), nullptr);
    EXPECT_EQ(m.find(HeaderId::route)->value, "<sip:proxy.example.com;lr>");
    ASSERT_NE(m.find("X-Extra"), nullptr);
    EXPECT_EQ(m.max_forwards(), 70u);
    // The retransmission is the same bytes.
    run_until(ms(500));
    ASSERT_EQ(log_.size(), 2u);
    EXPECT_EQ(log_[1].t.bytes.view(), text);
}

TEST_F(Txn, TypedInviteKeepsItsFieldsForTheCancelTheAckAndTheTimeout) {
    auto id = L().send_request(typed("INVITE"), udp_dest, now_);
    ASSERT_TRUE(id);
    auto first = drain();
    receive(response_to(first[0], 180));
    (void)events();
    auto c = L().cancel(*id, now_);
    ASSERT_TRUE(c);
    auto cancel = drain();
    ASSERT_EQ(cancel.size(), 1u);
    Message cm = parse(cancel[0].bytes.view());
    Message im = parse(first[0].bytes.view());
    // §9.1: same Request-URI, Call-ID, From, To, CSeq number, Route and top Via as the INVITE.
    EXPECT_EQ(cm.method(), Method::cancel);
    EXPECT_EQ(cm.request_uri().text, im.request_uri().text);
    EXPECT_EQ(cm.top_via().branch, im.top_via().branch);
    EXPECT_EQ(cm.cseq().number, im.cseq().number);
    EXPECT_EQ(cm.find(HeaderId::from)->value, im.find(HeaderId::from)->value);
    EXPECT_EQ(cm.find(HeaderId::to)->value, im.find(HeaderId::to)->value);
    EXPECT_EQ(cm.find(HeaderId::route)->value, "<sip:proxy.example.com;lr>");
    EXPECT_EQ(cm.find("X-Extra"), nullptr);
    // The 487 is acknowledged with the INVITE's fields and the response's To (§17.1.1.3).
    receive(response_to(first[0], 487));
    auto acks = drain();
    ASSERT_EQ(acks.size(), 1u);
    Message ack = parse(acks[0].bytes.view());
    EXPECT_EQ(ack.method(), Method::ack);
    EXPECT_EQ(ack.top_via().branch, im.top_via().branch);
    EXPECT_EQ(ack.to().tag, "b1");
    EXPECT_EQ(ack.find(HeaderId::route)->value, "<sip:proxy.example.com;lr>");
    EXPECT_EQ(ack.cseq().method, Method::ack);
}

TEST_F(Txn, TypedRequestTimesOutWithA408MadeFromItsFields) {
    auto id = L().send_request(typed("OPTIONS", 9), tcp_dest, now_);
    ASSERT_TRUE(id);
    drain();
    run_until(ms(32000));
    auto ev = events();
    ASSERT_FALSE(ev.empty());
    ASSERT_TRUE(ev[0].message);
    EXPECT_EQ(ev[0].message->status(), 408);
    EXPECT_EQ(ev[0].message->cseq().number, 9u);
    EXPECT_EQ(ev[0].message->cseq().method, Method::options);
    EXPECT_EQ(ev[0].message->call_id(), "c1@example.com");
    EXPECT_EQ(ev[0].message->top_via().transport, "TCP");
}

TEST_F(Txn, LargeTypedRequestsSwitchFromUdpToTcp) {
    OutgoingRequest big = typed("MESSAGE");
    big.body = std::string(2000, 'x');
    ASSERT_TRUE(L().send_request(big, udp_dest, now_));
    auto sent = drain();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].destination.transport, Transport::tcp);
    EXPECT_EQ(parse(sent[0].bytes.view()).top_via().transport, "TCP");
}

TEST_F(Txn, TypedRequestsThatWouldNotWriteAreRefusedAndNothingIsSent) {
    auto bad = [&](OutgoingRequest r) {
        auto id = L().send_request(std::move(r), udp_dest, now_);
        EXPECT_FALSE(id);
        if (!id) {
            EXPECT_EQ(id.error(), TransactionError::invalid_request);
        }
    };
    OutgoingRequest r = typed("MESSAGE");
    r.method = "BAD METHOD";
    bad(r);
    r = typed("MESSAGE");
    r.request_uri = "not a uri";
    bad(r);
    r = typed("MESSAGE");
    r.headers.emplace_back("X-Inject", "a\r\nVia: SIP/2.0/UDP evil");
    bad(r);
    r = typed("MESSAGE");
    r.headers.emplace_back("Call-ID", "second");  // the request's own field
    bad(r);
    r = typed("MESSAGE");
    r.headers.emplace_back("Expires", "1");
    r.headers.emplace_back("Expires", "2");  // a single-value header twice
    bad(r);
    bad(typed("ACK"));
    bad(typed("CANCEL"));
    EXPECT_TRUE(drain().empty());
    EXPECT_EQ(L().transaction_count(), 0u);
}

TEST_F(Txn, TypedAckForA2xxGoesOutStatelessWithAFreshBranch) {
    OutgoingRequest ack = typed("ACK");
    ack.body.clear();
    ack.content_type.clear();
    ASSERT_TRUE(L().send_stateless(ack, udp_dest, now_));
    auto sent = drain();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].transaction, TransactionId{});
    Message m = parse(sent[0].bytes.view());
    EXPECT_EQ(m.method(), Method::ack);
    EXPECT_TRUE(m.top_via().branch.starts_with("z9hG4bK"));
    EXPECT_EQ(L().transaction_count(), 0u);
}

}  // namespace
}  // namespace referkit::txntest
