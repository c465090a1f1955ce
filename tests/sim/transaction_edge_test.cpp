// The transaction layer's transport errors (§8.1.3.1, §17.2.4), limits, bad input and the fixes
// of its reviews, on a virtual clock.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "txn_fixture.hpp"

namespace referkit::txntest {
namespace {

// ---------------------------------------------------------------- transport errors (§8.1.3.1, §17.2.4)

TEST_F(Txn, TransportErrorGivesTheClientTuA503) {
    auto id = L().send_request(outgoing("INVITE"), tcp_dest, now_);
    auto sent = drain();
    L().transport_error(sent[0].transaction, now_);
    auto ev = events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].kind, EventKind::transport_error);
    EXPECT_EQ(ev[0].id, *id);
    EXPECT_EQ(ev[0].message->status(), 503);
    EXPECT_EQ(ev[1].kind, EventKind::terminated);
    EXPECT_EQ(L().transaction_count(), 0u);
    L().transport_error(*id, now_);  // unknown now: ignored
    EXPECT_TRUE(events().empty());
}

TEST_F(Txn, TransportErrorOnAResponseEndsTheServerTransaction) {
    receive(incoming("OPTIONS"));
    auto id = events()[0].id;
    ASSERT_TRUE(L().respond(id, answer(200), now_));
    L().transport_error(drain()[0].transaction, now_);
    auto ev = events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].kind, EventKind::transport_error);
    EXPECT_EQ(ev[1].kind, EventKind::terminated);
    EXPECT_EQ(L().timer_count(), 0u);
}

// ---------------------------------------------------------------- bad input and limits

// Fair limits (docs/transfer-rules.md R37): one source is held to Limits::max_transactions_per_source (503 with
// Retry-After to it alone), another source is still served, and the count falls as its
// transactions end (Timer J).
TEST_F(Txn, OneSourceIsHeldToItsShareWhileOthersAreServed) {
    TransactionOptions o = options();
    o.limits.max_transactions = 8;
    o.limits.max_transactions_per_source = 3;
    reset(std::move(o));
    for (int i = 0; i < 5; ++i)
        receive(incoming("OPTIONS", "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKflood" + std::to_string(i)));
    const std::vector<TransactionEvent> admitted = events();
    EXPECT_EQ(admitted.size(), 3u);
    auto sent = drain();
    ASSERT_EQ(sent.size(), 2u);
    for (const Transmit& t : sent) {
        Message busy = parse(t.bytes.view());
        EXPECT_EQ(busy.status(), 503);
        EXPECT_NE(busy.find(HeaderId::retry_after), nullptr);
        EXPECT_EQ(t.destination.remote.host, "192.0.2.1");
    }
    EXPECT_EQ(L().counters().rejected_source_overload, 2u);
    EXPECT_EQ(L().counters().rejected_overload, 0u);
    const Source other{Transport::udp, {"192.0.2.9", 40000}, 0};
    receive(incoming("OPTIONS", "SIP/2.0/UDP 192.0.2.9:5070;branch=z9hG4bKother"), other);
    EXPECT_EQ(events().size(), 1u);  // served
    // The flooding source's transactions end (answered, then Timer J): it is served again.
    for (const TransactionEvent& e : admitted) EXPECT_TRUE(L().respond(e.id, answer(200), now_));
    drain();
    run_until(now_ + std::chrono::seconds(33));
    (void)events();
    receive(incoming("OPTIONS", "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKagain"));
    EXPECT_EQ(events().size(), 1u);
    EXPECT_EQ(L().counters().rejected_source_overload, 2u);
}

// With every transaction taken, a request in one of the TU's dialogs (TransactionOptions::
// in_dialog) still opens one, from the reserve; a stranger's request with a made-up To tag does not.
TEST_F(Txn, InDialogRequestsUseTheReserveWhenTheLayerIsFull) {
    TransactionOptions o = options();
    o.limits.max_transactions = 2;
    o.limits.reserved_in_dialog_transactions = 1;
    o.in_dialog = [](const Message& m) { return m.to().tag == "ours"; };
    reset(std::move(o));
    receive(incoming("OPTIONS", "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK1"));
    receive(incoming("OPTIONS", "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK2"));
    EXPECT_EQ(events().size(), 2u);
    receive(incoming("NOTIFY", "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK3", "made-up"));
    EXPECT_TRUE(events().empty());
    receive(incoming("NOTIFY", "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK4", "ours"));
    EXPECT_EQ(events().size(), 1u);
    receive(incoming("NOTIFY", "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK5", "ours"));  // the reserve is bounded too
    EXPECT_TRUE(events().empty());
    EXPECT_EQ(L().counters().admitted_in_reserve, 1u);
    EXPECT_EQ(L().counters().rejected_overload, 2u);
}

