// The RFC 3261 §17 transaction layer as a sans-I/O state machine, with the RFC 6026 corrections
// (INVITE server and client "Accepted" states, Timers L and M; 2xx retransmissions belong to the
// transaction user, the TU).
//
// Inputs: bytes received from a transport (`receive`), the TU's requests (`send_request`,
// `cancel`, `send_stateless`), its responses (`respond`), transport failures (`transport_error`)
// and the passing of time (`on_timer`). Outputs are pulled: `poll_transmit()` (bytes to send),
// `poll_event()` (what the TU must know) and `next_deadline()` (when to call `on_timer`). The layer
// never reads a clock, never touches a socket and draws randomness only from the injected source.
//
// Not thread-safe: one layer is driven by one thread (docs/ARCHITECTURE.md).
#pragma once
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "referkit/core/buffer.hpp"
#include "referkit/core/limits.hpp"
#include "referkit/core/message.hpp"
#include "referkit/core/time.hpp"
#include "referkit/core/transport.hpp"
#include "referkit/core/writer.hpp"

namespace referkit {

// Opaque handle of one transaction; 0 (the default) is "no transaction". Never reused by a layer.
struct TransactionId {
    std::uint64_t value = 0;
    explicit operator bool() const noexcept { return value != 0; }
    friend auto operator<=>(const TransactionId&, const TransactionId&) = default;
};

// --- the four machines of RFC 3261 §17 (figures 5-8, RFC 6026 figures 5 and 7)
enum class InviteClientState : std::uint8_t { calling, proceeding, completed, accepted, terminated };
enum class NonInviteClientState : std::uint8_t { trying, proceeding, completed, terminated };
enum class InviteServerState : std::uint8_t { proceeding, completed, confirmed, accepted, terminated };
enum class NonInviteServerState : std::uint8_t { trying, proceeding, completed, terminated };

struct TransactionOptions {
    // RFC 3261 §17.1.1.1 / Appendix A: RTT estimate, maximum retransmit interval for non-INVITE
    // requests and INVITE responses, maximum time a message stays in the network.
    Duration t1 = std::chrono::milliseconds(500);
    Duration t2 = std::chrono::seconds(4);
    Duration t4 = std::chrono::seconds(5);
    // Timer D: how long an INVITE client transaction absorbs final-response retransmissions after
    // sending the ACK on an unreliable transport (§17.1.1.2: at least 32 s; 0 on reliable ones).
    Duration timer_d = std::chrono::seconds(32);
    // An INVITE server transaction sends 100 Trying when the TU has not answered by then (§17.2.1).
    Duration trying_delay = std::chrono::milliseconds(200);
    // sent-by ("host" or "host:port") of the Via this layer puts on requests it sends.
    std::string sent_by = "localhost";
    // Source of the random part of Via branches (RFC 3261 §8.1.1.7) and of the To tags the layer
    // makes up for the TU's responses (§8.2.6.2, §9.2). Required (precondition of the constructor,
    // which aborts when it is unset); called once per request sent and per tag made up. It must
    // not be a clock.
    std::function<std::uint64_t()> random;
    // §18.1.1: a request larger than this (with its Via) that would go over UDP is sent over TCP to
    // the same address instead, and its Via says TCP. 0 disables the switch.
    std::size_t udp_max_request_size = 1300;
    // Seconds in the Retry-After of the 503 sent when Limits::max_transactions is reached.
    std::uint32_t retry_after_seconds = 5;
    // Limits for parsing received messages and for the number of open transactions.
    Limits limits = {};
    // Whether a received request with a To tag belongs to a dialog of the TU (a pure query, called
    // inside receive() only when a new request meets max_transactions or its source's bound): such
    // requests may use Limits::reserved_in_dialog_transactions. Empty: none does. The Stack sets it.
    std::function<bool(const Message&)> in_dialog = {};
};

// Bytes to send. `transaction` is the transaction that produced them (0 for stateless answers);
// give it back to `transport_error` when sending fails.
struct Transmit {
    TransactionId transaction;
    Destination destination;
    SharedBuffer bytes;
};

enum class EventKind : std::uint8_t {
    // A new server transaction: `message` is the request, `source` where it came from. Answer it
    // with respond(id, ...). ACK and matched CANCEL never create this event.
    request,
    // A client transaction received a response (`message`). Every transaction gets at most one
    // final response event with repeated == false. repeated == true: a further 2xx to an INVITE
    // (retransmission or another fork) in the Accepted state, for the TU to ACK (RFC 6026 §8.4).
    response,
    // Client: Timer B or F fired (`message` is a synthesised 408, §8.1.3.1), or an INVITE whose
    // CANCEL was sent got no final response within 64*T1 of it (§9.1: `message` is a synthesised
    // 487 Request Terminated, since the RFC says to consider the INVITE cancelled rather than timed
    // out). Server: Timer H fired, the ACK never came (§17.2.1); no message.
    timeout,
    // The transport reported a failure for this transaction. Client waiting for its final response:
    // `message` is a synthesised 503 (§8.1.3.1). INVITE client in Completed (the ACK could not be
    // sent, Figure 5): no message, the final response was already reported. Server: no message
    // (§17.2.4).
    transport_error,
    // An ACK that belongs to no transaction, typically the ACK for a 2xx (§17.1.1.3, RFC 6026 §8.7);
    // `id` is the INVITE server transaction in its Accepted state it matched, or 0.
    ack,
    // A CANCEL matched the INVITE server transaction `id` while it had not sent a final response;
    // the layer already answered the CANCEL with 200 (§9.2). The TU should answer the INVITE (487);
    // `to_tag` is the To tag the CANCEL's 200 carried, which respond() puts on the INVITE's responses
    // when the TU gives none (§9.2: same tag). A CANCEL matching a non-INVITE server transaction is
    // answered 200 too but raises no event: §9.2 asks nothing of the TU there.
    cancel,
    // The transaction `id` is gone; its handle is now invalid.
    terminated,
};

// Where the status of a final response a TU reports came from: received, or synthesised by the
// layer (`timeout`: a 408 when Timer B/F fired; `transport_error`: a 503, RFC 3261 §8.1.3.1).
enum class ResponseOrigin : std::uint8_t { wire, timeout, transport_error };

struct TransactionEvent {
    EventKind kind = EventKind::terminated;
    TransactionId id;
    std::optional<Message> message;
    Source source;          // request, ack, cancel, response: where the message came from (its connection)
    bool repeated = false;  // response: see EventKind::response
    std::string to_tag;     // cancel: see EventKind::cancel
};

// What the layer answers a request with (the layer copies Via, From, To, Call-ID and CSeq from the
// request, §8.2.6.2, writes Content-Length and routes the response per §18.2.2).
struct ResponseSpec {
    int status = 200;                   // 100..699
    std::string_view reason{};          // "" = the RFC 3261 §21 phrase
    // Added to To when the request's To has none (not on 100). "" on 101..699 = the tag this
    // transaction already used (a previous response, or the 200 to a CANCEL), else one made up from
    // the random source and kept for the transaction's later responses (§8.2.6.2).
    std::string_view to_tag{};
    // Extra headers, in order. Via, From, To, Call-ID, CSeq, Content-Length and Content-Type are
    // the layer's (or content_type's): naming one is invalid_response.
    std::vector<std::pair<std::string_view, std::string_view>> headers{};
    std::string_view content_type{};    // "" = no Content-Type
    std::string_view body{};
};

// A local misuse of the layer (not a peer's error).
enum class TransactionError : std::uint8_t {
    no_such_transaction,   // unknown or terminated id, or the wrong kind of transaction
    invalid_request,       // the request bytes do not parse, or the method cannot start one here
    invalid_response,      // status out of range, bad header name or value
    wrong_state,           // e.g. a response after the final one, CANCEL after the final response
    too_many_transactions, // Limits::max_transactions reached
    branch_collision,      // the random source repeated itself
};
[[nodiscard]] std::string_view to_string(TransactionError e) noexcept;

// What went through the layer that it did not pass on as an event.
struct TransactionCounters {
    std::uint64_t stray_responses = 0;           // responses matching no client transaction (dropped)
    std::uint64_t malformed_responses = 0;       // responses that did not parse (dropped)
    std::uint64_t malformed_requests_answered = 0;  // answered with their ParseError's status
    std::uint64_t malformed_requests_dropped = 0;   // too broken to answer
    std::uint64_t retransmissions_absorbed = 0;  // received retransmissions handled inside the layer
    std::uint64_t retransmissions_sent = 0;      // timer-driven or answered from a cache
    std::uint64_t retransmissions_answered = 0;  // of those, answers from a cache to a received retransmission
    std::uint64_t stray_acks = 0;                // ACKs matching no transaction (passed to the TU)
    std::uint64_t stray_cancels = 0;             // CANCELs matching nothing, answered 481
    std::uint64_t rejected_overload = 0;         // requests answered 503 at max_transactions
    std::uint64_t rejected_source_overload = 0;  // answered 503 at max_transactions_per_source
    std::uint64_t admitted_in_reserve = 0;       // in-dialog requests admitted beyond max_transactions
};

// Precondition of every member but destruction and assignment: the layer was not moved from.
class TransactionLayer {
public:
    // Precondition: options.random is set (checked: the process aborts otherwise, in every build
    // type, rather than branching on a constant). The layer owns a copy of the options.
    explicit TransactionLayer(TransactionOptions options);
    ~TransactionLayer();
    TransactionLayer(TransactionLayer&&) noexcept;
    TransactionLayer& operator=(TransactionLayer&&) noexcept;
    TransactionLayer(const TransactionLayer&) = delete;
    TransactionLayer& operator=(const TransactionLayer&) = delete;

