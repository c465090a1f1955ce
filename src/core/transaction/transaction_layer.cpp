// The four RFC 3261 §17 machines with the RFC 6026 corrections, their matching (§17.1.3, §17.2.3)
// and the single timer queue. See include/referkit/core/transaction.hpp for the contract.
#include "referkit/core/transaction.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <cstdlib>
#include <deque>
#include <unordered_map>
#include <utility>

#include "timer_queue.hpp"
#include "wire.hpp"

namespace referkit {

using txn::TimerName;
using txn::TimerQueue;

namespace {

constexpr std::string_view magic_cookie = "z9hG4bK";  // §8.1.1.7

// Each transaction has at most one armed timer per slot.
enum class Slot : std::uint8_t { retransmit, timeout, wait, trying };
constexpr std::size_t slot_count = 4;

Slot slot_of(TimerName n) {
    switch (n) {
    case TimerName::a:
    case TimerName::e:
    case TimerName::g: return Slot::retransmit;
    case TimerName::b:
    case TimerName::f:
    case TimerName::h:
    case TimerName::cancel_guard: return Slot::timeout;
    case TimerName::d:
    case TimerName::k:
    case TimerName::i:
    case TimerName::j:
    case TimerName::l:
    case TimerName::m: return Slot::wait;
    case TimerName::trying: return Slot::trying;
    }
    return Slot::wait;
}

using Timers = std::array<std::optional<TimerQueue::Handle>, slot_count>;

std::string hex64(std::uint64_t v) {
    char buf[17];
    for (int i = 15; i >= 0; --i) {
        buf[i] = "0123456789abcdef"[v & 0xf];
        v >>= 4;
    }
    return std::string(buf, 16);
}

struct ClientTx {
    TransactionId id;
    bool invite = false;
    bool reliable = false;
    bool held = false;  // a CANCEL waiting for the INVITE's first provisional response (§9.1)
    InviteClientState ic = InviteClientState::calling;
    NonInviteClientState nic = NonInviteClientState::trying;
    Destination destination;
    std::optional<Message> request;  // with our Via; views into its own buffer
    std::string via;                 // our top Via value
    std::string key;
    SharedBuffer ack;  // INVITE: the ACK for a non-2xx final response (§17.1.1.3)
    Duration interval{};
    Timers timers;
    TransactionId cancel;   // INVITE: its CANCEL's client transaction
    TransactionId cancels;  // CANCEL: the INVITE client transaction it cancels
};

struct ServerTx {
    TransactionId id;
    bool invite = false;
    bool reliable = false;
    bool announced = true;  // the TU knows the id (false: CANCELs the layer answered itself)
    InviteServerState is = InviteServerState::proceeding;
    NonInviteServerState nis = NonInviteServerState::trying;
    bool cancelable = false;  // indexed under `base` for CANCEL matching (§9.2)
    Destination reply_to;
    std::string key;   // server_index
    std::string base;  // cancel_index: the key without the method
    txn::ResponseHead head;
    std::string request_to_tag;
    // The To tag our responses carry (§8.2.6.2): the request's, else the latest a response used, or
    // the one made up for the 200 to a CANCEL (§9.2). "" until then.
    std::string response_to_tag;
    SharedBuffer last_response;
    int last_status = 0;
    Duration interval{};
    Timers timers;
};

std::string client_key(std::string_view branch, std::string_view method) {
    std::string k;
    k.reserve(branch.size() + method.size() + 1);
    k.append(branch).append("|").append(method);
    return k;
}

void append_port(std::string& k, std::uint16_t port) {
    char buf[8];
    auto r = std::to_chars(buf, buf + sizeof buf, port);
    k.append(buf, r.ptr);
}

// §17.2.3 without the method: branch + sent-by; without the magic cookie, the RFC 2543 fields
// including the To tag `to_tag` (the request's; for an ACK, the one to try, since the ACK's tag is
// the response's and may differ from the INVITE's).
std::string server_base(const Message& m, std::string_view to_tag) {
    const Via& v = m.top_via();
    std::string k;
    if (v.branch.starts_with(magic_cookie)) {
        k.reserve(v.branch.size() + v.host.size() + 10);
        k.append("1|").append(v.branch).append("|").append(txn::lower(v.host)).append(":");
        append_port(k, v.port);
    } else {
        k.append("2|").append(m.request_uri().text).append("|").append(m.from().tag).append("|");
        k.append(m.call_id()).append("|");
        k.append(std::to_string(m.cseq().number)).append("|").append(txn::lower(v.host)).append(":");
        append_port(k, v.port);
        k.append("|").append(v.transport).append("|").append(v.branch).append("|").append(to_tag);
    }
    return k;
}

// §17.2.3: the base and the method.
std::string server_key(std::string_view base, std::string_view method) {
    std::string k;
    k.reserve(base.size() + method.size() + 1);
    k.append(base).append("|").append(method);
    return k;
}

}  // namespace

std::string_view to_string(TransactionError e) noexcept {
    switch (e) {
    case TransactionError::no_such_transaction: return "no such transaction";
    case TransactionError::invalid_request: return "invalid request";
    case TransactionError::invalid_response: return "invalid response";
    case TransactionError::wrong_state: return "wrong state";
    case TransactionError::too_many_transactions: return "too many transactions";
    case TransactionError::branch_collision: return "branch collision";
    }
    return "unknown";
}

struct TransactionLayer::Impl {
    TransactionOptions opt;
    TimerQueue timers;
    std::unordered_map<std::uint64_t, ClientTx> clients;
    std::unordered_map<std::uint64_t, ServerTx> servers;
    std::unordered_map<std::string, std::uint64_t> client_index;
    std::unordered_map<std::string, std::uint64_t> server_index;
    // §9.2: server transactions a CANCEL can match (any method but CANCEL and ACK), by base key.
    std::unordered_map<std::string, std::uint64_t> cancel_index;
    std::deque<Transmit> transmits;
    std::deque<TransactionEvent> events;
    TransactionCounters counters;
    std::uint64_t next_id = 1;
    Time now{};
    // set_sent_by(): the sent-by of each transport's Via; "" = opt.sent_by.
    std::array<std::string, 5> sent_by_of;