TEST_F(Txn, BeyondMaxTransactionsRequestsGet503WithRetryAfter) {
    TransactionOptions o = options();
    o.limits.max_transactions = 2;
    o.retry_after_seconds = 9;
    reset(std::move(o));
    receive(incoming("OPTIONS", "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK1"));
    receive(incoming("OPTIONS", "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK2"));
    receive(incoming("OPTIONS", "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK3"));
    EXPECT_EQ(events().size(), 2u);
    auto sent = drain();
    ASSERT_EQ(sent.size(), 1u);
    Message busy = parse(sent[0].bytes.view());
    EXPECT_EQ(busy.status(), 503);
    ASSERT_NE(busy.find(HeaderId::retry_after), nullptr);
    EXPECT_EQ(busy.find(HeaderId::retry_after)->value, "9");
    EXPECT_EQ(busy.top_via().branch, "z9hG4bK3");
    EXPECT_EQ(L().counters().rejected_overload, 1u);
    EXPECT_EQ(L().transaction_count(), 2u);
    EXPECT_EQ(L().send_request(outgoing("OPTIONS"), udp_dest, now_).error(), TransactionError::too_many_transactions);
}

TEST_F(Txn, MalformedRequestsAreAnsweredWithTheirStatusOrDropped) {
    // Readable enough: 505 for the version.
    receive("OPTIONS sip:bob@example.com SIP/3.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKm1\r\n"
            "From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: m1\r\nCSeq: 1 OPTIONS\r\n\r\n");
    // A bad Content-Length: 400.
    receive("OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKm2\r\n"
            "From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: m2\r\nCSeq: 1 OPTIONS\r\n"
            "Content-Length: x\r\n\r\n");
    // No Call-ID: dropped.
    receive("OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKm3\r\n"
            "From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCSeq: 1 OPTIONS\r\n\r\n");
    // A broken ACK is never answered.
    receive("ACK sip:bob@example.com SIP/3.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKm4\r\n"
            "From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: m4\r\nCSeq: 1 ACK\r\n\r\n");
    receive(std::string(5000, '\xff'));
    auto sent = drain();
    ASSERT_EQ(sent.size(), 2u);
    Message a = parse(sent[0].bytes.view());
    EXPECT_EQ(a.status(), 505);
    EXPECT_EQ(a.call_id(), "m1");
    EXPECT_FALSE(a.to().tag.empty());
    EXPECT_EQ(sent[0].destination.remote, (Endpoint{"192.0.2.1", 5070}));
    EXPECT_EQ(parse(sent[1].bytes.view()).status(), 400);
    EXPECT_EQ(L().counters().malformed_requests_answered, 2u);
    EXPECT_EQ(L().counters().malformed_requests_dropped, 3u);
    EXPECT_TRUE(events().empty());
    EXPECT_EQ(L().transaction_count(), 0u);
}

// RFC 3261 §21.5.14: a datagram whose Content-Length would make it larger than the limit is
// answered 513 Message Too Large (the body's bytes are not all there: not 400).
TEST_F(Txn, AnnouncedBodyOverTheLimitIsAnswered513) {
    receive("MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKbig\r\n"
            "From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: big\r\nCSeq: 1 MESSAGE\r\n"
            "Content-Type: text/plain\r\nContent-Length: 10000000\r\n\r\nhello");
    auto sent = drain();
    ASSERT_EQ(sent.size(), 1u);
    Message answer = parse(sent[0].bytes.view());
    EXPECT_EQ(answer.status(), 513);
    EXPECT_EQ(answer.call_id(), "big");
    EXPECT_EQ(L().counters().malformed_requests_answered, 1u);
    EXPECT_TRUE(events().empty());
    EXPECT_EQ(L().transaction_count(), 0u);
}

