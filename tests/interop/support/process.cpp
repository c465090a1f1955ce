#include "process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

extern char** environ;

namespace referkit::interop {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kPollStep{5};
constexpr std::chrono::milliseconds kKillGrace{2000};

std::string errno_text(int err) { return std::string(std::strerror(err)); }

// Inherited environment with `extra` "K=V" entries replacing same-named ones.
std::vector<std::string> merged_environment(const std::vector<std::string>& extra) {
    std::vector<std::string> out;
    auto key_of = [](std::string_view kv) { return kv.substr(0, kv.find('=')); };
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        std::string_view kv(*e);
        bool overridden = false;
        for (const auto& x : extra) {
            if (key_of(x) == key_of(kv)) {
                overridden = true;
                break;
            }
        }
        if (!overridden) out.emplace_back(kv);
    }
    for (const auto& x : extra) out.push_back(x);
    return out;
}

std::vector<char*> c_array(std::vector<std::string>& strings) {
    std::vector<char*> out;
    out.reserve(strings.size() + 1);
    for (auto& s : strings) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

int decode_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

}  // namespace

std::expected<ChildProcess, std::string> ChildProcess::spawn(std::vector<std::string> argv, SpawnOptions options) {
    if (argv.empty() || argv.front().empty()) return std::unexpected(std::string("spawn: empty argv"));

    // The log file is opened here (close-on-exec) so a bad path is reported before anything starts.
    std::string log_path = options.log_file;
    bool owns_log = false;
    int log_fd = -1;
    if (log_path.empty()) {
        std::error_code ec;
        auto dir = std::filesystem::temp_directory_path(ec);
        if (ec) dir = "/tmp";
        std::string pattern = (dir / "referkit-child-XXXXXX.log").string();
        log_fd = ::mkostemps(pattern.data(), 4, O_CLOEXEC);
        if (log_fd < 0) return std::unexpected("spawn: cannot create temp log: " + errno_text(errno));
        log_path = pattern;
        owns_log = true;
    } else {
        log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (log_fd < 0) return std::unexpected("spawn: cannot open log " + log_path + ": " + errno_text(errno));
    }

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawnattr_init(&attr);
    ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    ::posix_spawn_file_actions_adddup2(&actions, log_fd, 1);
    ::posix_spawn_file_actions_adddup2(&actions, log_fd, 2);
    // Nothing of ours beyond 0-2 reaches the child, even descriptors opened without O_CLOEXEC.
    ::posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (!options.cwd.empty()) ::posix_spawn_file_actions_addchdir_np(&actions, options.cwd.c_str());
    // Own process group (pgid = pid) so terminate() reaches whatever the child starts; default
    // signal dispositions and an empty mask, whatever the test runner set.
    sigset_t all;
    sigset_t none;
    ::sigfillset(&all);
    ::sigemptyset(&none);
    ::posix_spawnattr_setpgroup(&attr, 0);
    ::posix_spawnattr_setsigdefault(&attr, &all);
    ::posix_spawnattr_setsigmask(&attr, &none);
    ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

    std::vector<std::string> env = merged_environment(options.env);
    auto c_argv = c_array(argv);
    auto c_env = c_array(env);
    pid_t pid = -1;
    const bool search = argv.front().find('/') == std::string::npos;
    int rc = search ? ::posix_spawnp(&pid, c_argv[0], &actions, &attr, c_argv.data(), c_env.data())
                    : ::posix_spawn(&pid, c_argv[0], &actions, &attr, c_argv.data(), c_env.data());
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attr);
    ::close(log_fd);
    if (rc != 0) {
        if (owns_log) ::unlink(log_path.c_str());
        return std::unexpected("spawn " + argv.front() + ": " + errno_text(rc));
    }
    return ChildProcess(pid, std::move(log_path), owns_log);
}

ChildProcess::ChildProcess(int pid, std::string log_path, bool owns_log) noexcept
    : pid_(pid), log_path_(std::move(log_path)), owns_log_(owns_log) {}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      exit_code_(std::exchange(other.exit_code_, std::nullopt)),
      log_path_(std::move(other.log_path_)),
      owns_log_(std::exchange(other.owns_log_, false)),
      group_killed_(std::exchange(other.group_killed_, false)) {
    other.log_path_.clear();
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
    if (this != &other) {
        release();
        pid_ = std::exchange(other.pid_, -1);
        exit_code_ = std::exchange(other.exit_code_, std::nullopt);
        log_path_ = std::move(other.log_path_);
        other.log_path_.clear();
        owns_log_ = std::exchange(other.owns_log_, false);
        group_killed_ = std::exchange(other.group_killed_, false);
    }
    return *this;
}

ChildProcess::~ChildProcess() { release(); }

void ChildProcess::release() noexcept {
    terminate();
    if (owns_log_ && !log_path_.empty()) ::unlink(log_path_.c_str());
    pid_ = -1;
    owns_log_ = false;
}

bool ChildProcess::reap(bool block) {
    if (pid_ < 0) return true;
    if (exit_code_) return true;
    int status = 0;
    for (;;) {
        pid_t r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
        if (r == pid_) {
            exit_code_ = decode_status(status);
            return true;
        }
        if (r == 0) return false;
        if (errno == EINTR) continue;
        // ECHILD: someone else reaped it (e.g. SIGCHLD ignored); treat as exited, code unknown.
        exit_code_ = -1;
        return true;
    }
}

