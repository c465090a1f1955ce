// Seeded simulations: a client core and a server core over a lossy, duplicating, reordering
// network. For every seed: every client transaction ends exactly once with the right final result,
// the server's TU sees each request once (retransmissions are absorbed and answered from the
// transaction's cache), and at the end both cores are empty: no transaction outlives its timers.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <map>
#include <string>
#include <vector>

#include "sim_node.hpp"
#include "referkit/core/transaction_layer.hpp"
#include "sim_network.hpp"

namespace referkit {
namespace {

using namespace std::chrono_literals;
using sim::CoreNode;
using sim::Network;

std::uint64_t splitmix(std::uint64_t& s) {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

const Endpoint client_addr{"10.0.0.1", 5060};
const Endpoint server_addr{"10.0.0.2", 5060};

struct Plan {
    std::string method;
    int final_status = 200;
    bool provisional = false;  // the server TU sends a provisional first
    Duration answer_delay{};   // when the server TU answers
};

struct ClientRecord {
    std::string call_id;
    int finals = 0;           // final outcomes (response >= 200 not repeated, timeout, transport error)
    int final_status = 0;     // 408 for a timeout
    Time final_at{};
    int terminated = 0;
};

struct RunResult {
    bool ok = true;
    std::string why;
    std::uint64_t server_cache_answers = 0;
    std::uint64_t timeouts = 0;
};

std::string request(const Plan& p, const std::string& call_id) {
    return p.method + " sip:bob@10.0.0.2 SIP/2.0\r\nMax-Forwards: 70\r\nFrom: <sip:alice@10.0.0.1>;tag=a\r\n"
                      "To: <sip:bob@10.0.0.2>\r\nCall-ID: " +
           call_id + "\r\nCSeq: 1 " + p.method + "\r\nContent-Length: 0\r\n\r\n";
}

RunResult run_once(std::uint64_t seed, double loss, double duplicate) {
    RunResult result;
    auto fail = [&](std::string why) {
        if (result.ok) result.why = std::move(why);
        result.ok = false;
    };
    std::uint64_t rs = seed;
    Network net(seed);
    sim::LinkConfig link;
    link.latency = 20ms;
    link.jitter = 40ms;
    link.loss = loss;
    link.duplicate = duplicate;
    link.reorder = 0.1;
    link.reorder_delay = 300ms;
    net.set_default_link(link);

    // What the server will answer, per Call-ID.
    std::map<std::string, Plan> plans;
    const char* methods[] = {"OPTIONS", "MESSAGE", "INVITE"};
    const int ni_finals[] = {200, 404, 500};
    const int inv_finals[] = {200, 486, 603};
    for (int i = 0; i < 3; ++i) {
        Plan p;
        p.method = methods[i];
        const std::uint64_t r = splitmix(rs);
        p.final_status = p.method == "INVITE" ? inv_finals[r % 3] : ni_finals[r % 3];
        p.provisional = (r >> 8) % 2 == 0;
        p.answer_delay = std::chrono::milliseconds((r >> 16) % 400);
        plans.emplace("call" + std::to_string(i), p);
    }

    std::map<std::string, int> server_requests;  // request events per Call-ID
    std::map<std::string, Time> final_delivered;  // first final response reaching the client, per Call-ID
    std::map<std::uint64_t, ClientRecord> clients;
    std::map<std::string, std::shared_ptr<bool>> acked_calls;  // the server TU's 2xx retransmissions stop on ACK

    TransactionOptions copt;
    copt.sent_by = "10.0.0.1:5060";
    std::uint64_t cseed = splitmix(rs);
    copt.random = [cseed]() mutable { return splitmix(cseed); };
    TransactionOptions sopt = copt;
    sopt.sent_by = "10.0.0.2:5060";
    std::uint64_t sseed = splitmix(rs);
    sopt.random = [sseed]() mutable { return splitmix(sseed); };

    auto client_tu = [&](CoreNode& node, TransactionEvent& e, Time now) {
        ClientRecord* rec = nullptr;
        if (auto it = clients.find(e.id.value); it != clients.end()) rec = &it->second;
        if (rec == nullptr) {
            fail("client event for an unknown transaction");
            return;
        }
        switch (e.kind) {
        case EventKind::response:
            if (e.message->status() >= 200 && e.message->status() < 300 && e.message->cseq().method == Method::invite) {
                // The ACK for a 2xx is the TU's (§13.2.2.4), for every 2xx received.
                std::string ack = "ACK sip:bob@10.0.0.2 SIP/2.0\r\nMax-Forwards: 70\r\nFrom: <sip:alice@10.0.0.1>;tag=a\r\nTo: " +
                                  std::string(e.message->find(HeaderId::to)->value) + "\r\nCall-ID: " +
                                  std::string(e.message->call_id()) + "\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n";
                if (!node.layer().send_stateless(ack, Destination{Transport::udp, server_addr, 0}, now)) fail("ack");
            }
            if (e.message->status() >= 200 && !e.repeated) {
                ++rec->finals;
                rec->final_status = e.message->status();
                rec->final_at = now;
            }
            break;
        case EventKind::timeout:
        case EventKind::transport_error:
            ++rec->finals;
            rec->final_status = e.message ? e.message->status() : 0;
            rec->final_at = now;
            break;
        case EventKind::terminated: ++rec->terminated; break;
        case EventKind::request:
        case EventKind::ack:
        case EventKind::cancel: fail("unexpected client event"); break;
        }
    };

    auto server_tu = [&](CoreNode& base, TransactionEvent& e, Time now) {
        auto& node = static_cast<CoreNode&>(base);
        switch (e.kind) {
        case EventKind::request: {
            const std::string call_id(e.message->call_id());
            ++server_requests[call_id];
            const Plan& p = plans.at(call_id);
            const TransactionId id = e.id;
            node.later(now + p.answer_delay, [&, id, p, call_id](CoreNode& n, Time t) {
                ResponseSpec r;
                r.to_tag = "srv";
                if (p.provisional) {
                    r.status = p.method == "INVITE" ? 180 : 183;
                    if (!n.layer().respond(id, r, t)) fail("provisional refused");
                }
                r.status = p.final_status;
                if (!n.layer().respond(id, r, t)) fail("final refused");
                if (p.method == "INVITE" && p.final_status < 300) {
                    // The TU retransmits its 2xx until the ACK comes (§13.3.1.4): T1, doubling to T2, 64*T1.
                    auto acked = std::make_shared<bool>(false);
                    acked_calls[call_id] = acked;
                    Duration interval = 500ms;
                    Time at = t;
                    while (at + interval < t + 32s) {
                        at += interval;
                        interval = std::min<Duration>(2 * interval, 4s);
                        n.later(at, [&, id, acked, r](CoreNode& n2, Time t2) {
                            if (*acked) return;
                            (void)n2.layer().respond(id, r, t2);  // refused once the transaction is gone
                        });
                    }
                }
            });
            break;
        }
        case EventKind::ack:
            if (auto it = acked_calls.find(std::string(e.message->call_id())); it != acked_calls.end())
                *it->second = true;
            break;
        case EventKind::timeout:
        case EventKind::transport_error:
        case EventKind::terminated: break;
        case EventKind::response:
        case EventKind::cancel: fail("unexpected server event"); break;
        }
    };

    CoreNode client(net, client_addr, copt, client_tu);
    CoreNode server(net, server_addr, sopt, server_tu);

    // The client's deliveries: record when a final response first reached it.
    for (const auto& [call_id, plan] : plans) {
        const Time start = std::chrono::milliseconds(splitmix(rs) % 1000);
        const std::string cid = call_id;
        const Plan p = plan;
        client.later(start, [&, cid, p](CoreNode& n, Time t) {
            auto id = n.layer().send_request(request(p, cid), Destination{Transport::udp, server_addr, 0}, t);
            if (!id) {
                fail("send_request");
                return;
            }
            clients[id->value].call_id = cid;
        });
    }
    net.on_deliver([&](const sim::Datagram& d, Time now) {
        if (!(d.to == client_addr)) return;
        auto m = Message::parse(std::string_view(d.bytes));
        if (m && m->is_response() && m->status() >= 200 && m->cseq().method != Method::cancel)
            final_delivered.try_emplace(std::string(m->call_id()), now);
    });

    const bool idle = net.run_until_idle(std::chrono::seconds(300));
    if (!idle) fail("the network never went idle");
    if (client.layer().transaction_count() != 0 || client.layer().timer_count() != 0) fail("client core not empty");
    if (server.layer().transaction_count() != 0 || server.layer().timer_count() != 0) fail("server core not empty");
    if (clients.size() != 3) fail("not every request was sent");
    for (const auto& [id, rec] : clients) {
        const Plan& p = plans.at(rec.call_id);
        if (rec.finals != 1) fail(rec.call_id + ": " + std::to_string(rec.finals) + " final outcomes");
        if (rec.terminated != 1) fail(rec.call_id + ": terminated " + std::to_string(rec.terminated) + " times");
        auto delivered = final_delivered.find(rec.call_id);
        if (rec.final_status == 408) {
            ++result.timeouts;
            // A timeout is right only if no final response had reached the client before it.
            if (delivered != final_delivered.end() && delivered->second < rec.final_at)
                fail(rec.call_id + ": timed out although a final response had arrived");
        } else if (rec.final_status != p.final_status) {
            fail(rec.call_id + ": final " + std::to_string(rec.final_status) + ", server sent " +
                 std::to_string(p.final_status));
        }
    }
    for (const auto& [call_id, n] : server_requests)
        if (n != 1) fail(call_id + ": the server TU saw the request " + std::to_string(n) + " times");
    // Answers to received retransmissions only: Timer G's own retransmissions do not count here.
    result.server_cache_answers = server.layer().counters().retransmissions_answered;
    return result;
}

void run_many(int runs, double loss, double duplicate) {
    std::uint64_t timeouts = 0, cache_answers = 0;
    int failures = 0;
    for (int seed = 1; seed <= runs; ++seed) {
        RunResult r = run_once(static_cast<std::uint64_t>(seed), loss, duplicate);
        timeouts += r.timeouts;
        cache_answers += r.server_cache_answers;
        if (!r.ok && ++failures <= 5) ADD_FAILURE() << "seed " << seed << ": " << r.why;
    }
    EXPECT_EQ(failures, 0);
    if (loss > 0) {
        EXPECT_GT(cache_answers, 0u);  // retransmissions were answered from the caches
    }
    std::printf("%d runs, loss %.0f%%, duplication %.0f%%: %llu timeouts, %llu server cache answers\n", runs,
                loss * 100, duplicate * 100, static_cast<unsigned long long>(timeouts),
                static_cast<unsigned long long>(cache_answers));
}

}  // namespace

TEST(Simulation, ReliableTransportAnswersOnTheSameConnectionAndEndsAtOnce) {
    Network net(1);
    sim::LinkConfig lossy;  // reliable links ignore loss and duplication
    lossy.loss = 0.9;
    lossy.duplicate = 0.9;
    net.set_default_link(lossy);
    TransactionOptions o;
    std::uint64_t r = 7;
    o.random = [&r] { return splitmix(r); };
    std::vector<int> finals;
    ConnectionId server_saw = 0;
    std::vector<sim::Datagram> to_client;
    net.on_deliver([&](const sim::Datagram& d, Time) {
        if (d.to == client_addr) to_client.push_back(d);
    });
    TransactionOptions co = o;
    co.sent_by = "10.0.0.1:5999";  // not where the client listens: only the connection leads back to it
    CoreNode client(net, client_addr, co, [&](CoreNode&, TransactionEvent& e, Time) {
        if (e.kind == EventKind::response) finals.push_back(e.message->status());
    });
    CoreNode server(net, server_addr, o, [&](CoreNode& n, TransactionEvent& e, Time now) {
        if (e.kind != EventKind::request) return;
        server_saw = e.source.connection;
        ResponseSpec ok;
        ok.to_tag = "t";
        ASSERT_TRUE(n.layer().respond(e.id, ok, now));
    });
    Plan p;
    p.method = "OPTIONS";
    ASSERT_TRUE(client.layer().send_request(request(p, "tcp1"), Destination{Transport::tcp, server_addr, 0}, net.now()));
    client.pump(net.now());
    EXPECT_TRUE(net.run_until_idle(std::chrono::seconds(1)));
    EXPECT_EQ(finals, std::vector<int>{200});
    EXPECT_EQ(server_saw, net.connection_of(Transport::tcp, client_addr, server_addr));
    // §18.2.2: the response names the request's connection and goes back on it.
    ASSERT_EQ(server.destinations().size(), 1u);
    EXPECT_EQ(server.destinations()[0].connection, server_saw);
    EXPECT_EQ(server.destinations()[0].remote, (Endpoint{"10.0.0.1", 5999}));  // sent-by: the fallback
    ASSERT_EQ(to_client.size(), 1u);
    EXPECT_EQ(to_client[0].connection, server_saw);
    EXPECT_EQ(net.stats().unroutable, 0u);
    EXPECT_EQ(net.stats().sent, 2u);
    EXPECT_EQ(net.stats().delivered, 2u);
    EXPECT_EQ(client.layer().transaction_count() + server.layer().transaction_count(), 0u);
}

TEST(Simulation, LosslessRunsAlwaysGetTheServersAnswer) { run_many(200, 0.0, 0.0); }

// The property: 10,000 seeds, 30 % loss, 10 % duplication, reordering and jitter.
TEST(Simulation, TenThousandSeededRunsUnderLossDuplicationAndReordering) { run_many(10000, 0.3, 0.1); }

}  // namespace referkit
