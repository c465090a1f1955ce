// linphonec 5.1 (Debian package linphone-cli) as a real softphone peer for interop tests: a
// throwaway HOME and rc file, UDP only on loopback, auto-answer, no sound card, and its console
// commands written to its stdin through a FIFO the peer object holds.
//
// Observed linphonec 5.1.65 behaviour (tests/interop/linphone/linphone_interop_test.cpp):
// - It needs a writable $HOME with ~/.local/share/linphone (its database), else it opens no socket.
// - It reads console commands from stdin and quits at once when stdin is at end of file when it
//   starts (/dev/null); a later end of file prints "Terminating..." but does not end it. So stdin
//   is a FIFO held open by this object, and the process is ended by PeerHome (SIGTERM).
// - "sip_tcp_port=0" and "sip_tls_port=0" open no TCP/TLS listener (-1 would pick random ports).
// - A SIP port already taken logs "udp bind() failed for HOST port PORT: Address already in use".
// - Its own status lines (stdout, line-buffered through stdbuf) are what the waits key on:
//     "Receiving new incoming call from <uri>, assigned id N"
//     "Call N with <uri> connected."                       -> kConnectedLine
//     "Pausing call N with <uri>."   (it holds the transferor when it takes a REFER)
//     "Establishing call id to <target>, assigned id N"  (the INVITE to the Refer-To target)
//     "Call N with <uri> ended (<reason>)."                -> kEndedLine
//   and "Auto answer is enabled." answers the console command `autoanswer` (the readiness probe).
// - With -d 6 every SIP message it sends or receives is in its log, unprefixed, between
//   timestamped library lines; messages() keeps only the unprefixed lines.
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

struct LinphoneOptions {
    std::string user = "bob";                // the user part of uri() and of its From (contact=)
    std::string host = "127.0.0.1";          // IPv4 literal: bind_address, and where uri() points
    std::uint16_t port = 0;                  // SIP port (UDP only); 0 = a free one
    std::chrono::seconds lifetime{120};      // coreutils `timeout` ends it after this, if present
};

inline constexpr std::string_view kConnectedLine = " connected.";
inline constexpr std::string_view kEndedLine = " ended (";
inline constexpr std::string_view kAutoAnswerLine = "Auto answer is enabled.";

// The write end of a FIFO (the child's stdin): move-only, closed on destruction. Closing it gives
// linphonec an end of file, which by itself does not end it (see above).
class StdinFifo {
public:
    StdinFifo() = default;
    explicit StdinFifo(int fd) noexcept : fd_(fd) {}
    StdinFifo(StdinFifo&& other) noexcept;
    StdinFifo& operator=(StdinFifo&& other) noexcept;
    StdinFifo(const StdinFifo&) = delete;
    StdinFifo& operator=(const StdinFifo&) = delete;
    ~StdinFifo();

    [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }
    // Writes all of `bytes`; false if closed or the write failed.
    bool write(std::string_view bytes) noexcept;

private:
    void close() noexcept;
    int fd_ = -1;
};

class LinphonePeer {
public:
    // Writes a throwaway HOME (DIR/.local/share/linphone) and rc file ([sip] sip_port=PORT,
    // sip_tcp_port=0, sip_tls_port=0, bind_address=HOST, default_proxy=-1, auto_answer=1,
    // contact=sip:USER@HOST; [net] ipv6=0; [rtp] audio_rtp_port=a free port; [sound]
    // echocancellation=0), makes DIR/stdin a FIFO and opens it, starts
    //   sh -c 'exec "$@" <FIFO' -- [timeout -k 5 LIFETIME] [stdbuf -oL -eL] linphonec -c RC -a -d 6
    // with HOME=DIR, writes the console command `autoanswer`, and waits (at most 15 s) until it
    // has answered "Auto answer is enabled." and its SIP UDP socket is open. With port 0 it retries
    // twice on a port race. Errors: linphonec or sh missing, it exiting, a bind failure, or not
    // ready in time (the message carries its status lines).
    static std::expected<LinphonePeer, std::string> start(LinphoneOptions options = {});

    // Move-only; destruction stops linphonec and removes DIR (PeerHome), then closes the FIFO;
    // being moved onto does the same to what this peer held.
    LinphonePeer(LinphonePeer&& other) noexcept = default;
    LinphonePeer& operator=(LinphonePeer&& other) noexcept = default;
    LinphonePeer(const LinphonePeer&) = delete;
    LinphonePeer& operator=(const LinphonePeer&) = delete;
    ~LinphonePeer() = default;

    // sip:USER@HOST:PORT: where to call it.
    [[nodiscard]] std::string uri() const;
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    // Writes one console command line (e.g. "calls", "terminate 1"); true when written.
    bool command(std::string_view line);
    // Its whole log (stdout+stderr with -d 6: large).
    [[nodiscard]] std::string output() const;
    // The log without the timestamped library lines: its SIP messages and its status lines. What
    // failure messages print.
    [[nodiscard]] std::string messages() const;
    // How often `needle` occurs in output().
    [[nodiscard]] std::size_t count_in_output(std::string_view needle) const;
    // How many of its status lines "Call N with <uri> ..." contain `state` (kConnectedLine,
    // kEndedLine).
    [[nodiscard]] std::size_t count_calls(std::string_view state) const;
    // True once its status lines show at least `count` calls connected (kConnectedLine) / ended
    // (kEndedLine); false when `bound` passes first.
    bool wait_connected(std::chrono::milliseconds bound, std::size_t count = 1);
    bool wait_ended(std::chrono::milliseconds bound, std::size_t count = 1);
    [[nodiscard]] bool running() { return home_.process().running(); }

private:
    LinphonePeer(StdinFifo stdin_fifo, ChildProcess process, std::string dir, LinphoneOptions options,
                 std::uint16_t port);

    // Declared first, so destroyed last: the process is ended before its stdin is closed.
    StdinFifo stdin_{};
    PeerHome home_;
    LinphoneOptions options_{};
    std::uint16_t port_ = 0;
};

}  // namespace referkit::interop
