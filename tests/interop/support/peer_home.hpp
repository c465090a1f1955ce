// What every launched peer (SippPeer, BaresipPeer) owns: its child process and the private temp
// directory it runs in (config, traces, logs). Owned together, released together: a peer class
// holds one PeerHome and its own special members are all `= default`.
#pragma once

#include "process.hpp"

#include <string>

namespace referkit::interop {

class PeerHome {
public:
    // Takes `process` and `dir` (an existing directory, or empty for none).
    PeerHome(ChildProcess process, std::string dir) noexcept;

    // Moving hands over both; the moved-from home owns neither.
    PeerHome(PeerHome&& other) noexcept;
    // Releases what this home owns (see the destructor), then takes other's.
    PeerHome& operator=(PeerHome&& other) noexcept;
    PeerHome(const PeerHome&) = delete;
    PeerHome& operator=(const PeerHome&) = delete;
    // Terminates the process (SIGTERM, then SIGKILL, reaped), then removes the directory.
    ~PeerHome();

    [[nodiscard]] ChildProcess& process() noexcept { return process_; }
    [[nodiscard]] const ChildProcess& process() const noexcept { return process_; }
    // The directory; empty after a move.
    [[nodiscard]] const std::string& dir() const noexcept { return dir_; }

private:
    void release() noexcept;

    ChildProcess process_;
    std::string dir_{};
};

}  // namespace referkit::interop
