// A user agent on real sockets: the sans-I/O Stack (referkit/core/stack.hpp) driven by the Asio
// runtime Engine, and the dispatch of its events to the application's handlers. This header and
// transfer.hpp are what an application includes.
//
// One UserAgent = one Stack + one engine on one io_context thread (docs/ARCHITECTURE.md). Events
// reach their handlers only after the step that produced them has handed its messages to the
// transports, so a handler can never delay or suppress what the stack answers (the 200 to a
// NOTIFY, the BYE after a transfer). The stack itself answers REFERs, the NOTIFYs and SUBSCRIBEs of
// its transfers and INVITEs with Replaces (UserAgentOptions::refer); everything else reaches the
// application. Commands are run as steps on io's thread through post(), from any thread.
#pragma once
#include <utility>  // before Asio: Boost 1.74 headers miss it under g++ 12 C++23

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "referkit/core/stack.hpp"
#include "referkit/runtime/engine.hpp"
#include "referkit/transfer.hpp"

namespace referkit {

class UserAgent;

// Transferee-side events (an incoming REFER answered, the INVITE to the target placed, each NOTIFY
// answered, the end; INVITEs with Replaces acted on), on io's thread, after the step.
using TransfereeHandler = std::function<void(UserAgent&, const TransfereeEvent&)>;

struct UserAgentOptions {
    // The user agent's identity, capabilities and limits. Left empty, core.transaction.random is
    // filled with OpenSSL's CSPRNG (Call-IDs, tags and branches must not be guessable) and
    // core.digest_hash with OpenSSL's MD5 / SHA-256; transaction.sent_by is set per transport from
    // the listeners. The stack adds the option tags and the event package it implements
    // (stack_config.hpp): an application that subscribes to another package (dialog, presence ...)
    // lists it in core.event_packages, or its NOTIFYs are answered 489.
    UserAgentConfig core{};
    runtime::EngineOptions engine{};
    // One line per notable runtime event (listeners, refused connections, handler exceptions);
    // credentials never appear in it. May be empty.
    std::function<void(std::string_view)> log{};
    // Call transfer. refer.refer_policy (accept or reject a valid REFER; empty =
    // default_refer_policy), refer.allow_refer_from (out-of-dialog REFERs, refused by default) and
    // refer.authorize_replace run inside the step because their verdict is the answer; if one
    // throws, the exception is logged and the default decides.
    ReferConfig refer{};
    TransfereeHandler on_transferee{};
};

class UserAgent {
public:
    // Receives the stack's SessionEvent, RequestEvent, ResponseEvent and DialogEndedEvent (a
    // transfer's events go to its Transfer's handlers, transferee events to on_transferee), on
    // io's thread. It may give commands (it runs inside a step). An exception it throws is caught,
    // logged and changes nothing on the wire.
    using EventHandler = std::function<void(UserAgent&, const StackEvent&)>;

    // Ownership: `io` is borrowed and must outlive the user agent. Nothing is bound until start().
    UserAgent(boost::asio::io_context& io, UserAgentOptions options, EventHandler on_event = {});
    ~UserAgent();
    UserAgent(const UserAgent&) = delete;
    UserAgent& operator=(const UserAgent&) = delete;

    // Binds the listeners (see runtime::Engine::start). Errors name the listener and the reason.
    [[nodiscard]] std::expected<void, std::string> start();
    // Ends every live transfer (outcome unknown, cause shut_down) and transferee, delivers those
    // events to their handlers, then closes every socket; the stack is not called again.
    // Idempotent. The destructor does the same.
    void stop();

    // Runs command(*this) as one step on io's thread. Thread-safe.
    void post(std::function<void(UserAgent&)> command);

    // Only on io's thread (inside a handler or a posted command), or before start(). A command
    // issued outside a step is flushed by a step posted for it.
    [[nodiscard]] Time now() const;
    // Listener addresses after start(), in the order of options.engine.listen.
    [[nodiscard]] std::vector<std::pair<Transport, Endpoint>> local_endpoints() const;
    // "sip:user@host:port;transport=tcp" for the first listener of `transport` (nullopt: none).
    [[nodiscard]] std::optional<std::string> contact_uri(Transport transport) const;

    // --- calls
    // Places a call (Stack::invite). Errors: as invite(); no_such_session after stop().
    [[nodiscard]] std::expected<Session, UaError> invite(const InviteOptions& options);
    // A handle on session `id` (not checked: a stale id makes its commands fail).
    [[nodiscard]] Session session(SessionId id);

    // --- requests with no usage (MESSAGE, INFO, SUBSCRIBE ... see Stack for the rules)
    [[nodiscard]] std::expected<SentRequest, UaError> send_request(const OutOfDialogRequest& request);
    [[nodiscard]] std::expected<SentRequest, UaError> send_in_dialog(DialogId dialog, const InDialogRequest& request);
    // Answers a RequestEvent.
    [[nodiscard]] std::expected<DialogId, UaError> respond(IncomingId id, const UaResponse& response);
    [[nodiscard]] std::optional<DialogInfo> dialog_info(DialogId id) const;

    // Transfers that have sent their REFER and not ended yet; transferees that have not ended.
    [[nodiscard]] std::size_t transfers_live() const noexcept;
    [[nodiscard]] std::size_t transferees_live() const noexcept;
    [[nodiscard]] const runtime::EngineCounters& engine_counters() const noexcept;

    // --- escape hatch
    // The stack itself, for what the handles above do not cover (inspection, counts(), usages).
    // Only on io's thread. A command given to it directly is not flushed until the next step:
    // prefer the UserAgent's own commands.
    [[nodiscard]] Stack& stack() noexcept;

private:
    friend class Session;
    friend class Transfer;
    // Transfer::refer: sends the REFER of `state` (idle) and registers it for events.
    std::expected<void, TransferError> start_transfer(const std::shared_ptr<Transfer::State>& state,
                                                      ReferCallOptions call);
    bool unsubscribe_transfer(const Transfer::State& state);
    // After a command: a step that flushes it and dispatches its events, unless one is running.
    void settle();
    [[nodiscard]] const std::shared_ptr<detail::UaLink>& link() const noexcept;

    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The runtime's random source for UserAgentConfig::transaction.random: OpenSSL RAND_bytes.
[[nodiscard]] std::function<std::uint64_t()> secure_random();

}  // namespace referkit