    explicit Impl(TransactionOptions o) : opt(std::move(o)) {
        // Precondition (transaction.hpp): a branch or tag of 0s from a missing source would make
        // every transaction collide, so misuse stops here in every build type.
        assert(opt.random && "TransactionOptions::random must be set");
        if (!opt.random) std::abort();
    }

    Time advance(Time t) {
        if (t > now) now = t;
        return now;
    }
    [[nodiscard]] std::size_t open() const noexcept { return clients.size() + servers.size(); }
    [[nodiscard]] bool full() const noexcept { return open() >= opt.limits.max_transactions; }
    Duration timer_64t1() const { return 64 * opt.t1; }

    std::uint64_t random() { return opt.random(); }
    [[nodiscard]] std::string_view sent_by(Transport t) const {
        const std::string& s = sent_by_of[static_cast<std::size_t>(t)];
        return s.empty() ? std::string_view(opt.sent_by) : std::string_view(s);
    }
    std::string new_tag() { return hex64(random()); }

    // --- timers
    void arm(Timers& t, std::uint64_t id, TimerName name, Time when) {
        auto& slot = t[static_cast<std::size_t>(slot_of(name))];
        if (slot) timers.cancel(*slot);
        slot = timers.arm(when, id, name);
    }
    void disarm(Timers& t, Slot s) {
        auto& slot = t[static_cast<std::size_t>(s)];
        if (slot) timers.cancel(*slot);
        slot.reset();
    }
    void disarm_all(Timers& t) {
        for (auto& slot : t) {
            if (slot) timers.cancel(*slot);
            slot.reset();
        }
    }

    void send(TransactionId id, const Destination& d, const SharedBuffer& bytes) {
        transmits.push_back(Transmit{id, d, bytes});
    }
    void emit(EventKind kind, TransactionId id, std::optional<Message> m = std::nullopt, Source src = {},
              bool repeated = false) {
        TransactionEvent& e = events.emplace_back();
        e.kind = kind;
        e.id = id;
        e.message = std::move(m);
        e.source = std::move(src);
        e.repeated = repeated;
    }

    // --- termination (the reference is invalid afterwards)
    void end_client(ClientTx& tx) {
        const TransactionId id = tx.id;
        const TransactionId held_cancel = tx.cancel;
        disarm_all(tx.timers);
        if (auto it = client_index.find(tx.key); it != client_index.end() && it->second == id.value)
            client_index.erase(it);
        clients.erase(id.value);
        emit(EventKind::terminated, id);
        // A CANCEL still held for this INVITE is never sent (§9.1).
        if (held_cancel) {
            auto it = clients.find(held_cancel.value);
            if (it != clients.end() && it->second.held) end_client(it->second);
        }
    }
    void end_server(ServerTx& tx) {
        const TransactionId id = tx.id;
        const bool announced = tx.announced;
        disarm_all(tx.timers);
        // Only this transaction's own entries: a collision must never remove another's.
        if (auto it = server_index.find(tx.key); it != server_index.end() && it->second == id.value)
            server_index.erase(it);
        if (auto it = cancel_index.find(tx.base); tx.cancelable && it != cancel_index.end() && it->second == id.value)
            cancel_index.erase(it);
        servers.erase(id.value);
        if (announced) emit(EventKind::terminated, id);
    }

    // ============================ client transactions (§17.1)

    std::expected<TransactionId, TransactionError> start_client(std::string_view request, const Destination& given,
                                                                bool held, std::string branch) {
        if (full()) return std::unexpected(TransactionError::too_many_transactions);
        Destination to = given;
        std::string via = txn::make_via(to.transport, sent_by(to.transport), branch);
        auto bytes = with_via(request, via);
        if (!bytes) return std::unexpected(bytes.error());
        if (to.transport == Transport::udp && opt.udp_max_request_size != 0 &&
            bytes->size() > opt.udp_max_request_size) {
            to.transport = Transport::tcp;  // §18.1.1: too large for UDP, use a congestion-controlled transport
            via = txn::make_via(to.transport, sent_by(to.transport), branch);
            bytes = with_via(request, via);
            if (!bytes) return std::unexpected(bytes.error());
        }
        auto msg = Message::parse(SharedBuffer::copy_of(*bytes), opt.limits, Framing::stream);
        if (!msg || !msg->is_request() || msg->method() == Method::ack || msg->method() == Method::cancel ||
            msg->size() != bytes->size())
            return std::unexpected(TransactionError::invalid_request);
        std::string key = client_key(branch, msg->method_text());
        if (client_index.contains(key)) return std::unexpected(TransactionError::branch_collision);
        const TransactionId id{next_id++};
        ClientTx& tx = clients[id.value];
        tx.id = id;
        tx.invite = msg->method() == Method::invite;
        tx.reliable = is_reliable(to.transport);
        tx.held = held;
        tx.destination = to;
        tx.request = std::move(*msg);
        tx.via = std::move(via);
        tx.key = std::move(key);
        client_index.emplace(tx.key, id.value);
        if (!held) launch(tx);
        return id;
    }

