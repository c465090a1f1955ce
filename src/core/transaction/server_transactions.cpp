// Server transactions (RFC 3261 §17.2, RFC 6026 §8.5-§8.7): matching (§17.2.3, §9.2 for CANCEL),
// retransmissions, the TU's responses, stateless answers and timers. See transaction_impl.hpp.
#include <algorithm>
#include <charconv>

#include "transaction_impl.hpp"

namespace referkit::txn {

// §17.2.3 without the method: branch + sent-by; without the magic cookie, the RFC 2543 fields
// including the To tag `to_tag` (the request's; for an ACK, the one to try, since the ACK's tag is
// the response's and may differ from the INVITE's).
void server_base(std::string& k, const Message& m, std::string_view to_tag) {
    const Via& v = m.top_via();
    k.clear();
    if (v.branch.starts_with(magic_cookie)) {
        k.append("1|").append(v.branch).append("|");
        txn::append_lower(k, v.host);
        k.push_back(':');
        append_uint(k, v.port);
    } else {
        k.append("2|").append(m.request_uri().text).append("|").append(m.from().tag).append("|");
        k.append(m.call_id()).append("|");
        k.append(std::to_string(m.cseq().number)).append("|");
        txn::append_lower(k, v.host);
        k.push_back(':');
        append_uint(k, v.port);
        k.append("|").append(v.transport).append("|").append(v.branch).append("|").append(to_tag);
    }
}

void append_method(std::string& k, std::string_view method) {
    k.push_back('|');
    k.append(method);
}

}  // namespace referkit::txn

