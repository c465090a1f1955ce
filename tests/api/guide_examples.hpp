// The examples of docs/guide.md, compiled (and run by guide_examples_test.cpp) so they cannot rot.
// Keep docs/guide.md's code blocks identical to guide_examples.cpp.
#pragma once
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "referkit/transfer.hpp"
#include "referkit/user_agent.hpp"

namespace boost::asio {
class io_context;
}

namespace guide {

// A user agent on `host`, UDP, an ephemeral port, answering every call; nullptr if it cannot bind.
std::unique_ptr<referkit::UserAgent> make_user_agent(boost::asio::io_context& io, std::string name, std::string host);

// REFER outside any dialog: asks `transferee` to call `target`.
std::expected<referkit::Transfer, referkit::TransferError> out_of_dialog_transfer(referkit::UserAgent& ua,
                                                                                  std::string transferee,
                                                                                  std::string target);

// Blind transfer: asks the peer of `call` to call `target`; prints each event by its seed name.
std::expected<referkit::Transfer, referkit::TransferError> blind_transfer(referkit::Session call, std::string_view target,
                                                                          std::function<void(std::string)> print);

// Attended transfer: `call` (to the transferee) and `consultation` (to the target) are both
// confirmed; the transferee is asked to replace the consultation call with a call of its own.
std::expected<referkit::Transfer, referkit::TransferError> attended_transfer(referkit::UserAgent& ua, referkit::Session call,
                                                                             referkit::Session consultation,
                                                                             std::function<void(std::string)> print);

// A transferee's options: accept REFERs to sip/sips targets in `domain` only, and report progress.
referkit::UserAgentOptions transferee_options(std::string domain, std::function<void(std::string)> print);

}  // namespace guide
