// The one wait of every suite that runs real sockets on a Boost.Asio io_context (tests/api,
// tests/runtime, tests/interop): drive the io_context until a condition holds, bounded by a
// deadline, never a sleep.
#pragma once
#include <utility>  // before Asio (Boost 1.74 + g++ 12)

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <optional>

namespace referkit::test {

// Runs `io` until pred() holds or `bound` passes; returns pred(). pred() is checked after every
// handler, so the wait ends as soon as it holds.
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& pred,
                      std::chrono::milliseconds bound = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        io.restart();
        io.run_one_for(std::chrono::milliseconds(20));
    }
    return true;
}

// Runs `io` until the peer process exits (`Peer`: interop::ChildProcess, SippPeer, anything with
// wait_for(milliseconds)) or `bound` passes; its exit code, nullopt when it is still running.
template <class Peer>
std::optional<int> run_until_exit(boost::asio::io_context& io, Peer& peer, std::chrono::milliseconds bound) {
    std::optional<int> code;
    run_until(io, [&] { return (code = peer.wait_for(std::chrono::milliseconds(0))).has_value(); }, bound);
    return code;
}

}  // namespace referkit::test