    // --- inputs. `now` never goes backwards; an earlier value is treated as the latest one seen.

    // One whole message received over a transport (datagram, or one frame of a stream framer).
    // Requests become server transactions (event `request`) or are absorbed/answered; responses
    // go to their client transaction. Peer errors never fail: they are answered or dropped and
    // counted (counters()).
    void receive(std::string_view bytes, const Source& from, Time now);
    void receive(SharedBuffer bytes, const Source& from, Time now);
    void receive(Message message, const Source& from, Time now);

    // Starts a client transaction for `request` (given as fields: the layer writes it once, with
    // its Via on top, and never parses it) and sends it to `to`. The Via has a fresh branch and
    // rport (RFC 3581); over UDP a request larger than udp_max_request_size goes over TCP instead
    // (§18.1.1; the Transmit says so). Returns the transaction's id, or invalid_request (the
    // request does not write, see write_request in writer.hpp; ACK: use send_stateless; CANCEL: use
    // cancel), too_many_transactions, branch_collision.
    [[nodiscard]] std::expected<TransactionId, TransactionError> send_request(const OutgoingRequest& request,
                                                                              const Destination& to, Time now);
    // The same from bytes (scripted peers in tests, requests crafted by hand): a complete request
    // without this hop's Via, parsed once and sent as given with the Via inserted after the start
    // line; without a Content-Length the body is the rest of `request` and the layer adds the
    // header (mandatory on streams, §18.3). Errors as above; invalid_request also when it does not
    // parse or bytes follow the body its Content-Length announces.
    [[nodiscard]] std::expected<TransactionId, TransactionError> send_request(std::string_view request,
                                                                              const Destination& to, Time now);
    // CANCELs the INVITE client transaction `invite` (§9.1): builds the CANCEL and starts its own
    // client transaction, returned. When no provisional response has arrived yet, the CANCEL is
    // held until one does (§9.1) and then sent. Errors: no_such_transaction (not an INVITE client
    // transaction), wrong_state (a final response already arrived, or already cancelled).
    [[nodiscard]] std::expected<TransactionId, TransactionError> cancel(TransactionId invite, Time now);
    // Sends a request outside any transaction (the ACK for a 2xx, §13.2.2.4), written once with
    // this hop's Via and a fresh branch. Errors: invalid_request (it does not write).
    [[nodiscard]] std::expected<void, TransactionError> send_stateless(const OutgoingRequest& request,
                                                                       const Destination& to, Time now);
    // The same from bytes (as the byte form of send_request). Errors: invalid_request (does not
    // parse, or bytes after the body).
    [[nodiscard]] std::expected<void, TransactionError> send_stateless(std::string_view request, const Destination& to,
                                                                       Time now);
    // Answers the server transaction `id`. The response is built from the request (§8.2.6) and sent
    // where §18.2.2 says. Errors: no_such_transaction, invalid_response, wrong_state (a final
    // response was already sent; 2xx to an INVITE may be repeated in the Accepted state, RFC 6026).
    [[nodiscard]] std::expected<void, TransactionError> respond(TransactionId id, const ResponseSpec& response,
                                                                Time now);
    // The transport could not send a message of transaction `id` (a Transmit's `transaction`):
    // the transaction ends and the TU is told (event transport_error, then terminated), except
    // where Figures 5-6 and RFC 6026 have no such transition: an INVITE client in Proceeding or
    // Accepted, a non-INVITE client in Completed (a late error for a request already answered)
    // ignore it. Unknown ids are ignored.
    void transport_error(TransactionId id, Time now);
    // Ends the client transaction `id` (any method, any state) because the TU no longer cares
    // about it: nothing more is sent for it, and its only further event is `terminated`. A CANCEL
    // it still held (§9.1) ends too; a CANCEL already sent lives on. Errors: no_such_transaction
    // (not a client transaction, or already gone).
    [[nodiscard]] std::expected<void, TransactionError> abandon(TransactionId id, Time now);
    // Fires every timer due at or before now.
    void on_timer(Time now);
    // The sent-by ("host" or "host:port", IPv6 in brackets) of the Via on requests later sent over
    // `transport` (a runtime calls it per listener, Driven::on_local_address). "" restores the
    // fallback, TransactionOptions::sent_by. Requests already sent keep their Via.
    void set_sent_by(Transport transport, std::string sent_by);