    // The TU's request with `via` on top and a Content-Length: when it has none, the body is the
    // rest of the bytes and the header is added (§18.3: mandatory on streams). invalid_request when
    // it does not parse as a request, or bytes follow the body its Content-Length announces.
    std::expected<std::string, TransactionError> with_via(std::string_view request, std::string_view via) const {
        auto bytes = txn::insert_via(request, via);
        if (!bytes) return std::unexpected(TransactionError::invalid_request);
        auto msg = Message::parse(std::string_view(*bytes), opt.limits, Framing::datagram);
        if (!msg || !msg->is_request()) return std::unexpected(TransactionError::invalid_request);
        if (msg->content_length()) {
            if (msg->size() != bytes->size()) return std::unexpected(TransactionError::invalid_request);
            return std::move(*bytes);
        }
        std::string line = "Via: " + std::string(via) + "\r\n";
        const std::size_t at = bytes->find(line) + line.size();  // insert_via put it after the start line
        bytes->insert(at, "Content-Length: " + std::to_string(msg->body().size()) + "\r\n");
        return std::move(*bytes);
    }

    // Sends the request and arms the initial timers (§17.1.1.2, §17.1.2.2). A CANCEL being sent
    // arms its INVITE's 64*T1 (§9.1).
    void launch(ClientTx& tx) {
        tx.held = false;
        send(tx.id, tx.destination, tx.request->buffer());
        if (tx.cancels) {
            auto inv = clients.find(tx.cancels.value);
            if (inv != clients.end() && inv->second.ic == InviteClientState::proceeding)
                arm(inv->second.timers, inv->second.id.value, TimerName::cancel_guard, now + timer_64t1());
        }
        tx.interval = opt.t1;
        if (tx.invite) {
            if (!tx.reliable) arm(tx.timers, tx.id.value, TimerName::a, now + opt.t1);
            arm(tx.timers, tx.id.value, TimerName::b, now + timer_64t1());
        } else {
            if (!tx.reliable) arm(tx.timers, tx.id.value, TimerName::e, now + opt.t1);
            arm(tx.timers, tx.id.value, TimerName::f, now + timer_64t1());
        }
    }

    std::string new_branch() {
        std::string b(magic_cookie);
        b.append(hex64(random()));
        return b;
    }

    std::expected<TransactionId, TransactionError> send_request(std::string_view request, const Destination& to) {
        auto first = request.substr(0, request.find(' '));
        if (first == "CANCEL") return std::unexpected(TransactionError::invalid_request);  // use cancel()
        return start_client(request, to, false, new_branch());
    }

    std::expected<TransactionId, TransactionError> cancel(TransactionId invite) {
        auto it = clients.find(invite.value);
        if (it == clients.end() || !it->second.invite) return std::unexpected(TransactionError::no_such_transaction);
        ClientTx& inv = it->second;
        if (inv.cancel) return std::unexpected(TransactionError::wrong_state);
        bool held = false;
        switch (inv.ic) {
        case InviteClientState::calling: held = true; break;  // §9.1: wait for a provisional response
        case InviteClientState::proceeding: break;
        case InviteClientState::completed:
        case InviteClientState::accepted:
        case InviteClientState::terminated: return std::unexpected(TransactionError::wrong_state);
        }
        const std::string cancel_bytes = txn::build_cancel(*inv.request, inv.via);
        const std::string branch(inv.request->top_via().branch);
        const Destination dest = inv.destination;
        // The CANCEL carries the INVITE's Via (same branch, §9.1): insert nothing, parse as is.
        if (full()) return std::unexpected(TransactionError::too_many_transactions);
        auto msg = Message::parse(SharedBuffer::copy_of(cancel_bytes), opt.limits);
        if (!msg) return std::unexpected(TransactionError::invalid_request);
        std::string key = client_key(branch, "CANCEL");
        if (client_index.contains(key)) return std::unexpected(TransactionError::wrong_state);
        const TransactionId id{next_id++};
        ClientTx& tx = clients[id.value];
        tx.id = id;
        tx.reliable = is_reliable(dest.transport);
        tx.held = held;
        tx.destination = dest;
        tx.request = std::move(*msg);
        tx.via = clients[invite.value].via;
        tx.key = std::move(key);
        tx.cancels = invite;
        client_index.emplace(tx.key, id.value);
        clients[invite.value].cancel = id;
        if (!held) launch(tx);
        return id;
    }