TEST_F(Txn, MisuseIsReportedAsValues) {
    EXPECT_EQ(L().send_request("garbage", udp_dest, now_).error(), TransactionError::invalid_request);
    EXPECT_EQ(L().send_request(outgoing("ACK"), udp_dest, now_).error(), TransactionError::invalid_request);
    EXPECT_EQ(L().send_request(outgoing("CANCEL"), udp_dest, now_).error(), TransactionError::invalid_request);
    EXPECT_EQ(L().respond(TransactionId{42}, answer(200), now_).error(), TransactionError::no_such_transaction);
    EXPECT_EQ(L().cancel(TransactionId{42}, now_).error(), TransactionError::no_such_transaction);
    auto opt = L().send_request(outgoing("OPTIONS"), udp_dest, now_);
    EXPECT_EQ(L().cancel(*opt, now_).error(), TransactionError::no_such_transaction);
    ASSERT_TRUE(L().send_stateless(outgoing("ACK"), udp_dest, now_));
    auto sent = drain();
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_FALSE(sent[1].transaction);
    EXPECT_EQ(parse(sent[1].bytes.view()).method(), Method::ack);
    EXPECT_EQ(L().transaction_count(), 1u);
}

TEST_F(Txn, TimeNeverRunsBackwards) {
    auto id = L().send_request(outgoing("OPTIONS"), udp_dest, ms(1000));
    drain();
    L().on_timer(ms(10));  // earlier than seen: treated as 1000
    EXPECT_TRUE(drain().empty());
    EXPECT_EQ(L().next_deadline(), ms(1500));
    EXPECT_EQ(L().non_invite_client_state(*id), NonInviteClientState::trying);
}

// ---------------------------------------------------------------- review fixes

// §9.1: once the CANCEL is sent, an INVITE that gets no final response ends 64*T1 later.
TEST_F(Txn, InviteCancelledInProceedingEnds64T1AfterTheCancelWithA487) {
    auto inv = L().send_request(outgoing("INVITE"), udp_dest, now_);
    auto first = drain();
    at(ms(700));
    receive(response_to(first[0], 180));
    ASSERT_EQ(events().size(), 1u);
    EXPECT_EQ(L().timer_count(), 0u);
    at(ms(1000));
    auto cancel = L().cancel(*inv, now_);
    ASSERT_TRUE(cancel);
    auto sent = drain();
    ASSERT_EQ(sent.size(), 1u);  // the CANCEL, at once
    EXPECT_EQ(parse(sent[0].bytes.view()).method(), Method::cancel);
    receive(response_to(sent[0], 200));  // the CANCEL is answered; the INVITE's 487 never comes
    auto ev = events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].id, *cancel);
    run_until(ms(1000 + 31999));
    EXPECT_EQ(L().invite_client_state(*inv), InviteClientState::proceeding);
    ev = events();  // the CANCEL's Timer K
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, EventKind::terminated);
    EXPECT_EQ(ev[0].id, *cancel);
    run_until(ms(33000));
    ev = events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].kind, EventKind::timeout);
    EXPECT_EQ(ev[0].id, *inv);
    ASSERT_TRUE(ev[0].message);
    EXPECT_EQ(ev[0].message->status(), 487);
    EXPECT_EQ(ev[0].message->cseq().method, Method::invite);
    EXPECT_EQ(ev[1].kind, EventKind::terminated);
    EXPECT_EQ(ev[1].id, *inv);
    EXPECT_EQ(L().transaction_count(), 0u);
    EXPECT_EQ(L().timer_count(), 0u);
}

TEST_F(Txn, HeldCancelArmsTheInvites64T1WhenItIsActuallySent) {
    auto inv = L().send_request(outgoing("INVITE"), tcp_dest, now_);
    auto first = drain();
    auto cancel = L().cancel(*inv, now_);  // held: nothing armed for it yet
    ASSERT_TRUE(cancel);
    at(ms(300));
    receive(response_to(first[0], 180), tcp_src);
    ASSERT_EQ(drain().size(), 1u);  // the CANCEL goes now
    EXPECT_EQ(L().next_deadline(), ms(300 + 32000));
    run_until(ms(32299));
    EXPECT_EQ(L().invite_client_state(*inv), InviteClientState::proceeding);
    run_until(ms(32300));
    auto ev = events();
    ASSERT_EQ(ev.size(), 5u);
    EXPECT_EQ(ev[0].kind, EventKind::response);  // the 180
    EXPECT_EQ(ev[1].kind, EventKind::timeout);
    EXPECT_EQ(ev[1].id, *inv);
    EXPECT_EQ(ev[1].message->status(), 487);
    EXPECT_EQ(ev[2].kind, EventKind::terminated);
    EXPECT_EQ(ev[2].id, *inv);
    EXPECT_EQ(ev[3].kind, EventKind::timeout);  // the CANCEL's own Timer F
    EXPECT_EQ(ev[3].id, *cancel);
    EXPECT_EQ(ev[3].message->status(), 408);
    EXPECT_EQ(ev[4].kind, EventKind::terminated);
    EXPECT_EQ(L().transaction_count(), 0u);
}

