// SIPp as an interop peer: runs one scenario of tests/interop/sipp for one call and reports
// whether it succeeded. An interop test is: start the SIPp side, run our UA against it,
// EXPECT_EQ(sipp->wait_for(bound), 0) << sipp->output().
#pragma once

#include "peer_home.hpp"
#include "process.hpp"

#include <chrono>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace referkit::interop {

struct SippOptions {
    std::string scenario{};                  // a file name in tests/interop/sipp, or a path with '/'
    std::string transport = "udp";           // "udp" (-t u1) or "tcp" (-t t1)
    std::string local_host = "127.0.0.1";    // -i
    std::uint16_t local_port = 0;            // -p; 0 = a free port
    std::string remote{};                    // "host:port" for a UAC scenario; empty for a UAS one
    std::string service = "bob";             // -s: the user part [service] of UAC requests
    std::chrono::seconds timeout{15};        // -timeout ... -timeout_error: SIPp gives up and fails
    std::vector<std::string> extra_args{};   // e.g. {"-set", "auth_user", "alice"} or {"-au", "alice"}
};

// Absolute path of a scenario in tests/interop/sipp (no existence check).
std::string sipp_scenario_path(std::string_view name);

class SippPeer {
public:
    // Starts `sipp` for exactly one call (-m 1) with message, error and <log> traces in a private
    // temp dir (removed with the object). A UAS scenario (empty `remote`) is waited for (at most
    // 5 s) until it has its port open. Errors: sipp not on PATH, unknown transport, scenario file
    // missing, SIPp exiting or not listening in time (the message carries its output).
    static std::expected<SippPeer, std::string> start(SippOptions options);

    // Move-only; destruction (or being moved onto) stops SIPp and removes the temp dir (PeerHome).
    SippPeer(SippPeer&& other) noexcept = default;
    SippPeer& operator=(SippPeer&& other) noexcept = default;
    SippPeer(const SippPeer&) = delete;
    SippPeer& operator=(const SippPeer&) = delete;
    ~SippPeer() = default;

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    // "127.0.0.1:PORT", for a UAC scenario's `remote`.
    [[nodiscard]] std::string address() const;
    // sip:USER@HOST:PORT (;transport=tcp over TCP): where a UA should send its requests.
    [[nodiscard]] std::string uri(std::string_view user = "sipp") const;
    // Waits at most `bound` for SIPp to end: its exit code (0 = the call succeeded), nullopt on
    // timeout (SIPp keeps running; the destructor stops it).
    std::optional<int> wait_for(std::chrono::milliseconds bound);
    // Stops SIPp now (SIGTERM, then SIGKILL).
    void terminate() { home_.process().terminate(); }
    // Its screen output, the <log> lines, the unexpected-message log and the full message trace,
    // each under a heading: for failure messages and assertions.
    [[nodiscard]] std::string output() const;
    // Only the message trace (every SIP message sent and received).
    [[nodiscard]] std::string messages() const;

private:
    SippPeer(ChildProcess process, std::string dir, std::string host, std::uint16_t port, std::string transport);

    PeerHome home_;
    std::string host_{};
    std::uint16_t port_ = 0;
    std::string transport_{};
};

}  // namespace referkit::interop
