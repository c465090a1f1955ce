// A user agent on real sockets: the sans-I/O UserAgentCore and its ReferAgent (call transfer, both
// sides) driven by the Asio runtime Engine.
//
// One UserAgent = one core + one ReferAgent + one engine on one io_context thread
// (docs/ARCHITECTURE.md). Every UaEvent is offered to the ReferAgent first; those it takes (REFER,
// NOTIFY/SUBSCRIBE of the refer package, responses to its requests, INVITEs with Replaces) never
// reach the event handler. Events — the core's, the transfers' (transfer.hpp) and the
// transferee's — reach their handlers only after the step that produced them has queued its
// messages (SPEC-REFER's delivery contract), so a handler can never delay or suppress what the core
// answers. Commands are run as steps on io's thread through post(), from any thread.
#pragma once
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "referkit/core/refer_agent.hpp"
#include "referkit/core/user_agent_core.hpp"
#include "referkit/runtime/engine.hpp"
#include "referkit/transfer.hpp"

namespace boost::asio {
class io_context;
}

namespace referkit {

class UserAgent;

// Transferee-side events (an incoming REFER answered, the INVITE to the target placed, each NOTIFY
// answered, the end; INVITEs with Replaces acted on), on io's thread, after the step.
using TransfereeHandler = std::function<void(UserAgent&, const TransfereeEvent&)>;

struct UserAgentOptions {
    // The core's configuration. Left empty, core.transaction.random is filled with OpenSSL's CSPRNG
    // (Call-IDs, tags and branches must not be guessable) and core.digest_hash with OpenSSL's MD5 /
    // SHA-256; transaction.sent_by is set per transport from the listeners. core.supported gets the
    // option tags the ReferAgent implements (replaces unless refer.handle_replaces is false,
    // norefersub unless refer.server.allow_no_subscription is false), so that a peer's `Require:`
    // of them is not answered 420; and core.event_packages gets "refer": SUBSCRIBEs and NOTIFYs of
    // any package not listed there are answered 489 by the core, so an application that
    // subscribes to another package (dialog, presence ...) must list it.
    UserAgentConfig core{};
    runtime::EngineOptions engine{};
    // One line per notable runtime event (listeners, refused connections, handler exceptions);
    // credentials never appear in it. May be empty.
    std::function<void(std::string_view)> log{};
    // The ReferAgent's configuration. refer.aor "" = core.aor. refer.refer_policy is the
    // transferee's policy hook (accept or reject a valid REFER; empty = default_refer_policy); it
    // runs inside the step because its verdict is the answer; if it throws, the exception is
    // logged and default_refer_policy decides.
    ReferAgentConfig refer{};
    TransfereeHandler on_transferee{};
};

class UserAgent {
public:
    // Receives every UaEvent the ReferAgent did not take (it takes REFERs, NOTIFYs and SUBSCRIBEs
    // of the refer package, responses to its own requests, INVITEs with Replaces; it observes and
    // passes on session events), on io's thread. It may issue commands on the core directly (it
    // runs inside a step). An exception it throws is caught, logged and changes nothing on the wire.
    using EventHandler = std::function<void(UserAgent&, const UaEvent&)>;

    // Ownership: `io` is borrowed and must outlive the user agent. Nothing is bound until start().
    UserAgent(boost::asio::io_context& io, UserAgentOptions options, EventHandler on_event = {});
    ~UserAgent();
    UserAgent(const UserAgent&) = delete;
    UserAgent& operator=(const UserAgent&) = delete;

    // Binds the listeners (see runtime::Engine::start). Errors name the listener and the reason.
    [[nodiscard]] std::expected<void, std::string> start();
    // Ends every live transfer and transferee context (ReferAgent::shut_down: outcome unknown,
    // cause shut_down), delivers those events to their handlers, then closes every socket; the core
    // is not called again. Idempotent. The destructor does the same.
    void stop();

    // Runs command(core, now) as one step on io's thread. Thread-safe.
    void post(std::function<void(UserAgentCore&, Time)> command);

    // Only on io's thread (inside a handler or a posted command), or before start().
    [[nodiscard]] UserAgentCore& core() noexcept;
    [[nodiscard]] runtime::Engine& engine() noexcept;
    [[nodiscard]] Time now() const;
    // Listener addresses after start(), in the order of options.engine.listen.
    [[nodiscard]] std::vector<std::pair<Transport, Endpoint>> local_endpoints() const;
    // "sip:user@host:port;transport=tcp" for the first listener of `transport` (nullopt: none).
    [[nodiscard]] std::optional<std::string> contact_uri(Transport transport) const;

    // --- sessions and transfers (io's thread only; a command issued outside a step is flushed by
    // a step posted for it)
    // Places a call (UserAgentCore::invite). Errors: as invite(); no_such_session after stop().
    [[nodiscard]] std::expected<Session, UaError> invite(const InviteOptions& options);
    // A handle on session `id` (not checked: a stale id makes its commands fail).
    [[nodiscard]] Session session(SessionId id);
    // The transfer glue; only on io's thread. Its events are dispatched by the UserAgent: do not
    // poll them. A REFER sent through it directly (not through a Transfer) raises no handler
    // events; use it for inspection (context(), transferee(), live()).
    [[nodiscard]] ReferAgent& refer_agent() noexcept;
    // Transfers that have sent their REFER and not ended yet.
    [[nodiscard]] std::size_t transfers_live() const noexcept;

private:
    friend class Session;
    friend class Transfer;
    // Transfer::refer: sends the REFER of `state` (idle) and registers it for events.
    std::expected<void, TransferError> start_transfer(const std::shared_ptr<detail::TransferState>& state,
                                                      ReferCallOptions call);
    bool unsubscribe_transfer(detail::TransferState& state);
    // After a command issued outside a step: a step that flushes it and dispatches its events.
    void settle();
    [[nodiscard]] const std::shared_ptr<detail::UaAnchor>& anchor() const noexcept;

    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The runtime's random source for UserAgentConfig::transaction.random: OpenSSL RAND_bytes.
[[nodiscard]] std::function<std::uint64_t()> secure_random();

}  // namespace referkit
