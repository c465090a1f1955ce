// The handles of one Stack (include/referkit/core/stack.hpp): opaque numbers, 0 = none, never
// reused by one stack.
#pragma once
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace referkit {

// An INVITE session (a call).
struct SessionId {
    std::uint64_t value = 0;
    explicit operator bool() const noexcept { return value != 0; }
    friend auto operator<=>(const SessionId&, const SessionId&) = default;
};
// A dialog (RFC 3261 §12).
struct DialogId {
    std::uint64_t value = 0;
    explicit operator bool() const noexcept { return value != 0; }
    friend auto operator<=>(const DialogId&, const DialogId&) = default;
};
// A request we sent (send_request / send_in_dialog), until its final response.
struct RequestId {
    std::uint64_t value = 0;
    explicit operator bool() const noexcept { return value != 0; }
    friend auto operator<=>(const RequestId&, const RequestId&) = default;
};
// A received request waiting for the application's respond().
struct IncomingId {
    std::uint64_t value = 0;
    explicit operator bool() const noexcept { return value != 0; }
    friend auto operator<=>(const IncomingId&, const IncomingId&) = default;
};
// A REFER we sent and its implicit subscription (the transferor's side).
struct TransferId {
    std::uint64_t value = 0;
    explicit operator bool() const noexcept { return value != 0; }
    friend auto operator<=>(const TransferId&, const TransferId&) = default;
};
// A REFER we received and accepted or refused (the transferee's side).
struct TransfereeId {
    std::uint64_t value = 0;
    explicit operator bool() const noexcept { return value != 0; }
    friend auto operator<=>(const TransfereeId&, const TransfereeId&) = default;
};

// Hash of any of the handles above, for unordered containers.
struct IdHash {
    template <class Id>
    std::size_t operator()(const Id& id) const noexcept {
        return std::hash<std::uint64_t>{}(id.value);
    }
};

}  // namespace referkit
