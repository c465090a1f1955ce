#include "baresip_peer.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <utility>
#include <vector>

namespace referkit::interop {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kStartBound{10000};
constexpr std::chrono::milliseconds kCommandBound{3000};

std::optional<std::string> module_dir() {
    if (const char* env = std::getenv("REFERKIT_BARESIP_MODULES"); env != nullptr && *env != '\0')
        return std::string(env);
    // Where distributions install them (Debian: /usr/lib/baresip/modules).
    for (const char* dir : {"/usr/lib/baresip/modules", "/usr/local/lib/baresip/modules",
                            "/usr/lib/x86_64-linux-gnu/baresip/modules", "/usr/lib64/baresip/modules"}) {
        std::error_code ec;
        if (std::filesystem::exists(std::filesystem::path(dir) / "ctrl_tcp.so", ec)) return std::string(dir);
    }
    return std::nullopt;
}

std::string host_port(const std::string& host, std::uint16_t port) {
    if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
    return host + ":" + std::to_string(port);
}

std::string json_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

// A SIP port whose neighbour (baresip's TLS listener) is free too.
std::uint16_t free_sip_port(const std::string& host) {
    for (int attempt = 0; attempt < 20; ++attempt) {
        const std::uint16_t port = free_port(host);
        if (port == 0 || port == 65535) continue;
        if (!is_listening(static_cast<std::uint16_t>(port + 1), "tcp")) return port;
    }
    return 0;
}

// One ctrl_tcp exchange: sends the netstring `{"command":...,"params":...,"token":...}` and reads
// netstrings (events are interleaved) until the response carrying `token`. Its "ok", or nullopt.
std::optional<bool> ctrl_exchange(std::uint16_t port, const std::string& json, const std::string& token) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::nullopt;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{.tv_sec = 0, .tv_usec = 200000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::optional<bool> result;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        const std::string frame = std::to_string(json.size()) + ":" + json + ",";  // netstring
        if (::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(frame.size())) {
            std::string buffer;
            const auto deadline = Clock::now() + kCommandBound;
            const std::string token_field = "\"token\":\"" + token + "\"";
            while (!result && Clock::now() < deadline) {
                std::array<char, 4096> chunk{};
                const ssize_t n = ::recv(fd, chunk.data(), chunk.size(), 0);
                if (n == 0) break;
                if (n > 0) buffer.append(chunk.data(), static_cast<std::size_t>(n));
                // Consume complete netstrings "LEN:PAYLOAD,".
                while (true) {
                    const auto colon = buffer.find(':');
                    if (colon == std::string::npos) break;
                    const std::size_t len = std::strtoul(buffer.c_str(), nullptr, 10);
                    if (buffer.size() < colon + 1 + len + 1) break;
                    const std::string payload = buffer.substr(colon + 1, len);
                    buffer.erase(0, colon + 1 + len + 1);
                    if (payload.find("\"response\":true") != std::string::npos &&
                        payload.find(token_field) != std::string::npos) {
                        result = payload.find("\"ok\":true") != std::string::npos;
                        break;
                    }
                }
            }
        }
    }
    ::close(fd);
    return result;
}

}  // namespace

