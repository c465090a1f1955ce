// Server transactions of RFC 3261 §17.2 (with RFC 6026), response construction and routing,
// matching (§17.1.3, §17.2.3) and CANCEL (§9.2), on a virtual clock.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "txn_fixture.hpp"

namespace referkit::txntest {
namespace {

// ---------------------------------------------------------------- INVITE server (§17.2.1, RFC 6026)

TEST_F(Txn, InviteServerSends100TryingAt200msWhenTheTuIsSilent) {
    receive(incoming("INVITE"));
    auto ev = events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, EventKind::request);
    EXPECT_EQ(L().invite_server_state(ev[0].id), InviteServerState::proceeding);
    run_until(ms(199));
    EXPECT_TRUE(log_.empty());
    run_until(ms(200));
    ASSERT_EQ(log_.size(), 1u);
    EXPECT_EQ(log_[0].at_ms, 200);
    Message trying = parse(log_[0].t.bytes.view());
    EXPECT_EQ(trying.status(), 100);
    EXPECT_TRUE(trying.to().tag.empty());
    // An INVITE retransmission is answered with the latest provisional response.
    at(ms(500));
    receive(incoming("INVITE"));
    ASSERT_EQ(drain().size(), 1u);
    EXPECT_EQ(parse(log_.back().t.bytes.view()).status(), 100);
    EXPECT_TRUE(events().empty());
}

TEST_F(Txn, InviteServerNo100WhenTheTuAnswersWithin200ms) {
    receive(incoming("INVITE"));
    auto id = events()[0].id;
    at(ms(150));
    ASSERT_TRUE(L().respond(id, answer(180), now_));
    run_until(ms(1000));
    auto sent = drain();
    ASSERT_EQ(log_.size(), 1u);
    Message ringing = parse(log_[0].t.bytes.view());
    EXPECT_EQ(ringing.status(), 180);
    EXPECT_EQ(ringing.to().tag, "s1");
}

TEST_F(Txn, InviteServerFailureRetransmitsOnTimerGUntilTimerH) {
    receive(incoming("INVITE"));
    auto id = events()[0].id;
    at(ms(100));
    ASSERT_TRUE(L().respond(id, answer(486), now_));
    drain();
    EXPECT_EQ(L().invite_server_state(id), InviteServerState::completed);
    run_until(ms(32099));
    EXPECT_EQ(sent_times(), (std::vector<std::int64_t>{100, 600, 1600, 3600, 7600, 11600, 15600, 19600, 23600,
                                                       27600, 31600}));
    EXPECT_TRUE(events().empty());
    run_until(ms(32100));  // Timer H: the ACK never came
    auto ev = events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].kind, EventKind::timeout);
    EXPECT_EQ(ev[0].id, id);
    EXPECT_EQ(ev[1].kind, EventKind::terminated);
    EXPECT_EQ(L().transaction_count(), 0u);
    EXPECT_EQ(L().respond(id, answer(500), now_).error(), TransactionError::no_such_transaction);
}

TEST_F(Txn, InviteServerAckConfirmsAndTimerIEnds) {
    receive(incoming("INVITE"));
    auto id = events()[0].id;
    ASSERT_TRUE(L().respond(id, answer(486), now_));
    drain();
    at(ms(700));
    receive(incoming("INVITE"));  // retransmission in Completed: the final again
    ASSERT_EQ(drain().size(), 1u);
    EXPECT_EQ(parse(log_.back().t.bytes.view()).status(), 486);
    receive(incoming("ACK", "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKpeer1", "s1"));
    EXPECT_EQ(L().invite_server_state(id), InviteServerState::confirmed);
    EXPECT_EQ(L().respond(id, answer(200), now_).error(), TransactionError::wrong_state);
    receive(incoming("ACK", "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKpeer1", "s1"));  // absorbed
    receive(incoming("INVITE"));                                                       // absorbed
    EXPECT_TRUE(drain().empty());
    EXPECT_TRUE(events().empty());
    run_until(ms(700 + 4999));
    EXPECT_EQ(L().invite_server_state(id), InviteServerState::confirmed);
    EXPECT_EQ(log_.size(), 3u);  // no G after the ACK
    run_until(ms(5700));  // Timer I = T4
    EXPECT_FALSE(L().invite_server_state(id));
}

