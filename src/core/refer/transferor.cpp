// The transferor's side of REFER inside the Stack (RFC 3515 §2.4, RFC 4488, RFC 6665 §4.1,
// RFC 5057 usages): see transferor.hpp.
#include "transferor.hpp"

#include <algorithm>

#include "../stack/stack_impl.hpp"
#include "referkit/core/header_id.hpp"
#include "referkit/core/refer_request.hpp"
#include "referkit/core/refer_to.hpp"

namespace referkit::stack {

namespace {

ReferStartError start_error(const ReferTargetError& e) {
    switch (e.code) {
        case ReferTargetErrc::not_confirmed: return ReferStartError{.code = ReferStartErrc::not_confirmed, .detail = e.detail};
        case ReferTargetErrc::empty:
        case ReferTargetErrc::bad_target:
        case ReferTargetErrc::bad_scheme:
        case ReferTargetErrc::no_domain: break;
    }
    return ReferStartError{.code = ReferStartErrc::bad_target, .detail = e.detail};
}

ReferStartError refused(UaError e) {
    return ReferStartError{.code = ReferStartErrc::ua_refused, .detail = std::string(to_string(e)), .ua_error = e};
}

constexpr std::string_view refer_package = "refer";

}  // namespace

std::expected<TransferId, ReferStartError> Transferor::refer(SessionId session, std::string_view target,
                                                             ReferOptions options, Time now) {
    auto state = s_.sessions.find(session);
    if (state == nullptr) return std::unexpected(ReferStartError{.code = ReferStartErrc::no_such_session});
    if (state->state != SessionState::confirmed)
        return std::unexpected(ReferStartError{.code = ReferStartErrc::not_confirmed, .detail = "session not confirmed"});
    const ReferConfig& c = s_.config.refer;
    auto refer_to = make_refer_to(target, ReferToOptions{.display_name = options.display_name,
                                                         .default_domain = c.default_domain,
                                                         .default_scheme = c.default_scheme});
    if (!refer_to) return std::unexpected(start_error(refer_to.error()));
    return start(session, std::move(*refer_to), std::move(options), now);
}

std::expected<TransferId, ReferStartError> Transferor::refer_attended(SessionId session, SessionId other,
                                                                      ReferOptions options, Time now) {
    for (SessionId id : {session, other}) {
        const InviteSession* s = s_.sessions.find(id);
        if (s == nullptr) return std::unexpected(ReferStartError{.code = ReferStartErrc::no_such_session});
        if (s->state != SessionState::confirmed)
            return std::unexpected(ReferStartError{.code = ReferStartErrc::not_confirmed, .detail = "session not confirmed"});
    }
    const DialogEntry* d = s_.dialogs.find(s_.sessions.find(other)->dialog);
    if (d == nullptr) return std::unexpected(ReferStartError{.code = ReferStartErrc::not_confirmed, .detail = "no dialog"});
    auto refer_to = make_attended_refer_to(d->dialog.info(), AttendedReferToOptions{.display_name = options.display_name});
    if (!refer_to) return std::unexpected(start_error(refer_to.error()));
    return start(session, std::move(*refer_to), std::move(options), now);
}

std::expected<TransferId, ReferStartError> Transferor::refer_out_of_dialog(std::string_view request_uri,
                                                                           std::string_view target,
                                                                           ReferOptions options, Time now) {
    const ReferConfig& c = s_.config.refer;
    auto refer_to = make_refer_to(target, ReferToOptions{.display_name = options.display_name,
                                                         .default_domain = c.default_domain,
                                                         .default_scheme = c.default_scheme});
    if (!refer_to) return std::unexpected(start_error(refer_to.error()));
    auto headers = refer_request_headers(*refer_to, options, c.aor, s_.sender.allow_value());
    if (!headers) return std::unexpected(start_error(headers.error()));
    // Every response surfaces (report_challenges): TransferResponseEvent shows 401/407 too.
    auto sent = s_.requests.send(OutOfDialogRequest{.method = "REFER", .target = std::string(request_uri),
                                                    .headers = std::move(*headers), .content_type = {}, .body = {},
                                                    .creates_dialog = true, .report_challenges = true},
                                 RequestOwner::transferor, now);
    if (!sent) return std::unexpected(refused(sent.error()));
    // RFC 3261 §8.1.1.5: a new Call-ID starts at CSeq 1; the 2xx (or a NOTIFY) brings the dialog.
    Transfer& t = open(*sent, std::move(options), now);
    rearm(t);
    return t.id;
}

Transferor::Transfer& Transferor::open(const SentRequest& sent, ReferOptions options, Time now) {
    const TransferId id{next_++};
    Transfer& t = transfers_[id];
    t.id = id;
    t.ctx = std::make_shared<ReferClientContext>(std::move(options));
    t.request = sent.id;
    requests_[sent.id] = Owned{.transfer = id};
    t.ctx->refer_sent(now, sent.cseq);  // RFC 3515 §2.4.6: the subscription's id is the REFER's CSeq
    return t;
}

std::expected<TransferId, ReferStartError> Transferor::start(SessionId session, std::string refer_to,
                                                             ReferOptions options, Time now) {
    const DialogId dialog = s_.sessions.find(session)->dialog;
    if (!dialog) return std::unexpected(ReferStartError{.code = ReferStartErrc::not_confirmed, .detail = "no dialog"});
    auto headers = refer_request_headers(refer_to, options, s_.config.refer.aor, s_.sender.allow_value());
    if (!headers) return std::unexpected(start_error(headers.error()));
    auto sent = s_.requests.send(dialog, InDialogRequest{.method = "REFER", .headers = std::move(*headers),
                                                         .content_type = {}, .body = {}, .report_challenges = true},
                                 RequestOwner::transferor, now);
    if (!sent) return std::unexpected(refused(sent.error()));
    Transfer& t = open(*sent, std::move(options), now);
    t.session = session;
    t.usage = s_.dialogs.use(dialog);  // RFC 5057: the subscription is a dialog usage
    by_session_[session].push_back(t.id);
    carry(t, dialog);
    rearm(t);
    return t.id;
}

Transferor::Transfer* Transferor::find_transfer(TransferId id) {
    auto it = transfers_.find(id);
    return it == transfers_.end() ? nullptr : &it->second;
}

std::shared_ptr<const ReferClientContext> Transferor::find(TransferId id) const {
    auto it = transfers_.find(id);
    return it == transfers_.end() ? nullptr : it->second.ctx;
}

void Transferor::carry(Transfer& t, DialogId dialog) {
    if (!t.dialog) {
        t.dialog = dialog;
    } else if (t.dialog != dialog) {
        if (std::find(t.forks.begin(), t.forks.end(), dialog) != t.forks.end()) return;
        t.forks.push_back(dialog);
    }
    s_.router.add_subscription(dialog, refer_package, t.ctx->id(), t.id.value);
    by_dialog_[dialog].push_back(t.id);
}

void Transferor::rearm(Transfer& t) {
    t.timer.set(s_.timers, t.ctx->next_deadline(), TimerRef{.kind = TimerKind::transfer, .id = t.id.value});
}

void Transferor::send_subscribe(Transfer& t, std::uint32_t expires, Time now) {
    // RFC 6665 §4.1.2.2 / RFC 3515 §2.4.6: SUBSCRIBE in the dialog with Event: refer;id.
    HeaderList h{{"Event", "refer;id=" + std::to_string(t.ctx->id())}, {"Expires", std::to_string(expires)}};
    auto sent = s_.requests.send(t.dialog, InDialogRequest{.method = "SUBSCRIBE", .headers = std::move(h),
                                                           .content_type = {}, .body = {}},
                                 RequestOwner::transferor, now);
    if (!sent) return;
    // A newer SUBSCRIBE supersedes the one in flight; the older one's responses are still ours.
    if (t.subscribe) requests_[t.subscribe].orphan = true;
    t.subscribe = sent->id;
    requests_[sent->id] = Owned{.transfer = t.id, .subscribe = true};
}

bool Transferor::unsubscribe(TransferId id, Time now) {
    Transfer* t = find_transfer(id);
    if (t == nullptr || !t->dialog || !t->ctx->unsubscribe(now)) return false;
    send_subscribe(*t, 0, now);  // RFC 6665 §4.1.2.3
    rearm(*t);
    return true;
}

void Transferor::shut_down(Time now) {
    std::vector<TransferId> ids;
    ids.reserve(transfers_.size());
    for (const auto& [id, t] : transfers_) ids.push_back(id);
    std::sort(ids.begin(), ids.end());  // in the order they started
    for (TransferId id : ids) {
        if (Transfer* t = find_transfer(id)) {
            t->ctx->shut_down(now);
            collect(*t, nullptr, now);
        }
    }
}

// ---------------------------------------------------------------- the refer package

void Transferor::check_body(const Message& notify, ReferNotifyVerdict& verdict) const {
    check_sipfrag_body(notify, verdict);
}

void Transferor::on_notify(std::uint64_t owner, const ServerRequest& notify, const ReferNotifyVerdict& verdict,
                           Time now) {
    Transfer* t = find_transfer(TransferId{owner});
    if (t == nullptr || !t->ctx->live()) return;
    t->ctx->on_notify(now, verdict);  // answered already (the router answers first)
    collect(*t, &notify.message, now);
}

ForkAnswer Transferor::on_fork(RequestId creator, DialogId dialog, Time /*now*/) {
    // RFC 6665 §4.1.2.4: this NOTIFY to our out-of-dialog REFER created a dialog (and gave us its
    // usage): before the 2xx, or from another fork.
    auto it = requests_.find(creator);
    if (it == requests_.end() || it->second.orphan) return ForkAnswer::ended;
    Transfer* t = find_transfer(it->second.transfer);
    if (t == nullptr || !t->ctx->live()) return ForkAnswer::ended;
    if (!t->dialog) t->usage = true;
    carry(*t, dialog);
    return ForkAnswer::adopted;
}

// ---------------------------------------------------------------- routed by the stack

void Transferor::on_response(const ResponseEvent& e, Time now) {
    auto oit = requests_.find(e.request);
    if (oit == requests_.end()) return;
    const Owned o = oit->second;
    if (o.orphan) {
        if (!e.final) return;
        // A 2xx to an out-of-dialog REFER whose transfer already ended: the dialog it created (with
        // a usage for us) has nothing to carry.
        if (o.release_created_dialog && e.status < 300 && e.dialog) s_.release_usage(e.dialog);
        requests_.erase(oit);
        return;
    }
    Transfer* t = find_transfer(o.transfer);
    if (t == nullptr) {
        if (e.final) requests_.erase(oit);
        return;
    }
    const Message* cause = e.message ? &*e.message : nullptr;
    if (o.subscribe) {
        // Our refreshing/unsubscribing SUBSCRIBE (RFC 6665 §4.1.2.2): ours, never the application's.
        if (!e.final) return;
        requests_.erase(oit);
        t->subscribe = {};
        t->ctx->subscribe_failed(now, e.status);
        collect(*t, cause, now);
        return;
    }
    // The REFER. Every response is shown first (SIP.js's receiveResponse), then acted on.
    if (e.message) s_.emit(TransferResponseEvent{.transfer = t->id, .response = *e.message});
    const std::uint32_t before = t->ctx->id();
    if (e.retried) {
        // RFC 3261 §22.2: the retry with credentials has a higher CSeq; NOTIFYs carry it as id
        // (RFC 3515 §2.4.6), possibly before its final response.
        t->ctx->refer_resent(now, e.cseq);
    } else {
        ReferResponse r;
        if (e.message && e.origin == ResponseOrigin::wire) {
            r = refer_response_from(*e.message);
            if (const std::uint32_t cseq = e.message->cseq().number; cseq != t->ctx->id()) t->ctx->refer_resent(now, cseq);
        } else {
            // Synthesised (with or without a message): 408 for a timeout, 503 for a transport
            // error (RFC 3261 §8.1.3.1). The outcome is failed, not rejected.
            r.status = e.status;
            r.reason = std::string(reason_phrase(e.status));
            r.source = e.origin != ResponseOrigin::wire ? e.origin
                       : e.status == 408               ? ResponseOrigin::timeout
                                                       : ResponseOrigin::transport_error;
        }
        if (e.final && r.status < 300 && e.dialog && !t->dialog) {
            // Out of dialog: the 2xx created the subscription's dialog, with one usage that is ours
            // (RFC 5057; released when the transfer ends).
            t->usage = true;
            carry(*t, e.dialog);
        }
        t->ctx->on_response(now, r);
    }
    if (t->ctx->id() != before) {
        s_.router.rename_subscription(t->dialog, refer_package, t->id.value, t->ctx->id());
        for (DialogId f : t->forks) s_.router.rename_subscription(f, refer_package, t->id.value, t->ctx->id());
    }
    collect(*t, e.retried ? nullptr : cause, now);
}

void Transferor::on_session_ended(SessionId session, Time now) {
    auto it = by_session_.find(session);
    if (it == by_session_.end()) return;
    const std::vector<TransferId> ids = it->second;
    for (TransferId id : ids) {
        if (Transfer* t = find_transfer(id)) {
            t->ctx->dialog_terminated(now);
            collect(*t, nullptr, now);
        }
    }
}

void Transferor::on_dialog_ended(DialogId dialog, Time now) {
    auto it = by_dialog_.find(dialog);
    if (it == by_dialog_.end()) return;
    const std::vector<TransferId> ids = std::move(it->second);
    by_dialog_.erase(it);
    for (TransferId id : ids) {
        Transfer* t = find_transfer(id);
        if (t == nullptr) continue;
        std::erase(t->forks, dialog);  // a fork's dialog went: the others carry on
        if (t->dialog != dialog) continue;
        t->usage = false;  // the dialog is gone with its usages
        t->ctx->dialog_terminated(now);
        collect(*t, nullptr, now);
    }
}

void Transferor::on_timer(TransferId id, Time now) {
    Transfer* t = find_transfer(id);
    if (t == nullptr) return;
    t->timer.fired();
    t->ctx->on_timer(now);
    if (t->ctx->take_refresh() && t->dialog) send_subscribe(*t, s_.config.refer.refresh_expires, now);
    collect(*t, nullptr, now);
}

void Transferor::collect(Transfer& t, const Message* cause, Time now) {
    bool ended = false;
    while (auto ev = t.ctx->poll_event()) {
        if (ev->kind == ReferEventKind::ended) {
            ended = true;
            // The NOTIFY that ended it was answered already; the BYE goes after that 200.
            if (ev->hang_up && t.session) (void)s_.sessions.bye(t.session, now);
            // RFC 3261 §12.2.1.2 (policy): a 481/408 to the REFER ended the dialog for the peer.
            const auto st = t.ctx->final_response_status();
            if (s_.config.refer.bye_on_refer_481_408 && t.session && st && (*st == 481 || *st == 408)) {
                if (const InviteSession* s = s_.sessions.find(t.session); s != nullptr && s->state == SessionState::confirmed)
                    (void)s_.sessions.bye(t.session, now);
            }
            s_.router.remove_subscription(t.dialog, refer_package, t.id.value);
            for (DialogId f : t.forks) {
                s_.router.remove_subscription(f, refer_package, t.id.value);
                if (auto it = by_dialog_.find(f); it != by_dialog_.end()) {
                    std::erase(it->second, t.id);
                    if (it->second.empty()) by_dialog_.erase(it);
                }
            }
            if (t.usage && t.dialog) s_.release_usage(t.dialog);
            t.usage = false;
            for (DialogId f : std::exchange(t.forks, {})) s_.release_usage(f);
            // Responses still to come for this transfer's requests stay ours.
            if (s_.requests.find(t.request) != nullptr)
                requests_[t.request] = Owned{.transfer = t.id, .subscribe = false, .orphan = true,
                                             .release_created_dialog = !t.dialog};
            else
                requests_.erase(t.request);
            if (t.subscribe) requests_[t.subscribe].orphan = true;
            t.subscribe = {};
        }
        TransferEvent out;
        static_cast<ReferEvent&>(out) = std::move(*ev);
        out.transfer = t.id;
        if (cause != nullptr) out.message = *cause;
        s_.emit(std::move(out));
    }
    if (!ended) {
        rearm(t);
        return;
    }
    t.timer.cancel(s_.timers);
    if (auto it = by_dialog_.find(t.dialog); it != by_dialog_.end()) {
        std::erase(it->second, t.id);
        if (it->second.empty()) by_dialog_.erase(it);
    }
    if (t.session) {
        if (auto it = by_session_.find(t.session); it != by_session_.end()) {
            std::erase(it->second, t.id);
            if (it->second.empty()) by_session_.erase(it);
        }
    }
    transfers_.erase(t.id);  // t is gone (its context lives on in the handles that share it)
}

}  // namespace referkit::stack