std::expected<BaresipPeer, std::string> BaresipPeer::start(BaresipOptions options) {
    auto baresip = find_program("baresip");
    if (!baresip) return std::unexpected(std::string("baresip not found on PATH"));
    auto modules = module_dir();
    if (!modules) return std::unexpected(std::string("baresip modules (ctrl_tcp.so) not found; set REFERKIT_BARESIP_MODULES"));
    if (options.transport != "udp" && options.transport != "tcp")
        return std::unexpected("unknown transport " + options.transport);
    const bool ipv6 = options.host.find(':') != std::string::npos;

    std::string last_error;
    const int attempts = options.port == 0 ? 3 : 1;
    for (int attempt = 0; attempt < attempts; ++attempt) {
        const std::uint16_t port = options.port != 0 ? options.port : free_sip_port(options.host);
        std::uint16_t ctrl_port = 0;
        for (int i = 0; i < 20 && (ctrl_port == 0 || ctrl_port == port || ctrl_port == port + 1); ++i)
            ctrl_port = free_port("127.0.0.1");
        if (port == 0 || ctrl_port == 0) return std::unexpected(std::string("no free port"));

        std::error_code ec;
        auto base = std::filesystem::temp_directory_path(ec);
        if (ec) base = "/tmp";
        std::string dir = (base / "referkit-baresip-XXXXXX").string();
        if (::mkdtemp(dir.data()) == nullptr) return std::unexpected(std::string("cannot create a temp dir"));

        const std::string config =
            "poll_method\t\tepoll\n"
            "sip_listen\t\t" + host_port(options.host, port) + "\n"
            "call_max_calls\t\t4\n"
            // No sound card: the aubridge module's null device for everything that plays or records.
            "audio_player\t\taubridge,nil\n"
            "audio_source\t\taubridge,nil\n"
            "audio_alert\t\taubridge,nil\n"
            "module_path\t\t" + *modules + "\n"
            "module\t\t\tg711.so\n"
            "module\t\t\taubridge.so\n"
            "module_app\t\taccount.so\n"
            "module_app\t\tmenu.so\n"
            "module_app\t\tctrl_tcp.so\n"
            "ctrl_tcp_listen\t\t127.0.0.1:" + std::to_string(ctrl_port) + "\n";
        std::string aor = "sip:" + options.user + "@" + host_port(options.host, port);
        if (options.transport == "tcp") aor += ";transport=tcp";
        const std::string account = "<" + aor + ">;regint=0;answermode=" +
                                    std::string(options.auto_answer ? "auto" : "manual") +
                                    ";audio_codecs=PCMU,PCMA\n";
        if (!write_file((std::filesystem::path(dir) / "config").string(), config) ||
            !write_file((std::filesystem::path(dir) / "accounts").string(), account)) {
            std::filesystem::remove_all(dir, ec);
            return std::unexpected("cannot write config in " + dir);
        }

        // stdout is a file, so stdio would buffer it in blocks and the log lines the waits key on
        // would show up late (or at exit): line-buffer it with coreutils' stdbuf when present.
        std::vector<std::string> argv;
        if (auto stdbuf = find_program("stdbuf")) argv = {*stdbuf, "-oL", "-eL"};
        for (std::string arg : {*baresip, std::string(ipv6 ? "-6" : "-4"), std::string("-n"), options.host,
                                std::string("-f"), dir, std::string("-t"), std::to_string(options.lifetime.count())})
            argv.push_back(std::move(arg));
        if (options.sip_trace) argv.emplace_back("-s");
        auto child = ChildProcess::spawn(std::move(argv), {.cwd = dir, .log_file = dir + "/baresip.log", .env = {"HOME=" + dir}});
        if (!child) {
            std::filesystem::remove_all(dir, ec);
            return std::unexpected(child.error());
        }
        BaresipPeer peer(std::move(*child), dir, options, port, ctrl_port);
        auto failed = [&] {
            const std::string log = peer.output();
            return log.find("Address already in use") != std::string::npos ||
                   log.find("failed to listen") != std::string::npos;
        };
        const bool ready = wait_until(
            [&] {
                if (!peer.home_.process().running() || failed()) return true;
                return peer.output().find("baresip is ready.") != std::string::npos && is_listening(port, "udp") &&
                       is_listening(port, "tcp") && is_listening(ctrl_port, "tcp");
            },
            kStartBound);
        if (ready && peer.home_.process().running() && !failed()) return peer;
        last_error = "baresip did not start on port " + std::to_string(port) + " (ctrl " + std::to_string(ctrl_port) +
                     "):\n" + peer.output();
    }
    return std::unexpected(last_error);
}

BaresipPeer::BaresipPeer(ChildProcess process, std::string dir, BaresipOptions options, std::uint16_t port,
                         std::uint16_t ctrl_port)
    : home_(std::move(process), std::move(dir)), options_(std::move(options)), port_(port),
      ctrl_port_(ctrl_port) {}

std::string BaresipPeer::uri() const {
    std::string out = "sip:" + options_.user + "@" + host_port(options_.host, port_);
    if (options_.transport == "tcp") out += ";transport=tcp";
    return out;
}

bool BaresipPeer::command(std::string_view name, std::string_view params) {
    if (ctrl_port_ == 0 || !home_.process().running()) return false;
    const std::string token = "referkit" + std::to_string(next_token_++);
    std::string json = "{\"command\":\"" + json_escape(name) + "\"";
    if (!params.empty()) json += ",\"params\":\"" + json_escape(params) + "\"";
    json += ",\"token\":\"" + token + "\"}";
    return ctrl_exchange(ctrl_port_, json, token).value_or(false);
}

bool BaresipPeer::dial(const std::string& uri) {
    std::string target = uri;
    if (options_.transport == "tcp") {
        for (std::string_view param : {";transport=tcp", ";transport=TCP"}) {
            if (auto pos = target.find(param); pos != std::string::npos) target.erase(pos, param.size());
        }
    }
    return command("dial", target);
}

bool BaresipPeer::hangup() { return command("hangup"); }

std::string BaresipPeer::output() const { return home_.process().output(); }

std::size_t BaresipPeer::count_in_output(std::string_view needle) const { return count_of(output(), needle); }

bool BaresipPeer::wait_established(std::chrono::milliseconds bound, std::size_t count) {
    return wait_until([&] { return count_in_output(kEstablishedLine) >= count; }, bound);
}

bool BaresipPeer::wait_closed(std::chrono::milliseconds bound, std::size_t count) {
    return wait_until(
        [&] {
            const std::string log = output();
            return count_of(log, kClosedLine) + count_of(log, kHangupLine) >= count;
        },
        bound);
}

}  // namespace referkit::interop
