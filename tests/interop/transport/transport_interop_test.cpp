// The runtime against real peers: SIPp (UDP and TCP, both as UAC and as UAS) and SIP.js from npm
// over WebSocket. Peers are started and stopped by the tests (a failing test kills them); every
// wait is a bounded condition.
#include <utility>  // before Asio (Boost 1.74 + g++ 12)

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>

#include <boost/asio.hpp>

#include "io_wait.hpp"
#include "process.hpp"
#include "referkit/runtime/engine.hpp"
#include "sipp_peer.hpp"
#include "test_core.hpp"

namespace referkit::runtime {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using interop::ChildProcess;
using interop::SippOptions;
using interop::SippPeer;
using test::run_until;
using test::run_until_exit;
using test::TestCore;

// Our engine's options: listening on 127.0.0.1:0 over `t`, every log line appended to `log`.
EngineOptions listening(Transport t, std::string& log) {
    return EngineOptions{.listen = {ListenSpec{.transport = t, .local = {"127.0.0.1", 0}, .ws_path = "/"}},
                         .log = [&log](std::string_view l) { log.append(l).append("\n"); }};
}

std::string scenario(std::string_view name) { return std::string(REFERKIT_TRANSPORT_DIR) + "/" + std::string(name); }

struct Sipp : ::testing::TestWithParam<Transport> {
    void SetUp() override {
        if (!interop::find_program("sipp")) GTEST_SKIP() << "sipp is not installed (Debian package sip-tester)";
    }
    static std::string sipp_transport(Transport t) { return t == Transport::udp ? "udp" : "tcp"; }
};

// SIPp is the UAC: OPTIONS then MESSAGE to our engine, which answers both 200.
TEST_P(Sipp, EngineAnswersOptionsAndMessage) {
    const Transport t = GetParam();
    asio::io_context io;
    TestCore core;
    std::string log;
    Engine engine(io, core, listening(t, log));
    ASSERT_TRUE(engine.start());
    const Endpoint us = engine.local_endpoints().front().second;
    auto sipp = SippPeer::start(SippOptions{.scenario = scenario("uac_options_message.xml"),
                                            .transport = sipp_transport(t),
                                            .remote = format_hostport(us),
                                            .service = "referkit"});
    ASSERT_TRUE(sipp) << sipp.error();
    const std::optional<int> code = run_until_exit(io, *sipp, 20s);
    ASSERT_TRUE(code.has_value()) << sipp->output();
    EXPECT_EQ(*code, 0) << sipp->output() << log;
    ASSERT_EQ(core.requests.size(), 2u) << sipp->output();
    EXPECT_EQ(core.requests[0].method, "OPTIONS");
    EXPECT_EQ(core.requests[1].method, "MESSAGE");
    for (const auto& r : core.requests) EXPECT_EQ(r.source.transport, t);
}

// SIPp is the UAS: our engine sends MESSAGE then OPTIONS (one Call-ID); SIPp answers 200.
TEST_P(Sipp, EngineSendsMessageAndOptions) {
    const Transport t = GetParam();
    auto sipp = SippPeer::start(SippOptions{.scenario = scenario("uas_message_options.xml"), .transport = sipp_transport(t)});
    ASSERT_TRUE(sipp) << sipp.error();
    asio::io_context io;
    TestCore core;
    std::string log;
    Engine engine(io, core, listening(t, log));
    ASSERT_TRUE(engine.start());
    const Destination to{t, {"127.0.0.1", sipp->port()}, 0};
    std::uint64_t a = 0;
    engine.post([&](Time now) { a = core.send("MESSAGE", to, now, "sipp-uas-1@test", 1, "sip:sipp@127.0.0.1", "hi"); });
    ASSERT_TRUE(run_until(io, [&] { return a != 0 && core.finals.contains(a); }, 15s)) << sipp->output() << log;
    EXPECT_EQ(core.finals[a], 200) << sipp->output();
    std::uint64_t b = 0;
    engine.post([&](Time now) { b = core.send("OPTIONS", to, now, "sipp-uas-1@test", 2, "sip:sipp@127.0.0.1"); });
    ASSERT_TRUE(run_until(io, [&] { return b != 0 && core.finals.contains(b); }, 15s)) << sipp->output() << log;
    EXPECT_EQ(core.finals[b], 200) << sipp->output();
    const std::optional<int> code = run_until_exit(io, *sipp, 15s);
    ASSERT_TRUE(code.has_value()) << sipp->output();
    EXPECT_EQ(*code, 0) << sipp->output();
}

INSTANTIATE_TEST_SUITE_P(Transports, Sipp, ::testing::Values(Transport::udp, Transport::tcp),
                         [](const ::testing::TestParamInfo<Transport>& p) { return std::string(transport_name(p.param)); });

// SIP.js (npm) connects over WS, sends MESSAGE (we answer 200), and receives a MESSAGE we send
// back over the same connection (it answers 200).
TEST(SipJs, MessageBothWaysOverWebSocket) {
    auto node = interop::find_program("node");
    auto npm = interop::find_program("npm");
    if (!node || !npm) GTEST_SKIP() << "node/npm are not installed";
    const std::string dir = REFERKIT_SIPJS_DIR;
    if (!std::filesystem::exists(dir + "/node_modules/sip.js")) {
        auto install = ChildProcess::spawn({*npm, "ci", "--no-audit", "--no-fund"}, interop::SpawnOptions{.cwd = dir});
        ASSERT_TRUE(install) << install.error();
        const auto code = install->wait_for(180s);
        if (!code || *code != 0 || !std::filesystem::exists(dir + "/node_modules/sip.js"))
            GTEST_SKIP() << "npm ci failed (offline?): " << install->output();
    }
    asio::io_context io;
    TestCore core;
    std::string log;
    Engine engine(io, core, listening(Transport::ws, log));
    ASSERT_TRUE(engine.start());
    const Endpoint us = engine.local_endpoints().front().second;
    auto harness = ChildProcess::spawn({*node, "harness.mjs", "ws://" + format_hostport(us), "sip:referkit@127.0.0.1"},
                                       interop::SpawnOptions{.cwd = dir});
    ASSERT_TRUE(harness) << harness.error();
    // Its MESSAGE arrives (and is answered 200 by the core).
    ASSERT_TRUE(run_until(io, [&] { return !core.requests.empty() || !harness->running(); }, 20s)) << harness->output();
    ASSERT_FALSE(core.requests.empty()) << harness->output() << log;
    const auto& r = core.requests.front();
    EXPECT_EQ(r.method, "MESSAGE");
    EXPECT_EQ(r.source.transport, Transport::ws);
    // Ours goes back over the same connection (RFC 7118 §5: the client's Via host is not reachable).
    std::uint64_t id = 0;
    const Destination back{Transport::ws, r.source.remote, r.source.connection};
    engine.post([&](Time now) { id = core.send("MESSAGE", back, now, {}, 1, "sip:sipjs@example.com", "hello from referkit"); });
    ASSERT_TRUE(run_until(io, [&] { return id != 0 && core.finals.contains(id); }, 15s)) << harness->output() << log;
    EXPECT_EQ(core.finals[id], 200) << harness->output();
    const std::optional<int> code = run_until_exit(io, *harness, 15s);
    ASSERT_TRUE(code.has_value()) << harness->output();
    EXPECT_EQ(*code, 0) << harness->output() << log;
    EXPECT_NE(harness->output().find("hello from referkit"), std::string::npos) << harness->output();
    EXPECT_EQ(engine.counters().connections_accepted, 1u);
}

}  // namespace
}  // namespace referkit::runtime
