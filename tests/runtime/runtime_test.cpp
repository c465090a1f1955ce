// The Asio runtime over real loopback sockets: two engines in one io_context exchange requests over
// every transport, plus raw peers (plain sockets, a WebSocket client) for the error paths. Waits
// are bounded conditions (run_until), never sleeps.
#include <utility>  // before Asio (Boost 1.74 + g++ 12)

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "io_wait.hpp"
#include "referkit/runtime/engine.hpp"
#include "test_core.hpp"

namespace referkit::runtime {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;
using namespace std::chrono_literals;
using test::run_until;
using test::TestCore;

bool ipv6_loopback_available() {
    asio::io_context io;
    boost::system::error_code ec;
    udp::socket s(io);
    s.open(udp::v6(), ec);
    if (!ec) s.bind(udp::endpoint(asio::ip::make_address("::1"), 0), ec);
    return !ec;
}

// A throwaway CA and a server certificate for 127.0.0.1, ::1 and localhost, made once per run
// with the openssl command.
struct Certs {
    std::string dir, ca, cert, key;
    bool ok = false;
    std::string error;
};
const Certs& certs() {
    static const Certs c = [] {
        Certs r;
        r.dir = ::testing::TempDir() + "referkit_rt_certs_" + std::to_string(::getpid());
        std::filesystem::create_directories(r.dir);
        r.ca = r.dir + "/ca.crt";
        r.cert = r.dir + "/server.crt";
        r.key = r.dir + "/server.key";
        {
            std::ofstream ext(r.dir + "/ext.cnf");
            ext << "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nbasicConstraints=CA:FALSE\n";
        }
        const std::string d = "'" + r.dir + "'";
        const std::string cmd =
            "cd " + d + " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
            "-keyout ca.key -out ca.crt -days 2 -subj '/CN=referkit test CA' "
            "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign >log 2>&1 && "
            "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr "
            "-subj '/CN=localhost' >>log 2>&1 && "
            "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 "
            "-extfile ext.cnf >>log 2>&1";
        r.ok = std::system(cmd.c_str()) == 0;
        if (!r.ok) {
            std::ifstream log(r.dir + "/log");
            r.error.assign(std::istreambuf_iterator<char>(log), {});
        }
        return r;
    }();
    return c;
}

TlsOptions tls_options() {
    const Certs& c = certs();
    return TlsOptions{.ca_file = c.ca, .cert_file = c.cert, .key_file = c.key, .verify_peer = true, .server_name = ""};
}

// One engine with its core and a log.
struct Traced {
    TraceDirection direction;
    Transport transport;
    Endpoint remote;
    std::string bytes;
};

struct Node {
    TestCore core;
    std::vector<std::string> log;
    std::vector<Traced> trace;
    std::unique_ptr<Engine> engine;