bool ChildProcess::running() { return !reap(false); }

std::optional<int> ChildProcess::wait_for(std::chrono::milliseconds bound) {
    if (pid_ < 0) return std::nullopt;
    const auto deadline = Clock::now() + bound;
    while (!reap(false)) {
        if (Clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(kPollStep);
    }
    return exit_code_;
}

void ChildProcess::terminate() {
    if (pid_ < 0) return;
    if (!reap(false)) {
        ::kill(-pid_, SIGTERM);
        if (!wait_for(kKillGrace)) {
            ::kill(-pid_, SIGKILL);
            reap(true);
        }
    }
    // Stragglers the child left in its group (it was the leader) go too; ESRCH when none. Once
    // only: later the group id may be free for reuse.
    if (!group_killed_) ::kill(-pid_, SIGKILL);
    group_killed_ = true;
}

std::string ChildProcess::output() const {
    if (log_path_.empty()) return {};
    std::ifstream in(log_path_, std::ios::binary);
    if (!in) return {};
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

int ChildProcess::pid() const noexcept { return pid_; }

namespace {

// Binds a socket of `type` on host:port; returns the bound port or 0. `port` 0 = any.
std::uint16_t bind_probe(const std::string& host, int type, std::uint16_t port) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    int family = AF_INET;
    if (host.find(':') != std::string::npos) {
        family = AF_INET6;
        sockaddr_in6 a{};
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(port);
        if (::inet_pton(AF_INET6, host.c_str(), &a.sin6_addr) != 1) return 0;
        std::memcpy(&ss, &a, sizeof a);
        len = sizeof a;
    } else {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) return 0;
        std::memcpy(&ss, &a, sizeof a);
        len = sizeof a;
    }
    int fd = ::socket(family, type | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    std::uint16_t result = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0) {
        sockaddr_storage bound{};
        socklen_t blen = sizeof bound;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen) == 0) {
            if (family == AF_INET6) {
                sockaddr_in6 b{};
                std::memcpy(&b, &bound, sizeof b);
                result = ntohs(b.sin6_port);
            } else {
                sockaddr_in b{};
                std::memcpy(&b, &bound, sizeof b);
                result = ntohs(b.sin_port);
            }
        }
    }
    ::close(fd);
    return result;
}

}  // namespace

std::uint16_t free_port(const std::string& host) {
    for (int attempt = 0; attempt < 50; ++attempt) {
        std::uint16_t port = bind_probe(host, SOCK_DGRAM, 0);
        if (port == 0) return 0;
        if (bind_probe(host, SOCK_STREAM, port) == port) return port;
    }
    return 0;
}

bool is_listening(std::uint16_t port, std::string_view transport) {
    // /proc/net/{tcp,udp}[6]: "sl local_address rem_address st ...", address "HEXIP:HEXPORT",
    // st 0A = TCP_LISTEN, 07 = TCP_CLOSE (an unconnected, bound UDP socket).
    std::string_view state;
    if (transport == "tcp") state = "0A";
    else if (transport == "udp") state = "07";
    else return false;
    for (const char* suffix : {"", "6"}) {
        std::ifstream in("/proc/net/" + std::string(transport) + suffix);
        std::string line;
        std::getline(in, line);  // header
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::string sl;
            std::string local;
            std::string remote;
            std::string st;
            if (!(fields >> sl >> local >> remote >> st)) continue;
            const auto colon = local.rfind(':');
            if (colon == std::string::npos) continue;
            unsigned long p = std::strtoul(local.c_str() + colon + 1, nullptr, 16);
            if (p == port && st == state) return true;
        }
    }
    return false;
}

std::optional<std::string> find_program(std::string_view name) {
    if (name.empty()) return std::nullopt;
    auto executable = [](const std::string& path) {
        struct stat st{};
        return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
    };
    if (name.find('/') != std::string_view::npos) {
        std::string path(name);
        if (!executable(path)) return std::nullopt;
        std::error_code ec;
        auto abs = std::filesystem::absolute(path, ec);
        return ec ? path : abs.string();
    }
    const char* path_env = std::getenv("PATH");
    std::string_view dirs = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
    while (true) {
        auto colon = dirs.find(':');
        std::string_view dir = dirs.substr(0, colon);
        if (dir.empty()) dir = ".";
        std::string candidate = std::string(dir) + "/" + std::string(name);
        if (executable(candidate)) {
            std::error_code ec;
            auto abs = std::filesystem::absolute(candidate, ec);
            return ec ? candidate : abs.string();
        }
        if (colon == std::string_view::npos) break;
        dirs.remove_prefix(colon + 1);
    }
    return std::nullopt;
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds bound) {
    const auto deadline = Clock::now() + bound;
    while (true) {
        if (pred()) return true;
        if (Clock::now() >= deadline) return pred();
        std::this_thread::sleep_for(kPollStep);
    }
}

bool write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    return static_cast<bool>(out);
}

std::size_t count_of(std::string_view hay, std::string_view needle) {
    std::size_t n = 0;
    for (auto pos = hay.find(needle); pos != std::string_view::npos; pos = hay.find(needle, pos + needle.size())) ++n;
    return n;
}

}  // namespace referkit::interop