TEST_F(Txn, InviteServerTwoXxGoesToAcceptedAndTheAckReachesTheTu) {
    receive(incoming("INVITE"));
    auto id = events()[0].id;
    ASSERT_TRUE(L().respond(id, answer(200), now_));
    EXPECT_EQ(L().invite_server_state(id), InviteServerState::accepted);
    drain();
    at(ms(500));
    receive(incoming("INVITE"));  // absorbed, not answered (RFC 6026 §8.7)
    EXPECT_TRUE(drain().empty());
    ASSERT_TRUE(L().respond(id, answer(200), now_));  // the TU's 2xx retransmission
    EXPECT_EQ(drain().size(), 1u);
    EXPECT_EQ(L().respond(id, answer(486), now_).error(), TransactionError::wrong_state);
    // The ACK for a 2xx has its own branch: it matches nothing and goes to the TU.
    receive(incoming("ACK", "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKack2", "s1", "ACK"));
    auto ev = events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, EventKind::ack);
    EXPECT_FALSE(ev[0].id);
    EXPECT_EQ(ev[0].message->method(), Method::ack);
    EXPECT_EQ(L().counters().stray_acks, 1u);
    // An ACK that does match (same branch) in Accepted is passed up with the transaction's id.
    receive(incoming("ACK", "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKpeer1", "s1"));
    ev = events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, EventKind::ack);
    EXPECT_EQ(ev[0].id, id);
    run_until(ms(31999));
    EXPECT_EQ(L().invite_server_state(id), InviteServerState::accepted);
    run_until(ms(32000));  // Timer L = 64*T1 from the first 2xx (sent at 0, RFC 6026)
    EXPECT_FALSE(L().invite_server_state(id));
}

TEST_F(Txn, InviteServerReliableSendsTheFailureOnceAndEndsOnAck) {
    receive(incoming("INVITE", "SIP/2.0/TCP 192.0.2.1:5070;branch=z9hG4bKpeer1"), tcp_src);
    auto id = events()[0].id;
    ASSERT_TRUE(L().respond(id, answer(486), now_));
    auto sent = drain();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].destination.connection, 7u);  // §18.2.2: the same connection
    run_until(ms(10000));
    EXPECT_EQ(log_.size(), 1u);  // no Timer G
    receive(incoming("ACK", "SIP/2.0/TCP 192.0.2.1:5070;branch=z9hG4bKpeer1", "s1"), tcp_src);
    EXPECT_FALSE(L().invite_server_state(id));  // Timer I = 0
}

TEST_F(Txn, InviteServerAbsorbsRetransmissionsBeforeAnyResponseAndReportsTransportErrors) {
    receive(incoming("INVITE"));
    auto id = events()[0].id;
    at(ms(100));
    receive(incoming("INVITE"));  // nothing to resend yet
    EXPECT_TRUE(drain().empty());
    EXPECT_EQ(L().counters().retransmissions_absorbed, 1u);
    ASSERT_TRUE(L().respond(id, answer(180), now_));
    L().transport_error(drain()[0].transaction, now_);
    auto ev = events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].kind, EventKind::transport_error);
    EXPECT_FALSE(ev[0].message);
    EXPECT_FALSE(L().invite_server_state(id));
    EXPECT_EQ(L().timer_count(), 0u);  // the 100 Trying timer went with it
}

TEST_F(Txn, InviteServerAfterTimerLRefusesFurther2xxAndCancelAfterFinalIsStillAnswered) {
    receive(incoming("INVITE"));
    auto id = events()[0].id;
    ASSERT_TRUE(L().respond(id, answer(486), now_));
    receive(incoming("CANCEL"));  // §9.2: 200 to the CANCEL, no effect on the INVITE
    auto sent = drain();
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_EQ(parse(sent[1].bytes.view()).status(), 200);
    EXPECT_EQ(parse(sent[1].bytes.view()).to().tag, "s1");
    EXPECT_TRUE(events().empty());  // nothing for the TU to do
    EXPECT_EQ(L().invite_server_state(id), InviteServerState::completed);

    receive(incoming("INVITE", "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKpeer2"));
    auto id2 = events()[0].id;
    ASSERT_TRUE(L().respond(id2, answer(200), now_));
    run_until(ms(32000));
    EXPECT_FALSE(L().invite_server_state(id2));
    EXPECT_EQ(L().respond(id2, answer(200), now_).error(), TransactionError::no_such_transaction);
}

// ---------------------------------------------------------------- non-INVITE server (§17.2.2)