    // The core parses with the engine's Limits, as an application configures them.
    Node(asio::io_context& io, EngineOptions o) : core(o.limits) {
        o.log = [this](std::string_view line) { log.emplace_back(line); };
        o.trace = [this](TraceDirection d, Transport t, const Endpoint& remote, std::string_view bytes) {
            trace.push_back(Traced{d, t, remote, std::string(bytes)});
        };
        engine = std::make_unique<Engine>(io, core, std::move(o));
    }
    Endpoint local(Transport t) const {
        for (const auto& [tt, ep] : engine->local_endpoints())
            if (tt == t) return ep;
        return {};
    }
    // Sends `method` over the engine and returns the transaction id once it is created.
    std::uint64_t send(asio::io_context& io, std::string method, Destination to) {
        std::uint64_t id = 0;
        bool done = false;
        engine->post([&, method, to](Time now) {
            id = core.send(method, to, now);
            done = true;
        });
        run_until(io, [&] { return done; });
        return id;
    }
    bool logged(std::string_view what) const {
        for (const auto& l : log)
            if (l.find(what) != std::string::npos) return true;
        return false;
    }
    std::string all_log() const {
        std::string s;
        for (const auto& l : log) s += l + "\n";
        return s;
    }
};

// --------------------------------------------------------------------------- every transport

struct Case {
    Transport transport;
    const char* host;
};
std::string case_name(const ::testing::TestParamInfo<Case>& info) {
    std::string n(transport_name(info.param.transport));
    n += std::string(info.param.host).find(':') != std::string::npos ? "_ipv6" : "_ipv4";
    return n;
}

class Exchange : public ::testing::TestWithParam<Case> {};

TEST_P(Exchange, RequestsAndResponsesBothWays) {
    const Case c = GetParam();
    const bool v6 = std::string(c.host).find(':') != std::string::npos;
    if (v6 && !ipv6_loopback_available()) GTEST_SKIP() << "::1 is not available on this machine";
    const bool secure = c.transport == Transport::tls || c.transport == Transport::wss;
    if (secure && !certs().ok) GTEST_SKIP() << "openssl could not make test certificates: " << certs().error;

    asio::io_context io;
    EngineOptions o;
    o.listen = {ListenSpec{.transport = c.transport, .local = {c.host, 0}, .ws_path = "/"}};
    if (secure) o.tls = tls_options();
    Node server(io, o);
    Node client(io, o);
    ASSERT_TRUE(server.engine->start());
    ASSERT_TRUE(client.engine->start());
    const Endpoint to = server.local(c.transport);
    ASSERT_NE(to.port, 0);
    // on_local_address told the core its Via sent-by (IPv6 in brackets).
    EXPECT_EQ(client.core.sent_by_of[c.transport], format_hostport(client.local(c.transport)));

    const auto a = client.send(io, "OPTIONS", Destination{c.transport, to, 0});
    const auto b = client.send(io, "MESSAGE", Destination{c.transport, to, 0});
    ASSERT_NE(a, 0u);
    ASSERT_NE(b, 0u);
    ASSERT_TRUE(run_until(io, [&] { return client.core.finals.contains(a) && client.core.finals.contains(b); }))
        << client.all_log() << server.all_log();
    EXPECT_EQ(client.core.finals[a], 200);
    EXPECT_EQ(client.core.finals[b], 200);
    ASSERT_EQ(server.core.requests.size(), 2u);
    EXPECT_EQ(server.core.requests[0].method, "OPTIONS");
    EXPECT_EQ(server.core.requests[1].method, "MESSAGE");
    for (const auto& r : server.core.requests) {
        EXPECT_EQ(r.source.transport, c.transport);
        EXPECT_EQ(r.source.remote.host, c.host);
        EXPECT_NE(r.via.find(std::string("SIP/2.0/") + std::string(transport_name(c.transport))), std::string::npos)
            << r.via;
        if (is_reliable(c.transport)) {
            EXPECT_NE(r.source.connection, 0u);
        }
    }
    // The server can send to the client too (over UDP to its listener, over a stream transport
    // to its listener with a new connection).
    const auto back = server.send(io, "OPTIONS", Destination{c.transport, client.local(c.transport), 0});
    ASSERT_TRUE(run_until(io, [&] { return server.core.finals.contains(back); })) << server.all_log();
    EXPECT_EQ(server.core.finals[back], 200);
    EXPECT_EQ(client.core.requests.size(), 1u);

    // The trace hook saw each message once, in order, with the peer's address: the client sent
    // OPTIONS and MESSAGE and received their 200s, then received the server's OPTIONS and sent 200.
    std::vector<std::string> seen;
    for (const auto& m : client.trace) {
        EXPECT_EQ(m.transport, c.transport);
        EXPECT_EQ(m.remote.host, c.host);
        const std::string first = m.bytes.substr(0, m.bytes.find(' '));
        seen.push_back(std::string(m.direction == TraceDirection::sent ? ">" : "<") + first);
        EXPECT_NE(m.bytes.find("\r\n\r\n"), std::string::npos) << "a whole message, headers included";
    }
    // (A 200 may come back before the MESSAGE leaves: only the last two are strictly ordered.)
    ASSERT_EQ(seen.size(), 6u);
    std::sort(seen.begin(), seen.begin() + 4);
    const std::vector<std::string> expected{"<SIP/2.0", "<SIP/2.0", ">MESSAGE", ">OPTIONS", "<OPTIONS", ">SIP/2.0"};
    EXPECT_EQ(seen, expected);
}

INSTANTIATE_TEST_SUITE_P(Transports, Exchange,
                         ::testing::Values(Case{Transport::udp, "127.0.0.1"}, Case{Transport::tcp, "127.0.0.1"},
                                           Case{Transport::tls, "127.0.0.1"}, Case{Transport::ws, "127.0.0.1"},
                                           Case{Transport::wss, "127.0.0.1"}, Case{Transport::udp, "::1"},
                                           Case{Transport::tcp, "::1"}, Case{Transport::tls, "::1"},
                                           Case{Transport::ws, "::1"}, Case{Transport::wss, "::1"}),
                         case_name);

// --------------------------------------------------------------------------- TCP behaviour

TEST(Runtime, TcpConnectionIsReused) {
    asio::io_context io;
    EngineOptions o;
    o.listen = {ListenSpec{.transport = Transport::tcp, .local = {"127.0.0.1", 0}, .ws_path = "/"}};
    Node server(io, o);
    Node client(io, EngineOptions{});  // no listener: outgoing connections only
    ASSERT_TRUE(server.engine->start());
    ASSERT_TRUE(client.engine->start());
    const Destination to{Transport::tcp, server.local(Transport::tcp), 0};
    const auto a = client.send(io, "OPTIONS", to);
    ASSERT_TRUE(run_until(io, [&] { return client.core.finals.contains(a); }));
    const auto b = client.send(io, "OPTIONS", to);
    ASSERT_TRUE(run_until(io, [&] { return client.core.finals.contains(b); }));
    EXPECT_EQ(client.core.finals[a], 200);
    EXPECT_EQ(client.core.finals[b], 200);
    ASSERT_EQ(server.core.requests.size(), 2u);
    EXPECT_EQ(server.core.requests[0].source.connection, server.core.requests[1].source.connection);
    EXPECT_EQ(client.engine->counters().connections_opened, 1u);
    EXPECT_EQ(server.engine->counters().connections_accepted, 1u);
    EXPECT_EQ(client.engine->connection_count(), 1u);
}

// A plain TCP peer in its own thread: connects, writes, then reads until `enough` says so, the
// peer closes, or 10 s pass.
struct RawTcp {
    std::atomic<bool> done{false};
    std::string received;
    bool closed_by_peer = false;
    std::thread thread;

