// Process control for interop tests: start a real SIP program on loopback, capture its output,
// stop it (and everything it started) for sure. Linux/POSIX only; test code, not the library.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace referkit::interop {

struct SpawnOptions {
    std::string cwd{};                  // working directory of the child; empty = ours
    std::string log_file{};             // stdout+stderr go here (truncated); empty = a temp file
    std::vector<std::string> env{};     // extra "K=V" entries, overriding inherited ones
};

// A child process in its own process group. Move-only; the destructor terminates it (SIGTERM to
// the group, SIGKILL after 2 s) and reaps it, so a failing test never leaves a peer running.
class ChildProcess {
public:
    // Starts argv[0] (looked up on OUR PATH when it has no '/'; a PATH in options.env reaches
    // only the child) with argv. stdin is /dev/null, stdout and stderr both go to the log file
    // (a file: stdio in the child block-buffers, see stdbuf); no descriptor of ours beyond 0-2 is
    // inherited; signal mask and dispositions are reset.
    // Errors: empty argv, log file not creatable, exec failure (message names argv[0] and errno).
    static std::expected<ChildProcess, std::string> spawn(std::vector<std::string> argv, SpawnOptions options = {});

    ChildProcess(ChildProcess&& other) noexcept;
    ChildProcess& operator=(ChildProcess&& other) noexcept;
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess();

    // True while the child has not exited (reaps it when it has).
    [[nodiscard]] bool running();
    // Waits at most `bound` for exit; the exit code (128+signal when killed), nullopt on timeout.
    // Once exited, returns the same code on every call.
    std::optional<int> wait_for(std::chrono::milliseconds bound);
    // SIGTERM to the whole process group, SIGKILL after 2 s if the child is still alive; reaps.
    // Idempotent; a no-op on a moved-from object.
    void terminate();
    // Captured stdout+stderr so far (the log file's content); empty if it cannot be read.
    [[nodiscard]] std::string output() const;
    // The child's pid (also its process-group id); -1 after a move.
    [[nodiscard]] int pid() const noexcept;
    // Path of the log file holding the output.
    [[nodiscard]] const std::string& log_path() const noexcept { return log_path_; }

private:
    ChildProcess(int pid, std::string log_path, bool owns_log) noexcept;
    bool reap(bool block);  // true once exited; records exit_code_
    void release() noexcept;

    int pid_ = -1;
    std::optional<int> exit_code_{};
    std::string log_path_{};
    bool owns_log_ = false;      // temp log: removed with the object
    bool group_killed_ = false;  // the final SIGKILL to the group was sent
};

// A port free for both UDP and TCP on `host` (IPv4 or IPv6 literal) right now: binds port 0,
// reads it, checks the other protocol, closes. Racy by nature; 0 when none could be found.
std::uint16_t free_port(const std::string& host = "127.0.0.1");

// True when something on this host has `port` open for `transport` ("udp": a bound socket;
// "tcp": a listening socket), on any local address, read from /proc/net without touching the
// socket. False for an unknown transport.
bool is_listening(std::uint16_t port, std::string_view transport);

// Absolute path of an executable `name` on PATH (or `name` itself if it contains '/' and is
// executable), or nullopt.
std::optional<std::string> find_program(std::string_view name);

// Writes `text` to `path` (replacing it); false when it could not.
bool write_file(const std::string& path, const std::string& text);

// How many times `needle` occurs in `hay` (non-overlapping): log lines a peer printed.
std::size_t count_of(std::string_view hay, std::string_view needle);

// Polls `pred` every few ms until true or `bound` passes; returns the last value. For waiting on
// files, ports, log lines — never a bare sleep. `pred` is evaluated at least once.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds bound);

}  // namespace referkit::interop