TEST_F(Txn, NonInviteServerFullStateTable) {
    receive(incoming("OPTIONS"));
    auto ev = events();
    ASSERT_EQ(ev.size(), 1u);
    auto id = ev[0].id;
    EXPECT_EQ(L().non_invite_server_state(id), NonInviteServerState::trying);
    receive(incoming("OPTIONS"));  // Trying: retransmission discarded
    EXPECT_TRUE(drain().empty());
    EXPECT_TRUE(events().empty());
    run_until(ms(10000));
    EXPECT_TRUE(log_.empty());  // no 100 Trying for non-INVITE
    ASSERT_TRUE(L().respond(id, answer(183), now_));
    EXPECT_EQ(L().non_invite_server_state(id), NonInviteServerState::proceeding);
    receive(incoming("OPTIONS"));  // Proceeding: the provisional again
    ASSERT_TRUE(L().respond(id, answer(200), now_));
    EXPECT_EQ(L().non_invite_server_state(id), NonInviteServerState::completed);
    receive(incoming("OPTIONS"));  // Completed: the final again
    auto sent = drain();
    ASSERT_EQ(sent.size(), 4u);
    EXPECT_EQ(parse(sent[0].bytes.view()).status(), 183);
    EXPECT_EQ(parse(sent[1].bytes.view()).status(), 183);
    EXPECT_EQ(parse(sent[2].bytes.view()).status(), 200);
    EXPECT_EQ(parse(sent[3].bytes.view()).status(), 200);
    EXPECT_EQ(sent[3].bytes.view(), sent[2].bytes.view());
    EXPECT_EQ(L().respond(id, answer(500), now_).error(), TransactionError::wrong_state);
    run_until(ms(10000 + 31999));
    EXPECT_EQ(L().non_invite_server_state(id), NonInviteServerState::completed);
    run_until(ms(42000));  // Timer J = 64*T1
    EXPECT_FALSE(L().non_invite_server_state(id));
    EXPECT_EQ(events().back().kind, EventKind::terminated);
    EXPECT_EQ(L().counters().retransmissions_absorbed, 3u);
}

TEST_F(Txn, NonInviteServerReliableEndsWithTheFinalResponse) {
    receive(incoming("OPTIONS", "SIP/2.0/TCP 192.0.2.1:5070;branch=z9hG4bKpeer1"), tcp_src);
    auto id = events()[0].id;
    ASSERT_TRUE(L().respond(id, answer(200), now_));
    EXPECT_FALSE(L().non_invite_server_state(id));  // Timer J = 0
    EXPECT_EQ(L().timer_count(), 0u);
}

// ---------------------------------------------------------------- responses: construction and routing

TEST_F(Txn, ResponseCopiesHeadersAndRoutesPerRport) {
    receive(incoming("OPTIONS", "SIP/2.0/UDP client.example:5070;branch=z9hG4bKpeer1;rport, SIP/2.0/UDP p.example"));
    auto id = events()[0].id;
    ResponseSpec r = answer(200);
    r.headers = {{"Contact", "<sip:bob@198.51.100.7>"}, {"x-custom", "1"}};
    r.content_type = "text/plain";
    r.body = "hi";
    ASSERT_TRUE(L().respond(id, r, now_));
    auto sent = drain();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].destination.remote, (Endpoint{"192.0.2.1", 40000}));  // RFC 3581: source port
    Message m = parse(sent[0].bytes.view());
    EXPECT_EQ(m.top_via().received, "192.0.2.1");
    EXPECT_EQ(m.top_via().rport, 40000);
    EXPECT_EQ(m.count(HeaderId::via), 2u);
    EXPECT_EQ(m.to().tag, "s1");
    EXPECT_EQ(m.from().tag, "a1");
    EXPECT_EQ(m.call_id(), "c2@example.com");
    EXPECT_EQ(m.cseq().number, 7u);
    EXPECT_EQ(m.body(), "hi");
    ASSERT_NE(m.find("X-Custom"), nullptr);
    ResponseSpec bad = answer(200);
    bad.headers = {{"X-Bad", "a\r\nInjected: 1"}};
    receive(incoming("OPTIONS", "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKpeer2"));
    auto id2 = events()[0].id;
    EXPECT_EQ(L().respond(id2, bad, now_).error(), TransactionError::invalid_response);
    EXPECT_EQ(L().respond(id2, answer(99), now_).error(), TransactionError::invalid_response);
}

TEST_F(Txn, ResponseRoutingWithoutRportUsesSentByPortAndMaddr) {
    receive(incoming("OPTIONS", "SIP/2.0/UDP 192.0.2.1:5071;branch=z9hG4bKpeer1"));
    ASSERT_TRUE(L().respond(events()[0].id, answer(200), now_));
    auto sent = drain();
    EXPECT_EQ(sent[0].destination.remote, (Endpoint{"192.0.2.1", 5071}));
    EXPECT_TRUE(parse(sent[0].bytes.view()).top_via().received.empty());  // sent-by = source address
    receive(incoming("OPTIONS", "SIP/2.0/UDP host.example;branch=z9hG4bKpeer2"));
    ASSERT_TRUE(L().respond(events()[0].id, answer(200), now_));
    sent = drain();
    EXPECT_EQ(sent[0].destination.remote, (Endpoint{"192.0.2.1", 5060}));
    EXPECT_EQ(parse(sent[0].bytes.view()).top_via().received, "192.0.2.1");
    receive(incoming("OPTIONS", "SIP/2.0/UDP host.example:5072;maddr=239.1.1.1;branch=z9hG4bKpeer3"));
    ASSERT_TRUE(L().respond(events()[0].id, answer(200), now_));
    EXPECT_EQ(drain()[0].destination.remote, (Endpoint{"239.1.1.1", 5072}));
}