    void release_cancel(ClientTx& invite) {
        if (!invite.cancel) return;
        auto it = clients.find(invite.cancel.value);
        if (it != clients.end() && it->second.held) launch(it->second);
    }
    void drop_held_cancel(ClientTx& invite) {
        if (!invite.cancel) return;
        auto it = clients.find(invite.cancel.value);
        if (it != clients.end() && it->second.held) end_client(it->second);
    }

    void client_response(Message r, const Source& from) {
        auto it = client_index.find(client_key(r.top_via().branch, r.cseq().method_text));  // §17.1.3
        if (it == client_index.end()) {
            ++counters.stray_responses;  // §18.1.2: matches no transaction, discarded
            return;
        }
        ClientTx& tx = clients.at(it->second);
        if (tx.held) {
            ++counters.stray_responses;  // a response to a CANCEL never sent
            return;
        }
        if (tx.invite) invite_client_response(tx, std::move(r), from);
        else non_invite_client_response(tx, std::move(r), from);
    }

    void invite_client_response(ClientTx& tx, Message r, const Source& from) {
        const int s = r.status();
        switch (tx.ic) {
        case InviteClientState::calling:
        case InviteClientState::proceeding:
            if (s < 200) {
                tx.ic = InviteClientState::proceeding;  // §17.1.1.2: no more retransmissions, no Timer B
                disarm(tx.timers, Slot::retransmit);
                disarm(tx.timers, Slot::timeout);
                emit(EventKind::response, tx.id, std::move(r), from);
                release_cancel(tx);
            } else if (s < 300) {
                tx.ic = InviteClientState::accepted;  // RFC 6026 §8.4: Accepted, Timer M
                disarm(tx.timers, Slot::retransmit);
                disarm(tx.timers, Slot::timeout);
                arm(tx.timers, tx.id.value, TimerName::m, now + timer_64t1());
                drop_held_cancel(tx);
                emit(EventKind::response, tx.id, std::move(r), from);
            } else {
                tx.ic = InviteClientState::completed;  // §17.1.1.2: ACK, Timer D
                disarm(tx.timers, Slot::retransmit);
                disarm(tx.timers, Slot::timeout);
                tx.ack = SharedBuffer::copy_of(txn::build_ack(*tx.request, tx.via, r));
                send(tx.id, tx.destination, tx.ack);
                drop_held_cancel(tx);
                emit(EventKind::response, tx.id, std::move(r), from);
                if (tx.reliable) end_client(tx);  // Timer D = 0 on reliable transports
                else arm(tx.timers, tx.id.value, TimerName::d, now + opt.timer_d);
            }
            return;
        case InviteClientState::completed:
            ++counters.retransmissions_absorbed;
            if (s >= 300) {  // §17.1.1.2: a retransmitted final response is ACKed again
                ++counters.retransmissions_sent;
                send(tx.id, tx.destination, tx.ack);
            }
            return;
        case InviteClientState::accepted:
            if (s >= 200 && s < 300) emit(EventKind::response, tx.id, std::move(r), from, true);  // RFC 6026 §8.4
            else ++counters.retransmissions_absorbed;
            return;
        case InviteClientState::terminated: return;
        }
    }

    void non_invite_client_response(ClientTx& tx, Message r, const Source& from) {
        const int s = r.status();
        switch (tx.nic) {
        case NonInviteClientState::trying:
        case NonInviteClientState::proceeding:
            if (s < 200) {
                tx.nic = NonInviteClientState::proceeding;  // §17.1.2.2: Timer E continues, next at T2
                emit(EventKind::response, tx.id, std::move(r), from);
            } else {
                tx.nic = NonInviteClientState::completed;
                disarm(tx.timers, Slot::retransmit);
                disarm(tx.timers, Slot::timeout);
                emit(EventKind::response, tx.id, std::move(r), from);
                if (tx.reliable) end_client(tx);  // Timer K = 0 on reliable transports
                else arm(tx.timers, tx.id.value, TimerName::k, now + opt.t4);
            }
            return;
        case NonInviteClientState::completed: ++counters.retransmissions_absorbed; return;
        case NonInviteClientState::terminated: return;
        }
    }

    // Timer B/F or a transport error while the transaction waits for its final response.
    void client_failure(ClientTx& tx, EventKind kind, int status) {
        drop_held_cancel(tx);
        emit(kind, tx.id, txn::synthesise_response(*tx.request, status));
        end_client(tx);
    }

