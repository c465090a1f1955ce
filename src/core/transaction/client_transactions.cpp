// Client transactions (RFC 3261 §17.1, RFC 6026 §8.4): starting them from a request the TU gives
// as fields (written once, never parsed) or as bytes (parsed once), CANCEL (§9.1), responses and
// timers. See transaction_impl.hpp.
#include <algorithm>

#include "transaction_impl.hpp"

namespace referkit {

using txn::client_key;

std::string_view TransactionLayer::Impl::new_branch() {
    std::copy(txn::magic_cookie.begin(), txn::magic_cookie.end(), branch_scratch.begin());
    const std::string hex = txn::hex64(random());  // 16 bytes: no allocation
    std::copy(hex.begin(), hex.end(), branch_scratch.begin() + txn::magic_cookie.size());
    return {branch_scratch.data(), branch_scratch.size()};
}

std::expected<TransactionId, TransactionError> TransactionLayer::Impl::add_client(txn::RequestFields fields,
                                                                                  std::string bytes,
                                                                                  std::size_t via_size,
                                                                                  std::string_view branch,
                                                                                  Destination to, bool held) {
    client_key(key_scratch, branch, fields.method());
    if (client_index.contains(key_scratch)) return std::unexpected(TransactionError::branch_collision);
    const TransactionId id{next_id++};
    ClientTx& tx = clients[id.value];
    tx.id = id;
    tx.invite = lookup_method(fields.method()) == Method::invite;
    tx.reliable = is_reliable(to.transport);
    tx.held = held;
    tx.destination = std::move(to);
    // Both ways of writing a request put our Via first: "<start line>\r\nVia: <via>\r\n".
    tx.via_at = static_cast<std::uint32_t>(bytes.find("\r\n") + 2 + 5);
    tx.via_size = static_cast<std::uint32_t>(via_size);
    tx.bytes = SharedBuffer::adopt(std::move(bytes));
    tx.fields = std::move(fields);
    tx.key = key_scratch;
    tx.branch_size = static_cast<std::uint32_t>(branch.size());
    client_index.emplace(std::string_view(tx.key), id.value);
    if (!held) launch(tx);
    return id;
}

std::expected<TransactionId, TransactionError> TransactionLayer::Impl::send_request(const OutgoingRequest& request,
                                                                                    const Destination& given) {
    const Method method = lookup_method(request.method);
    if (method == Method::cancel || method == Method::ack) return std::unexpected(TransactionError::invalid_request);
    const std::string_view branch = new_branch();
    if (full()) return std::unexpected(TransactionError::too_many_transactions);
    Destination to = given;
    txn::make_via_into(via_scratch, to.transport, sent_by(to.transport), branch);
    std::string bytes;
    if (!write_request(request, via_scratch, bytes)) return std::unexpected(TransactionError::invalid_request);
    if (to.transport == Transport::udp && opt.udp_max_request_size != 0 && bytes.size() > opt.udp_max_request_size) {
        to.transport = Transport::tcp;  // §18.1.1: too large for UDP, use a congestion-controlled transport
        txn::make_via_into(via_scratch, to.transport, sent_by(to.transport), branch);
        bytes.clear();
        if (!write_request(request, via_scratch, bytes)) return std::unexpected(TransactionError::invalid_request);
    }
    return add_client(txn::fields_of(request), std::move(bytes), via_scratch.size(), branch, std::move(to), false);
}

std::expected<TransactionId, TransactionError> TransactionLayer::Impl::send_request(std::string_view request,
                                                                                    const Destination& given) {
    auto first = request.substr(0, request.find(' '));
    if (first == "CANCEL") return std::unexpected(TransactionError::invalid_request);  // use cancel()
    const std::string_view branch = new_branch();
    if (full()) return std::unexpected(TransactionError::too_many_transactions);
    Destination to = given;
    txn::make_via_into(via_scratch, to.transport, sent_by(to.transport), branch);
    auto raw = with_via(request, via_scratch);
    if (!raw) return std::unexpected(raw.error());
    if (to.transport == Transport::udp && opt.udp_max_request_size != 0 &&
        raw->bytes.size() > opt.udp_max_request_size) {
        to.transport = Transport::tcp;  // §18.1.1
        txn::make_via_into(via_scratch, to.transport, sent_by(to.transport), branch);
        raw = with_via(request, via_scratch);
        if (!raw) return std::unexpected(raw.error());
    }
    if (raw->method == Method::ack || raw->method == Method::cancel)
        return std::unexpected(TransactionError::invalid_request);
    return add_client(std::move(raw->fields), std::move(raw->bytes), via_scratch.size(), branch, std::move(to), false);
}

std::expected<TransactionLayer::Impl::Raw, TransactionError> TransactionLayer::Impl::with_via(
    std::string_view request, std::string_view via) const {
    auto bytes = txn::insert_via(request, via);
    if (!bytes) return std::unexpected(TransactionError::invalid_request);
    auto msg = Message::parse(std::string_view(*bytes), opt.limits, Framing::datagram);
    if (!msg || !msg->is_request()) return std::unexpected(TransactionError::invalid_request);
    Raw raw{.bytes = {}, .fields = txn::fields_of(*msg), .method = msg->method()};
    if (msg->content_length()) {
        if (msg->size() != bytes->size()) return std::unexpected(TransactionError::invalid_request);
    } else {
        // §18.3: mandatory on streams; the body is the rest of the bytes.
        const std::size_t at = bytes->find("\r\n") + 2 + 5 + via.size() + 2;  // after "Via: <via>\r\n"
        bytes->insert(at, "Content-Length: " + std::to_string(msg->body().size()) + "\r\n");
    }
    raw.bytes = std::move(*bytes);
    return raw;
}

std::expected<void, TransactionError> TransactionLayer::Impl::send_stateless(const OutgoingRequest& request,
                                                                             const Destination& to) {
    std::string bytes;
    txn::make_via_into(via_scratch, to.transport, sent_by(to.transport), new_branch());
    if (!write_request(request, via_scratch, bytes)) return std::unexpected(TransactionError::invalid_request);
    send(TransactionId{}, to, SharedBuffer::adopt(std::move(bytes)));
    return {};
}

std::expected<void, TransactionError> TransactionLayer::Impl::send_stateless(std::string_view request,
                                                                             const Destination& to) {
    txn::make_via_into(via_scratch, to.transport, sent_by(to.transport), new_branch());
    auto raw = with_via(request, via_scratch);
    if (!raw) return std::unexpected(raw.error());
    send(TransactionId{}, to, SharedBuffer::adopt(std::move(raw->bytes)));
    return {};
}

// Sends the request and arms the initial timers (§17.1.1.2, §17.1.2.2). A CANCEL being sent
// arms its INVITE's 64*T1 (§9.1).
void TransactionLayer::Impl::launch(ClientTx& tx) {
    tx.held = false;
    send(tx.id, tx.destination, tx.bytes);
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

std::expected<TransactionId, TransactionError> TransactionLayer::Impl::cancel(TransactionId invite) {
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
    if (full()) return std::unexpected(TransactionError::too_many_transactions);
    client_key(key_scratch, inv.branch(), "CANCEL");
    if (client_index.contains(key_scratch)) return std::unexpected(TransactionError::wrong_state);
    // The CANCEL carries the INVITE's Via (same branch, §9.1).
    OutgoingRequest c = txn::cancel_request(inv.fields);
    std::string bytes;
    if (!write_request(c, inv.via(), bytes)) return std::unexpected(TransactionError::invalid_request);
    const std::string branch(inv.branch());  // add_client reuses key_scratch
    auto id = add_client(txn::fields_of(c), std::move(bytes), inv.via().size(), branch, inv.destination, true);
    if (!id) return std::unexpected(id.error());
    ClientTx& tx = clients.at(id->value);
    tx.cancels = invite;
    clients.at(invite.value).cancel = *id;
    if (!held) launch(tx);
    return *id;
}

void TransactionLayer::Impl::release_cancel(ClientTx& invite) {
    if (!invite.cancel) return;
    auto it = clients.find(invite.cancel.value);
    if (it != clients.end() && it->second.held) launch(it->second);
}

void TransactionLayer::Impl::drop_held_cancel(ClientTx& invite) {
    if (!invite.cancel) return;
    auto it = clients.find(invite.cancel.value);
    if (it != clients.end() && it->second.held) end_client(it->second);
}

void TransactionLayer::Impl::client_response(Message&& r, const Source& from) {
    client_key(key_scratch, r.top_via().branch, r.cseq().method_text);  // §17.1.3
    auto it = client_index.find(key_scratch);
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

void TransactionLayer::Impl::invite_client_response(ClientTx& tx, Message&& r, const Source& from) {
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
            tx.ack = SharedBuffer::adopt(txn::build_ack(tx.fields, tx.via(), r));
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

void TransactionLayer::Impl::non_invite_client_response(ClientTx& tx, Message&& r, const Source& from) {
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
void TransactionLayer::Impl::client_failure(ClientTx& tx, EventKind kind, int status) {
    drop_held_cancel(tx);
    emit(kind, tx.id, txn::synthesise_response(tx.fields, tx.via(), status));
    end_client(tx);
}

void TransactionLayer::Impl::client_timer(ClientTx& tx, TimerName name, Time deadline) {
    switch (name) {
    case TimerName::a:  // §17.1.1.2: retransmit, double the interval
        ++counters.retransmissions_sent;
        send(tx.id, tx.destination, tx.bytes);
        tx.interval *= 2;
        arm(tx.timers, tx.id.value, TimerName::a, std::max(deadline, now) + tx.interval);  // late: no burst
        return;
    case TimerName::e: {  // §17.1.2.2: doubling up to T2 in Trying, T2 in Proceeding
        ++counters.retransmissions_sent;
        send(tx.id, tx.destination, tx.bytes);
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

}  // namespace referkit