// ---------------------------------------------------------------- matching (§17.1.3, §17.2.3)

TEST_F(Txn, ServerMatchingUsesBranchSentByAndMethod) {
    receive(incoming("OPTIONS", "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKx"));
    receive(incoming("OPTIONS", "SIP/2.0/UDP 192.0.2.1:5071;branch=z9hG4bKx"));  // other sent-by
    receive(incoming("INFO", "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKx"));     // other method
    receive(incoming("OPTIONS", "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKx"));  // retransmission
    auto ev = events();
    EXPECT_EQ(ev.size(), 3u);
    EXPECT_EQ(L().transaction_count(), 3u);
    EXPECT_EQ(L().counters().retransmissions_absorbed, 1u);
}

TEST_F(Txn, ServerMatchingFallsBackToRfc2543Fields) {
    const std::string via = "SIP/2.0/UDP 192.0.2.1:5070;branch=oldstyle";
    receive(incoming("INVITE", via));
    auto id = events()[0].id;
    receive(incoming("INVITE", via));  // same fields: retransmission
    EXPECT_TRUE(events().empty());
    receive(incoming("INVITE", "SIP/2.0/UDP 192.0.2.1:5070"));  // no branch at all, other Via: new
    auto ev = events();
    ASSERT_EQ(ev.size(), 1u);
    ASSERT_TRUE(L().respond(id, answer(486, "tt"), now_));
    receive(incoming("ACK", via, "other"));  // To tag not the response's: not this transaction
    EXPECT_EQ(L().invite_server_state(id), InviteServerState::completed);
    EXPECT_EQ(events().size(), 1u);  // a stray ACK for the TU
    receive(incoming("ACK", via, "tt"));
    EXPECT_EQ(L().invite_server_state(id), InviteServerState::confirmed);
}

TEST_F(Txn, StrayResponsesAreDroppedAndCounted) {
    auto id = L().send_request(outgoing("OPTIONS"), udp_dest, now_);
    auto first = drain();
    std::string wrong_branch = response_to(first[0], 200);
    wrong_branch.replace(wrong_branch.find("z9hG4bK"), 8, "z9hG4bKX");
    receive(wrong_branch);
    std::string wrong_method = response_to(first[0], 200);
    wrong_method.replace(wrong_method.find("1 OPTIONS"), 9, "1 INFO");
    receive(wrong_method);
    receive("SIP/2.0 200 OK\r\nbroken");
    EXPECT_TRUE(events().empty());
    EXPECT_EQ(L().counters().stray_responses, 2u);
    EXPECT_EQ(L().counters().malformed_responses, 1u);
    EXPECT_EQ(L().non_invite_client_state(*id), NonInviteClientState::trying);
}

// ---------------------------------------------------------------- CANCEL (§9.2)

TEST_F(Txn, CancelMatchesTheInviteIsAnswered200AndTheTuIsTold) {
    receive(incoming("INVITE"));
    auto id = events()[0].id;
    ASSERT_TRUE(L().respond(id, answer(180, "r1"), now_));
    ASSERT_EQ(drain().size(), 1u);
    receive(incoming("CANCEL"));
    auto sent = drain();
    ASSERT_EQ(sent.size(), 1u);
    Message ok = parse(sent[0].bytes.view());
    EXPECT_EQ(ok.status(), 200);
    EXPECT_EQ(ok.cseq().method, Method::cancel);
    EXPECT_EQ(ok.to().tag, "r1");  // §9.2: the tag of the INVITE's responses
    auto ev = events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, EventKind::cancel);
    EXPECT_EQ(ev[0].id, id);
    EXPECT_EQ(ev[0].to_tag, "r1");
    receive(incoming("CANCEL"));  // retransmission: the 200 from the CANCEL's own transaction
    EXPECT_EQ(drain().size(), 1u);
    EXPECT_TRUE(events().empty());
    ASSERT_TRUE(L().respond(id, answer(487), now_));
    EXPECT_EQ(L().invite_server_state(id), InviteServerState::completed);
}

TEST_F(Txn, CancelMatchingNothingGets481) {
    receive(incoming("CANCEL"));
    auto sent = drain();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(parse(sent[0].bytes.view()).status(), 481);
    EXPECT_TRUE(events().empty());
    EXPECT_EQ(L().counters().stray_cancels, 1u);
    EXPECT_EQ(L().transaction_count(), 0u);
}

}  // namespace
}  // namespace referkit::txntest