    void client_timer(ClientTx& tx, TimerName name, Time deadline) {
        switch (name) {
        case TimerName::a:  // §17.1.1.2: retransmit, double the interval
            ++counters.retransmissions_sent;
            send(tx.id, tx.destination, tx.request->buffer());
            tx.interval *= 2;
            arm(tx.timers, tx.id.value, TimerName::a, std::max(deadline, now) + tx.interval);  // late: no burst
            return;
        case TimerName::e: {  // §17.1.2.2: doubling up to T2 in Trying, T2 in Proceeding
            ++counters.retransmissions_sent;
            send(tx.id, tx.destination, tx.request->buffer());
            const bool proceeding = tx.nic == NonInviteClientState::proceeding;
            tx.interval = proceeding ? opt.t2 : std::min(2 * tx.interval, opt.t2);
            arm(tx.timers, tx.id.value, TimerName::e, std::max(deadline, now) + tx.interval);  // late: no burst
            return;
        }
        case TimerName::b:
        case TimerName::f: client_failure(tx, EventKind::timeout, 408); return;  // §17.1.1.2, §17.1.2.2
        case TimerName::cancel_guard:  // §9.1: no final response 64*T1 after the CANCEL: consider it cancelled
            client_failure(tx, EventKind::timeout, 487);
            return;
        case TimerName::d:
        case TimerName::k:
        case TimerName::m: end_client(tx); return;
        case TimerName::g:
        case TimerName::h:
        case TimerName::i:
        case TimerName::j:
        case TimerName::l:
        case TimerName::trying: return;  // server timers
        }
    }

    // ============================ server transactions (§17.2)

    void stateless_answer(const Message& req, const Source& from, int status, std::string_view extra) {
        // §8.2.7: the same request gets the same tag, so it is derived from the request.
        const std::string tag = txn::stateless_tag(req.call_id(), req.from().tag, req.top_via().branch);
        ResponseSpec spec;
        spec.status = status;
        spec.to_tag = tag;
        auto bytes = txn::build_response(txn::response_head(req, from), spec, extra);
        if (!bytes) return;
        send(TransactionId{}, txn::response_destination(req.top_via(), from), SharedBuffer::copy_of(*bytes));
    }

    ServerTx* find_server(const std::string& key) {
        auto it = server_index.find(key);
        return it == server_index.end() ? nullptr : &servers.at(it->second);
    }

    // §17.2.3: the ACK matches its INVITE server transaction. RFC 2543 keys hold the To tag: try the
    // ACK's (an INVITE that carried it), then none, with the ACK's tag checked against the tag of
    // the response sent.
    ServerTx* find_acked(const Message& ack) {
        ServerTx* tx = find_server(server_key(server_base(ack, ack.to().tag), "INVITE"));
        if (tx == nullptr && !ack.top_via().branch.starts_with(magic_cookie)) {
            tx = find_server(server_key(server_base(ack, {}), "INVITE"));
            if (tx != nullptr && ack.to().tag != tx->response_to_tag) tx = nullptr;
        }
        return tx != nullptr && tx->invite ? tx : nullptr;
    }

    // The To tag the responses of `tx` carry from now on, made up when it has none yet (§8.2.6.2).
    const std::string& ensure_tag(ServerTx& tx) {
        if (tx.response_to_tag.empty()) tx.response_to_tag = new_tag();
        return tx.response_to_tag;
    }

    void server_request(Message m, const Source& from) {
        if (m.method() == Method::ack) {
            if (ServerTx* tx = find_acked(m)) {
                server_ack(*tx, std::move(m), from);
                return;
            }
            ++counters.stray_acks;  // the ACK for a 2xx: the TU's (§17.1.1.3, RFC 6026 §8.7)
            emit(EventKind::ack, TransactionId{}, std::move(m), from);
            return;
        }
        std::string base = server_base(m, m.to().tag);
        std::string key = server_key(base, m.method_text());
        if (ServerTx* tx = find_server(key)) {
            server_retransmission(*tx);
            return;
        }
        ServerTx* original = nullptr;
        if (m.method() == Method::cancel) {
            // §9.2: the CANCEL matches the transaction a retransmission of its request would, for any
            // method but CANCEL and ACK (the CANCEL's own key differs only by the method).
            if (auto it = cancel_index.find(base); it != cancel_index.end()) original = &servers.at(it->second);
            if (original == nullptr) {
                ++counters.stray_cancels;
                stateless_answer(m, from, 481, {});
                return;
            }
        }
        if (full()) {  // Limits::max_transactions: §21.5.4 503 with Retry-After
            ++counters.rejected_overload;
            std::string extra = "Retry-After: " + std::to_string(opt.retry_after_seconds) + "\r\n";
            stateless_answer(m, from, 503, extra);
            return;
        }
        const TransactionId id{next_id++};
        if (!server_index.try_emplace(key, id.value).second) {  // cannot happen after find_server; never overwrite
            ++counters.retransmissions_absorbed;
            return;
        }
        ServerTx& tx = servers[id.value];
        tx.id = id;
        tx.invite = m.method() == Method::invite;
        tx.reliable = is_reliable(from.transport);
        tx.reply_to = txn::response_destination(m.top_via(), from);
        tx.key = std::move(key);
        tx.head = txn::response_head(m, from);
        tx.request_to_tag = std::string(m.to().tag);
        tx.response_to_tag = tx.request_to_tag;
        if (m.method() != Method::cancel) {
            // A peer reusing a branch for two methods: the first keeps the CANCEL entry.
            tx.cancelable = cancel_index.try_emplace(base, id.value).second;
        }
        tx.base = std::move(base);
        if (original != nullptr) {
            const TransactionId original_id = original->id;
            const bool pending_invite = original->invite && original->is == InviteServerState::proceeding;
            tx.announced = false;
            ResponseSpec ok;  // §9.2: 200 to the CANCEL, whatever became of the original request
            const std::string tag = ensure_tag(*original);  // §9.2: the same To tag as the original's responses
            ok.to_tag = tag;
            (void)respond_to(tx, ok);
            if (pending_invite) {
                emit(EventKind::cancel, original_id, std::move(m), from);
                events.back().to_tag = tag;
            }
            return;
        }
        if (tx.invite) arm(tx.timers, id.value, TimerName::trying, now + opt.trying_delay);  // §17.2.1
        emit(EventKind::request, id, std::move(m), from);
    }

