#include "sipp_peer.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <utility>

#ifndef REFERKIT_SIPP_SCENARIO_DIR
#error "REFERKIT_SIPP_SCENARIO_DIR must name tests/interop/sipp"
#endif

namespace referkit::interop {
namespace {

using namespace std::chrono_literals;

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// A fresh private directory under the temp dir; empty on failure.
std::string make_temp_dir(std::string_view prefix) {
    std::error_code ec;
    auto base = std::filesystem::temp_directory_path(ec);
    if (ec) base = "/tmp";
    std::string pattern = (base / (std::string(prefix) + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) return {};
    return pattern;
}

}  // namespace

std::string sipp_scenario_path(std::string_view name) {
    if (name.find('/') != std::string_view::npos) return std::string(name);
    return (std::filesystem::path(REFERKIT_SIPP_SCENARIO_DIR) / name).lexically_normal().string();
}

std::expected<SippPeer, std::string> SippPeer::start(SippOptions options) {
    auto sipp = find_program("sipp");
    if (!sipp) return std::unexpected(std::string("sipp not found on PATH"));
    std::string mode;
    if (options.transport == "udp") mode = "u1";
    else if (options.transport == "tcp") mode = "t1";
    else return std::unexpected("unknown transport " + options.transport);
    const std::string scenario = sipp_scenario_path(options.scenario);
    if (!std::filesystem::exists(scenario)) return std::unexpected("no scenario " + scenario);
    const std::uint16_t port = options.local_port != 0 ? options.local_port : free_port(options.local_host);
    if (port == 0) return std::unexpected("no free port on " + options.local_host);
    std::string dir = make_temp_dir("referkit-sipp");
    if (dir.empty()) return std::unexpected(std::string("cannot create a temp dir"));

    std::vector<std::string> argv{*sipp};
    if (!options.remote.empty()) argv.push_back(options.remote);
    const std::string timeout = std::to_string(options.timeout.count()) + "s";
    const std::initializer_list<std::string> args{
        "-sf", scenario, "-s", options.service, "-i", options.local_host, "-p", std::to_string(port), "-t", mode,
        "-m", "1", "-timeout", timeout, "-timeout_error", "-nostdin",
        "-trace_msg", "-message_file", dir + "/messages.log",
        "-trace_err", "-error_file", dir + "/errors.log",
        "-trace_logs", "-log_file", dir + "/logs.log"};
    argv.insert(argv.end(), args);
    for (auto& a : options.extra_args) argv.push_back(a);

    auto child = ChildProcess::spawn(std::move(argv), {.cwd = dir, .log_file = dir + "/screen.log", .env = {}});
    if (!child) {
        std::filesystem::remove_all(dir);
        return std::unexpected(child.error());
    }
    SippPeer peer(std::move(*child), std::move(dir), options.local_host, port, options.transport);
    if (options.remote.empty()) {
        // A UAS scenario is useful only once SIPp has its socket; a UAC one starts sending at once.
        const bool ready = wait_until(
            [&] { return is_listening(port, options.transport) || !peer.home_.process().running(); }, 5s);
        if (!ready || !peer.home_.process().running())
            return std::unexpected("sipp did not open port " + std::to_string(port) + ":\n" + peer.output());
    }
    return peer;
}

SippPeer::SippPeer(ChildProcess process, std::string dir, std::string host, std::uint16_t port, std::string transport)
    : home_(std::move(process), std::move(dir)), host_(std::move(host)), port_(port),
      transport_(std::move(transport)) {}

std::string SippPeer::address() const { return host_ + ":" + std::to_string(port_); }

std::string SippPeer::uri(std::string_view user) const {
    std::string out = "sip:" + std::string(user) + "@" + address();
    if (transport_ == "tcp") out += ";transport=tcp";
    return out;
}

std::optional<int> SippPeer::wait_for(std::chrono::milliseconds bound) { return home_.process().wait_for(bound); }

std::string SippPeer::messages() const {
    if (home_.dir().empty()) return {};
    return read_file(std::filesystem::path(home_.dir()) / "messages.log");
}

std::string SippPeer::output() const {
    if (home_.dir().empty()) return {};
    const std::filesystem::path dir(home_.dir());
    std::string out = "=== sipp screen (pid " + std::to_string(home_.process().pid()) + ", port " + std::to_string(port_) +
                      ") ===\n" + home_.process().output();
    out += "\n=== sipp <log> ===\n" + read_file(dir / "logs.log");
    out += "\n=== sipp unexpected messages ===\n" + read_file(dir / "errors.log");
    out += "\n=== sipp message trace ===\n" + read_file(dir / "messages.log");
    return out;
}

}  // namespace referkit::interop
