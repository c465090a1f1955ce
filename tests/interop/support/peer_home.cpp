#include "peer_home.hpp"

#include <filesystem>
#include <system_error>
#include <utility>

namespace referkit::interop {

PeerHome::PeerHome(ChildProcess process, std::string dir) noexcept
    : process_(std::move(process)), dir_(std::move(dir)) {}

PeerHome::PeerHome(PeerHome&& other) noexcept
    : process_(std::move(other.process_)), dir_(std::exchange(other.dir_, {})) {}

PeerHome& PeerHome::operator=(PeerHome&& other) noexcept {
    if (this != &other) {
        release();
        process_ = std::move(other.process_);
        dir_ = std::exchange(other.dir_, {});
    }
    return *this;
}

PeerHome::~PeerHome() { release(); }

void PeerHome::release() noexcept {
    process_.terminate();
    if (!dir_.empty()) {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
        dir_.clear();
    }
}

}  // namespace referkit::interop