    void resend_last(ServerTx& tx) {
        ++counters.retransmissions_absorbed;
        if (tx.last_response.empty()) return;
        ++counters.retransmissions_sent;
        ++counters.retransmissions_answered;
        send(tx.id, tx.reply_to, tx.last_response);
    }

    void server_retransmission(ServerTx& tx) {
        if (tx.invite) {
            switch (tx.is) {
            case InviteServerState::proceeding:  // §17.2.1: the most recent provisional response
            case InviteServerState::completed: resend_last(tx); return;  // §17.2.1: the final response
            case InviteServerState::confirmed:
            case InviteServerState::accepted:  // RFC 6026 §8.7: absorbed, not passed to the TU
            case InviteServerState::terminated: ++counters.retransmissions_absorbed; return;
            }
            return;
        }
        switch (tx.nis) {
        case NonInviteServerState::trying: ++counters.retransmissions_absorbed; return;  // §17.2.2: discarded
        case NonInviteServerState::proceeding:
        case NonInviteServerState::completed: resend_last(tx); return;
        case NonInviteServerState::terminated: ++counters.retransmissions_absorbed; return;
        }
    }

    void server_ack(ServerTx& tx, Message ack, const Source& from) {
        switch (tx.is) {
        case InviteServerState::proceeding: ++counters.retransmissions_absorbed; return;  // nothing to ACK yet
        case InviteServerState::completed:
            tx.is = InviteServerState::confirmed;  // §17.2.1: stop G and H, Timer I
            disarm(tx.timers, Slot::retransmit);
            disarm(tx.timers, Slot::timeout);
            if (tx.reliable) end_server(tx);  // Timer I = 0 on reliable transports
            else arm(tx.timers, tx.id.value, TimerName::i, now + opt.t4);
            return;
        case InviteServerState::confirmed: ++counters.retransmissions_absorbed; return;
        case InviteServerState::accepted:
            emit(EventKind::ack, tx.id, std::move(ack), from);  // RFC 6026 §8.7: to the TU
            return;
        case InviteServerState::terminated: return;
        }
    }

    std::expected<void, TransactionError> respond(TransactionId id, const ResponseSpec& spec) {
        auto it = servers.find(id.value);
        if (it == servers.end() || !it->second.announced) return std::unexpected(TransactionError::no_such_transaction);
        return respond_to(it->second, spec);
    }

    std::expected<void, TransactionError> respond_to(ServerTx& tx, const ResponseSpec& spec) {
        const int s = spec.status;
        if (s < 100 || s > 699) return std::unexpected(TransactionError::invalid_response);
        // State check first: a response the machine cannot take is refused before it is built.
        if (tx.invite) {
            switch (tx.is) {
            case InviteServerState::proceeding: break;
            case InviteServerState::accepted:
                if (s >= 200 && s < 300) break;  // RFC 6026 §8.5: the TU's 2xx retransmissions
                return std::unexpected(TransactionError::wrong_state);
            case InviteServerState::completed:
            case InviteServerState::confirmed:
            case InviteServerState::terminated: return std::unexpected(TransactionError::wrong_state);
            }
        } else {
            switch (tx.nis) {
            case NonInviteServerState::trying:
            case NonInviteServerState::proceeding: break;
            case NonInviteServerState::completed:
            case NonInviteServerState::terminated: return std::unexpected(TransactionError::wrong_state);
            }
        }
        ResponseSpec tagged = spec;
        if (s > 100 && !tx.head.to_has_tag && tagged.to_tag.empty()) {
            // §8.2.6.2: a tag on every response but 100; the TU's, else the transaction's, else a new one.
            if (tx.response_to_tag.empty()) tx.response_to_tag = new_tag();
            tagged.to_tag = tx.response_to_tag;
        }
        auto bytes = txn::build_response(tx.head, tagged);
        if (!bytes) return std::unexpected(TransactionError::invalid_response);
        if (s > 100 && !tx.head.to_has_tag) tx.response_to_tag = std::string(tagged.to_tag);
        SharedBuffer buf = SharedBuffer::copy_of(*bytes);
        send(tx.id, tx.reply_to, buf);
        tx.last_response = std::move(buf);
        tx.last_status = s;
        if (tx.invite) invite_server_sent(tx, s);
        else non_invite_server_sent(tx, s);
        return {};
    }

