// The surface a runtime drives: any sans-I/O core (the Stack in applications, a bare
// TransactionLayer adapter in transport tests) is fed bytes, transport failures and time through it,
// and hands back what to send and when to be called again. The runtime never sees SIP logic.
//
// The order of one step, kept by every runtime (docs/ARCHITECTURE.md):
//   1. one input: receive(), transport_error(), on_timer() or a user command made on the core;
//   2. every poll_transmit() is handed to its transport (a send that fails synchronously, or a
//      connection that cannot be made, comes back as transport_error(transmit.transaction));
//   3. after_step(): the core dispatches its events to user code, which may issue commands (their
//      transmits are flushed again before the step ends);
//   4. one timer is re-armed at next_deadline().
#pragma once
#include <optional>
#include <string_view>

#include "referkit/core/buffer.hpp"
#include "referkit/core/time.hpp"
#include "referkit/core/transaction_layer.hpp"
#include "referkit/core/transport.hpp"

namespace referkit {

class Driven {
public:
    virtual ~Driven() = default;

    // One whole message received (a datagram, one framed stream message, one WebSocket message).
    virtual void receive(SharedBuffer bytes, const Source& from, Time now) = 0;
    // The next message to send, or nullopt when nothing is queued.
    [[nodiscard]] virtual std::optional<Transmit> poll_transmit() = 0;
    // A Transmit of transaction `id` could not be sent (no route, connection refused or reset,
    // TLS verification failed). id 0 (stateless messages) may be passed and is ignored.
    virtual void transport_error(TransactionId id, Time now) = 0;
    // When on_timer must be called next; nullopt when no timer is armed.
    [[nodiscard]] virtual std::optional<Time> next_deadline() const = 0;
    virtual void on_timer(Time now) = 0;

    // The runtime listens on (and sends from) `local` over `transport`; `sent_by` is what a Via
    // for that transport must say ("host:port", or "<random>.invalid" for WebSocket clients, RFC
    // 7118 §5). Called once per listener before any message, and again if an address changes.
    virtual void on_local_address(Transport transport, const Endpoint& local, std::string_view sent_by) {
        (void)transport;
        (void)local;
        (void)sent_by;
    }
    // Step 3 above: called after the step's transmits were handed to transports.
    virtual void after_step(Time now) { (void)now; }
};

}  // namespace referkit