TEST_F(Txn, AbandonEndsAnyClientTransactionWithOnlyTerminated) {
    auto inv = L().send_request(outgoing("INVITE"), udp_dest, now_);
    auto first = drain();
    auto cancel = L().cancel(*inv, now_);  // held
    at(ms(100));
    ASSERT_TRUE(L().abandon(*inv, now_));
    auto ev = events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].kind, EventKind::terminated);
    EXPECT_EQ(ev[0].id, *inv);
    EXPECT_EQ(ev[1].kind, EventKind::terminated);  // the held CANCEL goes with it
    EXPECT_EQ(ev[1].id, *cancel);
    receive(response_to(first[0], 180));  // matches nothing now
    EXPECT_TRUE(events().empty());
    EXPECT_EQ(L().counters().stray_responses, 1u);
    auto opt = L().send_request(outgoing("OPTIONS", 2), udp_dest, now_);
    drain();
    ASSERT_TRUE(L().abandon(*opt, now_));
    ev = events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, EventKind::terminated);
    run_until(ms(60000));
    EXPECT_EQ(sent_times(), (std::vector<std::int64_t>{0, 100}));  // no retransmission after abandon
    EXPECT_TRUE(events().empty());
    EXPECT_EQ(L().transaction_count(), 0u);
    EXPECT_EQ(L().timer_count(), 0u);
    EXPECT_EQ(L().abandon(*opt, now_).error(), TransactionError::no_such_transaction);
    receive(incoming("OPTIONS"));
    EXPECT_EQ(L().abandon(events()[0].id, now_).error(), TransactionError::no_such_transaction);
}

TEST_F(Txn, Rfc2543RequestsDifferingOnlyInTheirToTagAreSeparateTransactions) {
    const std::string via = "SIP/2.0/TCP 192.0.2.1:5070";
    receive(incoming("OPTIONS", via, "x"), tcp_src);
    receive(incoming("OPTIONS", via, "y"), tcp_src);
    auto ev = events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(L().transaction_count(), 2u);
    ASSERT_TRUE(L().respond(ev[0].id, answer(200), now_));  // reliable: the first ends at once
    auto done = events();
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].kind, EventKind::terminated);
    EXPECT_EQ(L().non_invite_server_state(ev[1].id), NonInviteServerState::trying);
    receive(incoming("OPTIONS", via, "y"), tcp_src);  // the second's retransmission still matches it
    EXPECT_TRUE(events().empty());
    EXPECT_EQ(L().counters().retransmissions_absorbed, 1u);
    ASSERT_TRUE(L().respond(ev[1].id, answer(200), now_));
    EXPECT_EQ(L().transaction_count(), 0u);
}

TEST_F(Txn, Rfc2543AckMatchesByItsToTagThenByTheResponsesTag) {
    const std::string via = "SIP/2.0/UDP 192.0.2.1:5070";
    receive(incoming("INVITE", via, "x"));  // a re-INVITE
    receive(incoming("INVITE", via));       // the same fields without a To tag
    auto ev = events();
    ASSERT_EQ(ev.size(), 2u);
    ASSERT_TRUE(L().respond(ev[0].id, answer(486), now_));
    ASSERT_TRUE(L().respond(ev[1].id, answer(486, "tt"), now_));
    receive(incoming("ACK", via, "x"));
    EXPECT_EQ(L().invite_server_state(ev[0].id), InviteServerState::confirmed);
    EXPECT_EQ(L().invite_server_state(ev[1].id), InviteServerState::completed);
    receive(incoming("ACK", via, "tt"));
    EXPECT_EQ(L().invite_server_state(ev[1].id), InviteServerState::confirmed);
    EXPECT_EQ(L().counters().stray_acks, 0u);
    EXPECT_TRUE(events().empty());
}

