// Private state of TransactionLayer (include/referkit/core/transaction_layer.hpp), split across
// transaction_layer.cpp (inputs, termination, timers, public surface), client_transactions.cpp
// (§17.1) and server_transactions.cpp (§17.2).
#pragma once
#include <array>
#include <cassert>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "referkit/core/transaction_layer.hpp"
#include "fifo.hpp"
#include "timer_queue.hpp"
#include "wire.hpp"

namespace referkit::txn {

inline constexpr std::string_view magic_cookie = "z9hG4bK";  // §8.1.1.7

// RFC 3261 Appendix A, RFC 6026 (L, M), the 200 ms 100 Trying of §17.2.1 and the 64*T1 an INVITE
// client transaction waits for a final response after its CANCEL was sent (§9.1).
enum class TimerName : std::uint8_t { a, b, d, e, f, k, g, h, i, j, l, m, trying, cancel_guard };

// Whose timer an entry of the layer's queue is.
struct TimerRef {
    std::uint64_t transaction = 0;
    TimerName name = TimerName::a;
};
using Queue = TimerQueue<TimerRef>;

// Each transaction has at most one armed timer per slot.
enum class Slot : std::uint8_t { retransmit, timeout, wait, trying };
inline constexpr std::size_t slot_count = 4;
[[nodiscard]] Slot slot_of(TimerName n) noexcept;
using Timers = std::array<std::optional<Queue::Handle>, slot_count>;

// 16 lowercase hex digits.
[[nodiscard]] std::string hex64(std::uint64_t v);

struct ClientTx {
    TransactionId id;
    bool invite = false;
    bool reliable = false;
    bool held = false;  // a CANCEL waiting for the INVITE's first provisional response (§9.1)
    InviteClientState ic = InviteClientState::calling;
    NonInviteClientState nic = NonInviteClientState::trying;
    Destination destination;
    SharedBuffer bytes;     // the request as sent, our Via on top
    RequestFields fields;   // for CANCEL, the ACK of a non-2xx and synthesised responses
    std::string key;        // client_key(branch, method); client_index holds a view of it
    std::uint32_t via_at = 0, via_size = 0;  // our top Via value in `bytes`
    std::uint32_t branch_size = 0;           // the branch: the start of `key`
    [[nodiscard]] std::string_view via() const noexcept { return bytes.view().substr(via_at, via_size); }
    [[nodiscard]] std::string_view branch() const noexcept { return std::string_view(key).substr(0, branch_size); }
    SharedBuffer ack;  // INVITE: the ACK for a non-2xx final response (§17.1.1.3)
    Duration interval{};
    Timers timers;
    TransactionId cancel;   // INVITE: its CANCEL's client transaction
    TransactionId cancels;  // CANCEL: the INVITE client transaction it cancels
};

// An entry of TransactionLayer::Impl::per_source: a source address and its open server transactions.
using SourceCount = std::pair<const std::string, std::uint32_t>;

struct ServerTx {
    TransactionId id;
    bool invite = false;
    bool reliable = false;
    bool announced = true;  // the TU knows the id (false: CANCELs the layer answered itself)
    InviteServerState is = InviteServerState::proceeding;
    NonInviteServerState nis = NonInviteServerState::trying;
    bool cancelable = false;  // indexed under `base` for CANCEL matching (§9.2)
    Destination reply_to;
    std::string key;   // server_key(server_base, method); server_index holds a view of it
    std::uint32_t base_size = 0;  // the base (cancel_index holds a view of it): the start of `key`
    [[nodiscard]] std::string_view base() const noexcept { return std::string_view(key).substr(0, base_size); }
    ResponseHead head;
    std::string request_to_tag;
    // The To tag our responses carry (§8.2.6.2): the request's, else the latest a response used, or
    // the one made up for the 200 to a CANCEL (§9.2). "" until then.
    std::string response_to_tag;
    SharedBuffer last_response;
    int last_status = 0;
    Duration interval{};
    Timers timers;
    // The entry of Impl::per_source this transaction counts in (nullptr: none). Elements of an
    // unordered_map keep their address when it rehashes.
    SourceCount* source = nullptr;
};

// The keys below are written over `k`, a buffer the caller reuses; an index holds views of the
// copy its transaction owns, so a lookup allocates nothing.
// §17.1.3: the branch and the CSeq method.
void client_key(std::string& k, std::string_view branch, std::string_view method);
// §17.2.3 without the method (see server_transactions.cpp).
void server_base(std::string& k, const Message& m, std::string_view to_tag);
// §17.2.3: the base and the method, appended to `k` (which holds the base).
void append_method(std::string& k, std::string_view method);

}  // namespace referkit::txn

