#include "linphone_peer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

namespace referkit::interop {
namespace {

constexpr std::chrono::milliseconds kStartBound{15000};
constexpr std::string_view kPrompt = "linphonec> ";
constexpr std::string_view kBindFailed = "bind() failed";

// An RTP port (even, RFC 3550 §11) whose RTCP neighbour is free too.
std::uint16_t free_rtp_port(const std::string& host, std::uint16_t avoid) {
    for (int attempt = 0; attempt < 40; ++attempt) {
        const std::uint16_t port = free_port(host);
        if (port == 0 || port == 65535 || port % 2 != 0 || port == avoid || port + 1 == avoid) continue;
        if (!is_listening(static_cast<std::uint16_t>(port + 1), "udp")) return port;
    }
    return 0;
}

// "2026-12-07 15:14:49:327 belle-sip-message-...": a line of linphone's own logger.
bool timestamped(std::string_view line) {
    if (line.starts_with(kPrompt)) line.remove_prefix(kPrompt.size());
    if (line.size() < 24) return false;
    const auto digit = [&](std::size_t i) { return std::isdigit(static_cast<unsigned char>(line[i])) != 0; };
    return digit(0) && digit(1) && digit(2) && digit(3) && line[4] == '-' && line[7] == '-' && line[10] == ' ' &&
           line[13] == ':';
}

// The lines of `log` that are not timestamped library lines (nor their tab-indented
// continuations), plus those that report a failed bind.
std::string status_lines(std::string_view log) {
    std::string out;
    std::size_t at = 0;
    while (at < log.size()) {
        std::size_t eol = log.find('\n', at);
        if (eol == std::string_view::npos) eol = log.size();
        const std::string_view line = log.substr(at, eol - at);
        if ((!timestamped(line) && !line.starts_with('\t')) || line.find(kBindFailed) != std::string_view::npos) {
            out.append(line);
            out += '\n';
        }
        at = eol + 1;
    }
    return out;
}

}  // namespace

StdinFifo::StdinFifo(StdinFifo&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

StdinFifo& StdinFifo::operator=(StdinFifo&& other) noexcept {
    if (this != &other) {
        close();
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

StdinFifo::~StdinFifo() { close(); }

void StdinFifo::close() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

bool StdinFifo::write(std::string_view bytes) noexcept {
    if (fd_ < 0) return false;
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;  // EAGAIN: nobody has read 64 KiB of commands; give up
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

std::expected<LinphonePeer, std::string> LinphonePeer::start(LinphoneOptions options) {
    auto linphonec = find_program("linphonec");
    if (!linphonec) return std::unexpected(std::string("linphonec not found on PATH"));
    auto sh = find_program("sh");
    if (!sh) return std::unexpected(std::string("sh not found on PATH"));
    if (options.host.find(':') != std::string::npos)
        return std::unexpected("LinphonePeer takes an IPv4 host, not " + options.host);

    std::string last_error;
    const int attempts = options.port == 0 ? 3 : 1;
    for (int attempt = 0; attempt < attempts; ++attempt) {
        const std::uint16_t port = options.port != 0 ? options.port : free_port(options.host);
        const std::uint16_t rtp_port = free_rtp_port(options.host, port);
        if (port == 0 || rtp_port == 0) return std::unexpected(std::string("no free port"));

        std::error_code ec;
        auto base = std::filesystem::temp_directory_path(ec);
        if (ec) base = "/tmp";
        std::string dir = (base / "referkit-linphone-XXXXXX").string();
        if (::mkdtemp(dir.data()) == nullptr) return std::unexpected(std::string("cannot create a temp dir"));
        const std::filesystem::path home(dir);
        const std::string rc = (home / "linphonerc").string();
        const std::string fifo = (home / "stdin").string();
        auto fail = [&](std::string why) {
            std::filesystem::remove_all(home, ec);
            return std::unexpected(std::move(why));
        };

        // Without its data directory linphonec opens no socket at all.
        std::filesystem::create_directories(home / ".local" / "share" / "linphone", ec);
        if (ec) return fail("cannot create " + dir + "/.local/share/linphone: " + ec.message());
        const std::string config =
            "[sip]\n"
            "sip_port=" + std::to_string(port) + "\n"
            "sip_tcp_port=0\n"
            "sip_tls_port=0\n"
            "bind_address=" + options.host + "\n"
            "default_proxy=-1\n"
            "auto_answer=1\n"
            "contact=sip:" + options.user + "@" + options.host + "\n"
            "[net]\n"
            "ipv6=0\n"
            "[rtp]\n"
            "audio_rtp_port=" + std::to_string(rtp_port) + "\n"
            "[sound]\n"
            "echocancellation=0\n";
        if (!write_file(rc, config)) return fail("cannot write " + rc);

        // Its stdin: a FIFO we hold open. Opening a FIFO read-write does not wait for a reader
        // (Linux); non-blocking so that a write can never hang the test.
        if (::mkfifo(fifo.c_str(), 0600) != 0) return fail("mkfifo " + fifo + " failed");
        StdinFifo input(::open(fifo.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
        if (!input.is_open()) return fail("cannot open " + fifo);

        // sh only redirects stdin from the FIFO and execs the rest. `timeout` bounds its life should
        // the test itself be killed; stdbuf line-buffers its stdout (a file), which the waits read.
        std::vector<std::string> argv = {*sh, "-c", "fifo=$1; shift; exec \"$@\" <\"$fifo\"", "sh", fifo};
        if (auto timeout = find_program("timeout")) {
            for (std::string arg : {*timeout, std::string("-k"), std::string("5"), std::to_string(options.lifetime.count())})
                argv.push_back(std::move(arg));
        }
        if (auto stdbuf = find_program("stdbuf")) {
            for (std::string arg : {*stdbuf, std::string("-oL"), std::string("-eL")}) argv.push_back(std::move(arg));
        }
        for (std::string arg : {*linphonec, std::string("-c"), rc, std::string("-a"), std::string("-d"), std::string("6")})
            argv.push_back(std::move(arg));
        auto child = ChildProcess::spawn(
            std::move(argv),
            {.cwd = dir,
             .log_file = dir + "/linphonec.log",
             .env = {"HOME=" + dir, "XDG_DATA_HOME=" + dir + "/.local/share", "XDG_CONFIG_HOME=" + dir + "/.config"}});
        if (!child) return fail(child.error());
        LinphonePeer peer(std::move(input), std::move(*child), dir, options, port);
        // Read once its console loop runs; the answer proves stdin works and auto-answer is on.
        if (!peer.command("autoanswer")) return std::unexpected(std::string("cannot write to linphonec's stdin"));
        auto failed = [&] { return peer.output().find(kBindFailed) != std::string::npos; };
        const bool ready = wait_until(
            [&] {
                if (!peer.home_.process().running() || failed()) return true;
                return peer.output().find(kAutoAnswerLine) != std::string::npos && is_listening(port, "udp");
            },
            kStartBound);
        if (ready && peer.home_.process().running() && !failed()) return peer;
        last_error = "linphonec did not start on port " + std::to_string(port) + " (rtp " + std::to_string(rtp_port) +
                     "):\n" + peer.messages();
    }
    return std::unexpected(last_error);
}

LinphonePeer::LinphonePeer(StdinFifo stdin_fifo, ChildProcess process, std::string dir, LinphoneOptions options,
                           std::uint16_t port)
    : stdin_(std::move(stdin_fifo)), home_(std::move(process), std::move(dir)), options_(std::move(options)),
      port_(port) {}

std::string LinphonePeer::uri() const {
    return "sip:" + options_.user + "@" + options_.host + ":" + std::to_string(port_);
}

bool LinphonePeer::command(std::string_view line) {
    std::string text(line);
    text += '\n';
    return stdin_.write(text);
}

std::string LinphonePeer::output() const { return home_.process().output(); }

std::string LinphonePeer::messages() const { return status_lines(output()); }

std::size_t LinphonePeer::count_in_output(std::string_view needle) const { return count_of(output(), needle); }

std::size_t LinphonePeer::count_calls(std::string_view state) const {
    const std::string lines = messages();
    std::size_t n = 0;
    std::size_t at = 0;
    while (at < lines.size()) {
        std::size_t eol = lines.find('\n', at);
        if (eol == std::string::npos) eol = lines.size();
        const std::string_view line = std::string_view(lines).substr(at, eol - at);
        if (line.starts_with("Call ") && line.find(state) != std::string_view::npos) ++n;
        at = eol + 1;
    }
    return n;
}

bool LinphonePeer::wait_connected(std::chrono::milliseconds bound, std::size_t count) {
    return wait_until([&] { return count_calls(kConnectedLine) >= count; }, bound);
}

bool LinphonePeer::wait_ended(std::chrono::milliseconds bound, std::size_t count) {
    return wait_until([&] { return count_calls(kEndedLine) >= count; }, bound);
}

}  // namespace referkit::interop