TEST_F(Txn, RequestsWithoutContentLengthGetTheRightOneAndTrailingBytesAreRefused) {
    std::string req = outgoing("MESSAGE");
    req.erase(req.find("Content-Length: 0\r\n"), 19);
    req += "hello";
    ASSERT_TRUE(L().send_request(req, tcp_dest, now_));
    auto t = drain();
    ASSERT_EQ(t.size(), 1u);
    auto m = Message::parse(t[0].bytes.view(), {}, Framing::stream);  // §18.3
    ASSERT_TRUE(m);
    EXPECT_EQ(m->content_length(), 5u);
    EXPECT_EQ(m->body(), "hello");
    EXPECT_EQ(m->size(), t[0].bytes.view().size());
    EXPECT_EQ(L().send_request(outgoing("MESSAGE", 2) + "junk", tcp_dest, now_).error(),
              TransactionError::invalid_request);
    std::string ack = outgoing("ACK");
    ack.erase(ack.find("Content-Length: 0\r\n"), 19);
    ASSERT_TRUE(L().send_stateless(ack, tcp_dest, now_));
    t = drain();
    ASSERT_EQ(t.size(), 1u);
    m = Message::parse(t[0].bytes.view(), {}, Framing::stream);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->content_length(), 0u);
    EXPECT_EQ(m->size(), t[0].bytes.view().size());
    EXPECT_EQ(L().send_stateless(outgoing("ACK") + "junk", tcp_dest, now_).error(), TransactionError::invalid_request);
    EXPECT_TRUE(drain().empty());
    EXPECT_EQ(L().transaction_count(), 1u);
}

TEST_F(Txn, CancelBeforeAnyResponseMakesUpTheTagAndTheInvitesResponsesReuseIt) {
    receive(incoming("INVITE"));
    auto id = events()[0].id;
    receive(incoming("CANCEL"));
    auto sent = drain();
    ASSERT_EQ(sent.size(), 1u);
    const std::string tag(parse(sent[0].bytes.view()).to().tag);
    EXPECT_EQ(tag, "0000000000001001");  // from the random source
    auto ev = events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].kind, EventKind::cancel);
    EXPECT_EQ(ev[0].to_tag, tag);
    ResponseSpec terminated;
    terminated.status = 487;  // no to_tag: the transaction's
    ASSERT_TRUE(L().respond(id, terminated, now_));
    sent = drain();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(parse(sent[0].bytes.view()).to().tag, tag);
}

TEST_F(Txn, ResponsesWithoutAToTagGetOneMadeUpAndKeptForTheTransaction) {
    receive(incoming("INVITE"));
    auto id = events()[0].id;
    ResponseSpec r;
    r.status = 100;
    ASSERT_TRUE(L().respond(id, r, now_));
    r.status = 180;
    ASSERT_TRUE(L().respond(id, r, now_));
    r.status = 486;
    ASSERT_TRUE(L().respond(id, r, now_));
    auto sent = drain();
    ASSERT_EQ(sent.size(), 3u);
    EXPECT_EQ(parse(sent[0].bytes.view()).to().tag, "");  // never on 100 (§8.2.6.1)
    EXPECT_EQ(parse(sent[1].bytes.view()).to().tag, "0000000000001001");
    EXPECT_EQ(parse(sent[2].bytes.view()).to().tag, "0000000000001001");
    receive(incoming("ACK", "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKpeer1", "0000000000001001"));
    EXPECT_EQ(L().invite_server_state(id), InviteServerState::confirmed);
}

TEST_F(Txn, CancelForAPendingNonInviteIsAnswered200WithTheSameTag) {
    receive(incoming("OPTIONS"));
    auto id = events()[0].id;
    receive(incoming("CANCEL"));
    auto sent = drain();
    ASSERT_EQ(sent.size(), 1u);
    Message ok = parse(sent[0].bytes.view());
    EXPECT_EQ(ok.status(), 200);  // §9.2: a transaction matched, whatever its method
    EXPECT_EQ(ok.cseq().method, Method::cancel);
    EXPECT_TRUE(events().empty());  // nothing for the TU to do for a non-INVITE
    EXPECT_EQ(L().counters().stray_cancels, 0u);
    EXPECT_EQ(L().non_invite_server_state(id), NonInviteServerState::trying);
    ResponseSpec r;
    r.status = 200;
    ASSERT_TRUE(L().respond(id, r, now_));
    sent = drain();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(parse(sent[0].bytes.view()).to().tag, ok.to().tag);
    EXPECT_EQ(parse(sent[0].bytes.view()).cseq().method, Method::options);
}