namespace referkit {

struct TransactionLayer::Impl {
    using ClientTx = txn::ClientTx;
    using ServerTx = txn::ServerTx;
    using TimerName = txn::TimerName;
    using Slot = txn::Slot;

    TransactionOptions opt;
    txn::Queue timers;
    std::unordered_map<std::uint64_t, ClientTx> clients;
    std::unordered_map<std::uint64_t, ServerTx> servers;
    // Keys are views of the key each transaction owns (ClientTx::key, ServerTx::key).
    std::unordered_map<std::string_view, std::uint64_t> client_index;
    std::unordered_map<std::string_view, std::uint64_t> server_index;
    // §9.2: server transactions a CANCEL can match (any method but CANCEL and ACK), by base key.
    std::unordered_map<std::string_view, std::uint64_t> cancel_index;
    // Open server transactions by source address (Limits::max_transactions_per_source); an entry
    // goes with its last transaction.
    std::unordered_map<std::string, std::uint32_t> per_source;
    // Reused buffers: the key being looked up, the Via and branch being written.
    std::string key_scratch, via_scratch;
    std::array<char, 7 + 16> branch_scratch{};
    Fifo<Transmit> transmits;
    Fifo<TransactionEvent> events;
    TransactionCounters counters;
    std::uint64_t next_id = 1;
    Time now{};
    // set_sent_by(): the sent-by of each transport's Via; "" = opt.sent_by.
    std::array<std::string, 5> sent_by_of;

    explicit Impl(TransactionOptions o) : opt(std::move(o)) {
        // Precondition (transaction_layer.hpp): a branch or tag of 0s from a missing source would
        // make every transaction collide, so misuse stops here in every build type.
        assert(opt.random && "TransactionOptions::random must be set");
        if (!opt.random) std::abort();
    }

    Time advance(Time t) {
        if (t > now) now = t;
        return now;
    }
    [[nodiscard]] std::size_t open() const noexcept { return clients.size() + servers.size(); }
    [[nodiscard]] bool full() const noexcept { return open() >= opt.limits.max_transactions; }
    // Whether a new server transaction may open for request `m` from `from`; counts a refusal.
    // Within the global and per-source bounds, yes; at one of them, only a request in a dialog of
    // the TU (asked only then), from the reserve. `source`: from's entry of per_source, if any.
    [[nodiscard]] bool admit(const Message& m, const Source& from, txn::SourceCount*& source);
    [[nodiscard]] Duration timer_64t1() const { return 64 * opt.t1; }
    std::uint64_t random() { return opt.random(); }
    [[nodiscard]] std::string_view sent_by(Transport t) const {
        const std::string& s = sent_by_of[static_cast<std::size_t>(t)];
        return s.empty() ? std::string_view(opt.sent_by) : std::string_view(s);
    }
    std::string new_tag() { return txn::hex64(random()); }

    // --- timers
    void arm(txn::Timers& t, std::uint64_t id, TimerName name, Time when) {
        auto& slot = t[static_cast<std::size_t>(txn::slot_of(name))];
        if (slot) timers.cancel(*slot);
        slot = timers.arm(when, txn::TimerRef{id, name});
    }
    void disarm(txn::Timers& t, Slot s) {
        auto& slot = t[static_cast<std::size_t>(s)];
        if (slot) timers.cancel(*slot);
        slot.reset();
    }
    void disarm_all(txn::Timers& t) {
        for (auto& slot : t) {
            if (slot) timers.cancel(*slot);
            slot.reset();
        }
    }

