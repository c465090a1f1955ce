// What the transaction layer reports, routed to the component that owns the rule, and the notices
// between components (see stack_impl.hpp).
#include <algorithm>
#include <charconv>
#include <iterator>
#include <system_error>

#include "referkit/core/header_id.hpp"
#include "referkit/core/validate.hpp"
#include "stack_impl.hpp"

namespace referkit {

using namespace stack;

namespace {

bool is_target_refresh(Method m) {
    // §12.2 (INVITE), RFC 3311 (UPDATE), RFC 6665 §4.3 (SUBSCRIBE, NOTIFY), RFC 3515 §2.4.1 (REFER).
    return m == Method::invite || m == Method::update || m == Method::subscribe || m == Method::notify ||
           m == Method::refer;
}

// Whether a 2xx to a request of method `m` carries our Contact: one that makes a dialog, and the
// target refreshes of an event subscription or a transfer (RFC 6665 §4.3, RFC 3515 §2.4.1).
bool answer_has_contact(Method m, bool creates_dialog) {
    return creates_dialog || m == Method::subscribe || m == Method::notify || m == Method::refer;
}

// What the stack does with a received request, by method: the few it handles itself, the rest go
// to their owner (a transfer component or the application; 405 when the application does not
// take the method).
enum class Dispatch : std::uint8_t { invite, bye, options, ignore, application };
Dispatch dispatch_of(Method m) {
    switch (m) {
        case Method::invite: return Dispatch::invite;
        case Method::bye: return Dispatch::bye;
        case Method::options: return Dispatch::options;
        case Method::ack:
        case Method::cancel: return Dispatch::ignore;
        case Method::other:
        case Method::register_:
        case Method::refer:
        case Method::notify:
        case Method::subscribe:
        case Method::info:
        case Method::message:
        case Method::prack:
        case Method::update:
        case Method::publish: return Dispatch::application;
    }
    return Dispatch::application;
}

}  // namespace

void Stack::Impl::own_client(TransactionId tx, ClientRole role, std::uint64_t owner, std::unique_ptr<InviteAck> ack) {
    clients[tx.value] = ClientOwner{.role = role, .owner = owner, .ack = std::move(ack)};
}

void Stack::Impl::drain(Time now) {
    for (;;) {
        while (auto ev = txl.poll_event()) handle(*ev, now);
        if (notices.empty()) return;
        settle(now);
    }
}

void Stack::Impl::handle(TransactionEvent& ev, Time now) {
    switch (ev.kind) {
        case EventKind::request: on_request(ev, now); return;
        case EventKind::ack: sessions.on_ack(ev, now); return;
        case EventKind::cancel: sessions.on_cancel(ev, now); return;
        case EventKind::response:
        case EventKind::timeout:
        case EventKind::transport_error: {
            if (auto sit = servers.find(ev.id.value); sit != servers.end()) {
                // Server side: Timer H (no ACK for a non-2xx final) or a transport failure.
                if (ev.kind == EventKind::transport_error && sit->second.role == ServerRole::invite)
                    sessions.on_server_transport_error(SessionId{sit->second.owner}, ev.id, now);
                return;
            }
            auto cit = clients.find(ev.id.value);
            if (cit == clients.end()) return;
            const Message* m = ev.message ? &*ev.message : nullptr;
            if (m == nullptr && ev.kind != EventKind::response) return;  // nothing new to report
            ClientOwner& owner = cit->second;
            if (ev.kind == EventKind::response && ev.repeated) {
                if (m != nullptr && owner.ack) sessions.on_repeated_2xx(*owner.ack, owner.role == ClientRole::invite, *m, now);
                return;
            }
            switch (owner.role) {
                case ClientRole::invite:
                    if (InviteSession* s = sessions.find(SessionId{owner.owner}); s != nullptr && s->invite_tx == ev.id)
                        sessions.on_invite_response(*s, ev, m, now);
                    return;
                case ClientRole::reinvite:
                    if (InviteSession* s = sessions.find(SessionId{owner.owner}); s != nullptr && s->reinvite_tx == ev.id)
                        sessions.on_reinvite_response(*s, ev, m, now);
                    return;
                case ClientRole::bye:
                    if (InviteSession* s = sessions.find(SessionId{owner.owner}); s != nullptr && s->bye_tx == ev.id)
                        sessions.on_bye_response(*s, ev, m, now);
                    return;
                case ClientRole::request:
                    if (ClientRequest* r = requests.find(RequestId{owner.owner}); r != nullptr && r->tx == ev.id)
                        requests.on_response(*r, ev, m, now);
                    return;
                case ClientRole::cancel:
                case ClientRole::detached: return;
            }
            return;
        }
        case EventKind::terminated: {
            clients.erase(ev.id.value);
            forget_merge_key(ev.id);
            auto sit = servers.find(ev.id.value);
            if (sit == servers.end()) return;
            const ServerOwner owner = sit->second;
            servers.erase(sit);
            switch (owner.role) {
                case ServerRole::incoming: requests.forget(IncomingId{owner.owner}, ev.id); return;
                case ServerRole::invite:
                case ServerRole::reinvite: sessions.on_server_terminated(SessionId{owner.owner}, ev.id, now); return;
            }
            return;
        }
    }
}

bool Stack::Impl::refuse_unhandled_method(const TransactionEvent& ev, Time now) {
    const Method m = ev.message->method();
    const auto& app = config.ua.app_methods;
    if (std::find(app.begin(), app.end(), m) != app.end()) return false;
    sender.respond_simple(ev.id, 405, {{"Allow", sender.allow_value()}}, now);  // §8.2.1
    return true;
}

bool Stack::Impl::challenged(const TransactionEvent& ev, Time now) {
    const Message& m = *ev.message;
    const ServerAuth& a = config.ua.server_auth;
    if (a.methods.empty() || m.method() == Method::ack || m.method() == Method::cancel) return false;
    if (std::find(a.methods.begin(), a.methods.end(), m.method()) == a.methods.end()) return false;
    if (!a.in_dialog && !m.to().tag.empty()) return false;
    if (!auth) {  // asked for, but no digest hash to check with: nobody gets through
        sender.respond_simple(ev.id, 403, {}, now);
        return true;
    }
    DigestVerdict v = auth->check(m, now);
    if (v.check == DigestCheck::ok) {
        authenticated_user = std::move(v.user);
        return false;
    }
    // RFC 3261 §22.2: 401 with a fresh challenge; stale=true when only the nonce was the problem
    // (RFC 7616 §3.3), so the client answers again without asking its user.
    HeaderList h;
    for (std::string& c : auth->challenge(now, v.check == DigestCheck::stale, random()))
        h.emplace_back("WWW-Authenticate", std::move(c));
    sender.respond_simple(ev.id, 401, h, now);
    return true;
}

void Stack::Impl::on_request(TransactionEvent& ev, Time now) {
    if (!ev.message) return;
    const Message& m = *ev.message;
    authenticated_user.clear();
    // §8.2.1-§8.2.3: method, scheme, Require, Content-Type.
    std::vector<Method> methods = {Method::invite, Method::ack, Method::bye, Method::cancel, Method::options};
    for (Method x : config.ua.app_methods)
        if (std::find(methods.begin(), methods.end(), x) == methods.end()) methods.push_back(x);
    std::vector<std::string_view> ext(config.ua.supported.begin(), config.ua.supported.end());
    std::vector<std::string_view> types(config.ua.accept.begin(), config.ua.accept.end());
    if (auto rej = validate_request(m, UasCapabilities{.methods = methods, .extensions = ext, .content_types = types,
                                                        .answer_types = types})) {
        HeaderList h;
        if (!rej->unsupported.empty()) h.emplace_back("Unsupported", rej->unsupported);
        if (!rej->allow.empty()) h.emplace_back("Allow", rej->allow);
        if (!rej->accept.empty()) h.emplace_back("Accept", rej->accept);
        sender.respond_simple(ev.id, rej->error.status, h, now);
        return;
    }
    if (m.to().tag.empty() && merged_request(ev, now)) return;
    if (route_set_too_large(m)) {
        sender.respond_simple(ev.id, 400, {}, now);  // UserAgentConfig::max_route_set_bytes
        return;
    }
    if (challenged(ev, now)) return;
    const bool event_request = m.method() == Method::notify || m.method() == Method::subscribe;
    if (m.method() == Method::notify && router.duplicate_final_notify(m, now)) {
        sender.respond_simple(ev.id, 200, {}, now);  // §17.2.2 beyond the transaction's life: no event
        return;
    }
    if (event_request) {
        if (auto allow = router.refuse_package(m)) {
            sender.respond_simple(ev.id, 489, {{"Allow-Events", std::move(*allow)}}, now);  // RFC 6665 §8.2.2
            return;
        }
    }
    if (!m.to().tag.empty()) {
        DialogEntry* d = dialogs.find(m.call_id(), m.to().tag, m.from().tag);
        if (d == nullptr && m.method() == Method::notify) {
            if (auto fork = router.fork_dialog(ev, now)) {  // RFC 6665 §4.1.2.4
                deliver(ev, fork->first, fork->second, now);
                return;
            }
        }
        if (d == nullptr) {
            sender.respond_simple(ev.id, 481, {}, now);  // §12.2.2
            return;
        }
        on_request_in_dialog(ev, *d, {}, now);
        return;
    }
    if (m.method() == Method::notify) {
        // RFC 6665 §4.1.3: a NOTIFY outside any dialog matches none of our subscriptions.
        if (auto status = router.refuse_unsolicited_notify(m)) {
            sender.respond_simple(ev.id, *status, {}, now);
            return;
        }
    }
    switch (dispatch_of(m.method())) {
        case Dispatch::invite: (void)sessions.on_invite(ev, now); return;
        case Dispatch::options: sender.respond_simple(ev.id, 200, sender.options_answer_headers(), now); return;  // §11.2
        case Dispatch::bye: sender.respond_simple(ev.id, 481, {}, now); return;  // §15.1.2
        case Dispatch::ignore: return;
        case Dispatch::application: break;
    }
    if (refuse_unhandled_method(ev, now)) return;
    deliver(ev, {}, {}, now);
}

bool Stack::Impl::route_set_too_large(const Message& m) const {
    const std::size_t bound = config.ua.max_route_set_bytes;
    if (bound == 0 || m.method() == Method::ack || m.method() == Method::cancel) return false;
    // Only a request that may create a dialog (no To tag; a NOTIFY may fork one, RFC 6665
    // §4.1.2.4) brings a route set that is kept.
    if (!m.to().tag.empty() && m.method() != Method::notify) return false;
    std::size_t bytes = 0;
    for (const HeaderField& h : m.headers())
        if (h.id == HeaderId::record_route && (bytes += h.value.size()) > bound) return true;
    return false;
}

bool Stack::Impl::merged_request(const TransactionEvent& ev, Time now) {
    const Message& m = *ev.message;
    if (m.method() == Method::ack || m.method() == Method::cancel) return false;  // they match their INVITE's
    // The key, in a buffer kept between requests: From tag, Call-ID, CSeq number and method.
    merge_scratch.assign(m.from().tag);
    merge_scratch.push_back('\n');
    merge_scratch.append(m.call_id());
    merge_scratch.push_back('\n');
    char digits[10];
    const auto [end, ec] = std::to_chars(std::begin(digits), std::end(digits), m.cseq().number);
    merge_scratch.append(digits, ec == std::errc{} ? end : digits);
    merge_scratch.push_back(' ');
    merge_scratch.append(m.method_text());
    if (auto it = merge_index.find(merge_scratch); it != merge_index.end()) {
        // §8.2.2.2: the same request by another path (a proxy forked it), its first copy still in
        // progress: 482 Loop Detected, and nothing else. Its retransmissions never get here.
        sender.respond_simple(ev.id, 482, {}, now);
        return true;
    }
    const std::string& key = merge_keys.try_emplace(ev.id.value, merge_scratch).first->second;
    merge_index.emplace(std::string_view(key), ev.id);  // a view of the transaction's own copy
    return false;
}

void Stack::Impl::forget_merge_key(TransactionId id) {
    if (merge_keys.empty()) return;
    auto it = merge_keys.find(id.value);
    if (it == merge_keys.end()) return;
    if (auto at = merge_index.find(std::string_view(it->second)); at != merge_index.end() && at->second == id)
        merge_index.erase(at);
    merge_keys.erase(it);
}

void Stack::Impl::on_request_in_dialog(TransactionEvent& ev, DialogEntry& d, RequestId created_by, Time now) {
    const Message& m = *ev.message;
    if (m.method() != Method::ack && !d.dialog.accept_remote_cseq(m.cseq().number)) {
        if (const auto& last = d.last_answer;
            last && last->cseq == m.cseq().number && last->method == m.method()) {  // a re-send: same answer, no event
            HeaderList h;
            if (last->status < 300 && answer_has_contact(m.method(), false)) h.emplace_back("Contact", sender.contact_value(d.transport));
            sender.respond_simple(ev.id, last->status, h, now);
            return;
        }
        sender.respond_simple(ev.id, 500, {}, now);  // §12.2.2: a lower CSeq (or an equal one still unanswered)
        return;
    }
    switch (dispatch_of(m.method())) {
        case Dispatch::invite: sessions.on_reinvite(ev, d, now); return;
        case Dispatch::bye: sessions.on_bye(ev, d, now); return;
        case Dispatch::options: sender.respond_simple(ev.id, 200, sender.options_answer_headers(), now); return;  // §11.2
        case Dispatch::ignore: return;
        case Dispatch::application: break;
    }
    if (refuse_unhandled_method(ev, now)) return;
    if (is_target_refresh(m.method())) d.dialog.refresh_target(m);
    deliver(ev, d.id, created_by, now);
}

void Stack::Impl::deliver(TransactionEvent& ev, DialogId dialog, RequestId created_by, Time now) {
    (void)now;
    notice(ServerRequest{.tx = ev.id, .message = std::move(*ev.message), .source = ev.source, .dialog = dialog,
                         .created_by = created_by, .authenticated_user = std::move(authenticated_user)});
    authenticated_user.clear();
}

void Stack::Impl::settle(Time now) {
    while (!notices.empty()) {
        Notice n = notices.take();
        if (auto* e = std::get_if<SessionEvent>(&n)) {
            if (e->kind == SessionEventKind::incoming_call && replacer.takes(*e)) {
                replacer.on_invite(e->session, *e->message, now);
                continue;
            }
            emit(*e);  // the application sees the session event before what it causes to transfers
            switch (e->kind) {
                case SessionEventKind::session_progress:
                case SessionEventKind::session_answered: transferee.on_session_event(*e, now); break;
                case SessionEventKind::session_ended:
                    replacer.on_session_ended(e->session, e->dialog, now);
                    transferor.on_session_ended(e->session, now);
                    transferee.on_session_event(*e, now);
                    break;
                case SessionEventKind::incoming_call:
                case SessionEventKind::session_confirmed:
                case SessionEventKind::offer_received:
                case SessionEventKind::answer_received:
                case SessionEventKind::reinvite_failed: break;
            }
        } else if (auto* r = std::get_if<ServerRequest>(&n)) {
            bool taken = false;
            const Method method = r->message.method();
            if (method == Method::refer && config.refer.handle_refer) {
                transferee.on_refer(*r, now);
                taken = true;
            } else if (method == Method::subscribe) {
                taken = router.route_subscribe(*r, now);
            } else if (method == Method::notify) {
                taken = r->dialog && router.route_notify(*r, now);
            }
            if (taken) continue;
            // Only what reaches the application waits in its queue, so only that is refused when
            // the queue is full: a transfer's NOTIFY never is (docs/transfer-rules.md R37).
            if (requests.full() || requests.source_full(r->source))
                sender.respond_simple(r->tx, 503, {{"Retry-After", "5"}}, now);
            else requests.deliver(std::move(*r), now);
        } else if (auto* resp = std::get_if<ResponseNotice>(&n)) {
            switch (resp->owner) {
                case RequestOwner::application: emit(std::move(resp->event)); break;
                case RequestOwner::transferor: transferor.on_response(resp->event, now); break;
                case RequestOwner::transferee: transferee.on_response(resp->event, now); break;
            }
        } else if (auto* d = std::get_if<DialogEndedEvent>(&n)) {
            // A dialog only a late NOTIFY made for an ended subscription is not the application's.
            if (!router.dialog_ended(d->dialog)) emit(*d);
            transferor.on_dialog_ended(d->dialog, now);
            transferee.on_dialog_ended(d->dialog, now);
        }
    }
}

void Stack::Impl::release_usage(DialogId dialog) {
    if (dialogs.release(dialog)) notice(DialogEndedEvent{.dialog = dialog});
}

std::expected<DialogId, UaError> Stack::Impl::respond(ServerRequest& in, const UaResponse& response, Time now) {
    if (response.status < 101 || response.status > 699) return std::unexpected(UaError::invalid_message);
    const Message& req = in.message;
    HeaderList h = response.headers;
    std::string tag;
    DialogId d = in.dialog;
    const bool ok = response.status >= 200 && response.status < 300;
    if (ok && response.creates_dialog && !d && req.to().tag.empty()) {
        if (dialogs.size() >= config.ua.max_dialogs) return std::unexpected(UaError::limit_reached);
        tag = hex(random());
        auto made = Dialog::as_uas(req, tag);
        if (!made) return std::unexpected(UaError::invalid_message);
        made->confirm(nullptr);
        d = dialogs.add(std::move(*made), in.source.transport, in.source.connection, 1).id;
        in.dialog = d;
    }
    const bool wants_contact = ok && answer_has_contact(req.method(), response.creates_dialog);
    if (wants_contact && !Sender::has_header(h, "Contact")) {
        Transport t = Transport::udp;
        if (const DialogEntry* de = dialogs.find(d)) t = de->transport;
        h.emplace_back("Contact", sender.contact_value(t));
    }
    ResponseSpec spec;
    spec.status = response.status;
    spec.reason = response.reason;
    spec.to_tag = tag;
    auto v = views(h);
    spec.headers = v;
    spec.content_type = response.content_type;
    spec.body = response.body;
    auto r = txl.respond(in.tx, spec, now);
    if (!r) {
        switch (r.error()) {
            case TransactionError::invalid_response:
            case TransactionError::invalid_request: return std::unexpected(UaError::invalid_message);
            case TransactionError::no_such_transaction:
            case TransactionError::wrong_state:
            case TransactionError::too_many_transactions:
            case TransactionError::branch_collision: break;
        }
        return std::unexpected(UaError::no_such_request);
    }
    if (ok && req.method() == Method::notify) router.notify_answered(req, now);
    if (response.status >= 200 && !req.to().tag.empty() && req.method() != Method::invite) {
        if (DialogEntry* de = dialogs.find(d); de != nullptr && de->dialog.info().remote_cseq == req.cseq().number)
            de->last_answer = DialogEntry::LastAnswer{.cseq = req.cseq().number, .method = req.method(),
                                                      .status = static_cast<std::uint16_t>(response.status)};
    }
    return d;
}

void Stack::Impl::fire(const TimerRef& t, Time now) {
    switch (t.kind) {
        case TimerKind::session_2xx: sessions.on_2xx_timer(SessionId{t.id}, now); return;
        case TimerKind::session_reinvite: sessions.on_reinvite_timer(SessionId{t.id}, now); return;
        case TimerKind::incoming: requests.answer_timeout(IncomingId{t.id}, now); return;
        case TimerKind::transfer: transferor.on_timer(TransferId{t.id}, now); return;
        case TimerKind::transferee: transferee.on_timer(TransfereeId{t.id}, now); return;
    }
}

}  // namespace referkit
