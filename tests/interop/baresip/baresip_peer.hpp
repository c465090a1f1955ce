// baresip 1.0 as a real softphone peer for interop tests: a throwaway config, no audio device, a
// local account without registration, and commands sent over its ctrl_tcp module.
#pragma once

#include "peer_home.hpp"
#include "process.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace referkit::interop {

struct BaresipOptions {
    std::string user = "bob";
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;                  // SIP port (UDP and TCP); 0 = a free one (port+1 free too:
                                             // baresip also listens for TLS there)
    std::chrono::seconds lifetime{30};       // -t: it quits by itself after this
    bool auto_answer = true;                 // answermode=auto, else manual (incoming calls ring)
    std::string transport = "udp";           // "udp" or "tcp": the account's and dial()'s transport
    bool sip_trace = true;                   // -s: every SIP message in output()
};

// The log lines the waits key on (baresip 1.0.0, modules menu + account), as observed:
//   "<aor>: Call established: <peer-uri>"           -> kEstablishedLine
//   "<peer-uri>: session closed: <reason>"          -> kClosedLine (the peer ended or refused the call)
//   "call: terminate call '<id>' with <peer-uri>"   -> kHangupLine (we hung up: hangup())
// ("<aor>: Call with <peer> terminated (duration: ...)" also shows up, but not reliably at once
// over TCP, so the waits do not use it.)
inline constexpr std::string_view kEstablishedLine = "Call established: ";
inline constexpr std::string_view kClosedLine = ": session closed";
inline constexpr std::string_view kHangupLine = "call: terminate call '";

class BaresipPeer {
public:
    // Writes a throwaway config dir (config: sip_listen, null audio via aubridge "nil" for player,
    // source and alert, modules g711 + aubridge + account + menu + ctrl_tcp on a free port;
    // accounts: <sip:USER@HOST:PORT>;regint=0;answermode=...;audio_codecs=PCMU,PCMA), starts
    // `baresip -4 -n HOST -f DIR -t LIFETIME [-s]` with HOME=DIR, and waits (at most 10 s) until it
    // has its SIP UDP and TCP sockets and ctrl_tcp open. With port 0 it retries twice on a port
    // race. Errors: baresip or its module directory missing, it exiting or not listening in
    // time (the message carries its log).
    static std::expected<BaresipPeer, std::string> start(BaresipOptions options);

    // Move-only; destruction (or being moved onto) stops baresip and removes the config dir (PeerHome).
    BaresipPeer(BaresipPeer&& other) noexcept = default;
    BaresipPeer& operator=(BaresipPeer&& other) noexcept = default;
    BaresipPeer(const BaresipPeer&) = delete;
    BaresipPeer& operator=(const BaresipPeer&) = delete;
    ~BaresipPeer() = default;

    // sip:USER@HOST:PORT (;transport=tcp for TCP): where to call it.
    [[nodiscard]] std::string uri() const;
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    // Makes baresip dial `uri` through ctrl_tcp ({"command":"dial"}). For a TCP peer baresip
    // itself appends the account's ";transport=tcp", so one already in `uri` is dropped here
    // (else the Request-URI carries it twice). True when baresip answered the command ok;
    // false if it could not be sent or was refused. The call's progress: wait_established().
    bool dial(const std::string& uri);
    // Hangs up its current call through ctrl_tcp; true when baresip answered the command ok.
    bool hangup();
    // Sends any ctrl_tcp command (e.g. "accept", "transfer" with params); true on an ok answer.
    bool command(std::string_view name, std::string_view params = {});
    // Its log (stdout+stderr: status, and the SIP trace when sip_trace), for assertions and
    // failure messages.
    [[nodiscard]] std::string output() const;
    // True once its log shows at least `count` calls established / closed (kEstablishedLine;
    // kClosedLine or kHangupLine); false when `bound` passes first.
    bool wait_established(std::chrono::milliseconds bound, std::size_t count = 1);
    bool wait_closed(std::chrono::milliseconds bound, std::size_t count = 1);
    // How often `needle` occurs in output().
    [[nodiscard]] std::size_t count_in_output(std::string_view needle) const;
    [[nodiscard]] bool running() { return home_.process().running(); }

private:
    BaresipPeer(ChildProcess process, std::string dir, BaresipOptions options, std::uint16_t port,
                std::uint16_t ctrl_port);

    PeerHome home_;
    BaresipOptions options_{};
    std::uint16_t port_ = 0;
    std::uint16_t ctrl_port_ = 0;
    unsigned next_token_ = 1;
};

}  // namespace referkit::interop