    void run(Endpoint to, std::string bytes, std::function<bool(const std::string&)> enough) {
        thread = std::thread([this, to, bytes = std::move(bytes), enough = std::move(enough)] {
            asio::io_context io;
            tcp::socket s(io);
            boost::system::error_code ec;
            s.connect(tcp::endpoint(asio::ip::make_address(to.host), to.port), ec);
            if (!ec) {
                timeval tv{10, 0};
                ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
                asio::write(s, asio::buffer(bytes), ec);
                char buf[4096];
                while (!ec && !enough(received)) {
                    const std::size_t n = s.read_some(asio::buffer(buf), ec);
                    received.append(buf, n);
                }
                closed_by_peer = ec == asio::error::eof || ec == asio::error::connection_reset;
            }
            done = true;
        });
    }
    // run(), then drives `io` until the peer is done (bounded by run_until) and joins its thread;
    // false when the bound passed first.
    bool exchange(asio::io_context& io, Endpoint to, std::string bytes, std::function<bool(const std::string&)> enough) {
        run(std::move(to), std::move(bytes), std::move(enough));
        const bool finished = run_until(io, [&] { return done.load(); });
        thread.join();
        return finished;
    }
    ~RawTcp() {
        if (thread.joinable()) thread.join();
    }
};

// `o` (its other settings) listening on TCP 127.0.0.1:0.
EngineOptions tcp_server_options(EngineOptions o = {}) {
    o.listen = {ListenSpec{.transport = Transport::tcp, .local = {"127.0.0.1", 0}, .ws_path = "/"}};
    return o;
}

TEST(Runtime, KeepAlivePingIsAnsweredWithPong) {
    asio::io_context io;
    Node server(io, tcp_server_options());
    ASSERT_TRUE(server.engine->start());
    RawTcp peer;
    // RFC 5626 §3.5.1: double CRLF ping, single CRLF pong.
    ASSERT_TRUE(peer.exchange(io, server.local(Transport::tcp), "\r\n\r\n", [](const std::string& r) { return r.size() >= 2; }));
    EXPECT_EQ(peer.received, "\r\n");
    EXPECT_EQ(server.engine->counters().pings_answered, 1u);
    EXPECT_TRUE(server.core.requests.empty());
}

TEST(Runtime, ClientSendsKeepAlivePings) {
    asio::io_context io;
    Node server(io, tcp_server_options());
    EngineOptions co;
    co.keepalive_interval = 50ms;
    Node client(io, co);
    ASSERT_TRUE(server.engine->start());
    ASSERT_TRUE(client.engine->start());
    const auto a = client.send(io, "OPTIONS", Destination{Transport::tcp, server.local(Transport::tcp), 0});
    ASSERT_TRUE(run_until(io, [&] { return client.core.finals.contains(a) && client.engine->counters().pongs_received >= 2; }));
    EXPECT_GE(client.engine->counters().pings_sent, 2u);
    EXPECT_GE(server.engine->counters().pings_answered, 2u);
}

std::string request_with_padding(std::size_t pad) {
    return "OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKbig1\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=f1\r\nTo: <sip:bob@example.com>\r\n"
           "Call-ID: big1@test\r\nCSeq: 1 OPTIONS\r\nX-Pad: " +
           std::string(pad, 'p') + "\r\nContent-Length: 0\r\n\r\n";
}

TEST(Runtime, OversizedStreamMessageIsAnswered513ThenClosed) {
    asio::io_context io;
    Node server(io, tcp_server_options({.limits = {.max_message_size = 2000}}));
    ASSERT_TRUE(server.engine->start());
    RawTcp peer;
    ASSERT_TRUE(peer.exchange(io, server.local(Transport::tcp), request_with_padding(3000), [](const std::string&) { return false; }));
    EXPECT_TRUE(peer.received.starts_with("SIP/2.0 513 ")) << peer.received;
    EXPECT_NE(peer.received.find("Call-ID: big1@test"), std::string::npos);
    EXPECT_TRUE(peer.closed_by_peer);
    EXPECT_EQ(server.engine->counters().framing_errors, 1u);
    EXPECT_TRUE(server.core.requests.empty());
    EXPECT_TRUE(run_until(io, [&] { return server.engine->connection_count() == 0; }));
}

TEST(Runtime, SlowSenderIsTimedOut) {
    asio::io_context io;
    Node server(io, tcp_server_options({.incomplete_message_timeout = 200ms}));
    ASSERT_TRUE(server.engine->start());
    RawTcp peer;
    const auto started = std::chrono::steady_clock::now();
    ASSERT_TRUE(peer.exchange(io, server.local(Transport::tcp), "OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP",
                              [](const std::string&) { return false; }));
    EXPECT_TRUE(peer.closed_by_peer);
    EXPECT_TRUE(peer.received.empty());
    EXPECT_GE(std::chrono::steady_clock::now() - started, 200ms);
    EXPECT_EQ(server.engine->counters().incomplete_timeouts, 1u);
    EXPECT_TRUE(server.core.requests.empty());
}

// RFC 3261 §21.5.14: the headers fit, the Content-Length (10 MB) does not: 513 on the wire (the
// framer refuses the body, the core's parse of the headers it held picks the answer), then closed.
TEST(Runtime, AnnouncedBodyOverTheLimitIsAnswered513ThenClosed) {
    asio::io_context io;
    Node server(io, tcp_server_options());
    ASSERT_TRUE(server.engine->start());
    RawTcp peer;
    ASSERT_TRUE(peer.exchange(io, server.local(Transport::tcp),
                              "MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKbigcl\r\n"
                              "Max-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=f1\r\nTo: <sip:bob@example.com>\r\n"
                              "Call-ID: bigcl@test\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\n"
                              "Content-Length: 10000000\r\n\r\nhello",
                              [](const std::string&) { return false; }));
    EXPECT_TRUE(peer.received.starts_with("SIP/2.0 513 ")) << peer.received;
    EXPECT_NE(peer.received.find("Call-ID: bigcl@test"), std::string::npos);
    EXPECT_TRUE(peer.closed_by_peer);
    EXPECT_EQ(server.engine->counters().framing_errors, 1u);
    EXPECT_TRUE(server.core.requests.empty());
}

TEST(Runtime, MissingContentLengthIsAnswered400ThenClosed) {
    asio::io_context io;
    Node server(io, tcp_server_options());
    ASSERT_TRUE(server.engine->start());
    RawTcp peer;
    // RFC 3261 §18.3: Content-Length is mandatory on streams.
    ASSERT_TRUE(peer.exchange(io, server.local(Transport::tcp),
                              "OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKnocl\r\n"
                              "Max-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=f1\r\nTo: <sip:bob@example.com>\r\n"
                              "Call-ID: nocl@test\r\nCSeq: 1 OPTIONS\r\n\r\n",
                              [](const std::string&) { return false; }));
    EXPECT_TRUE(peer.received.starts_with("SIP/2.0 400 ")) << peer.received;
    EXPECT_NE(peer.received.find("Call-ID: nocl@test"), std::string::npos);
    EXPECT_TRUE(peer.closed_by_peer);
    EXPECT_EQ(server.engine->counters().framing_errors, 1u);
    EXPECT_TRUE(server.core.requests.empty());
}

TEST(Runtime, IdleConnectionIsClosed) {
    asio::io_context io;
    Node server(io, tcp_server_options({.tcp_idle_timeout = 150ms}));
    ASSERT_TRUE(server.engine->start());
    RawTcp peer;
    const auto started = std::chrono::steady_clock::now();
    ASSERT_TRUE(peer.exchange(io, server.local(Transport::tcp), "", [](const std::string&) { return false; }));
    EXPECT_TRUE(peer.closed_by_peer);
    EXPECT_GE(std::chrono::steady_clock::now() - started, 150ms);
    EXPECT_EQ(server.engine->counters().idle_timeouts, 1u);
    EXPECT_EQ(server.engine->connection_count(), 0u);
}

// --------------------------------------------------------------------------- connection limits

// A raw client on the test's io_context: connects (from `bind_host`, port 0), sends, and reads
// until the server closes; `closed` once it did (EOF or reset).
struct Peer {
    tcp::socket s;
    std::string received;
    bool closed = false;
    std::array<char, 4096> buf{};
    Peer(asio::io_context& io, const Endpoint& to, const std::string& bind_host = "127.0.0.1") : s(io) {
        s.open(tcp::v4());
        s.bind(tcp::endpoint(asio::ip::make_address(bind_host), 0));
        s.connect(tcp::endpoint(asio::ip::make_address(to.host), to.port));
        read();
    }
    void read() {
        s.async_read_some(asio::buffer(buf), [this](const boost::system::error_code& ec, std::size_t n) {
            if (ec) {
                closed = ec != asio::error::operation_aborted;
                return;
            }
            received.append(buf.data(), n);
            read();
        });
    }
    void send(const std::string& bytes) { asio::write(s, asio::buffer(bytes)); }
};

std::string options_request(const std::string& call_id) {
    return "OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bK" + call_id +
           "\r\nMax-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=f1\r\nTo: <sip:bob@example.com>\r\n"
           "Call-ID: " + call_id + "@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
}

TEST(Runtime, ConnectionOverTheTotalCapIsClosed) {
    asio::io_context io;
    Node server(io, tcp_server_options({.max_connections = 2, .max_connections_per_source = 0}));
    ASSERT_TRUE(server.engine->start());
    const Endpoint at = server.local(Transport::tcp);
    Peer a(io, at), b(io, at);
    ASSERT_TRUE(run_until(io, [&] { return server.engine->counters().connections_accepted == 2; }));
    Peer c(io, at);  // the third: closed by us at once
    ASSERT_TRUE(run_until(io, [&] { return c.closed; })) << server.all_log();
    EXPECT_EQ(server.engine->counters().connections_over_cap, 1u);
    EXPECT_EQ(server.engine->counters().connections_accepted, 2u);
    EXPECT_FALSE(a.closed);
    EXPECT_FALSE(b.closed);
    Peer d(io, at);  // a burst: one log line for both refusals
    ASSERT_TRUE(run_until(io, [&] { return d.closed; }));
    EXPECT_EQ(std::count_if(server.log.begin(), server.log.end(),
                            [](const std::string& l) { return l.find("connection cap reached") != std::string::npos; }),
              1)
        << server.all_log();
    // One closes: a new connection is served.
    a.s.close();
    ASSERT_TRUE(run_until(io, [&] { return server.engine->connection_count() == 1; }));
    Peer e(io, at);
    e.send(options_request("cap1"));
    ASSERT_TRUE(run_until(io, [&] { return e.received.find("\r\n\r\n") != std::string::npos; })) << server.all_log();
    EXPECT_TRUE(e.received.starts_with("SIP/2.0 200 ")) << e.received;
    EXPECT_EQ(server.engine->counters().connections_over_cap, 2u);
}

TEST(Runtime, ConnectionOverThePerSourceCapIsClosedOthersAreServed) {
    {  // 127.0.0.2 must be usable as a local address (it is on Linux: all of 127/8 is loopback)
        asio::io_context probe;
        tcp::socket s(probe);
        boost::system::error_code ec;
        s.open(tcp::v4(), ec);
        if (!ec) s.bind(tcp::endpoint(asio::ip::make_address("127.0.0.2"), 0), ec);
        if (ec) GTEST_SKIP() << "cannot bind 127.0.0.2: " << ec.message();
    }
    asio::io_context io;
    Node server(io, tcp_server_options({.max_connections = 100, .max_connections_per_source = 2}));
    ASSERT_TRUE(server.engine->start());
    const Endpoint at = server.local(Transport::tcp);
    Peer a(io, at), b(io, at);  // two from 127.0.0.1, from different ports
    ASSERT_TRUE(run_until(io, [&] { return server.engine->counters().connections_accepted == 2; }));
    Peer c(io, at);  // the third from 127.0.0.1: closed by us
    ASSERT_TRUE(run_until(io, [&] { return c.closed; })) << server.all_log();
    EXPECT_EQ(server.engine->counters().connections_over_cap, 1u);
    EXPECT_TRUE(server.logged("from 127.0.0.1")) << server.all_log();
    Peer other(io, at, "127.0.0.2");  // another source address still works
    other.send(options_request("cap2"));
    ASSERT_TRUE(run_until(io, [&] { return other.received.find("\r\n\r\n") != std::string::npos; })) << server.all_log();
    EXPECT_TRUE(other.received.starts_with("SIP/2.0 200 ")) << other.received;
    ASSERT_EQ(server.core.requests.size(), 1u);
    EXPECT_EQ(server.core.requests[0].source.remote.host, "127.0.0.2");
    EXPECT_FALSE(a.closed);
    EXPECT_FALSE(b.closed);
    EXPECT_FALSE(other.closed);
}

// RFC 5626 §4.4.1 keep-alives do not count as use: a connection that carries only pings is closed
// after the idle timeout although it pings all along (docs/ARCHITECTURE.md, runtime).
TEST(Runtime, KeepAliveOnlyConnectionIsClosedAfterTheIdleTimeout) {
    asio::io_context io;
    Node server(io, tcp_server_options({.tcp_idle_timeout = 300ms}));
    ASSERT_TRUE(server.engine->start());
    const Endpoint at = server.local(Transport::tcp);
    Peer used(io, at);       // sends a message now and then: kept
    Peer pinging(io, at);    // pings every 30 ms: closed
    used.send(options_request("idle1"));
    asio::steady_timer pinger(io);
    int pings = 0;
    const auto started = std::chrono::steady_clock::now();
    std::function<void()> ping = [&] {
        if (pinging.closed) return;
        boost::system::error_code ec;
        asio::write(pinging.s, asio::buffer(std::string("\r\n\r\n")), ec);
        if (++pings % 5 == 0) asio::write(used.s, asio::buffer(options_request("idle" + std::to_string(pings))), ec);
        pinger.expires_after(30ms);
        pinger.async_wait([&](const boost::system::error_code& e) {
            if (!e) ping();
        });
    };
    ping();
    ASSERT_TRUE(run_until(io, [&] { return pinging.closed; })) << server.all_log();
    pinger.cancel();
    EXPECT_GE(std::chrono::steady_clock::now() - started, 300ms);
    EXPECT_GE(pings, 5);  // it pinged well within every idle period
    EXPECT_GE(server.engine->counters().pings_answered, 5u);
    EXPECT_EQ(server.engine->counters().idle_timeouts, 1u);
    EXPECT_FALSE(used.closed);  // SIP messages every ~150 ms keep the other one
    EXPECT_EQ(server.engine->connection_count(), 1u);
}

// RFC 6455 §4.2.1: the opening handshake is a GET; an upgrade carrying a body, or with headers
// over max_ws_upgrade_size, is refused and never answered 101.
TEST(Runtime, WebSocketUpgradeWithABodyOrHugeHeadersIsRefused) {
    asio::io_context io;
    EngineOptions o;
    o.listen = {ListenSpec{.transport = Transport::ws, .local = {"127.0.0.1", 0}, .ws_path = "/"}};
    Node server(io, o);
    ASSERT_TRUE(server.engine->start());
    const Endpoint at = server.local(Transport::ws);
    const std::string upgrade = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                                "Sec-WebSocket-Protocol: sip\r\n";
    Peer body(io, at);
    body.send(upgrade + "Content-Length: 100000\r\n\r\n" + std::string(100000, 'b'));
    ASSERT_TRUE(run_until(io, [&] { return body.closed; })) << server.all_log();
    EXPECT_EQ(body.received.find(" 101 "), std::string::npos) << body.received;
    EXPECT_TRUE(server.logged("the upgrade request has a body")) << server.all_log();
    Peer huge(io, at);
    huge.send(upgrade + "X-Pad: " + std::string(9000, 'p') + "\r\n\r\n");
    ASSERT_TRUE(run_until(io, [&] { return huge.closed; })) << server.all_log();
    EXPECT_EQ(huge.received.find(" 101 "), std::string::npos) << huge.received;
    EXPECT_TRUE(server.logged("headers larger than max_ws_upgrade_size")) << server.all_log();
    EXPECT_EQ(server.engine->counters().ws_rejected_handshakes, 2u);
    // The same upgrade without a body is answered 101.
    Peer good(io, at);
    good.send(upgrade + "\r\n");
    ASSERT_TRUE(run_until(io, [&] { return good.received.find("\r\n\r\n") != std::string::npos; })) << server.all_log();
    EXPECT_TRUE(good.received.starts_with("HTTP/1.1 101 ")) << good.received;
    EXPECT_EQ(server.engine->counters().ws_rejected_handshakes, 2u);
}

// Out of descriptors, accept() fails with EMFILE and the connection stays in the backlog, so the
// listening socket stays readable: retrying at once would spin. The engine pauses accepting
// instead, and takes the waiting connection once a descriptor is free. The server runs in a child
// process whose RLIMIT_NOFILE leaves room for one or two connections (the test process keeps its
// own limit); the child reports the CPU time its (only) thread used over a one-second window of
// running its io_context while out of descriptors — a bound on a spin, not a speed measurement.
struct EmfileReport {
    int status = -1;  // 0 = measured; otherwise which step of the child failed
    long long cpu_us = 0;
    long long wall_us = 0;
    int accepted = 0;
};

bool read_bounded(int fd, void* out, std::size_t n, int timeout_ms) {
    auto* p = static_cast<char*>(out);
    while (n > 0) {
        pollfd pfd{fd, POLLIN, 0};
        if (::poll(&pfd, 1, timeout_ms) != 1) return false;
        const ssize_t r = ::read(fd, p, n);
        if (r <= 0) return false;
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

[[noreturn]] void emfile_child(int out, int in) {
    EmfileReport report;
    const auto finish = [&](int status) {
        report.status = status;
        (void)!::write(out, &report, sizeof report);
        _exit(status);  // never the parent's atexit handlers
    };
    asio::io_context io;
    Node server(io, tcp_server_options({.max_connections = 0, .max_connections_per_source = 0}));
    if (!server.engine->start()) finish(10);
    const std::uint16_t port = server.local(Transport::tcp).port;
    if (::write(out, &port, sizeof port) != sizeof port) finish(11);
    // Room for at most two more descriptors: the lowest free one and the next.
    const int probe = ::dup(0);
    if (probe < 0) finish(12);
    ::close(probe);
    rlimit low{};
    ::getrlimit(RLIMIT_NOFILE, &low);
    low.rlim_cur = static_cast<rlim_t>(probe + 2);
    if (::setrlimit(RLIMIT_NOFILE, &low) != 0) finish(13);
    if (!run_until(io, [&] { return server.engine->counters().accept_pauses >= 1; })) finish(14);
    report.accepted = static_cast<int>(server.engine->counters().connections_accepted);
    rusage r0{}, r1{};
    ::getrusage(RUSAGE_SELF, &r0);
    const auto t0 = std::chrono::steady_clock::now();
    run_until(io, [] { return false; }, 1000ms);  // the measured window: out of descriptors all along
    ::getrusage(RUSAGE_SELF, &r1);
    const auto cpu = [](const rusage& r) {
        return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1000000LL + r.ru_utime.tv_usec + r.ru_stime.tv_usec;
    };
    report.cpu_us = cpu(r1) - cpu(r0);
    report.wall_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
    report.status = 0;
    if (::write(out, &report, sizeof report) != sizeof report) _exit(15);
    ::fcntl(in, F_SETFL, O_NONBLOCK);
    char done = 0;
    run_until(io, [&] { return ::read(in, &done, 1) != -1 || errno != EAGAIN; }, 20s);
    _exit(0);
}

TEST(Runtime, OutOfDescriptorsPausesAcceptingWithoutSpinning) {
#if defined(__SANITIZE_ADDRESS__)
    // The sanitizer runtime probes memory through a pipe (and reads /proc/self) when it checks a
    // dynamic type: with every descriptor taken it reports a false error and exits the child.
    GTEST_SKIP() << "needs free descriptors for the sanitizer runtime; runs in the dev and release builds";
#endif
    // A child that died early must fail the test with its message, not kill it on the pipe.
    ::signal(SIGPIPE, SIG_IGN);
    int to_parent[2], to_child[2];
    ASSERT_EQ(::pipe(to_parent), 0);
    ASSERT_EQ(::pipe(to_child), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::close(to_parent[0]);
        ::close(to_child[1]);
        emfile_child(to_parent[1], to_child[0]);
    }
    ::close(to_parent[1]);
    ::close(to_child[0]);
    struct Reap {
        pid_t pid;
        int in, out;
        ~Reap() {
            (void)!::write(out, "x", 1);
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
            ::close(in);
            ::close(out);
        }
    } reap{pid, to_parent[0], to_child[1]};

    std::uint16_t port = 0;
    ASSERT_TRUE(read_bounded(to_parent[0], &port, sizeof port, 10000)) << "the child did not start";
    asio::io_context io;
    const tcp::endpoint at(asio::ip::make_address("127.0.0.1"), port);
    std::vector<tcp::socket> conns;
    for (int i = 0; i < 3; ++i) {
        conns.emplace_back(io);
        conns.back().connect(at);  // completes in the kernel's backlog, accepted or not
        timeval tv{10, 0};
        ::setsockopt(conns.back().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        asio::write(conns.back(), asio::buffer(options_request("emfile" + std::to_string(i))));
    }
    EmfileReport report;
    ASSERT_TRUE(read_bounded(to_parent[0], &report, sizeof report, 20000)) << "no report from the child";
    ASSERT_EQ(report.status, 0) << "the child failed at step " << report.status;
    ASSERT_GE(report.accepted, 1);
    ASSERT_LE(report.accepted, 2);
    // A spinning accept loop burns the whole window; a paused one almost nothing.
    EXPECT_LT(report.cpu_us * 4, report.wall_us) << "cpu " << report.cpu_us << " us over " << report.wall_us << " us";
    // A descriptor is freed: the first connection waiting in the backlog is taken and answered.
    conns.front().close();
    tcp::socket& waiting = conns[static_cast<std::size_t>(report.accepted)];
    std::string got;
    boost::system::error_code ec;
    char buf[4096];
    while (!ec && got.find("\r\n\r\n") == std::string::npos) got.append(buf, waiting.read_some(asio::buffer(buf), ec));
    EXPECT_TRUE(got.starts_with("SIP/2.0 200 ")) << got << " " << ec.message();
}

TEST(Runtime, PeerResetMidTransactionGives503) {
    asio::io_context io;
    // A raw server: accepts, reads the request's headers, then resets the connection.
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const Endpoint raw{"127.0.0.1", acceptor.local_endpoint().port()};
    std::atomic<bool> reset{false};
    std::string got;
    std::thread t([&] {
        tcp::socket s = acceptor.accept();
        char buf[4096];
        boost::system::error_code ec;
        while (!ec && got.find("\r\n\r\n") == std::string::npos) got.append(buf, s.read_some(asio::buffer(buf), ec));
        s.set_option(asio::socket_base::linger(true, 0));
        s.close();
        reset = true;
    });
    Node client(io, EngineOptions{});
    ASSERT_TRUE(client.engine->start());
    const auto a = client.send(io, "OPTIONS", Destination{Transport::tcp, raw, 0});
    const bool finished = run_until(io, [&] { return client.core.finals.contains(a); });
    t.join();
    ASSERT_TRUE(finished) << client.all_log();
    EXPECT_TRUE(got.starts_with("OPTIONS ")) << got;
    EXPECT_TRUE(reset);
    EXPECT_EQ(client.core.finals[a], 503);
    EXPECT_GE(client.core.transport_errors, 1);
}

TEST(Runtime, KeepAliveWithoutPongFailsTheFlow) {
    asio::io_context io;
    // A raw server that reads everything and answers nothing (no response, no pong).
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const Endpoint raw{"127.0.0.1", acceptor.local_endpoint().port()};
    std::string got;
    std::thread t([&] {
        tcp::socket s = acceptor.accept();
        timeval tv{10, 0};
        ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char buf[4096];
        boost::system::error_code ec;
        while (!ec) got.append(buf, s.read_some(asio::buffer(buf), ec));
    });
    EngineOptions co;
    co.keepalive_interval = 50ms;
    co.keepalive_pong_timeout = 100ms;
    Node client(io, co);
    ASSERT_TRUE(client.engine->start());
    const auto a = client.send(io, "OPTIONS", Destination{Transport::tcp, raw, 0});
    const bool finished = run_until(io, [&] { return client.core.finals.contains(a); });
    client.engine->stop();
    t.join();
    ASSERT_TRUE(finished) << client.all_log();
    EXPECT_EQ(client.core.finals[a], 503);  // RFC 5626 §4.4.1: the flow failed
    EXPECT_EQ(client.engine->counters().keepalive_failures, 1u);
    EXPECT_NE(got.find("\r\n\r\n\r\n\r\n"), std::string::npos);  // the request's blank line, then a ping
}

TEST(Runtime, ConnectionRefusedGives503) {
    asio::io_context io;
    std::uint16_t port = 0;
    {
        tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        port = probe.local_endpoint().port();
    }  // closed: nothing listens there now
    Node client(io, EngineOptions{});
    ASSERT_TRUE(client.engine->start());
    const auto a = client.send(io, "OPTIONS", Destination{Transport::tcp, {"127.0.0.1", port}, 0});
    ASSERT_TRUE(run_until(io, [&] { return client.core.finals.contains(a); }));
    EXPECT_EQ(client.core.finals[a], 503);
    EXPECT_EQ(client.engine->counters().connect_failures, 1u);
    EXPECT_TRUE(client.logged("refused")) << client.all_log();
}

// --------------------------------------------------------------------------- UDP

TEST(Runtime, OversizedDatagramIsDropped) {
    asio::io_context io;
    EngineOptions o;
    o.listen = {ListenSpec{.transport = Transport::udp, .local = {"127.0.0.1", 0}, .ws_path = "/"}};
    o.limits.max_message_size = 1500;
    Node server(io, o);
    EngineOptions co;
    co.listen = {ListenSpec{.transport = Transport::udp, .local = {"127.0.0.1", 0}, .ws_path = "/"}};
    Node client(io, co);
    ASSERT_TRUE(server.engine->start());
    ASSERT_TRUE(client.engine->start());
    const Endpoint to = server.local(Transport::udp);
    udp::socket raw(io, udp::endpoint(udp::v4(), 0));
    const std::string big = request_with_padding(1600);  // a valid request, just too large
    raw.send_to(asio::buffer(big), udp::endpoint(asio::ip::make_address(to.host), to.port));
    ASSERT_TRUE(run_until(io, [&] { return server.engine->counters().oversized_datagrams == 1; }));
    const auto a = client.send(io, "OPTIONS", Destination{Transport::udp, to, 0});
    ASSERT_TRUE(run_until(io, [&] { return client.core.finals.contains(a); }));
    EXPECT_EQ(client.core.finals[a], 200);
    EXPECT_EQ(server.core.requests.size(), 1u);  // only the small one
    EXPECT_EQ(server.engine->counters().datagrams_received, 2u);
}

TEST(Runtime, StartFailsWithTheAddressInTheMessage) {
    asio::io_context io;
    tcp::acceptor taken(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const std::uint16_t port = taken.local_endpoint().port();
    EngineOptions o;
    o.listen = {ListenSpec{.transport = Transport::tcp, .local = {"127.0.0.1", port}, .ws_path = "/"}};
    Node n(io, o);
    auto r = n.engine->start();
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("TCP 127.0.0.1:" + std::to_string(port)), std::string::npos) << r.error();
}

// --------------------------------------------------------------------------- WebSocket

TEST(Runtime, WebSocketMessageThatIsNotSipIsRejected) {
    asio::io_context io;
    EngineOptions o;
    o.listen = {ListenSpec{.transport = Transport::ws, .local = {"127.0.0.1", 0}, .ws_path = "/sip"}};
    Node server(io, o);
    ASSERT_TRUE(server.engine->start());
    const Endpoint at = server.local(Transport::ws);

    std::atomic<bool> done{false};
    std::string answer, no_subprotocol_error, wrong_path_error;
    std::thread t([&] {
        namespace websocket = boost::beast::websocket;
        asio::io_context cio;
        auto open = [&](std::string_view path, bool sip, std::string& error) -> std::unique_ptr<websocket::stream<tcp::socket>> {
            auto ws = std::make_unique<websocket::stream<tcp::socket>>(cio);
            boost::system::error_code ec;
            ws->next_layer().connect(tcp::endpoint(asio::ip::make_address(at.host), at.port), ec);
            if (sip)
                ws->set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
                    req.set(boost::beast::http::field::sec_websocket_protocol, "sip");
                }));
            if (!ec) ws->handshake(format_hostport(at), std::string(path), ec);
            if (ec) {
                error = ec.message();
                return nullptr;
            }
            return ws;
        };
        std::string unused;
        open("/sip", false, no_subprotocol_error);  // RFC 7118 §4: refused without "sip"
        open("/other", true, wrong_path_error);
        if (auto ws = open("/sip", true, unused)) {
            boost::system::error_code ec;
            ws->text(true);
            ws->write(asio::buffer(std::string("hello, this is not SIP")), ec);
            // Readable enough to answer: Via, From, To, Call-ID and CSeq are there; the CSeq is broken.
            ws->write(asio::buffer(std::string("OPTIONS sip:bob@example.com SIP/2.0\r\n"
                                               "Via: SIP/2.0/WS abc.invalid;branch=z9hG4bKws1\r\n"
                                               "From: <sip:a@example.com>;tag=f1\r\nTo: <sip:bob@example.com>\r\n"
                                               "Call-ID: ws1@test\r\nCSeq: x OPTIONS\r\nContent-Length: 0\r\n\r\n")),
                      ec);
            boost::beast::flat_buffer b;
            ::timeval tv{10, 0};
            ::setsockopt(ws->next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            ws->read(b, ec);
            if (!ec) answer = boost::beast::buffers_to_string(b.data());
        }
        done = true;
    });
    const bool finished = run_until(io, [&] { return done.load(); });
    t.join();
    ASSERT_TRUE(finished);
    EXPECT_FALSE(no_subprotocol_error.empty());
    EXPECT_FALSE(wrong_path_error.empty());
    EXPECT_EQ(server.engine->counters().ws_rejected_handshakes, 2u);
    EXPECT_TRUE(answer.starts_with("SIP/2.0 400 ")) << answer;
    EXPECT_NE(answer.find("Call-ID: ws1@test"), std::string::npos) << answer;
    EXPECT_TRUE(server.core.requests.empty());
    EXPECT_EQ(server.core.layer_counters().malformed_requests_dropped, 1u);
    EXPECT_EQ(server.core.layer_counters().malformed_requests_answered, 1u);
}

// --------------------------------------------------------------------------- TLS verification

TEST(Runtime, TlsWrongHostnameIsRefusedAndNothingIsSent) {
    if (!certs().ok) GTEST_SKIP() << "openssl could not make test certificates: " << certs().error;
    for (Transport t : {Transport::tls, Transport::wss}) {
        SCOPED_TRACE(std::string(transport_name(t)));
        asio::io_context io;
        EngineOptions so;
        so.listen = {ListenSpec{.transport = t, .local = {"127.0.0.1", 0}, .ws_path = "/"}};
        so.tls = tls_options();
        Node server(io, so);
        EngineOptions co;
        co.tls = tls_options();
        co.tls.server_name = "wrong.example";  // the certificate names 127.0.0.1, ::1 and localhost
        Node client(io, co);
        ASSERT_TRUE(server.engine->start());
        ASSERT_TRUE(client.engine->start());
        const auto a = client.send(io, "OPTIONS", Destination{t, server.local(t), 0});
        ASSERT_TRUE(run_until(io, [&] { return client.core.finals.contains(a); })) << client.all_log();
        EXPECT_EQ(client.core.finals[a], 503);
        EXPECT_EQ(client.engine->counters().tls_verify_failures, 1u);
        EXPECT_TRUE(client.logged("certificate verification failed")) << client.all_log();
        EXPECT_TRUE(client.logged("wrong.example")) << client.all_log();
        EXPECT_EQ(server.engine->counters().stream_messages_received, 0u);
        EXPECT_TRUE(server.core.requests.empty());
    }
}

TEST(Runtime, TlsNameVerificationSucceedsForLocalhost) {
    if (!certs().ok) GTEST_SKIP() << "openssl could not make test certificates: " << certs().error;
    asio::io_context io;
    EngineOptions so;
    so.listen = {ListenSpec{.transport = Transport::tls, .local = {"127.0.0.1", 0}, .ws_path = "/"}};
    so.tls = tls_options();
    Node server(io, so);
    Node client(io, EngineOptions{.tls = tls_options()});
    ASSERT_TRUE(server.engine->start());
    ASSERT_TRUE(client.engine->start());
    // A name, resolved by the engine; verified as a DNS name (and sent as SNI).
    const auto a = client.send(io, "OPTIONS", Destination{Transport::tls, {"localhost", server.local(Transport::tls).port}, 0});
    ASSERT_TRUE(run_until(io, [&] { return client.core.finals.contains(a); })) << client.all_log();
    EXPECT_EQ(client.core.finals[a], 200) << client.all_log();
}

TEST(Runtime, ParseListenAndHostport) {
    auto a = parse_listen("udp:127.0.0.1:5060");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->transport, Transport::udp);
    EXPECT_EQ(a->local, (Endpoint{"127.0.0.1", 5060}));
    auto b = parse_listen("wss:[::1]:8443/sip");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->transport, Transport::wss);
    EXPECT_EQ(b->local, (Endpoint{"::1", 8443}));
    EXPECT_EQ(b->ws_path, "/sip");
    EXPECT_FALSE(parse_listen("sctp:127.0.0.1:5060"));
    EXPECT_FALSE(parse_listen("udp:example.com:5060"));
    EXPECT_FALSE(parse_listen("udp:127.0.0.1"));
    EXPECT_FALSE(parse_hostport("::1:5060"));
    EXPECT_EQ(format_hostport({"::1", 5060}), "[::1]:5060");
    EXPECT_EQ(format_hostport({"10.0.0.1", 5060}), "10.0.0.1:5060");
}

}  // namespace
}  // namespace referkit::runtime