    // --- outputs
    [[nodiscard]] std::optional<Transmit> poll_transmit();
    [[nodiscard]] std::optional<TransactionEvent> poll_event();
    // The earliest timer, or nullopt when none is armed. Transactions waiting for the TU (a server
    // transaction not yet answered, an INVITE client transaction in Proceeding not cancelled,
    // §17.1.1.2) hold no timer: ending them is the TU's job (answer; CANCEL, which arms 64*T1 on
    // the INVITE when it is sent, §9.1; abandon).
    [[nodiscard]] std::optional<Time> next_deadline() const;

    // --- inspection
    [[nodiscard]] std::size_t transaction_count() const noexcept;
    [[nodiscard]] std::size_t timer_count() const noexcept;
    [[nodiscard]] const TransactionCounters& counters() const noexcept;
    // The current state of a transaction of that kind; nullopt when the id is not one (or is gone).
    [[nodiscard]] std::optional<InviteClientState> invite_client_state(TransactionId id) const;
    [[nodiscard]] std::optional<NonInviteClientState> non_invite_client_state(TransactionId id) const;
    [[nodiscard]] std::optional<InviteServerState> invite_server_state(TransactionId id) const;
    [[nodiscard]] std::optional<NonInviteServerState> non_invite_server_state(TransactionId id) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace referkit