    void invite_server_sent(ServerTx& tx, int s) {
        disarm(tx.timers, Slot::trying);  // the TU answered: no automatic 100 Trying
        switch (tx.is) {
        case InviteServerState::proceeding:
            if (s < 200) return;
            if (s < 300) {
                tx.is = InviteServerState::accepted;  // RFC 6026 §8.5: Accepted, Timer L
                tx.last_response = {};                // 2xx retransmissions are the TU's
                arm(tx.timers, tx.id.value, TimerName::l, now + timer_64t1());
                return;
            }
            tx.is = InviteServerState::completed;  // §17.2.1: Timers G (unreliable) and H
            tx.interval = opt.t1;
            if (!tx.reliable) arm(tx.timers, tx.id.value, TimerName::g, now + opt.t1);
            arm(tx.timers, tx.id.value, TimerName::h, now + timer_64t1());
            return;
        case InviteServerState::accepted: tx.last_response = {}; return;
        case InviteServerState::completed:
        case InviteServerState::confirmed:
        case InviteServerState::terminated: return;
        }
    }

    void non_invite_server_sent(ServerTx& tx, int s) {
        switch (tx.nis) {
        case NonInviteServerState::trying:
        case NonInviteServerState::proceeding:
            if (s < 200) {
                tx.nis = NonInviteServerState::proceeding;
                return;
            }
            tx.nis = NonInviteServerState::completed;  // §17.2.2: Timer J
            if (tx.reliable) end_server(tx);           // Timer J = 0 on reliable transports
            else arm(tx.timers, tx.id.value, TimerName::j, now + timer_64t1());
            return;
        case NonInviteServerState::completed:
        case NonInviteServerState::terminated: return;
        }
    }

    void server_timer(ServerTx& tx, TimerName name, Time deadline) {
        switch (name) {
        case TimerName::trying:
            if (tx.is == InviteServerState::proceeding && tx.last_status == 0) {  // §17.2.1: 100 within 200 ms
                ResponseSpec trying;
                trying.status = 100;
                auto bytes = txn::build_response(tx.head, trying);
                if (!bytes) return;
                tx.last_response = SharedBuffer::copy_of(*bytes);
                tx.last_status = 100;
                send(tx.id, tx.reply_to, tx.last_response);
            }
            return;
        case TimerName::g:  // §17.2.1: retransmit, doubling up to T2
            ++counters.retransmissions_sent;
            send(tx.id, tx.reply_to, tx.last_response);
            tx.interval = std::min(2 * tx.interval, opt.t2);
            arm(tx.timers, tx.id.value, TimerName::g, std::max(deadline, now) + tx.interval);  // late: no burst
            return;
        case TimerName::h:  // §17.2.1: the ACK never came
            emit(EventKind::timeout, tx.id);
            end_server(tx);
            return;
        case TimerName::i:
        case TimerName::j:
        case TimerName::l: end_server(tx); return;
        case TimerName::a:
        case TimerName::b:
        case TimerName::d:
        case TimerName::e:
        case TimerName::f:
        case TimerName::k:
        case TimerName::m:
        case TimerName::cancel_guard: return;  // client timers
        }
    }

    // ============================ inputs

    void receive_message(Message m, const Source& from) {
        if (m.is_response()) client_response(std::move(m), from);
        else server_request(std::move(m), from);
    }

    void receive_bytes(SharedBuffer b, const Source& from) {
        const Framing framing = is_reliable(from.transport) ? Framing::stream : Framing::datagram;
        auto m = Message::parse(b, opt.limits, framing);
        if (m) {
            receive_message(std::move(*m), from);
            return;
        }
        std::string_view bytes = b.view();
        while (bytes.starts_with("\r\n")) bytes.remove_prefix(2);
        if (txn::starts_with_sip_version(bytes)) {
            ++counters.malformed_responses;
            return;
        }
        auto answer = txn::answer_malformed(bytes, m.error(), from);
        if (!answer) {
            ++counters.malformed_requests_dropped;
            return;
        }
        ++counters.malformed_requests_answered;
        send(TransactionId{}, answer->destination, SharedBuffer::copy_of(answer->bytes));
    }

    void transport_error(TransactionId id) {
        if (auto it = clients.find(id.value); it != clients.end()) {
            ClientTx& tx = it->second;
            if (tx.invite) {
                switch (tx.ic) {
                case InviteClientState::calling:
                    client_failure(tx, EventKind::transport_error, 503);  // §8.1.3.1, §17.1.1.2
                    return;
                case InviteClientState::proceeding:  // Figure 5: no transport-error transition here
                case InviteClientState::accepted:    // RFC 6026 Figure 5: nothing is sent in Accepted
                case InviteClientState::terminated: return;
                case InviteClientState::completed:  // Figure 5: the ACK could not be sent; the TU is told
                    emit(EventKind::transport_error, tx.id);
                    end_client(tx);
                    return;
                }
                return;
            }
            switch (tx.nic) {
            case NonInviteClientState::trying:
            case NonInviteClientState::proceeding:
                client_failure(tx, EventKind::transport_error, 503);  // §8.1.3.1, §17.1.2.2
                return;
            case NonInviteClientState::completed:  // Figure 6: nothing is sent in Completed
            case NonInviteClientState::terminated: return;
            }
            return;
        }
        if (auto it = servers.find(id.value); it != servers.end()) {
            ServerTx& tx = it->second;
            if (tx.announced) emit(EventKind::transport_error, tx.id);  // §17.2.4
            end_server(tx);
        }
    }