namespace referkit {

void TransactionLayer::Impl::stateless_answer(const Message& req, const Source& from, int status, std::string_view extra) {
    // §8.2.7: the same request gets the same tag, so it is derived from the request.
    const std::string tag = txn::stateless_tag(req.call_id(), req.from().tag, req.top_via().branch);
    ResponseSpec spec;
    spec.status = status;
    spec.to_tag = tag;
    auto bytes = txn::build_response(txn::response_head(req, from), spec, extra);
    if (!bytes) return;
    send(TransactionId{}, txn::response_destination(req.top_via(), from), SharedBuffer::adopt(std::move(*bytes)));
}

txn::ServerTx* TransactionLayer::Impl::find_server(std::string_view key) {
    auto it = server_index.find(key);
    return it == server_index.end() ? nullptr : &servers.at(it->second);
}

// §17.2.3: the ACK matches its INVITE server transaction. RFC 2543 keys hold the To tag: try the
// ACK's (an INVITE that carried it), then none, with the ACK's tag checked against the tag of
// the response sent.
txn::ServerTx* TransactionLayer::Impl::find_acked(const Message& ack) {
    txn::server_base(key_scratch, ack, ack.to().tag);
    txn::append_method(key_scratch, "INVITE");
    ServerTx* tx = find_server(key_scratch);
    if (tx == nullptr && !ack.top_via().branch.starts_with(txn::magic_cookie)) {
        txn::server_base(key_scratch, ack, {});
        txn::append_method(key_scratch, "INVITE");
        tx = find_server(key_scratch);
        if (tx != nullptr && ack.to().tag != tx->response_to_tag) tx = nullptr;
    }
    return tx != nullptr && tx->invite ? tx : nullptr;
}

// The To tag the responses of `tx` carry from now on, made up when it has none yet (§8.2.6.2).
const std::string& TransactionLayer::Impl::ensure_tag(ServerTx& tx) {
    if (tx.response_to_tag.empty()) tx.response_to_tag = new_tag();
    return tx.response_to_tag;
}

bool TransactionLayer::Impl::admit(const Message& m, const Source& from, txn::SourceCount*& source) {
    const Limits& l = opt.limits;
    source = nullptr;
    if (l.max_transactions_per_source != 0)
        if (auto it = per_source.find(from.remote.host); it != per_source.end()) source = &*it;
    const bool over_total = full();
    const bool over_source = source != nullptr && source->second >= l.max_transactions_per_source;
    if (!over_total && !over_source) return true;
    // At a bound: a request in one of the TU's dialogs opens one from the reserve, beyond
    // max_transactions and whatever its source holds.
    if (!m.to().tag.empty() && opt.in_dialog && opt.in_dialog(m)) {
        if (open() < l.max_transactions + l.reserved_in_dialog_transactions) {
            if (over_total) ++counters.admitted_in_reserve;
            return true;
        }
        ++counters.rejected_overload;
        return false;
    }
    ++(over_total ? counters.rejected_overload : counters.rejected_source_overload);
    return false;
}

void TransactionLayer::Impl::server_request(Message&& m, const Source& from) {
    if (m.method() == Method::ack) {
        if (ServerTx* tx = find_acked(m)) {
            server_ack(*tx, std::move(m), from);
            return;
        }
        ++counters.stray_acks;  // the ACK for a 2xx: the TU's (§17.1.1.3, RFC 6026 §8.7)
        emit(EventKind::ack, TransactionId{}, std::move(m), from);
        return;
    }
    txn::server_base(key_scratch, m, m.to().tag);
    const std::size_t base_size = key_scratch.size();
    txn::append_method(key_scratch, m.method_text());
    if (ServerTx* tx = find_server(key_scratch)) {
        server_retransmission(*tx);
        return;
    }
    ServerTx* original = nullptr;
    if (m.method() == Method::cancel) {
        // §9.2: the CANCEL matches the transaction a retransmission of its request would, for any
        // method but CANCEL and ACK (the CANCEL's own key differs only by the method).
        const std::string_view base = std::string_view(key_scratch).substr(0, base_size);
        if (auto it = cancel_index.find(base); it != cancel_index.end()) original = &servers.at(it->second);
        if (original == nullptr) {
            ++counters.stray_cancels;
            stateless_answer(m, from, 481, {});
            return;
        }
    }
    txn::SourceCount* source = nullptr;
    if (!admit(m, from, source)) {  // Limits::max_transactions(_per_source): §21.5.4 503 with Retry-After
        std::string extra = "Retry-After: " + std::to_string(opt.retry_after_seconds) + "\r\n";
        stateless_answer(m, from, 503, extra);
        return;
    }
    const TransactionId id{next_id++};
    ServerTx& tx = servers[id.value];
    tx.key = key_scratch;  // the index holds a view of the transaction's own copy
    tx.base_size = static_cast<std::uint32_t>(base_size);
    server_index.emplace(std::string_view(tx.key), id.value);  // find_server found none
    tx.id = id;
    tx.invite = m.method() == Method::invite;
    tx.reliable = is_reliable(from.transport);
    tx.reply_to = txn::response_destination(m.top_via(), from);
    if (opt.limits.max_transactions_per_source != 0) {
        if (source == nullptr) source = &*per_source.try_emplace(from.remote.host, 0).first;
        ++source->second;
        tx.source = source;
    }
    tx.head = txn::response_head(m, from);
    tx.request_to_tag = std::string(m.to().tag);
    tx.response_to_tag = tx.request_to_tag;
    if (m.method() != Method::cancel) {
        // A peer reusing a branch for two methods: the first keeps the CANCEL entry.
        tx.cancelable = cancel_index.try_emplace(tx.base(), id.value).second;
    }
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

void TransactionLayer::Impl::resend_last(ServerTx& tx) {
    ++counters.retransmissions_absorbed;
    if (tx.last_response.empty()) return;
    ++counters.retransmissions_sent;
    ++counters.retransmissions_answered;
    send(tx.id, tx.reply_to, tx.last_response);
}

void TransactionLayer::Impl::server_retransmission(ServerTx& tx) {
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

void TransactionLayer::Impl::server_ack(ServerTx& tx, Message&& ack, const Source& from) {
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

std::expected<void, TransactionError> TransactionLayer::Impl::respond(TransactionId id, const ResponseSpec& spec) {
    auto it = servers.find(id.value);
    if (it == servers.end() || !it->second.announced) return std::unexpected(TransactionError::no_such_transaction);
    return respond_to(it->second, spec);
}

std::expected<void, TransactionError> TransactionLayer::Impl::respond_to(ServerTx& tx, const ResponseSpec& spec) {
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
    SharedBuffer buf = SharedBuffer::adopt(std::move(*bytes));
    send(tx.id, tx.reply_to, buf);
    tx.last_response = std::move(buf);
    tx.last_status = s;
    if (tx.invite) invite_server_sent(tx, s);
    else non_invite_server_sent(tx, s);
    return {};
}

void TransactionLayer::Impl::invite_server_sent(ServerTx& tx, int s) {
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

void TransactionLayer::Impl::non_invite_server_sent(ServerTx& tx, int s) {
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

void TransactionLayer::Impl::server_timer(ServerTx& tx, TimerName name, Time deadline) {
    switch (name) {
    case TimerName::trying:
        if (tx.is == InviteServerState::proceeding && tx.last_status == 0) {  // §17.2.1: 100 within 200 ms
            ResponseSpec trying;
            trying.status = 100;
            auto bytes = txn::build_response(tx.head, trying);
            if (!bytes) return;
            tx.last_response = SharedBuffer::adopt(std::move(*bytes));
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

}  // namespace referkit
