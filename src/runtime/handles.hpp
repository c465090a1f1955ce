// Internal to src/runtime: what the public handles (transfer.hpp) point at.
#pragma once
#include <memory>
#include <string>

#include "referkit/transfer.hpp"

namespace referkit {

namespace detail {
// Links handles to their UserAgent; `ua` is cleared when the UserAgent is destroyed.
struct UaLink {
    UserAgent* ua = nullptr;
};
}  // namespace detail

// One transfer as its handles and its UserAgent share it. Its state lives in one place: the
// stack's ReferClientContext (`context`, shared once the REFER went out).
struct Transfer::State {
    std::shared_ptr<detail::UaLink> link{};
    SessionId session{};         // in dialog
    bool out_of_dialog = false;
    std::string recipient{};     // out of dialog
    TransferTarget target{};
    TransferOptions options{};
    std::function<void(const Message&)> receive_response{};  // the one in force (refer()'s or the constructor's)
    TransferId id{};
    bool sent = false;
    std::shared_ptr<const ReferClientContext> context{};
};

}  // namespace referkit