    void send(TransactionId id, const Destination& d, const SharedBuffer& bytes) {
        transmits.push_back(Transmit{id, d, bytes});
    }
    // Events are built in place and messages moved once (a Message is over 1 KB).
    TransactionEvent& emit(EventKind kind, TransactionId id) {
        TransactionEvent& e = events.emplace_back();
        e.kind = kind;
        e.id = id;
        return e;
    }
    void emit(EventKind kind, TransactionId id, Message&& m, const Source& src, bool repeated = false) {
        TransactionEvent& e = emit(kind, id);
        e.message.emplace(std::move(m));
        e.source = src;
        e.repeated = repeated;
    }
    void emit(EventKind kind, TransactionId id, std::optional<Message>&& m) { emit(kind, id).message = std::move(m); }

    // --- termination (the reference is invalid afterwards): transaction_layer.cpp
    void end_client(ClientTx& tx);
    void end_server(ServerTx& tx);

    // --- client transactions (§17.1): client_transactions.cpp
    // A new branch (§8.1.1.7), valid until the next call.
    std::string_view new_branch();
    // A client transaction for a request already written (our Via, of via_size bytes, on top) and its fields.
    std::expected<TransactionId, TransactionError> add_client(txn::RequestFields fields, std::string bytes,
                                                              std::size_t via_size, std::string_view branch,
                                                              Destination to, bool held);
    std::expected<TransactionId, TransactionError> send_request(const OutgoingRequest& request, const Destination& to);
    std::expected<TransactionId, TransactionError> send_request(std::string_view request, const Destination& to);
    // The TU's bytes with `via` inserted after the start line and a Content-Length when they have
    // none (§18.3), and the fields of the one parse. invalid_request when they do not parse as a
    // request, or bytes follow the body its Content-Length announces.
    struct Raw {
        std::string bytes;
        txn::RequestFields fields;
        Method method = Method::other;
    };
    std::expected<Raw, TransactionError> with_via(std::string_view request, std::string_view via) const;
    std::expected<void, TransactionError> send_stateless(const OutgoingRequest& request, const Destination& to);
    std::expected<void, TransactionError> send_stateless(std::string_view request, const Destination& to);
    void launch(ClientTx& tx);
    std::expected<TransactionId, TransactionError> cancel(TransactionId invite);
    void release_cancel(ClientTx& invite);
    void drop_held_cancel(ClientTx& invite);
    void client_response(Message&& r, const Source& from);
    void invite_client_response(ClientTx& tx, Message&& r, const Source& from);
    void non_invite_client_response(ClientTx& tx, Message&& r, const Source& from);
    void client_failure(ClientTx& tx, EventKind kind, int status);
    void client_timer(ClientTx& tx, TimerName name, Time deadline);

    // --- server transactions (§17.2): server_transactions.cpp
    void stateless_answer(const Message& req, const Source& from, int status, std::string_view extra);
    ServerTx* find_server(std::string_view key);
    ServerTx* find_acked(const Message& ack);
    const std::string& ensure_tag(ServerTx& tx);
    void server_request(Message&& m, const Source& from);
    void resend_last(ServerTx& tx);
    void server_retransmission(ServerTx& tx);
    void server_ack(ServerTx& tx, Message&& ack, const Source& from);
    std::expected<void, TransactionError> respond(TransactionId id, const ResponseSpec& spec);
    std::expected<void, TransactionError> respond_to(ServerTx& tx, const ResponseSpec& spec);
    void invite_server_sent(ServerTx& tx, int s);
    void non_invite_server_sent(ServerTx& tx, int s);
    void server_timer(ServerTx& tx, TimerName name, Time deadline);

    // --- inputs: transaction_layer.cpp
    void receive_message(Message&& m, const Source& from);
    void receive_bytes(SharedBuffer b, const Source& from);
    void transport_error(TransactionId id);
    std::expected<void, TransactionError> abandon(TransactionId id);
    void on_timer();
};

}  // namespace referkit