    std::expected<void, TransactionError> abandon(TransactionId id) {
        auto it = clients.find(id.value);
        if (it == clients.end()) return std::unexpected(TransactionError::no_such_transaction);
        end_client(it->second);  // also ends a CANCEL it still held
        return {};
    }

    void on_timer() {
        while (auto e = timers.pop_due(now)) {
            if (auto c = clients.find(e->transaction); c != clients.end()) {
                c->second.timers[static_cast<std::size_t>(slot_of(e->name))].reset();
                client_timer(c->second, e->name, e->when);
            } else if (auto s = servers.find(e->transaction); s != servers.end()) {
                s->second.timers[static_cast<std::size_t>(slot_of(e->name))].reset();
                server_timer(s->second, e->name, e->when);
            }
        }
    }
};

// ============================ public surface

TransactionLayer::TransactionLayer(TransactionOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
TransactionLayer::~TransactionLayer() = default;
TransactionLayer::TransactionLayer(TransactionLayer&&) noexcept = default;
TransactionLayer& TransactionLayer::operator=(TransactionLayer&&) noexcept = default;

void TransactionLayer::receive(std::string_view bytes, const Source& from, Time now) {
    receive(SharedBuffer::copy_of(bytes), from, now);
}
void TransactionLayer::receive(SharedBuffer bytes, const Source& from, Time now) {
    impl_->advance(now);
    impl_->receive_bytes(std::move(bytes), from);
}
void TransactionLayer::receive(Message message, const Source& from, Time now) {
    impl_->advance(now);
    impl_->receive_message(std::move(message), from);
}

std::expected<TransactionId, TransactionError> TransactionLayer::send_request(std::string_view request,
                                                                              const Destination& to, Time now) {
    impl_->advance(now);
    return impl_->send_request(request, to);
}

std::expected<TransactionId, TransactionError> TransactionLayer::cancel(TransactionId invite, Time now) {
    impl_->advance(now);
    return impl_->cancel(invite);
}

std::expected<void, TransactionError> TransactionLayer::send_stateless(std::string_view request, const Destination& to,
                                                                       Time now) {
    impl_->advance(now);
    auto bytes = impl_->with_via(request, txn::make_via(to.transport, impl_->sent_by(to.transport), impl_->new_branch()));
    if (!bytes) return std::unexpected(bytes.error());
    auto msg = Message::parse(SharedBuffer::copy_of(*bytes), impl_->opt.limits, Framing::stream);
    if (!msg || !msg->is_request() || msg->size() != bytes->size())
        return std::unexpected(TransactionError::invalid_request);
    impl_->send(TransactionId{}, to, msg->buffer());
    return {};
}

std::expected<void, TransactionError> TransactionLayer::respond(TransactionId id, const ResponseSpec& response,
                                                                Time now) {
    impl_->advance(now);
    return impl_->respond(id, response);
}

void TransactionLayer::transport_error(TransactionId id, Time now) {
    impl_->advance(now);
    impl_->transport_error(id);
}

std::expected<void, TransactionError> TransactionLayer::abandon(TransactionId id, Time now) {
    impl_->advance(now);
    return impl_->abandon(id);
}

void TransactionLayer::set_sent_by(Transport transport, std::string sent_by) {
    impl_->sent_by_of[static_cast<std::size_t>(transport)] = std::move(sent_by);
}

void TransactionLayer::on_timer(Time now) {
    impl_->advance(now);
    impl_->on_timer();
}

std::optional<Transmit> TransactionLayer::poll_transmit() {
    if (impl_->transmits.empty()) return std::nullopt;
    Transmit t = std::move(impl_->transmits.front());
    impl_->transmits.pop_front();
    return t;
}

std::optional<TransactionEvent> TransactionLayer::poll_event() {
    if (impl_->events.empty()) return std::nullopt;
    TransactionEvent e = std::move(impl_->events.front());
    impl_->events.pop_front();
    return e;
}

std::optional<Time> TransactionLayer::next_deadline() const { return impl_->timers.next(); }
std::size_t TransactionLayer::transaction_count() const noexcept { return impl_->open(); }
std::size_t TransactionLayer::timer_count() const noexcept { return impl_->timers.size(); }
const TransactionCounters& TransactionLayer::counters() const noexcept { return impl_->counters; }

std::optional<InviteClientState> TransactionLayer::invite_client_state(TransactionId id) const {
    auto it = impl_->clients.find(id.value);
    if (it == impl_->clients.end() || !it->second.invite) return std::nullopt;
    return it->second.ic;
}
std::optional<NonInviteClientState> TransactionLayer::non_invite_client_state(TransactionId id) const {
    auto it = impl_->clients.find(id.value);
    if (it == impl_->clients.end() || it->second.invite) return std::nullopt;
    return it->second.nic;
}
std::optional<InviteServerState> TransactionLayer::invite_server_state(TransactionId id) const {
    auto it = impl_->servers.find(id.value);
    if (it == impl_->servers.end() || !it->second.invite) return std::nullopt;
    return it->second.is;
}
std::optional<NonInviteServerState> TransactionLayer::non_invite_server_state(TransactionId id) const {
    auto it = impl_->servers.find(id.value);
    if (it == impl_->servers.end() || it->second.invite) return std::nullopt;
    return it->second.nis;
}

}  // namespace referkit