TEST_F(Txn, InviteClientIgnoresTransportErrorsInProceedingAndReportsThemInCompleted) {
    auto id = L().send_request(outgoing("INVITE"), udp_dest, now_);
    auto first = drain();
    receive(response_to(first[0], 180));
    ASSERT_EQ(events().size(), 1u);
    L().transport_error(*id, now_);  // Figure 5: no transition in Proceeding
    EXPECT_TRUE(events().empty());
    EXPECT_EQ(L().invite_client_state(*id), InviteClientState::proceeding);
    receive(response_to(first[0], 486));
    auto acks = drain();
    ASSERT_EQ(acks.size(), 1u);
    ASSERT_EQ(events().size(), 1u);
    L().transport_error(acks[0].transaction, now_);  // the ACK could not be sent
    auto ev = events();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].kind, EventKind::transport_error);
    EXPECT_EQ(ev[0].id, *id);
    EXPECT_FALSE(ev[0].message);
    EXPECT_EQ(ev[1].kind, EventKind::terminated);
    EXPECT_EQ(L().timer_count(), 0u);
}

TEST_F(Txn, StatelessAnswersCarryTheSameTagForTheSameRequest) {
    receive(incoming("CANCEL"));
    receive(incoming("CANCEL"));
    receive(incoming("CANCEL", "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKother"));
    const std::string bad = "OPTIONS sip:bob@example.com SIP/3.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKm1\r\n"
                            "From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: m1\r\n"
                            "CSeq: 1 OPTIONS\r\n\r\n";
    receive(bad);
    receive(bad);
    auto sent = drain();
    ASSERT_EQ(sent.size(), 5u);
    std::vector<std::string> tags;
    for (const Transmit& t : sent) tags.emplace_back(parse(t.bytes.view()).to().tag);
    EXPECT_EQ(tags[0].size(), 16u);
    EXPECT_EQ(tags[1], tags[0]);  // §8.2.7
    EXPECT_NE(tags[2], tags[0]);
    EXPECT_EQ(tags[3].size(), 16u);
    EXPECT_EQ(tags[4], tags[3]);
    EXPECT_EQ(random_, 0x1000u);  // no randomness drawn
}

TEST_F(Txn, ResponseRportIsTheSourcePortWhateverThePeerWrote) {
    receive(incoming("OPTIONS", "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKpeer1;rport=1234"));
    ASSERT_TRUE(L().respond(events()[0].id, answer(200), now_));
    auto sent = drain();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(parse(sent[0].bytes.view()).top_via().rport, 40000);  // RFC 3581 §4
    EXPECT_EQ(sent[0].destination.remote, (Endpoint{"192.0.2.1", 40000}));
}

TEST_F(Txn, MalformedResponsesInLowerCaseAreNeverAnswered) {
    receive("sip/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKm1\r\nFrom: <sip:a@example.com>;tag=1\r\n"
            "To: <sip:b@example.com>\r\nCall-ID: m1\r\nCSeq: 1 OPTIONS\r\nContent-Length: x\r\n\r\n");
    EXPECT_TRUE(drain().empty());
    EXPECT_EQ(L().counters().malformed_responses, 1u);
    EXPECT_EQ(L().counters().malformed_requests_answered, 0u);
}

TEST_F(Txn, ResponseHeadersMayNotRepeatTheOnesTheLayerWrites) {
    receive(incoming("OPTIONS"));
    auto id = events()[0].id;
    for (std::string_view name :
         {"Via", "From", "To", "Call-ID", "CSeq", "Content-Length", "Content-Type", "v", "f", "t", "i", "l", "c"}) {
        ResponseSpec r = answer(200);
        r.headers = {{name, "x"}};
        EXPECT_EQ(L().respond(id, r, now_).error(), TransactionError::invalid_response) << name;
    }
    EXPECT_TRUE(drain().empty());
    EXPECT_EQ(L().non_invite_server_state(id), NonInviteServerState::trying);
}

TEST_F(Txn, ALateTimerCallSendsOneRetransmissionNotABurst) {
    ASSERT_TRUE(L().send_request(outgoing("OPTIONS"), udp_dest, now_));
    drain();
    now_ = ms(10000);  // Timer E was due at 500
    L().on_timer(now_);
    EXPECT_EQ(drain().size(), 1u);
    EXPECT_EQ(L().next_deadline(), ms(11000));  // re-armed from now, not from 500
}

TEST(TxnDeathTest, AnUnsetRandomSourceIsAPreconditionFailure) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH({ TransactionLayer layer{TransactionOptions{}}; }, "");
}

}  // namespace
}  // namespace referkit::txntest
