// The four RFC 3261 §17 machines with the RFC 6026 corrections and their single timer queue: the
// inputs, termination and the public surface. Client transactions are in client_transactions.cpp,
// server transactions in server_transactions.cpp; see include/referkit/core/transaction_layer.hpp
// for the contract.
#include <algorithm>
#include <utility>

#include "transaction_impl.hpp"

namespace referkit::txn {

Slot slot_of(TimerName n) noexcept {
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

std::string hex64(std::uint64_t v) {
    char buf[17];
    for (int i = 15; i >= 0; --i) {
        buf[i] = "0123456789abcdef"[v & 0xf];
        v >>= 4;
    }
    return std::string(buf, 16);
}

void client_key(std::string& k, std::string_view branch, std::string_view method) {
    k.assign(branch);
    k.push_back('|');
    k.append(method);
}

}  // namespace referkit::txn

namespace referkit {

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

// --- termination (the reference is invalid afterwards)
void TransactionLayer::Impl::end_client(ClientTx& tx) {
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

void TransactionLayer::Impl::end_server(ServerTx& tx) {
    const TransactionId id = tx.id;
    const bool announced = tx.announced;
    disarm_all(tx.timers);
    // Only this transaction's own entries: a collision must never remove another's.
    if (auto it = server_index.find(tx.key); it != server_index.end() && it->second == id.value)
        server_index.erase(it);
    if (auto it = cancel_index.find(tx.base()); tx.cancelable && it != cancel_index.end() && it->second == id.value)
        cancel_index.erase(it);
    if (tx.source != nullptr && --tx.source->second == 0) per_source.erase(per_source.find(tx.source->first));
    servers.erase(id.value);
    if (announced) emit(EventKind::terminated, id);
}

void TransactionLayer::Impl::receive_message(Message&& m, const Source& from) {
    if (m.is_response()) client_response(std::move(m), from);
    else server_request(std::move(m), from);
}

void TransactionLayer::Impl::receive_bytes(SharedBuffer b, const Source& from) {
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
    send(TransactionId{}, answer->destination, SharedBuffer::adopt(std::move(answer->bytes)));
}

void TransactionLayer::Impl::transport_error(TransactionId id) {
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

std::expected<void, TransactionError> TransactionLayer::Impl::abandon(TransactionId id) {
    auto it = clients.find(id.value);
    if (it == clients.end()) return std::unexpected(TransactionError::no_such_transaction);
    end_client(it->second);  // also ends a CANCEL it still held
    return {};
}

void TransactionLayer::Impl::on_timer() {
    while (auto e = timers.pop_due(now)) {
        if (auto c = clients.find(e->payload.transaction); c != clients.end()) {
            c->second.timers[static_cast<std::size_t>(txn::slot_of(e->payload.name))].reset();
            client_timer(c->second, e->payload.name, e->when);
        } else if (auto s = servers.find(e->payload.transaction); s != servers.end()) {
            s->second.timers[static_cast<std::size_t>(txn::slot_of(e->payload.name))].reset();
            server_timer(s->second, e->payload.name, e->when);
        }
    }
}

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

std::expected<TransactionId, TransactionError> TransactionLayer::send_request(const OutgoingRequest& request,
                                                                              const Destination& to, Time now) {
    impl_->advance(now);
    return impl_->send_request(request, to);
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

std::expected<void, TransactionError> TransactionLayer::send_stateless(const OutgoingRequest& request,
                                                                       const Destination& to, Time now) {
    impl_->advance(now);
    return impl_->send_stateless(request, to);
}

std::expected<void, TransactionError> TransactionLayer::send_stateless(std::string_view request, const Destination& to,
                                                                       Time now) {
    impl_->advance(now);
    return impl_->send_stateless(request, to);
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
    Transmit t = impl_->transmits.take();
    return t;
}

std::optional<TransactionEvent> TransactionLayer::poll_event() {
    if (impl_->events.empty()) return std::nullopt;
    TransactionEvent e = impl_->events.take();
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
