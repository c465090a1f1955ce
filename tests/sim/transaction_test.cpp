// The four RFC 3261 §17 machines (with RFC 6026), their matching, timers and outputs, driven
// directly on a virtual clock: every instant below is exact.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "referkit/core/transaction.hpp"

namespace referkit {
namespace {

using namespace std::chrono_literals;

constexpr Time ms(std::int64_t v) { return std::chrono::duration_cast<Time>(std::chrono::milliseconds(v)); }
std::int64_t to_ms(Time t) { return std::chrono::duration_cast<std::chrono::milliseconds>(t).count(); }

const Endpoint peer{"192.0.2.1", 5070};
const Destination udp_dest{Transport::udp, {"192.0.2.1", 5070}, 0};
const Destination tcp_dest{Transport::tcp, {"192.0.2.1", 5070}, 0};
const Source udp_src{Transport::udp, {"192.0.2.1", 40000}, 0};
const Source tcp_src{Transport::tcp, {"192.0.2.1", 40000}, 7};

std::string outgoing(std::string_view method, std::uint32_t cseq = 1) {
    std::string m(method);
    return m + " sip:bob@example.com SIP/2.0\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\n"
               "To: <sip:bob@example.com>\r\nCall-ID: c1@example.com\r\nCSeq: " +
           std::to_string(cseq) + " " + m + "\r\nContent-Length: 0\r\n\r\n";
}

// A request as a peer sends it. via: the whole Via value.
std::string incoming(std::string_view method, std::string_view via = "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKpeer1",
                     std::string_view to_tag = {}, std::string_view cseq_method = {}) {
    std::string m(method);
    std::string to = "<sip:bob@example.com>";
    if (!to_tag.empty()) to += ";tag=" + std::string(to_tag);
    return m + " sip:bob@example.com SIP/2.0\r\nVia: " + std::string(via) +
           "\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\nTo: " + to +
           "\r\nCall-ID: c2@example.com\r\nCSeq: 7 " + std::string(cseq_method.empty() ? method : cseq_method) +
           "\r\nContent-Length: 0\r\n\r\n";
}

Message parse(std::string_view bytes) {
    auto m = Message::parse(bytes);
    EXPECT_TRUE(m.has_value()) << (m ? "" : m.error().describe()) << "\n" << bytes;
    return std::move(*m);
}

// The response a peer would send to the request `sent` (as the layer transmitted it).
std::string response_to(const Transmit& sent, int status, std::string_view to_tag = "b1") {
    Message req = parse(sent.bytes.view());
    std::string to(req.find(HeaderId::to)->value);
    if (!to_tag.empty() && status > 100) to += ";tag=" + std::string(to_tag);
    return "SIP/2.0 " + std::to_string(status) + " Whatever\r\nVia: " + std::string(req.find(HeaderId::via)->value) +
           "\r\nFrom: " + std::string(req.find(HeaderId::from)->value) + "\r\nTo: " + to +
           "\r\nCall-ID: " + std::string(req.call_id()) + "\r\nCSeq: " + std::string(req.find(HeaderId::cseq)->value) +
           "\r\nContent-Length: 0\r\n\r\n";
}

ResponseSpec answer(int status, std::string_view tag = "s1") {
    ResponseSpec r;
    r.status = status;
    r.to_tag = tag;
    return r;
}

struct Sent {
    std::int64_t at_ms;
    Transmit t;
};

class Txn : public ::testing::Test {
protected:
    TransactionOptions options() {
        TransactionOptions o;
        o.sent_by = "198.51.100.7:5060";
        o.random = [this] { return ++random_; };
        return o;
    }
    void SetUp() override { layer_ = std::make_unique<TransactionLayer>(options()); }
    void reset(TransactionOptions o) { layer_ = std::make_unique<TransactionLayer>(std::move(o)); }

    TransactionLayer& L() { return *layer_; }
    std::vector<Transmit> drain() {
        std::vector<Transmit> v;
        while (auto t = L().poll_transmit()) v.push_back(std::move(*t));
        for (const Transmit& t : v) log_.push_back(Sent{to_ms(now_), t});
        return v;
    }
    std::vector<TransactionEvent> events() {
        std::vector<TransactionEvent> v;
        while (auto e = L().poll_event()) v.push_back(std::move(*e));
        return v;
    }
    // Fires every timer up to t, in order, recording each transmit with the instant it was made.
    void run_until(Time t) {
        while (auto d = L().next_deadline()) {
            if (*d > t) break;
            now_ = *d;
            L().on_timer(now_);
            drain();
        }
        now_ = t;
    }
    void at(Time t) { run_until(t); }
    void receive(std::string_view bytes, const Source& s = udp_src) {
        L().receive(bytes, s, now_);
    }
    std::vector<std::int64_t> sent_times() const {
        std::vector<std::int64_t> v;
        for (const Sent& s : log_) v.push_back(s.at_ms);
        return v;
    }

    std::unique_ptr<TransactionLayer> layer_;
    std::uint64_t random_ = 0x1000;
    Time now_{};
    std::vector<Sent> log_;
};

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
}  // namespace referkit
